-- 003: model tournament and frozen models.
-- One row per (run, model, evaluation) that a replay scored side by side: the probability of each
-- model plus every input needed to re-price it offline. Trade decisions still come from one model
-- (opportunities.p_model); these rows only compare models.
CREATE TABLE IF NOT EXISTS forecasts (
  run_id         VARCHAR NOT NULL,
  mode           VARCHAR NOT NULL,
  model          VARCHAR NOT NULL,          -- registry name (lib/core/models.ts)
  ts_us          BIGINT NOT NULL,           -- decision time (event time)
  market         VARCHAR NOT NULL,
  event_ticker   VARCHAR NOT NULL,
  settle_time_us BIGINT NOT NULL,           -- cluster key of the verdict (settlement time)
  p              DOUBLE,                    -- model P(YES); NULL when the model could not price it
  spot           DOUBLE,                    -- USD
  sigma          DOUBLE,                    -- annualized, the engine's estimate
  sigma_robust   DOUBLE,                    -- annualized, jump-robust (bipower) estimate
  tau_seconds    DOUBLE,
  strike_type    VARCHAR NOT NULL,
  floor_strike   DOUBLE,
  cap_strike     DOUBLE,
  observed_sum   DOUBLE,                    -- settlement-window values already observed
  observed_count INTEGER,
  p_market_mid   DOUBLE,                    -- the market at the same instant (benchmark)
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_us)) VIRTUAL
);

-- A model + config is frozen at a date: only settlements after frozen_us count as out of sample for
-- runs whose config hashes to config_hash (enforced by lib/analysis/load.ts and the verdict).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS config_hash VARCHAR;
CREATE TABLE IF NOT EXISTS model_freezes (
  config_hash    VARCHAR PRIMARY KEY,       -- sha256 of the run's config_json (canonical)
  frozen_us      BIGINT NOT NULL,           -- wall-clock time of the freeze
  run_id         VARCHAR NOT NULL,          -- the run whose config was frozen
  note           VARCHAR
);
