"""
### Model bootstrap

Trains the **first champion** of a model from the first days of labeled data in the lake, registers it,
and promotes it to `champion` through the governed registry (compare-and-set, audited).

Training logs to MLflow: parameters, time-based holdout metrics (ROC AUC, F1, log loss, Brier, ECE), the model
with signature and input example, the training dataset (`mlflow.data`: source and digest), the reference
profile (`reference_profile.json`, read later by drift evaluation) and the model card (`model_card/`).

**Idempotent**: when the model already has a champion the run does nothing (tasks after `should_train` are
skipped) unless the Param `force` is true; then the new version replaces the champion it saw.

Params: `model_name`, `train_days` (event days from the first landing day), `start` (optional YYYY-MM-DD),
`candidate` (`hgb`, `logreg`, `rf`), `force`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from modelops.settings import DEFAULT_MODEL_NAME
from modelops_airflow.operators import PromoteModelOperator, RegisterModelOperator

DEFAULT_ARGS = {"owner": "modelops", "retries": 1, "retry_delay": timedelta(seconds=30)}


@dag(
    dag_id="model_bootstrap",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["modelops", "registry", "training"],
    doc_md=__doc__,
    params={
        "model_name": Param(DEFAULT_MODEL_NAME, type="string", minLength=1),
        "train_days": Param(7, type="integer", minimum=1),
        "start": Param(None, type=["null", "string"], format="date"),
        "candidate": Param("hgb", enum=["hgb", "logreg", "rf"]),
        "force": Param(False, type="boolean"),
    },
    render_template_as_native_obj=False,
)
def model_bootstrap() -> None:
    @task
    def inspect_registry(params: Any = None) -> dict[str, Any]:
        from modelops.registry import ModelRegistry
        from modelops.settings import get_settings

        registry = ModelRegistry(get_settings())
        name = params["model_name"]
        return {"model_name": name, "champion": registry.champion(name) if registry.exists(name) else None}

    @task.short_circuit
    def should_train(state: dict[str, Any], params: Any = None) -> bool:
        if state["champion"] is None:
            return True
        if params["force"]:
            print(f"{state['model_name']} has champion v{state['champion']}; force=true: training a replacement")
            return True
        print(f"{state['model_name']} already has champion v{state['champion']}: nothing to do (set force to retrain)")
        return False

    @task
    def train(params: Any = None) -> dict[str, Any]:
        from datetime import date

        from modelops import training
        from modelops.settings import get_settings

        settings = get_settings()
        start = date.fromisoformat(params["start"]) if params["start"] else None
        window = training.first_days_window(settings.landing_root, params["train_days"], start=start)
        data = training.load_labeled(settings.landing_root, window)
        result = training.train_and_log(settings, data, model_name=params["model_name"], candidate=params["candidate"])
        return result.as_dict()

    state = inspect_registry()
    trained = train()
    register = RegisterModelOperator(
        task_id="register",
        model_name="{{ params.model_name }}",
        model_uri="{{ ti.xcom_pull(task_ids='train')['model_uri'] }}",
        run_id="{{ ti.xcom_pull(task_ids='train')['run_id'] }}",
        reason="bootstrap: first champion trained on {{ ti.xcom_pull(task_ids='train')['window'] }}",
    )
    promote = PromoteModelOperator(
        task_id="promote",
        model_name="{{ params.model_name }}",
        version="{{ ti.xcom_pull(task_ids='register') }}",
        expected_champion="{{ ti.xcom_pull(task_ids='inspect_registry')['champion'] }}",
        reason="bootstrap (force={{ params.force }})",
    )
    should_train(state) >> trained >> register >> promote


model_bootstrap()
