"""Human-facing reports: model cards (:mod:`modelops.reports.model_card`) and their plots
(:mod:`modelops.reports.plots`).

Plots use matplotlib's object-oriented :class:`~matplotlib.figure.Figure` API rendered by Agg, never
pyplot, so generating a report changes no global matplotlib state in the worker process.
"""
