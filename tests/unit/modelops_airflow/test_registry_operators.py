"""Registry operators and hook, tested by calling ``execute(context)`` on a real MLflow (SQLite)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from modelops import datasets, training
from modelops.governance import AuditLog, PermissionDeniedError
from modelops.registry import ChampionConflictError
from modelops.settings import get_settings


@pytest.fixture(scope="module")
def model(airflow_db, tmp_path_factory):
    settings = get_settings()
    landing = tmp_path_factory.mktemp("ops-landing")
    datasets.write_landing(landing, start=date(2026, 1, 1), days=4, rows_per_day=600, scenario="baseline")
    data = training.load_labeled(landing, training.TrainingWindow(date(2026, 1, 1), date(2026, 1, 1)))
    return training.train_and_log(settings, data, model_name="ops_model", candidate="logreg")


def _context(user: str | None = "admin") -> dict:
    return {"dag_run": SimpleNamespace(triggering_user_name=user, run_id="manual__x"), "ti": SimpleNamespace(try_number=1)}


def test_register_promote_rollback_through_operators(model) -> None:
    from modelops_airflow.operators import PromoteModelOperator, RegisterModelOperator, RollbackModelOperator

    name = "ops_model_a"
    register = RegisterModelOperator(task_id="register", model_name=name, model_uri=model.model_uri, run_id=model.run_id)
    v1, v2 = register.execute(_context()), register.execute(_context())
    promote = PromoteModelOperator(task_id="promote", model_name=name, version=v1, expected_champion="None")
    assert promote.execute(_context())["after"] == {"champion": v1}
    out = PromoteModelOperator(task_id="p2", model_name=name, version=v2, expected_champion=v1).execute(_context())
    assert out["after"] == {"champion": v2, "previous_champion": v1}
    stale = PromoteModelOperator(task_id="p3", model_name=name, version=v1, expected_champion=v1)
    with pytest.raises(ChampionConflictError):
        stale.execute(_context())
    back = RollbackModelOperator(task_id="rollback", model_name=name, expected_champion=v2, reason="bad day")
    assert back.execute(_context())["after"] == {"champion": v1, "previous_champion": v2}
    actors = {e.actor for e in AuditLog(register.hook.registry.store).events(model=name)}
    assert actors == {"admin"}


def test_scheduled_runs_act_as_airflow_and_unknown_users_are_denied(model) -> None:
    from modelops_airflow.operators import RegisterModelOperator
    from modelops_airflow.operators.registry import actor_from_context

    assert actor_from_context(_context(None)) == "airflow"
    op = RegisterModelOperator(task_id="register", model_name="ops_model_b", model_uri=model.model_uri)
    with pytest.raises(PermissionDeniedError, match="actor 'eve' may not register"):
        op.execute(_context("eve"))


def test_templated_fields_are_declared() -> None:
    from modelops_airflow.operators import PromoteModelOperator

    assert {"model_name", "version", "expected_champion", "reason"} <= set(PromoteModelOperator.template_fields)


def test_hook_tracking_uri_from_connection_or_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelops_airflow.hooks import ModelRegistryHook

    assert ModelRegistryHook("missing_conn").tracking_uri() == get_settings().mlflow_tracking_uri
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_SRV", '{"conn_type": "mlflow", "host": "mlflow", "port": 5000}')
    assert ModelRegistryHook("mlflow_srv").tracking_uri() == "http://mlflow:5000"
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DB", '{"conn_type": "mlflow", "extra": {"tracking_uri": "sqlite:////x.db"}}')
    hook = ModelRegistryHook("mlflow_db")
    assert hook.tracking_uri() == "sqlite:////x.db" and hook.settings.mlflow_tracking_uri == "sqlite:////x.db"


def test_mlflow_connection_type_is_registered_with_airflow() -> None:
    from airflow.providers_manager import ProvidersManager

    hooks = ProvidersManager().hooks
    assert "mlflow" in hooks and hooks["mlflow"].hook_class_name.endswith("ModelRegistryHook")
