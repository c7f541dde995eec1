-- 011: Kalshi block trades (matched off book) are marked. The column goes before the virtual `ts`, as
-- writers fill the stored columns in order, so the table is rebuilt rather than altered; rows written
-- before this migration were never marked and read as false.
CREATE TABLE public_trades_011 (
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
  is_block_trade BOOLEAN NOT NULL,          -- matched off book: it took no displayed liquidity
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_recv_us)) VIRTUAL
);
INSERT INTO public_trades_011
  SELECT run_id, ts_recv_us, ts_exchange_us, market, trade_id, yes_price_e4, count_e2, taker_side, sid, seq, false
  FROM public_trades ORDER BY rowid;
DROP TABLE public_trades;
ALTER TABLE public_trades_011 RENAME TO public_trades;
