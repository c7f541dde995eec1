/** Coinbase WS client against the fake Advanced Trade feed (oracle: the fake's last ticker state). */
import { afterEach, describe, expect, it } from "vitest";
import type { EngineEvent, SpotQuote } from "../../lib/core/events.ts";
import type { RawFrame } from "../../lib/tape/types.ts";
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

async function setup(o: Partial<CoinbaseWsOptions> = {}, f: FakeCoinbaseOptions = {}) {
  fake = await startFakeCoinbase({ tickerIntervalMs: 20, heartbeatIntervalMs: 100, ...f });
  const events: EngineEvent[] = [];
  const frames: RawFrame[] = [];
  client = new CoinbaseWsClient({ wsUrl: fake.wsUrl, productId: "BTC-USD", onEvent: (e) => events.push(e), onFrame: (fr) => frames.push(fr), reconnectBaseMs: 20, reconnectMaxMs: 100, ...o });
  client.start();
  await waitFor(() => events.some((e) => e.kind === "spot_quote"), 3000, "first quote");
  return { fake, client, events, frames };
}

const quotes = (es: readonly EngineEvent[]) => es.filter((e): e is SpotQuote => e.kind === "spot_quote");

describe("Coinbase WS", () => {
  it("subscribes heartbeats (no product ids), ticker and level2 one channel per message; quotes match the feed", async () => {
    const { fake, client, events } = await setup({ level2: true });
    await waitFor(() => quotes(events).length >= 10, 3000, "10 quotes");
    expect(fake.received).toEqual([
      { type: "subscribe", channel: "heartbeats" },
      { type: "subscribe", channel: "ticker", product_ids: ["BTC-USD"] },
      { type: "subscribe", channel: "level2", product_ids: ["BTC-USD"] },
    ]);
    await client.close();
    // Each quote carries the bid/ask the venue put in the frame with that sequence_num.
    const bySeq = new Map(fake.sentTickers.map((t) => [t.seq, t]));
    for (const q of quotes(events)) {
      const sent = bySeq.get(q.seq)!;
      expect([q.productId, q.bid, q.ask]).toEqual([sent.productId, sent.bid, sent.ask]);
    }
    expect(quotes(events).length).toBe(fake.sentTickers.length);
    expect(client.stats.gaps).toBe(0);
    expect(client.stats.rejected).toBe(0);
  });

  it("lost frames → FeedHealth gap naming expected and received sequence_num", async () => {
    const { fake, client, events } = await setup();
    fake.faults.skipSequence(3);
    await waitFor(() => health(events, "gap").length === 1, 3000, "gap");
    expect(client.stats.gaps).toBe(1);
    const m = /expected (\d+), got (\d+)/.exec(health(events, "gap")[0]!.detail)!;
    expect(Number(m[2]) - Number(m[1])).toBe(3);
    // Tickers are full state: the quote of the frame that showed the gap heals the feed, announced
    // once. The gap is reported after that frame's own events, as a replay from the raw layer (the
    // frame re-parsed, then the recorded report) sees it.
    await waitFor(() => health(events, "resynced").length === 1, 3000, "resynced");
    const gap = health(events, "gap")[0]!;
    const iGap = events.indexOf(gap);
    const iResync = events.indexOf(health(events, "resynced")[0]!);
    expect(iResync).toBeGreaterThan(iGap);
    expect(events[iGap - 1]).toMatchObject({ kind: "spot_quote", tsRecv: gap.tsRecv });
  });

  it("reconnects after a drop; sequence_num restarts without a false gap", async () => {
    const { fake, client, events } = await setup();
    fake.faults.dropConnections();
    await waitFor(() => client.stats.connects === 2 && quotes(events).length > 0 && health(events, "connected").length === 2, 3000, "reconnect");
    const n = quotes(events).length;
    await waitFor(() => quotes(events).length > n + 5, 3000, "quotes after reconnect");
    expect(health(events, "disconnected").length).toBe(1);
    expect(client.stats.gaps).toBe(0);
    expect(fake.stats.connections).toBe(2);
  });

  it("stall longer than staleAfterMs → FeedHealth stale, then a fresh connection", async () => {
    const { fake, client, events } = await setup({ staleAfterMs: 250 });
    fake.faults.stall(800);
    await waitFor(() => health(events, "stale").length >= 1, 3000, "stale");
    await waitFor(() => client.connected && client.stats.connects >= 2, 4000, "reconnected");
    const n = quotes(events).length;
    await waitFor(() => quotes(events).length > n, 3000, "quotes flow again");
  });

  it("malformed frames are counted, kept in the raw layer and skipped", async () => {
    const { fake, client, events, frames } = await setup();
    fake.faults.malformed(3);
    await waitFor(() => client.stats.rejected === 3, 3000, "3 rejects");
    expect(frames.some((f) => f.text === "{oops")).toBe(true);
    const n = quotes(events).length;
    await waitFor(() => quotes(events).length > n + 3, 3000, "quotes continue");
    expect(client.stats.gaps).toBe(0);
  });

  it("a real frame it refuses still consumed its sequence_num: no gap is reported after it", async () => {
    const { fake, client, events } = await setup();
    const n0 = quotes(events).length;
    await waitFor(() => quotes(events).length > n0 + 2, 3000, "quotes flow");
    fake.faults.refusedSequenced(2);
    await waitFor(() => client.stats.rejected === 2, 3000, "2 rejects");
    const n = quotes(events).length;
    await waitFor(() => quotes(events).length > n + 3, 3000, "quotes continue");
    expect(client.stats.gaps).toBe(0);
  });

  it("one bad ticker entry is counted and logged alone; the frame's good entry arrives, no gap, no frame reject", async () => {
    const { fake, client, events } = await setup();
    const n0 = quotes(events).length;
    await waitFor(() => quotes(events).length > n0 + 2, 3000, "quotes flow");
    fake.faults.partlyBadTickers(3);
    await waitFor(() => client.stats.refusedEntries === 3, 3000, "3 refused entries");
    expect(client.stats.rejected).toBe(0);
    expect(client.stats.gaps).toBe(0);
    // Every good entry the venue sent arrived, bad ones did not: quotes equal the venue's oracle.
    await client.close();
    const mine = quotes(events).map((q) => `${q.seq}:${q.productId}:${q.bid}:${q.ask}`);
    const venue = fake.sentTickers.map((t) => `${t.seq}:${t.productId}:${t.bid}:${t.ask}`);
    expect(mine).toEqual(venue);
  });
});
