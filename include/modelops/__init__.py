"""modelops: the domain library of the Airflow-native MLOps platform.

Pure Python over pandas, Spark and MLflow; it never imports Airflow (an import-linter contract checks it).
"""

from __future__ import annotations

__version__ = "0.1.0"
