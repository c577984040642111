"""Deterministic synthetic customer-churn data with scripted drift scenarios.

The platform needs data whose ground truth is known: the demo injects covariate shift, concept
drift, null bursts, out-of-range values, unseen categories and a schema break on chosen days, and
the monitoring, data-quality and retraining code must notice each of them. Everything here is a
pure function of ``(scenario, seed, day_index, ds, rows)``:

* :func:`generate_day` returns one day as a single frame (features, ``churned`` and the label's
  arrival date ``label_ds``). Its random stream is seeded from ``(seed, day_index)`` only, so a day
  is identical whether it is generated alone or as part of a range.
* :func:`write_landing` writes a range of days into the landing zone as Hive-style partitions::

      <landing_root>/<source>/ds=YYYY-MM-DD/part-00000.parquet          features (no label)
      <landing_root>/<source>_labels/ds=YYYY-MM-DD/part-00000.parquet   labels, by arrival date

Labels arrive ``label_delay_days`` (± ``label_delay_jitter_days``) after the event, which is why
they are a separate dataset partitioned by arrival date.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ENTITY_ID = "customer_id"
EVENT_TS = "event_ts"
LABEL = "churned"
EVENT_DS = "event_ds"
LABEL_DS = "label_ds"

FORMATS = ("parquet", "csv")
PART_STEM = "part-00000"
ID_PREFIX = "C"
ID_DIGITS = 7
#: Customers are drawn from this many ids ("C0000000".."C9999999"); it caps rows per day.
ID_POOL = 10**ID_DIGITS

CONTRACT_TYPES = ("month_to_month", "one_year", "two_year")
PAYMENT_METHODS = ("electronic_check", "mailed_check", "bank_transfer", "credit_card")
REGIONS = ("north", "south", "east", "west", "central")
PLAN_TIERS = ("basic", "standard", "premium")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the churn dataset and the values a clean day may hold.

    :param name: column name.
    :param kind: ``"id"``, ``"timestamp"``, ``"numeric"``, ``"categorical"`` or ``"label"``.
    :param dtype: the pandas/Arrow dtype the generator emits (``float64``, ``string``, ...).
    :param required: whether the column must be present (and, on clean days, non-null).
    :param min: smallest valid value (numeric and label columns), inclusive.
    :param max: largest valid value, inclusive.
    :param categories: the allowed values of a categorical column.
    :param integral: the values are whole numbers (counts, scores), stored as float for nulls.
    :param description: what the column means, for reports.
    """

    name: str
    kind: str
    dtype: str
    required: bool = True
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] = ()
    integral: bool = False
    description: str = ""


def _num(name: str, lo: float, hi: float, description: str, *, integral: bool = False) -> ColumnSpec:
    return ColumnSpec(name, "numeric", "float64", min=lo, max=hi, integral=integral, description=description)


def _cat(name: str, categories: tuple[str, ...], description: str) -> ColumnSpec:
    return ColumnSpec(name, "categorical", "string", categories=categories, description=description)


CHURN_SCHEMA: tuple[ColumnSpec, ...] = (
    ColumnSpec(ENTITY_ID, "id", "string", description="customer id, unique within a day"),
    ColumnSpec(EVENT_TS, "timestamp", "timestamp[us, UTC]", description="snapshot time within the day"),
    _num("age", 18, 95, "customer age in years", integral=True),
    _num("tenure_months", 0, 120, "months since sign-up", integral=True),
    _num("monthly_charges", 10, 250, "current monthly bill"),
    _num("total_charges", 0, 60_000, "lifetime billed amount (~ tenure x monthly)"),
    _num("num_support_tickets", 0, 30, "support tickets in the last 90 days", integral=True),
    _num("avg_session_minutes", 0, 600, "mean app session length"),
    _num("data_usage_gb", 0, 2_000, "data used in the last 30 days"),
    _num("logins_30d", 0, 300, "logins in the last 30 days", integral=True),
    _num("late_payments_12m", 0, 12, "late payments in the last 12 months", integral=True),
    _num("discount_pct", 0, 50, "discount on the list price, percent"),
    _num("satisfaction_score", 1, 10, "last survey score", integral=True),
    _num("days_since_last_login", 0, 365, "days since the last login", integral=True),
    _cat("contract_type", CONTRACT_TYPES, "contract length"),
    _cat("payment_method", PAYMENT_METHODS, "how the customer pays"),
    _cat("region", REGIONS, "sales region"),
    _cat("plan_tier", PLAN_TIERS, "subscribed plan"),
    ColumnSpec(LABEL, "label", "int64", min=0, max=1, integral=True, description="1 if the customer churned"),
)
SCHEMA_BY_NAME: dict[str, ColumnSpec] = {spec.name: spec for spec in CHURN_SCHEMA}
NUMERIC_FEATURES: tuple[str, ...] = tuple(s.name for s in CHURN_SCHEMA if s.kind == "numeric")
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(s.name for s in CHURN_SCHEMA if s.kind == "categorical")
FEATURES: tuple[str, ...] = NUMERIC_FEATURES + CATEGORICAL_FEATURES
#: Columns of the features dataset (what lands under ``<source>/``).
FEATURE_COLUMNS: tuple[str, ...] = (ENTITY_ID, EVENT_TS, *FEATURES)
#: Columns of the labels dataset (what lands under ``<source>_labels/``).
LABEL_COLUMNS: tuple[str, ...] = (ENTITY_ID, EVENT_TS, EVENT_DS, LABEL, LABEL_DS)
#: Usage features that follow the weekly cycle.
SEASONAL_FEATURES: tuple[str, ...] = ("avg_session_minutes", "data_usage_gb", "logins_30d")

#: From ``Scenario.schema_break_day`` on, these columns are renamed ...
SCHEMA_BREAK_RENAMES: dict[str, str] = {"monthly_charges": "monthly_fee"}
#: ... and these numeric columns arrive as strings such as ``"12.5%"``.
SCHEMA_BREAK_RETYPED: tuple[str, ...] = ("discount_pct",)
#: The value injected on unseen-category days, per categorical feature.
UNSEEN_CATEGORIES: dict[str, str] = {
    "contract_type": "weekly",
    "payment_method": "crypto",
    "region": "atlantis",
    "plan_tier": "enterprise",
}

_LABEL_ARROW_SCHEMA = pa.schema(
    [
        (ENTITY_ID, pa.string()),
        (EVENT_TS, pa.timestamp("us", tz="UTC")),
        (EVENT_DS, pa.string()),
        (LABEL, pa.int64()),
        (LABEL_DS, pa.string()),
    ]
)
_DAY_US = 86_400 * 10**6


# --------------------------------------------------------------------------- scenarios


def _check_names(field_name: str, names: Iterable[str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise ValueError(f"{field_name}: unknown feature(s) {unknown}; expected some of {list(allowed)}")


def _check_days(field_name: str, days: Iterable[int | None]) -> None:
    bad = [d for d in days if d is not None and (not isinstance(d, int) or d < 0)]
    if bad:
        raise ValueError(f"{field_name}: day numbers must be integers >= 0, got {bad}")


def _check_rate(field_name: str, rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{field_name} must be within [0, 1], got {rate}")


@dataclass(frozen=True)
class Scenario:
    """What goes wrong on which day. Days are numbered from 0 (the scenario origin); every knob is off
    by default, so ``Scenario()`` is clean, stationary data.

    :param name: label for logs and reports.
    :param shift_features: numeric features whose mean moves (covariate shift).
    :param shift_start_day: first shifted day; ``None`` disables the shift.
    :param shift_magnitude: the mean shift in standard deviations of the day's values.
    :param shift_ramp_days: ``0`` for a step; otherwise the shift grows linearly to full size over
        this many days.
    :param concept_drift_start_day: first day the label function changes; ``None`` disables it.
    :param concept_drift_strength: how far the coefficients move (``1.0`` = fully drifted), see
        :func:`true_churn_logit`.
    :param seasonality_amplitude: relative weekly swing of :data:`SEASONAL_FEATURES` (0.1 = ±10 %).
    :param null_burst_days: days on which ``null_burst_features`` go missing.
    :param null_burst_features: features nulled on those days.
    :param null_burst_rate: fraction of rows nulled, per feature.
    :param out_of_range_days: days with impossible values (negative age, age 250, negative charges).
    :param out_of_range_features: numeric features corrupted on those days.
    :param out_of_range_rate: fraction of rows corrupted, per feature.
    :param unseen_category_days: days on which a category never seen in training appears.
    :param unseen_category_feature: the categorical feature that gets it (see :data:`UNSEEN_CATEGORIES`).
    :param unseen_category_rate: fraction of rows with the unseen value.
    :param schema_break_day: from this day on :data:`SCHEMA_BREAK_RENAMES` and
        :data:`SCHEMA_BREAK_RETYPED` apply; ``None`` disables it.
    :param label_delay_days: days between an event and the arrival of its label.
    :param label_delay_jitter_days: labels arrive up to this many days earlier or later.
    """

    name: str = "custom"
    shift_features: tuple[str, ...] = ()
    shift_start_day: int | None = None
    shift_magnitude: float = 0.0
    shift_ramp_days: int = 0
    concept_drift_start_day: int | None = None
    concept_drift_strength: float = 0.0
    seasonality_amplitude: float = 0.0
    null_burst_days: tuple[int, ...] = ()
    null_burst_features: tuple[str, ...] = ("avg_session_minutes", "satisfaction_score", "payment_method")
    null_burst_rate: float = 0.3
    out_of_range_days: tuple[int, ...] = ()
    out_of_range_features: tuple[str, ...] = ("age", "monthly_charges", "tenure_months")
    out_of_range_rate: float = 0.02
    unseen_category_days: tuple[int, ...] = ()
    unseen_category_feature: str = "payment_method"
    unseen_category_rate: float = 0.05
    schema_break_day: int | None = None
    label_delay_days: int = 3
    label_delay_jitter_days: int = 0

    def __post_init__(self) -> None:
        _check_names("shift_features", self.shift_features, NUMERIC_FEATURES)
        _check_names("null_burst_features", self.null_burst_features, FEATURES)
        _check_names("out_of_range_features", self.out_of_range_features, NUMERIC_FEATURES)
        _check_names("unseen_category_feature", [self.unseen_category_feature], CATEGORICAL_FEATURES)
        _check_days("shift_start_day", [self.shift_start_day])
        _check_days("concept_drift_start_day", [self.concept_drift_start_day])
        _check_days("schema_break_day", [self.schema_break_day])
        _check_days("null_burst_days", self.null_burst_days)
        _check_days("out_of_range_days", self.out_of_range_days)
        _check_days("unseen_category_days", self.unseen_category_days)
        for name in ("null_burst_rate", "out_of_range_rate", "unseen_category_rate"):
            _check_rate(name, getattr(self, name))
        self._check_delays()

    def _check_delays(self) -> None:
        if self.shift_ramp_days < 0:
            raise ValueError(f"shift_ramp_days must be >= 0, got {self.shift_ramp_days}")
        if self.label_delay_days < 0:
            raise ValueError(f"label_delay_days must be >= 0, got {self.label_delay_days}")
        # A label can arrive late but never before the event it describes.
        if not 0 <= self.label_delay_jitter_days <= self.label_delay_days:
            raise ValueError(
                f"label_delay_jitter_days must be within [0, label_delay_days={self.label_delay_days}], "
                f"got {self.label_delay_jitter_days}"
            )

    def covariate_shift_at(self, day_index: int) -> float:
        """The mean shift (in standard deviations) applied to ``shift_features`` on ``day_index``."""
        if self.shift_start_day is None or day_index < self.shift_start_day:
            return 0.0
        if self.shift_ramp_days == 0:
            return self.shift_magnitude
        return self.shift_magnitude * min(1.0, (day_index - self.shift_start_day + 1) / self.shift_ramp_days)

    def concept_shift_at(self, day_index: int) -> float:
        """The ``concept_shift`` passed to :func:`true_churn_logit` on ``day_index``."""
        start = self.concept_drift_start_day
        return self.concept_drift_strength if start is not None and day_index >= start else 0.0

    def schema_broken_at(self, day_index: int) -> bool:
        return self.schema_break_day is not None and day_index >= self.schema_break_day


_DRIFT = Scenario(
    name="drift",
    seasonality_amplitude=0.05,
    null_burst_days=(5,),
    out_of_range_days=(6,),
    unseen_category_days=(7,),
    shift_features=("monthly_charges", "data_usage_gb", "avg_session_minutes"),
    shift_start_day=8,
    shift_magnitude=1.0,
    concept_drift_start_day=10,
    concept_drift_strength=1.0,
)
#: Named presets, designed for a 14-day demo (days 0-13).
SCENARIOS: dict[str, Scenario] = {
    "baseline": Scenario(name="baseline"),
    "drift": _DRIFT,
    "schema_break": replace(_DRIFT, name="schema_break", schema_break_day=12),
}


def get_scenario(name: str) -> Scenario:
    """Return the preset called ``name``.

    :raises ValueError: listing the known names if there is no such preset.
    """
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known scenarios: {', '.join(sorted(SCENARIOS))}") from None


def _resolve_scenario(scenario: Scenario | str) -> Scenario:
    return get_scenario(scenario) if isinstance(scenario, str) else scenario


# --------------------------------------------------------------------------- ground truth

#: Coefficients of the churn logit before concept drift ...
BASE_COEFFICIENTS: dict[str, float] = {
    "intercept": -2.5,
    "month_to_month": 1.3,
    "two_year": -1.0,
    "num_support_tickets": 0.35,
    "late_payments_12m": 0.45,
    "tenure_months": -0.025,
    "satisfaction_score": -0.35,
    "monthly_charges": 0.01,
    "days_since_last_login": 0.02,
    "discount_pct": -0.02,
}
#: ... and how far each moves at ``concept_shift=1``: price sensitivity takes over from the
#: contract and service signals, so a model trained before the drift ranks customers wrongly.
DRIFT_DELTAS: dict[str, float] = {
    "intercept": 0.7,
    "month_to_month": -1.2,
    "two_year": 0.9,
    "num_support_tickets": -0.3,
    "satisfaction_score": 0.3,
    "monthly_charges": 0.05,
    "discount_pct": -0.04,
}
# Centering keeps the intercept meaningful and the base churn rate near 20 %.
_CENTERS: dict[str, float] = {"satisfaction_score": 6.0, "monthly_charges": 60.0, "discount_pct": 5.0}


def churn_coefficients(concept_shift: float = 0.0) -> dict[str, float]:
    """The label function's coefficients at a given amount of concept drift."""
    return {k: v + concept_shift * DRIFT_DELTAS.get(k, 0.0) for k, v in BASE_COEFFICIENTS.items()}


def true_churn_logit(df: pd.DataFrame, concept_shift: float = 0.0) -> np.ndarray:
    """The log-odds of churn the generator samples labels from (``churned ~ Bernoulli(sigmoid)``).

    :param df: a frame with the clean feature columns (nulls give ``nan``).
    :param concept_shift: ``0`` for the original relationship, ``1`` for the fully drifted one.
    """
    coef = churn_coefficients(concept_shift)
    contract = df["contract_type"].to_numpy()
    logit = np.full(len(df), coef["intercept"])
    logit += coef["month_to_month"] * (contract == "month_to_month")
    logit += coef["two_year"] * (contract == "two_year")
    for name in BASE_COEFFICIENTS.keys() - {"intercept", "month_to_month", "two_year"}:
        logit += coef[name] * (df[name].to_numpy(dtype=float) - _CENTERS.get(name, 0.0))
    return logit


def true_churn_probability(df: pd.DataFrame, concept_shift: float = 0.0) -> np.ndarray:
    """:func:`true_churn_logit` as a probability."""
    return 1.0 / (1.0 + np.exp(-true_churn_logit(df, concept_shift)))


# --------------------------------------------------------------------------- generation


def _rng(seed: int, day_index: int) -> np.random.Generator:
    # Seeding from (seed, day) makes each day independent of which other days are generated.
    return np.random.default_rng([seed, day_index])


def _weekly_factor(ds: dt.date, amplitude: float) -> float:
    # Peaks at the weekend (weekday 5.5), troughs mid-week.
    return 1.0 + amplitude * math.cos(2 * math.pi * (ds.weekday() - 5.5) / 7)


def _customer_ids(rng: np.random.Generator, rows: int) -> np.ndarray:
    numbers = rng.choice(ID_POOL, size=rows, replace=False)
    digits = np.strings.zfill(numbers.astype(f"U{ID_DIGITS}"), ID_DIGITS)
    return np.strings.add(ID_PREFIX, digits).astype(object)


def _event_ts(rng: np.random.Generator, ds: dt.date, rows: int) -> pd.DatetimeIndex:
    offsets = np.sort(rng.integers(0, _DAY_US, size=rows))
    midnight = np.datetime64(ds.isoformat(), "us")
    return pd.DatetimeIndex(midnight + offsets.astype("timedelta64[us]")).tz_localize("UTC")


def _categoricals(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "contract_type": rng.choice(3, n, p=[0.55, 0.25, 0.20]),
        "payment_method": rng.choice(4, n, p=[0.35, 0.20, 0.25, 0.20]),
        "region": rng.choice(5, n, p=[0.25, 0.20, 0.20, 0.20, 0.15]),
        "plan_tier": rng.choice(3, n, p=[0.40, 0.40, 0.20]),
    }


def _account_features(rng: np.random.Generator, codes: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Age, tenure, billing: longer contracts mean longer tenure and bigger discounts."""
    n = len(codes["contract_type"])
    contract, tier = codes["contract_type"], codes["plan_tier"]
    tenure = np.floor(rng.gamma(1.3, np.array([12.0, 28.0, 45.0])[contract]))
    monthly = np.array([30.0, 60.0, 95.0])[tier] + rng.normal(0, 9, n)
    total = monthly * (tenure + rng.random(n)) * rng.lognormal(0, 0.08, n)
    has_discount = rng.random(n) < np.array([0.2, 0.6, 0.8])[contract]
    discount = np.where(has_discount, rng.uniform(0, np.array([15.0, 30.0, 50.0])[contract]), 0.0)
    # Mailed and electronic checks are the payment methods that bounce.
    risky_payment = np.isin(codes["payment_method"], (0, 1))
    return {
        "age": np.round(rng.normal(44, 15, n)),
        "tenure_months": tenure,
        "monthly_charges": np.round(monthly, 2),
        "total_charges": np.round(total, 2),
        "late_payments_12m": rng.poisson(0.25 + 0.45 * risky_payment + 0.15 * (tier == 0)).astype(float),
        "discount_pct": np.round(discount, 1),
    }


def _usage_features(rng: np.random.Generator, tier: np.ndarray, season: float) -> dict[str, np.ndarray]:
    """Usage and service features, all driven by one latent engagement so they correlate."""
    n = len(tier)
    engagement = rng.standard_normal(n)
    satisfaction = 6.5 + 0.9 * engagement + rng.normal(0, 1.4, n)
    tickets = rng.poisson(np.exp(0.3 + 0.25 * np.clip(6.5 - satisfaction, -4, 6))).astype(float)
    logins = rng.poisson(12.0 * np.exp(0.45 * engagement) * season).astype(float)
    return {
        "num_support_tickets": tickets,
        "satisfaction_score": np.round(satisfaction - 0.25 * tickets),
        "avg_session_minutes": np.round(rng.lognormal(np.log(22) + 0.35 * engagement, 0.45) * season, 1),
        "data_usage_gb": np.round(
            rng.gamma(2.0, np.array([3.0, 6.0, 10.0])[tier]) * np.exp(0.2 * engagement) * season, 2
        ),
        "logins_30d": logins,
        "days_since_last_login": np.floor(rng.exponential(30.0 / (1.0 + logins))),
    }


def _clip_to_spec(columns: dict[str, np.ndarray]) -> None:
    # Clean values must always satisfy the published ranges, whatever the tails of a distribution do.
    for name, values in columns.items():
        spec = SCHEMA_BY_NAME[name]
        np.clip(values, spec.min, spec.max, out=values)
        if spec.integral:
            np.round(values, out=values)


def _apply_covariate_shift(columns: dict[str, np.ndarray], scenario: Scenario, day_index: int) -> None:
    shift = scenario.covariate_shift_at(day_index)
    if shift == 0.0:
        return
    for name in scenario.shift_features:
        values = columns[name]
        columns[name] = values + shift * float(values.std())


def _clean_frame(rng: np.random.Generator, ds: dt.date, rows: int, scenario: Scenario, day_index: int) -> pd.DataFrame:
    codes = _categoricals(rng, rows)
    numeric = _account_features(rng, codes)
    numeric |= _usage_features(rng, codes["plan_tier"], _weekly_factor(ds, scenario.seasonality_amplitude))
    _apply_covariate_shift(numeric, scenario, day_index)
    _clip_to_spec(numeric)
    data: dict[str, object] = {ENTITY_ID: _customer_ids(rng, rows), EVENT_TS: _event_ts(rng, ds, rows)}
    data |= {name: numeric[name] for name in NUMERIC_FEATURES}
    for name in CATEGORICAL_FEATURES:
        data[name] = np.array(SCHEMA_BY_NAME[name].categories, dtype=object)[codes[name]]
    return pd.DataFrame(data)


def _add_labels(frame: pd.DataFrame, rng: np.random.Generator, ds: dt.date, scenario: Scenario, day_index: int) -> None:
    probability = true_churn_probability(frame, scenario.concept_shift_at(day_index))
    frame[LABEL] = (rng.random(len(frame)) < probability).astype(np.int64)
    jitter = scenario.label_delay_jitter_days
    delay = scenario.label_delay_days + rng.integers(-jitter, jitter + 1, size=len(frame))
    # Only 2*jitter+1 distinct arrival dates exist: format each once instead of once per row.
    first = scenario.label_delay_days - jitter
    arrivals = np.array([(ds + dt.timedelta(days=first + k)).isoformat() for k in range(2 * jitter + 1)], dtype=object)
    frame[EVENT_DS] = ds.isoformat()
    frame[LABEL_DS] = arrivals[delay - first]


def _inject_nulls(frame: pd.DataFrame, rng: np.random.Generator, scenario: Scenario) -> None:
    for name in scenario.null_burst_features:
        mask = rng.random(len(frame)) < scenario.null_burst_rate
        frame.loc[mask, name] = np.nan if name in NUMERIC_FEATURES else None


def _bounds(name: str) -> tuple[float, float]:
    spec = SCHEMA_BY_NAME[name]
    if spec.min is None or spec.max is None:  # every numeric spec has both; keeps the types honest
        raise ValueError(f"{name} has no valid range")
    return float(spec.min), float(spec.max)


def _inject_out_of_range(frame: pd.DataFrame, rng: np.random.Generator, scenario: Scenario) -> None:
    n = len(frame)
    for name in scenario.out_of_range_features:
        lo, hi = _bounds(name)
        span = hi - lo
        mask = rng.random(n) < scenario.out_of_range_rate
        # Half below the minimum (negative age, negative charges), half far above the maximum.
        below = lo - 1.0 - rng.uniform(0, 0.5 * span, n)
        above = hi + rng.uniform(0.5 * span, 2.0 * span, n)
        bad = np.round(np.where(rng.random(n) < 0.5, below, above))
        frame.loc[mask, name] = bad[mask]


def _inject_unseen(frame: pd.DataFrame, rng: np.random.Generator, scenario: Scenario) -> None:
    name = scenario.unseen_category_feature
    mask = rng.random(len(frame)) < scenario.unseen_category_rate
    frame.loc[mask, name] = UNSEEN_CATEGORIES[name]


def _break_schema(frame: pd.DataFrame) -> pd.DataFrame:
    for name in SCHEMA_BREAK_RETYPED:
        values = frame[name]
        frame[name] = (values.map("{:.1f}%".format)).where(values.notna(), None).astype(object)
    return frame.rename(columns=SCHEMA_BREAK_RENAMES)


def generate_day(day_index: int, ds: dt.date, rows: int, *, scenario: Scenario | str, seed: int) -> pd.DataFrame:
    """Generate one day: feature columns, ``churned``, ``event_ds`` and ``label_ds``.

    Clean features come first, labels are drawn from :func:`true_churn_logit` on those (covariate
    shift therefore moves the churn rate, concept drift changes the relationship), and data-quality
    faults are injected last: they corrupt the record, not the customer's behaviour.

    :param day_index: the day's number in the scenario (0 = origin); selects faults and the seed.
    :param ds: the calendar date (event timestamps fall within it; weekly seasonality follows it).
    :param rows: number of customers, at most :data:`ID_POOL`.
    :param scenario: a :class:`Scenario` or a preset name.
    :param seed: base seed; with ``day_index`` it fully determines the frame.
    :raises ValueError: on a negative ``day_index``, a bad ``rows`` or an unknown scenario.
    """
    scenario = _resolve_scenario(scenario)
    if day_index < 0:
        raise ValueError(f"day_index must be >= 0, got {day_index}")
    _check_rows(rows)
    rng = _rng(seed, day_index)
    frame = _clean_frame(rng, ds, rows, scenario, day_index)
    _add_labels(frame, rng, ds, scenario, day_index)
    # Each fault draws from its own stream so enabling one never changes another day's faults.
    if day_index in scenario.null_burst_days:
        _inject_nulls(frame, _rng(seed + 1, day_index), scenario)
    if day_index in scenario.out_of_range_days:
        _inject_out_of_range(frame, _rng(seed + 2, day_index), scenario)
    if day_index in scenario.unseen_category_days:
        _inject_unseen(frame, _rng(seed + 3, day_index), scenario)
    return _break_schema(frame) if scenario.schema_broken_at(day_index) else frame


def _check_rows(rows: int) -> None:
    if not 1 <= rows <= ID_POOL:
        raise ValueError(f"rows per day must be within [1, {ID_POOL}], got {rows}")


def split_features_labels(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a :func:`generate_day` frame into the features and labels datasets."""
    labels = frame[list(LABEL_COLUMNS)]
    features = frame.drop(columns=[LABEL, EVENT_DS, LABEL_DS])
    return features, labels


# --------------------------------------------------------------------------- landing zone


@dataclass
class GenerationResult:
    """What :func:`write_landing` wrote.

    :param days: feature partitions written (``YYYY-MM-DD``).
    :param label_days: label partitions written (arrival dates).
    :param feature_rows: rows across feature partitions.
    :param label_rows: label rows produced by this run.
    :param feature_paths: feature files, one per day.
    :param label_paths: label files, one per arrival day.
    :param seconds: wall time of generation and writing.
    :param rows_per_s: ``feature_rows / seconds``.
    :param scenario: the scenario's name.
    """

    days: list[str]
    label_days: list[str]
    feature_rows: int
    label_rows: int
    feature_paths: list[Path] = field(default_factory=list)
    label_paths: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    rows_per_s: float = 0.0
    scenario: str = ""

    @property
    def paths(self) -> list[Path]:
        return [*self.feature_paths, *self.label_paths]

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable summary (for XCom and bench output)."""
        return {
            "days": self.days,
            "label_days": self.label_days,
            "feature_rows": self.feature_rows,
            "label_rows": self.label_rows,
            "paths": [str(p) for p in self.paths],
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows_per_s, 1),
            "scenario": self.scenario,
        }


def labels_source(source: str) -> str:
    """The dataset name under which ``source``'s labels land."""
    return f"{source}_labels"


def partition_path(landing_root: Path, source: str, ds: str | dt.date, fmt: str = "parquet") -> Path:
    """``<landing_root>/<source>/ds=<ds>/part-00000.<fmt>``."""
    day = ds.isoformat() if isinstance(ds, dt.date) else ds
    return Path(landing_root) / source / f"ds={day}" / f"{PART_STEM}.{fmt}"


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    # No pandas metadata: the files stay byte-identical across pandas versions and readers see
    # plain Arrow types.
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.replace_schema_metadata(None)


def _write_table(table: pa.Table, path: Path, fmt: str) -> Path:
    """Replace ``path`` atomically and drop other part files, so a partition is all-or-nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A leading dot hides a crashed run's leftovers from Spark and pyarrow dataset readers.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if fmt == "parquet":
        pq.write_table(table, tmp, compression="snappy")
    else:
        pacsv.write_csv(table, tmp)
    os.replace(tmp, path)
    for stale in path.parent.glob("part-*"):
        if stale != path:
            stale.unlink()
    return path


def _read_labels(path: Path, fmt: str) -> pa.Table | None:
    if not path.exists():
        return None
    if fmt == "parquet":
        table = pq.read_table(path)
    else:
        options = pacsv.ConvertOptions(column_types=_LABEL_ARROW_SCHEMA)
        table = pacsv.read_csv(path, convert_options=options)
    return table.select(_LABEL_ARROW_SCHEMA.names).cast(_LABEL_ARROW_SCHEMA)


def _merge_labels(path: Path, fmt: str, new: pa.Table, event_days: list[str]) -> pa.Table:
    """New labels plus those already in the partition from event days outside this run.

    With jitter, one arrival day collects labels from several event days that separate runs may
    write; merging keeps day-by-day runs complete and a re-run idempotent.
    """
    existing = _read_labels(path, fmt)
    if existing is not None:
        keep = pc.invert(pc.is_in(existing[EVENT_DS], value_set=pa.array(event_days, pa.string())))
        new = pa.concat_tables([existing.filter(keep), new])
    return new.sort_by([(EVENT_TS, "ascending"), (ENTITY_ID, "ascending")])


def _validate_landing_args(days: int, rows_per_day: int, fmt: str, start: dt.date, origin: dt.date) -> None:
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    if rows_per_day < 1:
        raise ValueError(f"rows_per_day must be >= 1, got {rows_per_day}")
    _check_rows(rows_per_day)
    if fmt not in FORMATS:
        raise ValueError(f"unknown fmt {fmt!r}; expected one of {', '.join(FORMATS)}")
    if start < origin:
        raise ValueError(f"start {start} is before the scenario origin {origin}")


def write_landing(
    landing_root: Path,
    *,
    start: dt.date,
    days: int,
    rows_per_day: int,
    scenario: Scenario | str = "drift",
    seed: int = 42,
    source: str = "customers",
    fmt: str = "parquet",
    origin: dt.date | None = None,
) -> GenerationResult:
    """Generate ``days`` days from ``start`` and write them to the landing zone.

    Re-running with the same arguments rewrites the same files with the same content. Days can be
    written one at a time (e.g. one Airflow run per day): pass the same ``origin`` each time.
    Label partitions are keyed by arrival date, so the last days' labels land in partitions dated
    after ``start + days - 1``; a label partition keeps rows from event days outside this run.

    :param landing_root: root of the landing zone (``Settings.landing_root``).
    :param start: first calendar day to write.
    :param days: number of consecutive days.
    :param rows_per_day: customers per day.
    :param scenario: a :class:`Scenario` or a name in :data:`SCENARIOS`.
    :param seed: base seed.
    :param source: dataset name; labels go to ``<source>_labels``.
    :param fmt: ``"parquet"`` or ``"csv"``.
    :param origin: the scenario's day 0 (default ``start``); ``day_index = (ds - origin).days``.
    :raises ValueError: on bad counts, an unknown ``fmt`` or scenario, or ``start < origin``.
    """
    t0 = time.perf_counter()
    resolved = _resolve_scenario(scenario)
    origin = start if origin is None else origin
    _validate_landing_args(days, rows_per_day, fmt, start, origin)
    result = GenerationResult(days=[], label_days=[], feature_rows=0, label_rows=0, scenario=resolved.name)
    pending: dict[str, list[pa.Table]] = {}
    for offset in range(days):
        ds = start + dt.timedelta(days=offset)
        frame = generate_day((ds - origin).days, ds, rows_per_day, scenario=resolved, seed=seed)
        features, labels = split_features_labels(frame)
        path = partition_path(landing_root, source, ds, fmt)
        result.feature_paths.append(_write_table(_to_arrow(features), path, fmt))
        result.days.append(ds.isoformat())
        result.feature_rows += len(features)
        result.label_rows += len(labels)
        _collect_labels(pending, labels)
    _write_labels(result, pending, Path(landing_root), labels_source(source), fmt)
    result.seconds = time.perf_counter() - t0
    result.rows_per_s = result.feature_rows / result.seconds if result.seconds > 0 else float("inf")
    return result


def _collect_labels(pending: dict[str, list[pa.Table]], labels: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(labels, schema=_LABEL_ARROW_SCHEMA, preserve_index=False)
    table = table.replace_schema_metadata(None)
    for arrival in pc.unique(table[LABEL_DS]).to_pylist():
        pending.setdefault(arrival, []).append(table.filter(pc.equal(table[LABEL_DS], arrival)))


def _write_labels(
    result: GenerationResult, pending: dict[str, list[pa.Table]], root: Path, source: str, fmt: str
) -> None:
    for arrival in sorted(pending):
        path = partition_path(root, source, arrival, fmt)
        merged = _merge_labels(path, fmt, pa.concat_tables(pending[arrival]), result.days)
        result.label_paths.append(_write_table(merged, path, fmt))
        result.label_days.append(arrival)
