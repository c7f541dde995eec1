/**
 * A settled market stays settled. kalshi-api.md §8.10: "`status=open` lists can briefly include
 * just-settled markets — filter by close_time yourself". The directory drops a market's record at
 * `settled` (long runs stay flat), so without a tombstone a cached listing (or a late WS record) made
 * the market anew as `active` — and the engine unpaused it. Records of an open market past its close
 * are stale too. Tombstones are bounded: kept only until well after the close, judged on event time.
 */
import { describe, expect, it } from "vitest";
import type { EngineEvent, MarketInfo } from "../../lib/core/events.ts";
import { MarketDirectory } from "../../lib/core/markets.ts";
import { KalshiMarketFeed } from "../../lib/live/market-feed.ts";
import { parseKalshiFrame, parseKalshiMarket } from "../../lib/venues/kalshi/parse.ts";

const M = "KXBTC15M-26SEP292030-30";
const US = 1_000_000;
const iso = (s: string) => Date.parse(s) * 1000;
const OPEN = iso("2026-09-30T00:15:00Z");
const CLOSE = iso("2026-09-30T00:30:00Z");

/** The REST Market object as an `status=open` listing serves it (kalshi-api.md §5). */
function listing(ticker: string, tsRecv: number, close = "2026-09-30T00:30:00Z"): MarketInfo {
  return parseKalshiMarket(
    { ticker, event_ticker: ticker.slice(0, ticker.lastIndexOf("-")), strike_type: "greater_or_equal", floor_strike: 109812.37, open_time: "2026-09-30T00:15:00Z", close_time: close, status: "active" },
    tsRecv,
  );
}

function frames(tsRecv: number, ...msgs: Record<string, unknown>[]): EngineEvent[] {
  const out: EngineEvent[] = [];
  msgs.forEach((msg, i) => {
    const r = parseKalshiFrame(JSON.stringify({ type: "market_lifecycle_v2", sid: 4, seq: i + 1, msg }), tsRecv, { useYesPrice: false });
    if (!r.ok) throw new Error(r.error);
    out.push(...r.events);
  });
  return out;
}

const determined = { market_ticker: M, event_type: "determined", result: "yes", settlement_value: "1.0000", determination_ts: 1790721060 };
const settled = { market_ticker: M, event_type: "settled", settled_ts: 1790721061 };

describe("directory: finalized markets are not resurrected", () => {
  it("a stale listing after settled (close still ahead: an early settlement) is refused", () => {
    const d = new MarketDirectory();
    d.upsert(listing(M, OPEN + 60 * US));
    const t = OPEN + 120 * US; // settled well before the scheduled close
    for (const e of frames(t, determined, settled)) if (e.kind === "market_lifecycle") d.lifecycle(e);
    d.forget(M, t);
    expect(d.upsert(listing(M, t + 5 * US))).toBeNull();
    expect(d.get(M)).toBeUndefined();
    // Nor does a WS piece queue up for it (it would wait for a record that never comes).
    expect(d.patch({ market: M, tsRecv: t + 6 * US, tsExchange: null, exchangeIndex: 2 })).toBeNull();
    expect(d.sizes().pending).toBe(0);
  });

  it("an active listing of a market we never saw, received after its close, is taken as closed", () => {
    const d = new MarketDirectory();
    // Kept (after a restart it may be the only record of a position that must settle), never tradeable.
    expect(d.upsert(listing(M, CLOSE + 1))).toMatchObject({ status: "closed" });
    expect(d.get(M)).toMatchObject({ status: "closed" });
    // A closed/determined listing after the close is fine (it says what happened).
    expect(d.upsert({ ...listing(M, CLOSE + 2), status: "determined" })).toMatchObject({ status: "determined" });
    // And an open listing before its close is the ordinary case.
    expect(new MarketDirectory().upsert(listing(M, CLOSE - 1))).toMatchObject({ status: "active" });
  });

  it("tombstones (and patches waiting for a record that never comes) are bounded by event time", () => {
    const d = new MarketDirectory();
    const t0 = OPEN + 60 * US;
    for (let i = 0; i < 50; i++) {
      const m = `KXBTC15M-26SEP292030-X${i}`;
      d.upsert(listing(m, t0));
      d.forget(m, t0 + 120 * US);
    }
    d.patch({ market: "KXBTC15M-26SEP292030-NEVER", tsRecv: t0, tsExchange: null, exchangeIndex: 2 });
    expect(d.sizes()).toMatchObject({ records: 0, finalized: 50, pending: 1 });
    // Two days of event time later (a listing of another window), they are gone.
    const later = CLOSE + 2 * 86_400 * US;
    d.upsert(listing("KXBTC15M-26OCT022030-30", later, "2026-10-02T20:30:00Z"));
    expect(d.sizes()).toMatchObject({ records: 1, finalized: 0, pending: 0 });
  });
});

describe("feed: a stale REST listing after settled", () => {
  async function run(settleAt: number, relistAt: number): Promise<MarketInfo[]> {
    let now = OPEN + 5 * 60 * US;
    const rest = {
      discover: async () => ({ markets: [listing(M, now)], shards: new Map<string, number>(), capHit: false }),
      getSeries: async () => {
        throw new Error("no series");
      },
    };
    const out: EngineEvent[] = [];
    const feed = new KalshiMarketFeed({ rest: rest as never, ws: {} as never, selection: { series: ["KXBTC15M"] }, discoverySeconds: 0, withWebSocket: false, onEvent: (e) => out.push(e), clock: () => now });
    await feed.start();
    now = settleAt;
    const f = feed as unknown as { onWsEvent(e: EngineEvent): void; rediscover(): Promise<void> };
    for (const e of frames(now, determined, settled)) f.onWsEvent(e);
    const n = out.length;
    now = relistAt;
    await f.rediscover(); // the cached open listing still has it, status active
    await feed.close();
    expect(feed.isFollowed(M)).toBe(false);
    return out.slice(n).filter((e): e is MarketInfo => e.kind === "market_info" && e.market === M);
  }

  it("after the close: no record is emitted", async () => {
    expect((await run(CLOSE + 60 * US, CLOSE + 61 * US)).map((m) => m.status)).toEqual([]);
  });

  it("settled early, before the scheduled close: no record is emitted either", async () => {
    expect((await run(OPEN + 6 * 60 * US, OPEN + 7 * 60 * US)).map((m) => m.status)).toEqual([]);
  });
});
