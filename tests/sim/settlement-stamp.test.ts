/** replay settlement fallback. */
import { describe, expect, test } from "vitest";
import type { IndexValue, MarketLifecycle } from "../../lib/core/events.ts";
import { SettlementFallback } from "../../lib/sim/settlement.ts";
import { S, T0, marketInfo } from "../helpers/scenario.ts";

const M = "KXBTCD-26NOV2517-T109.99";

/** A BRTI print stamped `stamp` and received `lagUs` later; a quarter average only when given. */
function print(stamp: number, value: number, o: { lagUs?: number; tsRecv?: number; tsExchange?: number | null; quarterAvg?: number; quarterTicks?: number; seq?: number } = {}): IndexValue {
  return {
    kind: "index_value",
    tsRecv: o.tsRecv ?? stamp + (o.lagUs ?? 200_000),
    tsExchange: o.tsExchange === undefined ? stamp : o.tsExchange,
    indexId: "BRTI",
    value,
    avg60s: Number.NaN,
    quarterAvg: o.quarterAvg ?? Number.NaN,
    quarterTicks: o.quarterTicks ?? 0,
    sid: 1,
    seq: o.seq ?? 0,
  };
}

describe("settlement fallback", () => {
  test("the 60 BRTI prints of the window are chosen by their index stamp, not by when we received them", () => {
    const settle = T0 + 3600 * S;
    const fb = new SettlementFallback(900, 60);
    fb.onEvent(marketInfo(M, 109.99, settle));
    // BRTI prints stamped on each second settle−60 … settle, each received 200 ms later (normal lag).
    // Window (IndexWindow: slots (s−1, s], the last one the close's) = prints stamped settle−59 … settle.
    // All are 100 except the one stamped settle−60 (outside the window) = 1000.
    for (let k = 60; k >= 0; k--) {
      const ts = settle - k * S;
      fb.onEvent(print(ts, k === 60 ? 1000 : 100, { seq: 60 - k }));
    }
    const out = fb.finish(settle + 1000 * S);
    expect(out).toHaveLength(1);
    // Hand: 60 prints of 100 → avg 100 < 109.99 → NO.
    // Before the fix, receipt-time slots take settle−60 … settle−1 → (1000 + 59 × 100) / 60 = 115 → YES.
    expect(out[0]!.expirationValue).toBe(100);
    expect(out[0]!.result).toBe("no");
  });
});

describe("settlement fallback: Kalshi's own quarter-hour average (last_60s_windowed_average_15min)", () => {
  const settle = T0 + 3600 * S; // 17:00 UTC, a quarter-hour close
  const K = "KXBTCD-26NOV2517-T100000.00";
  // We recorded only the prints of the first half of the window, all at 100,010: our own average
  // says 100,010 ≥ strike 100,000 → YES. The venue's published running average, complete at the
  // close tick (60 ticks), is 99,990 → NO: the venue's number is the settlement one.
  function run(closeTicks: number) {
    const fb = new SettlementFallback(900, 60);
    fb.onEvent(marketInfo(K, 100_000, settle));
    for (let k = 59; k >= 30; k--) {
      const ts = settle - k * S;
      fb.onEvent(print(ts, 100_010, { quarterAvg: 100_010, quarterTicks: 60 - k, seq: 60 - k }));
    }
    // The close print (stamped at the close; 60 ticks when the venue counted the close tick).
    fb.onEvent(print(settle, 99_950, { quarterAvg: 99_990, quarterTicks: closeTicks, seq: 99 }));
    return { out: fb.finish(settle + 1000 * S), fb };
  }

  test("a complete venue average (60 ticks) settles the market, source venue_avg60", () => {
    const { out, fb } = run(60);
    expect(out).toEqual([expect.objectContaining({ market: K, result: "no", expirationValue: 99_990, resultSource: "venue_avg60" })]);
    expect(fb.bySource).toMatchObject({ venue_avg60: 1, brti_avg60: 0 });
  });

  test("an incomplete one (the close tick not in it) is not used: our own prints decide, source brti_avg60", () => {
    const { out } = run(59);
    // Hand: prints stamped settle−59 … settle−30 (30 × 100,010) and the close's 99,950 → (30 × 100,010 +
    // 99,950) / 31 = 3,100,250 / 31 = 100,008.0645…, stated to the cent as Kalshi does: 100,008.06.
    expect(out).toEqual([expect.objectContaining({ market: K, result: "yes", resultSource: "brti_avg60" })]);
    expect(out[0]!.expirationValue).toBe(100_008.06);
  });

  test("a market whose settle time is not a quarter-hour close never takes a venue average", () => {
    const fb = new SettlementFallback(900, 60);
    const odd = settle + 7 * 60 * S;
    fb.onEvent(marketInfo(K, 100_000, odd));
    fb.onEvent(print(odd, 100_010, { lagUs: 0, quarterAvg: 99_990, quarterTicks: 60, seq: 1 }));
    expect(fb.finish(odd + 1000 * S)).toEqual([expect.objectContaining({ result: "yes", resultSource: "brti_avg60" })]);
  });
});

describe("settlement fallback: prints of the window that arrive late still count", () => {
  test("the close print, received 3 s after the close (after other events), is in the average", () => {
    const settle = T0 + 3600 * S;
    const fb = new SettlementFallback(900, 60);
    fb.onEvent(marketInfo(M, 109.99, settle));
    // Prints stamped settle−59 … settle−1 at 100, each received 200 ms later; the close print
    // (stamped at the close) is 1000 and reaches us only at settle + 3 s.
    for (let k = 59; k >= 1; k--) {
      const ts = settle - k * S;
      fb.onEvent(print(ts, 100, { seq: 60 - k }));
    }
    // Something else is recorded in between (a spot quote at settle + 1.5 s).
    fb.onEvent({ kind: "spot_quote", tsRecv: settle + 1_500_000, tsExchange: null, productId: "BTC-USD", bid: 99, ask: 101, bidSize: 1, askSize: 1, last: 100, seq: 1 });
    fb.onEvent(print(settle, 1000, { lagUs: 3 * S, seq: 60 }));
    const out = fb.finish(settle + 1000 * S);
    // Hand: (59 × 100 + 1000) / 60 = 115 ≥ 109.99 → YES. Computed at settle + 1.5 s it would be 100 → NO.
    expect(out.map((e) => [e.result, e.expirationValue])).toEqual([["yes", 115]]);
  });
});

describe("settlement fallback: which quarter a venue average belongs to", () => {
  const Q = 900 * S;
  const C1 = T0 + 3600 * S;
  const C2 = C1 + Q;
  const OFF = 123_000; // CF stamps 123 ms past the second, as in both reference examples
  const iv = (stamp: number, value: number, qa: number, qt: number, tsExchange: number | null = stamp): IndexValue =>
    print(stamp, value, { lagUs: 150_000, tsExchange, quarterAvg: qa, quarterTicks: qt });
  // Quarter 1's final minute prints 99,000 (its own average: NO at strike 100,000); quarter 2's 101,000 (YES).
  function run(stampless: boolean) {
    const fb = new SettlementFallback(900, 60);
    fb.onEvent(marketInfo("Q1", 100_000, C1));
    fb.onEvent(marketInfo("Q2", 100_000, C2));
    const out: MarketLifecycle[] = [];
    const minute = (close: number, v: number) => {
      for (let k = 1; k <= 60; k++) {
        const t = close - (60 - k) * S + OFF;
        out.push(...fb.onEvent(iv(t, v, v, k, stampless ? null : t)));
      }
    };
    minute(C1, 99_000);
    for (let t = C1 + 2 * S; t < C2 - 60 * S; t += 5 * S) out.push(...fb.onEvent(iv(t, 100_000, Number.NaN, 0)));
    minute(C2, 101_000);
    out.push(...fb.finish(C2 + 1000 * S));
    return out.map((o) => [o.market, o.resultSource, o.result, o.expirationValue]);
  }
  test("a close tick stamped a few ms after the close is quarter 1's, not the next one's", () => {
    // Before the fix quarter 1's 60-tick average was filed under C2 and settled Q2: ["Q2", "venue_avg60", "no", 99000].
    expect(run(false)).toEqual([["Q1", "venue_avg60", "no", 99_000], ["Q2", "venue_avg60", "yes", 101_000]]);
  });
  test("the same without a CF stamp (filed by receipt, 150 ms later)", () => {
    expect(run(true)).toEqual([["Q1", "venue_avg60", "no", 99_000], ["Q2", "venue_avg60", "yes", 101_000]]);
  });

  test("a complete venue average that arrives after the first look is still used when the grace ends", () => {
    const fb = new SettlementFallback(900, 60);
    const K = "KXBTCD-26NOV2517-T100000.00";
    fb.onEvent(marketInfo(K, 100_000, C1));
    for (let k = 1; k <= 59; k++) fb.onEvent(iv(C1 - (60 - k) * S, 100_010, 100_010, k));
    // The close tick (60 ticks, the venue's average 99,990) is received 8 s late: the fallback first
    // looked at C1 + 6 s and saw only 59 ticks.
    fb.onEvent({ ...iv(C1, 99_950, 99_990, 60), tsRecv: C1 + 8 * S, tsExchange: null });
    expect(fb.finish(C1 + 1000 * S).map((o) => [o.resultSource, o.result, o.expirationValue])).toEqual([["venue_avg60", "no", 99_990]]);
  });
});

describe("settlement fallback: a moved close moves the window", () => {
  test("close_date_updated 10 min earlier: the fallback averages the 60 s before the new close, not the old one", () => {
    const oldClose = T0 + 3600 * S;
    const newClose = oldClose - 600 * S;
    const fb = new SettlementFallback(900, 60);
    fb.onEvent(marketInfo(M, 109.99, oldClose));
    fb.onEvent({ kind: "market_lifecycle", tsRecv: T0 + 60 * S, tsExchange: null, market: M, phase: "close_date_updated", result: null, settlementValue: -1, expirationValue: Number.NaN, closeTime: newClose, sid: 3, seq: 1 });
    // 100 before the new close (→ NO at strike 109.99), 120 before the old one (→ YES).
    const out: MarketLifecycle[] = [];
    for (let k = 59; k >= 0; k--) out.push(...fb.onEvent(print(newClose - k * S, 100, { lagUs: 1000, seq: 60 - k })));
    for (let k = 59; k >= 0; k--) out.push(...fb.onEvent(print(oldClose - k * S, 120, { lagUs: 1000, seq: 200 - k })));
    out.push(...fb.finish(oldClose + 1000 * S));
    expect(out.map((e) => [e.result, e.expirationValue])).toEqual([["no", 100]]); // before the fix: ["yes", 120]
  });
});

describe("settlement fallback: moved closes reported late, and the end of the tape", () => {
  const iv = (ts: number, value: number, seq: number): IndexValue => print(ts, value, { lagUs: 1000, seq });
  test("a close moved 25 min earlier and reported 23 min after the new close still settles on the new window", () => {
    const oldClose = T0 + 3600 * S;
    const newClose = oldClose - 1500 * S;
    const fb = new SettlementFallback(900, 60);
    fb.onEvent(marketInfo(M, 109.99, oldClose));
    const out: MarketLifecycle[] = [];
    // One print a second from before the new close's window to the report: 100 in the new window, 120 after.
    for (let t = newClose - 70 * S, seq = 0; t < newClose + 1401 * S; t += S) out.push(...fb.onEvent(iv(t, t <= newClose ? 100 : 120, seq++)));
    out.push(...fb.onEvent({ kind: "market_lifecycle", tsRecv: newClose + 1401 * S, tsExchange: null, market: M, phase: "close_date_updated", result: null, settlementValue: -1, expirationValue: Number.NaN, closeTime: newClose, sid: 3, seq: 1 }));
    out.push(...fb.finish(oldClose + 1000 * S));
    expect(out.map((e) => [e.result, e.expirationValue])).toEqual([["no", 100]]); // before: nothing settled
  });
  test("a tape that ends less than a second after the settle time leaves the market unsettled", () => {
    const settle = T0 + 3600 * S;
    const fb = new SettlementFallback(900, 60);
    fb.onEvent(marketInfo(M, 109.99, settle));
    for (let k = 59; k >= 1; k--) fb.onEvent(iv(settle - k * S, 100, 60 - k));
    expect(fb.finish(settle + 500_000)).toEqual([]); // the close print may still have been on its way
  });
});

describe("settlement fallback: the average to the cent, as Kalshi states the expiration value", () => {
  // Every expiration_value of the KXBTC15M settlements in fixtures has two decimals, and its result is
  // that value against the strike. 60 prints, each stamped on its second of the window.
  function settle(info: ReturnType<typeof marketInfo>, values: readonly number[]) {
    const close = info.settleTime;
    const fb = new SettlementFallback(900, 60);
    fb.onEvent(info);
    values.forEach((v, i) => fb.onEvent(print(close - (59 - i) * S, v, { seq: i })));
    return fb.finish(close + 1000 * S).map((e) => [e.market, e.result, e.expirationValue]);
  }
  const close = T0 + 3600 * S;
  const halves = (a: number, b: number) => [...Array(30).fill(a), ...Array(30).fill(b)] as number[];

  test("an average exactly at a 'greater' strike is not above it, whatever the order of the prints", () => {
    // Hand: 30 × 110,000.00 + 30 × 109,999.98 = 6,599,999,940 ¢ / 60 = 10,999,999 ¢ = 109,999.99 = the strike → NO.
    // The float average was 109,999.99000000017 one way round (YES) and below it the other (NO).
    const info = marketInfo("G", 109_999.99, close);
    expect(settle(info, halves(110_000, 109_999.98))).toEqual([["G", "no", 109_999.99]]);
    expect(settle(info, halves(109_999.98, 110_000))).toEqual([["G", "no", 109_999.99]]);
  });

  test("prints all equal to a 'greater_or_equal' strike settle YES", () => {
    const info = marketInfo("E", 100_000.01, close, { strikeType: "greater_or_equal" });
    expect(settle(info, Array(60).fill(100_000.01))).toEqual([["E", "yes", 100_000.01]]); // float: 100,000.00999999985 → NO
  });

  test("a sub-cent excess over a .99 strike is not above it; half a cent rounds up, into exactly one of two adjacent ranges", () => {
    // 20 × 110,000.00 + 40 × 109,999.99 → 659,999,960 / 60 = 10,999,999.33 ¢ → 109,999.99: NO (float 109,999.993 said YES).
    const values = [...Array(20).fill(110_000), ...Array(40).fill(109_999.99)] as number[];
    expect(settle(marketInfo("C", 109_999.99, close), values)).toEqual([["C", "no", 109_999.99]]);
    // 30 × 76,000.00 + 30 × 75,999.99 → 7,599,999.5 ¢, half a cent → 76,000.00 (half up): in [76,000, 76,099.99] only.
    const lo = marketInfo("LO", Number.NaN, close, { strikeType: "between", floorStrike: 75_900, capStrike: 75_999.99 });
    const hi = marketInfo("HI", Number.NaN, close, { strikeType: "between", floorStrike: 76_000, capStrike: 76_099.99 });
    const both = [...settle(lo, halves(76_000, 75_999.99)), ...settle(hi, halves(76_000, 75_999.99))];
    expect(both).toEqual([["LO", "no", 76_000], ["HI", "yes", 76_000]]); // float 75,999.995: NO in both
  });

  test("spot-mid proxies at half cents: the mean is rounded, not the sum first", async () => {
    const { settlementAverage } = await import("../../lib/core/settlement.ts");
    // 59 mids at 68,000.005 and one print at 68,000.00: mean 68,000 + 59/120 ¢ = 68,000.0049… → 68,000.00.
    // Rounding the sum to cents first (408,000,295 ¢ … up half a cent) gave 68,000.01.
    expect(settlementAverage(59 * 68_000.005 + 68_000, 60)).toBe(68_000);
    expect(settlementAverage(60 * 68_000.005, 60)).toBe(68_000.01); // an exact half cent rounds up
  });

  test("Kalshi's own average is taken to the cent too", () => {
    const fb = new SettlementFallback(900, 60);
    fb.onEvent(marketInfo("V", 109_999.99, close));
    fb.onEvent(print(close, 110_000, { quarterAvg: 109_999.99333333, quarterTicks: 60 }));
    expect(fb.finish(close + 1000 * S).map((e) => [e.result, e.expirationValue, e.resultSource])).toEqual([["no", 109_999.99, "venue_avg60"]]);
  });
});

describe("settlement fallback: records that come late or not at all", () => {
  const close = T0 + 3600 * S;

  test("a close tick received 40 s late is Kalshi's average of its own quarter, not of the next one", () => {
    const next = close + 900 * S;
    const fb = new SettlementFallback(900, 60);
    fb.onEvent(marketInfo("Q1", 100_000, close));
    fb.onEvent(marketInfo("Q2", 100_000, next));
    // Q1: the venue's running average reaches 60 ticks only with its close tick, which we get 40 s late
    // (its stamp too far from receipt to file the BRTI value by it).
    for (let k = 1; k <= 59; k++) fb.onEvent(print(close - (60 - k) * S + 123_000, 99_000, { lagUs: 150_000, quarterAvg: 99_000, quarterTicks: k }));
    fb.onEvent(print(close + 123_000, 99_000, { lagUs: 40 * S, quarterAvg: 99_000, quarterTicks: 60 }));
    // Q2's final minute at 101,000, its close tick missing (59 ticks): settled from our own prints.
    for (let k = 1; k <= 59; k++) fb.onEvent(print(next - (60 - k) * S + 123_000, 101_000, { lagUs: 150_000, quarterAvg: 101_000, quarterTicks: k }));
    const out = fb.finish(next + 1000 * S).map((e) => [e.market, e.result, e.expirationValue, e.resultSource]);
    // Before the fix Q2 took Q1's average, filed by receipt under Q2: ["Q2", "no", 99000, "venue_avg60"].
    expect(out).toEqual([
      ["Q1", "no", 99_000, "venue_avg60"],
      ["Q2", "yes", 101_000, "brti_avg60"],
    ]);
  });

  test("a settle time moved by a refreshed market record drops the old window's average", () => {
    const later = close + 300 * S;
    const fb = new SettlementFallback(900, 60);
    fb.onEvent(marketInfo("R", 109.99, close));
    const out: MarketLifecycle[] = [];
    // 120 in the old window (→ YES), 90 in the new one (→ NO); the refresh comes after the old first look.
    for (let t = close - 100 * S, seq = 0; t <= later + 100 * S; t += S, seq++) {
      out.push(...fb.onEvent(print(t, t > close - 60 * S && t <= close ? 120 : t > later - 60 * S && t <= later ? 90 : 110, { lagUs: 1000, seq })));
      if (t === close + 100 * S) out.push(...fb.onEvent({ ...marketInfo("R", 109.99, later), tsRecv: t }));
    }
    out.push(...fb.finish(later + 1000 * S));
    expect(out.map((e) => [e.result, e.expirationValue])).toEqual([["no", 90]]); // before the fix: ["yes", 120]
  });

  test("a venue result recorded before the market's record leaves nothing for the fallback to settle", () => {
    const fb = new SettlementFallback(900, 60);
    fb.onEvent({ kind: "market_lifecycle", tsRecv: close + 60 * S, tsExchange: null, market: "D", phase: "determined", result: "no", settlementValue: 0, expirationValue: Number.NaN, closeTime: -1, sid: 3, seq: -1 });
    fb.onEvent({ ...marketInfo("D", 109.99, close), tsRecv: close + 61 * S });
    for (let k = 0; k < 60; k++) fb.onEvent(print(close + 62 * S + k * S, 120, { seq: k }));
    expect(fb.finish(close + 2000 * S)).toEqual([]); // before the fix: a second settlement, from the spot proxy
    expect(fb.bySource).toMatchObject({ venue: 1, brti_avg60: 0, spot_proxy: 0 });
  });

  test("a strike recorded only after the grace still lets the market settle", () => {
    const fb = new SettlementFallback(900, 60);
    fb.onEvent(marketInfo("L", Number.NaN, close, { strikeType: "greater_or_equal" }));
    for (let k = 59; k >= 0; k--) fb.onEvent(print(close - k * S, 100_000, { seq: 60 - k }));
    expect(fb.onEvent(print(close + 901 * S, 100_000, { seq: 99 }))).toEqual([]); // grace over, no strike yet
    const out = fb.onEvent({ ...marketInfo("L", 99_999, close, { strikeType: "greater_or_equal" }), tsRecv: close + 1000 * S });
    expect(out.map((e) => [e.market, e.result, e.expirationValue])).toEqual([["L", "yes", 100_000]]); // before: never settled
  });

  test("a market whose strike never came (no metadata_updated on the tape) is not settled", () => {
    const fb = new SettlementFallback(900, 60);
    fb.onEvent(marketInfo("N", Number.NaN, close, { strikeType: "greater_or_equal" }));
    for (let k = 59; k >= 0; k--) fb.onEvent(print(close - k * S, 100_000, { seq: 60 - k }));
    expect(fb.finish(close + 1000 * S)).toEqual([]); // before the fix: NO (100,000 ≥ NaN is false)
  });
});
