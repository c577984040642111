-- Platform bookkeeping: schema versions and health probes.
CREATE TABLE IF NOT EXISTS platform_checks (
    id BIGSERIAL PRIMARY KEY,
    checked_at TIMESTAMPTZ NOT NULL,
    component TEXT NOT NULL,
    ok BOOLEAN NOT NULL,
    detail TEXT NOT NULL
);
-- Append-only time series: BRIN keeps the time index tiny.
CREATE INDEX IF NOT EXISTS ix_platform_checks_time ON platform_checks USING BRIN (checked_at);
