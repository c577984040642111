"""``@spark_task``: ``@task.pyspark`` semantics with the platform's session settings.

Like the apache-spark provider's ``@task.pyspark`` it injects ``spark`` and reads the master (or a
Spark Connect URL) and extra conf from an Airflow connection (``spark_default``). Two differences:

* with no such connection the master comes from ``MODELOPS_SPARK_MASTER`` (default ``local[*]``)
  instead of a hard-coded ``local[*]``, and :func:`modelops.spark.session_conf` is applied;
* a session that already existed in the process (``dag.test()`` inside a test session, or a
  notebook) is reused and left running; one the task started is stopped when the task returns.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from airflow.providers.apache.spark.operators.spark_pyspark import SPARK_CONTEXT_KEYS, PySparkOperator
from airflow.providers.common.compat.sdk import DecoratedOperator, TaskDecorator, task_decorator_factory
from airflow.providers.common.compat.standard.operators import PythonOperator

DEFAULT_SPARK_CONN_ID = "spark_default"


def resolve_master(conn_id: str | None) -> tuple[str, dict[str, str]]:
    """The master URL and extra conf for ``conn_id``; settings' master when the connection is absent."""
    from airflow.providers.apache.spark.hooks.spark_connect import SparkConnectHook
    from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook

    from modelops.settings import get_settings

    if conn_id:
        try:
            conn = BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            conn = None
        if conn is not None:
            if conn.conn_type == SparkConnectHook.conn_type:
                url = SparkConnectHook(conn_id).get_connection_url()
            else:
                host = conn.host or "local[*]"
                # AIRFLOW_CONN_SPARK_DEFAULT='spark://master:7077' parses to host 'master': restore the scheme.
                if conn.conn_type == "spark" and "://" not in host and not host.startswith(("local", "yarn")):
                    host = f"spark://{host}"
                url = f"{host}:{conn.port}" if conn.port else host
            return url, {str(k): str(v) for k, v in conn.extra_dejson.items()}
    return get_settings().spark_master, {}


class _SparkDecoratedOperator(DecoratedOperator, PySparkOperator):  # type: ignore[misc]
    custom_operator_name = "@spark_task"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        conn_id: str | None = DEFAULT_SPARK_CONN_ID,
        config_kwargs: dict[str, str] | None = None,
        op_args: Sequence[Any] | None = None,
        op_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # `spark` is injected at run time: give it a default so argument binding at parse time passes.
        signature = inspect.signature(python_callable)
        python_callable.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p.replace(default=None) if p.name in SPARK_CONTEXT_KEYS else p
                        for p in signature.parameters.values()]
        )
        super().__init__(
            kwargs_to_upstream={"python_callable": python_callable, "op_args": op_args, "op_kwargs": op_kwargs},
            python_callable=python_callable,
            conn_id=conn_id,
            config_kwargs=config_kwargs,
            op_args=op_args,
            op_kwargs=op_kwargs,
            **kwargs,
        )

    def execute_callable(self) -> Any:
        from pyspark.sql import SparkSession

        from modelops.spark import build_session

        existing = SparkSession.getActiveSession()
        if existing is not None:
            spark = existing
        else:
            master, extra = resolve_master(self.conn_id)
            spark = build_session(master, app_name=f"{self.dag_id}-{self.task_id}",
                                  extra_conf={**extra, **self.config_kwargs})
        try:
            self.op_kwargs = {**self.op_kwargs, "spark": spark}
            return PythonOperator.execute_callable(self)
        finally:
            if existing is None:
                spark.stop()


def spark_task(python_callable: Callable[..., Any] | None = None, multiple_outputs: bool | None = None,
               **kwargs: Any) -> TaskDecorator:
    """Decorate a function taking ``spark`` (and other arguments) as a Spark task."""
    return task_decorator_factory(
        python_callable=python_callable,
        multiple_outputs=multiple_outputs,
        decorated_operator_class=_SparkDecoratedOperator,
        **kwargs,
    )
