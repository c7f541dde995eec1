/**
 * Order management in replay (the simulated venue is the oracle for what rests and what fills):
 * HALTED cancels everything and stops, REDUCING cancels entries and refuses new ones, a resting order
 * whose value the market moved through is repriced or cancelled, and a bid above the model's value
 * is sold (reduce-only). Books and expected actions are worked out in each test.
 */
import { describe, expect, test } from "vitest";
import { DEFAULT_ENGINE_CONFIG, mergeEngineConfig, type EngineConfigOverrides } from "../../lib/core/config.ts";
import type { EngineEvent, MarketLifecycle, PublicTrade } from "../../lib/core/events.ts";
import type { AuditRecord, Opportunity, OrderIntent } from "../../lib/core/records.ts";
import { TradingSession } from "../../lib/run/session.ts";
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
