/**
 * Hostile review of the simulated venue: hand-worked books where a careless matcher would hand out
 * the same liquidity twice, fill at a price the book never offered, or fill after the close. Each
 * expected fill is derived in the comments from the recorded book alone (the recording never
 * contains our orders). Events are fed the way lib/run/session.ts does: the venue first finishes
 * what is due before the event's time, then sees the event.
 */
import { describe, expect, test } from "vitest";
import type { EngineEvent, OrderUpdate, OwnFill, PublicTrade } from "../../lib/core/events.ts";
import type { AmendOrder, PlaceOrder } from "../../lib/core/records.ts";
import { ConservativeQueue, ConstantLatency } from "../../lib/sim/models.ts";
import { SimVenue, type SimVenueOptions } from "../../lib/sim/venue.ts";
import { S, T0, delta, marketInfo, snapshot } from "../helpers/scenario.ts";

const M = "KXBTCD-26NOV2517-T99999.99";
const M2 = "KXBTCD-26NOV2517-T100249.99";
const CLOSE = T0 + 3600 * S;
const LAT = 10_000; // 10 ms entry and response

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
  v.onMarketEvent(marketInfo(M2, 100_249.99, CLOSE));
  return v;
}
/** Feed a recorded event as the session does. */
function feed(v: SimVenue, e: EngineEvent): void {
  v.advance(e.tsRecv);
  v.onMarketEvent(e);
}
function place(v: SimVenue, ts: number, id: string, o: Partial<PlaceOrder>): void {
  v.advance(ts);
  v.place({ kind: "place_order", ts, clientOrderId: id, market: M, outcome: "yes", action: "buy", price: 5000, count: 100, tif: "good_till_canceled", postOnly: false, reduceOnly: false, evalId: "e", ...o });
}
function amend(v: SimVenue, ts: number, id: string, o: Partial<AmendOrder>): void {
  v.advance(ts);
  v.amend({ kind: "amend_order", ts, clientOrderId: id, orderId: null, market: M, outcome: "yes", action: "buy", price: 5000, count: 100, reason: "test", ...o });
}
function trade(ts: number, count: number, yesPrice: number, takerSide: "yes" | "no", market = M): PublicTrade {
  return { kind: "public_trade", tsRecv: ts, tsExchange: null, market, tradeId: `t${ts}`, yesPrice, count, takerSide, sid: 2, seq: ts };
}
/** Everything the venue says up to `ts`. */
function out(v: SimVenue, ts: number): EngineEvent[] {
  v.advance(ts);
  return v.drainBefore(ts);
}
const fills = (es: EngineEvent[]) => es.filter((e): e is OwnFill => e.kind === "fill");
const updates = (es: EngineEvent[]) => es.filter((e): e is OrderUpdate => e.kind === "order_update");
/** [clientOrderId, YES price, count, taker?] of each fill. */
const fillRows = (es: EngineEvent[]) => fills(es).map((f) => [f.clientOrderId, f.yesPrice, f.count, f.isTaker]);
const total = (es: EngineEvent[]) => fills(es).reduce((a, f) => a + f.count, 0);

describe("a taker and a resting order of ours on the same level", () => {
  test("the resting order gets only what the taker left, then only what the recording adds", () => {
    const v = venue();
    // NO bids 0.55 × 3 → YES ask 0.45 × 3. YES bids 0.40 × 5.
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5500, 300]]));
    // IOC buy 2 YES @ 0.45 → 2 @ 0.45 as taker; 1 of the 3 is left.
    place(v, T0 + S, "ioc", { price: 4500, count: 200, tif: "immediate_or_cancel" });
    // GTC buy 5 YES @ 0.45 → crosses the 1 left: 1 @ 0.45 taker; 4 rest as a YES bid 0.45.
    place(v, T0 + 2 * S, "gtc", { price: 4500, count: 500 });
    // An unrelated delta (YES 0.40 +1): our 0.45 bid still faces NO 0.55 × 3, all 3 ours → nothing.
    feed(v, delta(T0 + 3 * S, M, 1, 2, "yes", 4000, 100));
    // The recording adds 2 at NO 0.55 (5 shown, 3 ours): 2 new sellers at 0.45 cross our bid → 2 maker.
    feed(v, delta(T0 + 4 * S, M, 1, 3, "no", 5500, 200));
    feed(v, delta(T0 + 5 * S, M, 1, 4, "yes", 4000, -100));
    const es = out(v, T0 + 6 * S);
    expect(fillRows(es)).toEqual([
      ["ioc", 4500, 200, true],
      ["gtc", 4500, 100, true],
      ["gtc", 4500, 200, false],
    ]);
    // 5 contracts in all = the 3 first displayed + the 2 added; 2 still rest.
    expect(total(es)).toBe(500);
    expect(v.restingOrders()).toEqual([expect.objectContaining({ clientOrderId: "gtc", remaining: 200 })]);
  });
});

describe("two of our orders competing for the same liquidity", () => {
  test("two resting bids at one price share one trade print: 8 printed → 2 ahead, 5 to the first, 1 to the second", () => {
    const v = venue();
    // YES bids 0.48 × 2 (public), NO bids 0.50 × 10 (YES ask 0.50): a bid at 0.48 does not cross.
    feed(v, snapshot(T0, M, 1, 1, [[4800, 200]], [[5000, 1000]]));
    place(v, T0 + S, "a", { price: 4800, count: 500 }); // queue: [public 2, a 5]
    place(v, T0 + 2 * S, "b", { price: 4800, count: 500 }); // queue: [public 2, a 5, b 5]
    // A taker sells 8 YES at 0.48 (takerSide "no"): public 2, then a 5, then b 1. The print is 8, so
    // our orders may get at most 8 − 2 = 6 of it.
    feed(v, trade(T0 + 3 * S, 800, 4800, "no"));
    const es = out(v, T0 + 4 * S);
    expect(fillRows(es)).toEqual([
      ["a", 4800, 500, false],
      ["b", 4800, 100, false],
    ]);
  });

  test("a print through a better bid of ours goes to that bid first; the worse bid gets only what is left", () => {
    const v = venue();
    // YES bids 0.47 × 4 (public), nothing at 0.48. NO bids 0.50 × 10.
    feed(v, snapshot(T0, M, 1, 1, [[4700, 400]], [[5000, 1000]]));
    place(v, T0 + S, "low", { price: 4700, count: 500 }); // behind 4 at 0.47
    place(v, T0 + 2 * S, "high", { price: 4800, count: 500 }); // alone at 0.48
    // A taker sells 6 YES and it prints at 0.47. With our 0.48 bid in the book the seller would have
    // met it first: high 5 @ 0.48; the 1 left goes to the 4 public ahead of "low" at 0.47: low 0.
    feed(v, trade(T0 + 3 * S, 600, 4700, "no"));
    const es = out(v, T0 + 4 * S);
    expect(fillRows(es)).toEqual([["high", 4800, 500, false]]);
    expect(total(es)).toBe(500);
  });

  test("a YES bid and a NO sell resting in the same ladder: a new crossing bid fills the better price first", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 500]]));
    // "sellno": sell NO @ 0.56 rests as a YES bid 0.44 (arrives first). "buyyes": buy YES @ 0.45.
    place(v, T0 + S, "sellno", { outcome: "no", action: "sell", price: 5600, count: 500 });
    place(v, T0 + 2 * S, "buyyes", { price: 4500, count: 500 });
    // NO bid 0.56 × 3 appears = someone selling YES at 0.44. It crosses both of ours; price priority
    // matches it with the best YES bid, 0.45: buyyes 3 @ 0.45 (maker). sellno gets nothing.
    feed(v, delta(T0 + 3 * S, M, 1, 2, "no", 5600, 300));
    const es = out(v, T0 + 4 * S);
    expect(fillRows(es)).toEqual([["buyyes", 4500, 300, false]]);
  });

  test("a NO buy and a YES sell (both take YES bids) share the displayed level; another market is separate", () => {
    const v = venue();
    // YES bids 0.42 × 3 in M and in M2.
    feed(v, snapshot(T0, M, 1, 1, [[4200, 300]], [[5000, 500]]));
    feed(v, snapshot(T0, M2, 3, 1, [[4200, 300]], [[5000, 500]]));
    // Buy NO @ 0.58 takes YES bids ≥ 0.42: 3 @ YES 0.42. Sell YES @ 0.42 then finds nothing.
    place(v, T0 + S, "nobuy", { outcome: "no", price: 5800, count: 300, tif: "immediate_or_cancel" });
    place(v, T0 + 2 * S, "yessell", { action: "sell", price: 4200, count: 300, tif: "immediate_or_cancel" });
    // The same order in M2 has its own 3.
    place(v, T0 + 3 * S, "m2", { market: M2, action: "sell", price: 4200, count: 300, tif: "immediate_or_cancel" });
    const es = out(v, T0 + 4 * S);
    expect(fillRows(es)).toEqual([
      ["nobuy", 4200, 300, true],
      ["m2", 4200, 300, true],
    ]);
  });
});

describe("a level that shrinks, then regrows", () => {
  test("only the regrowth beyond what remained is new", () => {
    const v = venue();
    // NO 0.50 × 10 → YES ask 0.50 × 10. We take 4: in reality 6 remain.
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 1000]]));
    place(v, T0 + S, "t1", { count: 400, tif: "immediate_or_cancel" });
    // The recording shows −3 (others cancel 3): 7 shown, 4 of them ours → 3 really there.
    feed(v, delta(T0 + 2 * S, M, 1, 2, "no", 5000, -300));
    // +2: 9 shown; the 2 are new orders behind → 3 + 2 = 5 offered.
    feed(v, delta(T0 + 3 * S, M, 1, 3, "no", 5000, 200));
    place(v, T0 + 4 * S, "t2", { count: 1000, tif: "immediate_or_cancel" });
    // −8 (9 → 1 shown): what is shown is at most what we took; nothing is offered. +5 → 6 shown,
    // 1 of them ours: the 5 new ones are offered.
    feed(v, delta(T0 + 5 * S, M, 1, 4, "no", 5000, -800));
    place(v, T0 + 6 * S, "t3", { count: 1000, tif: "immediate_or_cancel" });
    feed(v, delta(T0 + 7 * S, M, 1, 5, "no", 5000, 500));
    place(v, T0 + 8 * S, "t4", { count: 1000, tif: "immediate_or_cancel" });
    const es = out(v, T0 + 9 * S);
    expect(fillRows(es)).toEqual([
      ["t1", 5000, 400, true],
      ["t2", 5000, 500, true],
      ["t4", 5000, 500, true],
    ]);
  });
});

describe("a snapshot (resync) after we took liquidity", () => {
  test("the snapshot re-states levels: what we took stays taken; a level absent from it is forgotten", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5500, 300]])); // YES ask 0.45 × 3
    place(v, T0 + S, "t1", { price: 4500, count: 300, tif: "immediate_or_cancel" }); // 3 @ 0.45
    // Resync (new sid): NO 0.55 × 3 (the same 3 we took — the recording excludes us) and NO 0.54 × 2.
    feed(v, snapshot(T0 + 2 * S, M, 5, 1, [[4000, 500]], [[5400, 200], [5500, 300]]));
    // IOC buy 5 @ 0.46: 0.45 has nothing left; 2 @ 0.46.
    place(v, T0 + 3 * S, "t2", { price: 4600, count: 500, tif: "immediate_or_cancel" });
    // Resync with NO 0.55 × 5: 2 more than we took → 2 @ 0.45; 0.54 (2 shown, 2 ours) → nothing.
    feed(v, snapshot(T0 + 4 * S, M, 6, 1, [[4000, 500]], [[5400, 200], [5500, 500]]));
    place(v, T0 + 5 * S, "t3", { price: 4600, count: 500, tif: "immediate_or_cancel" });
    // Resync without 0.55: forgotten; a later resync showing 0.55 × 3 offers 3 new.
    feed(v, snapshot(T0 + 6 * S, M, 7, 1, [[4000, 500]], [[5400, 200]]));
    feed(v, snapshot(T0 + 7 * S, M, 8, 1, [[4000, 500]], [[5400, 200], [5500, 300]]));
    place(v, T0 + 8 * S, "t4", { price: 4600, count: 500, tif: "immediate_or_cancel" });
    const es = out(v, T0 + 9 * S);
    expect(fillRows(es)).toEqual([
      ["t1", 4500, 300, true],
      ["t2", 4600, 200, true],
      ["t3", 4500, 200, true],
      ["t4", 4500, 300, true],
    ]);
  });

  test("a resync that shows a crossing bid fills a resting order once, not again on the next resync", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 500]]));
    place(v, T0 + S, "r", { price: 4400, count: 1000 });
    // Resync shows NO 0.56 × 3 (crosses our 0.44): 3 fill as maker. The same book re-sent: nothing.
    feed(v, snapshot(T0 + 2 * S, M, 2, 1, [[4000, 500]], [[5000, 500], [5600, 300]]));
    feed(v, snapshot(T0 + 3 * S, M, 3, 1, [[4000, 500]], [[5000, 500], [5600, 300]]));
    const es = out(v, T0 + 4 * S);
    expect(fillRows(es)).toEqual([["r", 4400, 300, false]]);
  });
});

describe("trade prints at our resting price", () => {
  test("the queue ahead takes the print first; once it is gone we are first in line", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4800, 1000]], [[5000, 1000]]));
    place(v, T0 + S, "r", { price: 4800, count: 500 }); // 10 ahead
    // Print 10 at 0.48: exactly the queue ahead → 0 for us. The recording then removes the 10.
    feed(v, trade(T0 + 2 * S, 1000, 4800, "no"));
    feed(v, delta(T0 + 2 * S + 1, M, 1, 2, "yes", 4800, -1000));
    // A public bid of 4 joins at 0.48 after us: behind us. A print of 3 at 0.48 is ours.
    feed(v, delta(T0 + 3 * S, M, 1, 3, "yes", 4800, 400));
    feed(v, trade(T0 + 4 * S, 300, 4800, "no"));
    // A YES buyer (takerSide "yes") lifts asks: never fills a bid.
    feed(v, trade(T0 + 5 * S, 900, 4800, "yes"));
    const es = out(v, T0 + 6 * S);
    expect(fillRows(es)).toEqual([["r", 4800, 300, false]]);
    expect(v.restingOrders()[0]).toMatchObject({ remaining: 200, queueAhead: 0 });
  });
});

describe("the book shows a trade's removal before its print", () => {
  const stamped = <T extends EngineEvent>(e: T, tsExchange: number): T => ({ ...e, tsExchange });

  test("same venue stamp: the print is the trade that removed the queue ahead — 0 for us, not 5", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4800, 1000]], [[5000, 1000]]));
    place(v, T0 + S, "r", { price: 4800, count: 500 }); // 10 ahead
    const X = T0 + 2 * S; // the match's ts_ms, on both messages
    // The delta arrives first: 0.48 drops to 0 (the queue ahead is capped to 0, 10 removed from ahead).
    feed(v, stamped(delta(T0 + 2 * S + 1_000, M, 1, 2, "yes", 4800, -1000), X));
    // Then the print of those 10 at 0.48, same stamp: it traded with the 10 ahead, not with us.
    feed(v, stamped(trade(T0 + 2 * S + 2_000, 1000, 4800, "no"), X));
    // A later print of 3 (another match): we are first in line now → 3.
    feed(v, stamped(trade(T0 + 3 * S, 300, 4800, "no"), T0 + 3 * S));
    expect(fillRows(out(v, T0 + 4 * S))).toEqual([["r", 4800, 300, false]]);
  });

  test("different stamps: the removal was cancels, the later print reaches us past the 4 still shown", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4800, 1000]], [[5000, 1000]]));
    place(v, T0 + S, "r", { price: 4800, count: 500 });
    feed(v, stamped(delta(T0 + 2 * S, M, 1, 2, "yes", 4800, -600), T0 + 2 * S)); // 4 shown → 4 ahead
    feed(v, stamped(trade(T0 + 3 * S, 600, 4800, "no"), T0 + 3 * S)); // 4 to them, 2 to us
    expect(fillRows(out(v, T0 + 4 * S))).toEqual([["r", 4800, 200, false]]);
  });
});

describe("amend through the book (V2 amend may trade)", () => {
  test("amending a resting bid up through two ask levels takes them as taker at their prices; the rest rests", () => {
    const v = venue();
    // NO bids 0.53 × 2, 0.52 × 2, 0.50 × 5 → YES asks 0.47 × 2, 0.48 × 2, 0.50 × 5.
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 500], [5200, 200], [5300, 200]]));
    place(v, T0 + S, "r", { price: 4400, count: 500 }); // rests at 0.44
    // Amend to 0.48 × 5: takes 2 @ 0.47 and 2 @ 0.48 (taker), 1 rests at 0.48 (back of an empty queue).
    amend(v, T0 + 2 * S, "r", { price: 4800, count: 500 });
    // +1 at NO 0.52 (3 shown, 2 ours): a new seller at 0.48 meets our resting 0.48 → 1 @ 0.48 maker.
    feed(v, delta(T0 + 3 * S, M, 1, 2, "no", 5200, 100));
    const es = out(v, T0 + 4 * S);
    expect(fillRows(es)).toEqual([
      ["r", 4700, 200, true],
      ["r", 4800, 200, true],
      ["r", 4800, 100, false],
    ]);
    expect(updates(es).map((u) => [u.status, u.reason])).toEqual([
      ["resting", ""],
      ["resting", "Amend"],
      ["executed", "Trade"],
    ]);
  });

  test("a post-only order amended through the book is cancelled, not filled", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5300, 200]]));
    place(v, T0 + S, "r", { price: 4400, count: 500, postOnly: true });
    amend(v, T0 + 2 * S, "r", { price: 4800, count: 500 });
    const es = out(v, T0 + 3 * S);
    expect(fills(es)).toEqual([]);
    expect(updates(es).map((u) => [u.status, u.reason])).toEqual([
      ["resting", ""],
      ["canceled", "PostOnlyCrossCancel"],
    ]);
  });
});

describe("partial fill, then cancel", () => {
  test("fills before the cancel reaches the venue stand; nothing fills after it", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 500]]));
    place(v, T0 + S, "r", { price: 4400, count: 1000 });
    feed(v, delta(T0 + 2 * S, M, 1, 2, "no", 5600, 300)); // 3 fill
    // Cancel sent at t = T0 + 3 s arrives at t + 10 ms. A crossing add at t + 5 ms is before it: 2 fill.
    const t = T0 + 3 * S;
    v.advance(t);
    v.cancel({ kind: "cancel_order", ts: t, clientOrderId: "r", orderId: null, market: M, reason: "test" });
    feed(v, delta(t + 5_000, M, 1, 3, "no", 5600, 200));
    // After the cancel: +4 at 0.56 and a print at 0.44 fill nothing.
    feed(v, delta(t + 20_000, M, 1, 4, "no", 5600, 400));
    feed(v, trade(t + 30_000, 900, 4400, "no"));
    const es = out(v, T0 + 5 * S);
    expect(fillRows(es)).toEqual([
      ["r", 4400, 300, false],
      ["r", 4400, 200, false],
    ]);
    expect(updates(es).at(-1)).toMatchObject({ status: "canceled", filled: 500, remaining: 0 });
    expect(v.restingOrders()).toEqual([]);
  });
});

describe("a stale book", () => {
  test("after a seq gap nothing fills from the book until a snapshot, which then fills once", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5500, 300]]));
    feed(v, delta(T0 + S, M, 1, 3, "no", 5600, 200)); // seq 2 missing → stale (delta not applied)
    // IOC buy @ 0.46: the book is not trusted → no fill, cancelled.
    place(v, T0 + 2 * S, "ioc", { price: 4600, count: 300, tif: "immediate_or_cancel" });
    place(v, T0 + 3 * S, "r", { price: 4500, count: 500 }); // rests, no fill from the stale book
    feed(v, delta(T0 + 4 * S, M, 1, 4, "no", 5600, 900)); // ignored: still stale
    // Snapshot: NO 0.56 × 2, 0.55 × 3 → both cross our 0.45. r rested on the stale book, so what the
    // healing book shows crossing it may have been there when it arrived: it took them as taker, at
    // their prices, best first — 2 @ 0.44 (1 − 0.56), 3 @ 0.45 (arrival-timing.test.ts, D). Re-sent: nothing.
    feed(v, snapshot(T0 + 5 * S, M, 1, 5, [[4000, 500]], [[5500, 300], [5600, 200]]));
    feed(v, snapshot(T0 + 6 * S, M, 1, 6, [[4000, 500]], [[5500, 300], [5600, 200]]));
    const es = out(v, T0 + 7 * S);
    expect(fillRows(es)).toEqual([
      ["r", 4400, 200, true],
      ["r", 4500, 300, true],
    ]);
    expect(updates(es).find((u) => u.clientOrderId === "ioc")).toMatchObject({ status: "canceled", filled: 0 });
  });
});

describe("market close", () => {
  test("no fill at or after the close time, even without a lifecycle frame; the order is cancelled", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 500]]));
    place(v, CLOSE - 10 * S, "r", { price: 4400, count: 1000 });
    // Before the close: a crossing add fills 1.
    feed(v, delta(CLOSE - S, M, 1, 2, "no", 5600, 100));
    // At and after the close (no lifecycle frame recorded): a crossing add and a print at our price
    // could not have traded — trading has stopped.
    feed(v, delta(CLOSE, M, 1, 3, "no", 5700, 300));
    feed(v, trade(CLOSE + S, 900, 4400, "no"));
    // An amend after the close is refused; the order is gone.
    amend(v, CLOSE + 2 * S, "r", { price: 4600, count: 500 });
    const es = out(v, CLOSE + 3 * S);
    expect(fillRows(es)).toEqual([["r", 4400, 100, false]]);
    expect(updates(es).at(-1)).toMatchObject({ clientOrderId: "r", status: "canceled", reason: "CloseCancel" });
    expect(v.restingOrders()).toEqual([]);
  });

  test("an order arriving before the market opens is rejected", () => {
    const v = venue();
    v.onMarketEvent(marketInfo(M2, 100_249.99, CLOSE, { openTime: T0 + 10 * S }));
    feed(v, snapshot(T0, M2, 3, 1, [[4000, 500]], [[5000, 500]]));
    place(v, T0 + S, "early", { market: M2, price: 5000, count: 100, tif: "immediate_or_cancel" });
    const es = out(v, T0 + 2 * S);
    expect(fills(es)).toEqual([]);
    expect(updates(es)).toEqual([expect.objectContaining({ clientOrderId: "early", status: "rejected", reason: "MARKET_INACTIVE" })]);
  });
});

describe("our own orders meeting each other, amends racing fills, reduce_only", () => {
  test("amend count is total max fillable (ref §4.4): a decrease racing a fill leaves filled+remaining = the amended total", () => {
    const v = venue();
    // YES 0.48 × 0 public ahead (empty level), NO best 0.50 → our 0.48 bid rests first in line.
    feed(v, snapshot(T0, M, 1, 1, [[4700, 500]], [[5000, 500]]));
    place(v, T0 + S, "a", { price: 4800, count: 1000 }); // rests 10 @ 0.48, queue ahead 0
    out(v, T0 + 2 * S);
    // Engine decides at T0+3s (it knows filled = 0) to decrease to remaining 5: it sends count =
    // filled(0) + 5 = 5 total. The amend reaches the venue at T0+3s+10ms.
    amend(v, T0 + 3 * S, "a", { price: 4800, count: 500 });
    // Before it arrives (T0+3s+5ms) a seller prints 4 at 0.48: we are first in line, 4 fill.
    feed(v, trade(T0 + 3 * S + 5_000, 400, 4800, "no"));
    const o1 = out(v, T0 + 4 * S);
    expect(total(o1)).toBe(400);
    // Kalshi: total max fillable 5, filled 4 → remaining 1 (the old code let 5 rest: 9 fillable).
    expect(v.restingOrders()[0]?.remaining).toBe(100);
    expect(updates(o1).at(-1)).toMatchObject({ status: "resting", filled: 400, remaining: 100, reason: "Amend" });
  });

  test("an amend overtaken by fills (total at or below filled) is refused by default and leaves the order as it rests; 'cancel' cancels the rest", () => {
    for (const mode of ["reject", "cancel"] as const) {
      const v = venue({ amendAtOrBelowFilled: mode });
      feed(v, snapshot(T0, M, 1, 1, [[4700, 500]], [[5000, 500]]));
      place(v, T0 + S, "a", { price: 4800, count: 1000 });
      out(v, T0 + 2 * S);
      amend(v, T0 + 3 * S, "a", { price: 4800, count: 300 }); // meant: 3 in total
      feed(v, trade(T0 + 3 * S + 5_000, 400, 4800, "no")); // 4 fill first
      const o = out(v, T0 + 4 * S);
      expect(total(o)).toBe(400);
      const last = updates(o).at(-1)!;
      if (mode === "reject") {
        expect(last).toMatchObject({ status: "resting", filled: 400, remaining: 600 });
        expect(last.reason).toMatch(/^amend refused: count 300 does not exceed filled 400/);
        expect(v.restingOrders()[0]?.remaining).toBe(600);
      } else {
        expect(last).toMatchObject({ status: "canceled", filled: 400, remaining: 0, reason: "Amend" });
        expect(v.restingOrders()).toEqual([]);
      }
    }
  });

  test("reduce_only caps the order at the current position (ref §4.4): with no position nothing fills", () => {
    const v = venue();
    // YES bids 0.45 × 10: a sell of YES at 0.45 could take them.
    feed(v, snapshot(T0, M, 1, 1, [[4500, 1000]], [[5000, 500]]));
    // We hold nothing in M (no fill ever happened at this venue). A reduce-only IOC sell YES 10 @ 0.45:
    // Kalshi caps it at our position, 0 → nothing can fill.
    place(v, T0 + S, "x", { action: "sell", price: 4500, count: 1000, tif: "immediate_or_cancel", reduceOnly: true });
    const o = out(v, T0 + 2 * S);
    expect(total(o)).toBe(0); // before the fix: 1000 (opens 10 NO)
    expect(updates(o)).toEqual([expect.objectContaining({ clientOrderId: "x", status: "canceled", filled: 0, reason: "ReduceOnlyCancel" })]);
  });

  test("reduce_only with a position: a sell of 10 YES while long 3 fills 3, and never flips the position", () => {
    const v = venue();
    // YES asks 0.50 × 5 (NO bids 0.50 × 5); YES bids 0.45 × 10.
    feed(v, snapshot(T0, M, 1, 1, [[4500, 1000]], [[5000, 500]]));
    place(v, T0 + S, "buy", { price: 5000, count: 300, tif: "immediate_or_cancel" }); // long 3 YES @ 0.50
    expect(total(out(v, T0 + 2 * S))).toBe(300);
    place(v, T0 + 3 * S, "exit", { action: "sell", price: 4500, count: 1000, tif: "immediate_or_cancel", reduceOnly: true });
    const o = out(v, T0 + 4 * S);
    // Hand-derived: the 0.45 level holds 10, the position 3: the cap, not the book, stops it at 3.
    expect(fills(o).map((f) => [f.clientOrderId, f.count, f.yesPrice])).toEqual([["exit", 300, 4500]]);
    // Buying NO is also an ask: while flat, a reduce-only buy of NO is cancelled, a plain one opens.
    place(v, T0 + 5 * S, "no-ro", { outcome: "no", action: "buy", price: 5500, count: 100, tif: "immediate_or_cancel", reduceOnly: true });
    expect(updates(out(v, T0 + 6 * S))).toEqual([expect.objectContaining({ clientOrderId: "no-ro", status: "canceled", reason: "ReduceOnlyCancel" })]);
  });

  test("a resting reduce_only order shrinks when another fill reduces the position, and is cancelled once it can reduce nothing", () => {
    const v = venue();
    // YES asks 0.50 × 5; YES bids 0.40 × 10.
    feed(v, snapshot(T0, M, 1, 1, [[4000, 1000]], [[5000, 500]]));
    place(v, T0 + S, "buy", { price: 5000, count: 400, tif: "immediate_or_cancel" }); // long 4
    out(v, T0 + 2 * S);
    // A resting reduce-only sell of 4 YES at 0.60 (rests as a NO bid at 0.40, nothing crosses it).
    place(v, T0 + 3 * S, "tp", { action: "sell", price: 6000, count: 400, reduceOnly: true });
    out(v, T0 + 3 * S + 500_000);
    expect(v.restingOrders()).toEqual([expect.objectContaining({ clientOrderId: "tp", remaining: 400 })]);
    // An IOC sell of 3 YES into the 0.40 bids (not reduce-only): long 1 left → the resting one caps at 1.
    place(v, T0 + 4 * S, "cut", { action: "sell", price: 4000, count: 300, tif: "immediate_or_cancel" });
    const o1 = out(v, T0 + 5 * S);
    expect(total(o1)).toBe(300);
    expect(v.restingOrders()).toEqual([expect.objectContaining({ clientOrderId: "tp", remaining: 100 })]);
    // Another IOC sell of 1: flat → the reduce-only order is cancelled, it can never open a short.
    place(v, T0 + 6 * S, "cut2", { action: "sell", price: 4000, count: 100, tif: "immediate_or_cancel" });
    const o2 = out(v, T0 + 7 * S);
    expect(updates(o2).find((u) => u.clientOrderId === "tp")).toMatchObject({ status: "canceled", reason: "ReduceOnlyCancel" });
    expect(v.restingOrders()).toEqual([]);
  });

  test("self-trade prevention taker_at_cross: a taker that would meet our own better resting bid is cancelled, not filled past it", () => {
    const v = venue();
    // Recorded YES bids 0.44 × 10; NO bids 0.50 (YES ask 0.50).
    feed(v, snapshot(T0, M, 1, 1, [[4400, 1000]], [[5000, 500]]));
    // Our YES bid 0.45 × 5 rests (0.45 + 0.50 < 1: no cross). Real book: YES bids 0.45 × 5 (ours), 0.44 × 10.
    place(v, T0 + S, "bid", { price: 4500, count: 500 });
    out(v, T0 + 2 * S);
    // Our IOC sell YES 10 @ 0.44 (an exit): the best YES bid it meets is our own 0.45 → STP
    // taker_at_cross (our default self_trade_prevention_type) cancels the incoming taker: 0 filled.
    place(v, T0 + 3 * S, "sell", { action: "sell", price: 4400, count: 1000, tif: "immediate_or_cancel" });
    const o = out(v, T0 + 4 * S);
    expect(fills(o).filter((f) => f.clientOrderId === "sell").reduce((a, f) => a + f.count, 0)).toBe(0); // before the fix: 1000 @ 0.44
  });

  test("self-trade prevention after the public ahead: the taker takes the 3 ahead of our bid at its level, then is cancelled", () => {
    const v = venue();
    // Recorded YES bids 0.45 × 3 and 0.44 × 10; YES ask 0.50.
    feed(v, snapshot(T0, M, 1, 1, [[4400, 1000], [4500, 300]], [[5000, 500]]));
    place(v, T0 + S, "bid", { price: 4500, count: 500 }); // rests behind the 3 public at 0.45
    out(v, T0 + 2 * S);
    place(v, T0 + 3 * S, "sell", { action: "sell", price: 4400, count: 1000, tif: "immediate_or_cancel" });
    const o = out(v, T0 + 4 * S);
    // Hand: 3 public ahead at 0.45 fill the taker, then it meets our bid → cancelled; 0.44 untouched.
    expect(fills(o).filter((f) => f.clientOrderId === "sell").map((f) => [f.yesPrice, f.count])).toEqual([[4500, 300]]);
    expect(updates(o).filter((u) => u.clientOrderId === "sell").at(-1)).toMatchObject({ status: "canceled", reason: "SelfTradeCancel" });
    expect(v.restingOrders().find((r) => r.clientOrderId === "bid")).toMatchObject({ remaining: 500, queueAhead: 0 });
  });

  test("queue ahead never exceeds what is displayed net of what we took — also right after our own taker takes at our level", () => {
    const v = venue();
    // YES 0.48 × 10 public; NO 0.50 (YES ask 0.50).
    feed(v, snapshot(T0, M, 1, 1, [[4800, 1000]], [[5000, 500]]));
    place(v, T0 + S, "bid", { price: 4800, count: 500 }); // rests behind 10
    out(v, T0 + 2 * S);
    expect(v.restingOrders()[0]!.queueAhead).toBe(1000);
    // Our IOC sell YES 4 @ 0.48 takes 4 of the 10 public bids at 0.48 (the ones ahead of our bid).
    place(v, T0 + 3 * S, "sell", { action: "sell", price: 4800, count: 400, tif: "immediate_or_cancel" });
    out(v, T0 + 4 * S);
    expect(v.takenAt(M, "yes", 4800)).toBe(400);
    // displayed 10 − taken 4 = 6 can be ahead of us (README rule 4 invariant).
    expect(v.restingOrders().find((r) => r.clientOrderId === "bid")!.queueAhead).toBe(600); // before the fix: 1000
  });

  test("consequence: after our taker took 4 of the 10 ahead, a public print of 8 at our price gives us 2", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4800, 1000]], [[5000, 500]]));
    place(v, T0 + S, "bid", { price: 4800, count: 500 });
    out(v, T0 + 2 * S);
    place(v, T0 + 3 * S, "sell", { action: "sell", price: 4800, count: 400, tif: "immediate_or_cancel" });
    out(v, T0 + 4 * S);
    // Consequence: a public seller prints 8 at 0.48: 6 to the public ahead, 2 to us.
    feed(v, trade(T0 + 5 * S, 800, 4800, "no"));
    expect(fills(out(v, T0 + 6 * S)).filter((f) => f.clientOrderId === "bid").reduce((a, f) => a + f.count, 0)).toBe(200); // before the fix: 0
  });
});

describe("liquidity each unit once: prints, stale books, fill-or-kill and our own queue (second hostile review)", () => {
  const X = T0 + 2 * S; // the venue time of a match (µs)
  const stamped = (e: ReturnType<typeof delta>) => ({ ...e, tsExchange: X });
  const print = (ts: number, count: number, yesPrice: number): PublicTrade => ({ ...trade(ts, count, yesPrice, "no"), tsExchange: X });

  test("a print of a match the book already showed before our order arrived fills nothing", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500], [4800, 1000]], [[5000, 1000]]));
    // The match at X empties YES 0.48 (delta stamped X); then our bid of 5 @ 0.48 arrives (nothing
    // ahead); then the match's print (stamped X) is received. It traded with the 10 who were there.
    feed(v, stamped(delta(X + 1000, M, 1, 2, "yes", 4800, -1000)));
    place(v, X + 2000 - LAT, "b", { price: 4800, count: 500 });
    feed(v, print(X + 5000, 1000, 4800));
    expect(fillRows(out(v, X + S))).toEqual([]); // before the fix: b filled 5
  });

  test("the same print is not spent twice: once on the queue it removed ahead of one order, again on a later order", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500], [4800, 1000]], [[5000, 1000]]));
    place(v, T0 + S, "a", { price: 4800, count: 500 }); // behind the 10
    feed(v, stamped(delta(X + 1000, M, 1, 2, "yes", 4800, -1000))); // a's 10 ahead are gone (stamp X)
    place(v, X + 2000 - LAT, "b", { price: 4800, count: 500 }); // arrives after that
    feed(v, print(X + 5000, 1000, 4800)); // the print of those 10: theirs, neither a's nor b's
    expect(fillRows(out(v, X + S))).toEqual([]); // before the fix: b filled 5
    // A later match (stamp X + 1 s) of 6 at 0.48 reaches a first (5), then b (1).
    feed(v, { ...trade(X + 2 * S, 600, 4800, "no"), tsExchange: X + S });
    expect(fillRows(out(v, X + 3 * S))).toEqual([
      ["a", 4800, 500, false],
      ["b", 4800, 100, false],
    ]);
  });

  test("an order that rested on a stale book has everything the healing snapshot shows at its price ahead of it", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 1000]]));
    feed(v, delta(T0 + S, M, 1, 3, "yes", 4800, 1000)); // seq 3 after 1: a gap, the book is stale
    place(v, T0 + 2 * S, "r", { price: 4800, count: 500 }); // rests with nothing known ahead
    out(v, T0 + 3 * S);
    feed(v, snapshot(T0 + 4 * S, M, 1, 4, [[4000, 500], [4800, 1000]], [[5000, 1000]])); // 10 at 0.48
    expect(v.restingOrders().find((o) => o.clientOrderId === "r")?.queueAhead).toBe(1000); // before: 0
    feed(v, trade(T0 + 5 * S, 1000, 4800, "no")); // those 10 trade: not with us
    expect(fillRows(out(v, T0 + 6 * S))).toEqual([]);
  });

  test("fill-or-kill counts only the depth self-trade prevention lets it reach: all or nothing", () => {
    const v = venue();
    // NO bids 0.55 × 5 and 0.50 × 10 (YES asks 0.45 × 5, 0.50 × 10); ours: a NO bid 0.52 × 5 between them.
    feed(v, snapshot(T0, M, 1, 1, [[3000, 500]], [[5000, 1000], [5500, 500]]));
    place(v, T0 + S, "own", { outcome: "no", price: 5200, count: 500 });
    // FOK buy 10 YES @ 0.50: 15 crossable, but the walk meets our own NO 0.52 after the 5 at 0.45.
    place(v, T0 + 2 * S, "fok", { price: 5000, count: 1000, tif: "fill_or_kill" });
    const es = out(v, T0 + 3 * S);
    expect(fillRows(es).filter((r) => r[0] === "fok")).toEqual([]); // before: 5 filled, then SelfTradeCancel
    expect(updates(es).find((u) => u.clientOrderId === "fok")).toMatchObject({ status: "canceled", reason: "FillOrKill" });
  });

  test("our taker takes the public orders ahead of our resting bid first: the bid has that much less ahead", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4500, 300]], [[5000, 1000]]));
    place(v, T0 + S, "rest", { price: 4500, count: 500 }); // queue: 3 public, ours
    feed(v, delta(T0 + 2 * S, M, 1, 2, "yes", 4500, 700)); // 7 join behind: 10 shown
    // IOC sell 10 YES @ 0.45: takes the 3 ahead, meets our bid, stops.
    place(v, T0 + 3 * S, "sell", { action: "sell", price: 4500, count: 1000, tif: "immediate_or_cancel" });
    out(v, T0 + 4 * S);
    expect(v.restingOrders().find((o) => o.clientOrderId === "rest")?.queueAhead).toBe(0); // before: 3
    feed(v, trade(T0 + 5 * S, 300, 4500, "no"));
    expect(fillRows(out(v, T0 + 6 * S)).filter((r) => r[0] === "rest")).toEqual([["rest", 4500, 300, false]]);
  });

  test("prices off the tick grid or outside (0, 1), and counts that are not positive, are refused", () => {
    const v = venue();
    feed(v, snapshot(T0, M, 1, 1, [[4500, 1000]], [[5000, 1000]]));
    place(v, T0 + S, "offgrid", { price: 4550, count: 500 }); // 0.4550 on a whole-cent market
    place(v, T0 + 2 * S, "zero", { price: 0, count: 500 });
    place(v, T0 + 3 * S, "negcount", { price: 4000, count: -500 });
    feed(v, trade(T0 + 4 * S, 500, 4500, "no"));
    const es = out(v, T0 + 5 * S);
    expect(updates(es).map((u) => [u.clientOrderId, u.status, u.reason])).toEqual([
      ["offgrid", "rejected", "invalid_price"],
      ["zero", "rejected", "invalid_price"],
      ["negcount", "rejected", "invalid_parameters"],
    ]);
    expect(fills(es)).toEqual([]); // before: the off-grid bid jumped the 10 at 0.45 and filled 5
  });

  test("a cancel that overtakes its own create is refused, and the order's resting report says so", () => {
    let n = 0;
    // The create takes 50 ms to reach the venue, the cancel sent 1 ms after it only 1 ms.
    const v = venue({ latency: { entryUs: () => (n++ === 0 ? 50_000 : 1_000), responseUs: () => 1_000 } });
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 1000]]));
    place(v, T0 + S, "o", { price: 4400, count: 500 });
    v.cancel({ kind: "cancel_order", ts: T0 + S + 1000, clientOrderId: "o", orderId: null, market: M, reason: "test" });
    const es = out(v, T0 + 2 * S);
    // Kalshi answers the early cancel 404; the create then rests. Before: only "resting", with no word
    // of the cancel, so the sender waited on it for ever (and refused its own later amends).
    expect(updates(es).map((u) => [u.clientOrderId, u.status, u.reason])).toEqual([["o", "resting", "cancel refused: not_found (the cancel arrived first)"]]);
    expect(v.restingOrders().map((o) => o.clientOrderId)).toEqual(["o"]);
  });

  test("a cancel that overtakes its create and finds the write bucket empty is refused too", () => {
    let n = 0;
    // A bucket of 10 tokens refilled at 200/s; create 10, cancel 2. "x" takes the 10 just before; "o"
    // takes 50 ms to arrive, its cancel 1 ms: the cancel finds ~0.4 tokens (429), then "o" rests.
    const v = venue({ writeTokensPerSecond: 200, writeBucketCapacity: 10, latency: { entryUs: () => [1_000, 50_000, 1_000][n++] ?? 1_000, responseUs: () => 1_000 } });
    feed(v, snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 1000]]));
    place(v, T0 + S - 2000, "x", { price: 4000, count: 100 });
    place(v, T0 + S, "o", { price: 4400, count: 500 });
    v.cancel({ kind: "cancel_order", ts: T0 + S + 1000, clientOrderId: "o", orderId: null, market: M, reason: "test" });
    const es = out(v, T0 + 2 * S);
    expect(updates(es).filter((u) => u.clientOrderId === "o").map((u) => [u.status, u.reason])).toEqual([["resting", "cancel refused: too many requests (429)"]]); // before: ["resting", ""]
  });

});
