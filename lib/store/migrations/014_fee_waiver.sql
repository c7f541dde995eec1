-- 014: kalshi_markets.fee_waiver_until_us — the end of a market's fee waiver (REST
-- `fee_waiver_expiration_time`), NULL when there is none or the source did not say. Added before the
-- virtual `ts`, as writers fill the stored columns in order, so the table is rebuilt; rows written
-- before this migration get NULL.
CREATE TABLE kalshi_markets_014 (
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
  fee_waiver_until_us BIGINT,               -- no trading fee on trades before this venue time; NULL: none
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_recv_us)) VIRTUAL
);
INSERT INTO kalshi_markets_014
  SELECT run_id, ts_recv_us, ts_exchange_us, market, event_ticker, series_ticker, strike_type, floor_strike, cap_strike,
         open_time_us, close_time_us, settle_time_us, price_ranges_json, fee_type, fee_multiplier, status, NULL
  FROM kalshi_markets ORDER BY rowid;
DROP TABLE kalshi_markets;
ALTER TABLE kalshi_markets_014 RENAME TO kalshi_markets;
