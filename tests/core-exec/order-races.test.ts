/** order manager / engine-fee probes. */
import { describe, expect, test } from "vitest";
import { DEFAULT_ENGINE_CONFIG, type OrderConfig } from "../../lib/core/config.ts";
import { Engine } from "../../lib/core/engine.ts";
import type { EngineEvent, OrderUpdate, OwnFill } from "../../lib/core/events.ts";
import { OrderManager, ownFillToFillInput } from "../../lib/core/orders.ts";
import { Portfolio } from "../../lib/core/portfolio.ts";
import type { PlaceOrder } from "../../lib/core/records.ts";
import { ConservativeQueue, ConstantLatency } from "../../lib/sim/models.ts";
import { SimVenue } from "../../lib/sim/venue.ts";
import { S, T0, delta, marketInfo, snapshot } from "../helpers/scenario.ts";

const M = "KXBTCD-26NOV2517-T99999.99";
const CFG: OrderConfig = { ...DEFAULT_ENGINE_CONFIG.orders, clientOrderIdPrefix: "r3" };
const fills = (es: EngineEvent[]) => es.filter((e): e is OwnFill => e.kind === "fill");
const updates = (es: EngineEvent[]) => es.filter((e): e is OrderUpdate => e.kind === "order_update");

function placeIntent(ts: number, id: string, o: Partial<PlaceOrder> = {}): PlaceOrder {
  return { kind: "place_order", ts, clientOrderId: id, market: M, outcome: "yes", action: "buy", price: 4500, count: 1000, tif: "good_till_canceled", postOnly: false, reduceOnly: false, evalId: "e", ...o };
}

describe("order manager", () => {
  test("a resting update older than a fill already applied must not grow the order (count = venue filled + venue remaining)", () => {
    const om = new OrderManager(CFG, T0);
    om.onSubmit(placeIntent(T0, "r3-1")); // 10 contracts
    // The fill of 4 (WS fill channel) arrives before the user_order report "resting, filled 0,
    // remaining 10" that the venue sent earlier (separate channel / sampled response latency).
    om.onFill({ kind: "fill", tsRecv: T0 + 20, tsExchange: null, tradeId: "t1", orderId: "o1", clientOrderId: "r3-1", market: M, bookSide: "bid", outcomeSide: "yes", yesPrice: 4500, count: 400, fee: 0, isTaker: false });
    om.onOrderUpdate({ kind: "order_update", tsRecv: T0 + 30, tsExchange: null, orderId: "o1", clientOrderId: "r3-1", market: M, status: "resting", bookSide: "bid", yesPrice: 4500, filled: 0, remaining: 1000, reason: "" });
    // The venue's own view: filled 0 + remaining 10 = 10 in total. The order never had more than 10.
    expect(om.get("r3-1")!.count).toBe(1000); // before the fix: 400 + 1000 = 1400
  });

  test("the same inversion, produced by the simulated venue itself with response latency drawn per message", () => {
    // Response latency: 50 ms for the first message (the resting report), 1 ms afterwards.
    let n = 0;
    const lat = { entryUs: () => 10_000, responseUs: () => (n++ === 0 ? 50_000 : 1_000) };
    const v = new SimVenue({ latency: lat, queue: new ConservativeQueue(), fee: () => 0, writeTokensPerSecond: 1000, writeBucketCapacity: 1000, createCost: 10, cancelCost: 2 });
    v.onMarketEvent(marketInfo(M, 99_999.99, T0 + 3600 * S));
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 500]]));
    const om = new OrderManager(CFG, T0);
    const p = placeIntent(T0 + S, "r3-1", { price: 4400 });
    om.onSubmit(p);
    v.place(p); // arrives T0+1.010 s, rests; its report is received at T0+1.060 s
    v.advance(T0 + S + 20_000);
    v.onMarketEvent(delta(T0 + S + 20_000, M, 1, 2, "no", 5600, 400)); // crosses 0.44: 4 fill, reported T0+1.021 s
    v.advance(T0 + 2 * S);
    const evs = v.drainBefore(T0 + 2 * S);
    expect(evs.map((e) => e.kind)).toEqual(["fill", "order_update"]); // the fill is received first
    for (const e of evs) e.kind === "fill" ? om.onFill(e) : om.onOrderUpdate(e as OrderUpdate);
    expect(om.get("r3-1")).toMatchObject({ filled: 400, count: 1000 }); // before the fix: count 1400
  });

  test("a cancel the venue refused (429, order still resting) no longer counts as a cancel in flight", () => {
    // Venue bucket: 12 tokens (create 10 + nothing left for a 2-token cancel after a second create... ).
    const v = new SimVenue({ latency: new ConstantLatency(10_000, 10_000), queue: new ConservativeQueue(), fee: () => 0, writeTokensPerSecond: 10, writeBucketCapacity: 10, createCost: 10, cancelCost: 2 });
    v.onMarketEvent(marketInfo(M, 99_999.99, T0 + 3600 * S));
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 500]]));
    const om = new OrderManager({ ...CFG, writeTokensPerSecond: 1000, writeBucketCapacity: 1000 }, T0);
    const p = placeIntent(T0 + S, "r3-1", { price: 4400 });
    om.onSubmit(p);
    v.place(p); // venue bucket 10 → 0 at T0+1.010
    om.onCancelSubmit(T0 + S + 1, "r3-1");
    v.cancel({ kind: "cancel_order", ts: T0 + S + 1, clientOrderId: "r3-1", orderId: null, market: M, reason: "x" }); // arrives +10 ms: 0.1 token → 429
    v.advance(T0 + 2 * S);
    const evs = v.drainBefore(T0 + 2 * S);
    expect(updates(evs).map((u) => [u.status, u.reason])).toEqual([["resting", ""], ["resting", "cancel refused: too many requests (429)"]]);
    for (const u of updates(evs)) om.onOrderUpdate(u);
    // The order rests and no cancel is outstanding: the engine must be free to cancel it again
    // (manageOrders skips orders with cancelRequested; onAmendSubmit refuses them).
    expect(om.get("r3-1")).toMatchObject({ status: "resting", cancelRequested: false }); // before the fix: cancelRequested true forever
  });
});

describe("fees", () => {
  test("a fee schedule change between two fills of one order never produces a negative fill fee", () => {
    const engine = new Engine(DEFAULT_ENGINE_CONFIG, { intent() {}, record() {} }, T0);
    const info = marketInfo(M, 99_999.99, T0 + 3600 * S, { feeType: "quadratic_with_maker_fees" });
    engine.onEvent(info);
    const v = new SimVenue({ latency: new ConstantLatency(10_000, 10_000), queue: new ConservativeQueue(), fee: (m, legs, mk, at) => engine.orderFeeFor(m, legs, mk, at), writeTokensPerSecond: 1000, writeBucketCapacity: 1000, createCost: 10, cancelCost: 2 });
    v.onMarketEvent(info);
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4000, 500]], [[5000, 500]]));
    v.place(placeIntent(T0 + S, "r3-1", { price: 4400 }));
    v.advance(T0 + 2 * S);
    v.onMarketEvent(delta(T0 + 2 * S, M, 1, 2, "no", 5600, 300)); // 3 fill as maker @ 0.44
    // maker fee: ceil(0.0175 × 3 × 0.44 × 0.56 = 0.012936) = $0.02
    // event_fee_update → the merged record now says "quadratic" (no maker fee) for this event.
    const upd = marketInfo(M, 99_999.99, T0 + 3600 * S, { feeType: "quadratic", tsRecv: T0 + 3 * S });
    engine.onEvent(upd);
    v.onMarketEvent(upd);
    v.onMarketEvent(delta(T0 + 4 * S, M, 1, 3, "no", 5700, 200)); // 2 more fill as maker @ 0.44
    v.advance(T0 + 5 * S);
    const f = fills(v.drainBefore(T0 + 5 * S));
    expect(f.map((x) => x.count)).toEqual([300, 200]);
    expect(f[0]!.fee).toBe(20_000);
    // The second fill happened under a no-maker-fee schedule: its fee is 0 (or at worst the new schedule's
    // increment), never −$0.02.
    // "quadratic" charges makers nothing: 0 (before the fix: −20 000).
    expect(f[1]!.fee).toBe(0);
    const pf = new Portfolio(1_000_000_000);
    for (const x of f) expect(() => pf.applyFill(ownFillToFillInput(x))).not.toThrow(); // before the fix: RangeError fee must be ≥ 0
  });
});
