"""Where the platform's DAG files are, for tools that load them outside the scheduler."""

from __future__ import annotations

from pathlib import Path


def dags_folder() -> Path:
    """Airflow's configured ``[core] dags_folder``."""
    from airflow.configuration import conf

    return Path(conf.get("core", "dags_folder")).expanduser().resolve()
