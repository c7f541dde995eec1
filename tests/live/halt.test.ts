/**
 * HALTED in live goes through the one gateway to the venue: a reconciliation mismatch halts the
 * engine, its cancel-all reaches the fake Kalshi, and the fake's own order book (the oracle) shows
 * the resting order cancelled. Nothing new is placed afterwards. The engine's reprice intent (V2
 * amend) goes through the same gateway and moves the order at the fake venue in place.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_ENGINE_CONFIG } from "../../lib/core/config.ts";
import type { AuditRecord, OrderIntent } from "../../lib/core/records.ts";
import { KalshiTransport } from "../../lib/exec/kalshi-transport.ts";
import { TradingSession } from "../../lib/run/session.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiRestClient } from "../../lib/venues/kalshi/rest.ts";
import type { EngineEvent } from "../../lib/core/events.ts";
import { startFakes, type Fakes } from "./harness.ts";

let fakes: Fakes;
let rest: KalshiRestClient;
beforeAll(async () => {
  fakes = await startFakes();
  rest = new KalshiRestClient({ restUrl: fakes.kalshi.restUrl, signer: KalshiSigner.fromFile(fakes.kalshi.keyId, fakes.kalshi.privateKeyPath), timeoutMs: 2000 });
});
afterAll(async () => {
  rest.close();
  await fakes.close();
});

describe("HALTED in live", () => {
  it("a reconciliation mismatch cancels every resting order at the venue", async () => {
    const events: EngineEvent[] = [];
    const transport = new KalshiTransport({ rest, emit: (e) => events.push(e) });
    const records: AuditRecord[] = [];
    const intents: OrderIntent[] = [];
    const session = new TradingSession({
      config: DEFAULT_ENGINE_CONFIG,
      executor: transport,
      tradingEnabled: true,
      onRecord: (r) => records.push(r),
      onIntent: (i) => intents.push(i),
    });
    const market = fakes.kalshi.state.tickers()[0]!;
    // A resting bid far from the market (YES 0.02), placed earlier by this account.
    transport.place({ kind: "place_order", ts: 1, clientOrderId: "halt-1", market, outcome: "yes", action: "buy", price: 200, count: 100, tif: "good_till_canceled", postOnly: true, reduceOnly: false, evalId: "e" });
    await transport.idle();
    expect(fakes.kalshi.state.orderByClientId("halt-1")?.status).toBe("resting");
    // The venue says we hold 5 YES where we think we hold none: HALTED.
    session.push({ kind: "position_snapshot", tsRecv: 2_000_000, tsExchange: null, positions: [{ market, position: 500 }], restingOrders: [], balance: -1 });
    expect(session.engine.risk.state()).toBe("HALTED");
    expect(intents.map((i) => i.kind)).toEqual(["cancel_all"]);
    await transport.idle();
    expect(fakes.kalshi.state.orderByClientId("halt-1")?.status).toBe("canceled");
    expect(records.some((r) => r.kind === "risk_state_changed" && r.to === "HALTED")).toBe(true);
    transport.close();
  });
});

describe("reprice in live", () => {
  it("an amend_order intent amends the resting order at the venue (same order id, new price and size)", async () => {
    const events: EngineEvent[] = [];
    const transport = new KalshiTransport({ rest, emit: (e) => events.push(e) });
    const market = fakes.kalshi.state.tickers()[0]!;
    transport.place({ kind: "place_order", ts: 1, clientOrderId: "amend-1", market, outcome: "yes", action: "buy", price: 200, count: 500, tif: "good_till_canceled", postOnly: true, reduceOnly: false, evalId: "e" });
    await transport.idle();
    const before = fakes.kalshi.state.orderByClientId("amend-1")!;
    expect(before).toMatchObject({ status: "resting", yesPrice: 200, remaining: 500 });
    transport.amend({ kind: "amend_order", ts: 2, clientOrderId: "amend-1", orderId: before.orderId, market, outcome: "yes", action: "buy", price: 300, count: 300, reason: "test" });
    await transport.idle();
    const after = fakes.kalshi.state.orderByClientId("amend-1")!;
    expect(after).toMatchObject({ orderId: before.orderId, status: "resting", yesPrice: 300, remaining: 300 });
    expect(fakes.kalshi.requests.filter((r) => r.endsWith("/amend")).length).toBeGreaterThan(0);
    // The engine hears the venue's view of the amended order.
    const last = events.filter((e) => e.kind === "order_update" && e.clientOrderId === "amend-1").at(-1);
    expect(last).toMatchObject({ status: "resting", yesPrice: 300 });
    transport.close();
  });
});

describe("the gateway guards an amend like a new order", () => {
  it("HALTED or the kill switch: the amend never reaches the venue; all guards passing: it does", async () => {
    const { OrderGateway } = await import("../../lib/exec/gateway.ts");
    const transport = new KalshiTransport({ rest, emit: () => {} });
    const market = fakes.kalshi.state.tickers()[0]!;
    transport.place({ kind: "place_order", ts: 1, clientOrderId: "guard-1", market, outcome: "yes", action: "buy", price: 200, count: 100, tif: "good_till_canceled", postOnly: true, reduceOnly: false, evalId: "e" });
    await transport.idle();
    const id = fakes.kalshi.state.orderByClientId("guard-1")!.orderId;
    const amendRequests = () => fakes.kalshi.requests.filter((r) => r.endsWith("/amend")).length;
    const costs = { writeTokensPerSecond: 100, writeBucketCapacity: 100, createCost: 10, cancelCost: 2, amendCost: 10 };
    const guards = (state: "ACTIVE" | "HALTED", kill = false) => ({
      tradingEnabled: true, killSwitchEngaged: () => kill, riskState: () => state, isReducing: () => false,
      dataProblem: () => null, reconciliationProblem: () => null,
    });
    const amend = { kind: "amend_order" as const, ts: 5_000_000, clientOrderId: "guard-1", orderId: id, market, outcome: "yes" as const, action: "buy" as const, price: 300, count: 100, reason: "t" };
    for (const g of [guards("HALTED"), guards("ACTIVE", true)]) {
      const before = amendRequests();
      const r = new OrderGateway(transport, g, costs, () => {}, 0).submit(amend);
      await transport.idle();
      expect(r.sent).toBe(false);
      expect(amendRequests()).toBe(before);
      expect(fakes.kalshi.state.orderByClientId("guard-1")!.yesPrice).toBe(200);
    }
    const ok = new OrderGateway(transport, guards("ACTIVE"), costs, () => {}, 0).submit(amend);
    await transport.idle();
    expect(ok.sent).toBe(true);
    expect(fakes.kalshi.state.orderByClientId("guard-1")!.yesPrice).toBe(300);
    transport.close();
  });
});
