"""``scoring_pipeline``: ETL-embedded scoring of one source with one registered model, as a task group.

Three tasks, so the Spark work happens in one session::

    resolve_models  (registry: champion required, challenger optional; which day to score)
      -> score_partition  (@spark_task: extract, GX gate, quarantine, processors, score, write)
        -> record_batch    (accounting check, monitoring store upsert, Asset event with extra)

Usage in a DAG file::

    with DAG("etl_scoring_orders", schedule="@daily", ...):
        scoring_pipeline(source="orders", model_name="orders_fraud")
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, TaskGroup, task

from modelops_airflow.decorators import spark_task
from modelops_airflow.decorators.spark import DEFAULT_SPARK_CONN_ID

DATE_PARAM = "date"


def scored_asset(source: str, model_name: str) -> Asset:
    """The Asset a scoring pipeline updates; downstream DAGs (drift monitoring) schedule on it."""
    return Asset(uri=f"x-modelops://scored/{source}/{model_name}", name=f"scored.{source}.{model_name}",
                 group="modelops")


def scoring_day(context: Any) -> str:
    """The ``date`` Param or run conf key if given (YYYY-MM-DD), else the run's logical date, else the day it
    runs after (a manual run without a date).

    :raises ValueError: the given date is not YYYY-MM-DD.
    """
    from datetime import date

    params = context.get("params") or {}
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    chosen = params.get(DATE_PARAM) or conf.get(DATE_PARAM)
    if chosen:
        try:
            return date.fromisoformat(str(chosen)).isoformat()
        except ValueError as exc:
            raise ValueError(f"{DATE_PARAM}={chosen!r} is not a date (expected YYYY-MM-DD)") from exc
    if context.get("ds"):
        return str(context["ds"])
    return context["dag_run"].run_after.date().isoformat()


def scoring_pipeline(*, source: str, model_name: str, group_id: str | None = None,
                     spark_conn_id: str = DEFAULT_SPARK_CONN_ID) -> TaskGroup:
    """Build the scoring task group for ``source`` scored by ``model_name``'s champion (+ shadow challenger)."""
    asset = scored_asset(source, model_name)
    with TaskGroup(group_id=group_id or f"score_{source}") as group:

        @task
        def resolve_models(**context: Any) -> dict[str, Any]:
            from dataclasses import asdict

            from modelops.registry import ModelRegistry
            from modelops.scoring import resolve_models as resolve
            from modelops.settings import get_settings

            champion, challenger = resolve(ModelRegistry(get_settings()), model_name)
            return {"ds": scoring_day(context), "champion": asdict(champion),
                    "challenger": asdict(challenger) if challenger else None,
                    "run_id": context["dag_run"].run_id}

        @spark_task(conn_id=spark_conn_id)
        def score_partition(plan: dict[str, Any], spark: Any = None) -> dict[str, Any]:
            from modelops.scoring import ModelRef, ScoringRequest, run_batch
            from modelops.settings import get_settings

            request = ScoringRequest(
                source=source, model_name=model_name, ds=plan["ds"], champion=ModelRef(**plan["champion"]),
                challenger=ModelRef(**plan["challenger"]) if plan["challenger"] else None, run_id=plan["run_id"])
            return run_batch(spark, get_settings(), request).as_dict()

        @task(outlets=[asset])
        def record_batch(batch: dict[str, Any], **context: Any) -> dict[str, Any]:
            from modelops.monitoring.batches import BatchRecord
            from modelops.monitoring.batches import record_batch as record
            from modelops.monitoring.store import open_store
            from modelops.settings import get_settings

            fields = {k: v for k, v in batch.items() if k != "batch_id"}
            record(open_store(get_settings().store_url), BatchRecord(**fields))
            context["outlet_events"][asset].extra = {
                "model": model_name, "source": source, "partition": batch["ds"],
                "versions": {"champion": batch["champion_version"], "challenger": batch["challenger_version"]},
                "rows": {"in": batch["rows_in"], "scored": batch["rows_scored"],
                         "quarantined": batch["rows_quarantined"], "dropped": batch["rows_dropped"]},
                "output": batch["output_path"],
            }
            return batch

        record_batch(score_partition(resolve_models()))  # type: ignore[arg-type]
    return group
