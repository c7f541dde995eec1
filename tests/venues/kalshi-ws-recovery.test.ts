/**
 * Kalshi WS client: a subscription or a book the venue silently lost must come back. Real sockets
 * against the fake venue; the oracle is the fake's own book and subscription list, never the client.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { EngineEvent } from "../../lib/core/events.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiWsClient, type KalshiWsOptions } from "../../lib/venues/kalshi/ws.ts";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { health, waitFor } from "./helpers.ts";

let fake: FakeKalshi | null = null;
let client: KalshiWsClient | null = null;

afterEach(async () => {
  await client?.close();
  await fake?.close();
  client = null;
  fake = null;
});

async function setup(clientOpts: Partial<KalshiWsOptions> = {}) {
  fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, seed: 23 });
  const f = fake;
  const events: EngineEvent[] = [];
  const c = new KalshiWsClient({
    wsUrl: f.wsUrl,
    signer: KalshiSigner.fromFile(f.keyId, f.privateKeyPath),
    markets: f.state.tickers(),
    channels: ["orderbook_delta"],
    onEvent: (e) => events.push(e),
    reconnectBaseMs: 20,
    reconnectMaxMs: 200,
    ...clientOpts,
  });
  client = c;
  c.start();
  await waitFor(() => c.connected && c.awaitingSnapshots().length === 0, 5000, "initial snapshots");
  return { fake: f, client: c, events };
}

/** The client's book of each market equals the fake's, level for level, and is fresh. */
function booksEqual(f: FakeKalshi, c: KalshiWsClient, tickers: readonly string[] = f.state.tickers()): boolean {
  for (const t of tickers) {
    const b = c.books.get(t);
    if (!b || b.stale) return false;
    const mine = b.levels();
    const theirs = f.state.book(t);
    if (JSON.stringify(mine.yesBids) !== JSON.stringify(theirs.yes) || JSON.stringify(mine.noBids) !== JSON.stringify(theirs.no)) return false;
  }
  return true;
}

const snapshotAsks = (f: FakeKalshi, market?: string) =>
  f.wsCommands.filter((x) => {
    const p = x.params as { action?: string; market_tickers?: string[] } | undefined;
    return x.cmd === "update_subscription" && p?.action === "get_snapshot" && (market === undefined || (p.market_tickers ?? []).includes(market));
  }).length;

describe("Kalshi WS: terminal channel errors in the spec's shape (no sid)", () => {
  it("error 25 naming the subscribe command's id, after the ack: the book channel is made anew", async () => {
    const { fake, client } = await setup();
    // The venue ends the subscription: without a new one the books never move again (pings go on).
    fake.faults.channelError({ code: 25, shape: "id", drop: true });
    await waitFor(() => fake.subscriptions().some((s) => s.channel === "orderbook_delta") && client.awaitingSnapshots().length === 0, 3000, "a new book subscription");
    expect(fake.wsCommands.filter((x) => x.cmd === "subscribe").length).toBe(2);
    for (let i = 0; i < 200; i++) fake.state.randomDelta();
    await waitFor(() => booksEqual(fake, client), 5000, "books equal on the new subscription");
  });

  it("error 10 naming neither id nor sid: the client cannot tell which subscription died, so it starts afresh", async () => {
    const { fake, client, events } = await setup();
    fake.faults.channelError({ code: 10, shape: "bare", drop: true });
    await waitFor(() => fake.subscriptions().some((s) => s.channel === "orderbook_delta") && client.awaitingSnapshots().length === 0, 3000, "a new book subscription");
    // The books were unknown meanwhile, and the engine was told so.
    expect(health(events, "gap").length + health(events, "disconnected").length).toBeGreaterThan(0);
    for (let i = 0; i < 200; i++) fake.state.randomDelta();
    await waitFor(() => booksEqual(fake, client), 5000, "books equal after starting afresh");
  });
});

describe("Kalshi WS: a refused book frame while a new market's snapshot is awaited", () => {
  it("the other books on the sid are re-snapshotted too, not reported resynced while stale", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, seed: 5 });
    const f = fake;
    const [a, b] = f.state.tickers();
    const events: EngineEvent[] = [];
    const c = new KalshiWsClient({ wsUrl: f.wsUrl, signer: KalshiSigner.fromFile(f.keyId, f.privateKeyPath), markets: [a!], channels: ["orderbook_delta"], snapshotTimeoutMs: 3000, onEvent: (e) => events.push(e) });
    client = c;
    c.start();
    await waitFor(() => c.connected && c.awaitingSnapshots().length === 0, 5000, "first market");
    // A new market is listed (every 15 minutes on KXBTC15M); its snapshot is on its way for 300 ms.
    f.faults.delayAddMarkets(300);
    c.addMarkets([b!]);
    await waitFor(() => f.wsCommands.some((x) => (x.params as { action?: string } | undefined)?.action === "add_markets"), 2000, "add_markets sent");
    f.faults.corruptSeq("orderbook_delta", 1); // a 5-decimal price: refused by the parser
    for (let i = 0; i < 20; i++) f.state.randomDelta(a);
    await waitFor(() => health(events, "resynced").length >= 2 && c.awaitingSnapshots().length === 0, 5000, "resynced after the new market's snapshot");
    // Before: "resynced" with A's book stale for good (the refused frame never reached the book registry).
    expect({ aStale: c.books.get(a!)!.stale, askedSnapshotOfA: snapshotAsks(f, a) > 0 }).toEqual({ aStale: false, askedSnapshotOfA: true });
    for (let i = 0; i < 20; i++) f.state.randomDelta(a);
    await waitFor(() => booksEqual(f, c, [a!, b!]), 2000, "both books equal after the resync");
  });
});

describe("Kalshi WS: a delta the book cannot take", () => {
  for (const kind of ["negative", "crossed"] as const) {
    it(`${kind === "negative" ? "a level driven below zero" : "a crossed book (yes bid + no bid ≥ $1)"} → gap for that market, get_snapshot, book equal again`, async () => {
      const { fake, client, events } = await setup({ snapshotTimeoutMs: 2000 });
      const [a] = fake.state.tickers();
      const resyncs = health(events, "resynced").length;
      fake.faults.inconsistentDelta(kind, a);
      await waitFor(() => snapshotAsks(fake, a) >= 1, 2000, "get_snapshot for the market");
      await waitFor(() => health(events, "resynced").length > resyncs && client.awaitingSnapshots().length === 0, 3000, "resynced");
      expect(health(events, "gap").at(-1)!.markets).toEqual([a]); // the other books were fine
      for (let i = 0; i < 100; i++) fake.state.randomDelta();
      await waitFor(() => booksEqual(fake, client), 3000, "books equal after the resnapshot");
      expect(client.stats.resubscribes).toBe(0);
    });
  }
});
