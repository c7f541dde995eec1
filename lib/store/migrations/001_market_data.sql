-- 001: runs and market data (what the collector records and replays read back).
--
-- Units (exact fixed point, see lib/core/units.ts):
--   *_e4      INTEGER  Kalshi price in 1/10 000 dollar (0.5600 $ = 5600; a contract pays 10 000)
--   *_e2      BIGINT   Kalshi count in 1/100 contract (10.00 contracts = 1000)
--   *_micros  BIGINT   money in 1/1 000 000 dollar
--   *_us      BIGINT   microseconds since the Unix epoch, UTC
--   spot / index / strike values are USD DOUBLE (model inputs, not ledger amounts)
-- Sentinels of the event model are mapped to NULL: price -1 (absent) → NULL, NaN → NULL.
-- Every row carries run_id; the generated `ts` column is a TIMESTAMP view of the µs key for humans.

CREATE TABLE IF NOT EXISTS runs (
  run_id         VARCHAR PRIMARY KEY,
  mode           VARCHAR NOT NULL,          -- replay | paper | live | collect | study
  started_us     BIGINT NOT NULL,
  config_json    VARCHAR NOT NULL,
  tape           VARCHAR,                   -- tape directory a replay read, NULL otherwise
  started        TIMESTAMP GENERATED ALWAYS AS (make_timestamp(started_us)) VIRTUAL
);

-- Coinbase best bid/ask (ticker channel).
CREATE TABLE IF NOT EXISTS spot_ticks (
  run_id         VARCHAR NOT NULL,
  ts_recv_us     BIGINT NOT NULL,
  ts_exchange_us BIGINT,
  product_id     VARCHAR NOT NULL,
  bid            DOUBLE,                    -- USD
  ask            DOUBLE,                    -- USD
  bid_size       DOUBLE,                    -- BTC
  ask_size       DOUBLE,                    -- BTC
  last           DOUBLE,                    -- USD, NULL when the ticker carried none
  seq            BIGINT,                    -- Coinbase sequence_num, NULL when unknown
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_recv_us)) VIRTUAL
);

-- Coinbase trades (market_trades channel).
CREATE TABLE IF NOT EXISTS spot_trades (
  run_id         VARCHAR NOT NULL,
  ts_recv_us     BIGINT NOT NULL,
  ts_exchange_us BIGINT,
  product_id     VARCHAR NOT NULL,
  price          DOUBLE NOT NULL,           -- USD
  size           DOUBLE NOT NULL,           -- BTC
  taker_side     VARCHAR NOT NULL,          -- buy | sell | unknown
  trade_id       VARCHAR NOT NULL,
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_recv_us)) VIRTUAL
);

-- CF Benchmarks index prints (BRTI) relayed by Kalshi.
CREATE TABLE IF NOT EXISTS index_values (
  run_id         VARCHAR NOT NULL,
  ts_recv_us     BIGINT NOT NULL,
  ts_exchange_us BIGINT,
  index_id       VARCHAR NOT NULL,
  value          DOUBLE NOT NULL,           -- USD
  avg60s         DOUBLE,                    -- USD, venue-computed trailing 60 s average, NULL when absent
  sid            BIGINT NOT NULL,
  seq            BIGINT NOT NULL,
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_recv_us)) VIRTUAL
);

-- Market reference data, one row each time it was (re)loaded.
CREATE TABLE IF NOT EXISTS kalshi_markets (
  run_id         VARCHAR NOT NULL,
  ts_recv_us     BIGINT NOT NULL,
  ts_exchange_us BIGINT,
  market         VARCHAR NOT NULL,
  event_ticker   VARCHAR NOT NULL,
  series_ticker  VARCHAR NOT NULL,
  strike_type    VARCHAR NOT NULL,          -- greater | greater_or_equal | less | less_or_equal | between
  floor_strike   DOUBLE,                    -- USD, NULL when unused
  cap_strike     DOUBLE,                    -- USD, NULL when unused
  open_time_us   BIGINT NOT NULL,
  close_time_us  BIGINT NOT NULL,
  settle_time_us BIGINT NOT NULL,           -- end of the settlement averaging window
  price_ranges_json VARCHAR NOT NULL,       -- [{start,end,step}] in PriceE4
  fee_type       VARCHAR NOT NULL,
  fee_multiplier DOUBLE NOT NULL,
  status         VARCHAR NOT NULL,
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_recv_us)) VIRTUAL
);

-- Market lifecycle (created … determined/settled, with the venue's result).
CREATE TABLE IF NOT EXISTS kalshi_market_lifecycle (
  run_id         VARCHAR NOT NULL,
  ts_recv_us     BIGINT NOT NULL,
  ts_exchange_us BIGINT,
  market         VARCHAR NOT NULL,
  phase          VARCHAR NOT NULL,
  result         VARCHAR,                   -- yes | no | scalar | void, NULL before determination
  settlement_value_e4 INTEGER,              -- YES payout per contract, NULL when unknown
  expiration_value DOUBLE,                  -- USD index value settled on, NULL when unknown
  close_time_us  BIGINT,                    -- new close time (close_date_updated), NULL otherwise
  sid            BIGINT NOT NULL,
  seq            BIGINT NOT NULL,
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_recv_us)) VIRTUAL
);

-- Kalshi ticker channel.
CREATE TABLE IF NOT EXISTS kalshi_tickers (
  run_id         VARCHAR NOT NULL,
  ts_recv_us     BIGINT NOT NULL,
  ts_exchange_us BIGINT,
  market         VARCHAR NOT NULL,
  last_price_e4  INTEGER,
  yes_bid_e4     INTEGER,
  yes_ask_e4     INTEGER,
  yes_bid_size_e2 BIGINT,
  yes_ask_size_e2 BIGINT,
  volume_e2      BIGINT,
  open_interest_e2 BIGINT,
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_recv_us)) VIRTUAL
);

-- Full books. Both sides are bids in their own leg (a NO bid at 0.30 is 3000), levels ascending by
-- price; the i-th price pairs with the i-th size. Empty lists are empty sides.
CREATE TABLE IF NOT EXISTS kalshi_orderbook_snapshots (
  run_id         VARCHAR NOT NULL,
  ts_recv_us     BIGINT NOT NULL,
  ts_exchange_us BIGINT,
  market         VARCHAR NOT NULL,
  sid            BIGINT NOT NULL,
  seq            BIGINT NOT NULL,
  yes_bid_prices_e4 INTEGER[] NOT NULL,
  yes_bid_sizes_e2  BIGINT[] NOT NULL,
  no_bid_prices_e4  INTEGER[] NOT NULL,
  no_bid_sizes_e2   BIGINT[] NOT NULL,
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_recv_us)) VIRTUAL
);

CREATE TABLE IF NOT EXISTS kalshi_orderbook_deltas (
  run_id         VARCHAR NOT NULL,
  ts_recv_us     BIGINT NOT NULL,
  ts_exchange_us BIGINT,
  market         VARCHAR NOT NULL,
  sid            BIGINT NOT NULL,
  seq            BIGINT NOT NULL,
  side           VARCHAR NOT NULL,          -- yes | no (own-leg bid side)
  price_e4       INTEGER NOT NULL,
  delta_e2       BIGINT NOT NULL,           -- signed change of resting size
  client_order_id VARCHAR,                  -- set only when our own order caused it
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_recv_us)) VIRTUAL
);

CREATE TABLE IF NOT EXISTS public_trades (
  run_id         VARCHAR NOT NULL,
  ts_recv_us     BIGINT NOT NULL,
  ts_exchange_us BIGINT,
  market         VARCHAR NOT NULL,
  trade_id       VARCHAR NOT NULL,
  yes_price_e4   INTEGER NOT NULL,
  count_e2       BIGINT NOT NULL,
  taker_side     VARCHAR NOT NULL,          -- outcome the taker bought: yes | no
  sid            BIGINT NOT NULL,
  seq            BIGINT NOT NULL,
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_recv_us)) VIRTUAL
);

-- Everything else the event union carries (own order updates, fills, position snapshots, feed health,
-- kill switch), kept losslessly as JSON so nothing a collector saw is dropped. Timers are not stored.
CREATE TABLE IF NOT EXISTS other_events (
  run_id         VARCHAR NOT NULL,
  ts_recv_us     BIGINT NOT NULL,
  ts_exchange_us BIGINT,
  kind           VARCHAR NOT NULL,
  market         VARCHAR,
  payload_json   VARCHAR NOT NULL,
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_recv_us)) VIRTUAL
);
