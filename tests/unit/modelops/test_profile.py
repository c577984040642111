"""Tests for :mod:`modelops.profile`: the reference profile and the binning primitives drift reuses."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelops import datasets as D
from modelops import profile as P

DAY0 = dt.date(2024, 1, 1)
ROWS = 5_000
CONTINUOUS = ("monthly_charges", "total_charges", "avg_session_minutes", "data_usage_gb")


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return D.generate_day(0, DAY0, ROWS, scenario="baseline", seed=11)


@pytest.fixture(scope="module")
def profile(reference: pd.DataFrame) -> dict[str, Any]:
    prediction = D.true_churn_probability(reference)
    return P.build_profile(
        reference,
        numeric=D.NUMERIC_FEATURES,
        categorical=D.CATEGORICAL_FEATURES,
        prediction=prediction,
        model_name="churn",
        model_version="3",
        data_digest="sha256:abc",
    )


# --------------------------------------------------------------------------- build_profile


def test_profile_layout(profile: dict[str, Any], reference: pd.DataFrame) -> None:
    assert profile["schema_version"] == P.PROFILE_SCHEMA_VERSION == 1
    assert profile["rows"] == ROWS
    assert profile["model"] == {"name": "churn", "version": "3"}
    assert profile["data_digest"] == "sha256:abc"
    assert dt.datetime.fromisoformat(profile["created_at"]).tzinfo is not None
    assert set(profile["features"]) == set(D.FEATURES)
    age = profile["features"]["age"]
    assert age["kind"] == "numeric"
    assert set(age["quantiles"]) == {"p01", "p05", "p25", "p50", "p75", "p95", "p99"}
    assert age["count"] == ROWS and age["null_share"] == 0.0
    assert age["min"] == reference["age"].min() and age["max"] == reference["age"].max()
    assert age["mean"] == pytest.approx(reference["age"].mean())
    assert age["quantiles"]["p50"] == pytest.approx(reference["age"].median())
    assert len(age["sketch"]) == P.SKETCH_POINTS
    assert age["sketch"][0] == age["min"] and age["sketch"][-1] == age["max"]
    assert age["sketch"] == sorted(age["sketch"])
    assert profile["prediction"]["kind"] == "numeric"
    assert 0.0 <= profile["prediction"]["min"] <= profile["prediction"]["max"] <= 1.0
    # JSON-ready: strict JSON (no NaN/inf) and unchanged by a round trip.
    assert json.loads(json.dumps(profile, allow_nan=False)) == profile


@pytest.mark.parametrize("name", CONTINUOUS)
def test_continuous_feature_gets_equal_frequency_bins(profile: dict[str, Any], reference: pd.DataFrame, name: str) -> None:
    spec = profile["features"][name]
    assert len(spec["bin_edges"]) == 9
    assert spec["bin_edges"] == sorted(set(spec["bin_edges"]))
    assert sum(spec["bin_shares"]) == pytest.approx(1.0)
    assert spec["bin_shares"] == pytest.approx([0.1] * 10, abs=0.01)
    # The stored shares are exactly what the drift primitive computes on the reference.
    np.testing.assert_allclose(P.bin_shares(reference[name].to_numpy(), spec["bin_edges"]), spec["bin_shares"])


def test_discrete_feature_gets_deduplicated_edges(profile: dict[str, Any], reference: pd.DataFrame) -> None:
    spec = profile["features"]["num_support_tickets"]
    edges = spec["bin_edges"]
    assert 1 <= len(edges) < 9
    assert len(spec["bin_shares"]) == len(edges) + 1
    assert all(e < spec["max"] for e in edges)
    assert all(float(e).is_integer() for e in edges)  # edges are reference values
    assert sum(spec["bin_shares"]) == pytest.approx(1.0)
    assert min(spec["bin_shares"]) > 0  # no empty reference bin
    # Right-closed: the first bin is (-inf, e1], so it holds exactly the values <= e1.
    values = reference["num_support_tickets"]
    assert spec["bin_shares"][0] == pytest.approx((values <= edges[0]).mean())
    assert spec["bin_shares"][-1] == pytest.approx((values > edges[-1]).mean())


def test_every_profiled_bin_is_non_empty_and_sums_to_one(profile: dict[str, Any]) -> None:
    for name in D.NUMERIC_FEATURES:
        shares = profile["features"][name]["bin_shares"]
        assert sum(shares) == pytest.approx(1.0), name
        assert min(shares) > 0, name


def test_constant_feature_has_a_single_bin() -> None:
    frame = pd.DataFrame({"x": [5.0] * 20})
    spec = P.build_profile(frame, numeric=["x"], categorical=[])["features"]["x"]
    assert spec["bin_edges"] == [] and spec["bin_shares"] == [1.0]
    assert spec["std"] == 0.0


def test_shifted_data_has_different_shares(profile: dict[str, Any]) -> None:
    shifted = D.generate_day(9, DAY0 + dt.timedelta(days=9), ROWS, scenario="drift", seed=11)
    spec = profile["features"]["monthly_charges"]
    current = P.bin_shares(shifted["monthly_charges"].to_numpy(), spec["bin_edges"])
    assert current.sum() == pytest.approx(1.0)
    # A +1 sd shift empties the low bins and piles values into the top (open-ended) bin.
    assert current[0] < 0.03
    assert current[-1] > 0.2
    assert np.abs(current - spec["bin_shares"]).sum() > 0.5


def test_nulls_go_to_null_share() -> None:
    frame = D.generate_day(5, DAY0 + dt.timedelta(days=5), ROWS, scenario="drift", seed=11)
    prof = P.build_profile(frame, numeric=["avg_session_minutes"], categorical=["payment_method"])
    nulls = frame["avg_session_minutes"].isna()
    assert 0.2 < nulls.mean() < 0.4
    spec = prof["features"]["avg_session_minutes"]
    assert spec["null_share"] == pytest.approx(nulls.mean())
    assert spec["count"] == int((~nulls).sum())
    assert sum(spec["bin_shares"]) == pytest.approx(1.0)
    cat = prof["features"]["payment_method"]
    assert cat["null_share"] == pytest.approx(frame["payment_method"].isna().mean())
    assert sum(cat["frequencies"].values()) == pytest.approx(1.0)


def test_categorical_frequencies_match_value_counts(profile: dict[str, Any], reference: pd.DataFrame) -> None:
    for name in D.CATEGORICAL_FEATURES:
        spec = profile["features"][name]
        expected = reference[name].value_counts(normalize=True)
        assert spec["kind"] == "categorical"
        assert spec["cardinality"] == len(expected) == len(D.SCHEMA_BY_NAME[name].categories)
        assert spec["count"] == ROWS and spec["null_share"] == 0.0
        assert spec["frequencies"][P.OTHER] == 0.0
        for category, share in expected.items():
            assert spec["frequencies"][category] == pytest.approx(share)


def test_rare_categories_are_lumped_into_other() -> None:
    values = [f"c{i:03d}" for i in range(80) for _ in range(80 - i)]  # c000 most frequent
    frame = pd.DataFrame({"city": values})
    spec = P.build_profile(frame, numeric=[], categorical=["city"])["features"]["city"]
    assert spec["cardinality"] == 80
    assert len(spec["frequencies"]) == P.MAX_CATEGORIES + 1
    assert list(spec["frequencies"])[:2] == ["c000", "c001"]
    assert "c049" in spec["frequencies"] and "c050" not in spec["frequencies"]
    lumped = sum(80 - i for i in range(50, 80)) / len(values)
    assert spec["frequencies"][P.OTHER] == pytest.approx(lumped)
    assert sum(spec["frequencies"].values()) == pytest.approx(1.0)


# --------------------------------------------------------------------------- bad input


def test_empty_frame_raises() -> None:
    with pytest.raises(P.ProfileError, match="empty frame"):
        P.build_profile(pd.DataFrame({"age": []}), numeric=["age"], categorical=[])


def test_missing_feature_is_named(reference: pd.DataFrame) -> None:
    with pytest.raises(P.ProfileError, match="no_such_feature"):
        P.build_profile(reference, numeric=["age", "no_such_feature"], categorical=[])
    with pytest.raises(P.ProfileError, match="'plan'"):
        P.build_profile(reference, numeric=[], categorical=["plan"])


def test_all_null_numeric_feature_is_named() -> None:
    frame = pd.DataFrame({"age": [1.0, 2.0], "blank": [np.nan, np.nan]})
    with pytest.raises(P.ProfileError, match="'blank' has no non-null values"):
        P.build_profile(frame, numeric=["age", "blank"], categorical=[])


def test_non_numeric_and_infinite_values_are_named() -> None:
    broken = D.generate_day(12, DAY0 + dt.timedelta(days=12), 200, scenario="schema_break", seed=11)
    with pytest.raises(P.ProfileError, match="'discount_pct' is not numeric"):
        P.build_profile(broken, numeric=["discount_pct"], categorical=[])
    with pytest.raises(P.ProfileError, match="'x' has infinite values"):
        P.build_profile(pd.DataFrame({"x": [1.0, np.inf]}), numeric=["x"], categorical=[])


def test_prediction_shape_is_checked(reference: pd.DataFrame) -> None:
    with pytest.raises(P.ProfileError, match="predict_proba"):
        P.build_profile(reference, numeric=["age"], categorical=[], prediction=np.zeros((ROWS, 2)))
    with pytest.raises(P.ProfileError, match="3 values but the frame has"):
        P.build_profile(reference, numeric=["age"], categorical=[], prediction=np.zeros(3))


# --------------------------------------------------------------------------- primitives


def test_bin_convention_is_right_closed() -> None:
    edges = [1.0, 2.0, 3.0]
    values = np.array([-np.inf, 0.5, 1.0, 1.5, 2.0, 3.0, 3.5, np.inf, np.nan])
    # (-inf, 1] (1, 2] (2, 3] (3, inf)
    np.testing.assert_array_equal(P.bin_counts(values, edges), [3, 2, 1, 2])
    np.testing.assert_allclose(P.bin_shares(values, edges), [3 / 8, 2 / 8, 1 / 8, 2 / 8])
    assert P.bin_shares([np.nan, np.nan], edges).tolist() == [0.0, 0.0, 0.0, 0.0]
    assert P.bin_shares(pd.Series([1.0, None, 5.0], dtype="Float64"), edges).tolist() == [0.5, 0.0, 0.0, 0.5]


def test_bin_counts_fast_path_matches_searchsorted() -> None:
    rng = np.random.default_rng(0)
    values = np.round(rng.normal(size=100_000), 1)  # many ties on the edges
    for k in (1, 9, 64, 65, 200):
        edges = np.unique(np.round(np.quantile(values, np.linspace(0, 1, k + 2)[1:-1]), 1))
        expected = np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)
        np.testing.assert_array_equal(P.bin_counts(values, edges), expected)


def test_bin_edges_must_increase() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        P.bin_shares([1.0], [2.0, 1.0])


def test_bin_shares_on_a_million_values() -> None:
    values = np.random.default_rng(1).normal(size=1_000_000)
    values[::100] = np.nan
    edges = P.quantile_edges(values[~np.isnan(values)], 10)
    shares = P.bin_shares(values, edges)
    assert shares.sum() == pytest.approx(1.0)
    assert shares == pytest.approx([0.1] * 10, abs=1e-3)


def test_category_shares_counts_unseen_as_other(profile: dict[str, Any]) -> None:
    frame = D.generate_day(7, DAY0 + dt.timedelta(days=7), ROWS, scenario="drift", seed=11)
    reference_frequencies = profile["features"]["payment_method"]["frequencies"]
    shares = P.category_shares(frame["payment_method"], reference_frequencies)
    assert list(shares) == list(reference_frequencies)  # same keys, same order: ready for PSI / chi-square
    crypto = (frame["payment_method"] == "crypto").sum()
    assert crypto > 0
    assert shares.unseen == {"crypto": crypto}
    assert shares[P.OTHER] == pytest.approx(crypto / ROWS)
    assert shares.count == ROWS
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["bank_transfer"] == pytest.approx((frame["payment_method"] == "bank_transfer").mean())


def test_category_shares_skips_nulls_and_compares_as_strings() -> None:
    shares = P.category_shares(np.array(["a", None, 1, "b", np.nan, "a"], dtype=object), ["a", "1"])
    assert dict(shares) == {"a": 0.5, "1": 0.25, P.OTHER: 0.25}
    assert shares.unseen == {"b": 1} and shares.count == 4
    empty = P.category_shares([None, None], ["a"])
    assert dict(empty) == {"a": 0.0, P.OTHER: 0.0} and empty.count == 0


def test_category_shares_on_a_million_values() -> None:
    values = np.random.default_rng(2).choice(np.array(["x", "y", "z", "new"], dtype=object), size=1_000_000)
    shares = P.category_shares(pd.Series(values), ["x", "y", "z"])
    assert sum(shares.values()) == pytest.approx(1.0)
    assert set(shares.unseen) == {"new"}


# --------------------------------------------------------------------------- save / load


def test_save_load_round_trip(profile: dict[str, Any], tmp_path: Path) -> None:
    path = P.save_profile(profile, tmp_path / "nested" / "profile.json")
    assert path.exists()
    assert P.load_profile(path) == profile
    assert P.load_profile(str(path)) == profile
    assert P.load_profile(profile) == profile
    assert not list(path.parent.glob(".*tmp"))


def _with(profile: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(profile)), **changes}


def test_future_version_asks_for_upgrade(profile: dict[str, Any]) -> None:
    message = r"profile schema version 7 is newer than this modelops supports \(1\); upgrade modelops"
    with pytest.raises(P.ProfileSchemaError, match=message):
        P.load_profile(_with(profile, schema_version=7))


@pytest.mark.parametrize(
    ("version", "message"),
    [(0, "schema version 0 is unknown"), ("1", "must be an integer, got '1'"), (True, "must be an integer"), (1.0, "integer")],
)
def test_bad_versions(profile: dict[str, Any], version: object, message: str) -> None:
    with pytest.raises(P.ProfileSchemaError, match=message):
        P.load_profile(_with(profile, schema_version=version))


def test_missing_version(profile: dict[str, Any]) -> None:
    data = _with(profile)
    del data["schema_version"]
    with pytest.raises(P.ProfileSchemaError, match="no 'schema_version'"):
        P.load_profile(data)


def test_garbage_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("this is not json {")
    with pytest.raises(P.ProfileSchemaError, match="is not a JSON profile"):
        P.load_profile(garbage)
    garbage.write_text("[1, 2, 3]")
    with pytest.raises(P.ProfileSchemaError, match="must be a JSON object, got list"):
        P.load_profile(garbage)
    garbage.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(P.ProfileSchemaError, match="is not a JSON profile"):
        P.load_profile(garbage)
    with pytest.raises(FileNotFoundError):
        P.load_profile(tmp_path / "missing.json")


def _broken_feature(profile: dict[str, Any], name: str, **changes: Any) -> dict[str, Any]:
    data = _with(profile)
    data["features"][name].update(changes)
    return data


@pytest.mark.parametrize(
    ("name", "changes", "message"),
    [
        ("age", {"bin_shares": [0.5, 0.1]}, "9 bin_edges need 10 bin_shares, got 2"),
        ("age", {"bin_shares": [0.2] * 10}, "'bin_shares' sum to 2"),
        ("age", {"bin_edges": [3.0, 2.0, 1.0, 4, 5, 6, 7, 8, 9]}, "strictly increasing"),
        ("age", {"mean": None}, "'mean' must be a finite number"),
        ("age", {"quantiles": {"p50": 1.0}}, "'quantiles' must map"),
        ("age", {"sketch": [3.0, 1.0]}, "'sketch'"),
        ("age", {"kind": "text"}, "unknown kind 'text'"),
        ("region", {"frequencies": {"north": 0.5}}, "'frequencies' sum to 0.5"),
        ("region", {"cardinality": "5"}, "'cardinality' must be a finite number"),
    ],
)
def test_corrupted_features(profile: dict[str, Any], name: str, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(P.ProfileSchemaError, match=f"profile feature '{name}'.*{message}"):
        P.load_profile(_broken_feature(profile, name, **changes))


def test_missing_feature_keys(profile: dict[str, Any]) -> None:
    data = _with(profile)
    del data["features"]["age"]["bin_edges"]
    with pytest.raises(P.ProfileSchemaError, match=r"'age': missing key\(s\) \['bin_edges'\]"):
        P.load_profile(data)
    data = _with(profile)
    del data["features"]
    with pytest.raises(P.ProfileSchemaError, match="features"):
        P.load_profile(data)


def test_save_refuses_an_invalid_profile(profile: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(P.ProfileSchemaError):
        P.save_profile(_with(profile, schema_version=99), tmp_path / "p.json")
    assert not (tmp_path / "p.json").exists()
