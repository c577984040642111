-- Governance: named locks and the hash-chained audit log (see modelops.governance).
-- One row per lock name; MonitoringStore.locked() row-locks it with an UPDATE held to commit.
CREATE TABLE IF NOT EXISTS modelops_locks (
    name VARCHAR(200) PRIMARY KEY,
    token BIGINT NOT NULL
);
-- Append-only. seq is assigned by the code (last + 1 under the chain's lock), not SERIAL, so a gap
-- means a deletion. ts has microsecond precision, so it reads back as the instant that was hashed.
-- The *_aliases and evidence columns hold canonical JSON text (jsonb would reorder and renormalize).
CREATE TABLE IF NOT EXISTS audit_log (
    chain VARCHAR(100) NOT NULL,
    seq BIGINT NOT NULL,
    event_id VARCHAR(32) NOT NULL UNIQUE,
    ts TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    model TEXT NOT NULL,
    version TEXT,
    outcome TEXT NOT NULL,
    before_aliases TEXT NOT NULL,
    after_aliases TEXT NOT NULL,
    reason TEXT NOT NULL,
    evidence TEXT NOT NULL,
    prev_hash VARCHAR(64) NOT NULL,
    hash VARCHAR(64) NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX IF NOT EXISTS ix_audit_log_model_ts ON audit_log (model, ts);
-- Append-only in time order: BRIN keeps the time index tiny.
CREATE INDEX IF NOT EXISTS ix_audit_log_time ON audit_log USING BRIN (ts);
-- The last seq and hash of each chain: deleting the newest rows leaves the head pointing past them.
CREATE TABLE IF NOT EXISTS audit_head (
    chain VARCHAR(100) PRIMARY KEY,
    last_seq BIGINT NOT NULL,
    last_hash VARCHAR(64) NOT NULL
);
