/**
 * A market's REST `fee_waiver_expiration_time` (reference §6: "Markets may also carry
 * fee_waiver_expiration_time"). It was not read, so during a waiver the EV gate and the simulated
 * venue charged the full quadratic fee. Expected figures are worked by hand from §6, as in
 * tests/core/engine.test.ts "EV_yes = p_model − (yes_ask + fee/contract + slippage)".
 */
import { describe, expect, test } from "vitest";
import { DEFAULT_ENGINE_CONFIG, mergeEngineConfig } from "../../lib/core/config.ts";
import type { EngineEvent, MarketInfo } from "../../lib/core/events.ts";
import { MarketDirectory } from "../../lib/core/markets.ts";
import type { AuditRecord, Opportunity } from "../../lib/core/records.ts";
import { TradingSession } from "../../lib/run/session.ts";
import { decodeEventRows, encodeEvent } from "../../lib/tape/codec.ts";
import { parseKalshiFrame, parseKalshiMarket } from "../../lib/venues/kalshi/parse.ts";
import { S, T0, marketInfo, merge, snapshot, spotWalk } from "../helpers/scenario.ts";
import { loadConfig } from "../../lib/config.ts";

const M = "KXBTCD-26NOV2516-T89999.99";
const CLOSE = T0 + 1800 * S;

const restMarket = (over: Record<string, unknown>) => ({
  ticker: "KXBTCD-26SEP2917-T109999.99",
  event_ticker: "KXBTCD-26SEP2917",
  strike_type: "greater",
  floor_strike: 109999.99,
  cap_strike: null,
  open_time: "2026-09-28T21:00:00Z",
  close_time: "2026-09-29T21:00:00Z",
  status: "active",
  ...over,
});

describe("REST fee_waiver_expiration_time", () => {
  test("is read: a time, null (no waiver) or absent (not said)", () => {
    const ts = 1_790_629_300_000_000;
    expect(parseKalshiMarket(restMarket({ fee_waiver_expiration_time: "2026-09-29T00:00:00Z" }), ts).feeWaiverUntil).toBe(Date.UTC(2026, 8, 29) * 1000);
    expect(parseKalshiMarket(restMarket({ fee_waiver_expiration_time: null }), ts).feeWaiverUntil).toBe(-1);
    expect("feeWaiverUntil" in parseKalshiMarket(restMarket({}), ts)).toBe(false);
  });

  test("survives a WS piece of the same market, and a later listing can end it", () => {
    const d = new MarketDirectory();
    const until = Date.UTC(2026, 8, 29) * 1000;
    d.upsert(parseKalshiMarket(restMarket({ fee_waiver_expiration_time: "2026-09-29T00:00:00Z" }), 1_790_629_300_000_000));
    const created = parseKalshiFrame(
      JSON.stringify({
        type: "market_lifecycle_v2", sid: 13, seq: 3,
        msg: { market_ticker: "KXBTCD-26SEP2917-T109999.99", event_type: "created", open_ts: 1790629200, close_ts: 1790715600,
          additional_metadata: { event_ticker: "KXBTCD-26SEP2917", strike_type: "greater", floor_strike: 109999.99 } },
      }),
      1_790_629_301_000_000,
      { useYesPrice: false },
    );
    if (!created.ok) throw new Error(created.error);
    const info = created.events.find((e): e is MarketInfo => e.kind === "market_info")!;
    d.upsert(info);
    expect(d.get("KXBTCD-26SEP2917-T109999.99")?.feeWaiverUntil).toBe(until);
    const ended = d.upsert(parseKalshiMarket(restMarket({ fee_waiver_expiration_time: null }), 1_790_629_302_000_000));
    expect(ended?.feeWaiverUntil).toBe(-1);
  });

  test("is kept by the tape (and a record without it keeps its bytes)", () => {
    const withWaiver = marketInfo(M, 89_999.99, CLOSE, { feeWaiverUntil: CLOSE - 60 * S });
    const row = encodeEvent(withWaiver, 1);
    const [back] = decodeEventRows([row], ["kalshi"]);
    expect((back!.event as MarketInfo).feeWaiverUntil).toBe(CLOSE - 60 * S);
    const plain = encodeEvent(marketInfo(M, 89_999.99, CLOSE), 1);
    expect(plain.extra).not.toContain("feeWaiver");
  });
});

function run(info: MarketInfo, overrides = {}) {
  const events: EngineEvent[] = merge(
    [info],
    spotWalk(420, 100_000, 0.0001, 42),
    // YES bids 0.48 ×10; NO bids 0.50 ×10 → YES ask 0.50, NO ask 0.52.
    [snapshot(T0 + 1 * S, M, 1, 1, [[4800, 1000]], [[5000, 1000]])],
  );
  const records: AuditRecord[] = [];
  const session = new TradingSession({
    config: mergeEngineConfig(DEFAULT_ENGINE_CONFIG, overrides),
    executor: "sim",
    tradingEnabled: true,
    onRecord: (r) => records.push(r),
  });
  for (const e of events) session.push(e);
  session.finish();
  const trade = records.find((r): r is Opportunity => r.kind === "opportunity" && r.decision === "trade")!;
  const fills = records.filter((r) => r.kind === "fill_record");
  return { trade, fills, cash: session.engine.portfolio.cash() };
}

describe("a fee waiver reaches the EV gate and the simulated venue", () => {
  test("during the waiver: cost is the slippage tick alone and the fill pays no fee", () => {
    const { trade, fills, cash } = run(marketInfo(M, 89_999.99, CLOSE, { feeWaiverUntil: CLOSE }));
    // No fee: cost = 1 tick of slippage = $0.01 per contract, on both sides.
    expect(trade.costYes).toBeCloseTo(0.01, 12);
    expect(trade.costNo).toBeCloseTo(0.01, 12);
    expect(trade.evYes).toBeCloseTo(trade.pModel - 0.51, 12);
    expect(fills).toHaveLength(1);
    expect(fills[0]).toMatchObject({ price: 5000, count: 1000, fee: 0 });
    // 1000 − 10 × 0.50 = 995.00
    expect(cash).toBe(995_000_000);
  });

  test("after it ended (or with none, -1), the quadratic fee as before: $0.18 on 10 @ 0.50", () => {
    for (const until of [T0, -1]) {
      const { trade, fills, cash } = run(marketInfo(M, 89_999.99, CLOSE, { feeWaiverUntil: until }));
      expect(trade.costYes).toBeCloseTo(0.028, 12);
      expect(fills[0]).toMatchObject({ fee: 180_000 });
      expect(cash).toBe(994_820_000);
    }
  });

  test("FEE_WAIVERS=ignore charges the schedule anyway", () => {
    expect(loadConfig({ FEE_WAIVERS: "ignore" }).engine.fees.feeWaivers).toBe("ignore");
    expect(loadConfig({}).engine.fees.feeWaivers).toBeUndefined(); // the default, honour, leaves the config as it was
    const { trade, fills } = run(marketInfo(M, 89_999.99, CLOSE, { feeWaiverUntil: CLOSE }), { fees: { feeWaivers: "ignore" } });
    expect(trade.costYes).toBeCloseTo(0.028, 12);
    expect(fills[0]).toMatchObject({ fee: 180_000 });
  });
});
