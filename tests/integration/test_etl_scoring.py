"""The etl_scoring DAG and the scoring factory under ``dag.test()`` on real Spark, MLflow and store."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from modelops.settings import DEFAULT_MODEL_NAME

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLEAN_DAY = "2026-01-04"
NULL_BURST_DAY = "2026-01-06"  # the drift scenario's day index 5
FACTORY_MODEL = "churn_factory_it"


def _train(settings, candidate: str):
    from modelops import training

    window = training.TrainingWindow(date(2026, 1, 1), date(2026, 1, 3))
    return training.train_and_log(settings, training.load_labeled(settings.landing_root, window),
                                  model_name=DEFAULT_MODEL_NAME, candidate=candidate)


def _register(registry, name: str, result) -> str:
    return registry.register(name, result.model_uri, run_id=result.run_id, actor="admin", reason="test")


def _run(dag, day: str):
    for task in dag.tasks:
        task.retries = 0
    return dag.test(run_conf={"date": day})


def _scored(settings, model: str, day: str) -> pd.DataFrame:
    path = settings.lake_root / "scored" / model / f"ds={day}"
    return pd.read_parquet(path).sort_values("customer_id").reset_index(drop=True)


def _batches(settings, model: str) -> list[dict]:
    from modelops.monitoring.batches import batches
    from modelops.monitoring.store import open_store

    return batches(open_store(settings.store_url), model=model)


def _asset_events(uri: str) -> list[dict]:
    import sqlalchemy as sa
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = sa.select(AssetEvent).join(AssetModel, AssetModel.id == AssetEvent.asset_id).where(AssetModel.uri == uri)
        return [dict(event.extra) for event in session.scalars(query.order_by(AssetEvent.id))]


def test_etl_scoring_end_to_end(dags, spark, session_settings, demo_landing) -> None:
    from modelops.registry import ModelRegistry

    dag = dags.load("etl_scoring")
    settings = session_settings

    # no champion yet: the run fails before any Spark work, and writes nothing
    run = _run(dag, CLEAN_DAY)
    states = dags.states(run)
    assert str(run.state).endswith("failed") and states["score_customers.resolve_models"] == "failed", states
    assert not (settings.lake_root / "scored" / DEFAULT_MODEL_NAME).exists()

    registry = ModelRegistry(settings)
    champion = _register(registry, DEFAULT_MODEL_NAME, _train(settings, "logreg"))
    registry.promote(DEFAULT_MODEL_NAME, champion, expected_champion=None, actor="admin", reason="test")

    run = _run(dag, CLEAN_DAY)
    assert str(run.state).endswith("success"), dags.states(run)
    first = _scored(settings, DEFAULT_MODEL_NAME, CLEAN_DAY)
    landing = pd.read_parquet(settings.landing_root / "customers" / f"ds={CLEAN_DAY}")
    assert len(first) == len(landing) and first["customer_id"].is_unique
    assert "score_challenger" not in first.columns  # no challenger, no shadow scores
    assert first["score_champion"].between(0, 1).all()
    assert {"charges_per_tenure", "tickets_per_login"} <= set(first.columns)  # the suite's processors ran
    [batch] = _batches(settings, DEFAULT_MODEL_NAME)
    assert batch["rows_in"] == len(landing) == batch["rows_scored"] + batch["rows_quarantined"] + batch["rows_dropped"]
    assert batch["champion_version"] == champion and batch["challenger_version"] is None
    assert set(batch["stage_seconds"]) >= {"extract", "quality_gate", "quarantine", "transform", "score", "write"}
    assert sum(batch["score_stats"]["champion"]["histogram"]) == batch["rows_scored"]
    [event] = _asset_events(f"x-modelops://scored/customers/{DEFAULT_MODEL_NAME}")
    assert event["partition"] == CLEAN_DAY and event["versions"] == {"champion": champion, "challenger": None}
    assert event["rows"]["in"] == batch["rows_in"] and event["rows"]["scored"] == batch["rows_scored"]

    # re-running the same day replaces the partition: identical rows, one monitoring row
    run = _run(dag, CLEAN_DAY)
    assert str(run.state).endswith("success"), dags.states(run)
    pd.testing.assert_frame_equal(_scored(settings, DEFAULT_MODEL_NAME, CLEAN_DAY), first)
    [again] = _batches(settings, DEFAULT_MODEL_NAME)
    assert again["runs"] == 2 and again["rows_scored"] == batch["rows_scored"]

    # a challenger: shadow scores from the same pass; a dirty day quarantines its bad rows
    challenger = _register(registry, DEFAULT_MODEL_NAME, _train(settings, "rf"))
    registry.set_challenger(DEFAULT_MODEL_NAME, challenger, actor="admin", reason="test")
    run = _run(dag, NULL_BURST_DAY)
    assert str(run.state).endswith("success"), dags.states(run)
    scored = _scored(settings, DEFAULT_MODEL_NAME, NULL_BURST_DAY)
    assert scored["score_challenger"].between(0, 1).all()
    assert not scored["score_challenger"].equals(scored["score_champion"])
    quarantined = pd.read_parquet(settings.lake_root / "quarantine" / "customers" / f"ds={NULL_BURST_DAY}")
    landing = pd.read_parquet(settings.landing_root / "customers" / f"ds={NULL_BURST_DAY}")
    assert len(quarantined) > 0 and len(scored) + len(quarantined) == len(landing)
    assert set(scored["customer_id"]).isdisjoint(quarantined["customer_id"])
    assert all(any(r.endswith(":null") for r in rules) for rules in quarantined["quarantine_rules"])
    burst = {b["ds"]: b for b in _batches(settings, DEFAULT_MODEL_NAME)}[NULL_BURST_DAY]
    assert burst["challenger_version"] == challenger and burst["rows_quarantined"] == len(quarantined)
    assert set(burst["score_stats"]) == {"champion", "challenger"}


def test_factory_builds_a_working_dag(dags, spark, session_settings, demo_landing) -> None:
    """A DAG file of ~20 lines (tests/integration/dags/factory_scoring_it.py) gets the whole pipeline."""
    from modelops.registry import ModelRegistry

    registry = ModelRegistry(session_settings)
    version = _register(registry, FACTORY_MODEL, _train(session_settings, "logreg"))
    registry.promote(FACTORY_MODEL, version, expected_champion=None, actor="admin", reason="test")

    dag = dags.load("factory_scoring_it")
    assert {t.task_id for t in dag.tasks} == {
        "score_customers.resolve_models", "score_customers.score_partition", "score_customers.record_batch"}
    run = _run(dag, CLEAN_DAY)
    assert str(run.state).endswith("success"), dags.states(run)
    assert len(_scored(session_settings, FACTORY_MODEL, CLEAN_DAY)) > 0
    [batch] = _batches(session_settings, FACTORY_MODEL)
    assert batch["source"] == "customers" and batch["champion_version"] == version
