-- One row per scored batch (source, model, day): re-runs update it, never add a second row.
CREATE TABLE IF NOT EXISTS inference_batches (
    batch_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    model TEXT NOT NULL,
    ds TEXT NOT NULL,
    champion_version TEXT NOT NULL,
    challenger_version TEXT,
    rows_in INTEGER NOT NULL,
    rows_scored INTEGER NOT NULL,
    rows_quarantined INTEGER NOT NULL,
    rows_dropped INTEGER NOT NULL,
    quarantine_reasons TEXT NOT NULL,
    score_stats TEXT NOT NULL,
    stage_seconds TEXT NOT NULL,
    output_path TEXT NOT NULL,
    run_id TEXT,
    runs INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_inference_batches_model_ds ON inference_batches (model, ds);
