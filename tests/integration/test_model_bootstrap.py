from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e]
MODEL = "churn_bootstrap_it"


def test_bootstrap_trains_registers_promotes_then_is_idempotent(dags, session_settings, demo_landing) -> None:
    from modelops.governance import AuditLog
    from modelops.monitoring.store import open_store
    from modelops.registry import ModelRegistry

    dag = dags.load("model_bootstrap")
    conf = {"model_name": MODEL, "train_days": 3, "candidate": "logreg"}
    first = dag.test(run_conf=conf)
    states = dags.states(first)
    assert str(first.state).endswith("success"), states
    assert set(states.values()) == {"success"}, states

    registry = ModelRegistry(session_settings)
    assert registry.aliases(MODEL) == {"champion": "1"}
    profile = registry.load_profile(MODEL)
    assert profile["rows"] > 0 and "monthly_charges" in profile["features"]
    events = AuditLog(open_store(session_settings.store_url)).events(model=MODEL)
    assert [(e.action, e.outcome, e.actor) for e in events] == [("register", "ok", "dag_test"), ("promote", "ok", "dag_test")]

    # a champion exists: nothing happens without force
    second = dag.test(run_conf=conf)
    states = dags.states(second)
    assert states["should_train"] == "success"
    assert {states[t] for t in ("train", "register", "promote")} == {"skipped"}
    assert registry.aliases(MODEL) == {"champion": "1"}

    # force: a new version replaces the champion it saw (compare-and-set)
    third = dag.test(run_conf={**conf, "force": True})
    assert str(third.state).endswith("success"), dags.states(third)
    assert registry.aliases(MODEL) == {"champion": "2", "previous_champion": "1"}
    assert AuditLog(open_store(session_settings.store_url)).verify().ok


def test_bootstrap_with_no_data_fails_clearly(dags, session_settings, demo_landing) -> None:
    dag = dags.load("model_bootstrap")
    for task in dag.tasks:
        task.retries = 0
    run = dag.test(run_conf={"model_name": "churn_nodata_it", "start": "2030-01-01", "train_days": 2})
    states = dags.states(run)
    assert str(run.state).endswith("failed") and states["train"] == "failed"
    assert states["register"] == "upstream_failed"
