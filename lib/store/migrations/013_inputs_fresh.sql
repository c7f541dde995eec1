-- 013: opportunities.inputs_fresh — whether the evaluation's inputs (spot, book, volatility, market
-- state) were fresh enough to score its p_model and market mid as forecasts. `reason` cannot say it: an
-- order action (cancelling a resting order because the book went stale) replaces the gate's reason.
-- Added before the virtual `ts`, as writers fill the stored columns in order, so the table is rebuilt;
-- rows written before this migration get NULL (the report then falls back to the gate reasons).
CREATE TABLE opportunities_013 (
  run_id         VARCHAR NOT NULL,
  mode           VARCHAR NOT NULL,
  ts_us          BIGINT NOT NULL,           -- decision time (event time)
  eval_id        VARCHAR NOT NULL,
  market         VARCHAR NOT NULL,
  event_ticker   VARCHAR NOT NULL,          -- cluster key of the bootstrap
  strike_type    VARCHAR NOT NULL,
  floor_strike   DOUBLE,                    -- USD
  cap_strike     DOUBLE,                    -- USD
  settle_time_us BIGINT NOT NULL,
  spot           DOUBLE,                    -- USD
  tau_seconds    DOUBLE,                    -- time to settlement
  sigma          DOUBLE,                    -- annualized
  p_model        DOUBLE,                    -- model P(YES)
  yes_bid_e4     INTEGER,
  yes_ask_e4     INTEGER,
  no_bid_e4      INTEGER,
  no_ask_e4      INTEGER,
  p_market_bid   DOUBLE,                    -- market-implied P(YES) at the YES bid
  p_market_ask   DOUBLE,                    -- … at the YES ask
  p_market_mid   DOUBLE,                    -- … at their mid
  cost_yes       DOUBLE,                    -- all-in cost above price, probability units per contract
  cost_no        DOUBLE,
  ev_yes         DOUBLE,                    -- expected value per contract of buying YES at the ask
  ev_no          DOUBLE,
  side           VARCHAR,                   -- yes | no | NULL
  decision       VARCHAR NOT NULL,          -- trade | skip
  reason         VARCHAR NOT NULL,          -- ReasonCode (TRADE, EV_BELOW_MIN, …)
  detail         VARCHAR NOT NULL,
  inputs_fresh   BOOLEAN,                   -- spot, book, vol fresh enough to score p_model and the mid; NULL before 013
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_us)) VIRTUAL
);
INSERT INTO opportunities_013
  SELECT run_id, mode, ts_us, eval_id, market, event_ticker, strike_type, floor_strike, cap_strike, settle_time_us, spot, tau_seconds, sigma, p_model, yes_bid_e4, yes_ask_e4, no_bid_e4, no_ask_e4, p_market_bid, p_market_ask, p_market_mid, cost_yes, cost_no, ev_yes, ev_no, side, decision, reason, detail, NULL
  FROM opportunities ORDER BY rowid;
DROP TABLE opportunities;
ALTER TABLE opportunities_013 RENAME TO opportunities;
