/**
 * The fault matrix: one test per row, each against fresh fake venues and a paper or live runtime
 * speaking real HTTP/WS to them. Every row checks the expected behaviour (the fake's state is the
 * oracle for anything the venue holds) and that every audit record the session emitted is in the
 * store (rows per table == records emitted).
 */
import { afterEach, describe, expect, it } from "vitest";
import type { EngineEvent } from "../../lib/core/events.ts";
import type { AuditRecord, OrderRecord } from "../../lib/core/records.ts";
import { sleep } from "../../lib/live/clock.ts";
import { startFakes, startRuntime, tradingEnv, waitFor, type Fakes, type Harness } from "../live/harness.ts";

let fakes: Fakes | null = null;
let h: Harness | null = null;

afterEach(async () => {
  await h?.close();
  await fakes?.close();
  h = null;
  fakes = null;
});

async function expectAuditComplete(x: Harness): Promise<void> {
  const a = await x.auditCounts();
  expect(a.stored).toEqual(a.expected);
  expect(Object.keys(a.expected).length).toBeGreaterThan(0);
}

const ordersOf = (x: Harness, cid: string) => x.records.filter((r): r is OrderRecord => r.kind === "order" && r.clientOrderId === cid);
const placesOn = (x: Harness, market: string | null, from: number, to = Number.POSITIVE_INFINITY) =>
  x.intents.filter((i) => i.kind === "place_order" && (market === null || i.market === market) && i.ts >= from && i.ts <= to);
const firstEvent = (x: Harness, pred: (e: EngineEvent) => boolean, after = 0) => x.events.find(({ e }) => e.tsRecv > after && pred(e))?.e;
const records = <K extends AuditRecord["kind"]>(x: Harness, kind: K) => x.records.filter((r): r is Extract<AuditRecord, { kind: K }> => r.kind === kind);

function liveEnv(f: Fakes, markets: number, extra: Record<string, string> = {}): Record<string, string> {
  return tradingEnv(f, { TRADING_ENABLED: "1", KALSHI_MARKET_TICKERS: f.kalshi.state.tickers().slice(0, markets).join(","), ...extra });
}

describe("fault matrix", () => {
  it("WS drop: books reset, no orders until fresh snapshots, then trading resumes", async () => {
    fakes = await startFakes({ flowIntervalMs: 40 });
    h = await startRuntime("paper", tradingEnv(fakes, { EXECUTION: "taker" }));
    await waitFor("trading", () => h!.intents.some((i) => i.kind === "place_order"));
    fakes.kalshi.faults.dropConnections();
    await waitFor("disconnect seen", () => h!.events.some(({ e }) => e.kind === "feed_health" && e.feed === "kalshi" && e.status === "disconnected"));
    const down = firstEvent(h, (e) => e.kind === "feed_health" && e.feed === "kalshi" && e.status === "disconnected")!;
    await waitFor("fresh snapshot after reconnect", () => !!firstEvent(h!, (e) => e.kind === "book_snapshot", down.tsRecv));
    const back = firstEvent(h, (e) => e.kind === "book_snapshot", down.tsRecv)!;
    await waitFor("trading again", () => placesOn(h!, null, back.tsRecv).length > 0, 8000);
    expect(fakes.kalshi.stats.connections).toBeGreaterThanOrEqual(2);
    expect(placesOn(h, null, down.tsRecv, back.tsRecv - 1)).toHaveLength(0);
    await h.finish();
    await expectAuditComplete(h);
  }, 20_000);

  it("seq gap: gap recorded, the sid's books blocked until resynced, no order on them meanwhile", async () => {
    fakes = await startFakes({ flowIntervalMs: 30 });
    h = await startRuntime("paper", tradingEnv(fakes, { EXECUTION: "taker" }));
    await waitFor("trading", () => h!.intents.some((i) => i.kind === "place_order"));
    fakes.kalshi.faults.skipSeq(1);
    await waitFor("gap", () => h!.events.some(({ e }) => e.kind === "feed_health" && e.status === "gap"));
    const gap = firstEvent(h, (e) => e.kind === "feed_health" && e.status === "gap")!;
    await waitFor("resynced", () => !!firstEvent(h!, (e) => e.kind === "feed_health" && e.status === "resynced", gap.tsRecv));
    const resynced = firstEvent(h, (e) => e.kind === "feed_health" && e.status === "resynced", gap.tsRecv)!;
    const gapMarkets = gap.kind === "feed_health" ? gap.markets : [];
    expect(gapMarkets.length).toBeGreaterThan(0);
    expect(records(h, "inconsistency").some((r) => r.issue === "feed_gap")).toBe(true);
    for (const m of gapMarkets) expect(placesOn(h, m, gap.tsRecv, resynced.tsRecv)).toHaveLength(0);
    await h.finish();
    await expectAuditComplete(h);
  }, 20_000);

  it("stale spot: evaluations say SPOT_STALE and nothing is ordered while Coinbase is silent", async () => {
    fakes = await startFakes({ flowIntervalMs: 40 });
    h = await startRuntime("paper", tradingEnv(fakes, { EXECUTION: "taker" }));
    await waitFor("trading", () => h!.intents.some((i) => i.kind === "place_order"));
    fakes.coinbase.faults.stall(2500);
    await waitFor("SPOT_STALE", () => records(h!, "opportunity").some((o) => o.reason === "SPOT_STALE"), 6000);
    await sleep(600);
    const stale = records(h, "opportunity").filter((o) => o.reason === "SPOT_STALE");
    expect(placesOn(h, null, stale[0]!.ts, stale.at(-1)!.ts)).toHaveLength(0);
    expect(records(h, "opportunity").some((o) => o.reason === "TRADE" && o.ts < stale[0]!.ts)).toBe(true);
    await h.finish();
    await expectAuditComplete(h);
  }, 20_000);

  it("crossed book: recorded as an inconsistency, the market blocked, no order on it", async () => {
    fakes = await startFakes();
    const market = fakes.kalshi.state.tickers()[0]!;
    h = await startRuntime("paper", tradingEnv(fakes, { KALSHI_MARKET_TICKERS: fakes.kalshi.state.tickers().slice(0, 2).join(","), EXECUTION: "taker" }));
    await waitFor("trading", () => h!.intents.some((i) => i.kind === "place_order"));
    const noBest = fakes.kalshi.state.bestBid(market, "no")!.price;
    // A YES bid at 1 − (best NO bid) + 1¢: YES bid + NO bid > $1, the book is crossed.
    fakes.kalshi.state.changeLevel(market, "yes", 10_000 - noBest + 100, 500);
    await waitFor("crossed", () => records(h!, "inconsistency").some((r) => r.issue === "crossed" && r.market === market));
    const at = records(h, "inconsistency").find((r) => r.issue === "crossed")!.ts;
    await sleep(700);
    expect(placesOn(h, market, at)).toHaveLength(0);
    const after = records(h, "opportunity").filter((o) => o.market === market && o.ts > at);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((o) => o.reason === "BOOK_STALE")).toBe(true);
    await h.finish();
    await expectAuditComplete(h);
  }, 20_000);

  it("429 on create: unknown outcome, never rejected, resolved by client_order_id as not at venue; no duplicate", async () => {
    fakes = await startFakes();
    fakes.kalshi.faults.rest("POST /portfolio/events/orders", { kind: 429 });
    h = await startRuntime("live", liveEnv(fakes, 1));
    await waitFor("first intent", () => h!.intents.some((i) => i.kind === "place_order"));
    const first = h.intents.find((i) => i.kind === "place_order")!;
    const cid = first.kind === "place_order" ? first.clientOrderId : "";
    await waitFor("unknown", () => ordersOf(h!, cid).some((o) => o.status === "unknown"));
    await waitFor("resolved", () => ordersOf(h!, cid).some((o) => o.status === "canceled"), 6000);
    const states = ordersOf(h, cid).map((o) => o.status);
    expect(states).not.toContain("rejected");
    expect(ordersOf(h, cid).at(-1)!.reason).toMatch(/not at venue/);
    expect(fakes.kalshi.state.orderByClientId(cid)).toBeUndefined();
    const unknownAt = ordersOf(h, cid).find((o) => o.status === "unknown")!.ts;
    const resolvedAt = ordersOf(h, cid).at(-1)!.ts;
    // While the outcome was unknown, nothing else was sent for that market. (The engine may place the
    // next order in reaction to the resolution itself, at exactly resolvedAt: that is allowed.)
    expect(placesOn(h, first.market, unknownAt, resolvedAt - 1)).toHaveLength(0);
    await h.finish();
    const cids = fakes.kalshi.state.orders().map((o) => o.clientOrderId);
    expect(new Set(cids).size).toBe(cids.length);
    await expectAuditComplete(h);
  }, 20_000);

  it("5xx then success on create: the venue took it; unknown → resolved resting; exactly one order at the fake", async () => {
    fakes = await startFakes();
    fakes.kalshi.faults.rest("POST /portfolio/events/orders", { kind: 500, apply: true });
    h = await startRuntime("live", liveEnv(fakes, 1));
    await waitFor("first intent", () => h!.intents.some((i) => i.kind === "place_order"));
    const first = h.intents.find((i) => i.kind === "place_order")!;
    const cid = first.kind === "place_order" ? first.clientOrderId : "";
    await waitFor("resolved resting", () => ordersOf(h!, cid).some((o) => o.status === "resting"), 6000);
    // The 500 made the create's outcome unknown; the venue's own report (user_orders, or the REST
    // look-up by client_order_id) says it rests. It was never called rejected, never re-sent.
    await waitFor("resolver done", () => h!.rt.transport!.stats.resolved === 1, 6000);
    expect(h.rt.transport!.stats.unknownOutcomes).toBe(1);
    expect(ordersOf(h, cid).map((o) => o.status)).not.toContain("rejected");
    expect(ordersOf(h, cid).at(-1)!.status).toBe("resting");
    await sleep(600); // more evaluation sweeps: the engine must not send another order for this market
    const atVenue = fakes.kalshi.state.orders().filter((o) => o.ticker === first.market);
    expect(atVenue).toHaveLength(1);
    expect(atVenue[0]!.clientOrderId).toBe(cid);
    expect(atVenue[0]!.status).toBe("resting");
    await h.finish();
    await expectAuditComplete(h);
  }, 20_000);

  it("timeout on cancel: unknown outcome, resolved through REST (still resting), cancelled again", async () => {
    fakes = await startFakes();
    h = await startRuntime("live", liveEnv(fakes, 1), { overrides: { strategy: { restingTtlSeconds: 1 } } });
    await waitFor("resting order", () => fakes!.kalshi.state.orders().some((o) => o.status === "resting"));
    // The cancel never reaches the book and never gets an answer.
    fakes.kalshi.faults.rest("DELETE /portfolio/events/orders/{id}", { kind: "timeout" });
    const o = fakes.kalshi.state.orders().find((x) => x.status === "resting")!;
    await waitFor("cancel unknown", () => ordersOf(h!, o.clientOrderId).some((r) => r.status === "unknown"), 6000);
    await waitFor("resolved canceled", () => ordersOf(h!, o.clientOrderId).at(-1)!.status === "canceled", 6000);
    const states = ordersOf(h, o.clientOrderId).map((r) => `${r.status}:${r.reason}`);
    const iUnknown = states.findIndex((x) => /^unknown:unknown_outcome: cancel outcome unknown \(timeout\)/.test(x));
    const iResolved = states.findIndex((x) => /^resting:resolved by client_order_id/.test(x));
    expect(iUnknown).toBeGreaterThanOrEqual(0);
    expect(iResolved).toBeGreaterThan(iUnknown);
    expect(ordersOf(h, o.clientOrderId).map((r) => r.status)).not.toContain("rejected");
    expect(fakes.kalshi.state.orderByClientId(o.clientOrderId)!.status).toBe("canceled");
    await h.finish();
    await expectAuditComplete(h);
  }, 20_000);

  it("fill for an unknown order: HALTED, recorded, no new orders", async () => {
    fakes = await startFakes();
    const market = fakes.kalshi.state.tickers()[0]!;
    h = await startRuntime("live", liveEnv(fakes, 1));
    await waitFor("fill channel subscribed", () => fakes!.kalshi.subscriptions().some((s) => s.channel === "fill"));
    // Someone else (another process on the account) trades: a marketable IOC straight into the fake.
    fakes.kalshi.state.createOrder({ ticker: market, side: "bid", count: 100, price: 9900, tif: "immediate_or_cancel", postOnly: false, reduceOnly: false, clientOrderId: "intruder-1" });
    await waitFor("halt", () => records(h!, "risk_state_changed").some((r) => r.to === "HALTED"));
    const halt = records(h, "risk_state_changed").find((r) => r.to === "HALTED")!;
    expect(halt.reason).toMatch(/fill for unknown order/);
    expect(records(h, "inconsistency").some((r) => r.issue === "fill_for_unknown_order")).toBe(true);
    await sleep(600);
    expect(placesOn(h, null, halt.ts)).toHaveLength(0);
    expect(h.rt.session.engine.risk.state()).toBe("HALTED");
    await h.finish();
    await expectAuditComplete(h);
  }, 20_000);

  it("reconciliation mismatch: the venue holds a position the engine does not → HALTED before any order", async () => {
    fakes = await startFakes();
    const market = fakes.kalshi.state.tickers()[0]!;
    // A position taken before this run (its fill is older than the run, so only REST positions show it).
    fakes.kalshi.state.createOrder({ ticker: market, side: "bid", count: 200, price: 9900, tif: "immediate_or_cancel", postOnly: false, reduceOnly: false, clientOrderId: "earlier-run-1" }, Date.now() - 60_000);
    await sleep(20);
    const creates = () => fakes!.kalshi.requests.filter((r) => r === "POST /portfolio/events/orders").length;
    h = await startRuntime("live", liveEnv(fakes, 1));
    await waitFor("reconciliation", () => records(h!, "reconciliation").length > 0);
    const rec = records(h, "reconciliation")[0]!;
    expect(rec.ok).toBe(false);
    expect(rec.mismatches.join(";")).toContain(market);
    expect(records(h, "risk_state_changed").some((r) => r.to === "HALTED" && /reconciliation mismatch/.test(r.reason))).toBe(true);
    await sleep(800);
    expect(creates()).toBe(0);
    await h.finish();
    await expectAuditComplete(h);
  }, 20_000);

  it("kill switch with three resting orders: all cancelled, confirmed through REST, loop stopped", async () => {
    fakes = await startFakes();
    h = await startRuntime("live", liveEnv(fakes, 3));
    await waitFor("three resting", () => fakes!.kalshi.state.orders().filter((o) => o.status === "resting").length === 3, 8000);
    const ours = fakes.kalshi.state.orders().filter((o) => o.status === "resting").map((o) => o.clientOrderId);
    const reqBefore = fakes.kalshi.requests.length;
    h.rt.kill("test kill");
    const res = await h.done;
    expect(res.killed).toBe(true);
    expect(res.cancelReport!.confirmed).toBe(true);
    expect(res.cancelReport!.canceled).toBeGreaterThanOrEqual(3);
    expect(res.exitCode).toBe(0);
    expect(fakes.kalshi.state.orders().filter((o) => o.status === "resting")).toHaveLength(0);
    for (const cid of ours) {
      expect(fakes.kalshi.state.orderByClientId(cid)!.status).toBe("canceled");
      expect(ordersOf(h, cid).at(-1)!.status).toBe("canceled");
    }
    // The confirmation: after the cancels, the last REST call listed orders (and found none resting).
    const after = fakes.kalshi.requests.slice(reqBefore);
    const lastDelete = after.lastIndexOf("DELETE /portfolio/events/orders/{id}");
    expect(lastDelete).toBeGreaterThanOrEqual(0);
    expect(after.slice(lastDelete + 1)).toContain("GET /portfolio/orders");
    expect(h.lines.some((l) => /KILL SWITCH: cancelled \d+ order\(s\); REST confirms no resting orders/.test(l))).toBe(true);
    expect(records(h, "risk_state_changed").some((r) => r.to === "HALTED" && /kill switch/.test(r.reason))).toBe(true);
    await expectAuditComplete(h);
  }, 20_000);

  it("market closing with resting orders: our orders cancelled, no new orders, settlement recorded", async () => {
    fakes = await startFakes();
    const market = fakes.kalshi.state.tickers()[0]!;
    // Repricing off: with one second to close the EV moves and a reprice-cancel could come first; this
    // case is about the close itself.
    h = await startRuntime("live", liveEnv(fakes, 1, { REPRICE_ENABLED: "0" }));
    await waitFor("resting", () => fakes!.kalshi.state.orders().some((o) => o.ticker === market && o.status === "resting"));
    const o = fakes.kalshi.state.orders().find((x) => x.ticker === market && x.status === "resting")!;
    // The venue moves the close to one second from now (market_lifecycle_v2 close_date_updated).
    const closeTs = Math.floor(Date.now() / 1000) + 1;
    fakes.kalshi.state.lifecycle(market, "close_date_updated", { close_ts: closeTs });
    await waitFor("close update seen", () => h!.events.some(({ e }) => e.kind === "market_lifecycle" && e.phase === "close_date_updated"));
    const closedAt = closeTs * 1_000_000;
    await waitFor("cancelled at venue", () => fakes!.kalshi.state.orderByClientId(o.clientOrderId)!.status === "canceled", 6000);
    expect(fakes.kalshi.state.orderByClientId(o.clientOrderId)!.lastUpdateReason).toBe("Cancel");
    const cancel = ordersOf(h, o.clientOrderId).find((r) => r.reason === "cancel_submitted")!;
    // A close one second away puts the market inside NO_NEW_ENTRIES_LAST_SECONDS: the resting entry is
    // cancelled as soon as the engine sees the new close (order management), and at the latest when
    // the close passes — never before the venue moved it.
    const closeSeen = h.events.find(({ e }) => e.kind === "market_lifecycle" && e.phase === "close_date_updated")!.e.tsRecv;
    expect(cancel.ts).toBeGreaterThanOrEqual(closeSeen);
    expect(cancel.ts).toBeLessThanOrEqual(closedAt + 5_000_000);
    fakes.kalshi.state.markets.get(market)!.status = "closed";
    await sleep(500);
    fakes.kalshi.state.settle(market, "no");
    await waitFor("settlement", () => records(h!, "settlement").some((s) => s.market === market));
    const s = records(h, "settlement").find((x) => x.market === market)!;
    expect(s.result).toBe("no");
    expect(s.source).toBe("venue");
    expect(placesOn(h, market, closedAt)).toHaveLength(0);
    await h.finish();
    await expectAuditComplete(h);
  }, 20_000);
});
