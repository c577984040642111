"""Inference batch records: what each scoring run did, one row per (source, model, day).

Accounting is checked before anything is written: ``rows_in == rows_scored + rows_quarantined + rows_dropped``.
Re-running a day updates its row (``runs`` counts the runs) instead of adding a duplicate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from modelops.monitoring.store import MonitoringStore, utcnow


class AccountingError(RuntimeError):
    """Rows went missing (or appeared) between landing and output. Nothing is recorded."""


@dataclass(frozen=True)
class BatchRecord:
    source: str
    model: str
    ds: str
    champion_version: str
    challenger_version: str | None
    rows_in: int
    rows_scored: int
    rows_quarantined: int
    rows_dropped: int = 0
    quarantine_reasons: Mapping[str, int] = field(default_factory=dict)
    score_stats: Mapping[str, Any] = field(default_factory=dict)
    stage_seconds: Mapping[str, float] = field(default_factory=dict)
    output_path: str = ""
    run_id: str | None = None

    @property
    def batch_id(self) -> str:
        return f"{self.source}:{self.model}:{self.ds}"

    def check_accounting(self) -> None:
        accounted = self.rows_scored + self.rows_quarantined + self.rows_dropped
        if accounted != self.rows_in:
            raise AccountingError(
                f"batch {self.batch_id}: rows in {self.rows_in} != scored {self.rows_scored} + quarantined "
                f"{self.rows_quarantined} + dropped {self.rows_dropped} (= {accounted})")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "batch_id": self.batch_id}


_UPSERT = """
INSERT INTO inference_batches (batch_id, source, model, ds, champion_version, challenger_version, rows_in,
    rows_scored, rows_quarantined, rows_dropped, quarantine_reasons, score_stats, stage_seconds, output_path,
    run_id, runs, created_at, updated_at)
VALUES (:batch_id, :source, :model, :ds, :champion_version, :challenger_version, :rows_in, :rows_scored,
    :rows_quarantined, :rows_dropped, :quarantine_reasons, :score_stats, :stage_seconds, :output_path, :run_id, 1,
    :now, :now)
ON CONFLICT (batch_id) DO UPDATE SET
    champion_version = excluded.champion_version, challenger_version = excluded.challenger_version,
    rows_in = excluded.rows_in, rows_scored = excluded.rows_scored, rows_quarantined = excluded.rows_quarantined,
    rows_dropped = excluded.rows_dropped, quarantine_reasons = excluded.quarantine_reasons,
    score_stats = excluded.score_stats, stage_seconds = excluded.stage_seconds, output_path = excluded.output_path,
    run_id = excluded.run_id, runs = inference_batches.runs + 1, updated_at = excluded.updated_at
"""


def record_batch(store: MonitoringStore, record: BatchRecord) -> None:
    """Check accounting, then insert or update the batch's row."""
    record.check_accounting()
    now = utcnow()
    params = {
        **{k: v for k, v in record.as_dict().items() if k not in ("quarantine_reasons", "score_stats", "stage_seconds")},
        "ds": date.fromisoformat(record.ds) if store.dialect == "postgresql" else record.ds,
        "quarantine_reasons": json.dumps(dict(record.quarantine_reasons), sort_keys=True),
        "score_stats": json.dumps(dict(record.score_stats), sort_keys=True),
        "stage_seconds": json.dumps(dict(record.stage_seconds), sort_keys=True),
        "now": now if store.dialect == "postgresql" else now.isoformat(),
    }
    store.execute(_UPSERT, params)


def batches(store: MonitoringStore, *, model: str | None = None, source: str | None = None) -> list[dict[str, Any]]:
    """Recorded batches, oldest day first, JSON columns decoded."""
    filters = {k: v for k, v in (("model", model), ("source", source)) if v is not None}
    where = " AND ".join(f"{k} = :{k}" for k in filters) or "1 = 1"
    rows = store.fetch_all(f"SELECT * FROM inference_batches WHERE {where} ORDER BY ds, batch_id", filters)
    for row in rows:
        row["ds"] = str(row["ds"])
        for key in ("quarantine_reasons", "score_stats", "stage_seconds"):
            row[key] = json.loads(row[key])
    return rows
