from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelops.cli import main


def _modelops(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "modelops.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_status_json_has_the_stable_keys(tmp_path: Path) -> None:
    done = _modelops("status", "--json", env={"MODELOPS_HOME": str(tmp_path / "h")})
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout)
    assert {"version", "home", "mlflow_tracking_uri", "monitoring_store_url", "components"} <= state.keys()
    assert set(state["components"]) == {"home", "lake", "store", "mlflow", "spark"}
    assert all(c["ok"] and c["detail"] for c in state["components"].values())
    assert state["home"] == str((tmp_path / "h").resolve())


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MODELOPS_SPARK_MASTER": "nonsense"}, "MODELOPS_SPARK_MASTER='nonsense' is not a Spark master URL"),
        ({"MODELOPS_STORE_URL": "not-a-url"}, "MODELOPS_STORE_URL='not-a-url' is not a database URL"),
        ({"MODELOPS_ROLES": "bob"}, "MODELOPS_ROLES: entry 'bob'"),
    ],
)
def test_bad_settings_give_one_clear_error_line(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    done = _modelops("status", env={"MODELOPS_HOME": str(tmp_path), **env})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr


def test_unreachable_store_and_unwritable_home_are_reported_per_component(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = _modelops("status", "--json", env={"MODELOPS_HOME": str(blocker / "home"),
                                               "MODELOPS_STORE_URL": "postgresql://u@127.0.0.1:1/db"})
    assert done.returncode == 1
    comps = json.loads(done.stdout)["components"]
    assert comps["home"]["ok"] is False and comps["home"]["detail"].startswith("MODELOPS_HOME=")
    assert comps["store"]["ok"] is False and "Connection refused" in comps["store"]["detail"]
    assert "\n" not in comps["store"]["detail"]


def test_data_generate_bad_arguments_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["data", "generate", "--days", "0", "--landing", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("modelops: error: ") and "days" in err[0]


def test_data_generate_writes_partitions(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["data", "generate", "--days", "2", "--rows-per-day", "500", "--landing", str(tmp_path),
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["days"] == 2 and summary["feature_rows"] == 1000
    assert len(list((tmp_path / "customers").glob("ds=*/*.parquet"))) == 2


def test_status_reports_models_and_audit_and_verify_names_a_tampered_row(tmp_path: Path) -> None:
    from datetime import date

    import sqlalchemy as sa

    from modelops import datasets, training
    from modelops.registry import ModelRegistry
    from modelops.settings import ensure_home, load_settings

    env = {"MODELOPS_HOME": str(tmp_path / "h")}
    settings = ensure_home(load_settings(env))
    datasets.write_landing(settings.landing_root, start=date(2026, 1, 1), days=4, rows_per_day=500, scenario="baseline")
    data = training.load_labeled(settings.landing_root, training.TrainingWindow(date(2026, 1, 1), date(2026, 1, 1)))
    result = training.train_and_log(settings, data, model_name="cli_model", candidate="logreg")
    registry = ModelRegistry(settings)
    version = registry.register("cli_model", result.model_uri, run_id=result.run_id, actor="admin")
    registry.promote("cli_model", version, expected_champion=None, actor="admin")

    state = json.loads(_modelops("status", "--json", env=env).stdout)
    assert state["models"]["cli_model"]["aliases"] == {"champion": version}
    assert state["models"]["cli_model"]["metrics"]["champion"]["roc_auc"] > 0.5
    assert state["audit"]["events"] == 2 and state["audit"]["chain_ok"] is True
    assert _modelops("audit", "verify", env=env).returncode == 0

    engine = sa.create_engine(settings.store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 1"))
    engine.dispose()
    broken = _modelops("audit", "verify", env=env)
    assert broken.returncode == 1 and "row 1" in broken.stdout and "edited" in broken.stdout
    assert json.loads(_modelops("status", "--json", env=env).stdout)["audit"]["chain_ok"] is False
