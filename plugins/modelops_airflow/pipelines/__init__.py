"""Builders that give a data engineer a whole governed pipeline in a few lines of a DAG file."""

from __future__ import annotations

from modelops_airflow.pipelines.scoring import scored_asset, scoring_pipeline

__all__ = ["scored_asset", "scoring_pipeline"]
