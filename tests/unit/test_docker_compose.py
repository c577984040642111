"""Structure of ``docker-compose.yaml``: Docker cannot run in CI, so check what a ``docker compose up`` relies on.

The file is read with PyYAML (merge keys resolved) and ``${VAR:-default}`` is interpolated with the
defaults only, as on a machine without a ``.env`` file.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

import modelops.settings as modelops_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
INIT_SQL = ROOT / "docker" / "postgres-init.sql"

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
}
EXPECTED_SERVICES = AIRFLOW_SERVICES | {"postgres", "mlflow", "spark-master", "spark-worker"}
ONE_SHOT = {"airflow-init"}
VALID_CONDITIONS = {"service_healthy", "service_completed_successfully"}

#: Settings the platform cannot run without in a deployment (the embedded SQLite/local defaults
#: would silently split state per container).
REQUIRED_ENV = {
    modelops_settings.ENV_HOME,
    modelops_settings.ENV_TRACKING_URI,
    modelops_settings.ENV_STORE_URL,
    modelops_settings.ENV_LAKE_ROOT,
    modelops_settings.ENV_SPARK_MASTER,
}
#: The env var names ``modelops.settings`` reads (its ``ENV_*`` constants).
SETTINGS_ENV_NAMES = {
    value for name, value in vars(modelops_settings).items() if name.startswith("ENV_") and isinstance(value, str)
}

_INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")


# ---------------------------------------------------------------- helpers


def interpolate(value: Any) -> Any:
    """Resolve compose ``${VAR}``, ``${VAR-default}``, ``${VAR:-default}`` and ``$$`` with defaults only."""
    if isinstance(value, str):
        return _INTERPOLATION.sub(lambda m: "$" if m.group(0) == "$$" else (m.group("default") or ""), value)
    if isinstance(value, list):
        return [interpolate(item) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item) for key, item in value.items()}
    return value


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def option(cmd: list[str], name: str) -> str | None:
    """The value of ``--name value`` or ``--name=value`` in a command line."""
    for i, part in enumerate(cmd):
        if part == name and i + 1 < len(cmd):
            return cmd[i + 1]
        if part.startswith(name + "="):
            return part.split("=", 1)[1]
    return None


def container_ports(service: dict[str, Any]) -> set[int]:
    ports: set[int] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    ports.update(int(str(port).split("/")[0]) for port in service.get("expose") or [])
    return ports


def published_ports(service: dict[str, Any]) -> list[str]:
    published = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published"):
                published.append(str(entry["published"]))
        elif str(entry).count(":") >= 1:
            published.append(str(entry).split("/")[0].rsplit(":", 2)[-2])
    return published


def listening_ports(name: str, service: dict[str, Any]) -> set[int]:
    """Ports the service listens on inside the network: declared ports, ``--port`` and image defaults."""
    ports = container_ports(service)
    port = option(command(service), "--port")
    if port:
        ports.add(int(port))
    if str(service.get("image", "")).startswith("postgres:"):
        ports.add(5432)
    return ports


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source (volume name or host path) for short-syntax and long-syntax volumes."""
    result = {}
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            result[entry["target"]] = entry.get("source", "")
        else:
            source, target = str(entry).split(":")[:2]
            result[target] = source
    return result


def init_sql() -> tuple[set[str], dict[str, str]]:
    """Databases and ``role -> password`` created by docker/postgres-init.sql."""
    text = INIT_SQL.read_text()
    databases = set(re.findall(r"CREATE\s+DATABASE\s+(\w+)", text, re.IGNORECASE))
    roles = dict(re.findall(r"CREATE\s+ROLE\s+(\w+)\s+(?:WITH\s+)?LOGIN\s+PASSWORD\s+'([^']*)'", text, re.IGNORECASE))
    return databases, roles


def uses_project_image(service: dict[str, Any]) -> bool:
    return "build" in service


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), "no services mapping"
    return interpolate(data)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def airflow_env(services: dict[str, dict[str, Any]]) -> dict[str, str]:
    return environment(services["airflow-scheduler"])


# ---------------------------------------------------------------- services and health


def test_expected_services_exist(services: dict[str, dict[str, Any]]) -> None:
    missing = EXPECTED_SERVICES - services.keys()
    assert not missing, f"services missing from docker-compose.yaml: {sorted(missing)}"


def test_every_service_has_an_image_or_build(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert service.get("image") or service.get("build"), f"{name}: neither image nor build"


@pytest.mark.parametrize("name", sorted(EXPECTED_SERVICES - ONE_SHOT))
def test_long_running_service_has_healthcheck(services: dict[str, dict[str, Any]], name: str) -> None:
    check = services[name].get("healthcheck")
    assert isinstance(check, dict) and not check.get("disable"), f"{name}: no healthcheck"
    test = check.get("test")
    if isinstance(test, str):
        assert test.strip(), f"{name}: empty healthcheck test"
    else:
        assert isinstance(test, list) and len(test) >= 2, f"{name}: healthcheck test is not a command: {test!r}"
        assert test[0] in {"CMD", "CMD-SHELL"}, f"{name}: healthcheck test must start with CMD or CMD-SHELL"
        assert all(str(part).strip() for part in test[1:]), f"{name}: healthcheck command has empty parts"


@pytest.mark.parametrize("name", sorted(ONE_SHOT))
def test_one_shot_service_does_not_restart(services: dict[str, dict[str, Any]], name: str) -> None:
    assert str(services[name].get("restart", "no")) in {"no", "on-failure"}, f"{name} must exit, not restart"
    assert command(services[name])[:3] == ["airflow", "db", "migrate"]


def test_depends_on_uses_valid_conditions_on_existing_services(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on must be a mapping with conditions"
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown service {target!r}"
            assert target != name, f"{name} depends on itself"
            condition = (spec or {}).get("condition")
            assert condition in VALID_CONDITIONS, f"{name} -> {target}: condition {condition!r}"
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), f"{name} waits for {target} healthy, it has no healthcheck"
            else:
                assert target in ONE_SHOT, f"{name} waits for long-running {target} to complete"


def test_dependency_graph_has_no_cycles(services: dict[str, dict[str, Any]]) -> None:
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "active", f"dependency cycle: {' -> '.join([*path, name])}"
        state[name] = "active"
        for target in services[name].get("depends_on") or {}:
            visit(target, [*path, name])
        state[name] = "done"

    for name in services:
        visit(name, [])


def test_airflow_services_wait_for_init_database_and_mlflow(services: dict[str, dict[str, Any]]) -> None:
    for name in AIRFLOW_SERVICES - ONE_SHOT:
        depends = services[name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["mlflow"]["condition"] == "service_healthy", name
    assert services["airflow-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["spark-worker"]["depends_on"]["spark-master"]["condition"] == "service_healthy"
    assert services["mlflow"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_published_host_ports_are_unique(services: dict[str, dict[str, Any]]) -> None:
    published = [port for service in services.values() for port in published_ports(service)]
    assert len(published) == len(set(published)), f"host port published twice: {published}"


def test_volumes_are_declared_and_bind_sources_exist(compose: dict[str, Any]) -> None:
    declared = set((compose.get("volumes") or {}).keys())
    for name, service in compose["services"].items():
        for target, source in mounts(service).items():
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: bind mount source {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source!r} (at {target}) is not declared"


# ---------------------------------------------------------------- Airflow configuration


def test_airflow_services_share_one_environment(services: dict[str, dict[str, Any]]) -> None:
    envs = {name: environment(services[name]) for name in AIRFLOW_SERVICES}
    reference = envs["airflow-apiserver"]
    for name, env in envs.items():
        assert env == reference, f"{name} environment differs from airflow-apiserver's: " + str(
            sorted(k for k in env.keys() | reference.keys() if env.get(k) != reference.get(k))
        )


def test_airflow_core_settings(airflow_env: dict[str, str]) -> None:
    assert airflow_env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert airflow_env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"
    assert airflow_env["AIRFLOW__API_AUTH__JWT_SECRET"].strip(), "JWT secret must be set (same on all services)"
    assert airflow_env["AIRFLOW__CORE__FERNET_KEY"].strip(), "Fernet key placeholder must be set"
    assert airflow_env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/modelops/dags"
    assert airflow_env["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/opt/modelops/plugins"


def test_dags_and_plugins_are_mounted_where_airflow_looks(
    services: dict[str, dict[str, Any]], airflow_env: dict[str, str]
) -> None:
    for name in AIRFLOW_SERVICES:
        mounted = mounts(services[name])
        for setting, source in (
            ("AIRFLOW__CORE__DAGS_FOLDER", "./dags"),
            ("AIRFLOW__CORE__PLUGINS_FOLDER", "./plugins"),
        ):
            assert mounted.get(airflow_env[setting]) == source, f"{name}: {source} not mounted at {setting}"


def test_execution_api_url_points_at_the_api_server(services: dict[str, dict[str, Any]], airflow_env: dict[str, str]) -> None:
    url = urlsplit(airflow_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert url.scheme == "http" and url.path.rstrip("/") == "/execution"
    assert url.hostname == "airflow-apiserver", "execution API host must be the api-server service"
    apiserver = services["airflow-apiserver"]
    assert command(apiserver)[:2] == ["airflow", "api-server"]
    assert url.port in container_ports(apiserver), f"api-server does not expose port {url.port}"
    port = option(command(apiserver), "--port") or option(command(apiserver), "-p")
    assert port is None or int(port) == url.port, f"api-server listens on {port}, execution URL says {url.port}"
    health = " ".join(map(str, apiserver["healthcheck"]["test"]))
    assert f"localhost:{url.port}/api/v2/monitor/health" in health


def test_metadata_database_url(airflow_env: dict[str, str], services: dict[str, dict[str, Any]]) -> None:
    assert_database_url(airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], services, "SQL_ALCHEMY_CONN")


def test_spark_connection_matches_the_master(airflow_env: dict[str, str], spark_master_url: str) -> None:
    conn = json.loads(airflow_env["AIRFLOW_CONN_SPARK_DEFAULT"])
    assert conn["conn_type"] == "spark"
    # What @task.pyspark builds (host[:port]) and what SparkSubmitHook builds must both be the master URL.
    assert f"{conn['host']}:{conn['port']}" == spark_master_url


# ---------------------------------------------------------------- modelops settings


def test_modelops_env_names_are_settings_names(services: dict[str, dict[str, Any]]) -> None:
    assert modelops_settings.ENV_TRACKING_URI in SETTINGS_ENV_NAMES, "settings constants were not found"
    for name, service in services.items():
        used = {key for key in environment(service) if key.startswith("MODELOPS_") or key.startswith("MLFLOW_TRACKING")}
        unknown = used - SETTINGS_ENV_NAMES
        assert not unknown, f"{name}: {sorted(unknown)} are not read by modelops.settings"


def test_required_settings_are_set_and_load(airflow_env: dict[str, str]) -> None:
    missing = {name for name in REQUIRED_ENV if not airflow_env.get(name, "").strip()}
    assert not missing, f"required settings not set for Airflow: {sorted(missing)}"
    loaded = modelops_settings.load_settings(airflow_env)  # raises SettingsError on a malformed value
    assert loaded.store_url == airflow_env[modelops_settings.ENV_STORE_URL]
    assert str(loaded.lake_root) == airflow_env[modelops_settings.ENV_LAKE_ROOT]


def test_store_url_points_at_a_created_database(airflow_env: dict[str, str], services: dict[str, dict[str, Any]]) -> None:
    assert_database_url(airflow_env[modelops_settings.ENV_STORE_URL], services, modelops_settings.ENV_STORE_URL)


def test_tracking_uri_points_at_the_mlflow_server(airflow_env: dict[str, str], services: dict[str, dict[str, Any]]) -> None:
    url = urlsplit(airflow_env[modelops_settings.ENV_TRACKING_URI])
    assert url.scheme == "http" and url.hostname in services, f"tracking host {url.hostname!r} is not a service"
    mlflow = services[url.hostname]
    cmd = command(mlflow)
    assert cmd[:2] == ["mlflow", "server"], "the tracking URI must name the service running `mlflow server`"
    assert url.port in listening_ports(url.hostname, mlflow), f"mlflow does not listen on {url.port}"
    assert option(cmd, "--host") == "0.0.0.0", "mlflow must listen on all interfaces to be reachable"
    allowed = (option(cmd, "--allowed-hosts") or "").split(",")
    assert f"{url.hostname}:{url.port}" in allowed, "MLflow 3 rejects Host headers not in --allowed-hosts"
    assert_database_url(option(cmd, "--backend-store-uri") or "", services, "mlflow --backend-store-uri")
    health = " ".join(map(str, mlflow["healthcheck"]["test"]))
    assert f"localhost:{url.port}/health" in health


def test_mlflow_artifacts_live_on_a_volume(services: dict[str, dict[str, Any]], compose: dict[str, Any]) -> None:
    cmd = command(services["mlflow"])
    destination = option(cmd, "--artifacts-destination") or option(cmd, "--default-artifact-root")
    assert destination, "mlflow server needs --artifacts-destination or --default-artifact-root"
    assert mounts(services["mlflow"]).get(destination) in (compose.get("volumes") or {}), "artifacts not on a volume"


def test_shared_paths_are_shared_volumes(services: dict[str, dict[str, Any]], airflow_env: dict[str, str]) -> None:
    lake = airflow_env[modelops_settings.ENV_LAKE_ROOT]
    home = airflow_env[modelops_settings.ENV_HOME]
    sources = {name: mounts(services[name]) for name in AIRFLOW_SERVICES | {"spark-worker"}}
    lake_volumes = {name: mounted.get(lake) for name, mounted in sources.items()}
    assert None not in lake_volumes.values(), f"lake root {lake} not mounted in: {lake_volumes}"
    assert len(set(lake_volumes.values())) == 1, "driver and executors must see the same lake volume"
    for name in AIRFLOW_SERVICES:
        assert home in sources[name], f"{name}: MODELOPS_HOME {home} is not a volume"


def test_spark_worker_settings_match_airflow(services: dict[str, dict[str, Any]], airflow_env: dict[str, str]) -> None:
    worker_env = environment(services["spark-worker"])
    for key, value in worker_env.items():
        if key in SETTINGS_ENV_NAMES:
            assert airflow_env.get(key) == value, f"spark-worker {key} differs from Airflow's"


# ---------------------------------------------------------------- Spark


@pytest.fixture(scope="module")
def spark_master_url(airflow_env: dict[str, str]) -> str:
    return airflow_env[modelops_settings.ENV_SPARK_MASTER]


def test_spark_master_url_points_at_the_master_service(services: dict[str, dict[str, Any]], spark_master_url: str) -> None:
    url = urlsplit(spark_master_url)
    assert url.scheme == "spark" and url.hostname == "spark-master", spark_master_url
    master_cmd = command(services["spark-master"])
    assert "org.apache.spark.deploy.master.Master" in master_cmd
    assert int(option(master_cmd, "--port") or 7077) == url.port, "master RPC port differs from the URL"
    worker_cmd = command(services["spark-worker"])
    assert "org.apache.spark.deploy.worker.Worker" in worker_cmd
    assert spark_master_url in worker_cmd, "the worker must register with the same master URL"


def test_spark_healthchecks_probe_the_web_ui_ports(services: dict[str, dict[str, Any]]) -> None:
    for name, default_port in (("spark-master", 8080), ("spark-worker", 8081)):
        port = option(command(services[name]), "--webui-port") or str(default_port)
        health = " ".join(map(str, services[name]["healthcheck"]["test"]))
        assert f":{port}" in health, f"{name}: healthcheck does not probe its web UI port {port}"


def test_driver_and_executors_share_one_image(services: dict[str, dict[str, Any]]) -> None:
    # A Spark cluster must run the driver's Spark build and Python libraries (spark_udf, mapInPandas).
    images = {services[name].get("image") for name in AIRFLOW_SERVICES | {"spark-master", "spark-worker"}}
    assert len(images) == 1, f"Airflow and Spark services use different images: {images}"


# ---------------------------------------------------------------- image build


def test_build_dockerfile_exists_and_uses_constraints(services: dict[str, dict[str, Any]]) -> None:
    built = {name: service["build"] for name, service in services.items() if uses_project_image(service)}
    assert built.keys() >= AIRFLOW_SERVICES, "every Airflow service must build the project image"
    for name, build in built.items():
        context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = context / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        text = dockerfile.read_text()
        assert re.search(r"^FROM python:3\.11", text, re.MULTILINE), f"{dockerfile}: not a Python 3.11 base"
        assert "openjdk-17-jre-headless" in text, f"{dockerfile}: Spark 4 needs Java 17"
        installs = [line for line in text.splitlines() if "pip install" in line]
        assert installs and all("-c constraints.txt" in line for line in installs), f"{dockerfile}: unconstrained pip"
        assert any("-e ." in line for line in installs), f"{dockerfile}: project not installed"
        assert (context / "constraints.txt").is_file() or "constraints.txt" not in text


def test_database_driver_is_a_project_dependency() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[\[<>=!~; ]", dep, maxsplit=1)[0].lower() for dep in dependencies}
    assert "psycopg" in names, "postgresql+psycopg:// URLs need psycopg (v3) in the image"


def test_postgres_runs_the_init_script(services: dict[str, dict[str, Any]]) -> None:
    mounted = mounts(services["postgres"])
    init = [src for target, src in mounted.items() if target.startswith("/docker-entrypoint-initdb.d/")]
    assert init and (ROOT / init[0]).resolve() == INIT_SQL.resolve(), "postgres-init.sql is not mounted"
    databases, _ = init_sql()
    assert {"airflow", "mlflow", "monitoring"} <= databases


# ---------------------------------------------------------------- shared assertion


def assert_database_url(raw: str, services: dict[str, dict[str, Any]], what: str) -> None:
    url = urlsplit(raw)
    assert url.scheme == "postgresql+psycopg", f"{what}: use postgresql+psycopg:// (psycopg2 is not installed)"
    assert url.hostname in services, f"{what}: host {url.hostname!r} is not a compose service"
    assert url.port in listening_ports(url.hostname, services[url.hostname]), f"{what}: wrong port {url.port}"
    databases, roles = init_sql()
    database = url.path.lstrip("/")
    assert database in databases, f"{what}: database {database!r} is not created by {INIT_SQL.name}"
    assert url.username in roles, f"{what}: role {url.username!r} is not created by {INIT_SQL.name}"
    assert roles[url.username] == url.password, f"{what}: password differs from {INIT_SQL.name}"
