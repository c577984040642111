from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e]




def test_healthcheck_dag_succeeds_and_writes_report(dags, airflow_db: Path, spark: object, session_settings) -> None:
    run = dags.load("platform_healthcheck").test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state).endswith("success"), states
    assert all(s.endswith("success") for s in states.values()), states
    report = json.loads((session_settings.reports_root / "healthcheck.json").read_text())
    assert report["ok"] is True
    assert set(report["components"]) == {"home", "lake", "store", "mlflow", "spark"}
    assert report["components"]["spark"]["version"].startswith("spark 4.2")


def test_healthcheck_dag_fails_when_the_store_is_unreachable(
    dags, airflow_db: Path, spark: object, session_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelops.settings import get_settings

    monkeypatch.setenv("MODELOPS_STORE_URL", "postgresql://nobody@127.0.0.1:1/none")
    get_settings.cache_clear()
    dag = dags.load("platform_healthcheck")
    for task in dag.tasks:  # the failure is the point here, not the retry delay
        task.retries = 0
    try:
        run = dag.test()
    finally:
        monkeypatch.delenv("MODELOPS_STORE_URL")
        get_settings.cache_clear()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state).endswith("failed")
    assert states["check_store"].endswith("failed") and states["check_mlflow"].endswith("success")
    report = json.loads((session_settings.reports_root / "healthcheck.json").read_text())
    assert report["ok"] is False and report["components"]["store"]["ok"] is False
