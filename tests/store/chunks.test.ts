// The writers' data-chunk path against the row-by-row appender it replaced (the oracle): the same
// records through both must leave every table identical, cell for cell, in the same order. Random
// records cover what the chunk path lays out by hand: strings inlined up to 12 ASCII bytes or assigned
// (non-ASCII, NUL, lone surrogates, long, repeated within and across chunks), BIGINT halves of negative
// and large safe integers, NaN/±Infinity/-0 doubles, PriceE4 -1 → NULL, NULLs in every nullable
// column, booleans, batches that end inside a chunk, and rejected records between valid ones.
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import type { EngineEvent } from "../../lib/core/events.ts";
import type { AuditRecord, ForecastRecord } from "../../lib/core/records.ts";
import { AuditWriter, ForecastWriter, MarketDataWriter, openStore, type AppendPath, type Store } from "../../lib/store/db.ts";

const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

const AUDIT_TABLES = ["opportunities", "features", "risk_events", "orders", "fills", "positions_snapshots", "settlements"];
const MARKET_TABLES = [
  "spot_ticks", "spot_trades", "index_values", "kalshi_tickers", "kalshi_orderbook_deltas", "public_trades", "kalshi_orderbook_snapshots",
  "kalshi_market_lifecycle", "other_events",
];

/** Every row of a table in insertion order, as text that keeps NaN, ±Infinity, -0 and BIGINTs apart. */
async function dump(s: Store, table: string): Promise<string> {
  const rows = (await s.connection.runAndReadAll(`SELECT * FROM ${table} ORDER BY rowid`)).getRowsJS();
  return JSON.stringify(rows, (_, v) =>
    typeof v === "bigint" ? `${v}n` : typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0)) ? `num:${Object.is(v, -0) ? "-0" : v}` : v,
  );
}

// ---- arbitraries ---------------------------------------------------------------------------------

const MARKETS = ["KXBTCD-26NOV1520-T22249.99", "KXBTC15M-26NOV152015-15", "M", "twelve-bytes", "thirteen-byte", "é", ""];
const text = fc.oneof(
  fc.constantFrom(...MARKETS, "yes", "no", "TRADE", "EV_BELOW_MIN", "a\u0000b", "\u0000", "lone \ud800", "x".repeat(300), "€uro-12-byte"),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 16 }),
  fc.string({ maxLength: 14 }),
);
const market = fc.constantFrom(...MARKETS);
const dbl = fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 5e-324));
const safe = fc.oneof(fc.maxSafeInteger(), fc.constantFrom(0, -1, 1, 2 ** 32, -(2 ** 32), 2 ** 32 - 1, -(2 ** 31), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER));
const int32 = fc.oneof(fc.integer(), fc.constantFrom(0, -1, 2 ** 31 - 1, -(2 ** 31)));
const price = fc.oneof(fc.integer({ min: -1, max: 10_000 }), fc.constantFrom(-1, 2 ** 31 - 1));
// Sometimes a value the writer rejects: an INTEGER outside 32 bits, a money field that is not an integer.
const maybeBadInt = fc.oneof({ weight: 20, arbitrary: int32 }, { weight: 1, arbitrary: fc.constantFrom(2 ** 31, 0.5) });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 4 });

const opportunity = fc.record({
  kind: fc.constant("opportunity" as const), ts: safe, evalId: text, market, eventTicker: text, strikeType: text,
  floorStrike: dbl, capStrike: dbl, settleTime: safe, spot: dbl, tauSeconds: dbl, sigma: dbl, pModel: dbl,
  yesBid: price, yesAsk: price, noBid: price, noAsk: fc.oneof(price, fc.constant(2 ** 31)), pMarketBid: dbl, pMarketAsk: dbl, pMarketMid: dbl,
  costYes: dbl, costNo: dbl, evYes: dbl, evNo: dbl, side: fc.constantFrom(null, "yes", "no"), decision: fc.constantFrom("trade", "skip"),
  reason: text, detail: text,
});
const audit: fc.Arbitrary<AuditRecord> = fc.oneof(
  { weight: 8, arbitrary: opportunity },
  fc.record({ kind: fc.constant("features" as const), ts: safe, spot: dbl, sigma: dbl, sigmaSamples: safe, indexValue: dbl, basis: dbl }),
  fc.record({ kind: fc.constant("risk_verdict" as const), ts: safe, evalId: text, market, allowed: fc.boolean(), state: text, reason: text, count: safe }),
  fc.record({ kind: fc.constant("risk_state_changed" as const), ts: safe, from: text, to: text, reason: text }),
  fc.record({ kind: fc.constant("reconciliation" as const), ts: safe, ok: fc.boolean(), mismatches: fc.array(text, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant("inconsistency" as const), ts: safe, market: opt(market), issue: text, detail: text }),
  fc.record({
    kind: fc.constant("order" as const), ts: safe, clientOrderId: text, orderId: opt(text), market, outcome: fc.constantFrom("yes", "no"),
    action: fc.constantFrom("buy", "sell"), bookSide: text, yesPrice: maybeBadInt, count: safe, filled: safe, status: text, reason: text, evalId: opt(text),
  }),
  fc.record({
    kind: fc.constant("fill_record" as const), ts: safe, tradeId: text, clientOrderId: opt(text), orderId: text, market, outcome: fc.constantFrom("yes", "no"),
    action: fc.constantFrom("buy", "sell"), price: maybeBadInt, count: safe, fee: fc.oneof(safe, fc.constant(0.25)), isTaker: fc.boolean(), positionAfter: safe,
  }),
  fc.record({ kind: fc.constant("position" as const), ts: safe, market, position: safe, costBasis: safe, realizedPnl: safe, feesPaid: safe }),
  fc.record({ kind: fc.constant("settlement" as const), ts: safe, market, result: text, source: text, settleValue: dbl, position: safe, payout: safe, pnl: safe }),
) as fc.Arbitrary<AuditRecord>;

const forecast: fc.Arbitrary<ForecastRecord> = fc.record({
  model: text, ts: safe, market, eventTicker: text, settleTime: safe, p: dbl, spot: dbl, sigma: dbl, sigmaRobust: dbl, tauSeconds: dbl,
  strikeType: text, floorStrike: dbl, capStrike: dbl, observedSum: dbl, observedCount: maybeBadInt, pMarketMid: dbl,
}) as unknown as fc.Arbitrary<ForecastRecord>;

const event: fc.Arbitrary<EngineEvent> = fc.oneof(
  fc.record({
    kind: fc.constant("spot_quote" as const), tsRecv: safe, tsExchange: opt(safe), productId: text, bid: dbl, ask: dbl, bidSize: dbl, askSize: dbl, last: dbl, seq: safe,
  }),
  fc.record({ kind: fc.constant("spot_trade" as const), tsRecv: safe, tsExchange: opt(safe), productId: text, takerSide: fc.constantFrom("buy", "sell", "unknown"), price: dbl, size: dbl, tradeId: text }),
  fc.record({ kind: fc.constant("index_value" as const), tsRecv: safe, tsExchange: opt(safe), indexId: text, value: dbl, avg60s: dbl, sid: int32, seq: safe }),
  fc.record({
    kind: fc.constant("book_delta" as const), tsRecv: safe, tsExchange: opt(safe), market, sid: int32, seq: safe, side: fc.constantFrom("yes", "no"),
    price: maybeBadInt, delta: safe, clientOrderId: opt(text),
  }),
  fc.record({
    kind: fc.constant("market_ticker" as const), tsRecv: safe, tsExchange: opt(safe), market, lastPrice: price, yesBid: price, yesAsk: price,
    yesBidSize: safe, yesAskSize: safe, volume: safe, openInterest: safe,
  }),
  fc.record({
    kind: fc.constant("public_trade" as const), tsRecv: safe, tsExchange: opt(safe), market, sid: int32, seq: safe, takerSide: fc.constantFrom("yes", "no"),
    yesPrice: price, count: safe, tradeId: text,
  }),
  fc.record({
    kind: fc.constant("book_snapshot" as const), tsRecv: safe, tsExchange: opt(safe), market, sid: int32, seq: safe,
    yesBids: fc.array(fc.tuple(price, safe), { maxLength: 3 }), noBids: fc.array(fc.tuple(price, safe), { maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant("market_lifecycle" as const), tsRecv: safe, tsExchange: opt(safe), market, sid: int32, seq: safe, phase: text, result: opt(text),
    settlementValue: price, expirationValue: dbl, closeTime: safe,
  }),
  fc.record({ kind: fc.constant("kill_switch" as const), tsRecv: safe, tsExchange: opt(safe), engaged: fc.boolean(), reason: text }),
) as unknown as fc.Arbitrary<EngineEvent>;

/** The same records through both paths, one store each; returns both stores and both writers' counts. */
async function both<T>(
  recs: readonly T[],
  open: (s: Store, path: AppendPath) => { write(r: T): void; close(): Promise<void>; counts(): Record<string, number> },
): Promise<{ rows: Store; chunks: Store; counts: Record<string, number>[] }> {
  const out: Store[] = [];
  const counts: Record<string, number>[] = [];
  for (const path of ["rows", "chunks"] as const) {
    const s = await openStore(":memory:");
    stores.push(s);
    const w = open(s, path);
    for (const r of recs) w.write(r);
    await w.close();
    out.push(s);
    counts.push(w.counts());
  }
  return { rows: out[0]!, chunks: out[1]!, counts };
}

describe("data-chunk appends equal row-by-row appends", () => {
  it("audit records: every table, cell for cell", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(audit, { minLength: 1, maxLength: 400 }), fc.integer({ min: 1, max: 300 }), async (recs, batchRows) => {
        const { rows, chunks, counts } = await both(recs, (s, appendPath) => new AuditWriter(s, "run-'1'", "replay", { batchRows, appendPath }));
        expect(counts[1]).toEqual(counts[0]);
        for (const t of AUDIT_TABLES) expect(await dump(chunks, t), t).toBe(await dump(rows, t));
        for (const s of stores.splice(0)) await s.close();
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it("forecasts and market data (the snapshot table keeps the row path: list columns)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(forecast, { maxLength: 200 }), fc.array(event, { maxLength: 300 }), async (fs, evs) => {
        const f = await both(fs, (s, appendPath) => new ForecastWriter(s, "r", "replay", { batchRows: 97, appendPath }));
        expect(f.counts[1]).toEqual(f.counts[0]);
        expect(await dump(f.chunks, "forecasts")).toBe(await dump(f.rows, "forecasts"));
        const m = await both(evs, (s, appendPath) => new MarketDataWriter(s, "r", { batchRows: 131, appendPath }));
        expect(m.counts[1]).toEqual(m.counts[0]);
        for (const t of MARKET_TABLES) expect(await dump(m.chunks, t), t).toBe(await dump(m.rows, t));
        for (const s of stores.splice(0)) await s.close();
      }),
      { numRuns: 25 },
    );
  }, 120_000);

  it("several full chunks in one batch, with long strings repeated inside and across chunks", async () => {
    // 5 000 evaluations of 7 markets: 2 full chunks and a partial one; each market's long strings
    // repeat hundreds of times per chunk, and every evaluation id is distinct.
    const recs: AuditRecord[] = [];
    for (let i = 0; i < 5000; i++) {
      const m = MARKETS[i % MARKETS.length]!;
      const ts = 1_794_787_370_012_830 + Math.floor(i / 7) * 5_000_000;
      recs.push({
        kind: "opportunity", ts, evalId: `${m}@${ts}`, market: m, eventTicker: m.slice(0, 16), strikeType: "greater", floorStrike: 90_000.99 + i,
        capStrike: Number.NaN, settleTime: ts + 3.6e9, spot: 91_234.5, tauSeconds: 1234.5, sigma: 0.45, pModel: i / 5000,
        yesBid: i % 10_001, yesAsk: i % 9 === 0 ? -1 : 4600, noBid: 5400, noAsk: 5500, pMarketBid: 0.45, pMarketAsk: 0.46, pMarketMid: 0.455,
        costYes: 0.01, costNo: 0.012, evYes: -0.02, evNo: 0.03, side: i % 3 ? null : "yes", decision: "skip", reason: "EV_BELOW_MIN",
        detail: i % 5 ? "" : `spread ${i % 40} ticks > the 10 allowed`, inputsFresh: i % 4 !== 1,
      });
    }
    const { rows, chunks } = await both(recs, (s, appendPath) => new AuditWriter(s, "bench", "replay", { appendPath }));
    const got = await dump(chunks, "opportunities");
    expect(got).toBe(await dump(rows, "opportunities"));
    const n = await chunks.connection.runAndReadAll("SELECT count(*)::INTEGER, count(DISTINCT eval_id)::INTEGER FROM opportunities");
    expect(n.getRowsJS()[0]).toEqual([5000, 5000]);
  });
});

describe("the bindings the chunk path calls", () => {
  it("are the very package @duckdb/node-api runs on (one native module, one version)", async () => {
    const { readFileSync } = await import("node:fs");
    const { createRequire } = await import("node:module");
    const require = createRequire(import.meta.url);
    const ours = JSON.parse(readFileSync("package.json", "utf8")) as { dependencies: Record<string, string> };
    const api = JSON.parse(readFileSync(require.resolve("@duckdb/node-api/package.json"), "utf8")) as { dependencies: Record<string, string> };
    // A chunk made by node-api's copy of the bindings cannot be filled by another copy's functions.
    expect(ours.dependencies["@duckdb/node-bindings"]).toBe(api.dependencies["@duckdb/node-bindings"]);
    const fromApi = createRequire(require.resolve("@duckdb/node-api"))("@duckdb/node-bindings") as unknown;
    expect(fromApi).toBe(require("@duckdb/node-bindings"));
  });
});
