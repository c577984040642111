from __future__ import annotations

import pytest

from modelops.features import (
    DROP_REASONS,
    DROP_RULES,
    Cast,
    Derive,
    Filter,
    Impute,
    LookupJoin,
    ProcessorError,
    apply_processors,
    default_processors,
    processors_from_spec,
)
from modelops.quality import load_suite
from modelops.quality.errors import SuiteError


@pytest.fixture
def frame(spark):
    rows = [("C1", 10.0, 2.0, "north"), ("C2", None, 0.0, "south"), ("C3", 30.0, float("nan"), "west"),
            ("C4", 40.0, 5.0, None)]
    return spark.createDataFrame(rows, "id string, charges double, tickets double, region string")


def _rows(df, key: str = "id") -> dict:
    return {r[key]: r.asDict() for r in df.collect()}


def test_cast_turns_unconvertible_values_into_nulls(spark) -> None:
    df = spark.createDataFrame([("1",), ("x",)], "v string")
    out = apply_processors(df, [Cast("v", "int")]).df
    assert out.schema["v"].dataType.simpleString() == "int"
    assert sorted(r.v for r in out.collect() if r.v is not None) == [1]


@pytest.mark.parametrize(("strategy", "value", "expected"), [("constant", -1.0, -1.0), ("mean", None, 80 / 3),
                                                             ("median", None, 30.0)])
def test_impute_fills_nulls_and_nan(frame, strategy, value, expected) -> None:
    out = _rows(apply_processors(frame, [Impute(("charges",), strategy, value)]).df)
    assert out["C2"]["charges"] == pytest.approx(expected)
    assert out["C1"]["charges"] == 10.0  # present values untouched


def test_impute_median_ignores_nan(frame) -> None:
    out = _rows(apply_processors(frame, [Impute(("tickets",), "median")]).df)
    assert out["C3"]["tickets"] == 2.0  # median of 2, 0, 5 — NaN is a missing value, not a number


def test_derive_and_filter_keep_every_row_somewhere(frame) -> None:
    steps = [Derive("per_ticket", "charges / greatest(tickets, 1)"), Filter("region is not null", reason="no region")]
    result = apply_processors(frame, steps)
    kept, dropped = _rows(result.df), _rows(result.dropped)
    assert set(kept) == {"C1", "C2", "C3"} and set(dropped) == {"C4"}
    assert kept["C1"]["per_ticket"] == 5.0
    assert dropped["C4"][DROP_REASONS] == ["no region"] and dropped["C4"][DROP_RULES] == ["filter:region is not null"]
    assert dropped["C4"]["charges"] == "40.0"  # set-aside rows are stored as text
    assert result.steps == [s.name for s in steps]


def test_bad_expression_names_the_step(frame) -> None:
    with pytest.raises(ProcessorError, match=r"derive\(x = no_such_col \+ 1\)"):
        apply_processors(frame, [Derive("x", "no_such_col + 1")])
    with pytest.raises(ProcessorError, match=r"filter\(region ===\)"):
        apply_processors(frame, [Filter("region ===")])


def test_lookup_join_enriches_without_multiplying_rows(spark, frame, tmp_path) -> None:
    path = tmp_path / "regions.parquet"
    spark.createDataFrame([("north", "Ann"), ("south", "Bo")], "region string, manager string").write.parquet(str(path))
    out = _rows(apply_processors(frame, [LookupJoin(str(path), ("region",))]).df)
    assert len(out) == 4
    assert out["C1"]["manager"] == "Ann" and out["C3"]["manager"] is None  # missing key -> null, row kept


def test_lookup_with_repeated_keys_is_an_error(spark, frame) -> None:
    table = spark.createDataFrame([("north", "Ann"), ("north", "Cy")], "region string, manager string")
    with pytest.raises(ProcessorError, match="lookup keys repeat"):
        apply_processors(frame, [LookupJoin(table, ("region",))])


def test_lookup_missing_table_or_column(frame, tmp_path) -> None:
    with pytest.raises(ProcessorError, match="does not exist"):
        apply_processors(frame, [LookupJoin(str(tmp_path / "nope.parquet"), ("region",))])
    with pytest.raises(ProcessorError, match=r"\['plan'\] not in the data"):
        apply_processors(frame, [LookupJoin(str(tmp_path), ("plan",))])


def test_spec_builds_each_kind(tmp_path) -> None:
    spec = [{"cast": {"column": "a", "to": "int"}}, {"impute": {"columns": ["a", "b"], "strategy": "mean"}},
            {"derive": {"column": "c", "expression": "a + b"}}, {"lookup": {"path": "ref/r.parquet", "on": "k"}},
            {"filter": {"condition": "a > 0", "reason": "non-positive"}}]
    built = processors_from_spec(spec, base=tmp_path)
    assert [type(p).__name__ for p in built] == ["Cast", "Impute", "Derive", "LookupJoin", "Filter"]
    assert built[3].table == str(tmp_path / "ref" / "r.parquet")


@pytest.mark.parametrize(("spec", "message"), [
    ([{"explode": {}}], r"processors\[0\]: unknown processor 'explode'"),
    ([{"cast": {"column": "a", "to": "decimal"}}], r"cast to 'decimal'"),
    ([{"derive": {"column": "a"}}], r"lacks \['expression'\]"),
    ([{"impute": {"columns": "a", "strategy": "constant"}}], "needs a numeric 'value'"),
    ([{"derive": {"column": "a", "expression": "1"}, "filter": {"condition": "x"}}], "single-key mapping"),
])
def test_bad_spec_names_the_step(spec, message) -> None:
    with pytest.raises(SuiteError, match=message):
        processors_from_spec(spec)


def test_customers_suite_processors() -> None:
    names = [p.name for p in default_processors(load_suite("customers"))]
    assert names == ["derive(charges_per_tenure = total_charges / greatest(tenure_months, 1))",
                     "derive(tickets_per_login = num_support_tickets / greatest(logins_30d, 1))"]
