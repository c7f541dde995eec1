// What the store's batched writers reject, and that rejecting one record never costs the records
// beside it: every valid record of a batch is stored, in order, with the strings as written.
import { afterEach, describe, expect, it } from "vitest";
import type { EngineEvent } from "../../lib/core/events.ts";
import type { AuditRecord, Opportunity } from "../../lib/core/records.ts";
import { AuditWriter, MarketDataWriter, openStore, queryObjects, type Store } from "../../lib/store/db.ts";

const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
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
    inputsFresh: i % 4 !== 2,
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

/** Rows of one run in insertion order, as text that keeps NaN, ±Infinity and BIGINTs apart. */
async function dumpRun(s: Store, table: string, runId: string): Promise<string> {
  const rows = (await s.connection.runAndReadAll(`SELECT * EXCLUDE (run_id) FROM ${table} WHERE run_id = $1 ORDER BY rowid`, [runId])).getRowsJS();
  return JSON.stringify(rows, (_, v) => (typeof v === "bigint" ? `${v}n` : typeof v === "number" && !Number.isFinite(v) ? String(v) : v));
}

describe("batched writers", () => {
  it("store every valid record of a batch, in order, and reject the invalid ones whole", async () => {
    const recs = records(3000);
    const s = await mem();
    const w = new AuditWriter(s, "r", "replay", { batchRows: 1500 });
    for (const r of recs) w.write(r);
    await w.close();
    expect(w.counts().rejected).toBe(2);
    const valid = recs.filter((r) => !(r.kind === "opportunity" && r.yesBid === 2 ** 31) && !(r.kind === "position" && r.costBasis === 12.5));
    const tableOf: Record<string, string> = {
      opportunity: "opportunities", features: "features", risk_verdict: "risk_events", risk_state_changed: "risk_events",
      reconciliation: "risk_events", inconsistency: "risk_events", order: "orders", fill_record: "fills", position: "positions_snapshots", settlement: "settlements",
    };
    for (const t of TABLES) {
      const n = await queryObjects(s, `SELECT count(*)::INTEGER AS n FROM ${t}`);
      expect(n[0]!.n, t).toBe(valid.filter((r) => tableOf[r.kind] === t).length);
    }
    const ts = await queryObjects(s, "SELECT list(ts_us ORDER BY rowid) AS ts FROM opportunities");
    expect(ts[0]!.ts).toEqual(valid.filter((r) => r.kind === "opportunity").map((r) => BigInt(r.ts)));
  });

  it("keep every string as written (evaluation ids and their look-alikes, quotes, NUL, long text)", async () => {
    const recs = records(600).filter((r): r is Opportunity => r.kind === "opportunity" && r.yesBid < 2 ** 31);
    const s = await mem();
    const w = new AuditWriter(s, "run-'1'", "replay");
    for (const r of recs) w.write(r);
    await w.close();
    const got = await queryObjects(s, "SELECT run_id, eval_id, market, detail, side FROM opportunities ORDER BY rowid");
    expect(got.map((r) => r.eval_id)).toEqual(recs.map((r) => r.evalId));
    expect(got.map((r) => r.market)).toEqual(recs.map((r) => r.market));
    expect(got.map((r) => r.side)).toEqual(recs.map((r) => r.side));
    // a lone surrogate is replaced on the way to UTF-8; every other detail is kept
    expect(got.map((r) => r.detail)).toEqual(recs.map((r) => r.detail.replace("\ud800", "\ufffd")));
    expect(new Set(got.map((r) => r.run_id))).toEqual(new Set(["run-'1'"]));
  });

  it("reject a value that does not fit its INTEGER column instead of losing the batch", async () => {
    const s = await mem();
    const w = new AuditWriter(s, "r", "replay");
    const order = (ts: number, yesPrice: number): AuditRecord => ({
      kind: "order", ts, clientOrderId: `c${ts}`, orderId: null, market: "M", outcome: "yes", action: "buy", bookSide: "ask",
      yesPrice, count: 100, filled: 0, status: "pending", reason: "", evalId: "e",
    });
    w.write(order(1, 5000));
    w.write(order(2, 2 ** 31));
    w.write(order(3, -(2 ** 31) - 1));
    w.write(order(4, 6000));
    await w.close();
    expect(w.counts().rejected).toBe(2);
    expect(await queryObjects(s, "SELECT ts_us, yes_price_e4 FROM orders ORDER BY rowid")).toEqual([
      { ts_us: 1, yes_price_e4: 5000 },
      { ts_us: 4, yes_price_e4: 6000 },
    ]);
  });

  it("reject a record with NULL in a NOT NULL column; the rest of its batch is kept", async () => {
    const s = await mem();
    const w = new MarketDataWriter(s, "c1");
    for (let i = 0; i < 10; i++) {
      // index_values.value and spot_trades.size are NOT NULL; a NaN there is stored as NULL
      w.write({ kind: "index_value", tsRecv: T0 + i, tsExchange: null, indexId: "BRTI", value: i === 4 ? Number.NaN : 77000 + i, avg60s: Number.NaN, quarterAvg: Number.NaN, quarterTicks: 0, sid: 1, seq: i });
      w.write({ kind: "spot_trade", tsRecv: T0 + i, tsExchange: null, productId: "BTC-USD", price: 77000, size: i === 7 ? Number.NaN : 0.01, takerSide: "buy", tradeId: `${i}` });
    }
    await w.close();
    expect(w.counts().rejected).toBe(2);
    const v = await queryObjects(s, "SELECT list(seq ORDER BY rowid) AS seqs FROM index_values");
    expect((v[0]!.seqs as bigint[]).map(Number)).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9]);
    const t = await queryObjects(s, "SELECT list(trade_id ORDER BY rowid) AS ids FROM spot_trades");
    expect(t[0]!.ids).toEqual(["0", "1", "2", "3", "4", "5", "6", "8", "9"]);
  });

  it("reject a record its table cannot represent (a BigInt in a JSON field) instead of cutting the batch short", async () => {
    const s = await mem();
    const w = new AuditWriter(s, "r", "replay");
    for (let i = 0; i < 600; i++) {
      const bad = i === 300;
      w.write({ kind: "reconciliation", ts: T0 + i, ok: true, mismatches: (bad ? [1n] : [`m${i}`]) as unknown as string[] });
    }
    await w.close();
    expect(w.counts().rejected).toBe(1);
    const n = await queryObjects(s, "SELECT count(*)::INTEGER AS n, max(ts_us) AS last FROM risk_events");
    expect(n[0]).toEqual({ n: 599, last: T0 + 599 });
  });

  it("several writers on one store at once (a sweep job's variants) lose and mix nothing", async () => {
    const recs = records(2500).filter((r) => r.kind === "opportunity" || r.kind === "features");
    const alone = await mem();
    const one = new AuditWriter(alone, "a", "replay", { batchRows: 700 });
    for (const r of recs) one.write(r);
    await one.close();
    const expected = [await dumpRun(alone, "opportunities", "a"), await dumpRun(alone, "features", "a")];
    for (let round = 0; round < 5; round++) {
      const s = await mem();
      const ws = ["a", "b", "c"].map((id) => new AuditWriter(s, id, "replay", { batchRows: 700 }));
      for (const r of recs) for (const w of ws) w.write(r);
      await Promise.all(ws.map((w) => w.close()));
      for (const id of ["a", "b", "c"]) expect([await dumpRun(s, "opportunities", id), await dumpRun(s, "features", id)], `round ${round}, run ${id}`).toEqual(expected);
    }
  });
});
