-- 012: Kalshi's running quarter-hour settlement average (`last_60s_windowed_average_15min` on
-- cfbenchmarks_value), sent in the final minute before :00/:15/:30/:45. Added after `seq` and before
-- the virtual `ts`, as writers fill the stored columns in order, so the table is rebuilt; rows written
-- before this migration carried none (NULL, 0 ticks).
CREATE TABLE index_values_012 (
  run_id         VARCHAR NOT NULL,
  ts_recv_us     BIGINT NOT NULL,
  ts_exchange_us BIGINT,
  index_id       VARCHAR NOT NULL,
  value          DOUBLE NOT NULL,           -- USD
  avg60s         DOUBLE,                    -- USD, venue-computed trailing 60 s average, NULL when absent
  sid            BIGINT NOT NULL,
  seq            BIGINT NOT NULL,
  quarter_avg    DOUBLE,                    -- USD, venue average over (close − 60 s, close], NULL when absent
  quarter_ticks  BIGINT NOT NULL,           -- its window_size (60 with the close tick), 0 when absent
  ts             TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_recv_us)) VIRTUAL
);
INSERT INTO index_values_012
  SELECT run_id, ts_recv_us, ts_exchange_us, index_id, value, avg60s, sid, seq, NULL, 0
  FROM index_values ORDER BY rowid;
DROP TABLE index_values;
ALTER TABLE index_values_012 RENAME TO index_values;
