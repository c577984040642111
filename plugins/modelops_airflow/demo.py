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
#: DAGs run once per generated day (a backfill), in one process that shares one Spark session.
DAILY_DAGS: tuple[str, ...] = ("etl_scoring",)
DEMO_START = date(2026, 1, 1)
DEMO_DAYS = 14
DEMO_ROWS_PER_DAY = 20_000


def _shared_spark_session() -> Any:
    """One Spark session for several runs in this process (``@spark_task`` reuses an active session)."""
    from modelops.spark import build_session
    from modelops_airflow.decorators.spark import DEFAULT_SPARK_CONN_ID, resolve_master

    master, extra = resolve_master(DEFAULT_SPARK_CONN_ID)
    return build_session(master, app_name="modelops-demo", extra_conf=extra)


def run_dag(dag_id: str, result_path: Path, confs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run ``dag_id`` with ``dag.test()`` here, once per conf, and write the outcome as JSON to ``result_path``.

    The outcome's ``state`` is the first failed run's state, else the last run's.
    """
    from airflow.dag_processing.dagbag import DagBag

    from modelops_airflow.dagbag import dags_folder

    started = time.perf_counter()
    bag = DagBag(dag_folder=str(dags_folder()))
    if dag_id not in bag.dags:
        raise SystemExit(f"DAG {dag_id!r} not found in {dags_folder()} (import errors: {bag.import_errors})")
    runs: list[dict[str, Any]] = []
    spark = _shared_spark_session() if confs and len(confs) > 1 else None
    try:
        for conf in confs or [{}]:
            dag_run = bag.dags[dag_id].test(run_conf=conf or None)
            runs.append({"conf": conf, "state": str(dag_run.state),
                         "tasks": {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}})
    finally:
        if spark is not None:
            spark.stop()
    failed = [r for r in runs if not r["state"].endswith("success")]
    shown = failed[0] if failed else runs[-1]
    outcome = {"dag_id": dag_id, "state": shown["state"], "seconds": round(time.perf_counter() - started, 1),
               "tasks": shown["tasks"], "runs": runs}
    result_path.write_text(json.dumps(outcome, indent=2))
    return outcome


def _run_dag_subprocess(dag_id: str, workdir: Path, confs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    log_path, result_path = workdir / f"{dag_id}.log", workdir / f"{dag_id}.json"
    result_path.unlink(missing_ok=True)
    extra = ["--confs", json.dumps(confs)] if confs else []
    with log_path.open("w") as log:
        subprocess.run([sys.executable, "-m", "modelops_airflow.demo", "run-dag", dag_id, *extra],
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
    daily = [{"date": str(day)} for day in data.days]
    outcomes += [_run_dag_subprocess(dag_id, workdir, daily) for dag_id in DAILY_DAGS]
    for outcome in outcomes:
        _print_outcome(outcome)
    _print_models(settings)
    _print_scoring(settings)
    _print_where_to_look(settings)
    failed = [o["dag_id"] for o in outcomes if not o["state"].endswith("success")]
    if failed:
        print(f"demo FAILED: {', '.join(failed)} (see the logs above)")
        return 1
    print("demo OK")
    return 0


def _print_outcome(outcome: dict[str, Any]) -> None:
    tasks = ", ".join(f"{t}={s.removeprefix('TaskInstanceState.')}" for t, s in outcome["tasks"].items())
    state = outcome["state"].removeprefix("DagRunState.")
    runs = outcome.get("runs") or []
    if len(runs) > 1:
        ok = sum(r["state"].endswith("success") for r in runs)
        print(f"  dag      {outcome['dag_id']}: {ok}/{len(runs)} runs succeeded in {outcome['seconds']}s")
        if ok < len(runs):
            print(f"           first failure [{tasks}]")
    else:
        print(f"  dag      {outcome['dag_id']}: {state} in {outcome['seconds']}s  [{tasks}]")
    print(f"           log {outcome['log']}")


def _print_scoring(settings: Any) -> None:
    """One line per scored day from the monitoring store: rows in/scored/quarantined and score means."""
    from modelops.monitoring.batches import batches
    from modelops.monitoring.store import open_store

    rows = batches(open_store(settings.store_url))
    if not rows:
        return
    print("  scoring  day         rows in   scored  quarant.  champion (mean score)  top quarantine reasons")
    for b in rows:
        mean = b["score_stats"].get("champion", {}).get("mean")
        reasons = sorted(b["quarantine_reasons"].items(), key=lambda kv: -kv[1])[:2]
        why = ", ".join(f"{rule} {n}" for rule, n in reasons)
        print(f"           {b['ds']}  {b['rows_in']:>8,} {b['rows_scored']:>8,} {b['rows_quarantined']:>9,}  "
              f"v{b['champion_version']} ({mean:.3f})            {why}" if mean is not None else f"           {b['ds']}")
    print(f"           scored rows in {settings.lake_root / 'scored'}, quarantine in {settings.lake_root / 'quarantine'}")


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

        confs = json.loads(sys.argv[4]) if len(sys.argv) >= 5 and sys.argv[3] == "--confs" else None
        run_dag(sys.argv[2], get_settings().home / "demo" / f"{sys.argv[2]}.json", confs)
        sys.exit(0)
    sys.exit(main())
