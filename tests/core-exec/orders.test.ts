import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  NOT_AT_VENUE,
  OrderManager,
  fromYesBook,
  ownFillToFillInput,
  toCreateOrderV2,
  toYesBook,
} from "../../lib/core/orders.ts";
import { Portfolio } from "../../lib/core/portfolio.ts";
import { DEFAULT_ENGINE_CONFIG, type OrderConfig } from "../../lib/core/config.ts";
import type { OrderUpdate, OwnFill, RestingOrderEntry } from "../../lib/core/events.ts";
import type { PlaceOrder } from "../../lib/core/records.ts";

const T = 1_790_715_600_000_000;
const M = "KXBTCD-26SEP2917-T109999.99";
const CFG: OrderConfig = { ...DEFAULT_ENGINE_CONFIG.orders, clientOrderIdPrefix: "run7" };

function place(p: Partial<PlaceOrder> & { clientOrderId: string }): PlaceOrder {
  return {
    kind: "place_order",
    ts: T,
    market: M,
    outcome: "yes",
    action: "buy",
    price: 4500,
    count: 1000,
    tif: "good_till_canceled",
    postOnly: false,
    reduceOnly: false,
    evalId: "e1",
    ...p,
  };
}

function update(p: Partial<OrderUpdate> & { clientOrderId: string; status: OrderUpdate["status"] }): OrderUpdate {
  return {
    kind: "order_update",
    tsRecv: T + 1000,
    tsExchange: null,
    orderId: "oid-1",
    market: M,
    bookSide: "bid",
    yesPrice: 4500,
    filled: 0,
    remaining: 1000,
    reason: "",
    ...p,
  };
}

function ownFill(p: Partial<OwnFill> & { tradeId: string }): OwnFill {
  return {
    kind: "fill",
    tsRecv: T + 2000,
    tsExchange: null,
    orderId: "oid-1",
    clientOrderId: "run7-1",
    market: M,
    bookSide: "bid",
    outcomeSide: "yes",
    yesPrice: 4500,
    count: 400,
    fee: 0,
    isTaker: true,
    ...p,
  };
}

describe("YES-book mapping (reference §4.4)", () => {
  it("maps all four rows", () => {
    expect(toYesBook("yes", "buy", 4500)).toEqual({ side: "bid", yesPrice: 4500 });
    expect(toYesBook("yes", "sell", 4500)).toEqual({ side: "ask", yesPrice: 4500 });
    expect(toYesBook("no", "buy", 4000)).toEqual({ side: "ask", yesPrice: 6000 });
    expect(toYesBook("no", "sell", 4000)).toEqual({ side: "bid", yesPrice: 6000 });
  });

  it("inverts all four rows", () => {
    expect(fromYesBook("bid", 4500, "buy")).toEqual({ outcome: "yes", price: 4500 });
    expect(fromYesBook("ask", 4500, "sell")).toEqual({ outcome: "yes", price: 4500 });
    expect(fromYesBook("ask", 6000, "buy")).toEqual({ outcome: "no", price: 4000 });
    expect(fromYesBook("bid", 6000, "sell")).toEqual({ outcome: "no", price: 4000 });
  });

  it("round-trips every (outcome, action, price)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<"yes" | "no">("yes", "no"),
        fc.constantFrom<"buy" | "sell">("buy", "sell"),
        fc.integer({ min: 0, max: 10_000 }),
        (outcome, action, price) => {
          const { side, yesPrice } = toYesBook(outcome, action, price);
          expect(fromYesBook(side, yesPrice, action)).toEqual({ outcome, price });
        },
      ),
    );
  });

  it("gives the same YES-equivalent position change as the portfolio for every row", () => {
    // bid adds YES exposure (+), ask adds NO exposure (−), whatever the vocabulary.
    for (const [outcome, action] of [["yes", "buy"], ["yes", "sell"], ["no", "buy"], ["no", "sell"]] as const) {
      const pf = new Portfolio(0);
      const { side } = toYesBook(outcome, action, 3000);
      pf.applyFill({ ts: T, market: M, outcome, action, price: 3000, count: 100, fee: 0 });
      expect(pf.position(M).position).toBe(side === "bid" ? 100 : -100);
    }
  });
});

describe("toCreateOrderV2", () => {
  it("formats the body exactly", () => {
    expect(toCreateOrderV2(place({ clientOrderId: "run7-1" }))).toEqual({
      ticker: M,
      client_order_id: "run7-1",
      side: "bid",
      count: "10.00",
      price: "0.4500",
      time_in_force: "good_till_canceled",
      self_trade_prevention_type: "taker_at_cross",
      post_only: false,
      reduce_only: false,
    });
    // buy NO 0.40 post-only IOC, fractional count, explicit STP and shard
    expect(
      toCreateOrderV2(
        place({ clientOrderId: "run7-2", outcome: "no", price: 4000, count: 1234, tif: "immediate_or_cancel", postOnly: true, reduceOnly: true }),
        { selfTradePrevention: "maker", exchangeIndex: 2 },
      ),
    ).toEqual({
      ticker: M,
      client_order_id: "run7-2",
      side: "ask",
      count: "12.34",
      price: "0.6000",
      time_in_force: "immediate_or_cancel",
      self_trade_prevention_type: "maker",
      post_only: true,
      reduce_only: true,
      exchange_index: 2,
    });
    // sub-cent price keeps 4 decimals
    expect(toCreateOrderV2(place({ clientOrderId: "x", outcome: "no", action: "sell", price: 9995 })).price).toBe("0.0005");
  });

  it("refuses prices outside (0, 1) and non-positive counts", () => {
    expect(() => toCreateOrderV2(place({ clientOrderId: "x", price: 0 }))).toThrow();
    expect(() => toCreateOrderV2(place({ clientOrderId: "x", price: 10_000 }))).toThrow();
    expect(() => toCreateOrderV2(place({ clientOrderId: "x", outcome: "no", price: 10_000 }))).toThrow();
    expect(() => toCreateOrderV2(place({ clientOrderId: "x", count: 0 }))).toThrow();
  });
});

describe("OrderManager — ids and rate limit", () => {
  it("hands out deterministic client ids", () => {
    const om = new OrderManager(CFG, T);
    expect([om.nextClientOrderId(), om.nextClientOrderId(), om.nextClientOrderId()]).toEqual(["run7-1", "run7-2", "run7-3"]);
  });

  it("refuses the 11th create within the same instant at 100 tokens/s, cost 10", () => {
    const om = new OrderManager(CFG, T);
    for (let i = 1; i <= 10; i++) {
      expect(om.canSend(T, "create")).toBe(true);
      expect(om.onSubmit(place({ clientOrderId: `c${i}` })).status).toBe("pending");
    }
    expect(om.canSend(T, "create")).toBe(false);
    expect(om.canSend(T, "cancel")).toBe(false);
    expect(() => om.onSubmit(place({ clientOrderId: "c11" }))).toThrow(/rate limit/);
    expect(om.get("c11")).toBeUndefined();
    // 10 tokens come back in 100 ms
    expect(om.waitUs(T, "create")).toBe(100_000);
    expect(om.canSend(T + 99_999, "create")).toBe(false);
    expect(om.canSend(T + 100_000, "create")).toBe(true);
  });

  it("allows cancels (cost 2) that fit", () => {
    const om = new OrderManager(CFG, T);
    for (let i = 1; i <= 9; i++) om.onSubmit(place({ clientOrderId: `c${i}` }));
    expect(om.canSend(T, "create")).toBe(true); // 10 left
    for (let i = 1; i <= 5; i++) {
      expect(om.canSend(T, "cancel")).toBe(true);
      expect(om.onCancelSubmit(T, `c${i}`)).toMatchObject({ clientOrderId: `c${i}`, reason: "cancel_submitted" });
    }
    expect(om.canSend(T, "cancel")).toBe(false);
    expect(() => om.onCancelSubmit(T, "c6")).toThrow(/rate limit/);
    // 20 ms refills 2 tokens: exactly one more cancel
    expect(om.canSend(T + 20_000, "cancel")).toBe(true);
    expect(om.canSend(T + 20_000, "create")).toBe(false);
  });

  it("refuses reused client ids and invalid orders", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "a" }));
    expect(() => om.onSubmit(place({ clientOrderId: "a" }))).toThrow(/reused/);
    expect(() => om.onSubmit(place({ clientOrderId: "b", count: 0 }))).toThrow();
    expect(() => om.onSubmit(place({ clientOrderId: "b", price: 10_000 }))).toThrow();
  });

  it("cancel of an untracked or final order is a no-op and costs nothing", () => {
    const om = new OrderManager(CFG, T);
    expect(om.onCancelSubmit(T, "nope")).toBeNull();
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    om.onRejected(T, "run7-1", "invalid_price");
    expect(om.onCancelSubmit(T, "run7-1")).toBeNull();
    // only the single create was charged: 90 tokens = 9 more creates, then empty
    for (let i = 2; i <= 10; i++) om.onSubmit(place({ clientOrderId: `run7-${i}` }));
    expect(om.canSend(T, "cancel")).toBe(false);
  });
});

describe("OrderManager — lifecycle", () => {
  it("submit records the YES-book side and price", () => {
    const om = new OrderManager(CFG, T);
    const rec = om.onSubmit(place({ clientOrderId: "run7-1", outcome: "no", action: "buy", price: 4000 }));
    expect(rec).toEqual({
      kind: "order",
      ts: T,
      clientOrderId: "run7-1",
      orderId: null,
      market: M,
      outcome: "no",
      action: "buy",
      bookSide: "ask",
      yesPrice: 6000,
      count: 1000,
      filled: 0,
      status: "pending",
      reason: "submitted",
      evalId: "e1",
    });
    expect(om.inFlight(M)).toBe(true);
    expect(om.inFlight("OTHER")).toBe(false);
  });

  it("a definite rejection ends a pending order", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    const rec = om.onRejected(T + 5, "run7-1", "invalid_price");
    expect(rec).toMatchObject({ status: "rejected", reason: "rejected: invalid_price" });
    expect(om.open()).toEqual([]);
    expect(om.inFlight(M)).toBe(false);
  });

  it("an unknown outcome stays unknown (never rejected) until an update resolves it", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    expect(om.onUnknownOutcome(T + 10, "run7-1", "timeout")).toMatchObject({ status: "unknown", reason: "unknown_outcome: timeout" });
    expect(om.inFlight(M)).toBe(true);
    // a later "definite" rejection cannot apply to an unknown order
    expect(om.onRejected(T + 20, "run7-1", "late")).toBeNull();
    expect(om.get("run7-1")?.status).toBe("unknown");
    expect(om.open().map((o) => o.clientOrderId)).toEqual(["run7-1"]);
    // the venue says it rests
    const r = om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "resting", orderId: "oid-1" }));
    expect(r.unknownOrder).toBe(false);
    expect(r.record).toMatchObject({ status: "resting", orderId: "oid-1" });
    expect(om.inFlight(M)).toBe(false);
    expect(om.openForMarket(M)).toHaveLength(1);
    expect(om.getByOrderId("oid-1")?.clientOrderId).toBe("run7-1");
  });

  it("an unknown outcome after the venue already answered changes nothing", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "executed", filled: 1000, remaining: 0 }));
    expect(om.onUnknownOutcome(T + 10, "run7-1", "timeout")).toBeNull();
    expect(om.get("run7-1")?.status).toBe("executed");
    expect(om.onUnknownOutcome(T, "nope", "x")).toBeNull();
  });

  it("a cancel whose outcome is unknown makes a resting order unknown; a cancel rejection keeps it resting", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    om.onSubmit(place({ clientOrderId: "run7-2" }));
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "resting", orderId: "o1" }));
    om.onOrderUpdate(update({ clientOrderId: "run7-2", status: "resting", orderId: "o2" }));
    om.onCancelSubmit(T + 5, "run7-1");
    om.onCancelSubmit(T + 5, "run7-2");
    expect(om.onUnknownOutcome(T + 6, "run7-1", "503")?.status).toBe("unknown");
    expect(om.onRejected(T + 6, "run7-2", "not_found")).toMatchObject({ status: "resting", reason: "cancel_rejected: not_found" });
    expect(om.get("run7-2")?.cancelRequested).toBe(false);
    expect(om.inFlight(M)).toBe(true);
    // a resting order with no cancel in flight is not made unknown
    expect(om.onUnknownOutcome(T + 7, "run7-2", "503")).toBeNull();
  });

  it("matches updates by client id, else by order id; flags unknown orders", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "resting", orderId: "o1" }));
    const byOid = om.onOrderUpdate(update({ clientOrderId: "", orderId: "o1", status: "canceled", remaining: 0, reason: "CloseCancel" }));
    expect(byOid.record).toMatchObject({ clientOrderId: "run7-1", status: "canceled", reason: "CloseCancel" });
    expect(om.onOrderUpdate(update({ clientOrderId: "foreign", orderId: "o-x", status: "resting" }))).toEqual({
      record: null,
      unknownOrder: true,
    });
  });

  it("stale updates never reopen a final order", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "canceled", remaining: 0 }));
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "resting" }));
    expect(om.get("run7-1")?.status).toBe("canceled");
    // but the venue's "executed" wins over canceled
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "executed", filled: 1000, remaining: 0 }));
    expect(om.get("run7-1")).toMatchObject({ status: "executed", filled: 1000 });
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "canceled", remaining: 0 }));
    expect(om.get("run7-1")?.status).toBe("executed");
  });

  it("an order called canceled only because the venue did not know it yet is reopened by the venue's evidence", () => {
    // A create that timed out and was not found by client id: the transport reports it canceled,
    // "not at venue". REST lags writes, so it may land later: a resting report, a reconcile that
    // lists it, or a fill reopens it; a canceled the venue itself sent stays final (test above).
    const byReport = new OrderManager(CFG, T);
    byReport.onSubmit(place({ clientOrderId: "run7-1" }));
    byReport.onOrderUpdate(update({ clientOrderId: "run7-1", orderId: "", status: "canceled", remaining: 0, reason: `resolved by client_order_id: ${NOT_AT_VENUE}` }));
    expect(byReport.get("run7-1")?.status).toBe("canceled");
    expect(byReport.openEntryCost(null)).toBe(0);
    byReport.onOrderUpdate(update({ clientOrderId: "run7-1", status: "resting" }));
    expect(byReport.get("run7-1")?.status).toBe("resting");
    expect(byReport.open().map((o) => o.clientOrderId)).toEqual(["run7-1"]);
    expect(byReport.openEntryCost(null)).toBeGreaterThan(0);
    // Once the venue itself says canceled, a stale resting report does not reopen it.
    byReport.onOrderUpdate(update({ clientOrderId: "run7-1", status: "canceled", remaining: 0, reason: "venue: canceled" }));
    byReport.onOrderUpdate(update({ clientOrderId: "run7-1", status: "resting" }));
    expect(byReport.get("run7-1")?.status).toBe("canceled");

    const byReconcile = new OrderManager(CFG, T);
    byReconcile.onSubmit(place({ clientOrderId: "run7-1" }));
    byReconcile.reconcile(T + 10_000_000, []); // absent from REST: canceled, by absence
    expect(byReconcile.get("run7-1")?.status).toBe("canceled");
    const listed: RestingOrderEntry[] = [{ orderId: "oid-1", clientOrderId: "run7-1", market: M, remaining: 1000 }];
    expect(byReconcile.reconcile(T + 20_000_000, listed).map((r) => r.status)).toEqual(["resting"]);
    expect(byReconcile.open().length).toBe(1);

    const byFill = new OrderManager(CFG, T);
    byFill.onSubmit(place({ clientOrderId: "run7-1" }));
    byFill.onOrderUpdate(update({ clientOrderId: "run7-1", orderId: "", status: "canceled", remaining: 0, reason: `cancel: ${NOT_AT_VENUE}` }));
    byFill.onFill(ownFill({ tradeId: "t1", count: 400 }));
    expect(byFill.get("run7-1")).toMatchObject({ status: "resting", filled: 400 });
  });

  it("takes size and price from a resting update (amend)", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1", outcome: "no", price: 4000 })); // ask @ 0.60
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "resting", bookSide: "ask", yesPrice: 5800, filled: 200, remaining: 1500, reason: "Amend" }));
    expect(om.get("run7-1")).toMatchObject({ count: 1700, filled: 200, yesPrice: 5800, price: 4200 });
  });
});

describe("OrderManager — fills", () => {
  it("flags a fill for an order we do not know", () => {
    const om = new OrderManager(CFG, T);
    expect(om.onFill(ownFill({ tradeId: "t1", clientOrderId: "ghost", orderId: "o-ghost" }))).toEqual({
      order: null,
      unknownOrder: true,
      duplicate: false,
      inconsistent: null,
    });
  });

  it("a fill resolves an unknown order; filled never double-counts fills and updates", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    om.onUnknownOutcome(T + 1, "run7-1", "timeout");
    const a = om.onFill(ownFill({ tradeId: "t1", count: 400 }));
    expect(a.order).toMatchObject({ status: "resting", filled: 400, orderId: "oid-1" });
    expect(om.inFlight(M)).toBe(false);
    // the same trade again (REST + WS) is a duplicate
    expect(om.onFill(ownFill({ tradeId: "t1", count: 400 })).duplicate).toBe(true);
    expect(om.get("run7-1")?.filled).toBe(400);
    // the update that reflects that fill does not add to it
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "resting", filled: 400, remaining: 600 }));
    expect(om.get("run7-1")?.filled).toBe(400);
    // update first, then its fill: still counted once
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "resting", filled: 700, remaining: 300 }));
    om.onFill(ownFill({ tradeId: "t2", count: 300 }));
    expect(om.get("run7-1")).toMatchObject({ filled: 700, status: "resting" });
    const last = om.onFill(ownFill({ tradeId: "t3", count: 300 }));
    expect(last.order).toMatchObject({ filled: 1000, status: "executed" });
    expect(last.inconsistent).toBeNull();
  });

  it("a fill for an order with no client id matches by order id (REST fills)", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "resting", orderId: "o9" }));
    expect(om.onFill(ownFill({ tradeId: "t1", clientOrderId: null, orderId: "o9" })).order?.clientOrderId).toBe("run7-1");
  });

  it("flags overfills and fills of rejected orders", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1", count: 100 }));
    expect(om.onFill(ownFill({ tradeId: "t1", count: 200 })).inconsistent).toMatch(/filled 200 > count 100/);
    om.onSubmit(place({ clientOrderId: "run7-2" }));
    om.onRejected(T, "run7-2", "bad");
    expect(om.onFill(ownFill({ tradeId: "t2", clientOrderId: "run7-2", orderId: "o2", count: 100 })).inconsistent).toMatch(/rejected/);
  });

  it("ownFillToFillInput uses the order's vocabulary, and nets the same without it", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1", outcome: "no", action: "sell", price: 4000 })); // bid @ 0.60
    const f = ownFill({ tradeId: "t1", bookSide: "bid", yesPrice: 6000, count: 500, fee: 1200 });
    const withOrder = ownFillToFillInput(f, om.get("run7-1"));
    expect(withOrder).toEqual({ ts: T + 2000, market: M, outcome: "no", action: "sell", price: 4000, count: 500, fee: 1200 });
    const without = ownFillToFillInput(f);
    expect(without).toEqual({ ts: T + 2000, market: M, outcome: "yes", action: "buy", price: 6000, count: 500, fee: 1200 });
    // both vocabularies land on the same position and cash
    const a = new Portfolio(0);
    const b = new Portfolio(0);
    a.applyFill(withOrder);
    b.applyFill(without);
    expect(a.position(M)).toEqual(b.position(M));
    expect(a.cash()).toBe(b.cash());
  });
});

describe("OrderManager — reconcile", () => {
  const rest = (clientOrderId: string, orderId: string, remaining: number): RestingOrderEntry => ({ clientOrderId, orderId, market: M, remaining });

  it("resolves pending/unknown/resting orders against the venue's resting list", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "p-present" }));
    om.onSubmit(place({ clientOrderId: "u-present" }));
    om.onSubmit(place({ clientOrderId: "u-absent" }));
    om.onSubmit(place({ clientOrderId: "r-partial" }));
    om.onSubmit(place({ clientOrderId: "r-full", count: 300 }));
    om.onSubmit(place({ clientOrderId: "done" }));
    om.onUnknownOutcome(T, "u-present", "timeout");
    om.onUnknownOutcome(T, "u-absent", "timeout");
    om.onOrderUpdate(update({ clientOrderId: "r-partial", orderId: "o-rp", status: "resting" }));
    om.onFill(ownFill({ tradeId: "f1", clientOrderId: "r-partial", orderId: "o-rp", count: 250 }));
    om.onOrderUpdate(update({ clientOrderId: "r-full", orderId: "o-rf", status: "resting", remaining: 300 }));
    om.onOrderUpdate(update({ clientOrderId: "done", orderId: "o-d", status: "canceled", remaining: 0 }));
    // r-full is fully filled by a REST fill (no client id): executed before the reconcile
    om.onFill(ownFill({ tradeId: "f2", clientOrderId: null, orderId: "o-rf", count: 300 }));
    expect(om.get("r-full")?.status).toBe("executed");

    const recs = om.reconcile(T + 5_000_000, [rest("p-present", "o-pp", 1000), rest("u-present", "o-up", 600)]);
    const by = Object.fromEntries(recs.map((r) => [r.clientOrderId, r]));
    expect(by["p-present"]).toMatchObject({ status: "resting", orderId: "o-pp", count: 1000 });
    // venue size wins: 600 remaining and nothing filled → count 6
    expect(by["u-present"]).toMatchObject({ status: "resting", orderId: "o-up", count: 600 });
    expect(by["u-absent"]).toMatchObject({ status: "canceled", filled: 0, reason: "reconcile: absent from venue" });
    expect(by["r-partial"]).toMatchObject({ status: "canceled", filled: 250, reason: "reconcile: absent from venue, partially filled" });
    expect(by["r-full"]).toBeUndefined(); // already executed
    expect(by["done"]).toBeUndefined(); // already final
    expect(recs).toHaveLength(4);
    expect(om.inFlight(M)).toBe(false);
    // reconciling again with the same view changes nothing
    expect(om.reconcile(T + 6_000_000, [rest("p-present", "o-pp", 1000), rest("u-present", "o-up", 600)])).toEqual([]);
  });

  it("leaves orders younger than the grace period alone", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "young", ts: T + 4_000_000 }));
    om.onSubmit(place({ clientOrderId: "old", ts: T }));
    const recs = om.reconcile(T + 5_000_000, [], 2_000_000);
    expect(recs.map((r) => r.clientOrderId)).toEqual(["old"]);
    expect(om.get("young")?.status).toBe("pending");
    // an order created after the snapshot instant is never judged by it
    expect(om.reconcile(T + 3_000_000, [])).toEqual([]);
  });

  it("a late fill after a reconcile-cancel still counts", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    om.reconcile(T + 1, []);
    expect(om.get("run7-1")?.status).toBe("canceled");
    const r = om.onFill(ownFill({ tradeId: "late", count: 1000 }));
    expect(r.unknownOrder).toBe(false);
    expect(r.order).toMatchObject({ status: "executed", filled: 1000 });
  });

  it("lists venue orders we do not track", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    const venue = [rest("run7-1", "o1", 1000), rest("other-9", "o9", 100)];
    expect(om.untracked(venue)).toEqual([venue[1]]);
  });
});

describe("what open entry orders would still add (the risk caps' input)", () => {
  it("remaining size at the order's price; a buy of NO and a sell cost their own leg; reduce-only orders none", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" })); // 10 YES @ 0.45 → $4.50
    om.onSubmit(place({ clientOrderId: "run7-2", market: "B", outcome: "no", price: 3000 })); // 10 NO @ 0.30 → $3.00
    om.onSubmit(place({ clientOrderId: "run7-3", action: "sell", price: 4500, reduceOnly: true }));
    expect(om.openEntryCost(M)).toBe(4_500_000);
    expect(om.openEntryCost(null)).toBe(7_500_000);
    expect([...om.openEntryMarkets()].sort()).toEqual(["B", M].sort());
    // 4 of the 10 fill: 6 × $0.45 left.
    om.onFill(ownFill({ tradeId: "t1", clientOrderId: "run7-1", count: 400 }));
    expect(om.openEntryCost(M)).toBe(2_700_000);
  });

  it("an order the venue reports executed before its fills arrive still counts until the fills are applied", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    // Live: the order update (executed, 10 filled) overtakes the fill messages.
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "executed", filled: 1000, remaining: 0 }));
    expect(om.openEntryCost(M)).toBe(4_500_000); // before the fix: 0 — neither a position nor an open order
    expect(om.openEntryMarkets().has(M)).toBe(true);
    om.onFill(ownFill({ tradeId: "t1", clientOrderId: "run7-1", count: 600 }));
    expect(om.openEntryCost(M)).toBe(1_800_000); // 4 still to come
    om.onFill(ownFill({ tradeId: "t2", clientOrderId: "run7-1", count: 400 }));
    expect(om.openEntryCost(M)).toBe(0);
    expect(om.openEntryMarkets().size).toBe(0);
  });

  it("a rejected order that a fill proves alive counts again", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    om.onRejected(T + 10, "run7-1", "invalid_price");
    expect(om.openEntryCost(null)).toBe(0);
    om.noneOpen(); // lets the manager drop final orders from its live set
    om.onFill(ownFill({ tradeId: "t1", clientOrderId: "run7-1", count: 400 }));
    expect(om.openEntryCost(M)).toBe(2_700_000);
    expect(om.open().map((o) => o.clientOrderId)).toEqual(["run7-1"]);
  });
});

describe("reconcile with the venue's filled count", () => {
  it("a fill still in flight when the snapshot was taken is neither lost from the order's size nor counted twice", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" })); // 10 YES @ 0.45
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "resting", filled: 0, remaining: 1000 }));
    // The venue has filled 4 (the fill is on its way); REST shows 6 resting, 4 filled.
    om.reconcile(T + 5_000_000, [{ clientOrderId: "run7-1", orderId: "oid-1", market: M, remaining: 600, filled: 400 }]);
    // Size stays 10 (before the fix: our filled 0 + 6 = 6); all 10 may still become position.
    expect(om.get("run7-1")).toMatchObject({ count: 1000, status: "resting" });
    expect(om.openEntryCost(M)).toBe(4_500_000); // before the fix: 6 × $0.45
    om.onFill(ownFill({ tradeId: "t1", clientOrderId: "run7-1", count: 400 }));
    expect(om.get("run7-1")).toMatchObject({ count: 1000, filled: 400 });
    expect(om.openEntryCost(M)).toBe(2_700_000); // 6 left (before the fix: 2)
  });
});

describe("reconcile never grows an order from a snapshot older than our fills", () => {
  // A 10-lot; 6 have filled and reached us; the REST snapshot was taken when only 4 had: filled 4, remaining 6.
  const setup = () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "resting", filled: 0, remaining: 1000 }));
    om.onFill(ownFill({ tradeId: "t1", clientOrderId: "run7-1", count: 600 }));
    return om;
  };
  it("with the venue's filled count: its total (4 + 6 = 10) stands", () => {
    const om = setup();
    om.reconcile(T + 5_000_000, [{ clientOrderId: "run7-1", orderId: "oid-1", market: M, remaining: 600, filled: 400 }]);
    expect(om.get("run7-1")).toMatchObject({ count: 1000, filled: 600 }); // before the fix: count 1200
    expect(om.openEntryCost(M)).toBe(1_800_000); // 4 left × $0.45
  });
  it("without it: our filled + its stale remaining (12) is not believed over the size we know (10)", () => {
    const om = setup();
    om.reconcile(T + 5_000_000, [{ clientOrderId: "run7-1", orderId: "oid-1", market: M, remaining: 600 }]);
    expect(om.get("run7-1")).toMatchObject({ count: 1000, filled: 600 }); // before the fix: count 1200
  });
});

describe("reconcile while an amend of ours is unanswered", () => {
  it("without the venue's filled count, a bigger size at the venue is taken (the amend may have grown it)", () => {
    const om = new OrderManager(CFG, T);
    om.onSubmit(place({ clientOrderId: "run7-1" }));
    om.onOrderUpdate(update({ clientOrderId: "run7-1", status: "resting", filled: 0, remaining: 1000 }));
    om.onAmendSubmit(T + 2_000_000, "run7-1", 4600, 1500); // to 15, no answer yet
    om.reconcile(T + 5_000_000, [{ clientOrderId: "run7-1", orderId: "oid-1", market: M, remaining: 1500 }]);
    expect(om.get("run7-1")).toMatchObject({ count: 1500 });
  });
});
