"""One day's ETL-embedded scoring, end to end on one Spark session.

extract -> structure check -> Great Expectations gate -> row quarantine -> processors -> score champion
(and shadow challenger) in one pass -> replace the day's scored and quarantine partitions -> a
:class:`~modelops.monitoring.batches.BatchRecord` with counts, score statistics and per-stage seconds.

Structural problems fail loudly (:mod:`modelops.quality` errors name the file); bad rows never fail the
batch: they are kept, with reasons, in the quarantine partition. Rows in = scored + quarantined + dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelops import datasets, lake
from modelops.monitoring.batches import BatchRecord

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from modelops.quality import Suite
    from modelops.registry import ModelRegistry
    from modelops.settings import Settings

log = logging.getLogger(__name__)

SCORE_PREFIX = "score_"
HISTOGRAM_BINS = 10


class NoChampionError(RuntimeError):
    """The model has no champion to score with."""


@dataclass(frozen=True)
class ModelRef:
    alias: str
    version: str
    uri: str

    @property
    def column(self) -> str:
        return f"{SCORE_PREFIX}{self.alias}"


@dataclass(frozen=True)
class ScoringRequest:
    source: str
    model_name: str
    ds: str
    champion: ModelRef
    challenger: ModelRef | None = None
    run_id: str | None = None

    @property
    def models(self) -> list[ModelRef]:
        return [self.champion, *([self.challenger] if self.challenger else [])]


def resolve_models(registry: ModelRegistry, model_name: str) -> tuple[ModelRef, ModelRef | None]:
    """The champion (required) and challenger (optional) of ``model_name``.

    :raises NoChampionError: with the step to take.
    """
    from modelops.registry import CHALLENGER, CHAMPION, UnknownModelError

    try:
        aliases = registry.aliases(model_name)
    except UnknownModelError as exc:
        raise NoChampionError(f"model {model_name!r} is not registered: run the model_bootstrap DAG first") from exc
    if CHAMPION not in aliases:
        raise NoChampionError(f"model {model_name!r} has no champion: run the model_bootstrap DAG first")
    champion = ModelRef(CHAMPION, aliases[CHAMPION], f"models:/{model_name}/{aliases[CHAMPION]}")
    challenger = None
    if CHALLENGER in aliases:
        challenger = ModelRef(CHALLENGER, aliases[CHALLENGER], f"models:/{model_name}/{aliases[CHALLENGER]}")
    return champion, challenger


class _Stopwatch:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 3)
            log.info("stage %s: %.2fs", name, self.seconds[name])


def run_batch(spark: SparkSession, settings: Settings, request: ScoringRequest, *, suite: Suite | None = None,
              feature_columns: Sequence[str] = datasets.FEATURES) -> BatchRecord:
    """Score one landing partition; returns the batch record (not yet written to the store)."""
    from modelops import features, inference, quality

    suite = suite or quality.load_suite(request.source)
    watch = _Stopwatch()
    partition = lake.landing_partition(settings.lake_root, request.source, request.ds)
    file = str(partition)
    with watch.stage("extract"):
        raw = quality.read_landing(spark, partition, suite=suite).cache()
        rows_in = raw.count()
    with watch.stage("quality_gate"):
        quality.gate(raw, suite, file=file)
    with watch.stage("quarantine"):
        good, bad = quality.quarantine(raw, suite)
        # Counted, written and counted again: keep the annotated bad rows instead of re-deriving them each time.
        bad = bad.cache()
        reasons = quality.rule_counts(bad)
    with watch.stage("transform"):
        pipeline = features.apply_processors(good, features.default_processors(suite, lake_root=settings.lake_root))
        transformed = pipeline.df
    with watch.stage("score"):
        models = {ref.column: inference.fetch_model(ref.uri, tracking_uri=settings.mlflow_tracking_uri)
                  for ref in request.models}
        scored = inference.score(transformed, models, feature_columns=feature_columns,
                                 keep_columns=transformed.columns)
    with watch.stage("write"):
        out = lake.replace_partition(scored, lake.scored_partition(settings.lake_root, request.model_name, request.ds))
        rejected = _rejected_rows(bad, pipeline.dropped)
        lake.replace_partition(rejected, lake.quarantine_partition(settings.lake_root, request.source, request.ds))
    with watch.stage("stats"):
        written = spark.read.parquet(str(out)).cache()
        rows_scored = written.count()
        stats = score_stats(written, [ref.column for ref in request.models])
        written.unpersist()
        rows_quarantined = bad.count()
        rows_dropped = pipeline.dropped.count() if pipeline.dropped is not None else 0
    bad.unpersist()
    raw.unpersist()
    quality.check_accounting(file, rows_in, good=rows_scored, quarantined=rows_quarantined, dropped=rows_dropped)
    return BatchRecord(
        source=request.source, model=request.model_name, ds=request.ds, champion_version=request.champion.version,
        challenger_version=request.challenger.version if request.challenger else None, rows_in=rows_in,
        rows_scored=rows_scored, rows_quarantined=rows_quarantined, rows_dropped=rows_dropped,
        quarantine_reasons=reasons, score_stats=stats, stage_seconds=watch.seconds, output_path=str(out),
        run_id=request.run_id,
    )


def _rejected_rows(bad: DataFrame, dropped: DataFrame | None) -> DataFrame:
    """Quarantined and filtered-out rows in one partition, each with its reasons (nothing is lost).

    Both sides hold their data columns as strings and the reasons as arrays, so the union is by name;
    a column only one side has is null on the other.
    """
    if dropped is None:
        return bad
    return bad.unionByName(dropped, allowMissingColumns=True)


def score_stats(df: DataFrame, columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per score column: count, mean, std, min, max, quantiles and a 10-bin histogram on [0, 1]."""
    from pyspark.sql import functions as F

    stats: dict[str, dict[str, Any]] = {}
    for column in columns:
        agg = df.agg(F.count(column).alias("n"), F.mean(column).alias("mean"), F.stddev_pop(column).alias("std"),
                     F.min(column).alias("min"), F.max(column).alias("max")).collect()[0].asDict()
        q = df.approxQuantile(column, [0.05, 0.25, 0.5, 0.75, 0.95], 0.001)
        bucket = F.least(F.floor(F.col(column) * HISTOGRAM_BINS), F.lit(HISTOGRAM_BINS - 1)).cast("int")
        counts = {r["b"]: r["n"] for r in df.groupBy(bucket.alias("b")).agg(F.count("*").alias("n")).collect()}
        stats[column.removeprefix(SCORE_PREFIX)] = {
            **{k: (float(v) if v is not None else None) for k, v in agg.items()},
            "quantiles": dict(zip(("p05", "p25", "p50", "p75", "p95"), q, strict=False)),
            "histogram": [int(counts.get(i, 0)) for i in range(HISTOGRAM_BINS)],
        }
    return stats
