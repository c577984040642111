"""``ModelRegistryHook``: the governed MLflow registry behind an Airflow connection of type ``mlflow``.

The connection holds the tracking URI: either ``extra={"tracking_uri": "sqlite:///..."}`` or host/port/schema
of an MLflow server (``http://mlflow:5000``). Without a connection the platform settings' URI is used, so
the embedded default needs no setup.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook

if TYPE_CHECKING:
    from modelops.registry import ModelRegistry
    from modelops.settings import Settings


class ModelRegistryHook(BaseHook):
    conn_name_attr = "mlflow_conn_id"
    default_conn_name = "mlflow_default"
    conn_type = "mlflow"
    hook_name = "MLflow tracking and registry (modelops)"

    def __init__(self, mlflow_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.mlflow_conn_id = mlflow_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["login", "password"],
            "relabeling": {"host": "MLflow server host", "schema": "Scheme (http/https)"},
            "placeholders": {"extra": '{"tracking_uri": "sqlite:////opt/modelops/home/mlflow.db"}',
                             "host": "mlflow", "port": "5000", "schema": "http"},
        }

    def tracking_uri(self) -> str:
        """From the connection if it exists, else the platform settings."""
        from modelops.settings import get_settings

        try:
            conn = self.get_connection(self.mlflow_conn_id)
        except AirflowNotFoundException:
            return get_settings().mlflow_tracking_uri
        explicit = conn.extra_dejson.get("tracking_uri")
        if explicit:
            return str(explicit)
        if not conn.host:
            return get_settings().mlflow_tracking_uri
        if "://" in conn.host:
            return conn.host
        scheme = conn.schema or "http"
        return f"{scheme}://{conn.host}:{conn.port}" if conn.port else f"{scheme}://{conn.host}"

    @cached_property
    def settings(self) -> Settings:
        from modelops.settings import get_settings

        return get_settings().with_overrides(mlflow_tracking_uri=self.tracking_uri())

    @cached_property
    def registry(self) -> ModelRegistry:
        from modelops.registry import ModelRegistry

        return ModelRegistry(self.settings)

    def get_conn(self) -> ModelRegistry:
        return self.registry

    def test_connection(self) -> tuple[bool, str]:
        try:
            names = self.registry.model_names()
        except Exception as exc:  # the UI shows the message
            return False, str(exc).splitlines()[0]
        return True, f"{self.tracking_uri()}: {len(names)} registered model(s)"
