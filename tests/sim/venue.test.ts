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

  test("taken liquidity stays taken until that level refreshes", () => {
    const v = venue();
    v.onMarketEvent(snapshot(T0, M, 1, 1, [], [[5000, 400]]));
    v.place(order(T0 + S, {}));
    expect(fills(drain(v, T0 + 2 * S)).map((f) => f.count)).toEqual([400]);
    v.place(order(T0 + 3 * S, {}));
    expect(fills(drain(v, T0 + 4 * S))).toEqual([]); // the recording still shows 4, but we took them
    v.onMarketEvent(delta(T0 + 5 * S, M, 1, 2, "no", 5000, 100)); // the level changed: fresh
    v.place(order(T0 + 6 * S, {}));
    expect(fills(drain(v, T0 + 7 * S)).map((f) => f.count)).toEqual([500]);
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
