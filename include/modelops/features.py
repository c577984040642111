"""Reusable Spark processors: the transformations between the quality gate and the model.

A processor is a small frozen object with ``apply(df) -> ProcessorResult``; a pipeline of them is run by
:func:`apply_processors`. Five kinds cover most ETL steps before scoring::

    Cast("tenure_months", "int")                                      change a column's type
    Impute(("discount_pct",), strategy="median")                      fill nulls (constant, mean or median)
    Derive("charges_per_tenure", "total_charges / greatest(tenure_months, 1)")   a new column from SQL
    LookupJoin("/lake/ref/regions.parquet", on="region", columns=("region_manager",))   enrich from a table
    Filter("plan_tier != 'internal'", reason="internal test account")             keep rows, set the rest aside

A filter never loses rows: the rows it removes come back from :func:`apply_processors` with the reason, and
the scoring job stores them next to the quarantine. A lookup join never multiplies rows: a lookup table whose
key repeats is an error, and keys it lacks give nulls (a left join).

Suites declare their steps in YAML (``processors:`` in ``modelops/suites/<source>.yaml``), one single-key
mapping per step; :func:`processors_from_spec` turns them into processors and names the bad step on error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from modelops.quality.errors import SuiteError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from modelops.quality.suite import Suite

#: Columns of the rows a filter set aside (next to the row's own columns).
DROP_REASONS = "quarantine_reasons"
DROP_RULES = "quarantine_rules"
CAST_TYPES = ("double", "float", "int", "bigint", "string", "boolean", "date", "timestamp")
IMPUTE_STRATEGIES = ("constant", "mean", "median")


class ProcessorError(ValueError):
    """A processor cannot run on this DataFrame (missing column, bad expression, repeated lookup keys)."""


@dataclass(frozen=True)
class ProcessorResult:
    """What one processor produced: the rows that go on, and the rows it set aside (filters only)."""

    df: DataFrame
    dropped: DataFrame | None = None


class Processor(Protocol):
    """One transformation step."""

    @property
    def name(self) -> str: ...

    def apply(self, df: DataFrame) -> ProcessorResult: ...


def _require(df: DataFrame, columns: Sequence[str], step: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ProcessorError(f"{step}: column(s) {missing} not in the data (columns: {df.columns})")


def _analysis_error(step: str, exc: Exception) -> ProcessorError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ProcessorError(f"{step}: {first}")


@dataclass(frozen=True)
class Cast:
    """Cast ``column`` to ``to`` (a Spark SQL type name). Values that do not convert become null."""

    column: str
    to: str

    @property
    def name(self) -> str:
        return f"cast({self.column} -> {self.to})"

    def apply(self, df: DataFrame) -> ProcessorResult:
        from pyspark.sql import functions as F

        _require(df, [self.column], self.name)
        return ProcessorResult(df.withColumn(self.column, F.col(self.column).try_cast(self.to)))


@dataclass(frozen=True)
class Impute:
    """Fill nulls (and NaN) of numeric ``columns`` with a constant or the batch's mean or median."""

    columns: tuple[str, ...]
    strategy: str = "median"
    value: float | None = None

    @property
    def name(self) -> str:
        return f"impute({', '.join(self.columns)}: {self.strategy})"

    def fill_values(self, df: DataFrame) -> dict[str, float]:
        """The value each column's nulls get (one Spark job for mean/median over all columns)."""
        from pyspark.sql import functions as F

        if self.strategy == "constant":
            return {c: float(self.value) for c in self.columns}  # type: ignore[arg-type]
        clean = [F.when(~F.isnan(F.col(c)), F.col(c)) for c in self.columns]
        if self.strategy == "mean":
            aggs = [F.mean(col).alias(c) for c, col in zip(self.columns, clean, strict=True)]
        else:
            aggs = [F.percentile_approx(col, 0.5, 10_000).alias(c) for c, col in zip(self.columns, clean, strict=True)]
        row = df.agg(*aggs).collect()[0].asDict()
        empty = [c for c, v in row.items() if v is None]
        if empty:
            raise ProcessorError(f"{self.name}: column(s) {empty} have no values to take a {self.strategy} from")
        return {c: float(v) for c, v in row.items()}

    def apply(self, df: DataFrame) -> ProcessorResult:
        from pyspark.sql import functions as F

        _require(df, self.columns, self.name)
        fills = self.fill_values(df)
        filled = [
            F.when(F.col(c).isNull() | F.isnan(F.col(c)), F.lit(fills[c])).otherwise(F.col(c)).alias(c)
            if c in fills else F.col(c)
            for c in df.columns
        ]
        return ProcessorResult(df.select(*filled))


@dataclass(frozen=True)
class Derive:
    """Add (or replace) ``column`` computed by a Spark SQL ``expression`` over the row."""

    column: str
    expression: str

    @property
    def name(self) -> str:
        return f"derive({self.column} = {self.expression})"

    def apply(self, df: DataFrame) -> ProcessorResult:
        from pyspark.errors import AnalysisException, ParseException
        from pyspark.sql import functions as F

        try:
            out = df.withColumn(self.column, F.expr(self.expression))
            out.schema  # noqa: B018 — resolves the expression now, so a typo fails here, naming the step
        except (AnalysisException, ParseException) as exc:
            raise _analysis_error(self.name, exc) from exc
        return ProcessorResult(out)


@dataclass(frozen=True)
class LookupJoin:
    """Left-join columns of a lookup table (parquet or CSV file/directory, or a DataFrame) on key columns.

    :param table: path of the lookup table, or a DataFrame.
    :param on: key column(s), present in both.
    :param columns: the lookup columns to add (default: all but the keys).
    """

    table: Any
    on: tuple[str, ...]
    columns: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        where = self.table if isinstance(self.table, str | Path) else "DataFrame"
        return f"lookup({where} on {', '.join(self.on)})"

    def _table(self, df: DataFrame) -> DataFrame:
        if not isinstance(self.table, str | Path):
            return self.table
        path = Path(self.table)
        if not path.exists():
            raise ProcessorError(f"{self.name}: lookup table {path} does not exist")
        reader = df.sparkSession.read
        csv = path.suffix == ".csv" or (path.is_dir() and any(path.glob("*.csv")))
        return reader.csv(str(path), header=True, inferSchema=True) if csv else reader.parquet(str(path))

    def apply(self, df: DataFrame) -> ProcessorResult:
        from pyspark.sql import functions as F

        _require(df, self.on, self.name)
        table = self._table(df)
        _require(table, self.on, f"{self.name} (lookup table)")
        wanted = list(self.columns) or [c for c in table.columns if c not in self.on]
        _require(table, wanted, f"{self.name} (lookup table)")
        clash = [c for c in wanted if c in df.columns]
        if clash:
            raise ProcessorError(f"{self.name}: lookup column(s) {clash} already exist in the data")
        table = table.select(*self.on, *wanted)
        repeated = table.groupBy(*self.on).count().where(F.col("count") > 1).limit(5).collect()
        if repeated:
            keys = [tuple(r[k] for k in self.on) for r in repeated]
            raise ProcessorError(f"{self.name}: lookup keys repeat (e.g. {keys}); a join would duplicate rows")
        return ProcessorResult(df.join(F.broadcast(table), on=list(self.on), how="left"))


@dataclass(frozen=True)
class Filter:
    """Keep the rows where ``condition`` (Spark SQL) is true; set the others aside with ``reason``.

    A row where the condition is null (it reads a null) is set aside too: only a definite "true" passes.
    """

    condition: str
    reason: str = ""

    @property
    def name(self) -> str:
        return f"filter({self.condition})"

    def apply(self, df: DataFrame) -> ProcessorResult:
        from pyspark.errors import AnalysisException, ParseException
        from pyspark.sql import functions as F

        try:
            keep = F.coalesce(F.expr(self.condition).cast("boolean"), F.lit(False))
            df.select(keep).schema  # noqa: B018 — resolve now: a typo fails here, naming the step
        except (AnalysisException, ParseException) as exc:
            raise _analysis_error(self.name, exc) from exc
        reason = self.reason or f"filtered out: not ({self.condition})"
        dropped = df.where(~keep).withColumn(DROP_REASONS, F.array(F.lit(reason))).withColumn(
            DROP_RULES, F.array(F.lit(f"filter:{self.condition}")))
        return ProcessorResult(df.where(keep), dropped)


@dataclass
class PipelineResult:
    """The transformed rows and every row a filter set aside (``None`` when no filter ran)."""

    df: DataFrame
    dropped: DataFrame | None = None
    steps: list[str] = field(default_factory=list)


def apply_processors(df: DataFrame, processors: Sequence[Processor]) -> PipelineResult:
    """Run ``processors`` in order. Rows set aside by filters keep the columns they had at that step.

    :raises ProcessorError: naming the step that cannot run.
    """
    dropped: list[DataFrame] = []
    steps = []
    for processor in processors:
        result = processor.apply(df)
        df = result.df
        steps.append(processor.name)
        if result.dropped is not None:
            dropped.append(result.dropped)
    return PipelineResult(df, _union_strings(dropped), steps)


def _union_strings(frames: list[DataFrame]) -> DataFrame | None:
    """Set-aside rows of several filters as one frame: data columns as strings, reasons as arrays."""
    from pyspark.sql import functions as F

    if not frames:
        return None
    as_text = [
        f.select(*[F.col(c) if c in (DROP_REASONS, DROP_RULES) else F.col(c).cast("string").alias(c) for c in f.columns])
        for f in frames
    ]
    out = as_text[0]
    for frame in as_text[1:]:
        out = out.unionByName(frame, allowMissingColumns=True)
    return out


# --------------------------------------------------------------------------- from suite YAML

def _step_args(kind: str, args: object, where: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(args, Mapping):
        raise SuiteError(f"{where}: {kind} expects a mapping of arguments, got {args!r}")
    unknown = sorted(set(args) - allowed)
    missing = sorted(required - set(args))
    if unknown or missing:
        raise SuiteError(f"{where}: {kind} has unknown argument(s) {unknown} / lacks {missing}; allowed: {sorted(allowed)}")
    return dict(args)


def _names(value: object, where: str) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not names or not all(isinstance(n, str) and n for n in names):
        raise SuiteError(f"{where}: expected a column name or a list of them, got {value!r}")
    return tuple(names)


def _build_cast(args: dict[str, Any], where: str) -> Processor:
    if args["to"] not in CAST_TYPES:
        raise SuiteError(f"{where}: cast to {args['to']!r}; expected one of {list(CAST_TYPES)}")
    return Cast(str(args["column"]), str(args["to"]))


def _build_impute(args: dict[str, Any], where: str) -> Processor:
    strategy = args.get("strategy", "median")
    if strategy not in IMPUTE_STRATEGIES:
        raise SuiteError(f"{where}: impute strategy {strategy!r}; expected one of {list(IMPUTE_STRATEGIES)}")
    value = args.get("value")
    if (strategy == "constant") != (value is not None) or (value is not None and not isinstance(value, int | float)):
        raise SuiteError(f"{where}: impute needs a numeric 'value' exactly when strategy is 'constant'")
    return Impute(_names(args["columns"], where), strategy, None if value is None else float(value))


def _build_lookup(args: dict[str, Any], where: str, base: Path | None) -> Processor:
    path = Path(str(args["path"]))
    if not path.is_absolute() and base is not None:
        path = base / path
    columns = _names(args["columns"], where) if "columns" in args else ()
    return LookupJoin(str(path), _names(args["on"], where), columns)


_SPECS: dict[str, tuple[set[str], set[str]]] = {
    "cast": ({"column", "to"}, {"column", "to"}),
    "impute": ({"columns", "strategy", "value"}, {"columns"}),
    "derive": ({"column", "expression"}, {"column", "expression"}),
    "lookup": ({"path", "on", "columns"}, {"path", "on"}),
    "filter": ({"condition", "reason"}, {"condition"}),
}


def processors_from_spec(steps: Sequence[Mapping[str, Any]], *, where: str = "processors",
                         base: Path | None = None) -> list[Processor]:
    """Processors from their YAML form: ``[{derive: {column: c, expression: e}}, {filter: {...}}, ...]``.

    :param base: directory relative lookup paths are resolved against (the lake root).
    :raises SuiteError: naming the step (``processors[2]``) and what is wrong with it.
    """
    out: list[Processor] = []
    for i, step in enumerate(steps):
        at = f"{where}[{i}]"
        if not isinstance(step, Mapping) or len(step) != 1:
            raise SuiteError(f"{at}: expected a single-key mapping such as {{derive: {{...}}}}, got {step!r}")
        kind, raw = next(iter(step.items()))
        if kind not in _SPECS:
            raise SuiteError(f"{at}: unknown processor {kind!r}; expected one of {sorted(_SPECS)}")
        args = _step_args(kind, raw, at, *_SPECS[kind])
        if kind == "cast":
            out.append(_build_cast(args, at))
        elif kind == "impute":
            out.append(_build_impute(args, at))
        elif kind == "derive":
            out.append(Derive(str(args["column"]), str(args["expression"])))
        elif kind == "lookup":
            out.append(_build_lookup(args, at, base))
        else:
            out.append(Filter(str(args["condition"]), str(args.get("reason", ""))))
    return out


def default_processors(suite: Suite, *, lake_root: Path | None = None) -> list[Processor]:
    """The processors a suite declares (``processors:`` in its YAML file)."""
    where = f"{suite.path or suite.source}: processors"
    return processors_from_spec(suite.processors, where=where, base=lake_root)
