from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from itertools import pairwise

import pytest

from modelops import governance
from modelops.governance import (
    GENESIS_HASH,
    AuditError,
    AuditEvent,
    AuditLog,
    Outcome,
    Permission,
    PermissionDeniedError,
    authorize,
    verify_command,
)
from modelops.monitoring.store import MonitoringStore, open_store
from modelops.settings import parse_roles

ROLES = parse_roles("admin:*;alice:register,promote;bob:register;carol:approve")


# ---------------------------------------------------------------- authorize


@pytest.mark.parametrize(
    ("actor", "action"),
    [("admin", "promote"), ("admin", "rollback"), ("alice", "promote"), ("alice", Permission.REGISTER), ("carol", "approve")],
)
def test_authorize_allows_granted_actions(actor: str, action: str) -> None:
    authorize(actor, action, ROLES)


@pytest.mark.parametrize(
    ("actor", "action", "message"),
    [
        ("bob", "promote", "actor 'bob' may not promote (MODELOPS_ROLES grants: register)"),
        ("alice", "approve", "actor 'alice' may not approve (MODELOPS_ROLES grants: promote, register)"),
        ("eve", "register", "actor 'eve' may not register (MODELOPS_ROLES grants: nothing)"),
    ],
)
def test_authorize_denies_and_names_the_grants(actor: str, action: str, message: str) -> None:
    with pytest.raises(PermissionDeniedError) as err:
        authorize(actor, action, ROLES)
    assert str(err.value) == message
    assert (err.value.actor, err.value.action) == (actor, action)


def test_authorize_rejects_unknown_actions_instead_of_denying() -> None:
    with pytest.raises(ValueError, match="unknown action 'promot'"):
        authorize("admin", "promot", ROLES)
    with pytest.raises(ValueError, match="unknown action"):
        authorize("admin", "*", ROLES)


# ---------------------------------------------------------------- the chain


@pytest.fixture
def store(store_url: str) -> Iterator[MonitoringStore]:
    opened = open_store(store_url)
    yield opened
    opened.dispose()


def _append(log: AuditLog, n: int, model: str = "churn") -> list[AuditEvent]:
    return [
        log.append(
            actor="alice",
            action="promote",
            model=model,
            version=str(i),
            before_aliases={"champion": str(i - 1)} if i > 1 else {},
            after_aliases={"champion": str(i)},
            reason=f"promotion {i}",
            evidence={"run_id": f"run{i}", "auc": 0.8 + i / 100, "links": ["http://mlflow/x"]},
        )
        for i in range(1, n + 1)
    ]


def test_append_chains_hashes_and_reads_back_identically(store: MonitoringStore) -> None:
    log = AuditLog(store)
    first, second = _append(log, 2)
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert first.hash == first.compute_hash() and first.hash != second.hash
    assert first.ts is not None and first.ts.tzinfo is not None and len(first.event_id) == 32
    # The timestamp and JSON fields must survive the store unchanged, or verify could never succeed.
    assert log.events() == [first, second]
    assert log.count() == 2
    assert log.verify().ok


def test_hash_covers_the_timestamp_to_the_microsecond() -> None:
    event = AuditEvent("a", "promote", "m", "1", "ok", ts=datetime(2026, 1, 1, 12, tzinfo=UTC), seq=1, prev_hash=GENESIS_HASH)
    later = replace(event, ts=datetime(2026, 1, 1, 12, 0, 0, 1, tzinfo=UTC))
    assert event.compute_hash() != later.compute_hash()


def test_events_filter_by_model_and_limit_to_the_newest(store: MonitoringStore) -> None:
    log = AuditLog(store)
    _append(log, 3, model="churn")
    _append(log, 2, model="fraud")
    assert [e.model for e in log.events(model="fraud")] == ["fraud", "fraud"]
    assert [e.seq for e in log.events(limit=2)] == [4, 5]
    assert [e.seq for e in log.events(model="churn", limit=1)] == [3]


def test_chains_are_independent(store: MonitoringStore) -> None:
    registry, other = AuditLog(store), AuditLog(store, chain="other")
    _append(registry, 2)
    (event,) = _append(other, 1)
    assert event.seq == 1 and event.prev_hash == GENESIS_HASH
    assert registry.verify().ok and other.verify().ok
    assert (registry.count(), other.count()) == (2, 1)


def test_append_rejects_bad_events(store: MonitoringStore) -> None:
    log = AuditLog(store)
    with pytest.raises(AuditError, match="unknown audit outcome 'maybe'"):
        log.append(actor="a", action="promote", model="m", outcome="maybe")
    with pytest.raises(AuditError, match="non-empty actor"):
        log.append(actor="", action="promote", model="m")
    with pytest.raises(AuditError, match="not representable as JSON"):
        log.append(actor="a", action="promote", model="m", evidence={"auc": float("nan")})
    assert log.count() == 0


def test_denied_outcome_is_recorded(store: MonitoringStore) -> None:
    log = AuditLog(store)
    with pytest.raises(PermissionDeniedError) as err:
        authorize("bob", "promote", ROLES)
    event = log.append(actor="bob", action="promote", model="m", version="2", outcome=Outcome.DENIED, reason=str(err.value))
    assert log.events()[0].outcome == "denied" == event.outcome


def test_append_inside_a_locked_registry_transaction_commits_and_rolls_back_with_it(store: MonitoringStore) -> None:
    log = AuditLog(store)
    with store.locked("registry:churn") as conn:
        log.append(actor="a", action="promote", model="churn", version="1", conn=conn)
    with pytest.raises(RuntimeError, match="registry write failed"), store.locked("registry:churn") as conn:
        log.append(actor="a", action="promote", model="churn", version="2", conn=conn)
        raise RuntimeError("registry write failed")
    assert [e.version for e in log.events()] == ["1"]
    assert log.verify().ok
    assert log.append(actor="a", action="promote", model="churn", version="3").seq == 2


# ---------------------------------------------------------------- tampering


def _problems(log: AuditLog) -> list[str]:
    result = log.verify()
    assert not result.ok
    return result.problems


def test_intact_chain_verifies(store: MonitoringStore) -> None:
    log = AuditLog(store)
    _append(log, 5)
    result = log.verify()
    assert result == governance.VerifyResult(True, 5, [], "registry", 5, log.events()[-1].hash)


def test_edited_row_is_named(store: MonitoringStore) -> None:
    log = AuditLog(store)
    _append(log, 5)
    store.execute("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 3")
    assert _problems(log) == ["row 3: hash mismatch (edited)"]


def test_edited_timestamp_is_named(store: MonitoringStore) -> None:
    log = AuditLog(store)
    _append(log, 3)
    ts = log.events()[1].ts
    assert ts is not None
    store.execute("UPDATE audit_log SET ts = :ts WHERE seq = 2", {"ts": ts.replace(year=2020).isoformat()})
    assert _problems(log) == ["row 2: hash mismatch (edited)"]


def test_unreadable_row_is_named(store: MonitoringStore) -> None:
    log = AuditLog(store)
    _append(log, 3)
    store.execute("UPDATE audit_log SET evidence = '{broken' WHERE seq = 2")
    (problem,) = _problems(log)
    assert problem.startswith("row 2: unreadable (edited)")


def test_deleted_middle_row_is_named_as_a_gap(store: MonitoringStore) -> None:
    log = AuditLog(store)
    _append(log, 6)
    store.execute("DELETE FROM audit_log WHERE seq = 5")
    assert _problems(log) == ["row 5: missing (seq gap 4→6)"]


def test_deleted_run_of_rows_is_named_as_a_gap(store: MonitoringStore) -> None:
    log = AuditLog(store)
    _append(log, 6)
    store.execute("DELETE FROM audit_log WHERE seq IN (1, 2)")
    assert _problems(log) == ["rows 1-2: missing (seq gap 0→3)"]


def test_deleted_last_rows_are_caught_by_the_head(store: MonitoringStore) -> None:
    log = AuditLog(store)
    _append(log, 9)
    store.execute("DELETE FROM audit_log WHERE seq > 7")
    assert _problems(log) == ["head says last seq 9 but last row is 7 (tail deleted)"]


def test_deleted_head_is_named_and_blocks_appends(store: MonitoringStore) -> None:
    log = AuditLog(store)
    _append(log, 2)
    store.execute("DELETE FROM audit_head")
    assert _problems(log) == ["audit_head is missing but 2 rows exist (head deleted)"]
    with pytest.raises(AuditError, match="no audit_head row"):
        _append(log, 1)


def test_edit_with_recomputed_hash_breaks_the_next_link(store: MonitoringStore) -> None:
    log = AuditLog(store)
    _append(log, 5)
    forged = replace(log.events()[2], reason="approved by the board")
    store.execute("UPDATE audit_log SET reason = :r, hash = :h WHERE seq = 3", {"r": forged.reason, "h": forged.compute_hash()})
    assert _problems(log) == ["row 4: prev_hash does not match row 3"]


def test_replaced_last_row_with_recomputed_hash_is_caught_by_the_head(store: MonitoringStore) -> None:
    log = AuditLog(store)
    _append(log, 3)
    forged = replace(log.events()[-1], outcome="denied")
    store.execute("UPDATE audit_log SET outcome = :o, hash = :h WHERE seq = 3", {"o": forged.outcome, "h": forged.compute_hash()})
    assert _problems(log) == ["row 3: hash does not match audit_head (last row replaced)"]


def test_row_inserted_behind_the_head_is_named(store: MonitoringStore) -> None:
    log = AuditLog(store)
    _append(log, 2)
    store.execute(
        "INSERT INTO audit_log SELECT chain, 3, 'forged', ts, actor, action, model, version, outcome, before_aliases, "
        "after_aliases, reason, evidence, prev_hash, hash FROM audit_log WHERE seq = 2"
    )
    problems = _problems(log)
    assert "head says last seq 2 but last row is 3 (rows added outside the audit log)" in problems
    assert "row 3: prev_hash does not match row 2" in problems


# ---------------------------------------------------------------- concurrency and the CLI hook


def test_concurrent_appends_keep_the_chain_contiguous(store: MonitoringStore) -> None:
    log = AuditLog(store)
    threads, per_thread = 8, 3

    def work(worker: int) -> None:
        for i in range(per_thread):
            if i % 2:
                # The registry's path: its own lock first, the chain's lock inside the same transaction.
                with store.locked(f"registry:m{worker}") as conn:
                    log.append(actor=f"w{worker}", action="register", model=f"m{worker}", version=str(i), conn=conn)
            else:
                log.append(actor=f"w{worker}", action="register", model=f"m{worker}", version=str(i))

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(work, w) for w in range(threads)]:
            future.result()
    events = log.events()
    assert log.count() == threads * per_thread
    assert [e.seq for e in events] == list(range(1, threads * per_thread + 1))
    assert all(b.prev_hash == a.hash for a, b in pairwise(events))
    assert log.verify() == governance.VerifyResult(True, 24, [], "registry", 24, events[-1].hash)


def test_verify_command_exit_codes(settings) -> None:
    code, text = verify_command(settings)
    assert (code, text.splitlines()[0]) == (0, "audit chain 'registry': 0 events, intact (head seq 0, hash 000000000000)")
    store = open_store(settings.store_url)
    _append(AuditLog(store), 3)
    store.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    store.dispose()
    code, text = verify_command(settings)
    assert code == 1
    assert text.splitlines() == ["audit chain 'registry': BROKEN, 1 problem(s) in 3 events", "  row 2: hash mismatch (edited)"]
