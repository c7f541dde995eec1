-- 002: engine audit records. Replay, paper and live write the same rows; run_id + mode on every row
-- lets one query compare them. Units as in 001 (*_e4 INTEGER 1e-4 $, *_e2 BIGINT 1e-2 contract,
-- *_micros BIGINT 1e-6 $, *_us BIGINT µs). Probabilities and EVs are DOUBLE in [0,1] / probability
-- units per contract. NaN ("not computed") and price -1 ("absent") are stored as NULL.

-- One row per market evaluation, traded or not: the raw material of every edge test.
CREATE TABLE IF NOT EXISTS opportunities (
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
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_us)) VIRTUAL
);

CREATE TABLE IF NOT EXISTS features (
  run_id         VARCHAR NOT NULL,
  mode           VARCHAR NOT NULL,
  ts_us          BIGINT NOT NULL,
  spot           DOUBLE,                    -- USD
  sigma          DOUBLE,                    -- annualized
  sigma_samples  BIGINT,
  index_value    DOUBLE,                    -- USD
  basis          DOUBLE,                    -- index − spot mid, USD
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_us)) VIRTUAL
);

-- Risk and integrity events in one table; `event_type` says which fields are filled:
--   state_changed: from_state, to_state, reason
--   verdict:       eval_id, market, allowed, state, reason, count_e2
--   reconciliation: ok, mismatches_json
--   inconsistency:  market, issue, detail
CREATE TABLE IF NOT EXISTS risk_events (
  run_id         VARCHAR NOT NULL,
  mode           VARCHAR NOT NULL,
  ts_us          BIGINT NOT NULL,
  event_type     VARCHAR NOT NULL,
  from_state     VARCHAR,
  to_state       VARCHAR,
  eval_id        VARCHAR,
  market         VARCHAR,
  allowed        BOOLEAN,
  state          VARCHAR,
  reason         VARCHAR,
  count_e2       BIGINT,
  ok             BOOLEAN,
  mismatches_json VARCHAR,
  issue          VARCHAR,
  detail         VARCHAR,
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_us)) VIRTUAL
);

-- Every state change of one of our orders.
CREATE TABLE IF NOT EXISTS orders (
  run_id         VARCHAR NOT NULL,
  mode           VARCHAR NOT NULL,
  ts_us          BIGINT NOT NULL,
  client_order_id VARCHAR NOT NULL,
  order_id       VARCHAR,
  market         VARCHAR NOT NULL,
  outcome        VARCHAR NOT NULL,          -- yes | no
  action         VARCHAR NOT NULL,          -- buy | sell
  book_side      VARCHAR NOT NULL,          -- bid | ask (YES book)
  yes_price_e4   INTEGER NOT NULL,
  count_e2       BIGINT NOT NULL,
  filled_e2      BIGINT NOT NULL,
  status         VARCHAR NOT NULL,
  reason         VARCHAR NOT NULL,
  eval_id        VARCHAR NOT NULL,
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_us)) VIRTUAL
);

CREATE TABLE IF NOT EXISTS fills (
  run_id         VARCHAR NOT NULL,
  mode           VARCHAR NOT NULL,
  ts_us          BIGINT NOT NULL,
  trade_id       VARCHAR NOT NULL,
  client_order_id VARCHAR,
  order_id       VARCHAR NOT NULL,
  market         VARCHAR NOT NULL,
  outcome        VARCHAR NOT NULL,
  action         VARCHAR NOT NULL,
  price_e4       INTEGER NOT NULL,          -- own-leg price
  count_e2       BIGINT NOT NULL,
  fee_micros     BIGINT NOT NULL,
  is_taker       BOOLEAN NOT NULL,
  position_after_e2 BIGINT NOT NULL,        -- signed YES-equivalent position after the fill
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_us)) VIRTUAL
);

CREATE TABLE IF NOT EXISTS positions_snapshots (
  run_id         VARCHAR NOT NULL,
  mode           VARCHAR NOT NULL,
  ts_us          BIGINT NOT NULL,
  market         VARCHAR NOT NULL,
  position_e2    BIGINT NOT NULL,           -- signed: + YES, − NO
  cost_basis_micros BIGINT NOT NULL,
  realized_pnl_micros BIGINT NOT NULL,
  fees_paid_micros BIGINT NOT NULL,
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_us)) VIRTUAL
);

CREATE TABLE IF NOT EXISTS settlements (
  run_id         VARCHAR NOT NULL,
  mode           VARCHAR NOT NULL,
  ts_us          BIGINT NOT NULL,
  market         VARCHAR NOT NULL,
  result         VARCHAR NOT NULL,          -- yes | no | scalar | void
  source         VARCHAR NOT NULL,          -- venue | brti_avg60 | spot_proxy
  settle_value   DOUBLE,                    -- USD value settled on
  position_e2    BIGINT NOT NULL,
  payout_micros  BIGINT NOT NULL,
  pnl_micros     BIGINT NOT NULL,
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_us)) VIRTUAL
);

-- One resolved outcome per (run, market): the engine's settlement record when present, otherwise the
-- venue's determined/settled lifecycle result recorded in the same run. `outcome` is 1 for yes, 0 for
-- no, NULL for scalar/void (excluded from binary scoring).
CREATE OR REPLACE VIEW market_outcomes AS
WITH s AS (
  SELECT run_id, market, arg_max(result, ts_us) AS result, arg_max(source, ts_us) AS source,
         max(ts_us) AS ts_us, 1 AS pri
  FROM settlements GROUP BY run_id, market
), l AS (
  SELECT run_id, market, arg_max(result, ts_recv_us) AS result, 'venue' AS source,
         max(ts_recv_us) AS ts_us, 2 AS pri
  FROM kalshi_market_lifecycle WHERE result IS NOT NULL GROUP BY run_id, market
), u AS (SELECT * FROM s UNION ALL SELECT * FROM l)
SELECT run_id, market, arg_min(result, pri) AS result, arg_min(source, pri) AS source,
       arg_min(ts_us, pri) AS ts_us,
       CASE arg_min(result, pri) WHEN 'yes' THEN 1 WHEN 'no' THEN 0 ELSE NULL END AS outcome
FROM u GROUP BY run_id, market;
