/**
 * The fake venue's rolling mode speaks the documented lifecycle (AsyncAPI marketLifecycleV2 /
 * eventLifecycle): per window event_lifecycle + created (no strike yet), metadata_updated with the
 * strike, determined with the result, settled; REST lists a market as open only while it trades.
 */
import { afterEach, describe, expect, test } from "vitest";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiRestClient } from "../../lib/venues/kalshi/rest.ts";
import { KalshiWsClient } from "../../lib/venues/kalshi/ws.ts";
import { waitFor } from "../venues/helpers.ts";

let fake: FakeKalshi | null = null;
let client: KalshiWsClient | null = null;
let rest: KalshiRestClient | null = null;
afterEach(async () => {
  await client?.close();
  rest?.close();
  await fake?.close();
  fake = client = rest = null;
});

describe("rolling fake", () => {
  test("windows open, get their strike, close, are determined and settle, in that order", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 20, brtiIntervalMs: 100, tickerIntervalMs: 0, rolling: { windowSeconds: 1, maxWindows: 4 } });
    const f = fake;
    const signer = KalshiSigner.fromFile(f.keyId, f.privateKeyPath);
    const frames: Record<string, unknown>[] = [];
    client = new KalshiWsClient({ wsUrl: f.wsUrl, signer, markets: [], channels: ["market_lifecycle_v2"], onFrame: (x) => x.dir === "recv" && frames.push(JSON.parse(x.text)) });
    client.start();
    rest = new KalshiRestClient({ restUrl: f.restUrl, signer });
    await waitFor(() => f.subscriptions().length === 1, 3000, "subscribed");
    const open = await rest.discoverMarkets({ seriesTickers: ["KXBTC15M"], withSeriesFees: false });
    expect(open.length).toBeLessThanOrEqual(1);
    await waitFor(() => f.state.settlements().length === 4, 8000, "4 windows settled");
    // …and their frames have reached us.
    const lastTicker = [...f.state.markets.values()].sort((a, b) => a.openMs - b.openMs).at(-1)!.ticker;
    await waitFor(() => frames.some((x) => (x.msg as Record<string, unknown>)?.event_type === "settled" && (x.msg as Record<string, unknown>)?.market_ticker === lastTicker), 5000, "the last settled frame");
    const markets = [...f.state.markets.values()];
    expect(markets).toHaveLength(4);
    for (const m of markets) {
      const mine = frames.filter((x) => (x.msg as Record<string, unknown>)?.market_ticker === m.ticker || (x.msg as Record<string, unknown>)?.event_ticker === m.eventTicker);
      const kinds = mine.map((x) => (x.type === "market_lifecycle_v2" ? (x.msg as Record<string, string>).event_type : x.type));
      // The first window may have opened before we subscribed.
      const tail = ["event_lifecycle", "created", "metadata_updated", "determined", "settled"];
      expect(tail.slice(tail.length - kinds.length)).toEqual(kinds);
      expect(m.status).toBe("finalized");
      expect(m.floorStrike).not.toBeNull();
      expect(m.result).toBe(m.history!.closeIndex >= m.floorStrike! ? "yes" : "no");
      expect(m.history!.closedMs).toBeGreaterThanOrEqual(m.closeMs);
    }
    // Every sequenced frame of the lifecycle sid, in order.
    const seqs = frames.filter((x) => typeof x.seq === "number").map((x) => x.seq as number);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    expect(await rest.discoverMarkets({ seriesTickers: ["KXBTC15M"], withSeriesFees: false })).toEqual([]);
  });
});
