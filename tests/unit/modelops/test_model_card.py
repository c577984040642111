"""Tests for :mod:`modelops.reports`: model cards, their plots and the calibration metric."""

from __future__ import annotations

import base64
import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelops import datasets as D
from modelops.reports import model_card as MC
from modelops.reports import plots

DAY0 = dt.date(2024, 1, 1)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FEATURES = list(D.FEATURES)
Trained = tuple[Pipeline, pd.DataFrame, np.ndarray, float]


def _pipeline() -> Pipeline:
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = OneHotEncoder(handle_unknown="ignore")
    columns = ColumnTransformer([("num", numeric, list(D.NUMERIC_FEATURES)), ("cat", categorical, list(D.CATEGORICAL_FEATURES))])
    return Pipeline([("prep", columns), ("clf", LogisticRegression(max_iter=500))])


@pytest.fixture(scope="module")
def trained() -> Trained:
    train = D.generate_day(0, DAY0, 2_000, scenario="baseline", seed=5)
    holdout = D.generate_day(1, DAY0 + dt.timedelta(days=1), 1_000, scenario="baseline", seed=5)
    model = _pipeline().fit(train[FEATURES], train[D.LABEL])
    y = holdout[D.LABEL].to_numpy()
    auc = float(roc_auc_score(y, model.predict_proba(holdout[FEATURES])[:, 1]))
    return model, holdout[FEATURES], y, auc


def _card(auc: float) -> MC.ModelCardData:
    return MC.ModelCardData(
        model_name="churn<b>",
        version="3",
        purpose='Rank customers by churn risk <script>alert("x")</script> & retain them',
        data_window=(DAY0, "2024-01-14"),
        data_digest="sha256:0123abcd",
        data_source="lake/customers",
        rows_train=2_000,
        rows_holdout=1_000,
        features={"numeric": list(D.NUMERIC_FEATURES), "categorical": list(D.CATEGORICAL_FEATURES)},
        metrics={"roc_auc": auc, "rows": 1_000, "note": "a|b"},
        params={"C": 1.0, "tol": 1e-05, "penalty": "l2", "grid": {"C": [0.1, 1.0]}},
        known_limitations=["Trained on synthetic data", "Unseen <categories> are ignored"],
        created_at=dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.UTC),
    )


@pytest.fixture(scope="module")
def card(tmp_path_factory: pytest.TempPathFactory, trained: Trained) -> dict[str, Path]:
    model, X, y, auc = trained
    return MC.write_model_card(_card(auc), model, X, y, tmp_path_factory.mktemp("card") / "churn" / "3")


# --------------------------------------------------------------------------- the card


def test_writes_all_files(card: dict[str, Path]) -> None:
    assert set(card) == {"markdown", "html", "calibration", "feature_importance"}
    assert card["markdown"].name == "model_card.md" and card["html"].name == "model_card.html"
    assert len({p.parent for p in card.values()}) == 1
    for key in ("calibration", "feature_importance"):
        data = card[key].read_bytes()
        assert data.startswith(PNG_MAGIC), key
        assert len(data) > 10_000, key


def test_html_is_self_contained_and_escaped(card: dict[str, Path]) -> None:
    text = card["html"].read_text(encoding="utf-8")
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 2
    assert {base64.b64decode(images[0]), base64.b64decode(images[1])} == {
        card["calibration"].read_bytes(),
        card["feature_importance"].read_bytes(),
    }
    assert "calibration.png" not in text  # nothing to fetch: the card opens anywhere
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; retain them" in text
    assert "churn&lt;b&gt;" in text and "<b>" not in text
    assert "Unseen &lt;categories&gt; are ignored" in text
    headings = ("Purpose", "Data", "Features", "Metrics", "Calibration", "Feature importance", "Known limitations", "Parameters")
    for heading in headings:
        assert f"<h2>{heading}</h2>" in text


def test_markdown_has_metrics_and_relative_images(card: dict[str, Path], trained: Trained) -> None:
    auc = trained[3]
    text = card["markdown"].read_text(encoding="utf-8")
    assert text.startswith("# Model card: churn&lt;b&gt; v3")
    assert f"| roc_auc | {auc:.4f} |" in text
    assert "| rows | 1000 |" in text
    assert "| note | a\\|b |" in text  # a pipe would split the table cell
    assert "](calibration.png)" in text and "](feature_importance.png)" in text
    assert "base64" not in text
    assert "<script>" not in text
    assert "2024-01-01 to 2024-01-14" in text and "sha256:0123abcd" in text and "2,000" in text
    assert f"Numeric ({len(D.NUMERIC_FEATURES)}): age, tenure_months" in text
    assert "- Trained on synthetic data" in text
    assert '| grid | {"C": [0.1, 1.0]} |' in text
    assert "| tol | 1e-05 |" in text  # parameters are shown exactly, metrics to 4 places
    ece = re.search(r"Expected calibration error on the holdout \(10 equal-width bins\): (\d\.\d{4})", text)
    assert ece is not None and 0.0 <= float(ece.group(1)) < 0.1
    assert text.index("## Purpose") < text.index("## Data") < text.index("## Metrics") < text.index("## Parameters")


def test_unversioned_empty_card(tmp_path: Path, trained: Trained) -> None:
    model, X, y, _ = trained
    data = MC.ModelCardData("churn", "", "", ("2024-01-01", "2024-01-02"), "", "", 10, 5, {"numeric": ["age"]})
    paths = MC.write_model_card(data, model, X, y, tmp_path, n_repeats=1, max_rows=300)
    text = paths["markdown"].read_text(encoding="utf-8")
    assert "(unversioned)" in text and "None recorded." in text and "not recorded" in text
    assert "Numeric (1): age" in text and "Categorical (0): none" in text
    with pytest.raises(ValueError, match=r"unknown kind\(s\) \['text'\]"):
        MC.ModelCardData("churn", "", "", ("a", "b"), "", "", 1, 1, {"text": ["bio"]})


# --------------------------------------------------------------------------- feature importance


def test_feature_importance_per_original_column(trained: Trained) -> None:
    model, X, y, _ = trained
    importances = MC.feature_importance(model, X, y, max_rows=600)
    assert set(importances) == set(FEATURES)  # raw columns, not one-hot outputs
    values = list(importances.values())
    assert values == sorted(values, reverse=True)
    # The label is driven by contract type and service signals, never by region.
    top = list(importances)[:4]
    assert "contract_type" in top or "satisfaction_score" in top
    assert importances["contract_type"] > importances["region"]
    assert importances == MC.feature_importance(model, X, y, max_rows=600)  # seeded


def test_feature_importance_rejects_bad_labels(trained: Trained) -> None:
    model, X, _, _ = trained
    with pytest.raises(ValueError, match="both classes"):
        MC.feature_importance(model, X, np.zeros(len(X), dtype=int))
    with pytest.raises(ValueError, match="rows but y has"):
        MC.feature_importance(model, X, np.zeros(3, dtype=int))


# --------------------------------------------------------------------------- calibration


def test_ece_of_calibrated_probabilities_is_small() -> None:
    rng = np.random.default_rng(0)
    prob = rng.uniform(size=50_000)
    y = (rng.uniform(size=prob.size) < prob).astype(int)
    assert MC.expected_calibration_error(y, prob) < 0.01


def test_ece_of_miscalibrated_probabilities_is_large() -> None:
    rng = np.random.default_rng(0)
    true_prob = rng.uniform(size=50_000)
    y = (rng.uniform(size=true_prob.size) < true_prob).astype(int)
    overconfident = np.clip(true_prob**3, 0, 1)  # systematically too low
    assert MC.expected_calibration_error(y, overconfident) > 0.15
    assert MC.expected_calibration_error([1, 1, 0, 0], [0.0, 0.0, 1.0, 1.0]) == pytest.approx(1.0)


def test_ece_bins_include_one() -> None:
    assert MC.expected_calibration_error([1, 0], [1.0, 0.0]) == 0.0
    table = plots.reliability_table([1, 0, 1], [1.0, 0.05, 0.95], n_bins=10)
    assert table.counts.tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0, 2]


@pytest.mark.parametrize(
    ("y_true", "y_prob", "message"),
    [
        ([1, 0], [0.5], "2 values but y_prob has 1"),
        ([], [], "empty"),
        ([1, 0], [0.5, 1.5], r"in \[0, 1\]"),
        ([1, 2], [0.5, 0.5], "binary"),
        ([1, 0], [0.5, np.nan], "NaN"),
    ],
)
def test_ece_rejects_bad_input(y_true: list[float], y_prob: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MC.expected_calibration_error(y_true, y_prob)


def test_plots_reject_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        plots.feature_importance_plot({}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="n_bins"):
        plots.calibration_plot([1], [0.5], tmp_path / "x.png", n_bins=0)


def test_feature_importance_plot_keeps_top(tmp_path: Path) -> None:
    importances = {f"feature_{i}": 0.01 * i - 0.05 for i in range(30)}
    path = plots.feature_importance_plot(importances, tmp_path / "sub" / "fi.png", top=5)
    assert path.read_bytes().startswith(PNG_MAGIC)
