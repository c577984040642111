from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from modelops import datasets, training
from modelops.settings import Settings
from modelops.training import TrainingDataError, TrainingWindow

START = date(2026, 1, 1)


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    datasets.write_landing(root, start=START, days=6, rows_per_day=1500, scenario="baseline", seed=7)
    return root


def test_load_labeled_joins_arrived_labels_only(landing: Path) -> None:
    window = TrainingWindow(START, date(2026, 1, 3))
    data = training.load_labeled(landing, window)
    assert len(data.frame) == 3 * 1500 and data.unlabeled_rows == 0
    assert set(data.frame[datasets.EVENT_DS]) == {"2026-01-01", "2026-01-02", "2026-01-03"}
    # labels for Jan 3 arrive on Jan 6 (3-day delay): as of Jan 5 they are not training data yet
    early = training.load_labeled(landing, window, as_of=date(2026, 1, 5))
    assert len(early.frame) == 2 * 1500 and early.unlabeled_rows == 1500


def test_empty_window_is_a_clear_error(landing: Path) -> None:
    with pytest.raises(TrainingDataError, match=r"2027-01-01\.\.2027-01-02: no feature partitions"):
        training.load_labeled(landing, TrainingWindow(date(2027, 1, 1), date(2027, 1, 2)))
    with pytest.raises(TrainingDataError, match=r"no label partitions .* arrived by 2026-01-02"):
        training.load_labeled(landing, TrainingWindow(START, START), as_of=date(2026, 1, 2))
    with pytest.raises(TrainingDataError, match="1500 feature rows but no label has arrived"):
        training.load_labeled(landing, TrainingWindow(date(2026, 1, 2), date(2026, 1, 2)), as_of=date(2026, 1, 4))
    with pytest.raises(TrainingDataError, match="ends"):
        TrainingWindow(date(2026, 1, 2), START)


def _frame() -> pd.DataFrame:
    return datasets.generate_day(0, START, 400, scenario=datasets.get_scenario("baseline"), seed=1)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.iloc[0:0], "no rows"),
        (lambda f: f.drop(columns=[datasets.LABEL]), "label column 'churned' is missing"),
        (lambda f: f.drop(columns=["tenure_months"]), "feature column(s) missing: tenure_months"),
        (lambda f: f.assign(churned=f[datasets.LABEL].astype(float).where(f.index > 3)), "4 row(s) have a NaN label"),
        (lambda f: f.assign(churned=1), "all 400 labels are 1"),
    ],
    ids=["empty", "no-label", "missing-feature", "nan-labels", "one-class"],
)
def test_bad_training_frames_are_rejected(mutate, message: str) -> None:
    with pytest.raises(TrainingDataError) as err:
        training.validate_training_frame(mutate(_frame()), numeric=datasets.NUMERIC_FEATURES,
                                         categorical=datasets.CATEGORICAL_FEATURES)
    assert message in str(err.value)


def test_time_split_holds_out_the_latest_rows() -> None:
    frame = _frame()
    train, holdout = training.time_split(frame, 0.25)
    assert len(holdout) == 100 and train[datasets.EVENT_TS].max() <= holdout[datasets.EVENT_TS].min()


def test_unknown_candidate_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="known: hgb, logreg, rf"):
        training.build_pipeline("xgb", numeric=["a"], categorical=["b"])


@pytest.mark.parametrize("candidate", ["hgb", "logreg", "rf"])
def test_candidates_learn_the_signal(candidate: str) -> None:
    frame = pd.concat([datasets.generate_day(i, START, 2000, scenario=datasets.get_scenario("baseline"), seed=3)
                       for i in range(2)], ignore_index=True)
    train, holdout = training.time_split(frame, 0.3)
    cols = list(datasets.FEATURES)
    model = training.build_pipeline(candidate, numeric=datasets.NUMERIC_FEATURES,
                                    categorical=datasets.CATEGORICAL_FEATURES, params={"max_iter": 60}
                                    if candidate == "hgb" else None)
    model.fit(train[cols], train[datasets.LABEL])
    metrics = training.classification_metrics(holdout[datasets.LABEL], model.predict_proba(holdout[cols])[:, 1])
    assert metrics["roc_auc"] > 0.75, metrics
    assert 0 <= metrics["ece"] < 0.1 and metrics["rows"] == len(holdout)


def test_train_and_log_records_data_profile_card_and_tags(landing: Path, settings: Settings) -> None:
    import mlflow

    data = training.load_labeled(landing, TrainingWindow(START, date(2026, 1, 3)))
    result = training.train_and_log(settings, data, model_name="churn_test", candidate="hgb",
                                    params={"max_iter": 50})
    assert result.metrics["roc_auc"] > 0.7 and result.rows_train + result.rows_holdout == 4500
    client = mlflow.MlflowClient(settings.mlflow_tracking_uri)
    run = client.get_run(result.run_id)
    assert run.data.tags["modelops.training_window"] == "2026-01-01..2026-01-03"
    assert run.data.tags["modelops.data_digest"] == result.data_digest
    assert run.data.metrics["holdout_roc_auc"] == pytest.approx(result.metrics["roc_auc"])
    inputs = run.inputs.dataset_inputs
    assert inputs and inputs[0].dataset.digest == result.data_digest
    assert landing.as_uri() in inputs[0].dataset.source
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"reference_profile.json", "model_card"} <= artifacts
    card = {a.path for a in client.list_artifacts(result.run_id, "model_card")}
    assert {"model_card/model_card.md", "model_card/model_card.html", "model_card/calibration.png",
            "model_card/feature_importance.png"} <= card
    # the logged model loads (skops with exactly the trusted types) and predicts probabilities
    model = mlflow.sklearn.load_model(result.model_uri)
    probs = model.predict_proba(data.frame[list(datasets.FEATURES)].head(10))[:, 1]
    assert ((probs >= 0) & (probs <= 1)).all()
