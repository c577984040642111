"""Test harness shared by the whole suite.

* One temporary AIRFLOW_HOME and MODELOPS_HOME per test session, set before anything imports Airflow.
* ``airflow_db``: Airflow's metadata DB migrated once per session.
* ``spark``: one local Spark session per test session (local[2], UI off, 2 shuffle partitions);
  ``@spark_task`` tasks under ``dag.test()`` reuse it instead of starting their own.
* ``store_url``: the monitoring store on SQLite and on PostgreSQL (a fresh database per test). The
  PostgreSQL case is skipped when the server at 127.0.0.1:5432 does not answer, except under CI,
  where it is an error (``.ci/run`` starts the server).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("MODELOPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
_SESSION_BASE = Path(tempfile.mkdtemp(prefix="modelops-tests-"))


def _session_dags_folder() -> Path:
    """The project's DAG files plus the test DAGs of ``tests/integration/dags`` (``dag.test()`` needs a
    DAG's file inside the configured dags folder)."""
    folder = _SESSION_BASE / "dags"
    folder.mkdir(parents=True, exist_ok=True)
    for path in [*(REPO / "dags").glob("*.py"), *(REPO / "tests" / "integration" / "dags").glob("*.py")]:
        shutil.copy2(path, folder / path.name)
    return folder


def pytest_configure(config: pytest.Config) -> None:
    env = {
        "AIRFLOW_HOME": str(_SESSION_BASE / "airflow"),
        "MODELOPS_HOME": str(_SESSION_BASE / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(_session_dags_folder()),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        # dag.test() runs are triggered by the user "dag_test"; admin is the human in unit tests.
        "MODELOPS_ROLES": "admin:*;airflow:register,promote,approve,rollback;dag_test:register,promote,rollback",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }
    for key in [k for k in os.environ if k.startswith(("MODELOPS_", "MLFLOW_"))]:
        if key != "MODELOPS_TEST_PG_URL":
            del os.environ[key]
    os.environ.update(env)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SESSION_BASE, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's SQLite metadata DB, migrated once for the session."""
    done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from modelops.spark import build_session

    session = build_session("local[2]", app_name="modelops-tests", ui=False, shuffle_partitions=2)
    yield session
    session.stop()


@pytest.fixture
def settings(tmp_path: Path):
    """Settings rooted in a fresh temporary home (SQLite store, SQLite MLflow)."""
    from modelops.settings import ensure_home, load_settings

    return ensure_home(load_settings({"MODELOPS_HOME": str(tmp_path / "home")}))


@pytest.fixture(scope="session")
def session_settings():
    """The settings the process (and so every DAG under ``dag.test()``) sees."""
    from modelops.settings import ensure_home, get_settings

    get_settings.cache_clear()
    return ensure_home(get_settings())


def _pg_available() -> str | None:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means "no server here"
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    problem = _pg_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required under CI: {problem}")
        pytest.skip(f"PostgreSQL not available: {problem}")
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import sqlalchemy as sa

    name = f"modelops_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The monitoring store URL, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'monitoring.db'}"
    return request.getfixturevalue("pg_url")
