from __future__ import annotations

from pathlib import Path

import pytest

from modelops.settings import SettingsError, ensure_home, load_settings, parse_roles, validate_spark_master


def test_defaults_live_under_home(tmp_path: Path) -> None:
    s = load_settings({"MODELOPS_HOME": str(tmp_path)})
    assert s.home == tmp_path.resolve()
    assert s.mlflow_tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert s.store_url == f"sqlite:///{tmp_path.resolve()}/monitoring.db"
    assert s.lake_root == tmp_path.resolve() / "lake"
    assert s.artifact_root == tmp_path.resolve() / "mlartifacts"
    assert s.spark_master == "local[*]"
    assert s.model_name == "churn_classifier"


def test_home_defaults_to_dot_modelops_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings({}).home == tmp_path.resolve() / ".modelops"


def test_every_setting_can_be_overridden(tmp_path: Path) -> None:
    s = load_settings({
        "MODELOPS_HOME": str(tmp_path),
        "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        "MODELOPS_STORE_URL": "postgresql://u@db/monitoring",
        "MODELOPS_LAKE_ROOT": str(tmp_path / "elsewhere"),
        "MODELOPS_ARTIFACT_ROOT": str(tmp_path / "art"),
        "MODELOPS_SPARK_MASTER": "spark://master:7077",
        "MODELOPS_MODEL_NAME": "credit",
    })
    assert (s.mlflow_tracking_uri, s.store_url, s.spark_master, s.model_name) == (
        "http://mlflow:5000", "postgresql://u@db/monitoring", "spark://master:7077", "credit")
    assert s.lake_root == (tmp_path / "elsewhere").resolve()


@pytest.mark.parametrize("master", ["local", "local[*]", "local[2]", "local[4,2]", "spark://h:7077",
                                    "spark://a:7077,b:7077", "yarn", "k8s://https://k:443", "sc://host:15002"])
def test_valid_spark_masters(master: str) -> None:
    assert validate_spark_master(master) == master


@pytest.mark.parametrize("master", ["foo", "local[x]", "spark:/h", "", "local[*] "])
def test_bad_spark_master_is_one_clear_line(master: str) -> None:
    with pytest.raises(SettingsError) as err:
        validate_spark_master(master)
    assert "MODELOPS_SPARK_MASTER" in str(err.value) and "\n" not in str(err.value)


def test_store_url_must_be_a_url(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="MODELOPS_STORE_URL"):
        load_settings({"MODELOPS_HOME": str(tmp_path), "MODELOPS_STORE_URL": "just-a-path.db"})


def test_roles_parse_and_reject_garbage() -> None:
    assert parse_roles("alice:promote,approve; bob:*") == {
        "alice": frozenset({"promote", "approve"}), "bob": frozenset({"*"})}
    with pytest.raises(SettingsError, match="MODELOPS_ROLES"):
        parse_roles("alice")


def test_unwritable_home_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    with pytest.raises(SettingsError) as err:
        ensure_home(load_settings({"MODELOPS_HOME": str(blocker / "home")}))
    assert str(err.value).startswith("MODELOPS_HOME=") and "not writable" in str(err.value)
    assert "\n" not in str(err.value)
