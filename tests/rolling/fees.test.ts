/**
 * "Found by reading", bug 4: fee schedules. WS-created markets got a hard-coded quadratic ×1; the
 * series' fee_type (incl. quadratic_with_combo_maker_fees) and `event_fee_update` overrides were
 * dropped, and `price_level_structure_updated` was ignored. Expected fees are worked by hand from the
 * reference §6 formula.
 */
import { describe, expect, test } from "vitest";
import { DEFAULT_ENGINE_CONFIG } from "../../lib/core/config.ts";
import type { MarketInfo } from "../../lib/core/events.ts";
import { tradeFee } from "../../lib/core/fees.ts";
import { MarketDirectory } from "../../lib/core/markets.ts";
import { parseKalshiFrame } from "../../lib/venues/kalshi/parse.ts";
import { parseSeries } from "../../lib/venues/kalshi/rest-parse.ts";

const CFG = DEFAULT_ENGINE_CONFIG.fees;
const M = "KXBTCD-26SEP2917-T109999.99";
const created = JSON.stringify({
  type: "market_lifecycle_v2", sid: 13, seq: 3,
  msg: { market_ticker: M, event_type: "created", exchange_index: 2, open_ts: 1790629200, close_ts: 1790715600, price_level_structure: "linear_cent",
    price_ranges: [{ start: "0.0000", end: "1.0000", step: "0.0100" }],
    additional_metadata: { event_ticker: "KXBTCD-26SEP2917", strike_type: "greater", floor_strike: 109999.99 } },
});

function parse(text: string, ts = 1_790_629_300_000_000) {
  const r = parseKalshiFrame(text, ts, { useYesPrice: false });
  if (!r.ok) throw new Error(r.error);
  return r;
}

function createdInto(d: MarketDirectory): MarketInfo {
  const r = parse(created);
  const info = r.events.find((e): e is MarketInfo => e.kind === "market_info")!;
  return d.upsert(info, r.patch?.exchangeIndex ?? -1)!;
}

describe("fee schedules reach WS-created markets", () => {
  test("series fee_type quadratic_with_combo_maker_fees parses and charges makers (½ × taker by default)", () => {
    const s = parseSeries({ series: { ticker: "KXBTCD", fee_type: "quadratic_with_combo_maker_fees", fee_multiplier: 1 } });
    expect(s.feeType).toBe("quadratic_with_combo_maker_fees");
    // 10 contracts at $0.45: taker 0.07×10×0.45×0.55 = 0.17325 → $0.18; maker 0.035×… = 0.086625 → $0.09.
    expect(tradeFee(1000, 4500, false, s, CFG)).toBe(180_000);
    expect(tradeFee(1000, 4500, true, s, CFG)).toBe(90_000);
    expect(tradeFee(1000, 4500, true, { feeType: "quadratic", feeMultiplier: 1 }, CFG)).toBe(0);
  });

  test("a created market takes its series' schedule; event_fee_update overrides it and clearing restores it", () => {
    const d = new MarketDirectory();
    d.seriesFee("KXBTCD", { feeType: "quadratic_with_maker_fees", feeMultiplier: 0.5 }, 1);
    const info = createdInto(d);
    expect(info).toMatchObject({ feeType: "quadratic_with_maker_fees", feeMultiplier: 0.5 });
    expect(d.shardOf(M)).toBe(2);
    const set = parse('{"type":"event_fee_update","sid":13,"seq":4,"msg":{"event_ticker":"KXBTCD-26SEP2917","fee_type_override":"quadratic","fee_multiplier_override":1}}');
    const changed = d.event(set.eventPatch!);
    expect(changed.map((m) => [m.market, m.feeType, m.feeMultiplier])).toEqual([[M, "quadratic", 1]]);
    const cleared = parse('{"type":"event_fee_update","sid":13,"seq":5,"msg":{"event_ticker":"KXBTCD-26SEP2917","fee_type_override":null,"fee_multiplier_override":null}}');
    expect(d.event(cleared.eventPatch!).map((m) => [m.feeType, m.feeMultiplier])).toEqual([["quadratic_with_maker_fees", 0.5]]);
  });

  test("price_level_structure_updated changes the market's grid", () => {
    const d = new MarketDirectory();
    createdInto(d);
    const r = parse(`{"type":"market_lifecycle_v2","sid":13,"seq":6,"msg":{"market_ticker":"${M}","event_type":"price_level_structure_updated","price_level_structure":"deci_cent","price_ranges":[{"start":"0.0000","end":"1.0000","step":"0.0010"}]}}`);
    const next = d.patch(r.patch!)!;
    expect(next.priceRanges).toEqual([{ start: 0, end: 10_000, step: 10 }]);
    expect(next.closeTime).toBe(1_790_715_600_000_000);
  });
});
