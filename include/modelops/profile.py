"""The reference profile: what the training data looked like, computed once at training time.

Drift evaluation (PSI, KS, Jensen-Shannon, Wasserstein, chi-square) later reads only this profile
and the current data, never the training data itself, so the profile must carry everything those
statistics need in a compact, JSON-ready form:

* numeric features (and the predicted probability): quantile bins with the reference share of
  each bin, summary statistics and a 101-point quantile sketch of the distribution (enough for an
  approximate KS statistic or Wasserstein distance);
* categorical features: the share of each of the top categories, the rest lumped into
  :data:`OTHER`.

Bin convention
    ``bin_edges`` holds only the *inner* cut points ``e1 < e2 < ... < ek`` (JSON cannot hold
    infinities). The ``k + 1`` bins are right-closed, with open outer ends::

        (-inf, e1], (e1, e2], ..., (e(k-1), ek], (ek, +inf)

    :func:`bin_counts` implements it as ``np.searchsorted(edges, x, side="left")`` (or the
    equivalent per-edge ``count(x <= e_i)``, faster for few edges). Every cut
    point is a reference value strictly below the reference maximum, so no reference bin is empty;
    values outside the reference range fall into the outer bins.

:func:`bin_shares` and :func:`category_shares` are the primitives drift evaluation reuses on the
current data; both are single-pass numpy/pandas operations.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PROFILE_SCHEMA_VERSION = 1
#: Older schema versions :func:`load_profile` can still read (none yet: version 1 is the first).
SUPPORTED_SCHEMA_VERSIONS: frozenset[int] = frozenset({PROFILE_SCHEMA_VERSION})
#: Category under which rare reference categories and, later, unseen current categories are counted.
OTHER = "__other__"
MAX_CATEGORIES = 50
SKETCH_POINTS = 101
QUANTILES: dict[str, float] = {"p01": 0.01, "p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99}
PREDICTION = "prediction"

_NUMERIC_KEYS = ("bin_edges", "bin_shares", "null_share", "count", "mean", "std", "min", "max", "quantiles", "sketch")
_CATEGORICAL_KEYS = ("frequencies", "null_share", "count", "cardinality")
_TOP_KEYS = ("rows", "created_at", "model", "data_digest", "features", "prediction")
# Shares are rounded only by float arithmetic, so anything beyond this is a corrupted profile.
_SHARE_TOLERANCE = 1e-6
# Up to this many edges bin_counts compares against each edge instead of calling searchsorted.
_COMPARE_MAX_EDGES = 64


class ProfileError(ValueError):
    """The data given to :func:`build_profile` cannot be profiled; the message names the feature."""


class ProfileSchemaError(ProfileError):
    """A stored profile is malformed or has a schema version this modelops cannot read."""


# --------------------------------------------------------------------------- primitives


def _as_float_array(values: np.ndarray | pd.Series | Sequence[float]) -> np.ndarray:
    if isinstance(values, pd.Series):
        # Nullable dtypes (Float64, Int64) hold pd.NA, which a plain float conversion rejects.
        return values.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(values, dtype=float)


def bin_counts(values: np.ndarray | pd.Series | Sequence[float], bin_edges: Sequence[float]) -> np.ndarray:
    """Count non-null ``values`` per bin (see the module docstring for the bin convention).

    :param values: numbers; NaN and ``None`` are skipped.
    :param bin_edges: the strictly increasing inner cut points ``e1..ek``.
    :returns: ``k + 1`` integer counts.
    :raises ValueError: if the edges are not strictly increasing.
    """
    edges = np.asarray(bin_edges, dtype=float)
    if edges.ndim != 1 or (edges.size > 1 and not np.all(np.diff(edges) > 0)):
        raise ValueError(f"bin_edges must be a strictly increasing 1-D sequence, got {list(edges)}")
    data = _as_float_array(values).ravel()
    nulls = np.isnan(data)
    if nulls.any():
        data = data[~nulls]
    if edges.size <= _COMPARE_MAX_EDGES:
        # count(x <= e_i) per edge is a vectorised comparison: ~10x faster than searchsorted's
        # branchy binary search on unsorted data while there are few edges (the usual 9).
        at_or_below = [np.count_nonzero(data <= edge) for edge in edges]
        return np.diff(np.array([0, *at_or_below, data.size], dtype=np.int64))
    # side="left" puts x == e_i into bin i-1, i.e. right-closed bins (e_(i-1), e_i].
    index = np.searchsorted(edges, data, side="left")
    return np.bincount(index, minlength=edges.size + 1)


def bin_shares(values: np.ndarray | pd.Series | Sequence[float], bin_edges: Sequence[float]) -> np.ndarray:
    """The share of non-null ``values`` in each bin; sums to 1, or is all zeros if every value is null.

    :param values: numbers; NaN and ``None`` are skipped.
    :param bin_edges: the strictly increasing inner cut points ``e1..ek`` (a profile's ``bin_edges``).
    :returns: ``k + 1`` shares, in bin order.
    :raises ValueError: if the edges are not strictly increasing.
    """
    counts = bin_counts(values, bin_edges)
    total = counts.sum()
    return counts / total if total else np.zeros(counts.size)


class CategoryShares(dict[str, float]):
    """Shares per category (a plain dict, so it serialises as-is) plus what fell into :data:`OTHER`.

    :ivar unseen: ``{value: count}`` of non-null values not among the given categories.
    :ivar count: number of non-null values.
    """

    def __init__(self, shares: Mapping[str, float], unseen: Mapping[str, int], count: int) -> None:
        super().__init__(shares)
        self.unseen: dict[str, int] = dict(unseen)
        self.count = count


def _string_counts(values: np.ndarray | pd.Series | Sequence[Any]) -> pd.Series:
    """Non-null value counts keyed by ``str(value)``, largest first, ties by name (deterministic)."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    # Counting before converting to str keeps the str() calls to one per distinct value.
    counts = series.value_counts(dropna=True)
    # A categorical dtype also lists its unused categories, with count 0.
    counts = counts[counts > 0]
    counts.index = pd.Index([str(k) for k in counts.index], dtype=object)
    counts = counts.groupby(level=0).sum()
    frame = pd.DataFrame({"name": counts.index, "n": counts.to_numpy()})
    frame = frame.sort_values(["n", "name"], ascending=[False, True], kind="stable")
    return pd.Series(frame["n"].to_numpy(dtype=np.int64), index=frame["name"].to_numpy())


def category_shares(values: np.ndarray | pd.Series | Sequence[Any], categories: Iterable[str]) -> CategoryShares:
    """The share of non-null ``values`` per category, values outside ``categories`` counted as :data:`OTHER`.

    The keys are ``categories`` (in order) then :data:`OTHER`, so passing a profile's
    ``frequencies`` gives a result with exactly the profile's keys. A profile lumps its rare
    categories into :data:`OTHER`, so ``unseen`` also lists values that were rare in the reference.

    :param values: category values; nulls are skipped, other values compared as ``str(value)``.
    :param categories: the known categories; :data:`OTHER` in it is ignored.
    :returns: a :class:`CategoryShares` summing to 1 (all zeros if every value is null), whose
        ``unseen`` attribute reports the values counted as :data:`OTHER`.
    """
    known = [c for c in dict.fromkeys(categories) if c != OTHER]
    counts = _string_counts(values)
    total = int(counts.sum())
    unseen_mask = ~counts.index.isin(known)
    unseen = {str(k): int(v) for k, v in counts[unseen_mask].items()}
    other = sum(unseen.values())
    denominator = total or 1
    shares = {c: int(counts.get(c, 0)) / denominator for c in known}
    shares[OTHER] = other / denominator
    return CategoryShares(shares, unseen, total)


# --------------------------------------------------------------------------- building


def quantile_edges(values: np.ndarray, bins: int) -> list[float]:
    """Inner cut points for ``bins`` equal-frequency bins of non-null ``values``.

    Edges are reference values (``inverted_cdf`` quantiles), deduplicated and kept only below the
    maximum, so a discrete feature gets fewer bins and no bin is empty on the reference.

    :param values: finite, non-null numbers (at least one).
    :param bins: the number of bins wanted (at least 2).
    """
    cuts = np.quantile(values, np.linspace(0.0, 1.0, bins + 1)[1:-1], method="inverted_cdf")
    unique = np.unique(cuts)
    return [float(e) for e in unique[unique < values.max()]]


def _numeric_values(name: str, column: pd.Series | np.ndarray) -> np.ndarray:
    try:
        data = _as_float_array(column if isinstance(column, pd.Series) else np.asarray(column))
    except (TypeError, ValueError) as exc:
        dtype = getattr(column, "dtype", type(column).__name__)
        raise ProfileError(f"numeric feature {name!r} is not numeric (dtype {dtype}): {exc}") from exc
    if data.ndim != 1:
        raise ProfileError(f"{name!r} must be one-dimensional, got shape {data.shape}")
    if np.isinf(data).any():
        # inf breaks the mean, the std and JSON; a reference with inf is a data-quality failure.
        raise ProfileError(f"numeric feature {name!r} has infinite values")
    return data


def numeric_profile(name: str, column: pd.Series | np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Profile one numeric column (see the module docstring for the bins).

    :param name: the feature's name, for error messages.
    :param column: the values; NaN/None count as nulls.
    :param bins: number of quantile bins wanted; discrete values may give fewer.
    :raises ProfileError: if the column is not numeric, holds infinities or has no non-null value.
    """
    data = _numeric_values(name, column)
    nulls = np.isnan(data)
    values = data[~nulls]
    if values.size == 0:
        raise ProfileError(f"numeric feature {name!r} has no non-null values")
    edges = quantile_edges(values, bins)
    quantiles = np.quantile(values, list(QUANTILES.values()))
    return {
        "kind": "numeric",
        "bin_edges": edges,
        "bin_shares": [float(s) for s in bin_shares(values, edges)],
        "null_share": float(nulls.mean()),
        "count": int(values.size),
        "mean": float(values.mean()),
        # Population std (ddof=0) stays defined for a single value; JSON cannot hold NaN.
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "quantiles": {key: float(q) for key, q in zip(QUANTILES, quantiles, strict=True)},
        "sketch": [float(v) for v in np.quantile(values, np.linspace(0.0, 1.0, SKETCH_POINTS))],
    }


def categorical_profile(name: str, column: pd.Series, max_categories: int = MAX_CATEGORIES) -> dict[str, Any]:
    """Profile one categorical column: shares of the top ``max_categories`` values, the rest as :data:`OTHER`.

    :param name: the feature's name, for error messages.
    :param column: the values; nulls are counted in ``null_share``, others compared as ``str(value)``.
    :param max_categories: how many categories keep their own share.
    :raises ProfileError: if the column has no non-null value or holds the reserved :data:`OTHER`.
    """
    counts = _string_counts(column)
    total = int(counts.sum())
    if total == 0:
        raise ProfileError(f"categorical feature {name!r} has no non-null values")
    if OTHER in counts.index:
        raise ProfileError(f"categorical feature {name!r} holds the reserved value {OTHER!r}")
    top = counts.iloc[:max_categories]
    frequencies = {str(k): int(v) / total for k, v in top.items()}
    frequencies[OTHER] = int(counts.iloc[max_categories:].sum()) / total
    return {
        "kind": "categorical",
        "frequencies": frequencies,
        "null_share": float(1.0 - total / len(column)),
        "count": total,
        "cardinality": len(counts),
    }


def _check_inputs(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str], bins: int) -> None:
    if len(frame) == 0:
        raise ProfileError("cannot profile an empty frame")
    if bins < 2:
        raise ProfileError(f"bins must be >= 2, got {bins}")
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise ProfileError(f"features listed as both numeric and categorical: {both}")
    missing = [name for name in (*numeric, *categorical) if name not in frame.columns]
    if missing:
        raise ProfileError(f"feature(s) missing from the frame: {missing}")


def _prediction_profile(prediction: np.ndarray | pd.Series, rows: int, bins: int) -> dict[str, Any]:
    values = prediction.to_numpy() if isinstance(prediction, pd.Series) else np.asarray(prediction)
    if values.ndim != 1:
        raise ProfileError(f"prediction must be 1-D probabilities (e.g. predict_proba(X)[:, 1]), got shape {values.shape}")
    if len(values) != rows:
        raise ProfileError(f"prediction has {len(values)} values but the frame has {rows} rows")
    return numeric_profile(PREDICTION, values, bins)


def build_profile(
    frame: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    prediction: np.ndarray | pd.Series | None = None,
    bins: int = 10,
    model_name: str = "",
    model_version: str = "",
    data_digest: str = "",
    max_categories: int = MAX_CATEGORIES,
) -> dict[str, Any]:
    """Profile the training (reference) data, JSON-ready.

    :param frame: the reference rows.
    :param numeric: numeric feature columns.
    :param categorical: categorical feature columns.
    :param prediction: the model's predicted probability per row of ``frame``, profiled like a
        numeric feature so prediction drift can be measured without labels.
    :param bins: quantile bins per numeric feature (fewer where values repeat).
    :param model_name: the registered model the profile belongs to.
    :param model_version: its version (may be empty before registration).
    :param data_digest: digest of the training data, to tie the profile to it.
    :param max_categories: categories kept per categorical feature; the rest become :data:`OTHER`.
    :returns: ``{"schema_version", "created_at", "rows", "model": {"name", "version"}, "data_digest",
        "features": {name: {...}}, "prediction": {...} | None}``.
    :raises ProfileError: on an empty frame, a missing feature or a feature that cannot be profiled;
        the message names the feature.
    """
    _check_inputs(frame, numeric, categorical, bins)
    features: dict[str, dict[str, Any]] = {}
    for name in numeric:
        features[name] = numeric_profile(name, frame[name], bins)
    for name in categorical:
        features[name] = categorical_profile(name, frame[name], max_categories)
    return {
        "schema_version": PROFILE_SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "rows": len(frame),
        "model": {"name": model_name, "version": model_version},
        "data_digest": data_digest,
        "features": features,
        "prediction": None if prediction is None else _prediction_profile(prediction, len(frame), bins),
    }


# --------------------------------------------------------------------------- validation


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number_list(where: str, key: str, value: object) -> list[float]:
    if not isinstance(value, list) or not all(_is_number(v) for v in value):
        raise ProfileSchemaError(f"{where}: {key!r} must be a list of finite numbers")
    return value


def _check_shares(where: str, key: str, shares: Sequence[float]) -> None:
    if any(s < 0 for s in shares):
        raise ProfileSchemaError(f"{where}: {key!r} has negative shares")
    total = math.fsum(shares)
    if abs(total - 1.0) > _SHARE_TOLERANCE:
        raise ProfileSchemaError(f"{where}: {key!r} sum to {total:.6g}, expected 1")


def _require_keys(where: str, spec: Mapping[str, Any], keys: Sequence[str]) -> None:
    missing = [key for key in keys if key not in spec]
    if missing:
        raise ProfileSchemaError(f"{where}: missing key(s) {missing}")


def _validate_numeric(where: str, spec: Mapping[str, Any]) -> None:
    _require_keys(where, spec, _NUMERIC_KEYS)
    edges = _number_list(where, "bin_edges", spec["bin_edges"])
    shares = _number_list(where, "bin_shares", spec["bin_shares"])
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ProfileSchemaError(f"{where}: 'bin_edges' must be strictly increasing")
    if len(shares) != len(edges) + 1:
        raise ProfileSchemaError(f"{where}: {len(edges)} bin_edges need {len(edges) + 1} bin_shares, got {len(shares)}")
    _check_shares(where, "bin_shares", shares)
    sketch = _number_list(where, "sketch", spec["sketch"])
    if len(sketch) < 2 or any(b < a for a, b in itertools.pairwise(sketch)):
        raise ProfileSchemaError(f"{where}: 'sketch' must hold at least 2 non-decreasing values")
    quantiles = spec["quantiles"]
    if not isinstance(quantiles, Mapping) or not all(_is_number(quantiles.get(k)) for k in QUANTILES):
        raise ProfileSchemaError(f"{where}: 'quantiles' must map {list(QUANTILES)} to numbers")
    for key in ("null_share", "count", "mean", "std", "min", "max"):
        if not _is_number(spec[key]):
            raise ProfileSchemaError(f"{where}: {key!r} must be a finite number, got {spec[key]!r}")


def _validate_categorical(where: str, spec: Mapping[str, Any]) -> None:
    _require_keys(where, spec, _CATEGORICAL_KEYS)
    frequencies = spec["frequencies"]
    if not isinstance(frequencies, Mapping) or not all(_is_number(v) for v in frequencies.values()):
        raise ProfileSchemaError(f"{where}: 'frequencies' must map categories to numbers")
    _check_shares(where, "frequencies", list(frequencies.values()))
    for key in ("null_share", "count", "cardinality"):
        if not _is_number(spec[key]):
            raise ProfileSchemaError(f"{where}: {key!r} must be a finite number, got {spec[key]!r}")


def _validate_feature(where: str, spec: object) -> None:
    if not isinstance(spec, Mapping):
        raise ProfileSchemaError(f"{where}: must be an object, got {type(spec).__name__}")
    kind = spec.get("kind")
    if kind == "numeric":
        _validate_numeric(where, spec)
    elif kind == "categorical":
        _validate_categorical(where, spec)
    else:
        raise ProfileSchemaError(f"{where}: unknown kind {kind!r}; expected 'numeric' or 'categorical'")


def _check_version(profile: Mapping[str, Any]) -> None:
    if "schema_version" not in profile:
        raise ProfileSchemaError("profile has no 'schema_version'; it was not written by modelops.profile")
    version = profile["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProfileSchemaError(f"profile schema_version must be an integer, got {version!r}")
    if version > PROFILE_SCHEMA_VERSION:
        raise ProfileSchemaError(
            f"profile schema version {version} is newer than this modelops supports ({PROFILE_SCHEMA_VERSION}); "
            "upgrade modelops"
        )
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise ProfileSchemaError(
            f"profile schema version {version} is unknown; this modelops reads versions {sorted(SUPPORTED_SCHEMA_VERSIONS)}"
        )


def validate_profile(profile: object) -> dict[str, Any]:
    """Check that ``profile`` is a profile this modelops can read, and return it.

    :raises ProfileSchemaError: on a missing, mistyped, future or unknown ``schema_version``, missing
        keys, or shares that do not sum to 1; the message says where.
    """
    if not isinstance(profile, dict):
        raise ProfileSchemaError(f"a profile must be a JSON object, got {type(profile).__name__}")
    _check_version(profile)
    _require_keys("profile", profile, _TOP_KEYS)
    features = profile["features"]
    if not isinstance(features, dict):
        raise ProfileSchemaError(f"profile: 'features' must be an object, got {type(features).__name__}")
    for name, spec in features.items():
        _validate_feature(f"profile feature {name!r}", spec)
    if profile["prediction"] is not None:
        _validate_feature("profile prediction", profile["prediction"])
        if profile["prediction"]["kind"] != "numeric":
            raise ProfileSchemaError("profile prediction: kind must be 'numeric'")
    return profile


def save_profile(profile: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Validate ``profile`` and write it as JSON, atomically (a reader never sees half a file).

    :param profile: a profile from :func:`build_profile`.
    :param path: the target file; parent directories are created.
    :returns: the written path.
    :raises ProfileSchemaError: if the profile is invalid.
    """
    validate_profile(dict(profile))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(profile, indent=2, allow_nan=False)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def load_profile(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Read and validate a profile from a JSON file or an already-parsed mapping.

    :param source: a path to a file written by :func:`save_profile`, or the profile dict itself
        (e.g. pulled from XCom or an MLflow artifact); a mapping is deep-copied.
    :raises FileNotFoundError: if the path does not exist.
    :raises ProfileSchemaError: if the content is not JSON or not a readable profile.
    """
    if isinstance(source, Mapping):
        return validate_profile(copy.deepcopy(dict(source)))
    path = Path(source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProfileSchemaError(f"{path} is not a JSON profile: {exc}") from exc
    return validate_profile(data)
