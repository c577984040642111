"""Model cards: what a model version is for, what it was trained on and how well it does.

:func:`write_model_card` writes, into one directory per model version::

    model_card.md            references the PNGs by relative name (for MLflow's artifact viewer, git)
    model_card.html          self-contained: the PNGs are embedded as base64 data URIs
    calibration.png          reliability diagram + histogram of holdout predictions
    feature_importance.png   permutation importance per original input column

Both documents are rendered from one list of sections, so they always say the same thing; every
piece of user-supplied text is HTML-escaped in both (Markdown renderers pass raw HTML through).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from modelops.reports import plots

MARKDOWN_NAME = "model_card.md"
HTML_NAME = "model_card.html"
CALIBRATION_NAME = "calibration.png"
IMPORTANCE_NAME = "feature_importance.png"

DateLike = dt.date | str
FEATURE_KINDS = ("numeric", "categorical")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ModelCardData:
    """What the card says about a model version (everything except what is computed from the model).

    :param model_name: the registered model's name.
    :param version: its registry version; may be ``""`` before registration.
    :param purpose: what the model is for and who uses it.
    :param data_window: ``(start, end)`` of the training data, dates or ISO strings.
    :param data_digest: digest of the training data.
    :param data_source: where the training data came from (table, path, query).
    :param rows_train: training rows.
    :param rows_holdout: holdout rows (the rows metrics, calibration and importance come from).
    :param features: ``{"numeric": [...], "categorical": [...]}`` feature names (a missing key means none).
    :param metrics: ``{name: value}``, e.g. holdout ROC AUC.
    :param params: training parameters and hyper-parameters.
    :param known_limitations: one sentence each.
    :param created_at: when the card was made (default: now, UTC).
    """

    model_name: str
    version: str
    purpose: str
    data_window: tuple[DateLike, DateLike]
    data_digest: str
    data_source: str
    rows_train: int
    rows_holdout: int
    features: Mapping[str, Sequence[str]]
    metrics: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    known_limitations: list[str] = field(default_factory=list)
    created_at: dt.datetime | str = field(default_factory=_utcnow)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.features) - set(FEATURE_KINDS))
        if unknown:
            raise ValueError(f"ModelCardData.features: unknown kind(s) {unknown}; expected keys {list(FEATURE_KINDS)}")


# --------------------------------------------------------------------------- computations


def expected_calibration_error(y_true: plots.ArrayLike, y_prob: plots.ArrayLike, n_bins: int = 10) -> float:
    """Expected calibration error: ``sum_b (n_b / n) * |observed_rate_b - mean_predicted_b|``.

    Bins are ``n_bins`` equal-width bins over [0, 1] (see :func:`modelops.reports.plots.reliability_table`).

    :param y_true: binary labels (0/1).
    :param y_prob: predicted probability of the positive class.
    :param n_bins: number of bins.
    :returns: a value in [0, 1]; 0 is perfectly calibrated.
    :raises ValueError: on invalid labels or probabilities.
    """
    table = plots.reliability_table(y_true, y_prob, n_bins)
    filled = table.counts > 0
    gaps = np.abs(table.observed_rate[filled] - table.mean_predicted[filled])
    return float(np.sum(table.counts[filled] * gaps) / table.counts.sum())


def positive_probability(model: Any, X: pd.DataFrame) -> np.ndarray:
    """``model.predict_proba(X)`` for the positive class (label ``1``, else the last column)."""
    proba = np.asarray(model.predict_proba(X))
    classes = list(getattr(model, "classes_", []))
    column = classes.index(1) if 1 in classes else proba.shape[1] - 1
    return proba[:, column]


def feature_importance(
    model: Any,
    X: pd.DataFrame,
    y: Sequence[int] | np.ndarray | pd.Series,
    *,
    n_repeats: int = 3,
    random_state: int = 0,
    max_rows: int = 5000,
) -> dict[str, float]:
    """Permutation importance (mean drop in ROC AUC) of each original input column of ``X``.

    Permuting the raw columns of the frame the pipeline takes attributes the importance of a one-hot
    encoded or otherwise expanded feature to the column it came from.

    :param model: a fitted classifier taking ``X`` as is (a full sklearn Pipeline).
    :param X: holdout features.
    :param y: holdout labels (0/1), aligned with ``X`` by position.
    :param n_repeats: permutations per column.
    :param random_state: seed of the row sample and the permutations.
    :param max_rows: rows sampled (without replacement) to bound the cost.
    :returns: ``{column: importance}``, most important first.
    :raises ValueError: if ``X`` and ``y`` differ in length or the sample lacks one of the classes.
    """
    labels = np.asarray(y).ravel()
    if len(X) != labels.size:
        raise ValueError(f"X has {len(X)} rows but y has {labels.size} labels")
    if len(X) > max_rows:
        rows = np.sort(np.random.default_rng(random_state).choice(len(X), size=max_rows, replace=False))
        X, labels = X.iloc[rows], labels[rows]
    if np.unique(labels).size < 2:
        raise ValueError("feature importance needs both classes in y: ROC AUC is undefined for one class")
    result = permutation_importance(model, X, labels, scoring="roc_auc", n_repeats=n_repeats, random_state=random_state)
    scores = {str(name): float(value) for name, value in zip(X.columns, result.importances_mean, strict=True)}
    return dict(sorted(scores.items(), key=lambda item: item[1], reverse=True))


# --------------------------------------------------------------------------- document model


@dataclass(frozen=True)
class _Paragraph:
    text: str


@dataclass(frozen=True)
class _Table:
    header: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


@dataclass(frozen=True)
class _Image:
    alt: str
    filename: str


@dataclass(frozen=True)
class _Bullets:
    items: list[str]


_Block = _Paragraph | _Table | _Image | _Bullets
_Section = tuple[str, list[_Block]]


def _fmt(value: Any) -> str:
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4f}"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _date_text(value: DateLike | dt.datetime) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _param_text(value: Any) -> str:
    # Parameters are shown exactly (a learning rate of 1e-5 must not read 0.0000).
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _key_values(header: tuple[str, str], items: Mapping[str, Any], fmt: Callable[[Any], str]) -> _Block:
    if not items:
        return _Paragraph("None recorded.")
    return _Table(header, [(str(k), fmt(v)) for k, v in items.items()])


def _feature_line(kind: str, names: Sequence[str]) -> str:
    return f"{kind.capitalize()} ({len(names)}): {', '.join(names) or 'none'}"


def _sections(data: ModelCardData, ece: float, n_bins: int, importances: Mapping[str, float], top: int) -> list[_Section]:
    feature_lines = [_feature_line(kind, data.features.get(kind, ())) for kind in FEATURE_KINDS]
    data_rows = [
        ("Window", f"{_date_text(data.data_window[0])} to {_date_text(data.data_window[1])}"),
        ("Source", data.data_source or "not recorded"),
        ("Digest", data.data_digest or "not recorded"),
        ("Training rows", f"{data.rows_train:,}"),
        ("Holdout rows", f"{data.rows_holdout:,}"),
    ]
    ranked = list(importances.items())[:top]
    limitations = data.known_limitations
    return [
        ("Purpose", [_Paragraph(data.purpose or "Not stated.")]),
        ("Data", [_Table(("Field", "Value"), data_rows)]),
        ("Features", [_Bullets(feature_lines)]),
        ("Metrics", [_key_values(("Metric", "Value"), data.metrics, _fmt)]),
        ("Calibration", [
            _Image("Reliability diagram", CALIBRATION_NAME),
            _Paragraph(f"Expected calibration error on the holdout ({n_bins} equal-width bins): {ece:.4f}"),
        ]),
        ("Feature importance", [
            _Image("Permutation feature importance", IMPORTANCE_NAME),
            _Table(("Feature", "Mean ROC AUC drop"), [(name, f"{value:.4f}") for name, value in ranked]),
        ]),
        ("Known limitations", [_Bullets(list(limitations)) if limitations else _Paragraph("None recorded.")]),
        ("Parameters", [_key_values(("Parameter", "Value"), data.params, _param_text)]),
    ]


def _title(data: ModelCardData) -> str:
    return f"Model card: {data.model_name} {'v' + data.version if data.version else '(unversioned)'}"


# --------------------------------------------------------------------------- rendering


def _md_text(text: str) -> str:
    return html.escape(text, quote=False)


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|").replace("\n", " ")


def _md_block(block: _Block) -> str:
    if isinstance(block, _Paragraph):
        return _md_text(block.text)
    if isinstance(block, _Image):
        return f"![{_md_cell(block.alt)}]({block.filename})"
    if isinstance(block, _Bullets):
        return "\n".join(f"- {_md_cell(item)}" for item in block.items)
    lines = ["| " + " | ".join(_md_cell(h) for h in block.header) + " |", "|" + "---|" * len(block.header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
    return "\n".join(lines)


def _render_markdown(title: str, created_at: str, sections: list[_Section]) -> str:
    parts = [f"# {_md_text(title)}", f"_Created {_md_text(created_at)}_"]
    for heading, blocks in sections:
        parts.append(f"## {heading}")
        parts.extend(_md_block(block) for block in blocks)
    return "\n\n".join(parts) + "\n"


def _html_block(block: _Block, images: Mapping[str, bytes]) -> str:
    esc = html.escape
    if isinstance(block, _Paragraph):
        return f"<p>{esc(block.text)}</p>"
    if isinstance(block, _Image):
        encoded = base64.b64encode(images[block.filename]).decode("ascii")
        return f'<img src="data:image/png;base64,{encoded}" alt="{esc(block.alt)}">'
    if isinstance(block, _Bullets):
        return "<ul>" + "".join(f"<li>{esc(item)}</li>" for item in block.items) + "</ul>"
    head = "".join(f"<th>{esc(h)}</th>" for h in block.header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in block.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 56rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
p { white-space: pre-line; } .created { color: #666; }
table { border-collapse: collapse; } th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; }
td { font-variant-numeric: tabular-nums; } img { max-width: 100%; }
"""


def _render_html(title: str, created_at: str, sections: list[_Section], images: Mapping[str, bytes]) -> str:
    body = [f"<h1>{html.escape(title)}</h1>", f'<p class="created">Created {html.escape(created_at)}</p>']
    for heading, blocks in sections:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        body.extend(_html_block(block, images) for block in blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- writing


def write_model_card(
    data: ModelCardData,
    model: Any,
    X_holdout: pd.DataFrame,
    y_holdout: Sequence[int] | np.ndarray | pd.Series,
    out_dir: str | os.PathLike[str],
    *,
    n_bins: int = 10,
    top: int = 15,
    n_repeats: int = 3,
    random_state: int = 0,
    max_rows: int = 5000,
) -> dict[str, Path]:
    """Write the model card (Markdown and self-contained HTML) and its two plots into ``out_dir``.

    :param data: the descriptive part of the card.
    :param model: the fitted pipeline (takes ``X_holdout`` as is, has ``predict_proba``).
    :param X_holdout: holdout features, raw columns.
    :param y_holdout: holdout labels (0/1).
    :param out_dir: directory to write into (created if needed); existing files are replaced.
    :param n_bins: calibration bins.
    :param top: features shown in the importance plot and table.
    :param n_repeats: permutations per column for the importance.
    :param random_state: seed for the importance's row sample and permutations.
    :param max_rows: holdout rows used for the importance.
    :returns: ``{"markdown", "html", "calibration", "feature_importance"}`` to the written paths.
    :raises ValueError: on invalid holdout labels or predictions (e.g. a single class).
    """
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(y_holdout).ravel()
    probability = positive_probability(model, X_holdout)
    ece = expected_calibration_error(labels, probability, n_bins)
    importances = feature_importance(
        model, X_holdout, labels, n_repeats=n_repeats, random_state=random_state, max_rows=max_rows
    )
    paths = {
        "calibration": plots.calibration_plot(labels, probability, target / CALIBRATION_NAME, n_bins),
        "feature_importance": plots.feature_importance_plot(importances, target / IMPORTANCE_NAME, top),
    }
    sections = _sections(data, ece, n_bins, importances, top)
    title = _title(data)
    created = data.created_at if isinstance(data.created_at, str) else data.created_at.isoformat(timespec="seconds")
    images = {CALIBRATION_NAME: paths["calibration"].read_bytes(), IMPORTANCE_NAME: paths["feature_importance"].read_bytes()}
    paths["markdown"] = target / MARKDOWN_NAME
    paths["markdown"].write_text(_render_markdown(title, created, sections), encoding="utf-8")
    paths["html"] = target / HTML_NAME
    paths["html"].write_text(_render_html(title, created, sections, images), encoding="utf-8")
    return {key: paths[key] for key in ("markdown", "html", "calibration", "feature_importance")}
