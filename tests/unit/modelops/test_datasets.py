"""Tests for :mod:`modelops.datasets`: the synthetic churn generator and its drift scenarios."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from modelops import datasets as D

DAY0 = dt.date(2024, 1, 1)
ROWS = 4_000


def day(index: int, scenario: D.Scenario | str = "drift", rows: int = ROWS, seed: int = 7) -> pd.DataFrame:
    return D.generate_day(index, DAY0 + dt.timedelta(days=index), rows, scenario=scenario, seed=seed)


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index on reference deciles (the usual monitoring definition)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    ref = np.histogram(reference, edges)[0] / len(reference) + 1e-6
    cur = np.histogram(current, edges)[0] / len(current) + 1e-6
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def out_of_range(frame: pd.DataFrame, name: str) -> pd.Series:
    spec = D.SCHEMA_BY_NAME[name]
    values = frame[name].dropna()
    return values[(values < spec.min) | (values > spec.max)]


# --------------------------------------------------------------------------- schema


def test_schema_lists_features_and_keys() -> None:
    assert len(D.NUMERIC_FEATURES) >= 12
    assert set(D.CATEGORICAL_FEATURES) >= {"contract_type", "payment_method", "region"}
    assert D.FEATURES == D.NUMERIC_FEATURES + D.CATEGORICAL_FEATURES
    assert {D.ENTITY_ID, D.EVENT_TS, D.LABEL} <= set(D.SCHEMA_BY_NAME)
    assert D.LABEL not in D.FEATURES and D.ENTITY_ID not in D.FEATURES
    for name in D.NUMERIC_FEATURES:
        spec = D.SCHEMA_BY_NAME[name]
        assert spec.min is not None and spec.max is not None and spec.min < spec.max
    with pytest.raises(dataclasses.FrozenInstanceError):
        D.CHURN_SCHEMA[0].name = "x"  # type: ignore[misc]


def test_dtypes() -> None:
    frame = day(0, "baseline", rows=200)
    assert str(frame[D.EVENT_TS].dtype) == "datetime64[us, UTC]"
    assert all(frame[n].dtype == np.float64 for n in D.NUMERIC_FEATURES)
    assert frame[D.LABEL].dtype == np.int64
    assert all(isinstance(v, str) for n in D.CATEGORICAL_FEATURES for v in frame[n])
    assert list(frame.columns) == [*D.FEATURE_COLUMNS, D.LABEL, D.EVENT_DS, D.LABEL_DS]


def test_module_does_not_import_airflow() -> None:
    include = Path(D.__file__).resolve().parents[1]
    code = "import sys, modelops.datasets; sys.exit('airflow' in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": str(include)})


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_frame_and_different_seed_differs() -> None:
    pd.testing.assert_frame_equal(day(3), day(3))
    other = day(3, seed=8)
    assert not other[D.ENTITY_ID].equals(day(3)[D.ENTITY_ID])
    assert not np.allclose(other["age"], day(3)["age"])


def test_day_identical_alone_or_in_a_range(tmp_path: Path) -> None:
    ranged = D.write_landing(tmp_path / "a", start=DAY0, days=5, rows_per_day=500, seed=3)
    alone = D.write_landing(
        tmp_path / "b", start=DAY0 + dt.timedelta(days=3), days=1, rows_per_day=500, seed=3, origin=DAY0
    )
    assert alone.days == ["2024-01-04"]
    assert pq.read_table(ranged.feature_paths[3]).equals(pq.read_table(alone.feature_paths[0]))


def test_row_counts_unique_ids_and_timestamps_within_day() -> None:
    frame = day(2, rows=3_000)
    assert len(frame) == 3_000
    assert frame[D.ENTITY_ID].is_unique
    assert frame[D.ENTITY_ID].str.fullmatch(r"C\d{7}").all()
    ts = frame[D.EVENT_TS]
    start = pd.Timestamp(DAY0 + dt.timedelta(days=2), tz="UTC")
    assert ts.min() >= start and ts.max() < start + pd.Timedelta(days=1)
    assert ts.is_monotonic_increasing


# --------------------------------------------------------------------------- distributions and labels


def test_clean_days_respect_spec_ranges_and_categories() -> None:
    scenario = D.get_scenario("drift")
    faulty = {*scenario.null_burst_days, *scenario.out_of_range_days, *scenario.unseen_category_days}
    for index in sorted(set(range(14)) - faulty):
        frame = day(index, rows=2_000)
        assert not frame.isna().any().any(), index
        for name in D.NUMERIC_FEATURES:
            assert out_of_range(frame, name).empty, (index, name)
        for name in D.CATEGORICAL_FEATURES:
            assert set(frame[name]) <= set(D.SCHEMA_BY_NAME[name].categories), (index, name)
        integral = [n for n in D.NUMERIC_FEATURES if D.SCHEMA_BY_NAME[n].integral]
        assert (frame[integral] == frame[integral].round()).all().all()


def test_realistic_correlations_and_churn_rate() -> None:
    frame = day(0, "baseline", rows=20_000)
    assert frame["tenure_months"].corr(frame["total_charges"]) > 0.5
    assert 0.15 <= frame[D.LABEL].mean() <= 0.30
    by_contract = frame.groupby("contract_type")[D.LABEL].mean()
    assert by_contract["month_to_month"] > by_contract["one_year"] > by_contract["two_year"]
    assert frame["num_support_tickets"].corr(frame[D.LABEL]) > 0.05
    assert frame["tenure_months"].corr(frame[D.LABEL]) < -0.05


def test_labels_follow_the_exposed_true_function() -> None:
    frame = day(0, "baseline", rows=20_000)
    probability = D.true_churn_probability(frame)
    assert abs(frame[D.LABEL].mean() - probability.mean()) < 0.015
    high, low = probability > 0.5, probability < 0.1
    assert frame.loc[high, D.LABEL].mean() > 0.6 and frame.loc[low, D.LABEL].mean() < 0.08
    drifted = D.churn_coefficients(1.0)
    assert drifted["monthly_charges"] > D.BASE_COEFFICIENTS["monthly_charges"]
    assert not np.allclose(D.true_churn_logit(frame, 1.0), D.true_churn_logit(frame))


def test_weekly_seasonality_moves_usage() -> None:
    scenario = D.Scenario(seasonality_amplitude=0.3)
    weekend = D.generate_day(0, dt.date(2024, 1, 6), 5_000, scenario=scenario, seed=1)  # Saturday
    midweek = D.generate_day(0, dt.date(2024, 1, 3), 5_000, scenario=scenario, seed=1)  # Wednesday
    for name in D.SEASONAL_FEATURES:
        assert weekend[name].mean() > 1.3 * midweek[name].mean(), name
    assert weekend["age"].mean() == pytest.approx(midweek["age"].mean())


# --------------------------------------------------------------------------- scenarios


def test_presets_fit_a_two_week_demo() -> None:
    assert set(D.SCENARIOS) >= {"baseline", "drift", "schema_break"}
    assert D.get_scenario("baseline") == D.Scenario(name="baseline")
    drift = D.get_scenario("drift")
    assert (drift.shift_start_day, drift.concept_drift_start_day) == (8, 10)
    assert (drift.null_burst_days, drift.out_of_range_days, drift.unseen_category_days) == ((5,), (6,), (7,))
    assert 2 <= len(drift.shift_features) <= 3
    assert D.get_scenario("schema_break").schema_break_day == 12
    assert D.get_scenario("schema_break").shift_features == drift.shift_features


def test_covariate_shift_moves_shifted_features_only_after_start() -> None:
    scenario = D.get_scenario("drift")
    reference, before, after = day(0, rows=10_000), day(7, rows=10_000), day(8, rows=10_000)
    for name in scenario.shift_features:
        std = reference[name].std()
        assert abs(before[name].mean() - reference[name].mean()) < 0.15 * std, name
        assert after[name].mean() - reference[name].mean() > 0.7 * std, name
        assert psi(reference[name].to_numpy(), after[name].to_numpy()) > 0.3, name
        assert psi(reference[name].to_numpy(), before[name].to_numpy()) < 0.1, name
    for name in ("age", "tenure_months", "late_payments_12m"):
        assert psi(reference[name].to_numpy(), after[name].to_numpy()) < 0.1, name


def test_covariate_shift_ramp_grows() -> None:
    scenario = D.Scenario(shift_features=("age",), shift_start_day=2, shift_magnitude=1.0, shift_ramp_days=4)
    assert [scenario.covariate_shift_at(d) for d in range(7)] == [0, 0, 0.25, 0.5, 0.75, 1.0, 1.0]


def test_concept_drift_changes_the_label_relationship() -> None:
    scenario = D.Scenario(concept_drift_start_day=3, concept_drift_strength=1.0)
    before, after = day(2, scenario, rows=20_000), day(3, scenario, rows=20_000)
    # The feature distributions are unchanged; only P(churn | x) moves.
    assert psi(before["monthly_charges"].to_numpy(), after["monthly_charges"].to_numpy()) < 0.05
    corr_before = before["monthly_charges"].corr(before[D.LABEL])
    corr_after = after["monthly_charges"].corr(after[D.LABEL])
    assert corr_after > corr_before + 0.2

    def contract_gap(frame: pd.DataFrame) -> float:
        rates = frame.groupby("contract_type")[D.LABEL].mean()
        return rates["month_to_month"] - rates["two_year"]

    assert contract_gap(after) < contract_gap(before) - 0.08
    assert abs(after[D.LABEL].mean() - D.true_churn_probability(after, 1.0).mean()) < 0.015


def test_null_burst_only_on_its_day_and_features() -> None:
    scenario = D.get_scenario("drift")
    burst = day(5, rows=10_000)
    for name in D.FEATURES:
        rate = burst[name].isna().mean()
        if name in scenario.null_burst_features:
            assert rate == pytest.approx(scenario.null_burst_rate, abs=0.03), name
        else:
            assert rate == 0, name
    assert not burst[[D.ENTITY_ID, D.EVENT_TS, D.LABEL]].isna().any().any()
    assert not day(4).isna().any().any()


def test_out_of_range_day_has_impossible_values() -> None:
    scenario = D.get_scenario("drift")
    bad = day(6, rows=10_000)
    for name in scenario.out_of_range_features:
        broken = out_of_range(bad, name)
        assert len(broken) / len(bad) == pytest.approx(scenario.out_of_range_rate, abs=0.01), name
        spec = D.SCHEMA_BY_NAME[name]
        assert (broken < spec.min).any() and (broken > spec.max).any(), name
    assert (bad["age"] < 0).any() and (bad["age"] > 150).any() and (bad["monthly_charges"] < 0).any()
    for name in set(D.NUMERIC_FEATURES) - set(scenario.out_of_range_features):
        assert out_of_range(bad, name).empty, name


def test_unseen_categories_only_on_their_day() -> None:
    scenario = D.get_scenario("drift")
    name, value = scenario.unseen_category_feature, D.UNSEEN_CATEGORIES[scenario.unseen_category_feature]
    assert value not in D.SCHEMA_BY_NAME[name].categories
    for index in range(14):
        share = (day(index, rows=2_000)[name] == value).mean()
        if index in scenario.unseen_category_days:
            assert share == pytest.approx(scenario.unseen_category_rate, abs=0.02)
        else:
            assert share == 0, index


def test_schema_break_from_its_day_on() -> None:
    scenario = "schema_break"
    assert "monthly_charges" in day(11, scenario).columns
    for index in (12, 13):
        broken = day(index, scenario)
        assert "monthly_charges" not in broken.columns and "monthly_fee" in broken.columns
        assert broken["monthly_fee"].dtype == np.float64
        assert broken["discount_pct"].map(type).eq(str).all()
        assert broken["discount_pct"].str.fullmatch(r"\d+\.\d%").all()
        assert broken[D.LABEL].isin([0, 1]).all()
    # The drift preset itself never breaks the schema.
    assert "monthly_charges" in day(13).columns


def test_scenario_validation_messages() -> None:
    with pytest.raises(ValueError, match=r"shift_features.*'nope'"):
        D.Scenario(shift_features=("nope",))
    with pytest.raises(ValueError, match="shift_features"):
        D.Scenario(shift_features=("region",))  # categorical features cannot be mean-shifted
    with pytest.raises(ValueError, match="null_burst_rate"):
        D.Scenario(null_burst_rate=1.5)
    with pytest.raises(ValueError, match="unseen_category_feature"):
        D.Scenario(unseen_category_feature="age")
    with pytest.raises(ValueError, match="null_burst_days"):
        D.Scenario(null_burst_days=(-1,))
    with pytest.raises(ValueError, match="label_delay_jitter_days"):
        D.Scenario(label_delay_days=1, label_delay_jitter_days=2)
    with pytest.raises(ValueError, match=r"unknown scenario 'nope'.*baseline.*drift.*schema_break"):
        D.get_scenario("nope")


# --------------------------------------------------------------------------- landing zone


def landing_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_write_landing_layout_and_label_arrival(tmp_path: Path) -> None:
    result = D.write_landing(tmp_path, start=DAY0, days=4, rows_per_day=300, scenario="drift")
    assert result.days == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
    assert result.label_days == ["2024-01-04", "2024-01-05", "2024-01-06", "2024-01-07"]
    assert result.feature_rows == result.label_rows == 1_200
    assert result.seconds > 0 and result.rows_per_s > 0
    assert result.feature_paths[0] == tmp_path / "customers" / "ds=2024-01-01" / "part-00000.parquet"
    assert result.paths == [*result.feature_paths, *result.label_paths]
    features = pq.read_table(result.feature_paths[1])
    assert features.column_names == list(D.FEATURE_COLUMNS)
    assert str(features.schema.field(D.EVENT_TS).type) == "timestamp[us, tz=UTC]"
    for path in result.label_paths:
        labels = pq.read_table(path).to_pandas()
        arrival = path.parent.name.removeprefix("ds=")
        assert (labels[D.LABEL_DS] == arrival).all()
        event = pd.to_datetime(labels[D.EVENT_DS]) + pd.Timedelta(days=3)
        assert (event.dt.strftime("%Y-%m-%d") == arrival).all()
        assert (labels[D.EVENT_TS].dt.strftime("%Y-%m-%d") == labels[D.EVENT_DS]).all()
    assert set(result.to_dict()) >= {"days", "feature_rows", "label_rows", "paths", "seconds", "rows_per_s"}


def test_labels_join_back_to_features(tmp_path: Path) -> None:
    result = D.write_landing(tmp_path, start=DAY0, days=2, rows_per_day=200, scenario="baseline")
    features = pd.concat(pq.read_table(p).to_pandas() for p in result.feature_paths)
    labels = pd.concat(pq.read_table(p).to_pandas() for p in result.label_paths)
    joined = features.merge(labels, on=[D.ENTITY_ID, D.EVENT_TS], validate="one_to_one")
    assert len(joined) == 400
    expected = pd.concat(day(i, "baseline", rows=200, seed=42) for i in range(2))
    assert joined[D.LABEL].sum() == expected[D.LABEL].sum()


def test_write_landing_is_idempotent(tmp_path: Path) -> None:
    D.write_landing(tmp_path, start=DAY0, days=3, rows_per_day=300)
    first = landing_files(tmp_path)
    D.write_landing(tmp_path, start=DAY0, days=3, rows_per_day=300)
    assert landing_files(tmp_path) == first
    assert len(first) == 6 and not any(".tmp" in name for name in first)


def test_jittered_labels_merge_across_daily_runs(tmp_path: Path) -> None:
    scenario = D.Scenario(label_delay_days=3, label_delay_jitter_days=1)
    ranged = D.write_landing(tmp_path / "range", start=DAY0, days=4, rows_per_day=400, scenario=scenario)
    for index in range(4):
        D.write_landing(
            tmp_path / "daily",
            start=DAY0 + dt.timedelta(days=index),
            days=1,
            rows_per_day=400,
            scenario=scenario,
            origin=DAY0,
        )
    D.write_landing(
        tmp_path / "daily", start=DAY0 + dt.timedelta(days=2), days=1, rows_per_day=400, scenario=scenario, origin=DAY0
    )
    assert landing_files(tmp_path / "daily") == landing_files(tmp_path / "range")
    delays = set()
    for path in ranged.label_paths:
        labels = pq.read_table(path).to_pandas()
        delays |= set((pd.to_datetime(labels[D.LABEL_DS]) - pd.to_datetime(labels[D.EVENT_DS])).dt.days)
    assert delays == {2, 3, 4}


def test_csv_format_round_trips_and_replaces_other_formats(tmp_path: Path) -> None:
    D.write_landing(tmp_path, start=DAY0, days=2, rows_per_day=250, fmt="parquet")
    result = D.write_landing(tmp_path, start=DAY0, days=2, rows_per_day=250, fmt="csv")
    first = landing_files(tmp_path)
    assert all(name.endswith(".csv") for name in first) and len(first) == 4
    frame = pd.read_csv(result.feature_paths[0])
    assert list(frame.columns) == list(D.FEATURE_COLUMNS) and len(frame) == 250
    expected = day(0, "drift", rows=250, seed=42)
    np.testing.assert_allclose(frame["total_charges"], expected["total_charges"])
    assert (pd.to_datetime(frame[D.EVENT_TS]).to_numpy() == expected[D.EVENT_TS].to_numpy()).all()
    D.write_landing(tmp_path, start=DAY0, days=2, rows_per_day=250, fmt="csv")
    assert landing_files(tmp_path) == first


def test_null_and_broken_days_survive_the_write(tmp_path: Path) -> None:
    result = D.write_landing(tmp_path, start=DAY0, days=13, rows_per_day=200, scenario="schema_break")
    nulls = pq.read_table(result.feature_paths[5]).to_pandas()
    assert nulls["payment_method"].isna().any() and nulls["satisfaction_score"].isna().any()
    broken = pq.read_table(result.feature_paths[12])
    assert "monthly_fee" in broken.column_names and "monthly_charges" not in broken.column_names
    assert str(broken.schema.field("discount_pct").type) == "string"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 0}, "days must be >= 1"),
        ({"rows_per_day": 0}, "rows_per_day must be >= 1"),
        ({"fmt": "json"}, "unknown fmt 'json'"),
        ({"scenario": "nope"}, "known scenarios: baseline, drift, schema_break"),
        ({"origin": DAY0 + dt.timedelta(days=1)}, "before the scenario origin"),
    ],
)
def test_write_landing_rejects_bad_input(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"start": DAY0, "days": 1, "rows_per_day": 10} | kwargs
    with pytest.raises(ValueError, match=message):
        D.write_landing(tmp_path, **args)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


def test_generate_day_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="rows per day"):
        day(0, rows=0)
    with pytest.raises(ValueError, match="day_index"):
        D.generate_day(-1, DAY0, 10, scenario="baseline", seed=1)
