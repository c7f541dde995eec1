-- 010: results of research jobs (lib/run/jobs.ts): one row per variant (engine config) per job's day
-- range. The audit rows of the same replay sit in the usual tables under the same run_id. Written by
-- the sweep merge (lib/run/results.ts) from the per-job Parquet segments.
CREATE TABLE IF NOT EXISTS sweep_results (
  job_id             VARCHAR NOT NULL,
  run_id             VARCHAR NOT NULL,
  variant_id         VARCHAR NOT NULL,   -- hash of the full engine config
  variant_name       VARCHAR NOT NULL,
  from_day           VARCHAR NOT NULL,   -- inclusive UTC days the job replayed
  to_day             VARCHAR NOT NULL,
  tape               VARCHAR NOT NULL,   -- fingerprint of the tape days read
  code_version       VARCHAR NOT NULL,
  events             BIGINT NOT NULL,
  trades             BIGINT NOT NULL,
  fills              BIGINT NOT NULL,
  fees_usd           DOUBLE NOT NULL,
  settlement_pnl_usd DOUBLE NOT NULL,
  realized_pnl_usd   DOUBLE NOT NULL,
  forecasts_scored   BIGINT NOT NULL,
  brier_model        DOUBLE,
  brier_market       DOUBLE,
  config_json        VARCHAR NOT NULL,   -- canonical JSON (sorted keys)
  summary_json       VARCHAR NOT NULL,   -- the replay summary, as `npm run replay --json` prints it
  PRIMARY KEY (job_id, variant_id)
);
