/**
 * "Found by reading", bug 7: discovery stopped at KALSHI_MARKET_LIMIT × KALSHI_MARKET_MAX_PAGES without
 * a word. Hitting the cap (the venue still returned a cursor) must warn, and be counted.
 */
import { afterEach, describe, expect, test } from "vitest";
import { createLogger } from "../../lib/live/logger.ts";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiRestClient } from "../../lib/venues/kalshi/rest.ts";

let fake: FakeKalshi | null = null;
let rest: KalshiRestClient | null = null;
afterEach(async () => {
  rest?.close();
  await fake?.close();
  fake = null;
  rest = null;
});

describe("discovery cap", () => {
  test("limit × maxPages reached with a cursor left → a warning naming the series and the cap", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, extraMarkets: 20 });
    const f = fake;
    const lines: string[] = [];
    const logger = createLogger({ sink: (l) => lines.push(l), level: "debug" });
    rest = new KalshiRestClient({ restUrl: f.restUrl, signer: KalshiSigner.fromFile(f.keyId, f.privateKeyPath), logger });
    const found = await rest.discoverMarkets({ seriesTickers: ["KXBTCD"], limit: 5, maxPages: 2, withSeriesFees: false });
    expect(found).toHaveLength(10);
    const warns = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.level === "warn" && String(r.msg).includes("cap"));
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ series: "KXBTCD", limit: 5, maxPages: 2 });
    expect(rest.counters.discoveryCapHits).toBe(1);
    // Under the cap: no warning.
    lines.length = 0;
    await rest.discoverMarkets({ seriesTickers: ["KXBTC"], limit: 5, maxPages: 2, withSeriesFees: false });
    expect(lines.some((l) => l.includes("cap"))).toBe(false);
  });
});
