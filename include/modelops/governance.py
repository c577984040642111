"""Who may change the registry, and a tamper-evident record of every change.

* :func:`authorize` checks an actor against ``MODELOPS_ROLES`` (:attr:`Settings.roles`).
* :class:`AuditLog` is an append-only, hash-chained log in the monitoring store (tables in
  ``sql/<dialect>/0002_governance.sql``). Each row's ``hash`` is the SHA-256 of the canonical JSON of
  all its other fields, including ``seq``, ``ts`` and ``prev_hash`` (the previous row's hash), and
  ``audit_head`` keeps each chain's last seq and hash. :meth:`AuditLog.verify` then detects an edited
  row (hash mismatch), an edited row whose hash was recomputed (the next row's ``prev_hash`` no longer
  matches), a deleted row (seq gap: seqs are assigned as last + 1 under a lock, never by a sequence)
  and a deleted tail (the head points past the last row).

Timestamps: ``ts`` is hashed as ISO-8601 UTC text with microseconds (``2026-01-01T12:00:00.000000+00:00``).
SQLite stores exactly that text; PostgreSQL stores a ``timestamptz`` (microsecond precision, so the
instant is exact) and the text is rebuilt from it on read. Either way the hash is recomputed from the
same string, and queries on PostgreSQL get a real timestamp.

The hash chain detects changes made behind the code's back; it does not stop someone who can rewrite
the whole chain and its head. Anchor :attr:`VerifyResult.head_hash` elsewhere (a ticket, a signed
report) when that matters.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelops.monitoring.store import MonitoringStore, as_datetime, open_store, utcnow
from modelops.settings import ENV_ROLES, Settings

#: ``prev_hash`` of a chain's first row.
GENESIS_HASH = "0" * 64
DEFAULT_CHAIN = "registry"


class Permission(StrEnum):
    """What an actor may do to the registry. ``*`` in ``MODELOPS_ROLES`` grants every permission."""

    REGISTER = "register"
    PROMOTE = "promote"
    APPROVE = "approve"
    ROLLBACK = "rollback"
    ALL = "*"


class Outcome(StrEnum):
    """How an audited action ended."""

    OK = "ok"
    DENIED = "denied"
    CONFLICT = "conflict"
    FAILED = "failed"


_ACTIONS = frozenset(p.value for p in Permission)
_OUTCOMES = frozenset(o.value for o in Outcome)


class GovernanceError(RuntimeError):
    """Base of the governance errors."""


class PermissionDeniedError(GovernanceError):
    """``actor`` lacks the permission for ``action``. The message names what the actor is granted."""

    def __init__(self, actor: str, action: str, granted: Iterable[str] = ()) -> None:
        self.actor = actor
        self.action = action
        self.granted = frozenset(granted)
        grants = ", ".join(sorted(self.granted)) or "nothing"
        super().__init__(f"actor {actor!r} may not {action} ({ENV_ROLES} grants: {grants})")


class AuditError(GovernanceError):
    """An audit event cannot be recorded as given, or the stored chain cannot be extended."""


def authorize(actor: str, action: str, roles: Mapping[str, frozenset[str]]) -> None:
    """Return if ``actor`` may perform ``action``; an actor not in ``roles`` may do nothing.

    :param actor: who acts (``Settings.actor``, or the Airflow user/DAG owner).
    :param action: one of :class:`Permission` except ``*``.
    :param roles: ``Settings.roles``: actor to granted permissions.
    :raises ValueError: if ``action`` is not a permission (a typo must not read as a denial).
    :raises PermissionDeniedError: if the actor is not granted ``action`` or ``*``.
    """
    if action == Permission.ALL or action not in _ACTIONS:
        choices = ", ".join(p.value for p in Permission if p is not Permission.ALL)
        raise ValueError(f"unknown action {action!r} (use one of: {choices})")
    granted = roles.get(actor, frozenset())
    if Permission.ALL not in granted and action not in granted:
        raise PermissionDeniedError(actor, str(action), granted)


@dataclass(frozen=True)
class AuditEvent:
    """One audit record. ``seq``, ``event_id``, ``ts``, ``prev_hash`` and ``hash`` are set once stored
    (``seq`` 0 means not stored; stored seqs start at 1).

    :param before_aliases: alias to version before the action, e.g. ``{"champion": "3"}``.
    :param after_aliases: alias to version after it.
    :param evidence: why the action was allowed: run ids, metrics, links; any JSON-able mapping.
    """

    actor: str
    action: str
    model: str
    version: str | None
    outcome: str
    before_aliases: dict[str, str] = field(default_factory=dict)
    after_aliases: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    chain: str = DEFAULT_CHAIN
    seq: int = 0
    event_id: str = ""
    ts: datetime | None = None
    prev_hash: str = ""
    hash: str = ""

    def compute_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of every field but ``hash``."""
        payload = asdict(self)
        payload.pop("hash")
        payload["ts"] = _ts_text(self.ts) if self.ts else None
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of :meth:`AuditLog.verify`: ``problems`` name a row seq and what is wrong with it."""

    ok: bool
    count: int
    problems: list[str] = field(default_factory=list)
    chain: str = DEFAULT_CHAIN
    head_seq: int = 0
    head_hash: str = GENESIS_HASH

    def summary(self) -> str:
        if self.ok:
            head = f"head seq {self.head_seq}, hash {self.head_hash[:12]}"
            return f"audit chain {self.chain!r}: {self.count} events, intact ({head})"
        return f"audit chain {self.chain!r}: BROKEN, {len(self.problems)} problem(s) in {self.count} events"


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, no NaN: the same value always gives the same text.

    :raises AuditError: if ``value`` holds NaN or infinity, which JSON cannot carry.
    """
    try:
        # default=str keeps datetimes, paths and decimals in evidence usable; they are stored as text.
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str)
    except ValueError as exc:
        raise AuditError(f"audit event is not representable as JSON: {exc}") from exc


def _ts_text(ts: datetime) -> str:
    return as_datetime(ts).astimezone(UTC).isoformat(timespec="microseconds")


def _json_dict(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """``value`` as it reads back from the store (string keys, lists for tuples, text for the rest)."""
    return dict(json.loads(canonical_json(dict(value or {}))))


_COLUMNS = (
    "chain, seq, event_id, ts, actor, action, model, version, outcome, "
    "before_aliases, after_aliases, reason, evidence, prev_hash, hash"
)
_INSERT = sa.text(
    f"INSERT INTO audit_log ({_COLUMNS}) VALUES (:chain, :seq, :event_id, :ts, :actor, :action, :model, :version, :outcome, "
    ":before_aliases, :after_aliases, :reason, :evidence, :prev_hash, :hash)"
)
_UPSERT_HEAD = sa.text(
    "INSERT INTO audit_head (chain, last_seq, last_hash) VALUES (:chain, :seq, :hash) "
    "ON CONFLICT (chain) DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash"
)
_HEAD = sa.text("SELECT last_seq, last_hash FROM audit_head WHERE chain = :chain")


class AuditLog:
    """The hash-chained audit log ``chain`` in ``store`` (migrated, see :func:`modelops.monitoring.store.open_store`).

    :param store: the monitoring store.
    :param chain: the chain's name; chains are independent sequences in the same tables.
    """

    def __init__(self, store: MonitoringStore, chain: str = DEFAULT_CHAIN) -> None:
        self.store = store
        self.chain = chain

    @property
    def lock_name(self) -> str:
        return f"audit:{self.chain}"

    def append(
        self,
        *,
        actor: str,
        action: str,
        model: str,
        version: str | None = None,
        outcome: str = Outcome.OK,
        before_aliases: Mapping[str, str] | None = None,
        after_aliases: Mapping[str, str] | None = None,
        reason: str = "",
        evidence: Mapping[str, Any] | None = None,
        conn: Connection | None = None,
    ) -> AuditEvent:
        """Record one event at the end of the chain and return it as stored.

        :param conn: the caller's transaction, e.g. from ``store.locked(f"registry:{model}")``; the event
            then commits or rolls back with the caller's change. The chain's lock is taken inside it (take
            it last, after any registry lock, so lock order is the same everywhere). Without ``conn`` the
            event is written in its own locked transaction.
        :raises AuditError: on an unknown outcome, empty actor/action/model, or a chain whose head is missing.
        """
        draft = AuditEvent(
            actor=actor,
            action=str(action),
            model=model,
            version=None if version is None else str(version),
            outcome=_check_outcome(outcome),
            before_aliases={str(k): str(v) for k, v in (before_aliases or {}).items()},
            after_aliases={str(k): str(v) for k, v in (after_aliases or {}).items()},
            reason=reason,
            evidence=_json_dict(evidence),
            chain=self.chain,
        )
        for name in ("actor", "action", "model"):
            if not getattr(draft, name):
                raise AuditError(f"audit event needs a non-empty {name}")
        with self._chain_locked(conn) as locked_conn:
            return self._write(locked_conn, draft)

    def events(self, model: str | None = None, limit: int | None = None) -> list[AuditEvent]:
        """Stored events in seq order; with ``limit``, the newest ``limit`` of them (still in seq order).

        :param model: only events about this registered model.
        """
        sql = "SELECT " + _COLUMNS + " FROM audit_log WHERE chain = :chain"
        params: dict[str, Any] = {"chain": self.chain}
        if model is not None:
            sql += " AND model = :model"
            params["model"] = model
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = int(limit)
        rows = self.store.fetch_all(sql, params)
        return [_event_from_row(row) for row in reversed(rows)]

    def count(self) -> int:
        with self.store.begin() as conn:
            return _count(conn, self.chain)

    def verify(self) -> VerifyResult:
        """Check every row's hash, the links between rows, seq contiguity and the head.

        Runs under the chain's lock so a concurrent append cannot look like a broken tail (on SQLite this
        briefly holds the database write lock).
        """
        with self.store.locked(self.lock_name) as conn:
            head = conn.execute(_HEAD, {"chain": self.chain}).one_or_none()
            rows = conn.execute(
                sa.text("SELECT " + _COLUMNS + " FROM audit_log WHERE chain = :chain ORDER BY seq"), {"chain": self.chain}
            )
            checker = _ChainChecker()
            for row in rows:
                checker.check(dict(row._mapping))
        problems = checker.problems + _head_problems(head, checker)
        head_seq, head_hash = (int(head[0]), str(head[1])) if head else (0, GENESIS_HASH)
        return VerifyResult(not problems, checker.count, problems, self.chain, head_seq, head_hash)

    @contextmanager
    def _chain_locked(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is None:
            with self.store.locked(self.lock_name) as own:
                yield own
        else:
            self.store.lock_within(conn, self.lock_name)
            yield conn

    def _write(self, conn: Connection, draft: AuditEvent) -> AuditEvent:
        last_seq, last_hash = self._head(conn)
        unsigned = replace(draft, seq=last_seq + 1, event_id=uuid.uuid4().hex, ts=utcnow(), prev_hash=last_hash)
        event = replace(unsigned, hash=unsigned.compute_hash())
        conn.execute(_INSERT, _row_params(event, self.store.dialect))
        conn.execute(_UPSERT_HEAD, {"chain": self.chain, "seq": event.seq, "hash": event.hash})
        return event

    def _head(self, conn: Connection) -> tuple[int, str]:
        head = conn.execute(_HEAD, {"chain": self.chain}).one_or_none()
        if head is not None:
            return int(head[0]), str(head[1])
        stored = _count(conn, self.chain)
        if stored:
            # Restarting at seq 1 would fork the chain; someone removed the head, which verify reports.
            raise AuditError(f"audit chain {self.chain!r} has {stored} rows but no audit_head row; run 'modelops audit verify'")
        return 0, GENESIS_HASH


def _count(conn: Connection, chain: str) -> int:
    return int(conn.execute(sa.text("SELECT COUNT(*) FROM audit_log WHERE chain = :chain"), {"chain": chain}).scalar_one())


def _check_outcome(outcome: str) -> str:
    if outcome not in _OUTCOMES:
        raise AuditError(f"unknown audit outcome {outcome!r} (use one of: {', '.join(o.value for o in Outcome)})")
    return str(Outcome(outcome).value)


def _row_params(event: AuditEvent, dialect: str) -> dict[str, Any]:
    params = asdict(event)
    for name in ("before_aliases", "after_aliases", "evidence"):
        params[name] = canonical_json(params[name])
    assert event.ts is not None  # set by _write
    # PostgreSQL gets the instant for its timestamptz; SQLite keeps the hashed text verbatim.
    params["ts"] = event.ts if dialect == "postgresql" else _ts_text(event.ts)
    return params


def _event_from_row(row: Mapping[str, Any]) -> AuditEvent:
    """Rebuild an event from a row.

    :raises ValueError: if a JSON column or the timestamp does not parse (a tampered row).
    """
    return AuditEvent(
        actor=row["actor"],
        action=row["action"],
        model=row["model"],
        version=row["version"],
        outcome=row["outcome"],
        before_aliases=json.loads(row["before_aliases"]),
        after_aliases=json.loads(row["after_aliases"]),
        reason=row["reason"],
        evidence=json.loads(row["evidence"]),
        chain=row["chain"],
        seq=int(row["seq"]),
        event_id=row["event_id"],
        ts=as_datetime(row["ts"]).astimezone(UTC),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


class _ChainChecker:
    """Walks rows in seq order, collecting problems; keeps only the previous row."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.count = 0
        self.last_seq = 0
        self.last_hash = GENESIS_HASH

    def check(self, row: Mapping[str, Any]) -> None:
        seq = int(row["seq"])
        self.count += 1
        if seq != self.last_seq + 1:
            self.problems.append(_gap(self.last_seq, seq))
        elif row["prev_hash"] != self.last_hash:
            # Across a gap the predecessor is gone, so only contiguous links are checked.
            previous = f"row {self.last_seq}" if self.last_seq else "the chain start"
            self.problems.append(f"row {seq}: prev_hash does not match {previous}")
        self.problems.extend(_row_problems(seq, row))
        self.last_seq, self.last_hash = seq, str(row["hash"])


def _gap(last_seq: int, seq: int) -> str:
    missing = f"row {last_seq + 1}" if seq == last_seq + 2 else f"rows {last_seq + 1}-{seq - 1}"
    return f"{missing}: missing (seq gap {last_seq}→{seq})"


def _row_problems(seq: int, row: Mapping[str, Any]) -> list[str]:
    try:
        event = _event_from_row(row)
    except (ValueError, TypeError) as exc:
        return [f"row {seq}: unreadable (edited): {exc}"]
    if event.compute_hash() != event.hash:
        return [f"row {seq}: hash mismatch (edited)"]
    return []


def _head_problems(head: Any, checker: _ChainChecker) -> list[str]:
    if head is None:
        return [f"audit_head is missing but {checker.count} rows exist (head deleted)"] if checker.count else []
    head_seq, head_hash = int(head[0]), str(head[1])
    if head_seq > checker.last_seq:
        last = f"last row is {checker.last_seq}" if checker.count else "there are no rows"
        return [f"head says last seq {head_seq} but {last} (tail deleted)"]
    if head_seq < checker.last_seq:
        return [f"head says last seq {head_seq} but last row is {checker.last_seq} (rows added outside the audit log)"]
    if head_hash != checker.last_hash:
        return [f"row {head_seq}: hash does not match audit_head (last row replaced)"]
    return []


def verify_command(settings: Settings, chain: str = DEFAULT_CHAIN) -> tuple[int, str]:
    """``modelops audit verify``: exit code (0 intact, 1 broken) and the text to print.

    The text's first line is the summary; each further line is one problem.

    :raises modelops.monitoring.store.StoreUnavailableError: if the store cannot be opened.
    """
    store = open_store(settings.store_url)
    try:
        result = AuditLog(store, chain).verify()
    finally:
        store.dispose()
    return (0 if result.ok else 1), "\n".join([result.summary(), *(f"  {p}" for p in result.problems)])
