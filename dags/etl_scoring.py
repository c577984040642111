"""
### ETL scoring — `customers` scored by the `churn_classifier` champion

The platform's main daily job. For one day's landing partition:

1. **extract** the parquet/CSV partition (`<lake>/landing/customers/ds=YYYY-MM-DD`);
2. **gate** it with the Great Expectations suite `include/modelops/suites/customers.yaml` (structural problems —
   missing file, empty file, missing columns, unreadable parquet — fail the task, naming the file);
3. **quarantine** rows that break row rules (nulls in required fields, out-of-range values, bad types, unseen
   categories, duplicate ids) into `<lake>/quarantine/customers/ds=...` with a reason per row;
4. **transform** with the reusable processors, **score** with the `champion` and, when one exists, the
   `challenger` (shadow scores) in the same pass;
5. **write** `<lake>/scored/churn_classifier/ds=...`, replacing only that day (re-runs never duplicate);
6. **record** the batch in the monitoring store (rows in/scored/quarantined, versions, score distribution,
   per-stage seconds; rows in = scored + quarantined + dropped is checked) and emit the Asset
   `x-modelops://scored/customers/churn_classifier` with `extra` for downstream DAGs.

Param `date` (YYYY-MM-DD) scores a chosen day; otherwise the run's logical date. Safe to backfill.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param

from modelops.settings import DEFAULT_MODEL_NAME
from modelops_airflow.pipelines import scoring_pipeline

with DAG(
    dag_id="etl_scoring",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "modelops", "retries": 1, "retry_delay": timedelta(minutes=1)},
    tags=["modelops", "etl", "scoring"],
    doc_md=__doc__,
    params={"date": Param(None, type=["null", "string"], format="date", description="day to score (YYYY-MM-DD)")},
):
    scoring_pipeline(source="customers", model_name=DEFAULT_MODEL_NAME)
