"""Hooks: the Airflow-facing owners of I/O."""

from __future__ import annotations

from modelops_airflow.hooks.registry import ModelRegistryHook

__all__ = ["ModelRegistryHook"]
