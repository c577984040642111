"""``make demo``: from a fresh checkout to a platform that has done its main job, on embedded defaults.

Steps: generate synthetic landing data, migrate Airflow's metadata DB, run each demo DAG with
``dag.test()`` (each in its own process, its log in ``<home>/demo/<dag_id>.log``), print a summary.

``python -m modelops_airflow.demo``                 the whole demo
``python -m modelops_airflow.demo run-dag DAG_ID``  one DAG in this process (used by the demo itself)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

# Later issues append their DAGs here, in lifecycle order.
DEMO_DAGS: tuple[str, ...] = ("platform_healthcheck", "model_bootstrap")
DEMO_START = date(2026, 1, 1)
DEMO_DAYS = 14
DEMO_ROWS_PER_DAY = 20_000


def run_dag(dag_id: str, result_path: Path, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``dag_id`` with ``dag.test()`` here and write its outcome as JSON to ``result_path``."""
    from airflow.dag_processing.dagbag import DagBag

    from modelops_airflow.dagbag import dags_folder

    started = time.perf_counter()
    bag = DagBag(dag_folder=str(dags_folder()))
    if dag_id not in bag.dags:
        raise SystemExit(f"DAG {dag_id!r} not found in {dags_folder()} (import errors: {bag.import_errors})")
    dag_run = bag.dags[dag_id].test(run_conf=conf)
    outcome = {
        "dag_id": dag_id,
        "state": str(dag_run.state),
        "seconds": round(time.perf_counter() - started, 1),
        "tasks": {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()},
    }
    result_path.write_text(json.dumps(outcome, indent=2))
    return outcome


def _run_dag_subprocess(dag_id: str, workdir: Path) -> dict[str, Any]:
    log_path, result_path = workdir / f"{dag_id}.log", workdir / f"{dag_id}.json"
    result_path.unlink(missing_ok=True)
    with log_path.open("w") as log:
        subprocess.run([sys.executable, "-m", "modelops_airflow.demo", "run-dag", dag_id],
                       stdout=log, stderr=subprocess.STDOUT, check=False)
    if not result_path.exists():
        return {"dag_id": dag_id, "state": "crashed", "seconds": 0, "tasks": {}, "log": str(log_path)}
    return {**json.loads(result_path.read_text()), "log": str(log_path)}


def _migrate_airflow_db(workdir: Path) -> None:
    with (workdir / "airflow-db-migrate.log").open("w") as log:
        done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], stdout=log,
                              stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"airflow db migrate failed: see {workdir / 'airflow-db-migrate.log'}")


def main() -> int:
    from modelops import datasets
    from modelops.settings import ensure_home, get_settings

    settings = ensure_home(get_settings())
    workdir = settings.home / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"modelops demo — home {settings.home}")

    data = datasets.write_landing(settings.landing_root, start=DEMO_START, days=DEMO_DAYS,
                                  rows_per_day=DEMO_ROWS_PER_DAY, scenario="drift", seed=42)
    print(f"  data     {data.feature_rows:,} feature rows, {data.label_rows:,} labels over {len(data.days)} days "
          f"({data.days[0]}..{data.days[-1]}, scenario 'drift') in {data.seconds:.1f}s "
          f"[{data.rows_per_s:,.0f} rows/s] -> {settings.landing_root}")
    _migrate_airflow_db(workdir)
    outcomes = [_run_dag_subprocess(dag_id, workdir) for dag_id in DEMO_DAGS]
    for outcome in outcomes:
        tasks = ", ".join(f"{t}={s.removeprefix('TaskInstanceState.')}" for t, s in outcome["tasks"].items())
        state = outcome["state"].removeprefix("DagRunState.")
        print(f"  dag      {outcome['dag_id']}: {state} in {outcome['seconds']}s  [{tasks}]")
        print(f"           log {outcome['log']}")
    _print_models(settings)
    _print_where_to_look(settings)
    failed = [o["dag_id"] for o in outcomes if not o["state"].endswith("success")]
    if failed:
        print(f"demo FAILED: {', '.join(failed)} (see the logs above)")
        return 1
    print("demo OK")
    return 0


def _print_models(settings: Any) -> None:
    """The registry's state and the audit chain, as `modelops status` reports them."""
    from modelops.cli import status

    state = status(settings)
    for name, model in state["models"].items():
        aliases = ", ".join(f"{a}=v{v}" for a, v in sorted(model["aliases"].items())) or "no aliases"
        champ = model["metrics"].get("champion", {})
        figures = "  ".join(f"{k} {champ[k]:.3f}" for k in ("roc_auc", "f1", "log_loss", "brier", "ece") if k in champ)
        print(f"  model    {name}: versions {', '.join(model['versions'])}; {aliases}")
        if figures:
            print(f"           champion holdout: {figures}")
    audit = state["audit"]
    print(f"  audit    {audit['events']} event(s), hash chain {'intact' if audit['chain_ok'] else 'BROKEN'}"
          "  (modelops audit verify)")


def _print_where_to_look(settings: Any) -> None:
    report = settings.reports_root / "healthcheck.json"
    if report.exists():
        for name, comp in json.loads(report.read_text())["components"].items():
            print(f"  {name:<8} {'ok' if comp['ok'] else 'FAIL'} {comp.get('version', '')}  {comp['detail']}")
    print("  where to look:")
    print(f"    MLflow           {settings.mlflow_tracking_uri}  (mlflow ui --backend-store-uri {settings.mlflow_tracking_uri})")
    print(f"    monitoring store {settings.store_url}")
    print(f"    lake             {settings.lake_root}")
    print(f"    reports          {settings.reports_root}")
    print("    platform state   .venv/bin/modelops status --json")
    print("    Airflow UI       make airflow   (then http://localhost:8080)")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "run-dag":
        from modelops.settings import get_settings

        run_dag(sys.argv[2], get_settings().home / "demo" / f"{sys.argv[2]}.json")
        sys.exit(0)
    sys.exit(main())
