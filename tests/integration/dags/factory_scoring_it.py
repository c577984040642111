"""A data engineer's DAG for another model, built with the public factory (used by the factory test).

Copied into the test session's dags folder by ``tests/conftest.py``; it is what the README's example shows.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from modelops_airflow.pipelines import scoring_pipeline

with DAG(
    dag_id="factory_scoring_it",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"owner": "data-eng", "retries": 1, "retry_delay": timedelta(minutes=1)},
    tags=["example"],
    doc_md=__doc__,
):
    scoring_pipeline(source="customers", model_name="churn_factory_it")
