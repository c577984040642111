"""Every DAG file parses, follows the house rules, and imports nothing heavy at parse time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))
HEAVY = ("pandas", "pyspark", "mlflow", "sklearn", "evidently", "great_expectations", "scipy", "numpy")


@pytest.fixture(scope="module")
def dagbag(airflow_db: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_dag_files_exist() -> None:
    assert DAG_FILES, "no DAG files found"


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) >= len(DAG_FILES)


def test_house_rules(dagbag) -> None:
    problems = []
    for dag_id, dag in dagbag.dags.items():
        if not dag.tags:
            problems.append(f"{dag_id}: no tags")
        if dag.catchup and "catchup-capable" not in (dag.tags or []):
            problems.append(f"{dag_id}: catchup=True without the 'catchup-capable' tag")
        if not (dag.doc_md or "").strip():
            problems.append(f"{dag_id}: no doc_md")
        for t in dag.tasks:
            if t.owner in (None, "", "airflow"):
                problems.append(f"{dag_id}.{t.task_id}: owner not set")
            if t.retries is None or t.retries < 1:
                problems.append(f"{dag_id}.{t.task_id}: retries < 1")
    assert problems == []


def test_one_dag_per_file_named_like_the_file(dagbag) -> None:
    by_file: dict[str, list[str]] = {}
    for dag_id, dag in dagbag.dags.items():
        by_file.setdefault(Path(dag.fileloc).stem, []).append(dag_id)
    for path in DAG_FILES:
        assert by_file.get(path.stem) == [path.stem], f"{path.name} should define exactly DAG {path.stem!r}"


_PROBE = """
import importlib.util, json, sys, time
path = sys.argv[1]
t0 = time.perf_counter()
import airflow.sdk  # noqa: F401  (Airflow's own import cost is not the DAG file's)
airflow_seconds = time.perf_counter() - t0
before = set(sys.modules)
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("dag_under_test", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
elapsed = time.perf_counter() - start
heavy = sorted({m.split('.')[0] for m in set(sys.modules) - before} & set(sys.argv[2].split(',')))
print(json.dumps({"heavy": heavy, "seconds": elapsed, "airflow_seconds": airflow_seconds}))
"""


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parse_hygiene_no_heavy_imports(path: Path, airflow_db: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE, str(path), ",".join(HEAVY)], capture_output=True,
                          text=True, env=os.environ.copy(), timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [], f"{path.name} imports {result['heavy']} at parse time"
    print(f"{path.name}: parsed in {result['seconds']:.3f}s (after importing airflow.sdk: {result['airflow_seconds']:.2f}s)")
