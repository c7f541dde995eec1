/**
 * Kalshi WS client against the fake venue: the oracle for every book is the fake exchange's own
 * state (an independent implementation: plain Maps per leg), never the client's output.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { EngineEvent } from "../../lib/core/events.ts";
import type { RawFrame } from "../../lib/tape/types.ts";
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

async function setup(clientOpts: Partial<KalshiWsOptions> = {}, fakeOpts: Parameters<typeof startFakeKalshi>[0] = {}) {
  fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, seed: 99, ...fakeOpts });
  const events: EngineEvent[] = [];
  const frames: RawFrame[] = [];
  const signer = KalshiSigner.fromFile(fake.keyId, fake.privateKeyPath);
  client = new KalshiWsClient({
    wsUrl: fake.wsUrl,
    signer,
    markets: fake.state.tickers(),
    channels: ["orderbook_delta"],
    onEvent: (e) => events.push(e),
    onFrame: (f) => frames.push(f),
    reconnectBaseMs: 20,
    reconnectMaxMs: 200,
    ...clientOpts,
  });
  client.start();
  await waitFor(() => client!.connected && client!.awaitingSnapshots().length === 0, 5000, "initial snapshots");
  return { fake, client, events, frames };
}

/** The client's book equals the fake's book, level for level, on every market. */
function booksEqual(f: FakeKalshi, c: KalshiWsClient): boolean {
  for (const t of f.state.tickers()) {
    const b = c.books.get(t);
    if (!b || b.stale) return false;
    const mine = b.levels();
    const theirs = f.state.book(t);
    if (JSON.stringify(mine.yesBids) !== JSON.stringify(theirs.yes)) return false;
    if (JSON.stringify(mine.noBids) !== JSON.stringify(theirs.no)) return false;
  }
  return true;
}

function drive(f: FakeKalshi, n: number): void {
  for (let i = 0; i < n; i++) {
    if (i % 10 === 9) {
      const t = f.state.rng.pick(f.state.tickers());
      f.state.takerTrade(t, i % 20 === 9 ? "bid" : "ask", 100 + (i % 7) * 37);
    } else f.state.randomDelta();
  }
}

describe("Kalshi WS book", () => {
  for (const useYesPrice of [false, true]) {
    it(`matches the fake's book after thousands of random deltas (use_yes_price=${useYesPrice})`, async () => {
      const { fake, client, frames } = await setup({ useYesPrice });
      // The subscribe command carried use_yes_price explicitly.
      const sub = fake.wsCommands.find((c) => c.cmd === "subscribe") as { params: Record<string, unknown> };
      expect(sub.params.use_yes_price).toBe(useYesPrice);
      expect(frames.some((f) => f.dir === "send" && f.text.includes('"use_yes_price"'))).toBe(true);
      drive(fake, 3000);
      await waitFor(() => booksEqual(fake, client), 8000, "books equal");
      expect(client.stats.gaps).toBe(0);
      expect(client.stats.rejected).toBe(0);
      // Fractional sizes were exercised (the fake adds x.yy contracts sometimes).
      const anyFractional = fake.state.tickers().some((t) => fake.state.book(t).yes.some(([, s]) => s % 100 !== 0) || fake.state.book(t).no.some(([, s]) => s % 100 !== 0));
      expect(anyFractional).toBe(true);
    });
  }

  it("every received frame reaches onFrame before parsing, including ones it rejects", async () => {
    const { fake, client, frames } = await setup();
    const before = frames.filter((f) => f.dir === "recv").length;
    fake.faults.malformed(5);
    await waitFor(() => client.stats.rejected === 5, 3000, "5 rejects");
    expect(frames.filter((f) => f.dir === "recv").length - before).toBe(5);
    expect(frames.some((f) => f.text === "{not json")).toBe(true);
    // The loop goes on: later deltas still apply.
    drive(fake, 200);
    await waitFor(() => booksEqual(fake, client), 5000, "books equal after malformed frames");
  });
});

describe("Kalshi WS unknown message types", () => {
  it("are counted by name, not silently dropped and not rejected, and the loop goes on", async () => {
    const { fake, client } = await setup();
    fake.faults.unknownFrames(6);
    await waitFor(() => client.stats.ignored === 6, 3000, "6 ignored");
    expect(client.stats.ignoredTypes).toEqual({ ticker_v3: 2, multivariate_market_lifecycle: 2, "market_lifecycle_v2:paused": 2 });
    expect(client.stats.rejected).toBe(0);
    drive(fake, 200);
    await waitFor(() => booksEqual(fake, client), 5000, "books equal after unknown frames");
    // names the venue chooses are only keys: not inherited members, and not without bound
    expect(Object.getPrototypeOf(client.stats.ignoredTypes)).toBeNull();
  });
});

describe("Kalshi WS fields no protocol version documents", () => {
  it("are counted per message type and field name, the message itself still applies", async () => {
    const { fake, client } = await setup();
    fake.faults.novelFields(5);
    drive(fake, 50);
    await waitFor(() => (client.stats.unknownFields["orderbook_delta.venue_flags"] ?? 0) === 5, 5000, "5 novel deltas");
    expect(client.stats.unknownFields).toEqual({ "orderbook_delta.queue_position_hint": 5, "orderbook_delta.venue_flags": 5 });
    expect(Object.getPrototypeOf(client.stats.unknownFields)).toBeNull();
    expect(client.stats.rejected).toBe(0);
    expect(client.stats.gaps).toBe(0);
    await waitFor(() => booksEqual(fake, client), 5000, "books equal with novel fields");
  });
});

describe("Kalshi WS resync", () => {
  it("a lost delta (seq gap) → FeedHealth gap, get_snapshot for the sid's markets, books equal again", async () => {
    const { fake, client, events } = await setup();
    drive(fake, 100);
    await waitFor(() => booksEqual(fake, client), 5000, "books equal");
    fake.faults.skipSeq(1);
    drive(fake, 300);
    await waitFor(() => health(events, "resynced").length >= 2, 5000, "resynced after gap");
    const gap = health(events, "gap");
    expect(gap.length).toBe(1);
    expect(gap[0]!.markets).toEqual(fake.state.tickers());
    const snapCmd = fake.wsCommands.find((c) => c.cmd === "update_subscription" && (c.params as { action: string }).action === "get_snapshot") as { params: { market_tickers: string[] } };
    expect(snapCmd.params.market_tickers.sort()).toEqual(fake.state.tickers());
    await waitFor(() => booksEqual(fake, client), 5000, "books equal after resync");
  });

  it("a lost lifecycle frame (seq gap off the book) names no market, asks no snapshot, and is handed on for a REST catch-up", async () => {
    const gaps: string[] = [];
    const subscribed: string[] = [];
    const { fake, events } = await setup({ channels: ["orderbook_delta", "market_lifecycle_v2"], onChannelGap: (channel) => gaps.push(channel), onSubscribed: (channel) => subscribed.push(channel) });
    await waitFor(() => subscribed.includes("market_lifecycle_v2"), 5000, "lifecycle subscribed");
    const [a] = fake.state.tickers();
    const before = events.length;
    fake.state.lifecycle(a!, "metadata_updated", { strike_type: "greater_or_equal", floor_strike: 99_999 }); // seq 1: seen
    await waitFor(() => events.length > before, 5000, "first lifecycle frame");
    fake.faults.skipLifecycleSeq(1);
    fake.state.lifecycle(a!, "metadata_updated", { strike_type: "greater_or_equal", floor_strike: 100_000 });
    fake.state.lifecycle(a!, "metadata_updated", { strike_type: "greater_or_equal", floor_strike: 100_001 });
    await waitFor(() => health(events, "gap").length === 1, 5000, "lifecycle gap");
    expect(health(events, "gap")[0]!.markets).toEqual([]); // no book was lost
    expect(gaps).toEqual(["market_lifecycle_v2"]); // before: nothing told the caller to catch up
    expect(fake.wsCommands.some((c) => c.cmd === "update_subscription")).toBe(false);
  });

  it("a venue that sends no snapshot at all for two timeouts loses no market: the subscription is made anew", async () => {
    const abandoned: string[] = [];
    const { fake, client, events } = await setup({ snapshotTimeoutMs: 200, maxSnapshotMisses: 2, onMarketAbandoned: (m) => abandoned.push(m) });
    // A gap; the venue then answers no snapshot (get_snapshot, and the resubscribe's) for 700 ms.
    fake.faults.withholdSnapshots(700);
    fake.faults.skipSeq(1);
    drive(fake, 50);
    await waitFor(() => health(events, "resynced").length >= 2, 5000, "resynced once the venue answers");
    // Before: each silent timeout counted against every market, and after two all were given up.
    expect(abandoned).toEqual([]);
    expect(client.stats.resubscribes).toBeGreaterThanOrEqual(2);
    await waitFor(() => booksEqual(fake, client), 5000, "books equal");
  });

  it("a refused delta still counts its seq: the book is resynced at once, and the next frame is no gap", async () => {
    const { fake, client, events } = await setup();
    drive(fake, 50);
    await waitFor(() => booksEqual(fake, client), 5000, "books equal");
    fake.faults.corruptSeq("orderbook_delta", 1); // a 5-decimal price: the parser refuses the frame
    drive(fake, 1);
    // Before: nothing until a later frame showed the hole (minutes, in a quiet market), the book wrong meanwhile.
    await waitFor(() => health(events, "gap").length === 1, 5000, "gap at the refused frame");
    expect(health(events, "gap")[0]!.detail).toMatch(/refused frame at seq/);
    expect(client.stats.rejected).toBe(1);
    await waitFor(() => health(events, "resynced").length >= 2, 5000, "resynced");
    drive(fake, 50);
    await waitFor(() => booksEqual(fake, client), 5000, "books equal after the resync");
    expect(health(events, "gap")).toHaveLength(1);
  });

  it("many refused deltas ask for one resync at a time, not one each", async () => {
    const { fake, client, events } = await setup({ snapshotTimeoutMs: 300 });
    drive(fake, 20);
    await waitFor(() => booksEqual(fake, client), 5000, "books equal");
    fake.faults.corruptSeq("orderbook_delta", 200);
    drive(fake, 200);
    await waitFor(() => client.stats.rejected === 200, 5000, "all refused");
    const asked = fake.wsCommands.filter((c) => c.cmd === "update_subscription" && (c.params as { action: string }).action === "get_snapshot").length;
    expect(asked).toBeLessThanOrEqual(2); // before: 200, each for every market on the sid
    expect(health(events, "gap").length).toBeLessThanOrEqual(2);
    await waitFor(() => booksEqual(fake, client), 5000, "books equal after the resync");
  });

  it("a refused lifecycle frame is skipped: its seq counts, and the next frame is no gap", async () => {
    const subscribed: string[] = [];
    const { fake, client, events } = await setup({ channels: ["orderbook_delta", "market_lifecycle_v2"], onSubscribed: (channel) => subscribed.push(channel) });
    await waitFor(() => subscribed.includes("market_lifecycle_v2"), 5000, "lifecycle subscribed");
    const [a] = fake.state.tickers();
    const seen = () => events.filter((e) => e.kind === "market_info" || e.kind === "market_lifecycle").length;
    fake.state.lifecycle(a!, "metadata_updated", { strike_type: "greater_or_equal", floor_strike: 99_999 });
    await waitFor(() => seen() >= 1, 5000, "first lifecycle frame");
    fake.faults.corruptSeq("market_lifecycle_v2", 1); // a ticker that is a number: refused
    fake.state.lifecycle(a!, "metadata_updated", { strike_type: "greater_or_equal", floor_strike: 100_000 });
    fake.state.lifecycle(a!, "metadata_updated", { strike_type: "greater_or_equal", floor_strike: 100_001 });
    await waitFor(() => seen() >= 2, 5000, "the frame after the refused one");
    expect(client.stats.rejected).toBe(1);
    expect(health(events, "gap")).toEqual([]); // before: a gap, which blocked every market
  });

  it("the only market followed never answering: the subscription is made anew less and less often, reported once", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, seed: 3 });
    const f = fake;
    const events: EngineEvent[] = [];
    const c = new KalshiWsClient({ wsUrl: f.wsUrl, signer: KalshiSigner.fromFile(f.keyId, f.privateKeyPath), markets: ["KXBTCD-26JAN0117-T1.99"], channels: ["orderbook_delta"], snapshotTimeoutMs: 100, onEvent: (e) => events.push(e) });
    client = c;
    c.start();
    await new Promise((r) => setTimeout(r, 2000));
    // Waits of 100, 200, 400, 800 ms … : at most 4 resubscribes in 2 s (before: one every 100 ms, 19),
    // and the books reported unknown once, not at every round.
    expect(c.stats.resubscribes).toBeGreaterThanOrEqual(1);
    expect(c.stats.resubscribes).toBeLessThanOrEqual(5);
    expect(health(events, "gap").length).toBeLessThanOrEqual(1);
  });

  it("no snapshot within the timeout → unsubscribe + subscribe anew", async () => {
    const { fake, client, events } = await setup({ snapshotTimeoutMs: 300 });
    fake.faults.ignoreSnapshots(1);
    fake.faults.skipSeq(1);
    drive(fake, 50);
    await waitFor(() => client.stats.resubscribes === 1 && client.awaitingSnapshots().length === 0, 5000, "resubscribed");
    expect(fake.wsCommands.some((c) => c.cmd === "unsubscribe")).toBe(true);
    expect(fake.wsCommands.filter((c) => c.cmd === "subscribe").length).toBe(2);
    // The new subscription has a new sid; the old one is gone on the venue side.
    const subs = fake.subscriptions().filter((s) => s.channel === "orderbook_delta");
    expect(subs.length).toBe(1);
    expect(subs[0]!.sid).toBe(2);
    drive(fake, 200);
    await waitFor(() => booksEqual(fake, client), 5000, "books equal after resubscribe");
    expect(health(events, "resynced").length).toBeGreaterThanOrEqual(2);
    // The engine is told the books are unknown while the old sid's frames are dropped (before: nothing).
    expect(health(events, "gap").map((g) => g.detail)).toContainEqual(expect.stringMatching(/^resubscribing: no snapshot within/));
  });

  it("a terminal channel error (code 10) → resubscribe", async () => {
    const { fake, client } = await setup();
    fake.faults.channelError();
    await waitFor(() => client.stats.resubscribes === 1 && client.awaitingSnapshots().length === 0, 5000, "resubscribed after error 10");
    drive(fake, 200);
    await waitFor(() => booksEqual(fake, client), 5000, "books equal");
  });

  it("reconnects after a dropped connection and rebuilds books from fresh snapshots only", async () => {
    const { fake, client, events } = await setup();
    drive(fake, 100);
    fake.faults.dropConnections();
    // While disconnected the venue keeps changing: the old book must not be reused.
    await waitFor(() => health(events, "disconnected").length === 1, 3000, "disconnected");
    drive(fake, 300);
    await waitFor(() => client.stats.connects === 2 && client.awaitingSnapshots().length === 0, 5000, "reconnected");
    expect(health(events, "connected").length).toBe(2);
    drive(fake, 300);
    await waitFor(() => booksEqual(fake, client), 5000, "books equal after reconnect");
    expect(fake.stats.upgrades).toBe(2);
  });

  it("no frame and no ping for longer than staleAfterMs → FeedHealth stale and a new connection", async () => {
    const { fake, client, events } = await setup({ staleAfterMs: 300, snapshotTimeoutMs: 400 }, { flowIntervalMs: 20 });
    fake.faults.stall(1200);
    await waitFor(() => health(events, "stale").length >= 1, 3000, "stale");
    await waitFor(() => client.stats.connects >= 2 && client.connected && client.awaitingSnapshots().length === 0, 6000, "reconnected after stall");
    expect(health(events, "stale")[0]!.detail).toMatch(/no frame or ping/);
  });

  it("follows added markets (add_markets + snapshot) and drops removed ones", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, seed: 5 });
    const f = fake;
    const [a, b] = f.state.tickers();
    const signer = KalshiSigner.fromFile(f.keyId, f.privateKeyPath);
    const c = new KalshiWsClient({ wsUrl: f.wsUrl, signer, markets: [a!], channels: ["orderbook_delta"] });
    client = c;
    c.start();
    await waitFor(() => c.connected && c.awaitingSnapshots().length === 0, 5000, "first market");
    c.addMarkets([b!]);
    await waitFor(() => c.awaitingSnapshots().length === 0 && c.books.get(b!) !== undefined && !c.books.get(b!)!.stale, 5000, "added market");
    for (let i = 0; i < 300; i++) f.state.randomDelta(i % 2 ? a : b);
    await waitFor(() => [a!, b!].every((t) => JSON.stringify(c.books.get(t)!.levels().yesBids) === JSON.stringify(f.state.book(t).yes)), 5000, "two books equal");
    expect(c.stats.gaps).toBe(0); // the `ok` of add_markets consumed a seq and was accounted for
    c.removeMarkets([b!]);
    await waitFor(() => f.subscriptions().find((s) => s.channel === "orderbook_delta")!.tickers!.length === 1, 3000, "market removed on the venue");
    expect(f.subscriptions().find((s) => s.channel === "orderbook_delta")!.tickers).toEqual([a]);
  });
});

describe("Kalshi WS: an older server's subscribed ack without msg", () => {
  it("learns the sid from the channel's first frame: books build, gaps count, markets are added on that sid", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, seed: 17, legacySubscribedAcks: true });
    const f = fake;
    const [a, b] = f.state.tickers();
    const signer = KalshiSigner.fromFile(f.keyId, f.privateKeyPath);
    const c = new KalshiWsClient({ wsUrl: f.wsUrl, signer, markets: [a!], channels: ["orderbook_delta", "market_lifecycle_v2"], snapshotTimeoutMs: 400 });
    client = c;
    c.start();
    await waitFor(() => c.connected && c.awaitingSnapshots().length === 0 && c.books.get(a!)?.stale === false, 5000, "first market's snapshot");
    const sid = f.subscriptions().find((s) => s.channel === "orderbook_delta")!.sid;
    c.addMarkets([b!]);
    await waitFor(() => c.books.get(b!)?.stale === false, 5000, "added market");
    const add = f.wsCommands.find((x) => x.cmd === "update_subscription") as { params: { sid: number; action: string } } | undefined;
    expect(add?.params).toMatchObject({ sid, action: "add_markets" });
    for (let i = 0; i < 400; i++) f.state.randomDelta(i % 2 ? a : b);
    await waitFor(() => [a!, b!].every((t) => JSON.stringify(c.books.get(t)!.levels().yesBids) === JSON.stringify(f.state.book(t).yes)), 5000, "books equal");
    expect(c.stats.gaps).toBe(0);
    expect(c.stats.droppedStaleSid).toBe(0);
    // The learnt sid is counted like any other: a lost delta is a gap, and the books heal.
    f.faults.skipSeq(1);
    for (let i = 0; i < 50; i++) f.state.randomDelta(a);
    await waitFor(() => c.stats.gaps === 1 && JSON.stringify(c.books.get(a!)!.levels().yesBids) === JSON.stringify(f.state.book(a!).yes) && !c.books.get(a!)!.stale, 5000, "gap seen and healed");
  });
});

describe("Kalshi WS: lost snapshots on a channel whose sid is not known yet (older server's acks)", () => {
  for (const legacy of [false, true]) {
    it(`leaves one live subscription at the venue, as with sids in the acks (legacy acks ${legacy})`, async () => {
      fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, seed: 17, legacySubscribedAcks: legacy });
      const f = fake;
      const [a] = f.state.tickers();
      f.faults.withholdSnapshots(700);
      const signer = KalshiSigner.fromFile(f.keyId, f.privateKeyPath);
      const c = new KalshiWsClient({ wsUrl: f.wsUrl, signer, markets: [a!], channels: ["orderbook_delta"], snapshotTimeoutMs: 400, reconnectBaseMs: 20, reconnectMaxMs: 200 });
      client = c;
      c.start();
      await waitFor(() => c.connected && c.awaitingSnapshots().length === 0 && c.books.get(a!)?.stale === false, 8000, "book after the withheld snapshots");
      // The fake's own subscription list is the oracle (before: three live orderbook subscriptions).
      expect(f.subscriptions().filter((s) => s.channel === "orderbook_delta").length).toBe(1);
      for (let i = 0; i < 50; i++) f.state.randomDelta(a);
      await waitFor(() => JSON.stringify(c.books.get(a!)!.levels().yesBids) === JSON.stringify(f.state.book(a!).yes), 5000, "book equal");
    }, 20_000);
  }
});

describe("Kalshi WS: a market the venue does not know, added mid-session", () => {
  it("the venue's marketNotFound answer (no ticker, the command's id) gives that market up, with no resubscribe", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, seed: 5, answerUnknownTickers: true });
    const f = fake;
    const [a] = f.state.tickers();
    const ghost = "KXBTCD-26JAN0117-T1.99";
    const abandoned: string[] = [];
    const c = new KalshiWsClient({ wsUrl: f.wsUrl, signer: KalshiSigner.fromFile(f.keyId, f.privateKeyPath), markets: [a!], channels: ["orderbook_delta"], snapshotTimeoutMs: 300, onMarketAbandoned: (m) => abandoned.push(m) });
    client = c;
    c.start();
    await waitFor(() => c.connected && c.awaitingSnapshots().length === 0, 5000, "first market");
    c.addMarkets([ghost]);
    await waitFor(() => abandoned.length === 1, 5000, "ghost given up");
    expect(abandoned).toEqual([ghost]);
    await new Promise((r) => setTimeout(r, 700)); // two snapshot timeouts
    // Before: the answer named no market, so after the timeout the whole book channel was made anew.
    expect(c.stats.resubscribes).toBe(0);
    expect(f.wsCommands.filter((x) => x.cmd === "subscribe").length).toBe(1);
    expect(c.awaitingSnapshots()).toEqual([]);
  });
});

describe("Kalshi WS private channels", () => {
  it("user_orders, fill and market_positions of our own order arrive as OrderUpdate / OwnFill / position pushes", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, seed: 8 });
    const f = fake;
    const events: EngineEvent[] = [];
    const positions: { market: string; position: number }[] = [];
    const c = new KalshiWsClient({
      wsUrl: f.wsUrl,
      signer: KalshiSigner.fromFile(f.keyId, f.privateKeyPath),
      markets: [],
      channels: ["fill", "user_orders", "market_positions"],
      onEvent: (e) => events.push(e),
      onPosition: (p) => positions.push({ market: p.market, position: p.position }),
    });
    client = c;
    c.start();
    await waitFor(() => f.subscriptions().length === 3, 3000, "3 private subscriptions");
    const t = f.state.tickers()[0]!;
    const bestNo = f.state.bestBid(t, "no")!;
    // Buy 1 YES at the best ask (1 − best NO bid): a taker fill at that price.
    f.state.createOrder({ ticker: t, side: "bid", count: 100, price: 10_000 - bestNo.price, tif: "immediate_or_cancel", postOnly: false, reduceOnly: false, clientOrderId: "own-1" });
    await waitFor(() => events.some((e) => e.kind === "fill") && events.some((e) => e.kind === "order_update") && positions.length > 0, 3000, "private events");
    const fill = events.find((e) => e.kind === "fill")!;
    const truth = f.state.fills()[0]!;
    expect(fill).toMatchObject({ tradeId: truth.tradeId, orderId: truth.orderId, clientOrderId: "own-1", market: t, bookSide: "bid", outcomeSide: "yes", yesPrice: 10_000 - bestNo.price, count: 100, fee: truth.fee, isTaker: true });
    const upd = events.filter((e) => e.kind === "order_update").at(-1)!;
    expect(upd).toMatchObject({ clientOrderId: "own-1", market: t, status: "executed", filled: 100, remaining: 0 });
    expect(positions.at(-1)).toEqual({ market: t, position: 100 });
  });
});
