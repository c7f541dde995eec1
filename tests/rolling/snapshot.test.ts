/**
 * "Found by reading", bug 3: a subscribed ticker whose snapshot never comes (closed, unknown) made the
 * client resubscribe everything every few seconds and reconnect after three misses, for ever,
 * resetting every good book each time. Now the client gives up on that one market (it is reported
 * and dropped from the subscriptions) and keeps the good books. The oracle is the fake's own state:
 * its subscription list, its upgrade count and its books.
 */
import { afterEach, describe, expect, test } from "vitest";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiWsClient } from "../../lib/venues/kalshi/ws.ts";
import { waitFor } from "../venues/helpers.ts";

let fake: FakeKalshi | null = null;
let client: KalshiWsClient | null = null;
afterEach(async () => {
  await client?.close();
  await fake?.close();
  client = null;
  fake = null;
});

describe("a snapshot that never comes", () => {
  test("gives up on that market only: no resubscribe loop, no reconnect, good books kept", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, seed: 11 });
    const f = fake;
    const good = f.state.tickers();
    const ghost = "KXBTCD-26JAN0117-T1.99"; // not a market of this venue: no snapshot will ever come
    const abandoned: string[] = [];
    client = new KalshiWsClient({
      wsUrl: f.wsUrl,
      signer: KalshiSigner.fromFile(f.keyId, f.privateKeyPath),
      markets: [...good, ghost],
      channels: ["orderbook_delta"],
      snapshotTimeoutMs: 150,
      reconnectBaseMs: 20,
      onMarketAbandoned: (m) => abandoned.push(m),
    });
    const c = client;
    c.start();
    await waitFor(() => abandoned.length === 1, 5000, "ghost market given up");
    expect(abandoned).toEqual([ghost]);
    expect(c.awaitingSnapshots()).toEqual([]);
    expect(c.abandonedMarkets()).toEqual([ghost]);
    expect(c.subscribedMarkets()).toEqual(good);
    // Let several more timeouts pass: nothing else happens.
    await new Promise((r) => setTimeout(r, 800));
    expect(f.stats.upgrades).toBe(1);
    expect(f.wsCommands.filter((x) => x.cmd === "subscribe").length).toBe(1);
    expect(f.wsCommands.filter((x) => x.cmd === "unsubscribe").length).toBe(0);
    for (let i = 0; i < 300; i++) f.state.randomDelta();
    await waitFor(() => good.every((m) => JSON.stringify(c.books.get(m)?.levels().yesBids) === JSON.stringify(f.state.book(m).yes) && c.books.get(m)!.stale === false), 5000, "good books equal the fake's");
    expect(c.stats.gaps).toBe(0);
  });
});
