"""Provider metadata, so Airflow lists the ``mlflow`` connection type (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-modelops",
        "name": "modelops",
        "description": "Airflow-native MLOps: governed MLflow registry, drift monitoring, Spark scoring.",
        "versions": ["0.1.0"],
        "connection-types": [
            {"connection-type": "mlflow", "hook-class-name": "modelops_airflow.hooks.registry.ModelRegistryHook"},
        ],
        "task-decorators": [
            {"name": "modelops_spark", "class-name": "modelops_airflow.decorators.spark.spark_task"},
        ],
    }
