-- Platform bookkeeping: schema versions and health probes.
CREATE TABLE IF NOT EXISTS platform_checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    checked_at TEXT NOT NULL,
    component TEXT NOT NULL,
    ok INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_platform_checks_time ON platform_checks (checked_at);
