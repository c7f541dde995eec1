/**
 * Order management in replay (the simulated venue is the oracle for what rests and what fills):
 * HALTED cancels everything and stops, REDUCING cancels entries and refuses new ones, a resting order
 * whose value the market moved through is repriced or cancelled, and a bid above the model's value
 * is sold (reduce-only). Books and expected actions are worked out in each test.
 */
import { SPOT_CONFIRM_US } from "../../lib/core/spot-guard.ts";
import { describe, expect, test } from "vitest";
import { DEFAULT_ENGINE_CONFIG, mergeEngineConfig, type EngineConfigOverrides } from "../../lib/core/config.ts";
import type { EngineEvent, MarketLifecycle, PublicTrade } from "../../lib/core/events.ts";
import type { AuditRecord, Opportunity, OrderIntent } from "../../lib/core/records.ts";
import { TradingSession } from "../../lib/run/session.ts";
import { SummaryCollector } from "../../lib/run/summary.ts";
import { S, T0, marketInfo, merge, snapshot, spotWalk } from "../helpers/scenario.ts";

const A = "KXBTCD-26NOV2516-T89999.99";
const B = "KXBTCD-26NOV2516-T90999.99";
const CLOSE = T0 + 1800 * S;

function session(overrides: EngineConfigOverrides) {
  const records: AuditRecord[] = [];
  const intents: OrderIntent[] = [];
  const s = new TradingSession({
    config: mergeEngineConfig(DEFAULT_ENGINE_CONFIG, overrides),
    executor: "sim",
    tradingEnabled: true,
    onRecord: (r) => records.push(r),
    onIntent: (i) => intents.push(i),
  });
  return { s, records, intents };
}
function trade(ts: number, market: string, count: number, yesPrice: number, takerSide: "yes" | "no" = "no"): PublicTrade {
  return { kind: "public_trade", tsRecv: ts, tsExchange: null, market, tradeId: `t${market}${ts}`, yesPrice, count, takerSide, sid: 2, seq: -1 };
}
function determined(ts: number, market: string, result: "yes" | "no"): MarketLifecycle {
  return { kind: "market_lifecycle", tsRecv: ts, tsExchange: null, market, phase: "determined", result, settlementValue: result === "yes" ? 10_000 : 0, expirationValue: 0, closeTime: -1, sid: 3, seq: -1 };
}
const MAKER: EngineConfigOverrides = {
  strategy: { execution: "maker", spreadMaxTicks: 20, restingTtlSeconds: 1000 },
  risk: { maxOpenPositions: 2 },
};
const places = (is: OrderIntent[]) => is.filter((i) => i.kind === "place_order");

describe("HALTED and REDUCING (replay)", () => {
  test("a reconciliation-mismatch halt cancels the resting bid at the venue; a later trade fills nothing", () => {
    const { s, records, intents } = session(MAKER);
    // YES 0.40 × 10, NO 0.50 × 10. Spot 100k vs strike 90k: p ≈ 0.99, so the maker bids YES at 0.40.
    const evs = merge([marketInfo(A, 89_999.99, CLOSE)], spotWalk(420, 100_000, 0.0001, 7), [snapshot(T0 + S, A, 1, 1, [[4000, 1000]], [[5000, 1000]])]);
    const halt: EngineEvent = { kind: "position_snapshot", tsRecv: T0 + 340 * S, tsExchange: null, positions: [{ market: A, position: 500 }], restingOrders: [], balance: -1 };
    for (const e of merge(evs, [halt], [trade(T0 + 360 * S, A, 5000, 4000)])) s.push(e);
    s.finish();
    const first = places(intents)[0]!;
    expect(first).toMatchObject({ market: A, outcome: "yes", price: 4000, tif: "good_till_canceled" });
    expect(first.ts).toBeLessThan(T0 + 340 * S);
    expect(s.engine.risk.state()).toBe("HALTED");
    expect(intents.filter((i) => i.kind === "cancel_all").map((i) => i.ts)).toEqual([T0 + 340 * S]);
    expect(s.sim!.restingOrders()).toEqual([]);
    // 50 contracts traded at our 0.40 after the halt: none of them are ours, and nothing new was sent.
    expect(records.filter((r) => r.kind === "fill_record")).toEqual([]);
    expect(places(intents).filter((i) => i.ts >= T0 + 340 * S)).toEqual([]);
  });

  test("REDUCING (daily loss) cancels the resting entry in another market and refuses new entries", () => {
    const { s, records, intents } = session({ ...MAKER, risk: { ...MAKER.risk, maxDailyLossPct: 0.003 } });
    const evs = merge(
      [marketInfo(A, 89_999.99, CLOSE), marketInfo(B, 90_999.99, CLOSE)],
      spotWalk(480, 100_000, 0.0001, 7),
      [snapshot(T0 + S, A, 1, 1, [[4000, 1000]], [[5000, 1000]]), snapshot(T0 + S, B, 1, 2, [[4000, 1000]], [[5000, 1000]])],
      // 20 sold into A's YES bids at 0.40: 10 to the queue ahead, 10 to our bid.
      [trade(T0 + 330 * S, A, 2000, 4000)],
      // A settles NO: −$4.00 ≥ 0.3 % × $1000 = $3 → REDUCING.
      [determined(T0 + 350 * S, A, "no")],
    );
    for (const e of evs) s.push(e);
    s.finish();
    const fill = records.find((r) => r.kind === "fill_record")!;
    expect(fill).toMatchObject({ market: A, price: 4000, count: 1000 });
    expect(records.find((r) => r.kind === "settlement" && r.market === A)).toMatchObject({ pnl: -4_000_000 });
    expect(s.engine.risk.state()).toBe("REDUCING");
    const bOrder = places(intents).find((i) => i.market === B)!;
    expect(bOrder.ts).toBeLessThan(T0 + 350 * S);
    expect(intents.flatMap((i) => (i.kind === "cancel_order" && i.market === B ? [[i.ts, i.reason]] : []))).toEqual([[T0 + 350 * S, "reducing"]]);
    expect(s.sim!.restingOrders()).toEqual([]);
    // No new entry afterwards: B's evaluations with EV above the minimum say RISK_BLOCKED (REDUCING_ONLY).
    expect(places(intents).filter((i) => i.ts >= T0 + 350 * S)).toEqual([]);
    const later = records.filter((r): r is Opportunity => r.kind === "opportunity" && r.market === B && r.ts > T0 + 350 * S && r.reason !== "EV_BELOW_MIN");
    expect(later.length).toBeGreaterThan(0);
    for (const o of later) expect([o.reason, o.detail.split(":")[0]]).toEqual(["RISK_BLOCKED", "REDUCING_ONLY"]);
  });
});

describe("repricing and exits (replay)", () => {
  const C = "KXBTCD-26NOV2516-T99999.99";
  const FAST: EngineConfigOverrides = { ...MAKER, vol: { minSamples: 60 } };
  // YES 0.40 × 10, NO 0.50 × 10 (YES ask 0.50). Spot 100,150 vs strike 99,999.99 with ~29 min left:
  // p ≈ Φ(0.0015 / (1e-4·√1700)) ≈ 0.6, so a maker bids YES at 0.40 (EV ≈ 0.2).
  const start = () => merge([marketInfo(C, 99_999.99, CLOSE)], [snapshot(T0 + S, C, 1, 1, [[4000, 1000]], [[5000, 1000]])]);
  const entryOf = (is: OrderIntent[]) => places(is).find((i) => i.market === C)!;

  test("spot falls through the resting bid's value: the bid is cancelled at the next evaluation", () => {
    const { s, records, intents } = session(FAST);
    const jump = T0 + 100 * S + 300_000;
    const evs = merge(start(), spotWalk(100, 100_150, 0.0001, 3), spotWalk(100, 99_000, 0.0001, 4, jump), [trade(T0 + 150 * S, C, 5000, 4000)]);
    for (const e of evs) s.push(e);
    s.finish();
    const entry = entryOf(intents);
    expect(entry).toMatchObject({ outcome: "yes", price: 4000, tif: "good_till_canceled" });
    expect(entry.ts).toBeLessThan(jump);
    const cancels = intents.filter((i) => i.kind === "cancel_order");
    expect(cancels).toHaveLength(1);
    // The first sweep after the jump is at T0 + 105 s (5-s grid): within one evaluation interval.
    expect(cancels[0]!.ts).toBeGreaterThanOrEqual(jump);
    expect(cancels[0]!.ts).toBeLessThanOrEqual(jump + 5 * S);
    const row = records.find((r): r is Opportunity => r.kind === "opportunity" && r.ts === cancels[0]!.ts && r.market === C)!;
    expect(row.reason).toBe("CANCEL_RESTING");
    expect(row.pModel).toBeLessThan(0.1);
    // 50 contracts sold at 0.40 later find no bid of ours. (With p ≈ 0 the maker now bids NO at 0.50 instead.)
    expect(records.filter((r) => r.kind === "fill_record")).toEqual([]);
    expect(s.sim!.restingOrders().map((o) => o.clientOrderId)).not.toContain(entry.clientOrderId);
    expect(places(intents).slice(1).every((i) => i.outcome === "no" && i.ts > cancels[0]!.ts)).toBe(true);
  });

  test("the cancel is paced by the write limiter: RATE_LIMITED until the bucket holds a cancel's 2 tokens", () => {
    // One create (10 tokens) empties a 10-token bucket refilling 0.05 token/s: a cancel (2) fits 40 s later.
    const { s, records, intents } = session({ ...FAST, orders: { writeTokensPerSecond: 0.05, writeBucketCapacity: 10 } });
    const evs = merge(start(), spotWalk(70, 100_150, 0.0001, 3), spotWalk(130, 99_000, 0.0001, 4, T0 + 70 * S + 300_000));
    for (const e of evs) s.push(e);
    s.finish();
    const entry = entryOf(intents);
    expect(entry.ts).toBeLessThan(T0 + 70 * S);
    const cancel = intents.find((i) => i.kind === "cancel_order")!;
    const rows = records.filter((r): r is Opportunity => r.kind === "opportunity" && r.market === C && r.ts > T0 + 70 * S && r.ts < cancel.ts);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r.reason).toBe("RATE_LIMITED");
    // The first sweep at or after entry + 40 s.
    expect(cancel.ts).toBeGreaterThanOrEqual(entry.ts + 40 * S);
    expect(cancel.ts).toBeLessThan(entry.ts + 45 * S + S);
    expect(s.sim!.restingOrders().map((o) => o.clientOrderId)).not.toContain(entry.clientOrderId);
  });

  test("the best bid moves 3 ticks away: the resting bid is amended there and loses its queue priority", () => {
    const { s, records, intents } = session(FAST);
    // At 90.2 s the 0.40 level leaves and YES 0.43 × 10 appears: 3 ticks ≥ REPRICE_TICKS 2. The next
    // sweep (95 s, quotes on whole seconds) amends.
    const move = [
      { ...snapshot(T0 + 90 * S + 200_000, C, 1, 2, [[4300, 1000]], [[5000, 1000]]) },
    ];
    const evs = merge(start(), spotWalk(99, 100_150, 0.0001, 3), move);
    for (const e of evs) s.push(e);
    s.finish();
    const entry = entryOf(intents);
    expect(entry).toMatchObject({ price: 4000 });
    const amends = intents.filter((i) => i.kind === "amend_order");
    expect(amends.map((a) => [a.ts, a.price, a.count])).toEqual([[T0 + 95 * S, 4300, 1000]]);
    expect(records.find((r): r is Opportunity => r.kind === "opportunity" && r.ts === amends[0]!.ts && r.market === C)!.reason).toBe("REPRICE");
    // At the venue: one order, now at 0.43 behind the 10 displayed there.
    expect(s.sim!.restingOrders()).toEqual([expect.objectContaining({ price: 4300, remaining: 1000, queueAhead: 1000 })]);
    expect(s.sim!.stats.amends).toBe(1);
  });

  test("an amend the gateway refuses is reported back: the engine retries at the next evaluation, not after the resting TTL", () => {
    // As above, the best bid moves to 0.43 at 90.2 s and the 95-s sweep amends — but at 95 s the
    // gateway refuses it (a data guard), so the venue never sees it. The gateway answers with a
    // `resting` order update ("gateway: amend refused: …"), which ends the amend in flight; the 100-s
    // sweep amends again and it goes through. Before, the engine waited RESTING_TTL_SECONDS (1000 s here).
    // EV_MIN 0.01 keeps the EV at 0.43 (≈ 0.03–0.05 on this walk) clear of the minimum at both sweeps.
    const refuseAt = T0 + 95 * S;
    const refused: string[] = [];
    const records: AuditRecord[] = [];
    const intents: OrderIntent[] = [];
    const s = new TradingSession({
      config: mergeEngineConfig(DEFAULT_ENGINE_CONFIG, { ...FAST, strategy: { ...FAST.strategy, evMin: 0.01 } }),
      executor: "sim",
      tradingEnabled: true,
      onRecord: (r) => records.push(r),
      onIntent: (i) => intents.push(i),
      onRefused: (u) => refused.push(`${u.tsRecv} ${u.status} ${u.reason}`),
      extraDataCheck: (_m, ts) => (ts === refuseAt ? "test: spot feed stale" : null),
    });
    const move = [snapshot(T0 + 90 * S + 200_000, C, 1, 2, [[4300, 1000]], [[5000, 1000]])];
    for (const e of merge(start(), spotWalk(110, 100_150, 0.0001, 3), move)) s.push(e);
    s.finish();
    const amends = intents.filter((i) => i.kind === "amend_order");
    expect(amends.map((a) => [a.ts, a.price])).toEqual([[refuseAt, 4300], [refuseAt + 5 * S, 4300]]);
    expect(refused).toEqual([`${refuseAt} resting gateway: amend refused: stale or inconsistent data: test: spot feed stale`]);
    // The order record shows the refusal; the venue saw one amend and the order rests at 0.43.
    expect(records.some((r) => r.kind === "order" && r.ts === refuseAt && /amend refused/.test(r.reason))).toBe(true);
    expect(s.sim!.stats.amends).toBe(1);
    expect(s.sim!.restingOrders()).toEqual([expect.objectContaining({ price: 4300, remaining: 1000 })]);
  });

  test("the bid exceeds the model's value plus costs: the position is sold reduce-only at the bid", () => {
    const { s, records, intents } = session({ vol: { minSamples: 60 } });
    // Taker: buy 10 YES at 0.50 (p ≈ 0.99 with spot 100k vs 89,999.99). At 100.3 s spot drops to 85,000
    // (taken at 105.3 s, below):
    // p ≈ 0, and the YES bid 0.48 − (0 + 0.018 fee + 0.01 slippage) ≈ 0.45 ≥ EXIT_EV_MIN 0.03.
    const evs = merge([marketInfo(A, 89_999.99, CLOSE)], [snapshot(T0 + S, A, 1, 1, [[4800, 1000]], [[5000, 1000]])], spotWalk(100, 100_000, 0.0001, 3), spotWalk(60, 85_000, 0.0001, 4, T0 + 100 * S + 300_000));
    for (const e of evs) s.push(e);
    s.finish();
    const ps = places(intents);
    expect(ps[0]).toMatchObject({ outcome: "yes", action: "buy", price: 5000, count: 1000, reduceOnly: false });
    const exit = ps.find((i) => i.action === "sell")!;
    expect(exit).toMatchObject({ outcome: "yes", action: "sell", price: 4800, count: 1000, tif: "immediate_or_cancel", reduceOnly: true });
    // A 15 % drop in one tick is more than a stray print may move the spot (MAX_SPOT_JUMP): the level
    // is taken once the quotes held it for SPOT_CONFIRM_US, with the quote of 105.3 s, and nothing is
    // priced from the old level meanwhile ("spot in doubt").
    expect(exit.ts).toBe(T0 + 100 * S + 300_000 + SPOT_CONFIRM_US);
    expect(ps.filter((p) => p.ts > T0 + 100 * S && p.ts < exit.ts)).toEqual([]);
    expect(records.some((r) => r.kind === "opportunity" && r.ts > T0 + 100 * S && r.ts < exit.ts && r.decision === "trade")).toBe(false);
    const row = records.find((r): r is Opportunity => r.kind === "opportunity" && r.ts === exit.ts)!;
    expect(row).toMatchObject({ reason: "EXIT", decision: "trade", side: "yes" });
    const fills = records.filter((r) => r.kind === "fill_record");
    // Fee: ceil(0.07 × 10 × 0.48 × 0.52 = 0.17472) = $0.18.
    expect(fills.slice(0, 2).map((f) => [f.action, f.price, f.count, f.fee, f.positionAfter])).toEqual([
      ["buy", 5000, 1000, 180_000, 1000],
      ["sell", 4800, 1000, 180_000, 0],
    ]);
    // Realized (0.48 − 0.50) × 10 = −$0.20 on the round trip.
    expect(s.engine.portfolio.position(A).realizedPnl).toBe(-200_000);
  });

});

describe("settlement window: the ticks of the seconds close − 59 … close (issue 10)", () => {
  // Kalshi's cfbenchmarks_value stream counts the window's ticks ":01 → 1 … :00 → 60" (the tick of
  // the close second in, the one of close − 60 out), and CF stamps a tick a fraction past its second:
  // the reference's quarter-close tick is stamped close + 123 ms (kalshi-api.md, cfbenchmarks_value).
  const OFF = 123_000;

  test("a tick belongs to the whole second it is stamped in: close − 60 s + 123 ms is out, close + 123 ms is in", async () => {
    const { IndexWindow, inSettlementWindow, settlementSecond } = await import("../../lib/core/settlement.ts");
    const close = T0 + 600 * S;
    const w = new IndexWindow(60);
    // 61 one-per-second ticks stamped close − 60 s + 123 ms … close + 123 ms, valued 1 … 61. Kalshi's
    // 60 are those of the seconds close − 59 … close: values 2 … 61, average 31.5. Rounding stamps up
    // to the next second took 1 … 60 (average 30.5): the close tick out, the one of close − 60 in.
    for (let k = 0; k <= 60; k++) w.onIndex(close - 60 * S + OFF + k * S, k + 1);
    const o = w.observed(close, close + 2 * S);
    expect([o.count, o.sum / o.count, o.source]).toEqual([60, 31.5, "brti"]);
    // Edges, with the one shared predicate.
    expect(inSettlementWindow(close - 60 * S + OFF, close)).toBe(false);
    expect(inSettlementWindow(close - 59 * S, close)).toBe(true);
    expect(inSettlementWindow(close, close)).toBe(true);
    expect(inSettlementWindow(close + OFF, close)).toBe(true);
    expect(inSettlementWindow(close + S, close)).toBe(false);
    expect(settlementSecond(close)).toBe(close / S);
    expect(settlementSecond(close + OFF)).toBe(close / S);
    expect(settlementSecond(close - 1)).toBe(close / S - 1);
  });

  test("the simulated venue's fallback settlement uses the same window", async () => {
    const { SettlementFallback } = await import("../../lib/sim/settlement.ts");
    const close = T0 + 600 * S;
    // The ticks 1 … 61 as above, strike 30.9: the window's average 31.5 settles YES; the rounded-up
    // slots (1 … 60, average 30.5) settled NO.
    const g = new SettlementFallback(0, 60);
    g.onEvent(marketInfo(A, 30.9, close));
    for (let k = 0; k <= 60; k++) {
      const ts = close - 60 * S + OFF + k * S;
      g.onEvent({ kind: "index_value", tsRecv: ts + 150_000, tsExchange: ts, indexId: "BRTI", value: k + 1, avg60s: Number.NaN, quarterAvg: Number.NaN, quarterTicks: 0, sid: 9, seq: k + 1 });
    }
    const out = g.finish(close + 5 * S);
    expect(out.map((e) => [e.result, e.expirationValue])).toEqual([["yes", 31.5]]);
  });
});

describe("sizing, EV fee at the capped size, MARKET_NOT_OPEN (issue 10)", () => {
  const book = () => [snapshot(T0 + S, A, 1, 1, [[4800, 1000]], [[5000, 1000]])];
  const firstTrade = (records: AuditRecord[]) => records.find((r): r is Opportunity => r.kind === "opportunity" && r.decision === "trade")!;

  test("the EV fee is the fee of the risk-capped order: 100 asked, 10 allowed → $0.18 / 10, not $1.75 / 100", () => {
    // $250 × 2 % = $5 of room at $0.50 = 10 contracts. Fee of 10 @ 0.50: ceil(0.175) = $0.18 → 0.018 per
    // contract (+ 1 tick slippage = 0.028); at the configured 100 it would be 1.75 / 100 = 0.0175 (0.0275).
    const { s, records, intents } = session({ vol: { minSamples: 60 }, strategy: { orderContracts: 100 }, risk: { startingBalanceDollars: 250 } });
    for (const e of merge([marketInfo(A, 89_999.99, CLOSE)], book(), spotWalk(100, 100_000, 0.0001, 3))) s.push(e);
    s.finish();
    const t = firstTrade(records);
    expect(t.costYes).toBeCloseTo(0.028, 12);
    expect(places(intents)[0]).toMatchObject({ count: 1000 });
    expect(t.detail).toMatch(/capped to 10\.00/);
  });

  test("fractional Kelly: floor(kellyFraction × f* × balance / c) contracts, f* = (q − c)/(1 − c), logged with its inputs", () => {
    const kf = 0.02;
    const { s, records, intents } = session({ vol: { minSamples: 60 }, strategy: { sizing: "kelly", kellyFraction: kf } });
    for (const e of merge([marketInfo(A, 89_999.99, CLOSE)], book(), spotWalk(100, 100_000, 0.0001, 3))) s.push(e);
    s.finish();
    const t = firstTrade(records);
    // c: ask 0.50 + fee/contract at the fixed 10 (0.018) + slippage 0.01 = 0.528.
    const c = 0.528;
    const fStar = (t.pModel - c) / (1 - c);
    const contracts = Math.floor((kf * fStar * 1000) / c);
    expect(contracts).toBeGreaterThan(30); // p ≈ 0.99: f* ≈ 0.98 → ≈ 37 contracts, inside the $20 (40-contract) cap
    expect(contracts).toBeLessThan(40);
    expect(places(intents)[0]).toMatchObject({ outcome: "yes", price: 5000, count: contracts * 100 });
    // The EV fee is at that size: ceil(0.07 × n × 0.25) to the cent, per contract, + 1 tick.
    const fee = Math.ceil(0.07 * contracts * 0.25 * 100 - 1e-9) / 100;
    expect(t.costYes).toBeCloseTo(fee / contracts + 0.01, 12);
    expect(t.detail).toMatch(/^size kelly q=0\.\d{4} c=0\.5280 f\*=0\.\d{4} × 0\.02 × \$1000\.00 → \d+\.00$/);
  });

  test("a market before its open time gets MARKET_NOT_OPEN rows and no order", () => {
    const opens = T0 + 80 * S;
    const { s, records, intents } = session({ vol: { minSamples: 60 } });
    for (const e of merge([marketInfo(A, 89_999.99, CLOSE, { openTime: opens })], book(), spotWalk(100, 100_000, 0.0001, 3))) s.push(e);
    s.finish();
    const rows = records.filter((r): r is Opportunity => r.kind === "opportunity");
    const before = rows.filter((r) => r.ts < opens);
    expect(before.length).toBe(15); // sweeps at 5, 10, …, 75 s (the first boundary after the first event)
    for (const r of before) expect([r.reason, r.decision, Number.isNaN(r.pModel)]).toEqual(["MARKET_NOT_OPEN", "skip", true]);
    expect(rows.find((r) => r.ts >= opens)!.reason).not.toBe("MARKET_NOT_OPEN");
    expect(places(intents).every((i) => i.ts >= opens)).toBe(true);
    expect(places(intents).length).toBeGreaterThan(0);
  });
});

describe("risk caps count the orders still open, not only the positions", () => {
  // Two markets with the same book: YES 0.40 × 10, NO 0.50 × 10. Spot 100k against strikes 90k and
  // 91k: p ≈ 0.99 in both, so the maker bids 10 YES at 0.40 ($4.00) in each when the caps allow it.
  const evs = () =>
    merge(
      [marketInfo(A, 89_999.99, CLOSE), marketInfo(B, 90_999.99, CLOSE)],
      spotWalk(420, 100_000, 0.0001, 7),
      [snapshot(T0 + S, A, 1, 1, [[4000, 1000]], [[5000, 1000]]), snapshot(T0 + S, B, 1, 2, [[4000, 1000]], [[5000, 1000]])],
      // 40 sold at 0.40 into each market: 10 to the queue ahead, then to any bid of ours there.
      [trade(T0 + 400 * S, A, 4000, 4000), trade(T0 + 400 * S, B, 4000, 4000)],
    );
  const positions = (records: AuditRecord[]) => new Set(records.flatMap((r) => (r.kind === "fill_record" ? [r.market] : [])));

  test("maxOpenPositions 1: a resting entry in A counts as A's position, so B gets no order and only one position can open", () => {
    const { s, records, intents } = session({ ...MAKER, risk: { maxOpenPositions: 1 } });
    for (const e of evs()) s.push(e);
    s.finish();
    expect(new Set(places(intents).map((i) => i.market)).size).toBe(1); // before the fix: A and B
    expect(positions(records).size).toBe(1); // before the fix: 2 open positions with a cap of 1
    const other = places(intents)[0]!.market === A ? B : A;
    const blocked = records.filter((r): r is Opportunity => r.kind === "opportunity" && r.market === other && r.reason === "RISK_BLOCKED");
    expect(blocked.length).toBeGreaterThan(0);
    expect(blocked[0]!.detail).toMatch(/^MAX_OPEN_POSITIONS/);
  });

  test("maxExposurePct: the second market's entry is sized to the room the first one's resting order leaves", () => {
    // Exposure cap 0.6 % of $1000 = $6.00; the first bid holds $4.00 of it → the second gets
    // floor($2.00 / $0.40) = 5 contracts, not 10.
    const { s, records, intents } = session({ ...MAKER, risk: { maxOpenPositions: 5, maxExposurePct: 0.006 } });
    for (const e of evs()) s.push(e);
    s.finish();
    const p = places(intents);
    expect(p.map((i) => i.count)).toEqual([1000, 500]); // before the fix: [1000, 1000]
    const bought = records.reduce((a, r) => a + (r.kind === "fill_record" ? r.count * r.price : 0), 0);
    expect(bought).toBeLessThanOrEqual(6_000_000); // $6.00: count (E2) × price (E4) is micros
  });

  test("a reprice up is held to the same caps: it shrinks to what fits at the new price", () => {
    // As above: A rests 10 @ 0.40 ($4.00), B 5 @ 0.40 ($2.00) — the $6.00 cap is used up. A's best
    // bid then moves to 0.45 (5 ticks ≥ repriceTicks): the reprice may use A's own $4.00 plus the
    // room left ($0): $4.00 / $0.45 = 8.88 contracts (counts are hundredths), so A is amended to
    // 0.45 × 8.88, not × 10.
    const { s, records, intents } = session({ ...MAKER, risk: { maxOpenPositions: 5, maxExposurePct: 0.006 }, vol: { minSamples: 60 } });
    const moved = merge(
      [marketInfo(A, 89_999.99, CLOSE), marketInfo(B, 90_999.99, CLOSE)],
      spotWalk(420, 100_000, 0.0001, 7),
      [snapshot(T0 + S, A, 1, 1, [[4000, 1000]], [[5000, 1000]]), snapshot(T0 + S, B, 1, 2, [[4000, 1000]], [[5000, 1000]])],
      [snapshot(T0 + 200 * S, A, 1, 3, [[4500, 1000]], [[5000, 1000]])],
      [trade(T0 + 400 * S, A, 4000, 4500), trade(T0 + 400 * S, B, 4000, 4000)],
    );
    for (const e of moved) s.push(e);
    s.finish();
    const amends = intents.filter((i) => i.kind === "amend_order");
    expect(amends.map((a) => [a.market, a.price, a.count])).toEqual([[A, 4500, 888]]); // before the fix: count 1000
    const bought = records.reduce((a, r) => a + (r.kind === "fill_record" ? r.count * r.price : 0), 0);
    expect(bought).toBe(888 * 4500 + 500 * 4000); // $3.996 + $2.00 ≤ $6.00 (before the fix: $6.50)
  });
});

/**
 * 10 YES bought at 0.50; BRTI prints of 89,000 fill the final minute, so the fallback settles NO from
 * them (−$5.00 ≥ the 0.3 % × $1000 = $3 daily loss limit → REDUCING); then the venue's `results`.
 */
function wrongFallbackLoss(results: EngineEvent[]) {
  const out = session({ vol: { minSamples: 60 }, strategy: { exitsEnabled: false }, risk: { maxDailyLossPct: 0.003 } });
  const brti: EngineEvent[] = [];
  for (let k = 59; k >= 0; k--) {
    const ts = CLOSE - k * S;
    brti.push({ kind: "index_value", tsRecv: ts + 100_000, tsExchange: ts, indexId: "BRTI", value: 89_000, avg60s: Number.NaN, quarterAvg: Number.NaN, quarterTicks: 0, sid: 9, seq: 60 - k });
  }
  const evs = merge(
    [marketInfo(A, 89_999.99, CLOSE)],
    [snapshot(T0 + S, A, 1, 1, [[4800, 1000]], [[5000, 1000]])],
    spotWalk(1810, 100_000, 0.00001, 3),
    brti,
    spotWalk(30, 100_000, 0.00001, 4, CLOSE + 950 * S),
    results,
  );
  for (const e of evs) out.s.push(e);
  out.s.finish();
  return out;
}

describe("a venue result that comes after the fallback settled the market overrules it", () => {
  // YES ask 0.50 × 10 (NO bid 0.50); spot 100k against strike 90k: the taker buys 10 YES at 0.50.
  // No venue result within the 900-s grace: the fallback settles from the spot proxy (≈100k ≥ 90k →
  // YES). Then Kalshi's determination arrives, 20 min after the close, and says NO.
  const run = (venueResult: "yes" | "no") => {
    const { s, records } = session({ vol: { minSamples: 60 } });
    const evs = merge(
      [marketInfo(A, 89_999.99, CLOSE)],
      [snapshot(T0 + S, A, 1, 1, [[4800, 1000]], [[5000, 1000]])],
      spotWalk(1810, 100_000, 0.00001, 3),
      spotWalk(30, 100_000, 0.00001, 4, CLOSE + 950 * S),
      [determined(CLOSE + 1200 * S, A, venueResult)],
    );
    for (const e of evs) s.push(e);
    s.finish();
    return { s, records };
  };
  const settlements = (records: AuditRecord[]) => records.filter((r) => r.kind === "settlement");

  test("the fallback said YES, the venue says NO: a correcting settlement row takes the payout back; PnL is the NO outcome's", () => {
    const { s, records } = run("no");
    const fill = records.find((r) => r.kind === "fill_record")!;
    expect(fill).toMatchObject({ market: A, price: 5000, count: 1000 });
    const cost = 5_000_000; // the cost basis: 10 × $0.50 (the fee is booked with the fill, not here)
    const rows = settlements(records);
    // Hand: the fallback pays 10 × $1 = $10 (PnL $10 − cost); the venue's NO pays $0, so the second
    // row carries −$10 of payout and PnL. Summed per market (as lib/analysis does): payout 0, PnL −cost.
    expect(rows.map((r) => r.kind === "settlement" && [r.source, r.result, r.position, r.payout])).toEqual([
      ["spot_proxy", "yes", 1000, 10_000_000],
      ["venue", "no", 1000, -10_000_000],
    ]);
    expect(rows.reduce((a, r) => a + (r.kind === "settlement" ? r.pnl : 0), 0)).toBe(-cost);
    expect(s.engine.portfolio.realizedTotal()).toBe(-cost);
    expect(records.some((r) => r.kind === "inconsistency" && r.market === A && /settlement_overruled/.test(r.issue))).toBe(true);
    // The run summary counts the market once, under the venue, and says a fallback was overruled.
    const summary = new SummaryCollector();
    for (const r of records) summary.record(r);
    expect(summary.toJSON(s.engine, 0)).toMatchObject({ settlements: 1, settlement_sources: { venue: 1 }, settlement_corrections: 1, settlement_pnl_usd: -5 });
  });

  test("the forecasts of a market the venue overruled are scored against the venue's outcome", () => {
    const { s, records } = run("no");
    const summary = new SummaryCollector();
    for (const r of records) summary.record(r);
    // Oracle, by hand from the opportunity rows: every scored forecast of the market against NO (0).
    const unscored = new Set(["TAU_TOO_LONG", "UNSUPPORTED_STRIKE", "MARKET_NOT_OPEN"]);
    const fallbackAt = records.find((r) => r.kind === "settlement")!.ts;
    const scored = records.filter((r): r is Opportunity => r.kind === "opportunity" && r.ts <= fallbackAt && Number.isFinite(r.pModel) && Number.isFinite(r.pMarketMid) && !unscored.has(r.reason));
    expect(scored.length).toBeGreaterThan(100);
    const brierModel = scored.reduce((a, r) => a + r.pModel * r.pModel, 0) / scored.length;
    const brierMarket = scored.reduce((a, r) => a + r.pMarketMid * r.pMarketMid, 0) / scored.length;
    const sc = summary.scores();
    expect(sc.n).toBe(scored.length);
    expect(sc.markets).toBe(1);
    // Before: scored against the fallback's YES, (1 − p)², far from these.
    expect(sc.brier_model).toBeCloseTo(brierModel, 5);
    expect(sc.brier_market).toBeCloseTo(brierMarket, 5);
    expect(s.engine.portfolio.realizedTotal()).toBe(-5_000_000);
  });

  test("a REDUCING the fallback's wrong loss caused is lifted when the venue's result removes that loss", () => {
    // As above, but BRTI prints of 89,000 fill the final minute: the fallback settles NO from them
    // (−$5.00 ≥ the 0.3 % × $1000 = $3 daily loss limit → REDUCING); Kalshi says YES: +$5.00 on the day.
    const { s, records } = wrongFallbackLoss([determined(CLOSE + 1200 * S, A, "yes")]);
    const rows = records.filter((r) => r.kind === "settlement");
    expect(rows.map((r) => r.kind === "settlement" && [r.source, r.result, r.pnl])).toEqual([
      ["brti_avg60", "no", -5_000_000],
      ["venue", "yes", 10_000_000],
    ]);
    const changes = records.filter((r) => r.kind === "risk_state_changed").map((r) => r.kind === "risk_state_changed" && [r.from, r.to]);
    expect(changes).toEqual([["ACTIVE", "REDUCING"], ["REDUCING", "ACTIVE"]]); // before the fix: it stayed REDUCING
    expect(s.engine.risk.state()).toBe("ACTIVE");
  });

  test("the venue first confirms the fallback's wrong loss, then changes its result: the REDUCING it caused is lifted", () => {
    // As above (fallback NO from BRTI at 89,000: −$5, REDUCING), then Kalshi determined NO (a row of 0),
    // then settled YES (+$10): the day is +$5, within the limit, at the trip and now.
    const settledYes: MarketLifecycle = { ...determined(CLOSE + 1300 * S, A, "yes"), phase: "settled" };
    const { s, records } = wrongFallbackLoss([determined(CLOSE + 1200 * S, A, "no"), settledYes]);
    const rows = records.filter((r) => r.kind === "settlement").map((r) => r.kind === "settlement" && [r.source, r.result, r.pnl]);
    expect(rows).toEqual([["brti_avg60", "no", -5_000_000], ["venue", "no", 0], ["venue", "yes", 10_000_000]]);
    const changes = records.filter((r) => r.kind === "risk_state_changed").map((r) => r.kind === "risk_state_changed" && [r.from, r.to]);
    expect(changes).toEqual([["ACTIVE", "REDUCING"], ["REDUCING", "ACTIVE"]]); // before: the confirmation's time hid the first booking
  });

  test("the venue agrees with the fallback: a confirming row of 0, no correction; the market counts under the venue", () => {
    const { s, records } = run("yes");
    const rows = settlements(records);
    expect(rows.map((r) => r.kind === "settlement" && [r.source, r.result, r.payout, r.pnl])).toEqual([
      ["spot_proxy", "yes", 10_000_000, 5_000_000],
      ["venue", "yes", 0, 0],
    ]);
    expect(s.engine.portfolio.realizedTotal()).toBe(5_000_000);
    expect(records.some((r) => r.kind === "inconsistency")).toBe(false);
    const summary = new SummaryCollector();
    for (const r of records) summary.record(r);
    expect(summary.toJSON(s.engine, 0)).toMatchObject({ settlements: 1, settlement_sources: { venue: 1 }, settlement_corrections: 0, settlement_pnl_usd: 5 });
  });
});
describe("the venue's own results: a repeat, a changed result, a result before the market's record", () => {
  // As above: 10 YES bought at 0.50 (cost $5), the close at CLOSE.
  const run = (extra: EngineEvent[], withInfo = true) => {
    const { s, records } = session({ vol: { minSamples: 60 } });
    const evs = merge(
      withInfo ? [marketInfo(A, 89_999.99, CLOSE)] : [],
      [snapshot(T0 + S, A, 1, 1, [[4800, 1000]], [[5000, 1000]])],
      spotWalk(1810, 100_000, 0.00001, 3),
      spotWalk(30, 100_000, 0.00001, 4, CLOSE + 950 * S),
      extra,
    );
    for (const e of evs) s.push(e);
    s.finish();
    const summary = new SummaryCollector();
    for (const r of records) summary.record(r);
    const rows = records.filter((r) => r.kind === "settlement").map((r) => r.kind === "settlement" && [r.source, r.result, r.pnl]);
    const issues = records.filter((r) => r.kind === "inconsistency").map((r) => r.kind === "inconsistency" && r.issue.split(":")[0]);
    return { s, records, rows, issues, summary: summary.toJSON(s.engine, 0) };
  };
  const settled = (ts: number, result: "yes" | "no"): MarketLifecycle => ({ ...determined(ts, A, result), phase: "settled" });

  test("settled after determined with the same result adds nothing", () => {
    const r = run([determined(CLOSE + 60 * S, A, "no"), determined(CLOSE + 60 * S, A, "no"), settled(CLOSE + 120 * S, "no")]);
    expect(r.rows).toEqual([["venue", "no", -5_000_000]]);
    expect(r.issues).toEqual([]);
    expect(r.summary).toMatchObject({ settlements: 1, settlement_corrections: 0 });
  });

  test("the venue changes its result (determined YES, then settled NO): a correcting row, an inconsistency, one market", () => {
    const r = run([determined(CLOSE + 60 * S, A, "yes"), settled(CLOSE + 120 * S, "no")]);
    // Hand: YES pays $10 (PnL +$5); NO pays $0, so the correction is −$10 and the market's PnL −$5.
    expect(r.rows).toEqual([["venue", "yes", 5_000_000], ["venue", "no", -10_000_000]]);
    expect(r.s.engine.portfolio.realizedTotal()).toBe(-5_000_000);
    expect(r.issues).toEqual(["settlement_overruled"]); // before the fix: nothing, and PnL stayed +$5
    expect(r.summary).toMatchObject({ settlements: 1, settlement_sources: { venue: 1 }, settlement_corrections: 1, settlement_pnl_usd: -5 });
  });

  test("the venue changes its result: the market's forecasts are scored against the final result, once", () => {
    const r = run([determined(CLOSE + 60 * S, A, "yes"), settled(CLOSE + 120 * S, "no")]);
    const summary = new SummaryCollector();
    for (const x of r.records) summary.record(x);
    // Oracle, by hand from the opportunity rows: every scored forecast against NO (y = 0): Brier = mean p².
    const unscored = new Set(["TAU_TOO_LONG", "UNSUPPORTED_STRIKE", "MARKET_NOT_OPEN"]);
    const scored = r.records.filter(
      (x): x is Opportunity => x.kind === "opportunity" && x.inputsFresh && Number.isFinite(x.pModel) && Number.isFinite(x.pMarketMid) && !unscored.has(x.reason),
    );
    expect(scored.length).toBeGreaterThan(100);
    const sc = summary.scores();
    expect(sc.n).toBe(scored.length);
    expect(sc.markets).toBe(1);
    // Before the fix: still scored against the first result, YES, (1 − p)² ≈ 0 for p ≈ 1.
    expect(sc.brier_model).toBeCloseTo(scored.reduce((a, x) => a + x.pModel ** 2, 0) / scored.length, 5);
    expect(sc.brier_market).toBeCloseTo(scored.reduce((a, x) => a + x.pMarketMid ** 2, 0) / scored.length, 5);
    // and back to YES: scored against YES again, not twice
    const back = run([determined(CLOSE + 60 * S, A, "yes"), settled(CLOSE + 120 * S, "no"), settled(CLOSE + 180 * S, "yes")]);
    const sb = new SummaryCollector();
    for (const x of back.records) sb.record(x);
    expect(sb.scores().n).toBe(scored.length);
    expect(sb.scores().brier_model).toBeCloseTo(scored.reduce((a, x) => a + (1 - x.pModel) ** 2, 0) / scored.length, 5);
  });

  test("a result recorded before the market's record: one settlement, under the venue, and the market is not traded", () => {
    const info = { ...marketInfo(A, 89_999.99, CLOSE), tsRecv: T0 + 2 * S };
    const r = run([determined(T0 + S + 500_000, A, "no"), info], false);
    expect(r.rows).toEqual([["venue", "no", 0]]); // before the fix: a second row from the spot proxy
    expect(r.records.filter((x) => x.kind === "fill_record")).toEqual([]);
    expect(r.summary).toMatchObject({ settlements: 1, settlement_sources: { venue: 1 } });
  });
});


describe("a paused market (deactivated) gets no new orders until it is activated again (reference §7.4)", () => {
  const lifecycle = (phase: MarketLifecycle["phase"], ts: number): MarketLifecycle => ({ kind: "market_lifecycle", tsRecv: ts, tsExchange: null, market: A, phase, result: null, settlementValue: -1, expirationValue: Number.NaN, closeTime: -1, sid: 3, seq: -1 });
  test("entries stop at the pause (MARKET_NOT_OPEN, paused) and start again at the reactivation", () => {
    const { s, records, intents } = session({ vol: { minSamples: 60 } });
    const pause = T0 + 200 * S;
    const resume = T0 + 400 * S;
    const evs = merge(
      [marketInfo(A, 89_999.99, CLOSE)],
      spotWalk(600, 100_000, 0.0001, 42),
      [snapshot(T0 + S, A, 1, 1, [[4800, 1000]], [[5000, 1000]])],
      [lifecycle("deactivated", pause), { ...marketInfo(A, 89_999.99, CLOSE), tsRecv: pause, status: "inactive" }],
      [lifecycle("activated", resume)],
    );
    for (const e of evs) s.push(e);
    s.finish();
    const during = (r: AuditRecord) => r.kind === "opportunity" && r.ts > pause && r.ts < resume;
    expect(intents.filter((i) => i.kind === "place_order" && i.ts > pause && i.ts < resume)).toEqual([]); // before: one IOC per evaluation
    expect(records.filter(during).every((r) => r.kind === "opportunity" && r.reason === "MARKET_NOT_OPEN" && r.detail === "paused (deactivated)")).toBe(true);
    expect(records.filter(during).length).toBeGreaterThan(0);
    expect(intents.some((i) => i.kind === "place_order" && i.ts > resume)).toBe(true);
  });
});

describe("a seq gap on a Kalshi channel that carries no book (lifecycle, trades, index)", () => {
  test("is recorded, and trading goes on: no book was lost", () => {
    const run = (extra: EngineEvent[]) => {
      const { s, records, intents } = session({ vol: { minSamples: 60 } });
      for (const e of merge([marketInfo(A, 89_999.99, CLOSE)], spotWalk(600, 100_000, 0.0001, 42), [snapshot(T0 + S, A, 1, 1, [[4800, 1000]], [[5000, 1000]])], extra)) s.push(e);
      s.finish();
      return { records, intents };
    };
    const at = T0 + 200 * S;
    // What KalshiWsClient emits for a lifecycle sid's gap: its sid, no market.
    const gap: EngineEvent = { kind: "feed_health", tsRecv: at, tsExchange: null, feed: "kalshi", status: "gap", sid: 2, markets: [], detail: "market_lifecycle_v2 expected seq 2, got 3" };
    const base = run([]);
    const after = run([gap]);
    const placed = (x: { intents: OrderIntent[] }) => x.intents.filter((i) => i.kind === "place_order" && i.ts > at).length;
    expect(placed(base)).toBeGreaterThan(0);
    expect(placed(after)).toBe(placed(base)); // before the fix: 0, every later evaluation BOOK_STALE for good
    expect(after.records.some((r) => r.kind === "inconsistency" && r.issue === "feed_gap")).toBe(true);
  });
});
