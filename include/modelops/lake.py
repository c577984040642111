"""Lake layout and idempotent partition writes.

::

    <lake>/landing/<source>/ds=YYYY-MM-DD/part-*          raw daily files (parquet or CSV)
    <lake>/landing/<source>_labels/ds=YYYY-MM-DD/part-*   labels, by arrival date
    <lake>/scored/<model>/ds=YYYY-MM-DD/                   scored rows of one day
    <lake>/quarantine/<source>/ds=YYYY-MM-DD/              rows that broke a row rule, with reasons

A day's partition is replaced as a whole: Spark writes to a hidden sibling directory which is then
swapped in, so a re-run never duplicates rows and a failed write never leaves a half partition.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def _ds(day: date | str) -> str:
    text = day.isoformat() if isinstance(day, date) else str(day)
    date.fromisoformat(text)  # raises ValueError naming the bad date
    return text


def landing_partition(lake_root: Path, source: str, day: date | str) -> Path:
    return lake_root / "landing" / source / f"ds={_ds(day)}"


def scored_partition(lake_root: Path, model_name: str, day: date | str) -> Path:
    return lake_root / "scored" / model_name / f"ds={_ds(day)}"


def quarantine_partition(lake_root: Path, source: str, day: date | str) -> Path:
    return lake_root / "quarantine" / source / f"ds={_ds(day)}"


def replace_partition(df: DataFrame, target: Path, *, fmt: str = "parquet", files: int = 1) -> Path:
    """Write ``df`` as the whole content of ``target`` (a local directory), atomically swapping it in."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".staging-{target.name}-{uuid.uuid4().hex[:8]}"
    df.coalesce(files).write.format(fmt).mode("overwrite").save(str(staging))
    retired = target.parent / f".retired-{target.name}-{uuid.uuid4().hex[:8]}"
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
    return target
