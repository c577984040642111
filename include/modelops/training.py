"""Training on a window of the lake's labeled data, logged to MLflow with its data, profile and card.

A training window is a range of event dates. Features come from the landing partitions of those days;
labels arrive later in their own partitions and are joined on ``(customer_id, event_ds)``. Rows whose
label has not arrived (by ``as_of``) are not training data yet and are counted, not silently used.
The holdout is time-based: the latest ``holdout_fraction`` of rows by event time.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelops import datasets

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from modelops.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_CANDIDATE = "hgb"
TRAINING_EXPERIMENT_PREFIX = "modelops-training"


class TrainingDataError(ValueError):
    """The training data cannot produce a model. The message names the window and the problem."""


@dataclass(frozen=True)
class TrainingWindow:
    """Event dates ``start``..``end`` inclusive."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise TrainingDataError(f"training window ends ({self.end}) before it starts ({self.start})")

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@dataclass(frozen=True)
class LabeledData:
    frame: pd.DataFrame
    window: TrainingWindow
    source_uri: str
    unlabeled_rows: int
    feature_paths: tuple[str, ...] = ()


@dataclass
class TrainingResult:
    run_id: str
    model_uri: str
    candidate: str
    metrics: dict[str, float]
    params: dict[str, Any]
    window: TrainingWindow
    data_digest: str
    rows_train: int
    rows_holdout: int
    artifacts: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "model_uri": self.model_uri, "candidate": self.candidate,
            "metrics": self.metrics, "params": self.params, "window": str(self.window),
            "data_digest": self.data_digest, "rows_train": self.rows_train, "rows_holdout": self.rows_holdout,
            "artifacts": self.artifacts,
        }


# ------------------------------------------------------------------------------------------ data

def load_labeled(landing_root: Path, window: TrainingWindow, *, source: str = "customers",
                 as_of: date | None = None) -> LabeledData:
    """Features of the window's days joined with the labels that arrived by ``as_of`` (default: all).

    :raises TrainingDataError: no feature partition in the window, or no labeled row.
    """
    import pandas as pd

    feature_paths = [p for d in window.days() for p in _partition_files(landing_root / source, d)]
    if not feature_paths:
        raise TrainingDataError(f"training window {window}: no feature partitions under {landing_root / source}")
    features = pd.concat([_read(p) for p in feature_paths], ignore_index=True)
    features[datasets.EVENT_DS] = features[datasets.EVENT_TS].dt.strftime("%Y-%m-%d")
    label_dir = landing_root / datasets.labels_source(source)
    label_paths = [p for p in sorted(label_dir.glob("ds=*/part-*")) if as_of is None or _ds_of(p) <= as_of]
    if not label_paths:
        raise TrainingDataError(f"training window {window}: no label partitions under {label_dir}"
                                + (f" arrived by {as_of}" if as_of else ""))
    labels = pd.concat([_read(p) for p in label_paths], ignore_index=True)
    labels = labels[labels[datasets.EVENT_DS].between(window.start.isoformat(), window.end.isoformat())]
    key = [datasets.ENTITY_ID, datasets.EVENT_DS]
    joined = features.merge(labels[[*key, datasets.LABEL]], on=key, how="left", validate="one_to_one")
    unlabeled = int(joined[datasets.LABEL].isna().sum())
    frame = joined[joined[datasets.LABEL].notna()].reset_index(drop=True)
    if frame.empty:
        raise TrainingDataError(f"training window {window}: {len(joined)} feature rows but no label has arrived")
    return LabeledData(frame, window, (landing_root / source).as_uri(), unlabeled, tuple(map(str, feature_paths)))


def _partition_files(source_dir: Path, day: date) -> list[Path]:
    return sorted((source_dir / f"ds={day.isoformat()}").glob("part-*"))


def _ds_of(path: Path) -> date:
    return date.fromisoformat(path.parent.name.removeprefix("ds="))


def _read(path: Path) -> pd.DataFrame:
    import pandas as pd

    if path.suffix == ".csv":
        return pd.read_csv(path, parse_dates=[datasets.EVENT_TS])
    return pd.read_parquet(path)


def validate_training_frame(frame: pd.DataFrame, *, numeric: Sequence[str], categorical: Sequence[str],
                            label: str = datasets.LABEL, context: str = "training data") -> None:
    """Reject data no model should be trained on, naming the problem.

    :raises TrainingDataError: empty, missing label or feature columns, NaN labels, one class only.
    """
    if frame.empty:
        raise TrainingDataError(f"{context}: no rows")
    if label not in frame.columns:
        raise TrainingDataError(f"{context}: label column {label!r} is missing")
    missing = [c for c in (*numeric, *categorical) if c not in frame.columns]
    if missing:
        raise TrainingDataError(f"{context}: feature column(s) missing: {', '.join(missing)}")
    nan_labels = int(frame[label].isna().sum())
    if nan_labels:
        raise TrainingDataError(f"{context}: {nan_labels} row(s) have a NaN label")
    classes = sorted(frame[label].unique().tolist())
    if len(classes) < 2:
        raise TrainingDataError(f"{context}: all {len(frame)} labels are {classes[0]!r}; need both classes")


def time_split(frame: pd.DataFrame, holdout_fraction: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Oldest ``1 - holdout_fraction`` of rows by event time for training, the rest for holdout."""
    if not 0.0 < holdout_fraction < 1.0:
        raise TrainingDataError(f"holdout_fraction must be between 0 and 1, got {holdout_fraction}")
    ordered = frame.sort_values(datasets.EVENT_TS, kind="stable").reset_index(drop=True)
    cut = round(len(ordered) * (1.0 - holdout_fraction))
    if cut < 1 or cut >= len(ordered):
        raise TrainingDataError(f"{len(ordered)} rows are too few for a {holdout_fraction:.0%} holdout")
    return ordered.iloc[:cut], ordered.iloc[cut:]


# ------------------------------------------------------------------------------------------ models

CANDIDATES: dict[str, dict[str, Any]] = {
    "hgb": {"max_iter": 200, "learning_rate": 0.08, "max_leaf_nodes": 31, "l2_regularization": 1.0},
    "logreg": {"C": 1.0, "max_iter": 500},
    "rf": {"n_estimators": 150, "min_samples_leaf": 20, "n_jobs": 1},
}


def build_pipeline(candidate: str, *, numeric: Sequence[str], categorical: Sequence[str],
                   params: Mapping[str, Any] | None = None, random_state: int = 0) -> Pipeline:
    """A preprocessing + classifier pipeline that takes the raw feature frame.

    :raises ValueError: for an unknown candidate (the message lists the known ones).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    if candidate not in CANDIDATES:
        raise ValueError(f"unknown candidate {candidate!r}; known: {', '.join(sorted(CANDIDATES))}")
    merged = {**CANDIDATES[candidate], **(params or {})}
    cat_imputer = SimpleImputer(strategy="constant", fill_value="__missing__")
    if candidate == "hgb":
        # Trees need no scaling; ordinal codes + native categorical support beat one-hot here.
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1)
        pre = ColumnTransformer([("num", "passthrough", list(numeric)),
                                 ("cat", make_pipeline(cat_imputer, encoder), list(categorical))],
                                verbose_feature_names_out=False)
        n_num = len(numeric)
        cat_mask = [False] * n_num + [True] * len(categorical)
        clf: Any = HistGradientBoostingClassifier(categorical_features=cat_mask, random_state=random_state, **merged)
    else:
        one_hot = OneHotEncoder(handle_unknown="ignore", min_frequency=20)
        num_steps = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        pre = ColumnTransformer([("num", num_steps, list(numeric)),
                                 ("cat", make_pipeline(cat_imputer, one_hot), list(categorical))])
        clf = (LogisticRegression(**merged) if candidate == "logreg"
               else RandomForestClassifier(random_state=random_state, **merged))
    return Pipeline([("preprocess", pre), ("classifier", clf)])


def classification_metrics(y_true: Any, y_prob: Any, *, threshold: float = 0.5) -> dict[str, float]:
    """ROC AUC, F1, log loss, Brier, expected calibration error, accuracy and row count."""
    import numpy as np
    from sklearn.metrics import accuracy_score, brier_score_loss, f1_score, log_loss, roc_auc_score

    from modelops.reports.model_card import expected_calibration_error

    y_true = np.asarray(y_true).astype(int)
    y_prob = np.clip(np.asarray(y_prob, dtype=float), 1e-7, 1 - 1e-7)
    y_pred = (y_prob >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y_true, y_prob)),
        "f1": float(f1_score(y_true, y_pred)),
        "log_loss": float(log_loss(y_true, y_prob, labels=[0, 1])),
        "brier": float(brier_score_loss(y_true, y_prob)),
        "ece": float(expected_calibration_error(y_true, y_prob)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "rows": float(len(y_true)),
    }


def code_version(repo_dir: Path | None = None) -> str:
    """The git commit of the code (``unknown`` outside a git checkout)."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_dir or Path(__file__).parent,
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown"


# ------------------------------------------------------------------------------------------ train + log

def train_and_log(settings: Settings, data: LabeledData, *, model_name: str, candidate: str = DEFAULT_CANDIDATE,
                  params: Mapping[str, Any] | None = None, holdout_fraction: float = 0.2,
                  numeric: Sequence[str] = datasets.NUMERIC_FEATURES,
                  categorical: Sequence[str] = datasets.CATEGORICAL_FEATURES) -> TrainingResult:
    """Fit ``candidate`` on the window, evaluate on a time-based holdout, and log everything to MLflow.

    Logged: params, holdout metrics, the model (signature + input example), the training dataset
    (``mlflow.data``: source and digest), tags (code version, window), the reference profile
    (``reference_profile.json``) and the model card (``model_card/``).
    """
    import mlflow

    from modelops.tracking import experiment_id

    validate_training_frame(data.frame, numeric=numeric, categorical=categorical, context=f"training window {data.window}")
    train, holdout = time_split(data.frame, holdout_fraction)
    validate_training_frame(train, numeric=numeric, categorical=categorical, context=f"train split of {data.window}")
    feature_cols = [*numeric, *categorical]
    pipeline = build_pipeline(candidate, numeric=numeric, categorical=categorical, params=params)
    pipeline.fit(train[feature_cols], train[datasets.LABEL].astype(int))
    holdout_prob = pipeline.predict_proba(holdout[feature_cols])[:, 1]
    metrics = classification_metrics(holdout[datasets.LABEL], holdout_prob)
    all_params = {"candidate": candidate, "holdout_fraction": holdout_fraction, **CANDIDATES[candidate], **(params or {})}

    dataset = mlflow.data.from_pandas(  # type: ignore[attr-defined]
       data.frame, source=data.source_uri, targets=datasets.LABEL,
                                      name=f"{model_name}-{data.window}")
    exp = experiment_id(settings, f"{TRAINING_EXPERIMENT_PREFIX}/{model_name}")
    with mlflow.start_run(experiment_id=exp, run_name=f"{candidate}-{data.window}") as run:
        mlflow.log_params(all_params)
        mlflow.log_metrics({f"holdout_{k}": v for k, v in metrics.items()})
        mlflow.log_input(dataset, context="training")
        mlflow.set_tags({
            "modelops.code_version": code_version(), "modelops.training_window": str(data.window),
            "modelops.data_digest": dataset.digest, "modelops.data_source": data.source_uri,
            "modelops.unlabeled_rows": str(data.unlabeled_rows), "modelops.candidate": candidate,
        })
        info = _log_model(pipeline, train[feature_cols])
        artifacts = _log_profile_and_card(pipeline, train, holdout, holdout_prob, feature_cols, numeric, categorical,
                                          model_name=model_name, data=data, digest=dataset.digest, metrics=metrics,
                                          params=all_params)
    return TrainingResult(run.info.run_id, info.model_uri, candidate, metrics, all_params, data.window,
                          dataset.digest, len(train), len(holdout), artifacts)


def _log_model(pipeline: Pipeline, sample: pd.DataFrame) -> Any:
    """Log with skops, naming exactly the types this pipeline needs so loading it is trusted and safe."""
    import mlflow
    import skops.io
    from mlflow.models import infer_signature

    example = sample.head(5)
    signature = infer_signature(example, pipeline.predict_proba(example))
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
    return mlflow.sklearn.log_model(pipeline, name="model", signature=signature, input_example=example,
                                    skops_trusted_types=trusted, pyfunc_predict_fn="predict_proba")


def _log_profile_and_card(pipeline: Pipeline, train: pd.DataFrame, holdout: pd.DataFrame, holdout_prob: Any,
                          feature_cols: list[str], numeric: Sequence[str], categorical: Sequence[str], *,
                          model_name: str, data: LabeledData, digest: str, metrics: dict[str, float],
                          params: dict[str, Any]) -> dict[str, str]:
    import mlflow

    from modelops.profile import build_profile
    from modelops.reports.model_card import ModelCardData, write_model_card

    train_prob = pipeline.predict_proba(train[feature_cols])[:, 1]
    profile = build_profile(train[feature_cols], numeric=numeric, categorical=categorical, prediction=train_prob,
                            model_name=model_name, data_digest=digest)
    mlflow.log_dict(profile, "reference_profile.json")
    card = ModelCardData(
        model_name=model_name, version="", purpose="Predict which customers churn, to target retention offers.",
        data_window=(data.window.start.isoformat(), data.window.end.isoformat()), data_digest=digest,
        data_source=data.source_uri, rows_train=len(train), rows_holdout=len(holdout),
        features={"numeric": list(numeric), "categorical": list(categorical)}, metrics=metrics, params=params,
        known_limitations=[
            "Trained on synthetic data; labels arrive 3 days after the event, so the newest days are not in training.",
            f"{data.unlabeled_rows} rows of the window had no label yet and were excluded.",
            "Unseen categories are encoded as unknown; heavy covariate shift degrades calibration first.",
        ],
    )
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_model_card(card, pipeline, holdout[feature_cols], holdout[datasets.LABEL].astype(int), Path(tmp))
        mlflow.log_artifacts(tmp, "model_card")
    return {"profile": "reference_profile.json", **{k: f"model_card/{Path(v).name}" for k, v in paths.items()}}


def first_days_window(landing_root: Path, days: int, *, source: str = "customers",
                      start: date | None = None) -> TrainingWindow:
    """``days`` event days from ``start`` (default: the first landing partition of ``source``).

    :raises TrainingDataError: no landing partitions, or ``days`` < 1.
    """
    if days < 1:
        raise TrainingDataError(f"train_days must be at least 1, got {days}")
    if start is None:
        partitions = sorted((landing_root / source).glob("ds=*"))
        if not partitions:
            raise TrainingDataError(f"no landing partitions under {landing_root / source}; run `modelops data generate`")
        start = date.fromisoformat(partitions[0].name.removeprefix("ds="))
    return TrainingWindow(start, start + timedelta(days=days - 1))
