/**
 * Third hostile review of the simulated venue: what the recording tells us *late*. The feed can show
 * a match, or an order that was already at the venue, after our own order arrived there; a seq gap
 * leaves an order with a queue guessed from a book the venue had moved on from; a live tape carries
 * our own live orders. Every expected fill is derived by hand in the comments from the recorded book
 * and the venue stamps (ts_ms) alone. Events are fed as lib/run/session.ts does: the venue finishes
 * what is due before the event's time, then sees the event.
 *
 * Arrival times: an order placed at t reaches the venue at t + 10 ms (LAT). A venue stamp is trusted
 * when it is within MAX_STAMP_SKEW_US (5 s) of its receipt (lib/core/features.ts).
 */
import { describe, expect, test } from "vitest";
import { DEFAULT_ENGINE_CONFIG } from "../../lib/core/config.ts";
import type { BookDelta, EngineEvent, OrderUpdate, OwnFill, PublicTrade } from "../../lib/core/events.ts";
import { orderFee, type FeeLeg } from "../../lib/core/fees.ts";
import type { PlaceOrder } from "../../lib/core/records.ts";
import { ConservativeQueue, ConstantLatency } from "../../lib/sim/models.ts";
import { SimVenue, type SimVenueOptions } from "../../lib/sim/venue.ts";
import { S, T0, delta, marketInfo, snapshot } from "../helpers/scenario.ts";

const M = "KXBTCD-26NOV2517-T99999.99";
const CLOSE = T0 + 3600 * S;
const LAT = 10_000; // 10 ms entry and response

/** Kalshi's quadratic series: taker 0.07 × C × P × (1 − P) ceiled to the cent per order, no maker fee. */
const QUADRATIC = { feeType: "quadratic" as const, feeMultiplier: 1 };
const realFee = (_m: string, legs: readonly FeeLeg[], maker: boolean) => orderFee(legs, maker, QUADRATIC, DEFAULT_ENGINE_CONFIG.fees);

function venue(extra: Partial<SimVenueOptions> = {}): SimVenue {
  const v = new SimVenue({
    latency: new ConstantLatency(LAT, LAT),
    queue: new ConservativeQueue(),
    fee: () => 0,
    writeTokensPerSecond: 1000,
    writeBucketCapacity: 1000,
    createCost: 10,
    cancelCost: 2,
    ...extra,
  });
  v.onMarketEvent(marketInfo(M, 99_999.99, CLOSE));
  return v;
}
function feed(v: SimVenue, e: EngineEvent): void {
  v.advance(e.tsRecv);
  v.onMarketEvent(e);
}
function place(v: SimVenue, ts: number, id: string, o: Partial<PlaceOrder>): void {
  v.advance(ts);
  v.place({ kind: "place_order", ts, clientOrderId: id, market: M, outcome: "yes", action: "buy", price: 5000, count: 100, tif: "good_till_canceled", postOnly: false, reduceOnly: false, evalId: "e", ...o });
}
function cancel(v: SimVenue, ts: number, id: string): void {
  v.advance(ts);
  v.cancel({ kind: "cancel_order", ts, clientOrderId: id, orderId: null, market: M, reason: "test" });
}
/** A print received at `ts`, venue-stamped `stamp` (null: no ts_ms). */
function trade(ts: number, count: number, yesPrice: number, takerSide: "yes" | "no", stamp: number | null = null): PublicTrade {
  return { kind: "public_trade", tsRecv: ts, tsExchange: stamp, market: M, tradeId: `t${ts}`, yesPrice, count, takerSide, sid: 2, seq: ts };
}
function stamped(d: BookDelta, stamp: number | null, clientOrderId: string | null = null): BookDelta {
  return { ...d, tsExchange: stamp, clientOrderId };
}
function out(v: SimVenue, ts: number): EngineEvent[] {
  v.advance(ts);
  return v.drainBefore(ts);
}
const fills = (es: EngineEvent[]) => es.filter((e): e is OwnFill => e.kind === "fill");
const updates = (es: EngineEvent[]) => es.filter((e): e is OrderUpdate => e.kind === "order_update");
/** [clientOrderId, YES price, count, taker?] of each fill. */
const fillRows = (es: EngineEvent[]) => fills(es).map((f) => [f.clientOrderId, f.yesPrice, f.count, f.isTaker]);
const feeSum = (es: EngineEvent[]) => fills(es).reduce((a, f) => a + f.fee, 0);

describe("A. a print of a match stamped before our order reached the venue", () => {
  test("it cannot fill the order; a match stamped after the arrival can", () => {
    const v = venue();
    // YES 0.47 × 10, NO 0.50 × 10 (YES ask 0.50). A stamped delta: the book has shown venue time T0+0.48 s.
    feed(v, snapshot(T0, M, 1, 1, [[4700, 1000]], [[5000, 1000]]));
    feed(v, stamped(delta(T0 + S / 2, M, 1, 2, "yes", 4700, 100), T0 + 480_000));
    // Our bid 5 @ 0.48 arrives at T0+2.01 s, alone at its price (nothing ahead).
    place(v, T0 + 2 * S, "b", { price: 4800, count: 500 });
    // A print of 5 @ 0.48 stamped T0+1.5 s, received late at T0+3 s: the match was made 510 ms before
    // our bid existed, with whoever bid 0.48 then (the delta for it is in the feed's backlog). Ours: 0.
    feed(v, trade(T0 + 3 * S, 500, 4800, "no", T0 + 1.5 * S));
    expect(fillRows(out(v, T0 + 3 * S + S / 2))).toEqual([]); // before the fix: b filled 5
    // A print of 3 @ 0.48 stamped T0+2.5 s (after the arrival): we were first at 0.48 → 3 are ours.
    feed(v, trade(T0 + 4 * S, 300, 4800, "no", T0 + 2.5 * S));
    expect(fillRows(out(v, T0 + 5 * S))).toEqual([["b", 4800, 300, false]]);
  });

  test("a stamp further than MAX_STAMP_SKEW_US from its receipt is not trusted: the print is ordered by receipt", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4700, 1000]], [[5000, 1000]]));
    place(v, T0 + 2 * S, "b", { price: 4800, count: 500 }); // arrives T0+2.01 s, alone at 0.48
    // Received T0+9 s, stamped T0+2 s: 7 s apart, a venue clock gone wrong. By receipt it came after us.
    feed(v, trade(T0 + 9 * S, 200, 4800, "no", T0 + 2 * S));
    expect(fillRows(out(v, T0 + 10 * S))).toEqual([["b", 4800, 200, false]]);
  });

  test("a cancel does not lose a fill from a match stamped before the cancel reached the venue", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4700, 1000]], [[5000, 1000]]));
    place(v, T0 + S, "b", { price: 4800, count: 500 }); // arrives T0+1.01 s, alone at 0.48
    cancel(v, T0 + 2 * S, "b"); // arrives T0+2.01 s: cancelled with nothing filled (as far as we know)
    expect(updates(out(v, T0 + 2 * S + 2 * LAT + 1)).at(-1)).toMatchObject({ clientOrderId: "b", status: "canceled", filled: 0 });
    // A print of 3 @ 0.48 stamped T0+1.8 s, received T0+3 s: matched while b rested first at 0.48
    // (after its arrival at 1.01 s, before the cancel at 2.01 s) → 3 fill b as maker; the cancel
    // took only the 2 left.
    feed(v, trade(T0 + 3 * S, 300, 4800, "no", T0 + 1.8 * S));
    // A print of 4 stamped T0+2.5 s (after the cancel arrived): b was gone → nothing.
    feed(v, trade(T0 + 4 * S, 400, 4800, "no", T0 + 2.5 * S));
    expect(fillRows(out(v, T0 + 5 * S))).toEqual([["b", 4800, 300, false]]); // before the fix: none
  });
});

describe("B. a crossing level stamped before our arrival, received after", () => {
  test("it was there when we came: a taker fill at its price with the taker fee, not a maker fill at ours", () => {
    const v = venue({ fee: realFee });
    // YES 0.40 × 5, NO 0.45 × 10 (YES ask 0.55). Book stamp T0+0.48 s.
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[4500, 1000]]));
    feed(v, stamped(delta(T0 + S / 2, M, 1, 2, "yes", 4000, 100), T0 + 480_000));
    place(v, T0 + 2 * S, "b", { price: 5200, count: 1000 }); // arrives T0+2.01 s; 0.52 < ask 0.55: rests
    // NO 0.50 × 10 placed at venue time T0+1.5 s, its delta received at T0+3 s. When our bid arrived it
    // was the YES ask 0.50: we took it — 10 @ 0.50 as taker (better than our 0.52 limit).
    // Fee: 0.07 × 10 × 0.50 × 0.50 = 0.175 → $0.18. (Before: maker at 0.52, $0.00 on this series.)
    feed(v, stamped(delta(T0 + 3 * S, M, 1, 3, "no", 5000, 1000), T0 + 1.5 * S));
    const es = out(v, T0 + 4 * S);
    expect(fillRows(es)).toEqual([["b", 5000, 1000, true]]);
    expect(feeSum(es)).toBe(180_000);
    expect(updates(es).at(-1)).toMatchObject({ clientOrderId: "b", status: "executed" });
  });

  test("a crossing level stamped after our arrival still fills us as maker at our price (rule 3)", () => {
    const v = venue({ fee: realFee });
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[4500, 1000]]));
    place(v, T0 + 2 * S, "b", { price: 5200, count: 1000 }); // arrives T0+2.01 s
    // NO 0.50 × 10 stamped T0+2.5 s: it came after us and met our 0.52 → 10 @ 0.52 maker, $0.00.
    feed(v, stamped(delta(T0 + 3 * S, M, 1, 2, "no", 5000, 1000), T0 + 2.5 * S));
    const es = out(v, T0 + 4 * S);
    expect(fillRows(es)).toEqual([["b", 5200, 1000, false]]);
    expect(feeSum(es)).toBe(0);
  });

  test("a post-only order in that situation was cancelled PostOnlyCrossCancel; the level stays public", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[4500, 1000]]));
    place(v, T0 + 2 * S, "po", { price: 5200, count: 1000, postOnly: true }); // arrives T0+2.01 s, rests
    feed(v, stamped(delta(T0 + 3 * S, M, 1, 2, "no", 5000, 1000), T0 + 1.5 * S)); // there before it
    const es = out(v, T0 + 3 * S + 2 * LAT + 1);
    expect(fillRows(es)).toEqual([]); // before the fix: 10 @ 0.52 maker
    expect(updates(es).at(-1)).toMatchObject({ clientOrderId: "po", status: "canceled", reason: "PostOnlyCrossCancel" });
    expect(v.restingOrders()).toEqual([]);
    // Nothing of NO 0.50 × 10 was taken: an IOC buy of 10 YES @ 0.50 gets all 10 @ 0.50.
    place(v, T0 + 4 * S, "ioc", { price: 5000, count: 1000, tif: "immediate_or_cancel" });
    expect(fillRows(out(v, T0 + 5 * S))).toEqual([["ioc", 5000, 1000, true]]);
  });
});

describe("C. after a seq gap, an order whose queue is unknown gets no print volume", () => {
  test("the print goes to the public queue the healing snapshot then shows; later prints eat that queue first", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4700, 1000]], [[5000, 1000]]));
    feed(v, delta(T0 + S, M, 1, 5, "yes", 4800, 1000)); // seq 5 after 1: gap, stale, not applied
    place(v, T0 + 2 * S, "b", { price: 4800, count: 500 }); // rests; the stale book shows nobody at 0.48
    // A print of 5 @ 0.48: the 10 at 0.48 the gap hid were ahead of us → not ours.
    feed(v, trade(T0 + 3 * S, 500, 4800, "no"));
    expect(fillRows(out(v, T0 + 3 * S + S / 2))).toEqual([]); // before the fix: b filled 5
    // The healing snapshot shows 5 left at 0.48: all ahead of b.
    feed(v, snapshot(T0 + 4 * S, M, 1, 6, [[4700, 1000], [4800, 500]], [[5000, 1000]]));
    expect(v.restingOrders()[0]).toMatchObject({ clientOrderId: "b", queueAhead: 500 });
    // A print of 7 @ 0.48: 5 to the queue ahead, 2 to b.
    feed(v, trade(T0 + 5 * S, 700, 4800, "no"));
    expect(fillRows(out(v, T0 + 6 * S))).toEqual([["b", 4800, 200, false]]);
  });

  test("what an unknown-queue order might have taken from a print is not passed to our orders behind it", () => {
    const v = venue();
    // YES 0.47 × 1, NO 0.50 × 10. "lo" rests 5 @ 0.47 behind the 1 before the gap.
    feed(v, snapshot(T0, M, 1, 1, [[4700, 100]], [[5000, 1000]]));
    place(v, T0 + S / 2, "lo", { price: 4700, count: 500 });
    feed(v, delta(T0 + S, M, 1, 5, "no", 5000, -100)); // gap: stale
    place(v, T0 + 2 * S, "hi", { price: 4800, count: 500 }); // rests on the stale book: queue unknown
    // A print of 8 @ 0.47: the seller went through 0.48 first, where hi (5) was — with whoever the
    // gap hid. Of the 8, at most 8 − 5 (hi's size) − 1 (ahead of lo) = 2 can be lo's; hi gets none
    // (its queue is unknown: never filled from a print).
    feed(v, trade(T0 + 3 * S, 800, 4700, "no"));
    expect(fillRows(out(v, T0 + 4 * S))).toEqual([["lo", 4700, 200, false]]); // before: hi 5, lo 2
  });
});

describe("D. the healing snapshot shows a level crossing an order that rested on the stale book", () => {
  test("a post-only order is cancelled PostOnlyCrossCancel: that level may have been there when it arrived", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[4500, 1000]]));
    feed(v, delta(T0 + S, M, 1, 5, "no", 5000, 1000)); // gap: NO 0.50 × 10 unseen, book stale
    place(v, T0 + 2 * S, "po", { price: 5000, count: 500, postOnly: true }); // rests on the stale book
    feed(v, snapshot(T0 + 3 * S, M, 1, 6, [[4000, 500]], [[4500, 1000], [5000, 1000]]));
    const es = out(v, T0 + 4 * S);
    expect(fillRows(es)).toEqual([]); // before the fix: 5 @ 0.50 maker
    expect(updates(es).at(-1)).toMatchObject({ clientOrderId: "po", status: "canceled", reason: "PostOnlyCrossCancel" });
  });

  test("any other order takes the crossing levels as taker, at their prices, with the taker fee", () => {
    const v = venue({ fee: realFee });
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[4500, 1000]]));
    feed(v, delta(T0 + S, M, 1, 5, "no", 5000, 300)); // gap
    place(v, T0 + 2 * S, "b", { price: 5200, count: 500 }); // YES bid 0.52 rests on the stale book
    // Healed: NO 0.50 × 3 and 0.49 × 4 (YES asks 0.50, 0.51) both cross 0.52. As taker, best first:
    // 3 @ 0.50, 2 @ 0.51. Fee (one order): 0.07 × (3 × 0.25 + 2 × 0.51 × 0.49) = 0.087486 → $0.09.
    // (Before: 5 @ 0.52 maker, $0.00.)
    feed(v, snapshot(T0 + 3 * S, M, 1, 6, [[4000, 500]], [[4500, 1000], [4900, 400], [5000, 300]]));
    const es = out(v, T0 + 4 * S);
    expect(fillRows(es)).toEqual([
      ["b", 5000, 300, true],
      ["b", 5100, 200, true],
    ]);
    expect(feeSum(es)).toBe(90_000);
  });
});

describe("E. a live tape: deltas carrying our client_order_id are our live orders, not public liquidity", () => {
  test("our taker does not take our own live resting order", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 100]]));
    const own = stamped(delta(T0 + S, M, 1, 2, "no", 5500, 1000), null, "live-1"); // our live NO bid 0.55 × 10
    expect(v.isIdleFor(own)).toBe(false); // the venue must see it even while it holds nothing
    feed(v, own);
    // IOC buy 10 YES @ 0.45: the only YES ask at 0.45 is our own live order → nothing.
    place(v, T0 + 2 * S, "ioc", { price: 4500, count: 1000, tif: "immediate_or_cancel" });
    expect(fillRows(out(v, T0 + 3 * S))).toEqual([]); // before the fix: 10 @ 0.45
    // A public seller joins at NO 0.55 with 3 (13 shown, 10 ours): the next IOC gets those 3.
    feed(v, delta(T0 + 4 * S, M, 1, 3, "no", 5500, 300));
    place(v, T0 + 5 * S, "ioc2", { price: 4500, count: 1000, tif: "immediate_or_cancel" });
    expect(fillRows(out(v, T0 + 6 * S))).toEqual([["ioc2", 4500, 300, true]]);
  });

  test("our live order is not in the queue ahead of a simulated order", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 1000]]));
    feed(v, stamped(delta(T0 + S, M, 1, 2, "yes", 4800, 400), null, "live-2")); // ours, 4 @ 0.48
    feed(v, delta(T0 + 2 * S, M, 1, 3, "yes", 4800, 200)); // public 2 @ 0.48 (6 shown)
    place(v, T0 + 3 * S, "b", { price: 4800, count: 500 });
    out(v, T0 + 4 * S);
    expect(v.restingOrders()[0]).toMatchObject({ clientOrderId: "b", queueAhead: 200 }); // before: 600
    // A print of 4 @ 0.48: 2 to the public ahead, 2 to b (our live 4 are not between).
    feed(v, trade(T0 + 5 * S, 400, 4800, "no"));
    expect(fillRows(out(v, T0 + 6 * S))).toEqual([["b", 4800, 200, false]]);
  });
});
