/**
 * The four V2 mapping rows through the live transport, landing at the fake venue (its state is the
 * oracle), plus create/cancel round trips. Prices sit far from the fake's books so nothing trades.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EngineEvent } from "../../lib/core/events.ts";
import type { PlaceOrder } from "../../lib/core/records.ts";
import { KalshiTransport } from "../../lib/exec/kalshi-transport.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiRestClient } from "../../lib/venues/kalshi/rest.ts";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { sleep } from "../../lib/live/clock.ts";
import { waitFor } from "./harness.ts";

let fake: FakeKalshi;
let rest: KalshiRestClient;
let transport: KalshiTransport;
const emitted: EngineEvent[] = [];

beforeAll(async () => {
  fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0 });
  rest = new KalshiRestClient({ restUrl: fake.restUrl, signer: KalshiSigner.fromFile(fake.keyId, fake.privateKeyPath), timeoutMs: 2000 });
  transport = new KalshiTransport({ rest, emit: (e) => emitted.push(e), resolveDelayMs: 50, absentGraceMs: 500 });
});
afterAll(async () => {
  transport.close();
  rest.close();
  await fake.close();
});

function intent(n: number, market: string, outcome: "yes" | "no", action: "buy" | "sell", price: number): PlaceOrder {
  return { kind: "place_order", ts: 1, clientOrderId: `map-${n}`, market, outcome, action, price, count: 300, tif: "good_till_canceled", postOnly: false, reduceOnly: false, evalId: `e${n}` };
}

describe("V2 YES-book mapping at the venue", () => {
  // Hand-derived (reference §4.4): buy YES p → bid p; sell YES p → ask p; buy NO q → ask 1−q; sell NO q → bid 1−q.
  const rows = [
    { n: 1, outcome: "yes", action: "buy", price: 500, side: "bid", yes: 500, leg: "yes", legPrice: 500 },
    { n: 2, outcome: "yes", action: "sell", price: 9500, side: "ask", yes: 9500, leg: "no", legPrice: 500 },
    { n: 3, outcome: "no", action: "buy", price: 400, side: "ask", yes: 9600, leg: "no", legPrice: 400 },
    { n: 4, outcome: "no", action: "sell", price: 9700, side: "bid", yes: 300, leg: "yes", legPrice: 300 },
  ] as const;
  for (const r of rows) {
    it(`${r.action} ${r.outcome.toUpperCase()} at ${r.price / 10000} → ${r.side} at YES ${r.yes / 10000}`, async () => {
      const market = fake.state.tickers()[r.n]!;
      const before = fake.state.book(market)[r.leg].find(([p]) => p === r.legPrice)?.[1] ?? 0;
      transport.place(intent(r.n, market, r.outcome, r.action, r.price));
      await transport.idle();
      const o = fake.state.orderByClientId(`map-${r.n}`);
      expect(o).toBeDefined();
      expect(o!.bookSide).toBe(r.side);
      expect(o!.yesPrice).toBe(r.yes);
      expect(o!.remaining).toBe(300);
      expect(o!.status).toBe("resting");
      // It rests on its own leg at the own-leg price, adding exactly its size there.
      const after = fake.state.book(market)[r.leg].find(([p]) => p === r.legPrice)?.[1] ?? 0;
      expect(after - before).toBe(300);
      const u = emitted.find((e) => e.kind === "order_update" && e.clientOrderId === `map-${r.n}`);
      expect(u && u.kind === "order_update" && u.status).toBe("resting");
      expect(u && u.kind === "order_update" && u.orderId).toBe(o!.orderId);
    });
  }

  it("cancels by venue id and reports the venue's final state", async () => {
    const market = fake.state.tickers()[1]!;
    transport.cancel({ kind: "cancel_order", ts: 2, clientOrderId: "map-1", orderId: null, market, reason: "test" });
    await transport.idle();
    expect(fake.state.orderByClientId("map-1")!.status).toBe("canceled");
    const last = emitted.filter((e) => e.kind === "order_update" && e.clientOrderId === "map-1").at(-1);
    expect(last && last.kind === "order_update" && last.status).toBe("canceled");
  });

  it("amends in place when side and market are unchanged (one order id, new price)", async () => {
    const market = fake.state.tickers()[3]!;
    const oid = fake.state.orderByClientId("map-3")!.orderId;
    const how = transport.replace("map-3", intent(30, market, "no", "buy", 300));
    await transport.idle();
    expect(how).toBe("amend");
    const o = fake.state.order(oid)!;
    expect(o.status).toBe("resting");
    expect(o.yesPrice).toBe(9700); // buy NO at 0.03 → ask at YES 0.97
    expect(fake.state.orders().filter((x) => x.ticker === market)).toHaveLength(1);
  });

  it("an amend sends the intent's total count as is: a fill the transport has not heard of shrinks what rests", async () => {
    const market = fake.state.tickers()[6]!;
    // Empty the book so our bid is the only one: an outside seller then meets us.
    for (const leg of ["yes", "no"] as const) for (const [p, size] of fake.state.book(market)[leg]) fake.state.changeLevel(market, leg, p, -size);
    transport.place({ ...intent(60, market, "yes", "buy", 500), count: 500 });
    await transport.idle();
    expect(fake.state.takerTrade(market, "ask", 200)).toBe(200); // 2 of our 5 fill at the venue
    // The engine knew of the 2 fills and wants 2 more to rest: total max fillable 4 (ref §4.4).
    transport.amend({ kind: "amend_order", ts: 3, clientOrderId: "map-60", orderId: null, market, outcome: "yes", action: "buy", price: 600, count: 400, reason: "test" });
    await transport.idle();
    const o = fake.state.orderByClientId("map-60")!;
    expect(o).toMatchObject({ status: "resting", yesPrice: 600, filled: 200, remaining: 200 });
  });

  it("a definite 4xx is rejected; nothing rests", async () => {
    const market = fake.state.tickers()[5]!;
    fake.state.markets.get(market)!.status = "closed";
    transport.place(intent(9, market, "yes", "buy", 500));
    await transport.idle();
    await waitFor("reject", () => emitted.some((e) => e.kind === "order_update" && e.clientOrderId === "map-9"));
    const u = emitted.find((e) => e.kind === "order_update" && e.clientOrderId === "map-9");
    expect(u && u.kind === "order_update" && u.status).toBe("rejected");
    expect(fake.state.orderByClientId("map-9")).toBeUndefined();
  });
});

describe("cancel-all (kill switch) with a create in flight", () => {
  // Last in this file: the sweep cancels every resting order of the account.
  it("leaves nothing resting: the sweep waits for the create's answer and cancels what landed", async () => {
    const market = fake.state.tickers()[1]!;
    fake.faults.rest("POST /portfolio/events/orders", { kind: "delay", ms: 600 });
    transport.place({ kind: "place_order", ts: 1, clientOrderId: "kill-1", market, outcome: "yes", action: "buy", price: 500, count: 100, tif: "good_till_canceled", postOnly: false, reduceOnly: false, evalId: "e" });
    await sleep(50); // the create is now held by the venue
    transport.cancelAll(2, "kill switch");
    const report = await transport.pendingCancelAll()!;
    await transport.idle();
    expect(fake.state.orderByClientId("kill-1")?.status).toBe("canceled"); // before: resting after the sweep
    expect(report.confirmed).toBe(true);
    expect(fake.state.orders().filter((o) => o.status === "resting")).toEqual([]);
  });
});
