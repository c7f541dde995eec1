/** Coinbase WS client against a hostile fake Advanced Trade feed (fault switches in lib/venues/fake/coinbase.ts). */
import { afterEach, describe, expect, it } from "vitest";
import type { EngineEvent, SpotQuote, SpotTrade } from "../../lib/core/events.ts";
import { CoinbaseWsClient, type CoinbaseWsOptions } from "../../lib/venues/coinbase/ws.ts";
import { startFakeCoinbase, type FakeCoinbase, type FakeCoinbaseOptions } from "../../lib/venues/fake/index.ts";
import { health, waitFor } from "./helpers.ts";

let fake: FakeCoinbase | null = null;
let client: CoinbaseWsClient | null = null;

afterEach(async () => {
  await client?.close();
  await fake?.close();
  client = null;
  fake = null;
});

async function start(o: Partial<CoinbaseWsOptions> = {}, f: FakeCoinbaseOptions = {}, before?: (fake: FakeCoinbase) => void) {
  fake = await startFakeCoinbase({ tickerIntervalMs: 20, heartbeatIntervalMs: 100, ...f });
  before?.(fake);
  const events: EngineEvent[] = [];
  client = new CoinbaseWsClient({ wsUrl: fake.wsUrl, productId: "BTC-USD", onEvent: (e) => events.push(e), reconnectBaseMs: 20, reconnectMaxMs: 100, ...o });
  client.start();
  return { fake, client, events };
}

async function setup(o: Partial<CoinbaseWsOptions> = {}, f: FakeCoinbaseOptions = {}) {
  const s = await start(o, f);
  await waitFor(() => quotes(s.events).length > 0, 3000, "first quote");
  return s;
}

const quotes = (es: readonly EngineEvent[]) => es.filter((e): e is SpotQuote => e.kind === "spot_quote");
const trades = (es: readonly EngineEvent[]) => es.filter((e): e is SpotTrade => e.kind === "spot_trade");
const subscribes = (f: FakeCoinbase, channel: string) => f.received.filter((m) => m.type === "subscribe" && m.channel === channel).length;

describe("Coinbase WS vs a hostile venue", () => {
  it("a ticker for a product we did not subscribe is dropped and counted, its sequence_num still counts", async () => {
    const { fake, client, events } = await setup();
    fake.faults.foreignTicker(3, "ETH-USD");
    await waitFor(() => client.stats.foreignProducts === 3, 3000, "3 foreign entries");
    const n = quotes(events).length;
    await waitFor(() => quotes(events).length > n + 3, 3000, "quotes continue");
    expect(quotes(events).every((q) => q.productId === "BTC-USD")).toBe(true);
    expect(client.stats.gaps).toBe(0);
  });

  it("a gap is healed only by a quote of our product, not by a foreign one", async () => {
    const { fake, events } = await setup();
    // The first foreign frame is lost; the second arrives right after the gap.
    fake.faults.skipSequence(1);
    fake.faults.foreignTicker(2, "ETH-USD");
    await waitFor(() => health(events, "resynced").length === 1, 3000, "resynced");
    const iGap = events.indexOf(health(events, "gap")[0]!);
    const iResync = events.indexOf(health(events, "resynced")[0]!);
    const between = quotes(events.slice(iGap, iResync));
    expect(between.length).toBeGreaterThan(0);
    expect(between.every((q) => q.productId === "BTC-USD")).toBe(true);
  });

  it("-USDC subscription: the aliased -USD product's quotes are ours (coinbase-brti.md A.1)", async () => {
    const { fake, client, events } = await start({ productId: "BTC-USDC" });
    // The fake answers a BTC-USDC subscribe with BTC-USDC tickers; a BTC-USD one stands for the alias.
    await waitFor(() => quotes(events).length > 0, 3000, "first quote");
    fake.faults.foreignTicker(2, "BTC-USD");
    fake.faults.foreignTicker(1, "ETH-USD");
    await waitFor(() => quotes(events).filter((q) => q.productId === "BTC-USD").length === 2, 3000, "aliased quotes");
    await waitFor(() => client.stats.foreignProducts === 1, 3000, "one foreign entry");
  });

  it("one frame with a huge sequence_num does not silence the feed: a run of out-of-order frames reconnects", async () => {
    const { fake, client, events } = await setup({ staleAfterMs: 60_000, outOfOrderLimit: 20 });
    fake.faults.bogusSequence(1e12);
    await waitFor(() => client.stats.outOfOrder >= 20 && client.stats.connects === 2, 4000, "reconnect after out-of-order run");
    const n = quotes(events).length;
    await waitFor(() => quotes(events).length > n + 3, 3000, "quotes flow on the new connection");
    expect(client.stats.stale).toBe(0);
  });

  it("out-of-order frames do not count as liveness: the watchdog fires after the stale period", async () => {
    const { fake, client, events } = await setup({ staleAfterMs: 300, outOfOrderLimit: 1_000_000 });
    fake.faults.bogusSequence(1e12);
    await waitFor(() => health(events, "stale").length >= 1, 3000, "stale");
    await waitFor(() => client.connected && client.stats.connects >= 2, 3000, "reconnected");
    const n = quotes(events).length;
    await waitFor(() => quotes(events).length > n, 3000, "quotes flow again");
  });

  it("a ticker subscribe answered with a venue error is sent again, and quotes arrive", async () => {
    const { fake, client, events } = await start({ resubscribeBaseMs: 50 }, {}, (f) => f.faults.refuseSubscribes("ticker", 2, "error", "rate limit exceeded"));
    await waitFor(() => quotes(events).length > 0, 4000, "first quote after retries");
    expect(subscribes(fake, "ticker")).toBe(3);
    expect(client.stats.venueErrors).toBe(2);
    expect(client.stats.connects).toBe(1);
  });

  it("an ack that never lists the ticker: the subscribe is sent again after subscribeTimeoutMs", async () => {
    const { fake, client, events } = await start({ subscribeTimeoutMs: 300, resubscribeBaseMs: 50 }, {}, (f) => f.faults.refuseSubscribes("ticker", 1, "silent"));
    await waitFor(() => quotes(events).length > 0, 4000, "first quote after the retry");
    expect(subscribes(fake, "ticker")).toBe(2);
    expect(client.stats.connects).toBe(1);
  });

  it("a subscribe refused on every try gives up the connection and reconnects", async () => {
    const { fake, client, events } = await start({ resubscribeBaseMs: 20 }, {}, (f) => f.faults.refuseSubscribes("ticker", 3, "error"));
    await waitFor(() => quotes(events).length > 0, 4000, "first quote on a later connection");
    expect(client.stats.connects).toBe(2);
    expect(subscribes(fake, "ticker")).toBe(4);
  });

  it("a flapping venue (ack, then close) is redialled with a growing back-off, not every 250 ms", async () => {
    const { fake } = await start({ reconnectBaseMs: 250, reconnectMaxMs: 30_000 }, {}, (f) => f.faults.flap());
    await new Promise((r) => setTimeout(r, 3000));
    // 125–250, 250–500, 500–1000, 1000–2000 ms: at most 5 connections in 3 s (a reset per ack gives ~15).
    expect(fake.stats.connections).toBeLessThanOrEqual(5);
    expect(fake.stats.connections).toBeGreaterThanOrEqual(3);
  });

  it("the attempt count resets once a connection delivered a usable ticker", async () => {
    const { fake, client } = await setup({ reconnectBaseMs: 20, reconnectMaxMs: 100_000 });
    for (let i = 0; i < 4; i++) {
      const n = client.stats.connects;
      fake.faults.dropConnections();
      await waitFor(() => client.stats.connects === n + 1, 3000, `reconnect ${i}`);
      await waitFor(() => client.connected, 3000, "open");
      await new Promise((r) => setTimeout(r, 100));
    }
    // Each redial waited 10–20 ms, never the 160–320 ms a fifth attempt would.
    expect(client.stats.connects).toBe(5);
  });

  it("a connection whose first sequence_num is 5 lost frames 0..4: a gap", async () => {
    const { client, events } = await start({}, {}, (f) => f.faults.startSequenceAt(5));
    await waitFor(() => quotes(events).length > 0, 3000, "first quote");
    expect(client.stats.gaps).toBe(1);
    expect(health(events, "gap")[0]!.detail).toMatch(/expected 0, got 5/);
  });

  it("a market_trades frame with one bad trade time keeps its two good trades", async () => {
    const { fake, client, events } = await setup({ marketTrades: true });
    await waitFor(() => subscribes(fake, "market_trades") === 1, 3000, "market_trades subscribe");
    await new Promise((r) => setTimeout(r, 100));
    fake.faults.tradesWithBadTime("not-a-time");
    await waitFor(() => client.stats.refusedEntries === 1, 3000, "one refused trade");
    expect(trades(events).map((t) => t.tradeId)).toEqual(fake.sentGoodTrades);
    expect(client.stats.rejected).toBe(0);
  });

  it("a venue error is a venue error whatever its key order", async () => {
    const { fake, client, events } = await setup();
    fake.faults.venueError("rate limit exceeded", false);
    fake.faults.venueError("rate limit exceeded", true);
    await waitFor(() => client.stats.venueErrors === 2, 3000, "2 venue errors");
    const n = quotes(events).length;
    await waitFor(() => quotes(events).length > n + 2, 3000, "quotes continue");
    expect(client.stats.rejected).toBe(0);
  });

  it("with level2 on, a sequence gap resubscribes level2 (a fresh snapshot)", async () => {
    const { fake, client } = await setup({ level2: true });
    await waitFor(() => subscribes(fake, "level2") === 1, 3000, "level2 subscribe");
    fake.faults.skipSequence(2);
    await waitFor(() => client.stats.gaps === 1, 3000, "gap");
    await waitFor(() => subscribes(fake, "level2") === 2, 3000, "level2 resubscribe");
    expect(fake.received.filter((m) => m.type === "unsubscribe" && m.channel === "level2")).toHaveLength(1);
  });
});

describe("replay from the raw layer (RawReparser) uses the frames the client used", () => {
  it("foreign products, a bogus sequence_num and the out-of-order frames after it: the same quotes as the live client", async () => {
    const { RawReparser } = await import("../../lib/run/replay.ts");
    const frames: import("../../lib/tape/types.ts").RawFrame[] = [];
    const { fake, client, events } = await setup({ onFrame: (f) => frames.push(f), outOfOrderLimit: 20 });
    fake.faults.foreignTicker(3, "ETH-USD");
    await waitFor(() => client.stats.foreignProducts === 3, 3000, "foreign entries");
    fake.faults.bogusSequence();
    await waitFor(() => client.stats.connects >= 2 && client.stats.outOfOrder >= 20, 5000, "poisoned count, reconnect");
    const n = quotes(events).length;
    await waitFor(() => quotes(events).length > n + 3, 3000, "quotes on the new connection");
    const rp = new RawReparser();
    const replayed = frames.flatMap((f) => rp.parse(f));
    const key = (q: SpotQuote) => `${q.tsRecv}|${q.productId}|${q.bid}|${q.ask}`;
    // The client may have received frames after the snapshot of `events` above: compare up to its last quote.
    const live = quotes(events).map(key);
    expect(quotes(replayed).map(key).slice(0, live.length)).toEqual(live);
    expect(rp.outOfOrder).toBeGreaterThanOrEqual(20);
  });
});
