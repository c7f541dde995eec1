/**
 * `market_lifecycle_v2` `created` whatever its strike type. AsyncAPI marketLifecycleV2Payload:
 * `exchange_index` "will ONLY exist when the market is created", `additional_metadata.strike_type` is
 * optional, and kalshi-api.md §4.7 makes the frame's shard authoritative. A frame without a strike type
 * (or with one we do not model: custom/functional/structured) must still hand over the shard, the times
 * and the grid, as a patch merged over the record — never a record that replaces it.
 */
import { describe, expect, it } from "vitest";
import { MarketDirectory } from "../../lib/core/markets.ts";
import { parseKalshiFrame, parseKalshiMarket } from "../../lib/venues/kalshi/parse.ts";

const T = 1_790_000_000_000_000;
const M = "KXBTC15M-26SEP292045-45";
const OPEN_S = 1790714700;
const CLOSE_S = 1790715600;
const US = 1_000_000;

function created(meta: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const r = parseKalshiFrame(
    JSON.stringify({
      type: "market_lifecycle_v2",
      sid: 4,
      seq: 3,
      msg: {
        market_ticker: M, event_type: "created", exchange_index: 2, open_ts: OPEN_S, close_ts: CLOSE_S,
        price_level_structure: "deci_cent",
        additional_metadata: { name: "BTC 15m", title: "BTC up?", event_ticker: "KXBTC15M-26SEP292045", expected_expiration_ts: CLOSE_S, ...meta },
        ...extra,
      },
    }),
    T,
    { useYesPrice: false },
  );
  if (!r.ok) throw new Error(r.error);
  return r;
}

/** The REST Market object of the same market (kalshi-api.md §5 shape). */
function rest(tsRecv: number) {
  return parseKalshiMarket(
    {
      ticker: M, event_ticker: "KXBTC15M-26SEP292045", strike_type: "greater_or_equal", floor_strike: 109812.37,
      open_time: "2026-09-30T00:45:00Z", close_time: "2026-09-30T01:00:00Z", status: "active",
      price_ranges: [{ start: "0.0000", end: "1.0000", step: "0.0010" }],
    },
    tsRecv,
  );
}

describe("created frame without a modelled strike type", () => {
  for (const [name, meta] of [
    ["no strike_type", {}],
    ["strike_type custom", { strike_type: "custom", custom_strike: { x: 1 } }],
    ["strike_type functional", { strike_type: "functional" }],
  ] as const) {
    it(`${name}: the shard, open/close times and the grid still come out (as a patch)`, () => {
      const r = created(meta);
      expect(r.events.map((e) => e.kind)).toContain("market_lifecycle");
      expect(r.patch).toMatchObject({
        market: M,
        exchangeIndex: 2,
        openTime: OPEN_S * US,
        closeTime: CLOSE_S * US,
        priceRanges: [{ start: 0, end: 10_000, step: 10 }],
      });
    });
  }

  it("a modelled strike type but no close_ts: the shard and open time still come out", () => {
    const r = parseKalshiFrame(
      JSON.stringify({ type: "market_lifecycle_v2", sid: 4, seq: 3, msg: { market_ticker: M, event_type: "created", exchange_index: 2, open_ts: OPEN_S, additional_metadata: { strike_type: "greater_or_equal" } } }),
      T,
      { useYesPrice: false },
    );
    if (!r.ok) throw new Error(r.error);
    expect(r.patch).toMatchObject({ market: M, exchangeIndex: 2, openTime: OPEN_S * US });
  });

  it("the patch is merged over the REST record (before or after it), never replacing it", () => {
    const r = created({});
    // Patch first (the frame beat the listing), then the listing.
    const a = new MarketDirectory();
    expect(a.patch(r.patch!)).toBeNull();
    const recA = a.upsert(rest(T + US))!;
    expect(a.shardOf(M)).toBe(2);
    expect(recA).toMatchObject({ strikeType: "greater_or_equal", floorStrike: 109812.37, openTime: OPEN_S * US, closeTime: CLOSE_S * US, status: "active", feeMultiplier: 1 });
    // Listing first, then the frame.
    const b = new MarketDirectory();
    b.upsert(rest(T - US));
    b.patch(r.patch!);
    expect(b.shardOf(M)).toBe(2);
    expect(b.get(M)).toMatchObject({ strikeType: "greater_or_equal", floorStrike: 109812.37, closeTime: CLOSE_S * US, status: "active", feeMultiplier: 1 });
  });
});
