-- One row per scored batch (source, model, day): re-runs update it, never add a second row.
CREATE TABLE IF NOT EXISTS inference_batches (
    batch_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    model TEXT NOT NULL,
    ds DATE NOT NULL,
    champion_version TEXT NOT NULL,
    challenger_version TEXT,
    rows_in BIGINT NOT NULL,
    rows_scored BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    rows_dropped BIGINT NOT NULL,
    quarantine_reasons TEXT NOT NULL,
    score_stats TEXT NOT NULL,
    stage_seconds TEXT NOT NULL,
    output_path TEXT NOT NULL,
    run_id TEXT,
    runs INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_inference_batches_model_ds ON inference_batches (model, ds);
CREATE INDEX IF NOT EXISTS ix_inference_batches_updated ON inference_batches USING BRIN (updated_at);
