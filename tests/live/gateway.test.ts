/**
 * Every gateway guard refuses a new order before it reaches the venue: the fake's request log and
 * order book are the oracle. A control case with all guards passing proves the same intent DOES
 * arrive, so these tests can fail. The last test drives the whole live runtime with TRADING_ENABLED
 * unset: the engine wants to trade, the gateway says why not, the fake sees no order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OrderUpdate } from "../../lib/core/events.ts";
import type { PlaceOrder, RiskState } from "../../lib/core/records.ts";
import { OrderGateway, type GatewayGuards } from "../../lib/exec/gateway.ts";
import { KalshiTransport } from "../../lib/exec/kalshi-transport.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiRestClient } from "../../lib/venues/kalshi/rest.ts";
import { startFakes, startRuntime, tradingEnv, waitFor, type Fakes } from "./harness.ts";

let fakes: Fakes;
let rest: KalshiRestClient;
let transport: KalshiTransport;

beforeAll(async () => {
  fakes = await startFakes();
  rest = new KalshiRestClient({ restUrl: fakes.kalshi.restUrl, signer: KalshiSigner.fromFile(fakes.kalshi.keyId, fakes.kalshi.privateKeyPath), timeoutMs: 2000 });
  transport = new KalshiTransport({ rest, emit: () => {} });
});
afterAll(async () => {
  transport.close();
  rest.close();
  await fakes.close();
});

const COSTS = { writeTokensPerSecond: 100, writeBucketCapacity: 100, createCost: 10, cancelCost: 2 };
let n = 0;

function intent(market: string): PlaceOrder {
  n++;
  return { kind: "place_order", ts: 1_000_000 * n, clientOrderId: `g-${n}`, market, outcome: "yes", action: "buy", price: 500, count: 100, tif: "good_till_canceled", postOnly: true, reduceOnly: false, evalId: `e${n}` };
}

function guards(over: Partial<{ trading: boolean; kill: boolean; state: RiskState; reducing: boolean; data: string | null; rec: string | null }> = {}): GatewayGuards {
  return {
    tradingEnabled: over.trading ?? true,
    killSwitchEngaged: () => over.kill ?? false,
    riskState: () => over.state ?? "ACTIVE",
    isReducing: () => over.reducing ?? false,
    dataProblem: () => over.data ?? null,
    reconciliationProblem: () => over.rec ?? null,
  };
}

async function submitThrough(g: GatewayGuards, costs = COSTS, count = 1): Promise<{ results: ReturnType<OrderGateway["submit"]>[]; refused: OrderUpdate[]; cids: string[] }> {
  const refused: OrderUpdate[] = [];
  const gw = new OrderGateway(transport, g, costs, (u) => refused.push(u), 0);
  const market = fakes.kalshi.state.tickers()[0]!;
  const results: ReturnType<OrderGateway["submit"]>[] = [];
  const cids: string[] = [];
  for (let i = 0; i < count; i++) {
    const it = { ...intent(market), ts: 5_000_000 };
    cids.push(it.clientOrderId);
    results.push(gw.submit(it));
  }
  await transport.idle();
  return { results, refused, cids };
}

function creates(): number {
  return fakes.kalshi.requests.filter((r) => r === "POST /portfolio/events/orders").length;
}

describe("gateway guards against the fake venue", () => {
  const cases: [string, Parameters<typeof guards>[0], RegExp][] = [
    ["TRADING_ENABLED off", { trading: false }, /TRADING_ENABLED is not 1/],
    ["kill switch engaged", { kill: true }, /kill switch/],
    ["risk state HALTED", { state: "HALTED" }, /HALTED/],
    ["REDUCING and the order does not reduce", { state: "REDUCING", reducing: false }, /REDUCING/],
    ["stale data", { data: "spot: spot stale" }, /stale or inconsistent data: spot/],
    ["stale reconciliation", { rec: "last reconciliation 120.0 s ago > 90 s" }, /reconciliation/],
  ];
  for (const [name, g, why] of cases) {
    it(`refuses: ${name}; the venue receives nothing`, async () => {
      const before = creates();
      const r = await submitThrough(guards(g));
      expect(r.results[0]!.sent).toBe(false);
      expect(r.results[0]!.sent === false && r.results[0]!.reason).toMatch(why);
      expect(r.refused).toHaveLength(1);
      expect(r.refused[0]!.status).toBe("rejected");
      expect(creates()).toBe(before);
      expect(fakes.kalshi.state.orderByClientId(r.cids[0]!)).toBeUndefined();
    });
  }

  it("refuses: write rate limit (bucket of one create); only the first order reaches the venue", async () => {
    const before = creates();
    const r = await submitThrough(guards(), { ...COSTS, writeBucketCapacity: 10, writeTokensPerSecond: 1 }, 2);
    expect(r.results[0]!.sent).toBe(true);
    expect(r.results[1]!.sent === false && r.results[1]!.reason).toBe("write rate limit");
    expect(creates()).toBe(before + 1);
    expect(fakes.kalshi.state.orderByClientId(r.cids[0]!)).toBeDefined();
    expect(fakes.kalshi.state.orderByClientId(r.cids[1]!)).toBeUndefined();
  });

  it("control: REDUCING with a reducing order, all else fine → the order reaches the venue", async () => {
    const before = creates();
    const r = await submitThrough(guards({ state: "REDUCING", reducing: true }));
    expect(r.results[0]!.sent).toBe(true);
    expect(creates()).toBe(before + 1);
    expect(fakes.kalshi.state.orderByClientId(r.cids[0]!)?.status).toBe("resting");
  });
});

describe("live runtime with TRADING_ENABLED unset", () => {
  it("places no order and says why", async () => {
    const before = creates();
    const h = await startRuntime("live", tradingEnv(fakes, { KALSHI_MARKET_TICKERS: fakes.kalshi.state.tickers().slice(0, 2).join(",") }));
    try {
      await waitFor("an intent", () => h.intents.some((i) => i.kind === "place_order"));
      await waitFor("the refusal line", () => h.lines.some((l) => /NOT placed: TRADING_ENABLED is not 1/.test(l)));
      expect(h.lines.some((l) => /TRADING_ENABLED is not 1: the order gateway will refuse every order/.test(l))).toBe(true);
      const res = await h.finish();
      expect(res.exitCode).toBe(0);
      expect(creates()).toBe(before);
      // Every engine order ended rejected by the gateway, with the reason.
      const orders = h.records.filter((r) => r.kind === "order" && r.status === "rejected");
      expect(orders.length).toBeGreaterThan(0);
      expect(orders.every((o) => o.kind === "order" && o.reason === "gateway: TRADING_ENABLED is not 1")).toBe(true);
      const a = await h.auditCounts();
      expect(a.stored).toEqual(a.expected);
    } finally {
      await h.close();
    }
  });
});
