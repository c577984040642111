from __future__ import annotations

import json

import pytest

from modelops import health
from modelops.monitoring.store import StoreUnavailableError
from modelops.settings import Settings


def test_lake_store_and_mlflow_probes_write_and_read(settings: Settings) -> None:
    assert health.check_lake(settings).ok
    assert (settings.lake_root / "_health" / "probe.parquet").exists()
    store = health.check_store(settings)
    assert store.ok and store.version.startswith("SQLite")
    mlflow = health.check_mlflow(settings)
    assert mlflow.ok and mlflow.version.startswith("mlflow 3.17")
    assert (settings.home / "mlflow.db").exists()
    # the run's artifact went to the configured artifact root, not ./mlruns
    assert list(settings.artifact_root.rglob("probe.json"))


def test_store_probe_on_postgres(settings: Settings, pg_url: str) -> None:
    status = health.check_store(settings.with_overrides(store_url=pg_url))
    assert status.ok and status.version.startswith("PostgreSQL")


def test_spark_probe_runs_a_python_udf(settings: Settings, spark: object) -> None:
    status = health.check_spark(settings, session=spark)
    assert status.ok and "Python UDF ok" in status.detail and status.version.startswith("spark 4.2")


def test_collect_reports_failures_instead_of_stopping(settings: Settings) -> None:
    broken = settings.with_overrides(store_url="postgresql://x@127.0.0.1:1/none")
    results = health.collect(broken, [health.check_store, health.check_lake])
    assert results["store"].ok is False and results["store"].detail.startswith("MODELOPS_STORE_URL=")
    assert results["lake"].ok is True


def test_summarize_writes_report_and_fails_on_a_missing_result(settings: Settings) -> None:
    ok = health.check_lake(settings).as_dict()
    with pytest.raises(health.HealthcheckFailedError, match="healthcheck failed for: store"):
        health.summarize(settings, {"lake": ok, "store": None})
    report = json.loads((settings.reports_root / "healthcheck.json").read_text())
    assert report["ok"] is False and report["components"]["lake"]["ok"] is True
    assert health.summarize(settings, {"lake": ok})["ok"] is True


def test_store_probe_raises_specific_error(settings: Settings) -> None:
    with pytest.raises(StoreUnavailableError):
        health.check_store(settings.with_overrides(store_url="postgresql://x@127.0.0.1:1/none"))
