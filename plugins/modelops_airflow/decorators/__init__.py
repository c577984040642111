"""TaskFlow decorators of the platform."""

from __future__ import annotations

from modelops_airflow.decorators.spark import spark_task

__all__ = ["spark_task"]
