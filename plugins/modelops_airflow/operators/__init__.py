"""Operators: thin wrappers over :mod:`modelops` that Params and templates drive."""

from __future__ import annotations

from modelops_airflow.operators.registry import (
    PromoteModelOperator,
    RegisterModelOperator,
    RollbackModelOperator,
)

__all__ = ["PromoteModelOperator", "RegisterModelOperator", "RollbackModelOperator"]
