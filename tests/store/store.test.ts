import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EngineEvent } from "../../lib/core/events.ts";
import type { AuditRecord, Opportunity } from "../../lib/core/records.ts";
import { AuditWriter, MarketDataWriter, beginRun, loadMigrations, openStore, queryObjects, resolveDbPath } from "../../lib/store/db.ts";
import type { Store } from "../../lib/store/db.ts";

const stores: Store[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
async function mem(): Promise<Store> {
  const s = await openStore(":memory:");
  stores.push(s);
  return s;
}

const T0 = 1_770_000_000_000_000; // µs

function opp(i: number, over: Partial<Opportunity> = {}): Opportunity {
  return {
    kind: "opportunity", ts: T0 + i, evalId: `e${i}`, market: "KXBTCD-26FEB0217-T76999.99", eventTicker: "KXBTCD-26FEB0217",
    strikeType: "greater", floorStrike: 76999.99, capStrike: NaN, settleTime: T0 + 3_600_000_000, spot: 77010.5,
    tauSeconds: 3600, sigma: 0.45, pModel: 0.53, yesBid: 5100, yesAsk: 5300, noBid: 4700, noAsk: 4900,
    pMarketBid: 0.51, pMarketAsk: 0.53, pMarketMid: 0.52, costYes: 0.0175, costNo: 0.0175, evYes: -0.0175,
    evNo: -0.0375, side: null, decision: "skip", reason: "EV_BELOW_MIN", detail: "ev 0.00 < 0.03", inputsFresh: true, ...over,
  };
}

describe("migrations", () => {
  it("apply in order at open and are recorded once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "store-"));
    dirs.push(dir);
    const path = join(dir, "sub", "k.duckdb");
    const files = loadMigrations();
    expect(files.map((m) => m.version)).toEqual([...files.map((m) => m.version)].sort((a, b) => a - b));
    expect(files[0]!.name).toBe("market_data");
    let s = await openStore(path);
    const rows = await queryObjects(s, "SELECT version, name FROM schema_migrations ORDER BY version");
    expect(rows.map((r) => r.version)).toEqual(files.map((m) => m.version));
    await s.close();
    s = await openStore(path); // re-open: nothing re-applied, no duplicate-key error
    stores.push(s);
    const again = await queryObjects(s, "SELECT count(*)::INTEGER AS n FROM schema_migrations");
    expect(again[0]!.n).toBe(files.length);
    const tables = (await queryObjects(s, "SELECT table_name FROM information_schema.tables")).map((r) => r.table_name);
    for (const t of [
      "runs", "spot_ticks", "kalshi_markets", "kalshi_tickers", "kalshi_orderbook_snapshots", "kalshi_orderbook_deltas",
      "opportunities", "orders", "fills", "positions_snapshots", "settlements", "features", "risk_events",
      "index_values", "public_trades", "market_outcomes",
    ]) expect(tables).toContain(t);
  });

  /** A store file migrated only up to `version` − 1 with one row written by `sql`, reopened by today's code. */
  async function storeBefore(version: number, sql: string) {
    const dir = mkdtempSync(join(tmpdir(), "store-"));
    dirs.push(dir);
    const path = join(dir, "old.duckdb");
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const { migrate } = await import("../../lib/store/db.ts");
    const old = await DuckDBInstance.create(path);
    const c = await old.connect();
    await migrate(c, loadMigrations().filter((m) => m.version < version));
    await c.run(sql);
    c.closeSync();
    old.closeSync();
    const s = await openStore(path);
    stores.push(s);
    return s;
  }

  it("011 marks block trades: a store written before it keeps its trades, read as book trades, and takes marked ones", async () => {
    const s = await storeBefore(11, `INSERT INTO public_trades VALUES ('r0', ${T0}, NULL, 'M', 't0', 4425, 301, 'no', 2, 7)`);
    const w = new MarketDataWriter(s, "r1");
    const trade = { kind: "public_trade", tsRecv: T0 + 1, tsExchange: null, market: "M", tradeId: "t1", yesPrice: 4400, count: 500_000, takerSide: "yes", sid: 2, seq: 8 } as const;
    w.write({ ...trade, blockTrade: true });
    w.write({ ...trade, tsRecv: T0 + 2, tradeId: "t2", seq: 9 });
    await w.close();
    const rows = await queryObjects(s, "SELECT trade_id, is_block_trade, count_e2::INTEGER AS n, ts FROM public_trades ORDER BY ts_recv_us");
    expect(rows.map((r) => [r.trade_id, r.is_block_trade, r.n])).toEqual([["t0", false, 301], ["t1", true, 500_000], ["t2", false, 500_000]]);
  });

  it("012 adds the venue's quarter-hour average: a store written before it keeps its prints (NULL, 0 ticks) and takes new ones", async () => {
    const s = await storeBefore(12, `INSERT INTO index_values VALUES ('r0', ${T0}, NULL, 'BRTI', 77000.5, 76999.5, 1, 7)`);
    const w = new MarketDataWriter(s, "r1");
    w.write({ kind: "index_value", tsRecv: T0 + 1, tsExchange: null, indexId: "BRTI", value: 77001.5, avg60s: 77000, quarterAvg: 77000.75, quarterTicks: 60, sid: 1, seq: 8 });
    await w.close();
    const rows = await queryObjects(s, "SELECT run_id, value, quarter_avg, quarter_ticks::INTEGER AS n, ts FROM index_values ORDER BY ts_recv_us");
    expect(rows.map((r) => [r.run_id, r.value, r.quarter_avg, r.n])).toEqual([["r0", 77000.5, null, 0], ["r1", 77001.5, 77000.75, 60]]);
  });

  it("014 adds a market's fee waiver: a store written before it keeps its markets (NULL) and takes new ones", async () => {
    const s = await storeBefore(
      14,
      `INSERT INTO kalshi_markets VALUES ('r0', ${T0}, NULL, 'M', 'E', 'KXBTCD', 'greater', 76000, NULL, ${T0 - 1}, ${T0 + 9}, ${T0 + 9}, '[]', 'quadratic', 1, 'active')`,
    );
    const w = new MarketDataWriter(s, "r1");
    const info = {
      kind: "market_info", tsRecv: T0 + 1, tsExchange: null, market: "M", eventTicker: "E", seriesTicker: "KXBTCD", strikeType: "greater",
      floorStrike: 76000, capStrike: NaN, openTime: T0 - 1, closeTime: T0 + 9, settleTime: T0 + 9,
      priceRanges: [{ start: 0, end: 10000, step: 100 }], feeType: "quadratic", feeMultiplier: 1, status: "active",
    } as const;
    w.write({ ...info, feeWaiverUntil: T0 + 5 });
    w.write({ ...info, tsRecv: T0 + 2, feeWaiverUntil: -1 });
    w.write({ ...info, tsRecv: T0 + 3 });
    await w.close();
    const rows = await queryObjects(s, "SELECT run_id, fee_waiver_until_us AS w, ts FROM kalshi_markets ORDER BY ts_recv_us");
    // −1 (the venue said none) and an absent field (not said) are both NULL: no waiver to apply.
    expect(rows.map((r) => [r.run_id, r.w === null ? null : Number(r.w)])).toEqual([["r0", null], ["r1", T0 + 5], ["r1", null], ["r1", null]]);
  });

  it("DB path: argument, then DB_PATH, then default", () => {
    expect(resolveDbPath("x.duckdb", { DB_PATH: "y" })).toBe("x.duckdb");
    expect(resolveDbPath(undefined, { DB_PATH: "y.duckdb" })).toBe("y.duckdb");
    expect(resolveDbPath(undefined, {})).toBe("./data/kalshi.duckdb");
    expect(() => resolveDbPath(undefined, { DB_PATH: "  " })).toThrow(/DB_PATH/);
  });
});

describe("AuditWriter", () => {
  it("stores every audit record kind with run_id, mode and exact units", async () => {
    const s = await mem();
    await beginRun(s, { runId: "r1", mode: "replay", startedTs: T0, configJson: "{}", tape: "fixtures/tapes/sample" });
    const w = new AuditWriter(s, "r1", "replay");
    const recs: AuditRecord[] = [
      opp(1),
      opp(2, { yesBid: -1, noAsk: -1, pModel: NaN, side: "yes", decision: "trade", reason: "TRADE" }),
      { kind: "features", ts: T0, spot: 77000.25, sigma: 0.5, sigmaSamples: 301, indexValue: 77001, basis: 0.75 },
      { kind: "risk_state_changed", ts: T0 + 10, from: "ACTIVE", to: "HALTED", reason: "daily loss" },
      { kind: "risk_verdict", ts: T0 + 11, evalId: "e2", market: "M", allowed: true, state: "ACTIVE", reason: "ok", count: 1000 },
      { kind: "reconciliation", ts: T0 + 12, ok: false, mismatches: ["M: venue 10 vs ours 9"] },
      { kind: "inconsistency", ts: T0 + 13, market: null, issue: "seq_gap", detail: "sid 3 seq 7→9" },
      {
        kind: "order", ts: T0 + 14, clientOrderId: "r1-1", orderId: null, market: "M", outcome: "no", action: "buy",
        bookSide: "ask", yesPrice: 5325, count: 1050, filled: 0, status: "pending", reason: "", evalId: "e2",
      },
      {
        kind: "fill_record", ts: T0 + 15, tradeId: "t1", clientOrderId: "r1-1", orderId: "o1", market: "M", outcome: "no",
        action: "buy", price: 4675, count: 1050, fee: 180_000, isTaker: true, positionAfter: -1050,
      },
      { kind: "position", ts: T0 + 16, market: "M", position: -1050, costBasis: 4_908_750, realizedPnl: 0, feesPaid: 180_000 },
      {
        kind: "settlement", ts: T0 + 17, market: "M", result: "no", source: "brti_avg60", settleValue: 76950.12,
        position: -1050, payout: 10_500_000, pnl: 5_591_250,
      },
    ];
    for (const r of recs) w.write(r);
    await w.close();
    expect(w.counts()).toMatchObject({ opportunity: 2, features: 1, order: 1, fill_record: 1, settlement: 1 });

    const o = await queryObjects(s, "SELECT * EXCLUDE (ts) FROM opportunities ORDER BY ts_us");
    expect(o).toHaveLength(2);
    expect(o[0]).toMatchObject({
      run_id: "r1", mode: "replay", ts_us: T0 + 1, eval_id: "e1", floor_strike: 76999.99, cap_strike: null,
      yes_bid_e4: 5100, yes_ask_e4: 5300, no_bid_e4: 4700, no_ask_e4: 4900, p_model: 0.53, side: null,
      reason: "EV_BELOW_MIN", decision: "skip", settle_time_us: T0 + 3_600_000_000,
    });
    // sentinels: price -1 and NaN become NULL
    expect(o[1]).toMatchObject({ yes_bid_e4: null, no_ask_e4: null, p_model: null, side: "yes", reason: "TRADE" });

    const risk = await queryObjects(s, "SELECT event_type, from_state, to_state, allowed, count_e2, ok, mismatches_json, issue FROM risk_events ORDER BY ts_us");
    expect(risk.map((r) => r.event_type)).toEqual(["state_changed", "verdict", "reconciliation", "inconsistency"]);
    expect(risk[0]).toMatchObject({ from_state: "ACTIVE", to_state: "HALTED" });
    expect(risk[1]).toMatchObject({ allowed: true, count_e2: 1000 });
    expect(JSON.parse(risk[2]!.mismatches_json as string)).toEqual(["M: venue 10 vs ours 9"]);
    expect(risk[3]).toMatchObject({ issue: "seq_gap" });

    const fills = await queryObjects(s, "SELECT price_e4, count_e2, fee_micros, is_taker, position_after_e2, mode FROM fills");
    expect(fills[0]).toEqual({ price_e4: 4675, count_e2: 1050, fee_micros: 180_000, is_taker: true, position_after_e2: -1050, mode: "replay" });
    // 4675 e4 × 1050 e2 = 4 908 750 micros: price×count is exact money
    const cost = await queryObjects(s, "SELECT (f.price_e4 * f.count_e2)::BIGINT AS c, p.cost_basis_micros AS b FROM fills f, positions_snapshots p");
    expect(cost[0]!.c).toBe(cost[0]!.b);
    const st = await queryObjects(s, "SELECT result, source, settle_value, payout_micros, pnl_micros FROM settlements");
    expect(st[0]).toEqual({ result: "no", source: "brti_avg60", settle_value: 76950.12, payout_micros: 10_500_000, pnl_micros: 5_591_250 });
    const ord = await queryObjects(s, "SELECT order_id, yes_price_e4, book_side FROM orders");
    expect(ord[0]).toEqual({ order_id: null, yes_price_e4: 5325, book_side: "ask" });
    const run = await queryObjects(s, "SELECT mode, tape, started_us FROM runs");
    expect(run[0]).toEqual({ mode: "replay", tape: "fixtures/tapes/sample", started_us: T0 });
  });

  it("rejects a record with a non-integer money field instead of half-writing it", async () => {
    const s = await mem();
    const w = new AuditWriter(s, "r", "paper");
    w.write({ kind: "position", ts: T0, market: "M", position: 100, costBasis: 12.5, realizedPnl: 0, feesPaid: 0 });
    w.write({ kind: "position", ts: T0, market: "M", position: 100, costBasis: 12, realizedPnl: 0, feesPaid: 0 });
    await w.close();
    expect(w.counts().rejected).toBe(1);
    const n = await queryObjects(s, "SELECT count(*)::INTEGER AS n FROM positions_snapshots");
    expect(n[0]!.n).toBe(1);
  });

  it("auto-flushes in batches and loses nothing (modes side by side)", async () => {
    const s = await mem();
    const a = new AuditWriter(s, "ra", "replay", { batchRows: 1000 });
    const b = new AuditWriter(s, "rb", "paper", { batchRows: 1000 });
    for (let i = 0; i < 5500; i++) {
      a.write(opp(i));
      if (i % 2 === 0) b.write(opp(i, { pModel: 0.6 }));
    }
    await a.close();
    await b.close();
    const rows = await queryObjects(s, "SELECT mode, count(*)::INTEGER AS n, count(DISTINCT eval_id)::INTEGER AS d FROM opportunities GROUP BY mode ORDER BY mode");
    expect(rows).toEqual([
      { mode: "paper", n: 2750, d: 2750 },
      { mode: "replay", n: 5500, d: 5500 },
    ]);
  });
});

describe("MarketDataWriter", () => {
  it("stores each market event kind losslessly", async () => {
    const s = await mem();
    const w = new MarketDataWriter(s, "c1");
    const evs: EngineEvent[] = [
      { kind: "spot_quote", tsRecv: T0, tsExchange: T0 - 5, productId: "BTC-USD", bid: 77000.01, ask: 77000.02, bidSize: 0.5, askSize: 0.25, last: NaN, seq: -1 },
      { kind: "spot_trade", tsRecv: T0 + 1, tsExchange: null, productId: "BTC-USD", price: 77000.02, size: 0.001, takerSide: "buy", tradeId: "99" },
      { kind: "index_value", tsRecv: T0 + 2, tsExchange: T0, indexId: "BRTI", value: 77001.5, avg60s: NaN, quarterAvg: 77000.25, quarterTicks: 42, sid: 4, seq: 10 },
      {
        kind: "market_info", tsRecv: T0 + 3, tsExchange: null, market: "M", eventTicker: "E", seriesTicker: "KXBTCD", strikeType: "between",
        floorStrike: 76000, capStrike: 76249.99, openTime: T0 - 1, closeTime: T0 + 9, settleTime: T0 + 9,
        priceRanges: [{ start: 0, end: 10000, step: 100 }], feeType: "quadratic", feeMultiplier: 1, status: "active",
      },
      { kind: "market_lifecycle", tsRecv: T0 + 4, tsExchange: null, market: "M", phase: "determined", result: "yes", settlementValue: 10000, expirationValue: 76100.5, closeTime: -1, sid: 2, seq: 3 },
      { kind: "market_ticker", tsRecv: T0 + 5, tsExchange: null, market: "M", lastPrice: -1, yesBid: 4400, yesAsk: 4450, yesBidSize: 12345, yesAskSize: -1, volume: 100000, openInterest: -1 },
      { kind: "book_snapshot", tsRecv: T0 + 6, tsExchange: null, market: "M", sid: 1, seq: 1, yesBids: [[4300, 100], [4400, 250]], noBids: [] },
      { kind: "book_delta", tsRecv: T0 + 7, tsExchange: null, market: "M", sid: 1, seq: 2, side: "no", price: 5550, delta: -150, clientOrderId: null },
      { kind: "public_trade", tsRecv: T0 + 8, tsExchange: T0 + 8, market: "M", tradeId: "pt", yesPrice: 4425, count: 301, takerSide: "no", sid: 5, seq: 9 },
      { kind: "timer", tsRecv: T0 + 9, tsExchange: null },
      { kind: "feed_health", tsRecv: T0 + 10, tsExchange: null, feed: "kalshi", status: "gap", sid: 1, markets: ["M"], detail: "seq 2→4" },
    ];
    for (const e of evs) w.write(e);
    await w.close();
    const q = async (sql: string) => (await queryObjects(s, sql))[0];
    expect(await q("SELECT ts_exchange_us, bid, last, seq FROM spot_ticks")).toEqual({ ts_exchange_us: T0 - 5, bid: 77000.01, last: null, seq: null });
    expect(await q("SELECT ts_exchange_us, taker_side FROM spot_trades")).toEqual({ ts_exchange_us: null, taker_side: "buy" });
    expect(await q("SELECT value, avg60s, seq, quarter_avg, quarter_ticks FROM index_values")).toEqual({ value: 77001.5, avg60s: null, seq: 10, quarter_avg: 77000.25, quarter_ticks: 42 });
    expect(await q("SELECT cap_strike, price_ranges_json, settle_time_us FROM kalshi_markets")).toEqual({
      cap_strike: 76249.99, price_ranges_json: '[{"start":0,"end":10000,"step":100}]', settle_time_us: T0 + 9,
    });
    expect(await q("SELECT result, settlement_value_e4, close_time_us FROM kalshi_market_lifecycle")).toEqual({ result: "yes", settlement_value_e4: 10000, close_time_us: null });
    // -1 (the frame carried no size) is NULL, not 0.
    expect(await q("SELECT last_price_e4, yes_bid_e4, yes_bid_size_e2, yes_ask_size_e2, open_interest_e2 FROM kalshi_tickers")).toEqual({
      last_price_e4: null,
      yes_bid_e4: 4400,
      yes_bid_size_e2: 12345,
      yes_ask_size_e2: null,
      open_interest_e2: null,
    });
    const snap = await q("SELECT yes_bid_prices_e4 AS p, yes_bid_sizes_e2 AS z, len(no_bid_prices_e4)::INTEGER AS nn FROM kalshi_orderbook_snapshots");
    expect(snap!.p).toEqual([4300, 4400]);
    expect((snap!.z as bigint[]).map(Number)).toEqual([100, 250]);
    expect(snap!.nn).toBe(0);
    expect(await q("SELECT side, price_e4, delta_e2, client_order_id FROM kalshi_orderbook_deltas")).toEqual({ side: "no", price_e4: 5550, delta_e2: -150, client_order_id: null });
    expect(await q("SELECT yes_price_e4, count_e2, taker_side FROM public_trades")).toEqual({ yes_price_e4: 4425, count_e2: 301, taker_side: "no" });
    const other = await queryObjects(s, "SELECT kind, payload_json FROM other_events");
    expect(other).toHaveLength(1); // the timer is not stored
    expect(JSON.parse(other[0]!.payload_json as string).detail).toBe("seq 2→4");
    // the lifecycle result feeds the outcome view
    expect(await q("SELECT outcome, source FROM market_outcomes WHERE market = 'M'")).toEqual({ outcome: 1, source: "venue" });
  });
});
