/**
 * A create that timed out and reached the book only after absentGraceMs. The transport calls it
 * "canceled: not at venue"; the venue then reports it resting (REST read-back / reconciliation). The
 * order manager must end up with the venue's view (open), not a final "canceled" it invented.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { DEFAULT_ENGINE_CONFIG } from "../../lib/core/config.ts";
import type { OrderUpdate, OwnFill } from "../../lib/core/events.ts";
import { OrderManager } from "../../lib/core/orders.ts";
import type { PlaceOrder } from "../../lib/core/records.ts";
import { KalshiTransport } from "../../lib/exec/kalshi-transport.ts";
import { sleep } from "../../lib/live/clock.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiRestClient } from "../../lib/venues/kalshi/rest.ts";
import { toPositionSnapshot } from "../../lib/venues/kalshi/rest-parse.ts";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";

let fake: FakeKalshi;
let rest: KalshiRestClient;
beforeAll(async () => {
  fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0 });
  rest = new KalshiRestClient({ restUrl: fake.restUrl, signer: KalshiSigner.fromFile(fake.keyId, fake.privateKeyPath), timeoutMs: 300 });
});
afterAll(async () => {
  rest.close();
  await fake.close();
});

it("a late-landing create is not left 'canceled' while it rests at the venue", async () => {
  const om = new OrderManager(DEFAULT_ENGINE_CONFIG.orders, 0);
  const feed = (e: OrderUpdate | OwnFill) => {
    if (e.kind === "order_update") {
      if (e.status === "unknown") om.onUnknownOutcome(e.tsRecv, e.clientOrderId, e.reason);
      else om.onOrderUpdate(e);
    } else om.onFill(e);
  };
  const transport = new KalshiTransport({ rest, emit: feed, resolveDelayMs: 50, absentGraceMs: 300 });
  const market = fake.state.tickers()[2]!;
  const intent: PlaceOrder = { kind: "place_order", ts: 1, clientOrderId: "late-1", market, outcome: "yes", action: "buy", price: 500, count: 100, tif: "good_till_canceled", postOnly: false, reduceOnly: false, evalId: "e" };
  om.onSubmit(intent);
  // Held by the venue 1.5 s (the client gives up at 0.3 s), then applied.
  fake.faults.rest("POST /portfolio/events/orders", { kind: "delay", ms: 1500 });
  transport.place(intent);
  await transport.idle();
  await sleep(1600);
  expect(fake.state.orderByClientId("late-1")?.status).toBe("resting");
  // The venue's truth reaches the engine: a reconciliation snapshot listing the resting order
  const resting = await rest.getRestingOrders();
  const snap = toPositionSnapshot([], resting, 0, 10_000_000);
  om.reconcile(10_000_000, snap.restingOrders);
  // ...and a user_order 'resting' report for it
  const vo = fake.state.orderByClientId("late-1")!;
  om.onOrderUpdate({ kind: "order_update", tsRecv: 10_000_001, tsExchange: null, orderId: vo.orderId, clientOrderId: "late-1", market, status: "resting", bookSide: "bid", yesPrice: 500, filled: 0, remaining: 100, reason: "" });
  expect(om.get("late-1")?.status).toBe("resting");
  transport.close();
});
