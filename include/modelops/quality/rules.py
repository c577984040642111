"""Row-level quarantine: split a landing batch into rows that satisfy the suite's row rules and rows that don't.

Every rule is a Spark column expression (no Python UDF), evaluated in one projection; duplicate ids add one
window. Each row gets an array of ``{rule, reason}`` structs; an empty array means good. ``good`` and
``bad`` are the two sides of that one predicate, so they are disjoint and together hold every input row.

Reasons (``quarantine_reasons``, human-readable, one per broken rule, in suite column order)::

    customer_id null
    discount_pct '12.5%' is not a double
    age=250.0 out of range [18, 95]
    satisfaction_score=6.5 is not a whole number
    payment_method 'crypto' not in allowed categories
    duplicate customer_id 'C0000001' (first seen at 2024-01-01 03:00:00.000000)
    malformed CSV record (wrong number of fields): "C1",2024-01-01,...

Rule codes (``quarantine_rules``, aligned with the reasons, for counting): ``<column>:null``,
``<column>:type``, ``<column>:range``, ``<column>:integral``, ``<column>:category``,
``<entity_id>:duplicate``, ``_record:malformed``.

Duplicates: among the rows that pass every other rule, the earliest per id (by the timestamp column; ties
broken by the row's content, so the choice is deterministic across recomputations) is kept and later ones
are quarantined. Rows that break another rule are quarantined for that and do not take part, so the kept
row of an id is always a valid one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from modelops.quality.landing import CORRUPT_RECORD
from modelops.quality.suite import ColumnRule, Suite

REASONS = "quarantine_reasons"
RULES = "quarantine_rules"
_CHECKS = "__quarantine_checks"
_TYPED = "__typed_{}"
_SHOWN_CHARS = 60


def _col(name: str) -> Column:
    # Backticks: landing column names are data, and may hold dots or spaces.
    return F.col("`" + name.replace("`", "``") + "`")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _shown(value: Column) -> Column:
    text = value.cast("string")
    return F.when(F.length(text) > _SHOWN_CHARS, F.concat(F.substring(text, 1, _SHOWN_CHARS - 3), F.lit("..."))).otherwise(text)


def _check(condition: Column, rule: str, reason: Column) -> Column:
    return F.when(condition, F.struct(F.lit(rule).alias("rule"), reason.alias("reason")))


@dataclass(frozen=True)
class _Column:
    """One suite column in a batch: its raw value (as landed) and its value cast to the suite's type."""

    rule: ColumnRule
    raw: Column
    typed: Column


def _bind(df: DataFrame, rule: ColumnRule) -> _Column:
    if rule.name not in df.columns:  # an optional column the batch lacks
        return _Column(rule, F.lit(None).cast("string"), F.lit(None).cast(rule.spark_type))
    raw = _col(rule.name)
    is_string = dict(df.dtypes)[rule.name] == "string"
    # try_cast: under ANSI mode a plain cast of "12.5%" fails the whole job instead of yielding null.
    typed = raw.try_cast(rule.spark_type) if is_string and rule.type != "string" else raw.cast(rule.spark_type)
    return _Column(rule, raw, typed)


def _range_check(col: _Column) -> Column | None:
    lo, hi = col.rule.min, col.rule.max
    if lo is None and hi is None:
        return None
    # NaN compares above every number in Spark, but say it explicitly: a NaN is never in range.
    bad = F.isnan(col.typed)
    bad = bad | (col.typed < F.lit(lo)) if lo is not None else bad
    bad = bad | (col.typed > F.lit(hi)) if hi is not None else bad
    bounds = f"[{_number(lo) if lo is not None else '-inf'}, {_number(hi) if hi is not None else 'inf'}]"
    reason = F.concat(F.lit(f"{col.rule.name}="), col.typed.cast("string"), F.lit(f" out of range {bounds}"))
    return _check(col.typed.isNotNull() & bad, f"{col.rule.name}:range", reason)


def _integral_check(col: _Column) -> Column | None:
    if not col.rule.integral:
        return None
    in_range = F.lit(True)
    if col.rule.min is not None:
        in_range = in_range & (col.typed >= F.lit(col.rule.min))
    if col.rule.max is not None:
        in_range = in_range & (col.typed <= F.lit(col.rule.max))
    # Only in-range values: an out-of-range value already has its reason.
    condition = col.typed.isNotNull() & in_range & (col.typed % 1 != 0)
    reason = F.concat(F.lit(f"{col.rule.name}="), col.typed.cast("string"), F.lit(" is not a whole number"))
    return _check(condition, f"{col.rule.name}:integral", reason)


def _category_check(col: _Column) -> Column | None:
    if not col.rule.categories or col.rule.unseen_categories == "allow":
        return None
    condition = col.typed.isNotNull() & ~col.typed.isin(list(col.rule.categories))
    reason = F.concat(F.lit(f"{col.rule.name} '"), _shown(col.typed), F.lit("' not in allowed categories"))
    return _check(condition, f"{col.rule.name}:category", reason)


def _column_checks(col: _Column) -> list[Column]:
    name = col.rule.name
    checks = []
    if col.rule.required:
        checks.append(_check(col.raw.isNull(), f"{name}:null", F.lit(f"{name} null")))
    type_reason = F.concat(F.lit(f"{name} '"), _shown(col.raw), F.lit(f"' is not a {col.rule.type}"))
    checks.append(_check(col.raw.isNotNull() & col.typed.isNull(), f"{name}:type", type_reason))
    optional = [_range_check(col), _integral_check(col), _category_check(col)]
    return checks + [c for c in optional if c is not None]


def _row_checks(df: DataFrame, columns: Sequence[_Column]) -> Column:
    checks = [check for col in columns for check in _column_checks(col)]
    if CORRUPT_RECORD in df.columns:
        reason = F.concat(F.lit("malformed CSV record (wrong number of fields): "), _shown(_col(CORRUPT_RECORD)))
        checks.append(_check(_col(CORRUPT_RECORD).isNotNull(), "_record:malformed", reason))
    return F.array_compact(F.array(*checks))


def _with_duplicates(annotated: DataFrame, suite: Suite, raw_columns: Sequence[str]) -> DataFrame:
    entity, ts = _col(_TYPED.format(suite.entity_id)), _col(_TYPED.format(suite.timestamp))
    valid = F.size(_col(_CHECKS)) == 0
    # Content as the tie-break: equal timestamps must pick the same row in every recomputation, or
    # good and bad (two separate Spark jobs) could disagree about which one was kept. One struct key, not
    # one key per column: each key would become an alias of a raw column, and Spark's constraint
    # propagation doubles its constraints per such alias (2^columns: the optimizer runs out of memory).
    content = F.struct(*[_col(c).cast("string") for c in raw_columns])
    window = Window.partitionBy(entity, valid).orderBy(ts, content)
    first_ts = F.date_format(F.first(ts).over(window), "yyyy-MM-dd HH:mm:ss.SSSSSS")
    reason = F.concat(F.lit(f"duplicate {suite.entity_id} '"), _shown(entity), F.lit("' (first seen at "), first_ts, F.lit(")"))
    duplicate = _check(valid & (F.row_number().over(window) > 1), f"{suite.entity_id}:duplicate", reason)
    return annotated.withColumn(_CHECKS, F.array_compact(F.concat(_col(_CHECKS), F.array(duplicate))))


def annotate(df: DataFrame, suite: Suite) -> DataFrame:
    """``df`` plus each suite column cast to its type (``__typed_<name>``) and the array of broken rules.

    The building block of :func:`quarantine`, public for callers that want both sides from one cached frame.
    """
    columns = [_bind(df, rule) for rule in suite.columns]
    raw_columns = list(df.columns)
    typed = [col.typed.alias(_TYPED.format(col.rule.name)) for col in columns]
    annotated = df.select(*[_col(c) for c in raw_columns], *typed, _row_checks(df, columns).alias(_CHECKS))
    if suite.duplicates == "quarantine_later":
        annotated = _with_duplicates(annotated, suite, raw_columns)
    return annotated


def split_annotated(annotated: DataFrame, suite: Suite, raw_columns: Sequence[str]) -> tuple[DataFrame, DataFrame]:
    """The good and bad sides of an :func:`annotate` result (see :func:`quarantine`)."""
    broken = F.size(_col(_CHECKS)) > 0
    good = annotated.where(~broken).select(*[_col(_TYPED.format(name)).alias(name) for name in suite.column_names])
    bad = annotated.where(broken).select(
        *[_col(c).cast("string").alias(c) for c in raw_columns],
        _col(_CHECKS).getField("reason").alias(REASONS),
        _col(_CHECKS).getField("rule").alias(RULES),
    )
    return good, bad


def quarantine(df: DataFrame, suite: Suite) -> tuple[DataFrame, DataFrame]:
    """Split a batch into ``(good, bad)`` by the suite's row rules.

    ``good`` has exactly the suite's columns, in suite order, cast to the suite's types (optional columns
    the batch lacks are null). ``bad`` has every column of ``df`` as a string (so it can be stored whatever
    went wrong with the types) plus :data:`REASONS` and :data:`RULES` (``array<string>``, aligned).
    ``good.count() + bad.count() == df.count()`` and no row is in both.

    Both are lazy and share one lineage: persist ``df`` first if it is expensive to recompute.
    Run :func:`modelops.quality.check_structure` (or ``read_landing(..., suite=...)``) first: this function
    assumes the required columns exist.
    """
    return split_annotated(annotate(df, suite), suite, list(df.columns))


def rule_counts(bad: DataFrame) -> dict[str, int]:
    """How many quarantined rows broke each rule (a row breaking two rules counts for both)."""
    rows = bad.select(F.explode(_col(RULES)).alias("rule")).groupBy("rule").count().collect()
    return {row["rule"]: int(row["count"]) for row in sorted(rows, key=lambda r: r["rule"])}
