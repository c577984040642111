"""PNG plots for model cards: a reliability diagram and a feature-importance bar chart.

Figures are built with :class:`matplotlib.figure.Figure` and an explicit Agg canvas rather than
pyplot: pyplot keeps a global registry of open figures and a process-wide backend, which leak
memory and clash with other code in a long-lived Airflow worker.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_DPI = 110
#: Labels and predicted probabilities, as numpy arrays or plain sequences.
ArrayLike = Sequence[float] | np.ndarray
_BAR_COLOR = "#3b6ea5"
_ACCENT = "#d1603d"


@dataclass(frozen=True)
class ReliabilityTable:
    """Equal-width calibration bins over [0, 1]; the last bin is closed so ``p = 1`` is counted.

    :param edges: ``n_bins + 1`` bin edges.
    :param counts: predictions per bin.
    :param mean_predicted: mean predicted probability per bin (NaN where the bin is empty).
    :param observed_rate: share of positives per bin (NaN where the bin is empty).
    """

    edges: np.ndarray
    counts: np.ndarray
    mean_predicted: np.ndarray
    observed_rate: np.ndarray


def _check_probabilities(y_true: ArrayLike, y_prob: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(y_true, dtype=float).ravel()
    prob = np.asarray(y_prob, dtype=float).ravel()
    if truth.size != prob.size:
        raise ValueError(f"y_true has {truth.size} values but y_prob has {prob.size}")
    if truth.size == 0:
        raise ValueError("y_true and y_prob are empty")
    if np.isnan(prob).any() or np.isnan(truth).any():
        raise ValueError("y_true and y_prob must not contain NaN")
    if prob.min() < 0.0 or prob.max() > 1.0:
        raise ValueError(f"y_prob must be probabilities in [0, 1], got range [{prob.min():.4g}, {prob.max():.4g}]")
    if not np.isin(truth, (0.0, 1.0)).all():
        raise ValueError("y_true must hold binary labels 0/1")
    return truth, prob


def reliability_table(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10) -> ReliabilityTable:
    """Bin predictions into ``n_bins`` equal-width bins and compare predicted with observed rates.

    :param y_true: binary labels (0/1).
    :param y_prob: predicted probability of the positive class.
    :param n_bins: number of bins over [0, 1].
    :raises ValueError: on mismatched lengths, empty input, NaN, probabilities outside [0, 1],
        non-binary labels or ``n_bins < 1``.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    truth, prob = _check_probabilities(y_true, y_prob)
    # floor(p * n) is bin [k/n, (k+1)/n); clipping folds p == 1 into the last bin.
    index = np.minimum((prob * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    prob_sums = np.bincount(index, weights=prob, minlength=n_bins)
    true_sums = np.bincount(index, weights=truth, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.where(counts > 0, prob_sums / counts, np.nan)
        observed_rate = np.where(counts > 0, true_sums / counts, np.nan)
    return ReliabilityTable(np.linspace(0.0, 1.0, n_bins + 1), counts, mean_predicted, observed_rate)


def _save(figure: Figure, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(target, format="png", dpi=_DPI)
    return target


def calibration_plot(y_true: ArrayLike, y_prob: ArrayLike, path: str | os.PathLike[str], n_bins: int = 10) -> Path:
    """Write a reliability diagram (observed vs. predicted rate per bin) above a histogram of predictions.

    :param y_true: binary labels (0/1).
    :param y_prob: predicted probability of the positive class.
    :param path: the PNG to write; parent directories are created.
    :param n_bins: equal-width bins over [0, 1].
    :returns: ``path``.
    :raises ValueError: on invalid labels or probabilities (see :func:`reliability_table`).
    """
    table = reliability_table(y_true, y_prob, n_bins)
    prob = np.asarray(y_prob, dtype=float).ravel()
    figure = Figure(figsize=(6.4, 6.4), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    filled = table.counts > 0
    top.plot(table.mean_predicted[filled], table.observed_rate[filled], marker="o", color=_BAR_COLOR, label="model")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("observed positive rate")
    top.set_title(f"Reliability diagram ({n_bins} bins, n={prob.size:,})")
    top.grid(alpha=0.3)
    top.legend(loc="upper left")
    bottom.hist(prob, bins=table.edges, color=_BAR_COLOR, edgecolor="white")
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("count")
    bottom.grid(alpha=0.3)
    return _save(figure, path)


def feature_importance_plot(importances: Mapping[str, float], path: str | os.PathLike[str], top: int = 15) -> Path:
    """Write a horizontal bar chart of the ``top`` most important features, the largest at the top.

    :param importances: ``{feature: importance}``, e.g. the mean drop in ROC AUC when the feature is
        permuted; negative values are drawn to the left of zero.
    :param path: the PNG to write; parent directories are created.
    :param top: how many features to show.
    :returns: ``path``.
    :raises ValueError: if ``importances`` is empty or ``top < 1``.
    """
    if not importances:
        raise ValueError("importances is empty: nothing to plot")
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    ranked = sorted(importances.items(), key=lambda item: item[1], reverse=True)[:top]
    names = [name for name, _ in reversed(ranked)]
    values = [float(value) for _, value in reversed(ranked)]
    figure = Figure(figsize=(7.0, 1.2 + 0.38 * len(ranked)), layout="constrained")
    axes = figure.subplots()
    colors = [_BAR_COLOR if v >= 0 else _ACCENT for v in values]
    axes.barh(names, values, color=colors)
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_xlabel("mean decrease in ROC AUC when permuted")
    axes.set_title(f"Permutation feature importance (top {len(ranked)})")
    axes.grid(axis="x", alpha=0.3)
    return _save(figure, path)
