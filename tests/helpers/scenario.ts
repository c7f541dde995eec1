/**
 * Hand-built event streams for engine tests: one KXBTCD-like market, a warm-up of spot quotes on a
 * 1-s grid (a seeded random walk), a book, optional faults. Small and explicit so expectations can
 * be derived by hand.
 */
import type { BookDelta, BookSnapshot, EngineEvent, MarketInfo, SpotQuote } from "../../lib/core/events.ts";
import { LINEAR_CENT } from "../../lib/core/grid.ts";
import { mulberry32 } from "../../lib/core/prng.ts";

export const T0 = Date.UTC(2026, 10, 25, 16, 0, 0) * 1000; // 2026-11-25 16:00:00 UTC in µs
export const S = 1_000_000;

export function marketInfo(market: string, floorStrike: number, closeTs: number, over: Partial<MarketInfo> = {}): MarketInfo {
  return {
    kind: "market_info",
    tsRecv: T0,
    tsExchange: null,
    market,
    eventTicker: market.split("-").slice(0, 2).join("-"),
    seriesTicker: "KXBTCD",
    strikeType: "greater",
    floorStrike,
    capStrike: Number.NaN,
    openTime: T0 - 3600 * S,
    closeTime: closeTs,
    settleTime: closeTs,
    priceRanges: LINEAR_CENT,
    feeType: "quadratic",
    feeMultiplier: 1,
    status: "active",
    ...over,
  };
}

export function spot(ts: number, mid: number, halfSpread = 0.5): SpotQuote {
  return { kind: "spot_quote", tsRecv: ts, tsExchange: ts - 1000, productId: "BTC-USD", bid: mid - halfSpread, ask: mid + halfSpread, bidSize: 1, askSize: 1, last: mid, seq: -1 };
}

export function snapshot(ts: number, market: string, sid: number, seq: number, yes: [number, number][], no: [number, number][]): BookSnapshot {
  return { kind: "book_snapshot", tsRecv: ts, tsExchange: null, market, sid, seq, yesBids: yes, noBids: no };
}

export function delta(ts: number, market: string, sid: number, seq: number, side: "yes" | "no", price: number, d: number): BookDelta {
  return { kind: "book_delta", tsRecv: ts, tsExchange: null, market, sid, seq, side, price, delta: d, clientOrderId: null };
}

/** `seconds` of 1-s spot quotes from T0 with per-second log-returns of std `perSecondVol`. */
export function spotWalk(seconds: number, start: number, perSecondVol: number, seed: number, from = T0): SpotQuote[] {
  const rng = mulberry32(seed);
  const out: SpotQuote[] = [];
  let x = start;
  for (let i = 0; i < seconds; i++) {
    // Box–Muller from the seeded PRNG.
    const u = Math.max(rng(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
    x *= Math.exp(perSecondVol * z);
    out.push(spot(from + i * S, x));
  }
  return out;
}

/** Merge event lists by tsRecv, stable. */
export function merge(...lists: EngineEvent[][]): EngineEvent[] {
  return lists
    .flat()
    .map((e, i) => [e, i] as const)
    .sort((a, b) => a[0].tsRecv - b[0].tsRecv || a[1] - b[1])
    .map(([e]) => e);
}
