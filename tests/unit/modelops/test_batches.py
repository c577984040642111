from __future__ import annotations

import pytest

from modelops.monitoring.batches import AccountingError, BatchRecord, batches, record_batch
from modelops.monitoring.store import open_store


def _record(**overrides) -> BatchRecord:
    base = dict(source="customers", model="m", ds="2026-01-05", champion_version="1", challenger_version=None,
                rows_in=100, rows_scored=97, rows_quarantined=3, quarantine_reasons={"age out of range": 3},
                score_stats={"champion": {"mean": 0.2}}, stage_seconds={"score": 1.5}, output_path="/lake/x")
    return BatchRecord(**{**base, **overrides})


def test_rerun_updates_the_same_row(store_url: str) -> None:
    store = open_store(store_url)
    record_batch(store, _record())
    record_batch(store, _record(champion_version="2", challenger_version="3"))
    record_batch(store, _record(ds="2026-01-06"))
    rows = batches(store, model="m")
    assert [(r["ds"], r["runs"], r["champion_version"]) for r in rows] == [("2026-01-05", 2, "2"), ("2026-01-06", 1, "1")]
    assert rows[0]["challenger_version"] == "3" and rows[0]["quarantine_reasons"] == {"age out of range": 3}
    assert rows[0]["score_stats"]["champion"]["mean"] == 0.2
    store.dispose()


def test_accounting_must_hold_or_nothing_is_written(store_url: str) -> None:
    store = open_store(store_url)
    with pytest.raises(AccountingError, match=r"rows in 100 != scored 90 \+ quarantined 3 \+ dropped 0"):
        record_batch(store, _record(rows_scored=90))
    assert batches(store) == []
    store.dispose()
