/**
 * The shared market feed across a reconnect on rolling markets: released markets are never named in
 * a subscription again (the reconnect subscribes only what is still open), and a market created while
 * we were disconnected (its `created` frame lost) is caught up over REST as soon as the lifecycle
 * subscription is back. Oracle: the fake's command log and its market history.
 */
import { afterEach, describe, expect, test } from "vitest";
import type { EngineEvent, MarketInfo } from "../../lib/core/events.ts";
import { KalshiMarketFeed } from "../../lib/live/market-feed.ts";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiRestClient } from "../../lib/venues/kalshi/rest.ts";
import { waitFor } from "../venues/helpers.ts";

let fake: FakeKalshi | null = null;
let feed: KalshiMarketFeed | null = null;
let rest: KalshiRestClient | null = null;
afterEach(async () => {
  await feed?.close();
  rest?.close();
  await fake?.close();
  fake = null;
  feed = null;
  rest = null;
});

describe("market feed across a reconnect", () => {
  test("released markets are never re-subscribed; markets created while disconnected are caught up", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 20, brtiIntervalMs: 100, tickerIntervalMs: 0, seed: 5, rolling: { windowSeconds: 1, maxWindows: 9 } });
    const f = fake;
    const signer = KalshiSigner.fromFile(f.keyId, f.privateKeyPath);
    rest = new KalshiRestClient({ restUrl: f.restUrl, signer });
    const events: EngineEvent[] = [];
    feed = new KalshiMarketFeed({
      rest,
      ws: { wsUrl: f.wsUrl, signer, channels: ["orderbook_delta", "market_lifecycle_v2"], reconnectBaseMs: 400, reconnectMaxMs: 400 },
      selection: { series: ["KXBTC15M"] },
      discoverySeconds: 3600, // only the catch-up after (re)subscription can find what was missed
      closeGraceMs: 300,
      onEvent: (e) => events.push(e),
    });
    await feed.start();
    const c = feed.client!;
    await waitFor(() => f.state.windowsOpened >= 4, 6000, "4 windows");
    // An outage longer than a window: 5 upgrades refused, then the connection is back.
    f.faults.rejectUpgrades(5);
    const dropMs = Date.now();
    f.faults.dropConnections();
    await waitFor(() => c.stats.connects >= 2 && c.connected, 8000, "reconnected");
    const backMs = Date.now();
    // Their created frames are lost; the ones still open when we are back must be caught up over REST.
    const createdDuringOutage = [...f.state.markets.values()].filter((m) => m.history!.createdMs > dropMs && m.history!.createdMs < backMs && m.closeMs > backMs + 500);
    const restBefore = f.requests.filter((r) => r === "GET /markets").length;
    await waitFor(() => f.requests.filter((r) => r === "GET /markets").length > restBefore || restBefore >= 3, 3000, "REST catch-up after the reconnect");
    await waitFor(() => f.state.windowsOpened >= 9 && f.state.settlements().length >= 8, 12_000, "all windows");
    // Released markets never named again by a subscribe / add_markets after their close (+ grace).
    for (let i = 0; i < f.wsCommands.length; i++) {
      const cmd = f.wsCommands[i]! as { cmd: string; params?: { action?: string; market_tickers?: string[] } };
      const adds = cmd.cmd === "subscribe" || (cmd.cmd === "update_subscription" && cmd.params?.action === "add_markets");
      if (!adds) continue;
      for (const t of cmd.params?.market_tickers ?? []) expect(f.wsCommandTimes[i]! - f.state.markets.get(t)!.closeMs, t).toBeLessThan(1000);
    }
    // Every window that opened after we started was followed — including any created during the outage.
    const startMs = f.wsCommandTimes[0]!;
    const infos = events.filter((e): e is MarketInfo => e.kind === "market_info");
    for (const m of f.state.markets.values()) {
      if (m.closeMs <= startMs) continue;
      // A window that opened and closed inside the outage cannot be known (REST lists open markets).
      const created = m.history!.createdMs;
      if (created >= dropMs - 100 && created <= backMs + 300) continue;
      expect(infos.some((i) => i.market === m.ticker), m.ticker).toBe(true);
    }
    for (const m of createdDuringOutage) expect(infos.some((i) => i.market === m.ticker), `${m.ticker} (created during the outage)`).toBe(true);
    expect(feed.followedMarkets().every((m) => f.state.markets.get(m.market)!.status === "active")).toBe(true);
  });
});

describe("market feed close", () => {
  test("close() waits for an in-flight re-discovery: nothing arrives after it returns", async () => {
    // Found by the collector soak: a re-discovery still in flight at shutdown delivered its REST answer
    // (and market records) after the tape was closed — three frames lost, exit 3.
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, seed: 3 });
    const f = fake;
    const signer = KalshiSigner.fromFile(f.keyId, f.privateKeyPath);
    let closedAt = 0;
    const late: string[] = [];
    rest = new KalshiRestClient({ restUrl: f.restUrl, signer, onAnswer: (a) => closedAt > 0 && late.push(`answer ${a.route}`) });
    feed = new KalshiMarketFeed({
      rest,
      ws: { wsUrl: f.wsUrl, signer, channels: ["orderbook_delta", "market_lifecycle_v2"] },
      selection: { series: ["KXBTCD"] },
      discoverySeconds: 0.2,
      onEvent: (e) => closedAt > 0 && late.push(`event ${e.kind}`),
    });
    await feed.start();
    const before = f.requests.filter((r) => r === "GET /markets").length;
    // The next re-discovery is held by the venue for 600 ms; close while it is in flight.
    f.faults.rest("GET /markets", { kind: "delay", ms: 600 });
    await waitFor(() => f.requests.filter((r) => r === "GET /markets").length > before, 3000, "re-discovery sent");
    await feed.close();
    closedAt = Date.now();
    await new Promise((r) => setTimeout(r, 900));
    expect(late).toEqual([]);
  });
});

describe("a lifecycle frame lost in a seq gap", () => {
  test("a pause whose deactivated frame was lost is learnt from REST: the followed markets are asked for by ticker", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, seed: 5 });
    const f = fake;
    const signer = KalshiSigner.fromFile(f.keyId, f.privateKeyPath);
    rest = new KalshiRestClient({ restUrl: f.restUrl, signer });
    const events: EngineEvent[] = [];
    const [a, b] = f.state.tickers();
    feed = new KalshiMarketFeed({
      rest,
      ws: { wsUrl: f.wsUrl, signer, channels: ["orderbook_delta", "market_lifecycle_v2"] },
      selection: { series: [f.state.markets.get(a!)!.seriesTicker] },
      discoverySeconds: 3600,
      onEvent: (e) => events.push(e),
    });
    await feed.start();
    const fd = feed;
    await waitFor(() => !!fd.client?.connected && fd.client.awaitingSnapshots().length === 0, 5000, "connected");
    f.state.lifecycle(b!, "metadata_updated", { strike_type: "greater_or_equal", floor_strike: 1 }); // a frame seen: the seq count starts
    await waitFor(() => events.some((e) => e.kind === "market_info" && e.market === b && e.floorStrike === 1), 5000, "first frame");
    // The pause: the venue's record goes inactive, its frame is lost; the next frame shows the gap.
    f.state.markets.get(a!)!.status = "inactive";
    f.faults.skipLifecycleSeq(1);
    f.state.lifecycle(a!, "deactivated", { is_deactivated: true });
    f.state.lifecycle(b!, "metadata_updated", { strike_type: "greater_or_equal", floor_strike: 2 });
    // Before: the catch-up listed open markets only, which leaves a paused one out; the record stayed active.
    await waitFor(() => [...events].reverse().find((e): e is MarketInfo => e.kind === "market_info" && e.market === a)?.status === "inactive", 5000, "pause learnt over REST");
  });
});
