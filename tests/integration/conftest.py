from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest


class Dags:
    """Load DAGs from the configured dags folder and read run outcomes (the ``dags`` fixture)."""

    @staticmethod
    def load(dag_id: str):
        return load_dag(dag_id)

    @staticmethod
    def states(run) -> dict[str, str]:
        return task_states(run)


@pytest.fixture(scope="session")
def dags(airflow_db) -> Dags:
    return Dags()


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    from modelops_airflow.dagbag import dags_folder

    bag = DagBag(dag_folder=str(dags_folder()))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def task_states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state).removeprefix("TaskInstanceState.") for ti in run.get_task_instances()}


@pytest.fixture(scope="session")
def demo_landing(session_settings) -> Path:
    """The session home's landing zone with 8 days of the drift scenario (small)."""
    from modelops import datasets

    datasets.write_landing(session_settings.landing_root, start=date(2026, 1, 1), days=8, rows_per_day=1500,
                           scenario="drift", seed=42)
    return session_settings.landing_root
