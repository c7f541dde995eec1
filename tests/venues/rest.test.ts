/**
 * REST client against the fake venue: discovery with pagination, fixed-point conversion, read
 * backoff on 429, and the write rule — never retry; an unknown outcome surfaces as
 * UnknownOutcomeError while the venue may well hold the order (reconcile by client_order_id).
 */
import { afterEach, describe, expect, it } from "vitest";
import type { PlaceOrder } from "../../lib/core/records.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiHttpError, KalshiRestClient, RestTokenBucket, UnknownOutcomeError, type KalshiRestOptions } from "../../lib/venues/kalshi/rest.ts";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";

let fake: FakeKalshi | null = null;
let rest: KalshiRestClient | null = null;

afterEach(async () => {
  rest?.close();
  await fake?.close();
  rest = null;
  fake = null;
});

async function setup(opts: Partial<KalshiRestOptions> = {}, extraMarkets = 0) {
  fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, extraMarkets, seed: 3 });
  rest = new KalshiRestClient({ restUrl: fake.restUrl, signer: KalshiSigner.fromFile(fake.keyId, fake.privateKeyPath), backoffBaseMs: 5, backoffMaxMs: 20, ...opts });
  return { fake, rest };
}

/** Replace a market's book with exactly the given own-leg levels (prices E4, sizes E2). */
function setBook(f: FakeKalshi, t: string, yes: [number, number][], no: [number, number][]): void {
  const cur = f.state.book(t);
  for (const [p, s] of cur.yes) f.state.changeLevel(t, "yes", p, -s);
  for (const [p, s] of cur.no) f.state.changeLevel(t, "no", p, -s);
  for (const [p, s] of yes) f.state.changeLevel(t, "yes", p, s);
  for (const [p, s] of no) f.state.changeLevel(t, "no", p, s);
}

function intent(p: Partial<PlaceOrder> & Pick<PlaceOrder, "market" | "clientOrderId">): PlaceOrder {
  return { kind: "place_order", ts: 0, outcome: "yes", action: "buy", price: 5000, count: 100, tif: "good_till_canceled", postOnly: false, reduceOnly: false, evalId: "e", ...p };
}

describe("market discovery", () => {
  it("pages with limit × maxPages and stops there even when more markets exist", async () => {
    const { fake, rest } = await setup({}, 25);
    const kxbtcd = fake.state.tickers().filter((t) => t.startsWith("KXBTCD-"));
    expect(kxbtcd.length).toBe(30); // 5 base strikes + 25 extra
    const three = await rest.discoverMarkets({ seriesTickers: ["KXBTCD"], limit: 4, maxPages: 3 });
    expect(three.map((m) => m.market)).toEqual(kxbtcd.slice(0, 12));
    expect(fake.requests.filter((r) => r === "GET /markets").length).toBe(3);
    const all = await rest.discoverMarkets({ seriesTickers: ["KXBTCD"], limit: 7, maxPages: 100 });
    expect(all.map((m) => m.market).sort()).toEqual(kxbtcd);
    // 30 markets at 7 per page: 5 pages, the last one returns an empty cursor.
    expect(fake.requests.filter((r) => r === "GET /markets").length).toBe(3 + 5);
  });

  it("defaults to the three BTC series; explicit tickers are fetched as given; series fees are applied", async () => {
    const { fake, rest } = await setup();
    fake.state.feeMultiplier = 0.5;
    const all = await rest.discoverMarkets();
    expect(all.map((m) => m.market).sort()).toEqual(fake.state.tickers());
    expect(new Set(all.map((m) => m.seriesTicker))).toEqual(new Set(["KXBTCD", "KXBTC", "KXBTC15M"]));
    expect(all.every((m) => m.feeMultiplier === 0.5 && m.feeType === "quadratic")).toBe(true);
    const pick = fake.state.tickers().slice(2, 4);
    const some = await rest.discoverMarkets({ tickers: pick });
    expect(some.map((m) => m.market)).toEqual(pick);
    const between = all.find((m) => m.strikeType === "between")!;
    const fm = fake.state.markets.get(between.market)!;
    expect(between.floorStrike).toBe(fm.floorStrike);
    expect(between.capStrike).toBe(fm.capStrike);
    expect(between.closeTime).toBe(fm.closeMs * 1000);
    expect(between.priceRanges).toEqual([{ start: 0, end: 10_000, step: 100 }]);
  });
});

describe("reads", () => {
  it("orderbook_fp → own-leg PriceE4/CountE2 levels, ascending", async () => {
    const { fake, rest } = await setup();
    const t = fake.state.tickers()[0]!;
    // 0.4100 × 120.00, 0.4200 × 35.50 YES; 0.5500 × 80.00 NO (reference §3.5 example values).
    setBook(fake, t, [[4200, 3550], [4100, 12000]], [[5500, 8000]]);
    const ob = await rest.getOrderbook(t);
    expect(ob.yesBids).toEqual([[4100, 12000], [4200, 3550]]);
    expect(ob.noBids).toEqual([[5500, 8000]]);
  });

  it("429 on reads → backoff and retry until success", async () => {
    const { fake, rest } = await setup();
    const t = fake.state.tickers()[1]!;
    fake.faults.rest("GET /markets/{ticker}/orderbook", { kind: 429, count: 3 });
    const ob = await rest.getOrderbook(t);
    expect(ob.yesBids).toEqual(fake.state.book(t).yes);
    expect(rest.counters.http429).toBe(3);
    expect(rest.counters.retries).toBe(3);
    expect(fake.requests.filter((r) => r === "GET /markets/{ticker}/orderbook").length).toBe(4);
  });

  it("a read that keeps failing gives up after maxReadRetries with the last status", async () => {
    const { fake, rest } = await setup({ maxReadRetries: 2 });
    fake.faults.rest("GET /portfolio/balance", { kind: 503, count: 10 });
    await expect(rest.getBalance()).rejects.toMatchObject({ name: "KalshiHttpError", status: 503 });
    expect(fake.requests.filter((r) => r === "GET /portfolio/balance").length).toBe(3);
  });

  it("account limits and series parse", async () => {
    const { rest } = await setup();
    expect(await rest.getAccountLimits()).toEqual({ tier: "basic", read: { refillRate: 200, bucketCapacity: 400 }, write: { refillRate: 100, bucketCapacity: 100 } });
    expect((await rest.getSeries("KXBTC15M")).feeType).toBe("quadratic");
  });
});

describe("V2 writes", () => {
  it("taker buy YES fills at the maker's price with the quadratic fee; balance, position and fills agree", async () => {
    const { fake, rest } = await setup();
    const t = fake.state.tickers()[0]!;
    setBook(fake, t, [[4000, 1000]], [[5500, 1000]]); // best YES ask = 1 − 0.55 = 0.45
    const cash0 = await rest.getBalance();
    const r = await rest.placeOrder(intent({ market: t, clientOrderId: "c-taker", price: 5000, count: 400, tif: "immediate_or_cancel" }));
    // 4 contracts at 0.45: fee = ceil_cent(0.07 × 4 × 0.45 × 0.55 = 0.0693) = $0.07.
    expect(r.filled).toBe(400);
    expect(r.remaining).toBe(0);
    expect(r.averageFillPriceMicros).toBe(450_000);
    const fills = await rest.getFills({ ticker: t });
    expect(fills).toHaveLength(1);
    expect(fills[0]).toMatchObject({ orderId: r.orderId, market: t, bookSide: "bid", yesPrice: 4500, count: 400, fee: 70_000, isTaker: true });
    // Cash: −(0.45 × 4 + 0.07) = −1.87 $.
    expect(cash0 - (await rest.getBalance())).toBe(1_870_000);
    expect(await rest.getPositions()).toEqual([{ market: t, position: 400, exposure: 0, realizedPnl: 0, feesPaid: 70_000 }]);
    expect(fake.state.book(t).no).toEqual([[5500, 600]]);
  });

  it("buy NO rests as an ask at 1 − q; resting list, decrease, amend and cancel follow the venue", async () => {
    const { fake, rest } = await setup();
    const t = fake.state.tickers()[0]!;
    setBook(fake, t, [[4000, 1000]], [[2000, 500]]);
    // Buy NO at 0.30 = V2 ask at YES 0.70; best YES bid 0.40 < 0.70 so nothing crosses; it rests on the NO side at 0.30.
    const r = await rest.placeOrder(intent({ market: t, clientOrderId: "c-no", outcome: "no", action: "buy", price: 3000, count: 250 }));
    expect(r.filled).toBe(0);
    expect(fake.state.book(t).no).toEqual([[2000, 500], [3000, 250]]);
    const resting = await rest.getRestingOrders();
    expect(resting).toHaveLength(1);
    expect(resting[0]).toMatchObject({ orderId: r.orderId, clientOrderId: "c-no", bookSide: "ask", yesPrice: 7000, remaining: 250, status: "resting" });
    expect((await rest.findOrderByClientId("c-no"))?.orderId).toBe(r.orderId);
    const d = await rest.decreaseOrderV2(r.orderId, { reduceBy: 50 });
    expect(d.remaining).toBe(200);
    expect(fake.state.book(t).no).toEqual([[2000, 500], [3000, 200]]);
    // Amend to YES 0.72 (NO 0.28), total count 3 contracts (nothing filled yet → remaining 3).
    const a = await rest.amendOrderV2(r.orderId, { market: t, bookSide: "ask", yesPrice: 7200, totalCount: 300 });
    expect(a.remaining).toBe(300);
    expect(fake.state.book(t).no).toEqual([[2000, 500], [2800, 300]]);
    const c = await rest.cancelOrderV2(r.orderId, { market: t });
    expect(c.reducedBy).toBe(300);
    expect(fake.state.book(t).no).toEqual([[2000, 500]]);
    expect(await rest.getRestingOrders()).toEqual([]);
  });

  it("batch create and batch cancel report per-order results", async () => {
    const { fake, rest } = await setup();
    const t = fake.state.tickers()[0]!;
    setBook(fake, t, [[4000, 1000]], [[5000, 1000]]);
    const res = await rest.batchCreateOrdersV2([
      { ticker: t, client_order_id: "b1", side: "bid", count: "1.00", price: "0.3000", time_in_force: "good_till_canceled", self_trade_prevention_type: "taker_at_cross" },
      { ticker: t, client_order_id: "b2", side: "bid", count: "1.00", price: "0.3050", time_in_force: "good_till_canceled", self_trade_prevention_type: "taker_at_cross" },
    ]);
    expect(res[0]!.ok).toBe(true);
    expect(res[1]).toMatchObject({ ok: false, code: "invalid_price", clientOrderId: "b2" }); // off the 1-cent grid
    const id = res[0]!.ok ? res[0]!.value.orderId : "";
    const cancels = await rest.batchCancelOrdersV2([{ orderId: id }, { orderId: "nope" }]);
    expect(cancels[0]).toMatchObject({ ok: true, value: { orderId: id, reducedBy: 100 } });
    expect(cancels[1]!.ok).toBe(false);
  });

  it("5xx AFTER the venue created the order → UnknownOutcomeError, not retried; the order is found by client_order_id", async () => {
    const { fake, rest } = await setup();
    const t = fake.state.tickers()[0]!;
    fake.faults.rest("POST /portfolio/events/orders", { kind: 500, apply: true });
    const err = await rest.placeOrder(intent({ market: t, clientOrderId: "c-unknown", price: 1000 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownOutcomeError);
    expect(err).toMatchObject({ reason: "server_error", status: 500, clientOrderId: "c-unknown" });
    expect(fake.requests.filter((r) => r === "POST /portfolio/events/orders").length).toBe(1);
    expect(fake.state.orderByClientId("c-unknown")?.status).toBe("resting");
    const found = await rest.findOrderByClientId("c-unknown");
    expect(found).toMatchObject({ clientOrderId: "c-unknown", market: t, yesPrice: 1000, remaining: 100 });
  });

  it("timeout, 429 and a garbage 200 body are unknown outcomes too; a 400 is a definite rejection", async () => {
    const { fake, rest } = await setup({ timeoutMs: 300 });
    const t = fake.state.tickers()[0]!;
    fake.faults.rest("POST /portfolio/events/orders", { kind: "timeout", apply: true });
    await expect(rest.placeOrder(intent({ market: t, clientOrderId: "c-timeout", price: 1000 }))).rejects.toMatchObject({ name: "UnknownOutcomeError", reason: "timeout" });
    expect(fake.state.orderByClientId("c-timeout")).toBeDefined();
    fake.faults.rest("POST /portfolio/events/orders", { kind: 429 });
    await expect(rest.placeOrder(intent({ market: t, clientOrderId: "c-429", price: 1000 }))).rejects.toMatchObject({ name: "UnknownOutcomeError", reason: "rate_limited" });
    expect(fake.state.orderByClientId("c-429")).toBeUndefined();
    fake.faults.rest("DELETE /portfolio/events/orders/{id}", { kind: "garbage", apply: true });
    const oid = fake.state.orderByClientId("c-timeout")!.orderId;
    await expect(rest.cancelOrderV2(oid)).rejects.toMatchObject({ name: "UnknownOutcomeError", reason: "unparseable" });
    expect(fake.state.order(oid)!.status).toBe("canceled");
    const rej = await rest.placeOrder(intent({ market: t, clientOrderId: "c-dup", price: 1000 })).then(() => rest!.placeOrder(intent({ market: t, clientOrderId: "c-bad", price: 1050 }))).catch((e: unknown) => e);
    expect(rej).toBeInstanceOf(KalshiHttpError);
    expect(rej).toMatchObject({ status: 400, code: "invalid_price" });
    // A duplicate client_order_id (409) does not prove non-execution: unknown outcome.
    await expect(rest.placeOrder(intent({ market: t, clientOrderId: "c-dup", price: 1000 }))).rejects.toMatchObject({ name: "UnknownOutcomeError", reason: "conflict" });
    expect(rest.counters.unknownOutcomes).toBe(4);
  });
});

describe("RestTokenBucket", () => {
  it("serves waiters in order and never lets the balance go negative", async () => {
    const b = new RestTokenBucket({ refillPerSecond: 1000, capacity: 10 });
    const order: number[] = [];
    await Promise.all([1, 2, 3, 4].map((i) => b.take(10).then(() => order.push(i))));
    expect(order).toEqual([1, 2, 3, 4]);
    expect(b.available()).toBeGreaterThanOrEqual(0);
    expect(b.available()).toBeLessThanOrEqual(10);
    b.dispose();
  });
});
