import { describe, expect, test } from "vitest";
import { DEFAULT_ENGINE_CONFIG, mergeEngineConfig } from "../../lib/core/config.ts";
import { Engine } from "../../lib/core/engine.ts";
import type { EngineEvent, MarketLifecycle } from "../../lib/core/events.ts";
import type { AuditRecord, OrderIntent, Opportunity } from "../../lib/core/records.ts";
import { TradingSession } from "../../lib/run/session.ts";
import { S, T0, marketInfo, merge, snapshot, spotWalk, delta } from "../helpers/scenario.ts";

const M = "KXBTCD-26NOV2516-T89999.99";
const CLOSE = T0 + 1800 * S;

function baseEvents(): EngineEvent[] {
  return merge(
    [marketInfo(M, 89_999.99, CLOSE)],
    spotWalk(420, 100_000, 0.0001, 42),
    // YES bids 0.48 ×10; NO bids 0.50 ×10 → YES ask 0.50, NO ask 0.52.
    [snapshot(T0 + 1 * S, M, 1, 1, [[4800, 1000]], [[5000, 1000]])],
  );
}

function run(events: EngineEvent[], overrides = {}) {
  const records: AuditRecord[] = [];
  const intents: OrderIntent[] = [];
  const session = new TradingSession({
    config: mergeEngineConfig(DEFAULT_ENGINE_CONFIG, overrides),
    executor: "sim",
    tradingEnabled: true,
    onRecord: (r) => records.push(r),
    onIntent: (i) => intents.push(i),
  });
  for (const e of events) session.push(e);
  session.finish();
  return { session, records, intents };
}

const opps = (rs: AuditRecord[]) => rs.filter((r): r is Opportunity => r.kind === "opportunity");

describe("EV gating", () => {
  test("EV_yes = p_model − (yes_ask + fee/contract + slippage), by hand", () => {
    const { records, intents, session } = run(baseEvents());
    const trade = opps(records).find((o) => o.decision === "trade")!;
    expect(trade).toBeDefined();
    // Fee for 10 contracts at $0.50: 0.07 × 10 × 0.5 × 0.5 = 0.175 → $0.18 → $0.018 per contract;
    // slippage 1 tick of a linear-cent grid = $0.01. So cost = 0.028 and EV_yes = p − 0.528.
    expect(trade.costYes).toBeCloseTo(0.028, 12);
    expect(trade.evYes).toBeCloseTo(trade.pModel - 0.528, 12);
    // NO side at ask 0.52: 0.07 × 10 × 0.52 × 0.48 = 0.17472 → $0.18 → same cost.
    expect(trade.costNo).toBeCloseTo(0.028, 12);
    expect(trade.evNo).toBeCloseTo(1 - trade.pModel - 0.548, 12);
    expect(trade.side).toBe("yes");
    expect(trade.yesAsk).toBe(5000);
    expect(trade.noAsk).toBe(5200);
    // Spot ≈ 100k vs strike 90k with ~30 min left: the model is near-certain YES (before shrinkage).
    expect(trade.pModel).toBeGreaterThan(0.97);
    const place = intents.find((i) => i.kind === "place_order")!;
    expect(place).toMatchObject({ market: M, outcome: "yes", action: "buy", price: 5000, count: 1000, tif: "immediate_or_cancel" });
    // The simulated venue filled all 10 displayed contracts at 0.50 with the $0.18 fee.
    const fills = records.filter((r) => r.kind === "fill_record");
    expect(fills).toHaveLength(1);
    expect(fills[0]).toMatchObject({ price: 5000, count: 1000, fee: 180_000, positionAfter: 1000 });
    // Cash: 1000 − 10 × 0.50 − 0.18 = 994.82
    expect(session.engine.portfolio.cash()).toBe(994_820_000);
  });

  test("a thin edge is skipped with EV_BELOW_MIN", () => {
    // p ≤ 0.99 (shrinkage 2% toward 0.5 caps it), YES ask 0.98: EV_yes ≤ 0.99 − 0.98 − fee − 1 tick < 0;
    // NO ask 0.03 against 1 − p ≈ 0.01: negative too.
    const events = baseEvents().map((e) =>
      e.kind === "book_snapshot" ? { ...e, yesBids: [[9700, 1000]] as [number, number][], noBids: [[200, 1000]] as [number, number][] } : e,
    );
    const { records, intents } = run(events);
    expect(intents.filter((i) => i.kind === "place_order")).toHaveLength(0);
    const warm = opps(records).filter((o) => Number.isFinite(o.pModel) && o.reason !== "VOL_NOT_WARM");
    expect(warm.length).toBeGreaterThan(0);
    for (const o of warm) expect(o.reason).toBe("EV_BELOW_MIN");
  });

  test("every evaluation is recorded with a reason, before and after warm-up", () => {
    const { records } = run(baseEvents());
    const os = opps(records);
    // Sweeps every 5 s of event time over 420 s, one market.
    expect(os.length).toBeGreaterThanOrEqual(80);
    expect(os[0]!.reason).toBe("VOL_NOT_WARM");
    expect(new Set(os.map((o) => o.reason)).has("TRADE")).toBe(true);
  });

  test("filters: tau too long, too close to settlement, spread too wide", () => {
    const far = run(baseEvents().map((e) => (e.kind === "market_info" ? { ...e, closeTime: T0 + 7200 * S, settleTime: T0 + 7200 * S } : e)));
    expect(opps(far.records).every((o) => o.reason === "TAU_TOO_LONG")).toBe(true);
    const near = run(baseEvents().map((e) => (e.kind === "market_info" ? { ...e, closeTime: T0 + 500 * S, settleTime: T0 + 500 * S } : e)));
    expect(opps(near.records).filter((o) => o.ts > T0 + 380 * S).every((o) => o.reason === "TOO_CLOSE_TO_SETTLEMENT" || o.reason === "VOL_NOT_WARM")).toBe(true);
    const wide = baseEvents().map((e) => (e.kind === "book_snapshot" ? { ...e, yesBids: [[4000, 1000]] as [number, number][] } : e));
    // YES bid 0.40 vs ask 0.50: 10 ticks > SPREAD_MAX_TICKS 6.
    const w = run(wide);
    expect(opps(w.records).filter((o) => o.reason === "SPREAD_TOO_WIDE").length).toBeGreaterThan(0);
    expect(w.intents).toHaveLength(0);
  });
});

describe("stop trading on inconsistency", () => {
  test("a seq gap blocks the market until a fresh snapshot", () => {
    const gapAt = T0 + 300 * S;
    const events = merge(baseEvents(), [delta(gapAt, M, 1, 5, "yes", 4800, 100)]); // seq 2..4 lost
    const { records, intents } = run(events);
    expect(records.some((r) => r.kind === "inconsistency" && r.issue === "seq_gap")).toBe(true);
    expect(intents.filter((i) => i.kind === "place_order")).toHaveLength(0);
    expect(opps(records).filter((o) => o.ts > gapAt).every((o) => o.reason === "BOOK_STALE")).toBe(true);
    // The record says its inputs were stale, whatever reason the sweep ends with: the report must not
    // score a stale book's mid as the market's forecast.
    expect(opps(records).filter((o) => o.ts > gapAt).every((o) => o.inputsFresh === false)).toBe(true);
    expect(opps(records).filter((o) => o.reason === "VOL_NOT_WARM").every((o) => o.inputsFresh === false)).toBe(true);
    // Heal with a snapshot: trading resumes.
    const healed = run(merge(events, [snapshot(T0 + 350 * S, M, 1, 6, [[4800, 1000]], [[5000, 1000]])]));
    expect(healed.intents.filter((i) => i.kind === "place_order").length).toBeGreaterThan(0);
    const afterHeal = opps(healed.records).filter((o) => o.ts > T0 + 350 * S);
    expect(afterHeal.length).toBeGreaterThan(0);
    expect(afterHeal.every((o) => o.inputsFresh)).toBe(true);
  });

  test("a crossed book is never traded", () => {
    const events = merge(baseEvents(), [delta(T0 + 200 * S, M, 1, 2, "no", 5300, 100)]); // 0.48 + 0.53 ≥ 1
    const { records, intents } = run(events);
    expect(records.some((r) => r.kind === "inconsistency" && r.issue === "crossed")).toBe(true);
    expect(intents.filter((i) => i.kind === "place_order")).toHaveLength(0);
  });

  test("stale spot blocks entries", () => {
    const events = baseEvents().filter((e) => !(e.kind === "spot_quote" && e.tsRecv > T0 + 310 * S));
    const tail = [snapshot(T0 + 400 * S, M, 1, 2, [[4800, 1000]], [[5000, 1000]])];
    const { records, intents } = run(merge(events, tail));
    const late = opps(records).filter((o) => o.ts > T0 + 325 * S);
    expect(late.length).toBeGreaterThan(0);
    expect(late.every((o) => o.reason === "SPOT_STALE")).toBe(true);
    expect(intents.filter((i) => i.kind === "place_order" && i.ts > T0 + 325 * S)).toHaveLength(0);
  });
});

describe("kill switch and settlement", () => {
  test("kill switch cancels all and nothing is placed afterwards", () => {
    const ks: EngineEvent = { kind: "kill_switch", tsRecv: T0 + 100 * S, tsExchange: null, engaged: true, reason: "test" };
    const { records, intents, session } = run(merge(baseEvents(), [ks]));
    expect(intents.some((i) => i.kind === "cancel_all")).toBe(true);
    expect(intents.filter((i) => i.kind === "place_order")).toHaveLength(0);
    expect(session.engine.risk.state()).toBe("HALTED");
    expect(records.some((r) => r.kind === "risk_state_changed" && r.to === "HALTED")).toBe(true);
  });

  test("settlement pays $1 per winning contract: cash 994.82 + 10 = 1004.82", () => {
    const det: MarketLifecycle = {
      kind: "market_lifecycle", tsRecv: CLOSE + 60 * S, tsExchange: null, market: M, phase: "determined",
      result: "yes", settlementValue: 10_000, expirationValue: 100_100, closeTime: -1, sid: 2, seq: 1,
    };
    const { records, session } = run(merge(baseEvents(), [det]));
    const st = records.find((r) => r.kind === "settlement")!;
    expect(st).toMatchObject({ market: M, result: "yes", source: "venue", position: 1000, payout: 10_000_000 });
    expect(session.engine.portfolio.cash()).toBe(1_004_820_000);
  });
});

describe("determinism", () => {
  test("the engine fed the same events twice gives byte-identical output", () => {
    const a = run(baseEvents());
    const b = run(baseEvents());
    const ser = (x: { records: AuditRecord[]; intents: OrderIntent[] }) => JSON.stringify([x.records, x.intents]);
    expect(ser(a).length).toBeGreaterThan(10_000);
    expect(ser(a)).toBe(ser(b));
    // And a bare engine (no venue) as well.
    const bare = () => {
      const out: unknown[] = [];
      const eng = new Engine(DEFAULT_ENGINE_CONFIG, { intent: (i) => out.push(i), record: (r) => out.push(r) });
      for (const e of baseEvents()) eng.onEvent(e);
      return JSON.stringify(out);
    };
    expect(bare()).toBe(bare());
  });
});
