/**
 * The simulated venue against hand-worked books: taker walks through depth, liquidity stays taken
 * until the level refreshes, the conservative queue, post-only, latency and the venue's own 429.
 */
import { describe, expect, test } from "vitest";
import type { EngineEvent, OrderUpdate, OwnFill, PublicTrade } from "../../lib/core/events.ts";
import type { PlaceOrder } from "../../lib/core/records.ts";
import { ConservativeQueue, ConstantLatency } from "../../lib/sim/models.ts";
import { SimVenue } from "../../lib/sim/venue.ts";
import { S, T0, delta, marketInfo, snapshot } from "../helpers/scenario.ts";

const M = "KXBTCD-26NOV2517-T99999.99";
const fee = () => 0;

function venue(latencyUs = 10_000, tokens = 100) {
  const v = new SimVenue({
    latency: new ConstantLatency(latencyUs, latencyUs),
    queue: new ConservativeQueue(),
    fee,
    writeTokensPerSecond: tokens,
    writeBucketCapacity: tokens,
    createCost: 10,
    cancelCost: 2,
  });
  v.onMarketEvent(marketInfo(M, 99_999.99, T0 + 3600 * S));
  return v;
}
function order(ts: number, o: Partial<PlaceOrder>): PlaceOrder {
  return { kind: "place_order", ts, clientOrderId: `c${ts}`, market: M, outcome: "yes", action: "buy", price: 5000, count: 1000, tif: "immediate_or_cancel", postOnly: false, reduceOnly: false, evalId: "e", ...o };
}
function drain(v: SimVenue, until: number): EngineEvent[] {
  v.advance(until);
  return v.drainBefore(until);
}
const fills = (es: EngineEvent[]) => es.filter((e): e is OwnFill => e.kind === "fill");
const updates = (es: EngineEvent[]) => es.filter((e): e is OrderUpdate => e.kind === "order_update");

describe("taker orders walk the complementary book", () => {
  test("buying YES up to 0.52 takes NO bids 0.50 then 0.49 (asks 0.50, 0.51) and stops at the limit", () => {
    const v = venue();
    // NO bids: 0.50 × 4, 0.49 × 3, 0.47 × 9 → YES asks 0.50 × 4, 0.51 × 3, 0.53 × 9.
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4000, 1000]], [[4700, 900], [4900, 300], [5000, 400]]));
    v.place(order(T0 + S, { price: 5200 }));
    const out = drain(v, T0 + 2 * S);
    expect(fills(out).map((f) => [f.yesPrice, f.count, f.isTaker, f.bookSide])).toEqual([
      [5000, 400, true, "bid"],
      [5100, 300, true, "bid"],
    ]);
    // 7 of 10 filled; the IOC remainder is cancelled. Reports arrive after entry + response latency.
    const u = updates(out);
    expect(u).toHaveLength(1);
    expect(u[0]).toMatchObject({ status: "canceled", filled: 700 });
    expect(fills(out)[0]!.tsRecv).toBe(T0 + S + 20_000);
  });

  test("buying NO takes YES bids (NO ask = 1 − YES bid) and reports the YES price", () => {
    const v = venue();
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4200, 500]], [[5000, 100]]));
    v.place(order(T0 + S, { outcome: "no", price: 5800 }));
    const f = fills(drain(v, T0 + 2 * S));
    // NO ask 1 − 0.42 = 0.58; the fill is reported on the YES book: side ask, YES price 0.42.
    expect(f.map((x) => [x.outcomeSide, x.bookSide, x.yesPrice, x.count])).toEqual([["no", "ask", 4200, 500]]);
  });

  test("taken liquidity stays taken until the recording shows the level gone", () => {
    const v = venue();
    v.onMarketEvent(snapshot(T0, M, 1, 1, [], [[5000, 400]]));
    v.place(order(T0 + S, {}));
    expect(fills(drain(v, T0 + 2 * S)).map((f) => f.count)).toEqual([400]);
    v.place(order(T0 + 3 * S, {}));
    expect(fills(drain(v, T0 + 4 * S))).toEqual([]); // the recording still shows 4, but we took them
    v.onMarketEvent(delta(T0 + 5 * S, M, 1, 2, "no", 5000, 100)); // +1 joins behind: 5 shown, 4 ours
    v.place(order(T0 + 6 * S, {}));
    expect(fills(drain(v, T0 + 7 * S)).map((f) => f.count)).toEqual([100]);
    // The level empties in the recording (all 5 shown are ours now, then gone): the memory is dropped,
    // and a fresh 5 are really new.
    v.onMarketEvent(delta(T0 + 8 * S, M, 1, 3, "no", 5000, -500));
    expect(v.takenAt(M, "no", 5000)).toBe(0);
    v.onMarketEvent(delta(T0 + 9 * S, M, 1, 4, "no", 5000, 500));
    v.place(order(T0 + 10 * S, {}));
    expect(fills(drain(v, T0 + 11 * S)).map((f) => f.count)).toEqual([500]);
  });

  test("a level shrinking below what we took caps our memory at what is shown", () => {
    const v = venue();
    v.onMarketEvent(snapshot(T0, M, 1, 1, [], [[5000, 1000]]));
    v.place(order(T0 + S, { count: 400 }));
    drain(v, T0 + 2 * S); // took 4 of 10
    v.onMarketEvent(delta(T0 + 3 * S, M, 1, 2, "no", 5000, -800)); // others took 8: 2 shown, both ours
    expect(v.takenAt(M, "no", 5000)).toBe(200);
    v.place(order(T0 + 4 * S, {}));
    expect(fills(drain(v, T0 + 5 * S))).toEqual([]);
  });

  test("partial fills across levels, a second order gets only what the first left", () => {
    const v = venue();
    // NO bids 0.52 × 2, 0.51 × 3, 0.50 × 4 → YES asks 0.48 × 2, 0.49 × 3, 0.50 × 4.
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4000, 100]], [[5000, 400], [5100, 300], [5200, 200]]));
    v.place(order(T0 + S, { clientOrderId: "a", price: 4900, count: 700 }));
    const a = drain(v, T0 + 2 * S);
    // 2 @ 0.48 + 3 @ 0.49; the 0.50 level is beyond the limit; IOC remainder 2 cancelled.
    expect(fills(a).map((f) => [f.yesPrice, f.count])).toEqual([[4800, 200], [4900, 300]]);
    expect(updates(a)[0]).toMatchObject({ status: "canceled", filled: 500 });
    v.place(order(T0 + 3 * S, { clientOrderId: "b", price: 5000, count: 600 }));
    // 0.48 and 0.49 are used up: b gets 4 @ 0.50 and nothing else.
    expect(fills(drain(v, T0 + 4 * S)).map((f) => [f.yesPrice, f.count])).toEqual([[5000, 400]]);
  });

  test("a resting order is crossed by several new opposite levels, each used once", () => {
    const v = venue();
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 500]]));
    v.place(order(T0 + S, { price: 4400, count: 1000, tif: "good_till_canceled" }));
    drain(v, T0 + 2 * S);
    v.onMarketEvent(delta(T0 + 3 * S, M, 1, 2, "no", 5600, 300)); // crosses: 3
    v.onMarketEvent(delta(T0 + 4 * S, M, 1, 3, "no", 5700, 200)); // crosses: 2 more
    v.onMarketEvent(delta(T0 + 5 * S, M, 1, 4, "no", 5600, 100)); // +1 at 0.56: 1 more (4 shown, 3 ours)
    v.onMarketEvent(delta(T0 + 6 * S, M, 1, 5, "no", 5500, 900)); // 0.44 + 0.55 < $1: no cross
    expect(fills(drain(v, T0 + 7 * S)).map((f) => [f.count, f.yesPrice])).toEqual([[300, 4400], [200, 4400], [100, 4400]]);
    expect(v.restingOrders()[0]!.remaining).toBe(400);
  });
});

describe("resting orders and the conservative queue", () => {
  const trade = (ts: number, count: number, yesPrice = 4800): PublicTrade => ({
    kind: "public_trade", tsRecv: ts, tsExchange: null, market: M, tradeId: `t${ts}`, yesPrice, count, takerSide: "no", sid: 2, seq: ts,
  });

  test("queue ahead = displayed size at our price; trades at our price eat it first", () => {
    const v = venue();
    // YES bids 0.48 × 10 displayed; NO bids 0.50 (YES ask 0.50) — our bid at 0.48 does not cross.
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4800, 1000]], [[5000, 1000]]));
    v.place(order(T0 + S, { price: 4800, tif: "good_till_canceled", count: 500 }));
    expect(updates(drain(v, T0 + 2 * S)).map((u) => u.status)).toEqual(["resting"]);
    v.onMarketEvent(trade(T0 + 3 * S, 400)); // 10 ahead → 6 ahead
    v.onMarketEvent(trade(T0 + 4 * S, 800)); // 6 ahead → 0, 2 left for us
    const f = fills(drain(v, T0 + 5 * S));
    expect(f.map((x) => [x.count, x.isTaker, x.yesPrice])).toEqual([[200, false, 4800]]);
    v.onMarketEvent(trade(T0 + 6 * S, 1000)); // we get the remaining 3
    const out = drain(v, T0 + 7 * S);
    expect(fills(out).map((x) => x.count)).toEqual([300]);
    expect(updates(out).map((u) => u.status)).toEqual(["executed"]);
  });

  test("trades on the other side or above our price do not fill us", () => {
    const v = venue();
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4800, 0 + 100]], [[5000, 1000]]));
    v.place(order(T0 + S, { price: 4700, tif: "good_till_canceled", count: 500 }));
    drain(v, T0 + 2 * S);
    v.onMarketEvent(trade(T0 + 3 * S, 5000, 4800)); // printed at 0.48, above our 0.47 bid
    v.onMarketEvent({ ...trade(T0 + 4 * S, 5000, 4700), takerSide: "yes" }); // a YES buyer lifts asks
    expect(fills(drain(v, T0 + 5 * S))).toEqual([]);
  });

  test("a block trade at our price fills nothing and eats no queue: it never met the book", () => {
    const v = venue();
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4800, 1000]], [[5000, 1000]]));
    v.place(order(T0 + S, { price: 4800, tif: "good_till_canceled", count: 500 }));
    drain(v, T0 + 2 * S);
    v.onMarketEvent({ ...trade(T0 + 3 * S, 50_000), blockTrade: true });
    expect(fills(drain(v, T0 + 4 * S))).toEqual([]);
    v.onMarketEvent(trade(T0 + 5 * S, 1200)); // the 10 ahead are still there: 2 for us
    expect(fills(drain(v, T0 + 6 * S)).map((x) => x.count)).toEqual([200]);
  });

  test("post-only that would cross is cancelled, not filled", () => {
    const v = venue();
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4800, 100]], [[5000, 100]]));
    v.place(order(T0 + S, { price: 5000, tif: "good_till_canceled", postOnly: true }));
    const out = drain(v, T0 + 2 * S);
    expect(fills(out)).toEqual([]);
    expect(updates(out).map((u) => [u.status, u.reason])).toEqual([["canceled", "PostOnlyCrossCancel"]]);
  });
});

describe("venue limits", () => {
  test("the venue's write bucket answers the 11th create in a second with 429", () => {
    const v = venue(1_000, 100); // 100 tokens/s, create costs 10
    v.onMarketEvent(snapshot(T0, M, 1, 1, [], [[5000, 100_000]]));
    for (let i = 0; i < 11; i++) v.place(order(T0 + S + i, { clientOrderId: `o${i}`, count: 100 }));
    const out = drain(v, T0 + 2 * S);
    const rejected = updates(out).filter((u) => u.status === "rejected");
    expect(rejected.map((u) => [u.clientOrderId, u.reason])).toEqual([["o10", "too many requests (429)"]]);
    expect(fills(out)).toHaveLength(10);
  });
});

describe("each unit of displayed liquidity is used once (issue 10)", () => {
  test("a crossing level fills a resting order once, not again on every later delta", () => {
    const v = venue();
    // YES bids 0.40 × 5, NO bids 0.50 × 5 (YES ask 0.50). We rest a YES bid at 0.44 × 10, alone at its price.
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 500]]));
    v.place(order(T0 + S, { price: 4400, count: 1000, tif: "good_till_canceled" }));
    expect(updates(drain(v, T0 + 2 * S)).map((u) => u.status)).toEqual(["resting"]);
    // One NO bid 0.56 × 3 appears: 0.44 + 0.56 = $1, it would have matched our bid: 3 fill at 0.44 (maker).
    v.onMarketEvent(delta(T0 + 3 * S, M, 1, 2, "no", 5600, 300));
    // Three unrelated deltas elsewhere in the book: the 3 at 0.56 are already ours.
    v.onMarketEvent(delta(T0 + 4 * S, M, 1, 3, "yes", 4000, 100));
    v.onMarketEvent(delta(T0 + 5 * S, M, 1, 4, "no", 5000, -100));
    v.onMarketEvent(delta(T0 + 6 * S, M, 1, 5, "yes", 3900, 200));
    const f = fills(drain(v, T0 + 7 * S));
    expect(f.map((x) => [x.count, x.yesPrice, x.isTaker])).toEqual([[300, 4400, false]]);
    expect(v.restingOrders()).toEqual([expect.objectContaining({ remaining: 700 })]);
  });

  test("liquidity we took is not regenerated by an add at that level: +1 gives 1, not 4", () => {
    const v = venue();
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4000, 500]], [[5500, 300]])); // YES ask 0.45 × 3
    v.place(order(T0 + S, { price: 4500, count: 300 }));
    expect(fills(drain(v, T0 + 2 * S)).map((f) => f.count)).toEqual([300]);
    v.onMarketEvent(delta(T0 + 3 * S, M, 1, 2, "no", 5500, 100)); // the level gains 1: it shows 4
    v.place(order(T0 + 4 * S, { price: 4500, count: 400 }));
    // The book held 4 displayed, 3 of which we had already taken: 1 is new.
    expect(fills(drain(v, T0 + 5 * S)).map((f) => f.count)).toEqual([100]);
  });
});

describe("queue position, amend and write costs (issue 10)", () => {
  const trade = (ts: number, count: number, yesPrice = 4800): PublicTrade => ({
    kind: "public_trade", tsRecv: ts, tsExchange: null, market: M, tradeId: `t${ts}`, yesPrice, count, takerSide: "no", sid: 2, seq: ts,
  });
  const rest = (v: SimVenue, ts: number, o: Partial<PlaceOrder> = {}) => {
    v.place(order(ts, { price: 4800, count: 500, tif: "good_till_canceled", ...o }));
    return drain(v, ts + S);
  };

  test("a queue that shrinks by cancels ahead: queue ahead never exceeds what is displayed", () => {
    const v = venue();
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4800, 1000]], [[5000, 1000]]));
    rest(v, T0 + S); // 10 ahead of our 5 at 0.48
    expect(v.restingOrders()[0]!.queueAhead).toBe(1000);
    // 6 cancel at 0.48 (no trade): only 4 are displayed, so at most 4 can be ahead of us.
    v.onMarketEvent(delta(T0 + 3 * S, M, 1, 2, "yes", 4800, -600));
    expect(v.restingOrders()[0]!.queueAhead).toBe(400);
    // A trade of 6 at 0.48: 4 go to those ahead, 2 to us.
    v.onMarketEvent(trade(T0 + 4 * S, 600));
    expect(fills(drain(v, T0 + 5 * S)).map((f) => f.count)).toEqual([200]);
  });

  test("amend: a size decrease keeps the queue position", () => {
    const v = venue();
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4800, 1000]], [[5000, 1000]]));
    rest(v, T0 + S);
    v.onMarketEvent(trade(T0 + 3 * S, 700)); // 10 ahead → 3 ahead
    v.amend({ kind: "amend_order", ts: T0 + 4 * S, clientOrderId: `c${T0 + S}`, orderId: null, market: M, outcome: "yes", action: "buy", price: 4800, count: 300, reason: "test" });
    const u = updates(drain(v, T0 + 5 * S));
    expect(u.map((x) => [x.status, x.remaining, x.reason])).toEqual([["resting", 300, "Amend"]]);
    expect(v.restingOrders()[0]).toMatchObject({ remaining: 300, queueAhead: 300 });
    v.onMarketEvent(trade(T0 + 6 * S, 500)); // 3 ahead, then 2 for us
    expect(fills(drain(v, T0 + 7 * S)).map((f) => f.count)).toEqual([200]);
  });

  test("amend: a price change loses priority (back of the new level's queue)", () => {
    const v = venue();
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4700, 800], [4800, 1000]], [[5000, 1000]]));
    rest(v, T0 + S);
    v.onMarketEvent(trade(T0 + 3 * S, 1000)); // queue at 0.48 exhausted: we are first
    expect(v.restingOrders()[0]!.queueAhead).toBe(0);
    v.amend({ kind: "amend_order", ts: T0 + 4 * S, clientOrderId: `c${T0 + S}`, orderId: null, market: M, outcome: "yes", action: "buy", price: 4700, count: 500, reason: "test" });
    expect(updates(drain(v, T0 + 5 * S)).map((x) => [x.status, x.yesPrice])).toEqual([["resting", 4700]]);
    // At 0.47 the 8 displayed are ahead of us.
    expect(v.restingOrders()[0]).toMatchObject({ price: 4700, queueAhead: 800 });
    v.onMarketEvent(trade(T0 + 6 * S, 800, 4700));
    expect(fills(drain(v, T0 + 7 * S))).toEqual([]);
  });

  test("amend to a crossing price trades at once (as taker)", () => {
    const v = venue();
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4800, 1000]], [[5000, 300]]));
    rest(v, T0 + S);
    v.amend({ kind: "amend_order", ts: T0 + 4 * S, clientOrderId: `c${T0 + S}`, orderId: null, market: M, outcome: "yes", action: "buy", price: 5000, count: 500, reason: "test" });
    const out = drain(v, T0 + 5 * S);
    expect(fills(out).map((f) => [f.count, f.yesPrice, f.isTaker])).toEqual([[300, 5000, true]]);
    expect(v.restingOrders()[0]).toMatchObject({ remaining: 200, price: 5000 });
  });

  test("each write pays its tokens: create 10, amend 10, cancel 2, and a cancel-all pays per order", () => {
    const v = venue(1_000, 100);
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4800, 1000]], [[5000, 1000]]));
    for (let i = 0; i < 3; i++) v.place(order(T0 + S + i, { clientOrderId: `r${i}`, price: 4800, count: 100, tif: "good_till_canceled" }));
    v.amend({ kind: "amend_order", ts: T0 + S + 10, clientOrderId: "r0", orderId: null, market: M, outcome: "yes", action: "buy", price: 4800, count: 50, reason: "t" });
    v.cancel({ kind: "cancel_order", ts: T0 + S + 11, clientOrderId: "r1", orderId: null, market: M, reason: "t" });
    v.cancelAll(T0 + S + 12);
    drain(v, T0 + 3 * S);
    expect(v.stats).toMatchObject({ amends: 1, cancels: 3, writeTokens: 3 * 10 + 10 + 2 + 2 * 2 });
    expect(v.restingOrders()).toEqual([]);
  });

  test("an amend that does not fit the bucket is refused with the order untouched (still resting)", () => {
    const v = venue(1_000, 30); // 30 tokens: three creates empty it
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4800, 1000]], [[5000, 1000]]));
    for (let i = 0; i < 3; i++) v.place(order(T0 + S + i, { clientOrderId: `r${i}`, price: 4800, count: 100, tif: "good_till_canceled" }));
    v.amend({ kind: "amend_order", ts: T0 + S + 10, clientOrderId: "r0", orderId: null, market: M, outcome: "yes", action: "buy", price: 4700, count: 100, reason: "t" });
    const u = updates(drain(v, T0 + 2 * S)).filter((x) => x.clientOrderId === "r0");
    expect(u.map((x) => [x.status, x.yesPrice, x.reason])).toEqual([
      ["resting", 4800, ""],
      ["resting", 4800, "amend refused: too many requests (429)"],
    ]);
    expect(v.stats.rateLimited).toBe(1);
  });
});

describe("fees are rounded per order, not per fill", () => {
  test("10 contracts filled 3 + 3 + 4 as maker pay ceil(0.0175 × 10 × 0.44 × 0.56) = $0.05 once", async () => {
    const { orderFee } = await import("../../lib/core/fees.ts");
    const cfg = { takerCoefficient: 0.07, makerCoefficient: 0.0175, rounding: "order_cent" as const, slippageTicks: 0 };
    const schedule = { feeType: "quadratic_with_maker_fees" as const, feeMultiplier: 1 };
    const v = new SimVenue({
      latency: new ConstantLatency(10_000, 10_000), queue: new ConservativeQueue(),
      fee: (_m, legs, maker) => orderFee(legs, maker, schedule, cfg),
      writeTokensPerSecond: 100, writeBucketCapacity: 100, createCost: 10, cancelCost: 2,
    });
    v.onMarketEvent(marketInfo(M, 99_999.99, T0 + 3600 * S));
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 500]]));
    v.place(order(T0 + S, { price: 4400, count: 1000, tif: "good_till_canceled" }));
    drain(v, T0 + 2 * S);
    v.onMarketEvent(delta(T0 + 3 * S, M, 1, 2, "no", 5600, 300));
    v.onMarketEvent(delta(T0 + 4 * S, M, 1, 3, "no", 5600, -300));
    v.onMarketEvent(delta(T0 + 5 * S, M, 1, 4, "no", 5600, 300));
    v.onMarketEvent(delta(T0 + 6 * S, M, 1, 5, "no", 5600, -300));
    v.onMarketEvent(delta(T0 + 7 * S, M, 1, 6, "no", 5600, 400));
    const f = fills(drain(v, T0 + 8 * S));
    expect(f.map((x) => x.count)).toEqual([300, 300, 400]);
    // Exact: 0.0175 × 10 × 0.2464 = 0.04312 → $0.05 for the order. Per fill it would be
    // ceil(0.012936) + ceil(0.012936) + ceil(0.017248) = 0.02 + 0.02 + 0.02 = $0.06.
    expect(f.map((x) => x.fee)).toEqual([20_000, 10_000, 20_000]);
    expect(f.reduce((a, x) => a + x.fee, 0)).toBe(50_000);
  });
});
