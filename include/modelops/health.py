"""Reachability and writability probes for each platform component.

Each ``check_*`` function does real work against the component (writes, reads back, queries) and
returns a :class:`ComponentStatus`; it raises a component-specific error with one line on failure.
:func:`collect` runs several and turns failures into ``ok=False`` entries (for ``modelops status``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from modelops.settings import ENV_LAKE_ROOT, Settings, ensure_home

PROBE_EXPERIMENT = "modelops-healthcheck"
COMPONENTS = ("home", "lake", "store", "mlflow", "spark")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    ok: bool
    detail: str
    version: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LakeUnavailableError(RuntimeError):
    """The lake root cannot be written or read back."""


def check_home(settings: Settings) -> ComponentStatus:
    ensure_home(settings)
    return ComponentStatus("home", True, f"{settings.home} is writable")


def check_lake(settings: Settings) -> ComponentStatus:
    """Write a small parquet file under ``<lake>/_health`` and read it back."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    probe_dir = settings.lake_root / "_health"
    target = probe_dir / "probe.parquet"
    try:
        probe_dir.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"probe": [1, 2, 3]}), target)
        total = sum(pq.read_table(target).column("probe").to_pylist())
    except OSError as exc:
        raise LakeUnavailableError(f"{ENV_LAKE_ROOT}={settings.lake_root}: not writable ({exc})") from exc
    if total != 6:
        raise LakeUnavailableError(f"{ENV_LAKE_ROOT}={settings.lake_root}: read back {total}, wrote 6")
    return ComponentStatus("lake", True, f"wrote and read {target}", version=f"pyarrow {pa.__version__}")


def check_store(settings: Settings) -> ComponentStatus:
    """Migrate the monitoring store, write a probe row and read it back."""
    from modelops.monitoring.store import open_store, safe_url

    store = open_store(settings.store_url)
    try:
        row_id = store.record_check("store", True, "healthcheck probe")
        version = store.server_version()
    finally:
        store.dispose()
    return ComponentStatus("store", True, f"{safe_url(settings.store_url)}: probe row {row_id} written", version)


def check_mlflow(settings: Settings) -> ComponentStatus:
    """Log a run with a metric and an artifact, read the metric back, and query the registry."""
    import mlflow

    from modelops.tracking import TrackingUnavailableError, client, experiment_id

    exp_id = experiment_id(settings, PROBE_EXPERIMENT)
    mlflow_client = client(settings)
    try:
        run = mlflow_client.create_run(exp_id, run_name="healthcheck")
        mlflow_client.log_metric(run.info.run_id, "probe", 1.0)
        mlflow_client.log_text(run.info.run_id, json.dumps({"probe": True}), "probe.json")
        mlflow_client.set_terminated(run.info.run_id)
        value = mlflow_client.get_run(run.info.run_id).data.metrics["probe"]
        models = mlflow_client.search_registered_models(max_results=100)
    except Exception as exc:  # MLflow surfaces HTTP, SQL and file errors with different types.
        raise TrackingUnavailableError(f"MLFLOW_TRACKING_URI={settings.mlflow_tracking_uri}: {exc}") from exc
    detail = f"run {run.info.run_id} logged (probe={value}); registry has {len(models)} model(s)"
    return ComponentStatus("mlflow", True, detail, version=f"mlflow {mlflow.__version__}")


def check_spark(settings: Settings, *, session: Any = None) -> ComponentStatus:
    """Run a JVM aggregate and a Python UDF (``mapInPandas``) on a session for the configured master.

    The UDF matters: mismatched pyspark / pyspark-client installs only fail once Python code runs in a worker.
    """
    from modelops.spark import build_session

    spark = session or build_session(settings.spark_master, app_name="modelops-healthcheck")
    total = spark.range(1000).selectExpr("sum(id) AS s").collect()[0]["s"]

    def double(batches: Any) -> Any:
        for batch in batches:
            yield batch.assign(id=batch["id"] * 2)

    doubled = spark.range(100).mapInPandas(double, "id long").selectExpr("sum(id) AS s").collect()[0]["s"]
    if total != 499500 or doubled != 9900:
        raise RuntimeError(f"Spark returned wrong results: sum={total}, udf sum={doubled}")
    detail = f"master {spark.sparkContext.master}: aggregate and Python UDF ok"
    return ComponentStatus("spark", True, detail, version=f"spark {spark.version}")


def check_spark_static(settings: Settings) -> ComponentStatus:
    """Without starting a JVM: the master URL is valid, Java and pyspark are installed."""
    from importlib.metadata import version

    from modelops.spark import check_java

    java = check_java()
    return ComponentStatus(
        "spark", True, f"master {settings.spark_master}, java at {java} (not started)", f"pyspark {version('pyspark')}"
    )


def collect(settings: Settings, checks: Sequence[Callable[[Settings], ComponentStatus]]) -> dict[str, ComponentStatus]:
    """Run ``checks``; a failure becomes ``ok=False`` with its one-line message."""
    results: dict[str, ComponentStatus] = {}
    for check in checks:
        name = check.__name__.removeprefix("check_").removesuffix("_static")
        started = time.perf_counter()
        try:
            status = check(settings)
        except Exception as exc:  # status reports every failure; it must not stop at the first.
            status = ComponentStatus(name, False, str(exc).strip().splitlines()[0] if str(exc) else repr(exc))
        results[name] = ComponentStatus(**{**status.as_dict(), "seconds": round(time.perf_counter() - started, 3)})
    return results


class HealthcheckFailedError(RuntimeError):
    """One or more components failed their probe."""


def summarize(settings: Settings, results: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """Write ``<home>/reports/healthcheck.json`` from per-component results (``None`` = check failed).

    :raises HealthcheckFailedError: after writing the report, when any component failed.
    """
    components = {
        name: result if result is not None else {"name": name, "ok": False, "detail": "check failed (see its log)"}
        for name, result in results.items()
    }
    report = {"ok": all(c["ok"] for c in components.values()), "components": components}
    path = settings.reports_root / "healthcheck.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    for name, comp in components.items():
        log.info("%-6s %-4s %s %s", name, "ok" if comp["ok"] else "FAIL", comp.get("version", ""), comp["detail"])
    if not report["ok"]:
        failed = ", ".join(n for n, c in components.items() if not c["ok"])
        raise HealthcheckFailedError(f"healthcheck failed for: {failed} (report: {path})")
    return {**report, "report_path": str(path)}
