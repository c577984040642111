"""Registry operators: register, promote (compare-and-set) and roll back, all governed and audited.

The actor recorded in the audit log is the user who triggered the DAG run (UI or REST API); scheduled
runs act as ``airflow``. Permissions come from ``MODELOPS_ROLES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator

from modelops_airflow.hooks.registry import ModelRegistryHook

SERVICE_ACTOR = "airflow"
_NONE = ("", "none", "None", "null")


def actor_from_context(context: Any) -> str:
    """The triggering user of this run, or the service identity for scheduled runs."""
    dag_run = context.get("dag_run")
    user = getattr(dag_run, "triggering_user_name", None) if dag_run is not None else None
    return str(user) if user else SERVICE_ACTOR


def _optional(value: Any) -> str | None:
    """Templated values arrive as strings: '' / 'None' mean 'no champion'."""
    return None if value is None or str(value) in _NONE else str(value)


class _RegistryOperator(BaseOperator):
    def __init__(self, *, model_name: str, mlflow_conn_id: str = ModelRegistryHook.default_conn_name,
                 reason: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.mlflow_conn_id = mlflow_conn_id
        self.reason = reason

    @cached_property
    def hook(self) -> ModelRegistryHook:
        return ModelRegistryHook(mlflow_conn_id=self.mlflow_conn_id)

    def _evidence(self, context: Any) -> dict[str, Any]:
        ti = context.get("ti")
        return {"dag_id": self.dag_id, "run_id": getattr(context.get("dag_run"), "run_id", None),
                "task_id": self.task_id, "try_number": getattr(ti, "try_number", None)}


class RegisterModelOperator(_RegistryOperator):
    """Register ``model_uri`` as a new version of ``model_name``; returns the version."""

    template_fields: Sequence[str] = ("model_name", "model_uri", "run_id", "reason")

    def __init__(self, *, model_uri: str, run_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_uri = model_uri
        self.run_id = run_id

    def execute(self, context: Any) -> str:
        version = self.hook.registry.register(self.model_name, self.model_uri, run_id=_optional(self.run_id),
                                              actor=actor_from_context(context), reason=self.reason)
        self.log.info("registered %s version %s from %s", self.model_name, version, self.model_uri)
        return version


class PromoteModelOperator(_RegistryOperator):
    """Make ``version`` the champion if the champion is still ``expected_champion`` (compare-and-set)."""

    template_fields: Sequence[str] = ("model_name", "version", "expected_champion", "reason")

    def __init__(self, *, version: str, expected_champion: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.version = version
        self.expected_champion = expected_champion

    def execute(self, context: Any) -> dict[str, Any]:
        result = self.hook.registry.promote(self.model_name, str(self.version),
                                            expected_champion=_optional(self.expected_champion),
                                            actor=actor_from_context(context), reason=self.reason,
                                            evidence=self._evidence(context))
        self.log.info("%s: champion %s -> %s", self.model_name, result.before.get("champion"), result.after["champion"])
        return {"before": result.before, "after": result.after, "audit_seq": result.audit_seq}


class RollbackModelOperator(_RegistryOperator):
    """Restore ``previous_champion``; with ``expected_champion`` set it is compare-and-set."""

    template_fields: Sequence[str] = ("model_name", "expected_champion", "reason")

    def __init__(self, *, expected_champion: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.expected_champion = expected_champion

    def execute(self, context: Any) -> dict[str, Any]:
        result = self.hook.registry.rollback(self.model_name, actor=actor_from_context(context), reason=self.reason,
                                             expected_champion=_optional(self.expected_champion),
                                             evidence=self._evidence(context))
        self.log.info("%s: rolled back champion %s -> %s", self.model_name, result.before.get("champion"),
                      result.after["champion"])
        return {"before": result.before, "after": result.after, "audit_seq": result.audit_seq}
