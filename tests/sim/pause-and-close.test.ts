/** markets that pause / move their close while orders rest. */
import { describe, expect, test } from "vitest";
import type { EngineEvent, MarketLifecycle, OrderUpdate, OwnFill } from "../../lib/core/events.ts";
import type { PlaceOrder } from "../../lib/core/records.ts";
import { ConservativeQueue, ConstantLatency } from "../../lib/sim/models.ts";
import { SimVenue } from "../../lib/sim/venue.ts";
import { S, T0, delta, marketInfo, snapshot } from "../helpers/scenario.ts";

const M = "KXBTCD-26NOV2517-T99999.99";
const CLOSE = T0 + 3600 * S;
function venue(): SimVenue {
  const v = new SimVenue({ latency: new ConstantLatency(10_000, 10_000), queue: new ConservativeQueue(), fee: () => 0, writeTokensPerSecond: 1000, writeBucketCapacity: 1000, createCost: 10, cancelCost: 2 });
  v.onMarketEvent(marketInfo(M, 99_999.99, CLOSE));
  return v;
}
function feed(v: SimVenue, e: EngineEvent): void { v.advance(e.tsRecv); v.onMarketEvent(e); }
function place(v: SimVenue, ts: number, id: string, o: Partial<PlaceOrder>): void {
  v.advance(ts);
  v.place({ kind: "place_order", ts, clientOrderId: id, market: M, outcome: "yes", action: "buy", price: 5000, count: 100, tif: "good_till_canceled", postOnly: false, reduceOnly: false, evalId: "e", ...o });
}
function out(v: SimVenue, ts: number): EngineEvent[] { v.advance(ts); return v.drainBefore(ts); }
const fills = (es: EngineEvent[]) => es.filter((e): e is OwnFill => e.kind === "fill");
const updates = (es: EngineEvent[]) => es.filter((e): e is OrderUpdate => e.kind === "order_update");
function life(ts: number, phase: MarketLifecycle["phase"], closeTime = -1): MarketLifecycle {
  return { kind: "market_lifecycle", tsRecv: ts, tsExchange: null, market: M, phase, result: null, settlementValue: -1, expirationValue: Number.NaN, closeTime, sid: 13, seq: ts };
}

describe("lifecycle", () => {
  test("a paused (deactivated) market takes no new order (ref §7.4: no place/amend during a pause)", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 500]])); // YES ask 0.50 × 5
    feed(v, life(T0 + S, "deactivated"));
    place(v, T0 + 2 * S, "a", { price: 5000, tif: "immediate_or_cancel" });
    const o = out(v, T0 + 3 * S);
    expect(fills(o)).toEqual([]); // before the fix: 1 contract @ 0.50
    expect(updates(o)[0]?.status).toBe("rejected");
  });

  test("reactivating a paused market cancels every resting order (ref §3.5 lifecycle / §7.4)", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 500]]));
    place(v, T0 + S, "a", { price: 4400 }); // rests
    out(v, T0 + 2 * S);
    feed(v, life(T0 + 3 * S, "deactivated"));
    feed(v, life(T0 + 4 * S, "activated"));
    expect(v.restingOrders()).toEqual([]); // before the fix: still resting
    // … so a crossing bid after the reactivation fills an order the venue had cancelled:
    feed(v, delta(T0 + 5 * S, M, 1, 2, "no", 5600, 300));
    expect(fills(out(v, T0 + 6 * S))).toEqual([]);
  });

  test("close_date_updated moving the close earlier stops fills at the new close", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 500]]));
    place(v, T0 + S, "a", { price: 4400 });
    out(v, T0 + 2 * S);
    feed(v, life(T0 + 3 * S, "close_date_updated", T0 + 10 * S)); // can_close_early: now closes at T0+10 s
    feed(v, delta(T0 + 20 * S, M, 1, 2, "no", 5600, 300)); // 10 s after the new close
    expect(fills(out(v, T0 + 21 * S))).toEqual([]); // before the fix: 3 fill @ 0.44
  });
});
