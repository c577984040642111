"""MLflow tracking and registry access configured from settings.

The tracking URI is passed explicitly to every client; nothing relies on MLflow's global state
being set by someone else.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from modelops.settings import ENV_TRACKING_URI, Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient


class TrackingUnavailableError(RuntimeError):
    """MLflow tracking or registry cannot be reached. One line naming the URI."""


def client(settings: Settings) -> MlflowClient:
    """An ``MlflowClient`` for tracking and registry at the configured URI; also sets MLflow's globals."""
    import mlflow

    # The platform retries whole operations with its own backoff (modelops.registry.RetryPolicy) and Airflow
    # retries tasks; MLflow's per-request retries (7 with exponential backoff by default) would multiply those
    # into minutes of silence before an "MLflow unreachable" error. A deployment can still set these itself.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    return mlflow.MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)


def experiment_id(settings: Settings, name: str) -> str:
    """Get or create experiment ``name`` with its artifacts under the configured artifact root."""
    try:
        mlflow_client = client(settings)
        existing = mlflow_client.get_experiment_by_name(name)
        if existing is not None:
            return str(existing.experiment_id)
        location = (settings.artifact_root / name).as_uri()
        return str(mlflow_client.create_experiment(name, artifact_location=location))
    except Exception as exc:  # MLflow raises MlflowException, sqlalchemy or requests errors here.
        raise TrackingUnavailableError(f"{ENV_TRACKING_URI}={settings.mlflow_tracking_uri}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
