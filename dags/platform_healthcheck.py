"""
### Platform healthcheck

Checks that every component of the platform is reachable **and writable**, and reports versions:

| task | what it does |
| --- | --- |
| `check_home` | the project home exists and is writable |
| `check_lake` | writes and reads back a parquet file under the lake root |
| `check_store` | migrates the monitoring store, writes a probe row and reads it back |
| `check_mlflow` | logs a run with a metric and an artifact, reads it back, queries the registry |
| `check_spark` | starts a session (`spark_default`, else `MODELOPS_SPARK_MASTER`), runs an aggregate and a Python UDF |
| `report` | writes `<home>/reports/healthcheck.json` and logs a summary |

A failing check fails its task with one line naming the setting to fix; `report` still runs, lists it,\nand fails the run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

from modelops_airflow.decorators import spark_task

DEFAULT_ARGS = {"owner": "modelops", "retries": 1, "retry_delay": timedelta(seconds=20)}


@dag(
    dag_id="platform_healthcheck",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["modelops", "platform"],
    doc_md=__doc__,
)
def platform_healthcheck() -> None:
    @task
    def check_home() -> dict[str, Any]:
        from modelops import health
        from modelops.settings import get_settings

        return health.check_home(get_settings()).as_dict()

    @task
    def check_lake() -> dict[str, Any]:
        from modelops import health
        from modelops.settings import get_settings

        return health.check_lake(get_settings()).as_dict()

    @task
    def check_store() -> dict[str, Any]:
        from modelops import health
        from modelops.settings import get_settings

        return health.check_store(get_settings()).as_dict()

    @task
    def check_mlflow() -> dict[str, Any]:
        from modelops import health
        from modelops.settings import get_settings

        return health.check_mlflow(get_settings()).as_dict()

    @spark_task
    def check_spark(spark: Any = None) -> dict[str, Any]:
        from modelops import health
        from modelops.settings import get_settings

        return health.check_spark(get_settings(), session=spark).as_dict()

    @task(trigger_rule="all_done")
    def report(ti: Any = None) -> dict[str, Any]:
        from modelops import health
        from modelops.settings import get_settings

        results = {name: ti.xcom_pull(task_ids=f"check_{name}") for name in health.COMPONENTS}
        return health.summarize(get_settings(), results)

    home = check_home()
    home >> [check_lake(), check_store(), check_mlflow(), check_spark()] >> report()


platform_healthcheck()
