/**
 * "Found by reading", bug 1: a `metadata_updated` frame is parsed into a partial MarketInfo (times −1,
 * no price ranges). It must be MERGED over the known record — in the engine, in the simulated venue's
 * order checks and in the settlement fallback — never replace it. The partial record used here is the
 * parser's own output for a real frame shape (AsyncAPI metadataUpdated example), so the test follows
 * the wire, not a hand-made sentinel.
 */
import { describe, expect, test } from "vitest";
import { DEFAULT_ENGINE_CONFIG } from "../../lib/core/config.ts";
import type { EngineEvent, MarketInfo, OrderUpdate } from "../../lib/core/events.ts";
import { MarketDirectory, mergeMarketInfo } from "../../lib/core/markets.ts";
import type { AuditRecord, Opportunity } from "../../lib/core/records.ts";
import { TradingSession } from "../../lib/run/session.ts";
import { ConservativeQueue, ConstantLatency } from "../../lib/sim/models.ts";
import { SettlementFallback } from "../../lib/sim/settlement.ts";
import { SimVenue } from "../../lib/sim/venue.ts";
import { parseKalshiFrame, parseKalshiMarket } from "../../lib/venues/kalshi/parse.ts";
import { S, T0, marketInfo, merge, snapshot, spotWalk } from "../helpers/scenario.ts";

const M = "KXBTC15M-26NOV251115-15";
const CLOSE = T0 + 900 * S;

/** The record as `created` / REST gave it: strike unknown yet (NaN), times and grid known. */
function created(): MarketInfo {
  return marketInfo(M, Number.NaN, CLOSE, { seriesTicker: "KXBTC15M", eventTicker: "KXBTC15M-26NOV251115", strikeType: "greater_or_equal", openTime: T0 - 60 * S, feeMultiplier: 1 });
}

/** What the WS parser hands out for a metadata_updated frame announcing the strike. */
function metadataUpdated(ts: number, strike: number): MarketInfo {
  const frame = JSON.stringify({ type: "market_lifecycle_v2", sid: 7, seq: 3, msg: { event_type: "metadata_updated", market_ticker: M, strike_type: "greater_or_equal", floor_strike: strike } });
  const r = parseKalshiFrame(frame, ts, { useYesPrice: false });
  if (!r.ok) throw new Error(r.error);
  const info = r.events.find((e): e is MarketInfo => e.kind === "market_info");
  if (info) return info;
  // Parsers that route metadata_updated through the directory return a patch: build the partial record
  // the way older tapes hold it, so the consumer-side merge is tested either way.
  return { ...created(), tsRecv: ts, floorStrike: strike, openTime: -1, closeTime: -1, settleTime: -1, priceRanges: [], status: "", feeMultiplier: Number.NaN };
}

function partial(ts: number, strike: number): MarketInfo {
  return { ...created(), tsRecv: ts, floorStrike: strike, openTime: -1, closeTime: -1, settleTime: -1, priceRanges: [], status: "", feeMultiplier: Number.NaN };
}

describe("partial market info is merged, never replaces the record", () => {
  test("engine: after metadata_updated the market keeps its times and is evaluated with the announced strike", () => {
    const records: AuditRecord[] = [];
    const session = new TradingSession({ config: DEFAULT_ENGINE_CONFIG, executor: "sim", tradingEnabled: true, onRecord: (r) => records.push(r), onIntent: () => {} });
    const events: EngineEvent[] = merge(
      [created(), partial(T0 + 2 * S, 100_012.5)],
      spotWalk(400, 100_000, 0.0001, 7),
      [snapshot(T0 + S, M, 1, 1, [[4800, 1000]], [[5000, 1000]])],
    );
    for (const e of events) session.push(e);
    const info = session.engine.marketInfo(M)!;
    expect(info.closeTime).toBe(CLOSE);
    expect(info.openTime).toBe(T0 - 60 * S);
    expect(info.priceRanges.length).toBeGreaterThan(0);
    expect(info.floorStrike).toBe(100_012.5);
    expect(info.feeMultiplier).toBe(1);
    const opps = records.filter((r): r is Opportunity => r.kind === "opportunity" && r.market === M && r.ts > T0 + 2 * S);
    expect(opps.length).toBeGreaterThan(50);
    expect(opps.every((o) => o.floorStrike === 100_012.5)).toBe(true);
  });

  test("simulated venue: an order after metadata_updated is accepted (not MARKET_INACTIVE)", () => {
    const v = new SimVenue({ latency: new ConstantLatency(1000, 1000), queue: new ConservativeQueue(), fee: () => 0, writeTokensPerSecond: 100, writeBucketCapacity: 100, createCost: 10, cancelCost: 2 });
    v.onMarketEvent(created());
    v.onMarketEvent(snapshot(T0, M, 1, 1, [[4000, 1000]], [[5000, 1000]]));
    v.onMarketEvent(partial(T0 + S, 100_012.5));
    v.place({ kind: "place_order", ts: T0 + 2 * S, clientOrderId: "c1", market: M, outcome: "yes", action: "buy", price: 5000, count: 100, tif: "immediate_or_cancel", postOnly: false, reduceOnly: false, evalId: "e" });
    v.advance(T0 + 3 * S);
    const out = v.drainBefore(T0 + 3 * S);
    const u = out.filter((e): e is OrderUpdate => e.kind === "order_update");
    expect(u.map((x) => x.reason)).not.toContain("MARKET_INACTIVE");
    expect(out.some((e) => e.kind === "fill")).toBe(true);
  });

  test("settlement fallback: the strike from metadata_updated decides, at the original settle time", () => {
    const t = new SettlementFallback(900, 60);
    t.onEvent(created());
    t.onEvent(partial(T0 + S, 100_012.5));
    const out: ReturnType<SettlementFallback["onEvent"]> = [];
    for (let i = 0; i < 960; i++) out.push(...t.onEvent({ kind: "index_value", tsRecv: T0 + i * S, tsExchange: null, indexId: "BRTI", value: 100_020, avg60s: Number.NaN, quarterAvg: Number.NaN, quarterTicks: 0, sid: 2, seq: i + 1 }));
    out.push(...t.finish(CLOSE + 1000 * S));
    const mine = out.filter((l) => l.market === M);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.result).toBe("yes"); // 100 020 ≥ 100 012.5
    expect(mine[0]!.tsRecv).toBeGreaterThanOrEqual(CLOSE);
  });

  test("mergeMarketInfo keeps the fee schedule when the update carries none", () => {
    const prior = { ...created(), feeType: "quadratic_with_maker_fees" as const, feeMultiplier: 0.5 };
    const merged = mergeMarketInfo(prior, metadataUpdated(T0 + S, 100_001));
    expect(merged).toMatchObject({ feeType: "quadratic_with_maker_fees", feeMultiplier: 0.5, closeTime: CLOSE, floorStrike: 100_001 });
  });

  test("directory: one merged record per market; a patch before the record is applied once it arrives", () => {
    const d = new MarketDirectory();
    expect(d.patch({ market: M, tsRecv: T0, tsExchange: null, floorStrike: 100_012.5, strikeType: "greater_or_equal" })).toBeNull();
    const r = d.upsert(created())!;
    expect(r).toMatchObject({ floorStrike: 100_012.5, closeTime: CLOSE });
    // The same listing again changes nothing: no new row.
    expect(d.upsert({ ...created(), floorStrike: Number.NaN, tsRecv: T0 + S })).toBeNull();
    expect(d.get(M)!.floorStrike).toBe(100_012.5);
  });

  /** Directory state after the REST record of a KXBTC market, then one WS frame's market data. */
  function afterFrame(msg: Record<string, unknown>): MarketDirectory {
    const d = new MarketDirectory();
    d.upsert(
      parseKalshiMarket(
        {
          ticker: "KXBTC-25APR30-T0915-B95000", event_ticker: "KXBTC-25APR30", strike_type: "between", floor_strike: 94_750, cap_strike: 94_999.99,
          open_time: "2025-04-30T12:00:00Z", close_time: "2025-04-30T13:15:00Z", price_ranges: [{ start: "0.0000", end: "1.0000", step: "0.0010" }],
        },
        1,
      ),
    );
    const r = parseKalshiFrame(JSON.stringify({ type: "market_lifecycle_v2", sid: 13, seq: 2, msg: { market_ticker: "KXBTC-25APR30-T0915-B95000", ...msg } }), 3, { useYesPrice: false });
    if (!r.ok) throw new Error(r.error);
    for (const e of r.events) if (e.kind === "market_info") d.upsert(e);
    if (r.patch) d.patch(r.patch);
    return d;
  }

  test("metadata_updated without an event ticker keeps the record's (no guess from the market ticker)", () => {
    // The AsyncAPI example: the frame names no event. Guessing "KXBTC-25APR30-T0915" cut the market off
    // its event, so the event's fee updates no longer reached it.
    const d = afterFrame({ event_type: "metadata_updated", strike_type: "between", floor_strike: 95_000, cap_strike: 95_250 });
    expect(d.get("KXBTC-25APR30-T0915-B95000")).toMatchObject({ eventTicker: "KXBTC-25APR30", floorStrike: 95_000, capStrike: 95_250 });
    d.event({ eventTicker: "KXBTC-25APR30", tsRecv: 4, feeOverride: { feeType: "quadratic", feeMultiplier: 2 } });
    expect(d.get("KXBTC-25APR30-T0915-B95000")).toMatchObject({ feeType: "quadratic", feeMultiplier: 2 });
  });

  test("metadata_updated with a strike but no strike_type (each is optional) still moves the strike", () => {
    const d = afterFrame({ event_type: "metadata_updated", floor_strike: 95_500 });
    expect(d.get("KXBTC-25APR30-T0915-B95000")).toMatchObject({ strikeType: "between", floorStrike: 95_500, capStrike: 94_999.99, eventTicker: "KXBTC-25APR30" });
  });

  test("a lifecycle frame naming a price structure but no price_ranges (the AsyncAPI's own examples) sets that structure's grid", () => {
    const TAPERED = [{ start: 0, end: 1000, step: 10 }, { start: 1000, end: 9000, step: 100 }, { start: 9000, end: 10_000, step: 10 }];
    // created, over a REST record: a structure the reference documents replaces the grid with its own,
    // never with the 1¢ default the frame does not name
    const d = afterFrame({
      event_type: "created", open_ts: 1_746_014_400, close_ts: 1_746_018_900, price_level_structure: "tapered_deci_cent",
      additional_metadata: { event_ticker: "KXBTC-25APR30", strike_type: "between", floor_strike: 94_750, cap_strike: 94_999.99 },
    });
    expect(d.get("KXBTC-25APR30-T0915-B95000")!.priceRanges).toEqual(TAPERED);
    // price_level_structure_updated with only the name moves the grid too
    const u = afterFrame({ event_type: "price_level_structure_updated", price_level_structure: "linear_cent" });
    expect(u.get("KXBTC-25APR30-T0915-B95000")!.priceRanges).toEqual([{ start: 0, end: 10_000, step: 100 }]);
    // a structure whose bands the reference does not give: whole cents (valid in every structure), not
    // the finer grid of before, part of which the new structure may no longer allow
    const k = afterFrame({ event_type: "price_level_structure_updated", price_level_structure: "center_whole_edge_half_cent" });
    expect(k.get("KXBTC-25APR30-T0915-B95000")!.priceRanges).toEqual([{ start: 0, end: 10_000, step: 100 }]);
  });
});

describe("a REST listing older than a metadata_updated frame does not undo its strike", () => {
  // The listing as GET /markets serves it: strike provisional, updated_time stamped by the venue.
  const listing = (tsRecv: number, updated: string, floor: number) =>
    parseKalshiMarket({ ticker: M, event_ticker: "KXBTC15M-26NOV251115", strike_type: "greater_or_equal", floor_strike: floor, open_time: "2026-11-25T16:00:00Z", close_time: "2026-11-25T16:15:00Z", status: "active", updated_time: updated }, tsRecv);

  test("a re-discovery served from cache keeps the frame's strike; a record updated later moves it", () => {
    const d = new MarketDirectory();
    d.upsert(listing(T0, "2026-11-25T15:59:50Z", 109_700.01));
    d.upsert(metadataUpdated(T0 + 5 * S, 109_812.37));
    expect(d.get(M)!.floorStrike).toBe(109_812.37);
    // Rediscovery 20 s later, the listing unchanged (same updated_time; Kalshi's REST may be cached 15 s).
    d.upsert(listing(T0 + 20 * S, "2026-11-25T15:59:50Z", 109_700.01));
    expect(d.get(M)!.floorStrike).toBe(109_812.37); // before: 109,700.01 again
    // A record the venue updated after the frame does move it.
    d.upsert(listing(T0 + 40 * S, "2026-11-25T16:00:30Z", 109_900.5));
    expect(d.get(M)!.floorStrike).toBe(109_900.5);
  });

  test("a frame that came before any record: the first listing keeps it only if written before it", () => {
    // Written after the frame: the listing already holds what the venue did since (a later strike).
    const later = new MarketDirectory();
    later.upsert(metadataUpdated(T0 + 5 * S, 109_812.37));
    expect(later.get(M)).toBeUndefined();
    later.upsert(listing(T0 + 40 * S, "2026-11-25T16:00:30Z", 109_900.5));
    expect(later.get(M)!.floorStrike).toBe(109_900.5); // before: the frame's 109,812.37 was laid over it
    // Written before the frame (served from cache): the frame's strike wins.
    const cached = new MarketDirectory();
    cached.upsert(metadataUpdated(T0 + 5 * S, 109_812.37));
    cached.upsert(listing(T0 + 20 * S, "2026-11-25T15:59:50Z", 109_700.01));
    expect(cached.get(M)!.floorStrike).toBe(109_812.37);
  });
});

describe("a REST listing older than a lifecycle frame does not undo its status", () => {
  const listing = (tsRecv: number, updated: string, status: string) =>
    parseKalshiMarket({ ticker: M, event_ticker: "KXBTC15M-26NOV251115", strike_type: "greater_or_equal", floor_strike: 100_000, open_time: "2026-11-25T16:00:00Z", close_time: "2026-11-25T16:15:00Z", status, updated_time: updated }, tsRecv);
  const phase = (ts: number, p: "deactivated" | "activated") => ({ kind: "market_lifecycle" as const, tsRecv: ts, tsExchange: null, market: M, phase: p, result: null, settlementValue: -1, expirationValue: Number.NaN, closeTime: -1, sid: 3, seq: -1 });

  test("paused and reactivated: a listing written during the pause does not pause it again; a later one may", () => {
    const d = new MarketDirectory();
    d.upsert(listing(T0, "2026-11-25T16:00:00Z", "active"));
    d.lifecycle(phase(T0 + 10 * S, "deactivated"));
    d.lifecycle(phase(T0 + 20 * S, "activated"));
    expect(d.get(M)!.status).toBe("active");
    d.upsert(listing(T0 + 30 * S, "2026-11-25T16:00:15Z", "inactive")); // written in the pause, served late
    expect(d.get(M)!.status).toBe("active"); // before: inactive, and the engine paused the market for good
    d.upsert(listing(T0 + 60 * S, "2026-11-25T16:00:50Z", "inactive")); // the venue paused it again since
    expect(d.get(M)!.status).toBe("inactive");
  });
});
