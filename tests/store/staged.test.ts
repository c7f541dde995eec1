// Staged column batches (lib/store/db.ts) against the row-by-row appender: the same records written
// both ways must leave the same tables, row for row and in the same order, and every string cell must
// be the string that was written.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EngineEvent } from "../../lib/core/events.ts";
import type { AuditRecord, Opportunity } from "../../lib/core/records.ts";
import { AuditWriter, MarketDataWriter, openStore, queryObjects, type Store } from "../../lib/store/db.ts";

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

const T0 = 1_794_787_370_012_830; // µs
const MARKETS = ["KXBTCD-26NOV1520-T22249.99", "KXBTC15M-26NOV152015-15", "M@1", "it's \u00e9\u20ac\ud83d\ude42"];
const DETAILS = ["", "one-sided book", "size fixed 10.00, capped to 6.27 (CAPPED: POSITION_CAP market room 4.894600)", "a\u0000b", "lone \ud800", "x".repeat(300)];
const DOUBLES = [0.53, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 1e-300, 123456789.123456];

/** An evaluation id for row i: mostly market @ ts, sometimes one that only looks like it. */
function evalIdFor(i: number, market: string, ts: number): string {
  switch (i % 9) {
    case 1:
      return `${market}@0${ts}`; // leading zero
    case 2:
      return `other@${ts}`; // another prefix
    case 3:
      return `${market}#${ts}`; // another separator
    case 4:
      return `${market}@${ts + 1}`; // another time
    case 5:
      return `${market}@${ts}x`; // trailing text
    case 6:
      return "";
    default:
      return `${market}@${ts}`;
  }
}

function opp(i: number): Opportunity {
  const market = MARKETS[i % MARKETS.length]!;
  const ts = i % 50 === 7 ? -5 : i % 50 === 8 ? Number.MAX_SAFE_INTEGER : i % 50 === 9 ? 0 : T0 + i * 1000;
  const d = (k: number) => DOUBLES[(i + k) % DOUBLES.length]!;
  return {
    kind: "opportunity", ts, evalId: i % 50 === 7 ? `${market}@-5` : evalIdFor(i, market, ts), market,
    eventTicker: market.slice(0, 16), strikeType: i % 3 === 0 ? "between" : "greater", floorStrike: d(0), capStrike: d(1),
    settleTime: T0 + 3_600_000_000, spot: d(2), tauSeconds: d(3), sigma: d(4), pModel: d(5),
    yesBid: [5100, -1, 0, 9999][i % 4]!, yesAsk: [5300, 10000, -1][i % 3]!, noBid: 4700, noAsk: i % 5 === 0 ? -1 : 4900,
    pMarketBid: d(6), pMarketAsk: 0.53, pMarketMid: 0.52, costYes: 0.0175, costNo: d(1), evYes: d(2), evNo: -0.0375,
    side: [null, "yes", "no"][i % 3] as Opportunity["side"], decision: i % 7 === 0 ? "trade" : "skip",
    reason: (["EV_BELOW_MIN", "TRADE", "VOL_NOT_WARM", "SPREAD_TOO_WIDE"] as const)[i % 4]!, detail: DETAILS[i % DETAILS.length]!,
  };
}

/** Every audit record kind, with NULLs, sentinels and awkward strings, plus two invalid records. */
function records(n: number): AuditRecord[] {
  const out: AuditRecord[] = [];
  for (let i = 0; i < n; i++) {
    const market = MARKETS[i % MARKETS.length]!;
    const ts = T0 + i * 1000;
    out.push(opp(i));
    if (i % 4 === 0) out.push({ kind: "features", ts, spot: DOUBLES[i % 7]!, sigma: 0.5, sigmaSamples: i, indexValue: 77001, basis: DOUBLES[(i + 3) % 7]! });
    if (i % 5 === 0) out.push({ kind: "risk_verdict", ts, evalId: evalIdFor(i, market, ts), market, allowed: i % 2 === 0, state: "ACTIVE", reason: DETAILS[i % 6]!, count: 1000 + i });
    if (i % 11 === 0) out.push({ kind: "risk_state_changed", ts, from: "ACTIVE", to: "HALTED", reason: "daily loss" });
    if (i % 13 === 0) out.push({ kind: "reconciliation", ts, ok: i % 2 === 0, mismatches: [`${market}: venue 10 vs ours 9`] });
    if (i % 17 === 0) out.push({ kind: "inconsistency", ts, market: i % 2 ? null : market, issue: "seq_gap", detail: DETAILS[i % 6]! });
    if (i % 3 === 0) {
      out.push({
        kind: "order", ts, clientOrderId: `r1-${i}`, orderId: i % 2 ? null : `o${i}`, market, outcome: i % 2 ? "no" : "yes", action: "buy",
        bookSide: "ask", yesPrice: 5325, count: 1050, filled: i % 4 === 0 ? 1050 : 0, status: "pending", reason: "", evalId: `${market}@${ts}`,
      });
      out.push({
        kind: "fill_record", ts, tradeId: `t${i}`, clientOrderId: i % 2 ? null : `r1-${i}`, orderId: `o${i}`, market, outcome: "no",
        action: "buy", price: 4675, count: 1050, fee: 180_000, isTaker: i % 2 === 0, positionAfter: -1050 * i,
      });
      out.push({ kind: "position", ts, market, position: -1050, costBasis: 4_908_750, realizedPnl: -i, feesPaid: 180_000 });
      out.push({ kind: "settlement", ts, market, result: i % 2 ? "no" : "yes", source: "brti_avg60", settleValue: DOUBLES[i % 7]!, position: -1050, payout: 10_500_000, pnl: 5_591_250 });
    }
  }
  // Invalid: a price that does not fit the INTEGER column, and money that is not an integer.
  out.splice(100, 0, { ...opp(100), yesBid: 2 ** 31 });
  out.splice(200, 0, { kind: "position", ts: T0, market: "M", position: 100, costBasis: 12.5, realizedPnl: 0, feesPaid: 0 });
  return out;
}

const TABLES = ["opportunities", "features", "risk_events", "orders", "fills", "positions_snapshots", "settlements"];

/** Each table's rows in insertion order, as text that keeps NaN, ±Infinity, -0 and BIGINTs apart. */
async function dump(s: Store, tables: readonly string[] = TABLES): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of tables) {
    const rows = (await s.connection.runAndReadAll(`SELECT * FROM ${t} ORDER BY rowid`)).getRowsJS();
    out[t] = JSON.stringify(rows, (_, v) =>
      typeof v === "bigint" ? `${v}n` : typeof v === "number" && !Number.isFinite(v) ? String(v) : Object.is(v, -0) ? "-0" : v,
    );
  }
  return out;
}

async function write(recs: readonly AuditRecord[], opts: { stageMinRows: number; batchRows: number }) {
  const s = await mem();
  const w = new AuditWriter(s, "run-'1'", "replay", opts);
  for (const r of recs) w.write(r);
  await w.close();
  return { s, w, tables: await dump(s) };
}

describe("staged audit batches", () => {
  it("store exactly what row-by-row appends store, in the same order, over several batches", async () => {
    const recs = records(3000);
    const rows = await write(recs, { stageMinRows: Number.POSITIVE_INFINITY, batchRows: 1500 });
    const staged = await write(recs, { stageMinRows: 1, batchRows: 1500 });
    expect(rows.w.staged).toBe(0);
    expect(staged.w.staged).toBeGreaterThan(7 * 3); // every table, in each of the flushes
    expect(staged.w.counts()).toEqual(rows.w.counts());
    expect(staged.w.counts().rejected).toBe(2);
    for (const t of TABLES) expect(staged.tables[t], t).toBe(rows.tables[t]);
  });

  it("keep every string as written: evaluation ids rebuilt from market @ time and the look-alikes", async () => {
    const recs = records(600).filter((r): r is Opportunity => r.kind === "opportunity" && r.yesBid < 2 ** 31);
    const { s, w } = await write(recs, { stageMinRows: 1, batchRows: 100_000 });
    expect(w.staged).toBe(1);
    const got = await queryObjects(s, "SELECT run_id, eval_id, market, detail, side FROM opportunities ORDER BY rowid");
    expect(got.map((r) => r.eval_id)).toEqual(recs.map((r) => r.evalId));
    expect(got.map((r) => r.market)).toEqual(recs.map((r) => r.market));
    expect(got.map((r) => r.side)).toEqual(recs.map((r) => r.side));
    // the lone surrogate is replaced on the way to UTF-8 in both paths; every other detail is kept
    expect(got.map((r) => r.detail)).toEqual(recs.map((r) => r.detail.replace("\ud800", "\ufffd")));
    expect(new Set(got.map((r) => r.run_id))).toEqual(new Set(["run-'1'"]));
  });

  it("write a batch whose every cell is the same in each row (no stage columns at all)", async () => {
    const f: AuditRecord = { kind: "features", ts: T0, spot: Number.NaN, sigma: Number.NaN, sigmaSamples: 3, indexValue: Number.NaN, basis: Number.NaN };
    const recs = Array.from({ length: 700 }, () => f);
    const rows = await write(recs, { stageMinRows: Number.POSITIVE_INFINITY, batchRows: 100_000 });
    const staged = await write(recs, { stageMinRows: 1, batchRows: 100_000 });
    expect(staged.w.staged).toBe(1);
    expect(staged.tables.features).toBe(rows.tables.features);
    const n = await queryObjects(staged.s, "SELECT count(*)::INTEGER AS n, count(spot)::INTEGER AS spots, min(sigma_samples) AS k FROM features");
    expect(n[0]).toEqual({ n: 700, spots: 0, k: 3 });
  });

  it("reject a value that does not fit its INTEGER column instead of failing the batch half-way, in both paths", async () => {
    for (const stageMinRows of [1, Number.POSITIVE_INFINITY]) {
      const s = await mem();
      const w = new AuditWriter(s, "r", "replay", { stageMinRows });
      const order = (ts: number, yesPrice: number): AuditRecord => ({
        kind: "order", ts, clientOrderId: `c${ts}`, orderId: null, market: "M", outcome: "yes", action: "buy", bookSide: "ask",
        yesPrice, count: 100, filled: 0, status: "pending", reason: "", evalId: "e",
      });
      w.write(order(1, 5000));
      w.write(order(2, 2 ** 31));
      w.write(order(3, -(2 ** 31) - 1));
      w.write(order(4, 6000));
      await w.close();
      expect(w.counts().rejected, `stageMinRows ${stageMinRows}`).toBe(2);
      const got = await queryObjects(s, "SELECT ts_us, yes_price_e4 FROM orders ORDER BY rowid");
      expect(got).toEqual([
        { ts_us: 1, yes_price_e4: 5000 },
        { ts_us: 4, yes_price_e4: 6000 },
      ]);
    }
  });

  it("store market data as row-by-row appends do (the collector's writer takes the same path)", async () => {
    const evs: EngineEvent[] = [];
    for (let i = 0; i < 1500; i++) {
      const t = T0 + i * 10;
      const m = MARKETS[i % MARKETS.length]!;
      const x = DOUBLES[i % DOUBLES.length]!;
      evs.push(
        { kind: "spot_quote", tsRecv: t, tsExchange: i % 3 ? t - 5 : null, productId: "BTC-USD", bid: x, ask: 77000.02, bidSize: 0.5, askSize: 0.25, last: Number.NaN, seq: i % 4 ? i : -1 },
        { kind: "spot_trade", tsRecv: t + 1, tsExchange: null, productId: "BTC-USD", price: 77000.02, size: x, takerSide: i % 2 ? "buy" : "sell", tradeId: `${i}` },
        { kind: "index_value", tsRecv: t + 2, tsExchange: t, indexId: "BRTI", value: 77001.5, avg60s: x, sid: 4, seq: i },
        { kind: "market_ticker", tsRecv: t + 3, tsExchange: null, market: m, lastPrice: i % 5 ? 4400 : -1, yesBid: 4400, yesAsk: 4450, yesBidSize: 12345 + i, yesAskSize: 1, volume: 100000, openInterest: 5000 },
        { kind: "book_delta", tsRecv: t + 4, tsExchange: null, market: m, sid: 1, seq: i, side: i % 2 ? "no" : "yes", price: 5550, delta: -150 + i, clientOrderId: i % 7 ? null : `c${i}` },
        { kind: "public_trade", tsRecv: t + 5, tsExchange: t + 5, market: m, tradeId: `pt${i}`, yesPrice: 4425, count: 301, takerSide: "no", sid: 5, seq: i },
      );
      if (i % 100 === 0) evs.push({ kind: "book_snapshot", tsRecv: t + 6, tsExchange: null, market: m, sid: 1, seq: i, yesBids: [[4300, 100 + i]], noBids: [] });
    }
    const tables = ["spot_ticks", "spot_trades", "index_values", "kalshi_tickers", "kalshi_orderbook_deltas", "public_trades", "kalshi_orderbook_snapshots"];
    const run = async (stageMinRows: number) => {
      const s = await mem();
      const w = new MarketDataWriter(s, "c1", { stageMinRows, batchRows: 4000 });
      for (const e of evs) w.write(e);
      await w.close();
      return { w, tables: await dump(s, tables) };
    };
    const rows = await run(Number.POSITIVE_INFINITY);
    const staged = await run(1);
    expect(staged.w.staged).toBeGreaterThan(6);
    for (const t of tables) expect(staged.tables[t], t).toBe(rows.tables[t]);
  });

  it("reject a record with NULL in a NOT NULL column; the rest of its batch is kept (both paths)", async () => {
    for (const stageMinRows of [1, Number.POSITIVE_INFINITY]) {
      const s = await mem();
      const w = new MarketDataWriter(s, "c1", { stageMinRows });
      for (let i = 0; i < 10; i++) {
        // index_values.value and spot_trades.size are NOT NULL; a NaN there is stored as NULL
        w.write({ kind: "index_value", tsRecv: T0 + i, tsExchange: null, indexId: "BRTI", value: i === 4 ? Number.NaN : 77000 + i, avg60s: Number.NaN, sid: 1, seq: i });
        w.write({ kind: "spot_trade", tsRecv: T0 + i, tsExchange: null, productId: "BTC-USD", price: 77000, size: i === 7 ? Number.NaN : 0.01, takerSide: "buy", tradeId: `${i}` });
      }
      await w.close();
      expect(w.counts().rejected, `stageMinRows ${stageMinRows}`).toBe(2);
      const v = await queryObjects(s, "SELECT list(seq ORDER BY rowid) AS seqs FROM index_values");
      expect((v[0]!.seqs as bigint[]).map(Number)).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9]);
      const t = await queryObjects(s, "SELECT list(trade_id ORDER BY rowid) AS ids FROM spot_trades");
      expect(t[0]!.ids).toEqual(["0", "1", "2", "3", "4", "5", "6", "8", "9"]);
    }
  });

  it("several writers staging on one store at once (a sweep job's variants, audit + forecasts) lose and mix nothing", async () => {
    const recs = records(2500).filter((r) => r.kind === "opportunity" || r.kind === "features");
    const run = async (stageMinRows: number) => {
      const s = await mem();
      const ws = ["a", "b", "c"].map((id) => new AuditWriter(s, id, "replay", { stageMinRows, batchRows: 700 }));
      for (const r of recs) for (const w of ws) w.write(r);
      await Promise.all(ws.map((w) => w.close()));
      const out: string[] = [];
      for (const id of ["a", "b", "c"]) {
        for (const t of ["opportunities", "features"]) {
          const rows = (await s.connection.runAndReadAll(`SELECT * EXCLUDE (run_id) FROM ${t} WHERE run_id = '${id}' ORDER BY rowid`)).getRowsJS();
          out.push(JSON.stringify(rows, (_, v) => (typeof v === "bigint" ? `${v}n` : typeof v === "number" && !Number.isFinite(v) ? String(v) : v)));
        }
      }
      return { ws, out };
    };
    const rows = await run(Number.POSITIVE_INFINITY);
    const staged = await run(1);
    expect(staged.ws.every((w) => w.staged > 2)).toBe(true);
    expect(staged.out).toEqual(rows.out);
    // each writer's rows are the same records: the three runs match one another
    expect(staged.out[0]).toBe(staged.out[2]);
    expect(staged.out[0]).toBe(staged.out[4]);
  });

  it("the same on a store file, which also reopens with every row", async () => {
    const dir = mkdtempSync(join(tmpdir(), "staged-"));
    dirs.push(dir);
    const recs = records(1200);
    const tables: Record<string, string>[] = [];
    for (const [name, stageMinRows] of [["rows", Number.POSITIVE_INFINITY], ["staged", 1]] as const) {
      const path = join(dir, `${name}.duckdb`);
      const s = await openStore(path);
      const w = new AuditWriter(s, "r", "replay", { stageMinRows, batchRows: 1000 });
      for (const r of recs) w.write(r);
      await w.close();
      await s.close();
      const again = await openStore(path);
      stores.push(again);
      tables.push(await dump(again));
    }
    for (const t of TABLES) expect(tables[1]![t], t).toBe(tables[0]![t]);
  });
});
