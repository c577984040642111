from __future__ import annotations

import pytest

from modelops.monitoring.store import (
    MonitoringStore,
    StoreUnavailableError,
    normalize_url,
    open_store,
    safe_url,
    split_statements,
)
from modelops.settings import SettingsError


def test_migrate_is_idempotent_and_store_round_trips(store_url: str) -> None:
    store = MonitoringStore(store_url)
    first = store.migrate()
    assert "0001_platform.sql" in first
    assert store.migrate() == []
    row_a = store.record_check("store", True, "probe a")
    row_b = store.record_check("store", False, "probe b")
    assert row_b > row_a
    rows = store.fetch_all("SELECT component, ok, detail FROM platform_checks ORDER BY id")
    assert [(r["component"], bool(r["ok"]), r["detail"]) for r in rows] == [
        ("store", True, "probe a"), ("store", False, "probe b")]
    assert store.server_version().split()[0] in {"SQLite", "PostgreSQL"}
    store.dispose()


def test_unreachable_postgres_is_one_line_naming_the_setting() -> None:
    with pytest.raises(StoreUnavailableError) as err:
        open_store("postgresql://nobody:secret@127.0.0.1:1/nothing")
    message = str(err.value)
    assert message.startswith("MODELOPS_STORE_URL=postgresql+psycopg://nobody:***@127.0.0.1:1/nothing")
    assert "secret" not in message and "\n" not in message


def test_unsupported_dialect_is_rejected() -> None:
    with pytest.raises(SettingsError, match="dialect 'mysql' is not supported"):
        MonitoringStore("mysql://u@h/db")


def test_plain_postgres_urls_use_psycopg3() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert safe_url("postgresql://u:pw@h/db") == "postgresql+psycopg://u:***@h/db"


def test_split_statements_drops_comments() -> None:
    script = "-- header\nCREATE TABLE a (x INT);\n-- note\nCREATE INDEX i ON a (x);\n"
    assert split_statements(script) == ["CREATE TABLE a (x INT)", "CREATE INDEX i ON a (x)"]
