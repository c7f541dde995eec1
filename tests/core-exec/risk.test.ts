import { describe, expect, it } from "vitest";
import { RiskManager, type BookSummary, type EntryRequest } from "../../lib/core/risk.ts";
import { DEFAULT_ENGINE_CONFIG, type RiskConfig } from "../../lib/core/config.ts";
import { parseIsoToUs } from "../../lib/core/units.ts";

const D = 1_000_000;
const T = parseIsoToUs("2026-09-29T20:00:00Z");
const NEXT_DAY = parseIsoToUs("2026-09-30T00:00:01Z");
const DAY_AFTER = parseIsoToUs("2026-10-01T09:00:00Z");

// $1000 balance: per-market cap 2% = $20, exposure cap 10% = $100, daily loss 3% = $30, 1 open position.
const CFG: RiskConfig = { ...DEFAULT_ENGINE_CONFIG.risk };

function req(p: Partial<EntryRequest> = {}): EntryRequest {
  return { ts: T, market: "A", outcome: "yes", action: "buy", price: 4000, count: 1000, reducing: false, ...p };
}

function book(p: Partial<BookSummary> & { costs?: Record<string, number> } = {}): BookSummary {
  const costs = p.costs ?? {};
  return {
    dailyPnl: 0,
    balance: 1000 * D,
    exposure: Object.values(costs).reduce((a, b) => a + b, 0),
    openPositions: Object.keys(costs).length,
    positionCost: (m) => costs[m] ?? 0,
    hasPosition: (m) => m in costs,
    openOrderCost: () => ({ inMarket: 0, total: 0 }),
    openOrderMarkets: () => new Set(),
    ...p,
  };
}

const code = (reason: string) => reason.split(":")[0];

describe("RiskManager — caps", () => {
  it("allows an entry within every cap, starting from the configured balance", () => {
    const rm = new RiskManager(CFG, T);
    expect(rm.state()).toBe("ACTIVE");
    // 10 YES @0.40 = $4 ≤ $20
    expect(rm.checkEntry(req())).toEqual({ allowed: true, count: 1000, reason: "OK" });
  });

  it("caps count by maxPositionPct of balance", () => {
    const rm = new RiskManager(CFG, T);
    // $20 / $0.40 = 50 contracts
    const v = rm.checkEntry(req({ count: 10_000 }));
    expect(v.allowed).toBe(true);
    expect(v.count).toBe(5000);
    expect(v.reason.startsWith("CAPPED: POSITION_CAP")).toBe(true);
    // Existing $18 in A leaves $2 → 5 contracts at 0.40
    rm.updateBook(T, book({ costs: { A: 18 * D } }));
    expect(rm.checkEntry(req({ count: 10_000 })).count).toBe(500);
    // at exactly $20 nothing is left
    rm.updateBook(T, book({ costs: { A: 20 * D } }));
    expect(code(rm.checkEntry(req()).reason)).toBe("POSITION_CAP");
    expect(rm.checkEntry(req()).count).toBe(0);
  });

  it("costs a non-reducing sell as a buy of the other leg at 1 − price", () => {
    const rm = new RiskManager(CFG, T);
    // sell YES @0.70 when flat = buy NO @0.30: $20/$0.30 = 66.66 contracts → 6666 hundredths
    expect(rm.checkEntry(req({ action: "sell", price: 7000, count: 100_000 })).count).toBe(6666);
    // buy NO @0.80: $20/$0.80 = 25 contracts
    expect(rm.checkEntry(req({ outcome: "no", price: 8000, count: 100_000 })).count).toBe(2500);
  });

  it("caps by total exposure", () => {
    const cfg = { ...CFG, maxOpenPositions: 10 };
    const rm = new RiskManager(cfg, T);
    // $99 already out of $100 → $1 room → 2.5 contracts at 0.40
    rm.updateBook(T, book({ costs: { B: 50 * D, C: 49 * D } }));
    const v = rm.checkEntry(req());
    expect(v).toMatchObject({ allowed: true, count: 250 });
    expect(v.reason.startsWith("CAPPED: EXPOSURE_CAP")).toBe(true);
    rm.updateBook(T, book({ costs: { B: 50 * D, C: 50 * D } }));
    expect(rm.checkEntry(req())).toMatchObject({ allowed: false, count: 0 });
    expect(code(rm.checkEntry(req()).reason)).toBe("EXPOSURE_CAP");
  });

  it("refuses a new market beyond maxOpenPositions but lets the open one grow", () => {
    const rm = new RiskManager(CFG, T);
    rm.updateBook(T, book({ costs: { B: 4 * D } }));
    const v = rm.checkEntry(req({ market: "A" }));
    expect(v.allowed).toBe(false);
    expect(code(v.reason)).toBe("MAX_OPEN_POSITIONS");
    expect(rm.checkEntry(req({ market: "B" })).allowed).toBe(true);
  });

  it("counts open entry orders as filled: per-market room, exposure room and the open-position count", () => {
    const rm = new RiskManager({ ...CFG, maxOpenPositions: 2 }, T);
    // A holds $10; $6 more rests in A and $30 in C (C has no position yet). Balance $1000.
    const open: Record<string, number> = { A: 6 * D, C: 30 * D };
    rm.updateBook(T, book({
      costs: { A: 10 * D },
      openOrderCost: (m) => ({ inMarket: open[m] ?? 0, total: 36 * D }),
      openOrderMarkets: () => new Set(["A", "C"]),
    }));
    // A: $20 − $10 − $6 = $4 → 10 contracts at 0.40 (not 25).
    expect(rm.checkEntry(req({ market: "A", count: 10_000 })).count).toBe(1000);
    // B: A is a position and C is one in waiting → 2 ≥ maxOpenPositions 2.
    expect(rm.checkEntry(req({ market: "B" })).reason).toBe("MAX_OPEN_POSITIONS: 1 open + 1 with open orders ≥ 2");
    // C itself may grow: $20 − $0 − $30 < 0 → no room in C.
    expect(code(rm.checkEntry(req({ market: "C" })).reason)).toBe("POSITION_CAP");
    // Exposure: cap $100 − $10 held − $36 open = $54; A's own room is smaller, so POSITION_CAP binds there.
    const rm2 = new RiskManager({ ...CFG, maxOpenPositions: 10, maxPositionPct: 1 }, T);
    rm2.updateBook(T, book({ costs: { A: 10 * D }, openOrderCost: () => ({ inMarket: 0, total: 36 * D }), openOrderMarkets: () => new Set(["C"]) }));
    const v = rm2.checkEntry(req({ market: "B", count: 100_000 }));
    expect(v).toMatchObject({ allowed: true, count: 13_500 }); // $54 / $0.40 = 135 contracts
    expect(code(v.reason)).toBe("CAPPED");
  });

  it("refuses with zero or negative balance", () => {
    const rm = new RiskManager(CFG, T);
    rm.updateBook(T, book({ balance: 0 }));
    expect(rm.checkEntry(req()).allowed).toBe(false);
    rm.updateBook(T, book({ balance: -5 * D }));
    expect(rm.checkEntry(req()).allowed).toBe(false);
  });

  it("refuses malformed requests", () => {
    const rm = new RiskManager(CFG, T);
    expect(code(rm.checkEntry(req({ count: 0 })).reason)).toBe("INVALID_REQUEST");
    expect(code(rm.checkEntry(req({ count: -100 })).reason)).toBe("INVALID_REQUEST");
    expect(code(rm.checkEntry(req({ price: 10_001 })).reason)).toBe("INVALID_REQUEST");
    expect(code(rm.checkEntry(req({ price: 12.5 })).reason)).toBe("INVALID_REQUEST");
  });

  it("reducing orders pass the caps but need a position", () => {
    const rm = new RiskManager(CFG, T);
    expect(code(rm.checkEntry(req({ reducing: true })).reason)).toBe("NO_POSITION_TO_REDUCE");
    rm.updateBook(T, book({ costs: { A: 20 * D, B: 90 * D } })); // over every cap
    expect(rm.checkEntry(req({ reducing: true, action: "sell", count: 5000 }))).toEqual({
      allowed: true,
      count: 5000,
      reason: "OK: reducing",
    });
  });
});

describe("RiskManager — blocks", () => {
  it("spot, feed:* and book:<market> refuse non-reducing entries only", () => {
    const rm = new RiskManager(CFG, T);
    rm.updateBook(T, book({ costs: { A: 4 * D } }));
    for (const key of ["spot", "feed:kalshi", "feed:coinbase", "book:A"]) {
      rm.block(T, key, "stale");
      const v = rm.checkEntry(req());
      expect(v.allowed).toBe(false);
      expect(v.reason).toBe(`BLOCKED: ${key}: stale`);
      expect(rm.checkEntry(req({ reducing: true })).allowed).toBe(true);
      rm.unblock(T, key);
      expect(rm.checkEntry(req()).allowed).toBe(true);
    }
    expect(rm.blocks().size).toBe(0);
  });

  it("a book block on another market does not block this one", () => {
    const rm = new RiskManager({ ...CFG, maxOpenPositions: 5 }, T);
    rm.block(T, "book:B", "crossed");
    expect(rm.checkEntry(req({ market: "A" })).allowed).toBe(true);
    expect(rm.checkEntry(req({ market: "B" })).allowed).toBe(false);
    expect([...rm.blocks()]).toEqual([["book:B", "crossed"]]);
  });

  it("blocks do not change the risk state", () => {
    const rm = new RiskManager(CFG, T);
    rm.block(T, "spot", "stale");
    expect(rm.state()).toBe("ACTIVE");
  });
});

describe("RiskManager — reconciliation age", () => {
  it("refuses everything, reducing included, when reconciliation is missing or too old", () => {
    const rm = new RiskManager({ ...CFG, reconcileMaxAgeSeconds: 60 }, T);
    rm.updateBook(T, book({ costs: { A: 4 * D } }));
    expect(rm.checkEntry(req()).reason).toBe("RECONCILE_STALE: never reconciled");
    expect(code(rm.checkEntry(req({ reducing: true })).reason)).toBe("RECONCILE_STALE");
    rm.noteReconciled(T);
    expect(rm.checkEntry(req({ ts: T + 60_000_000 })).allowed).toBe(true); // exactly 60 s
    expect(code(rm.checkEntry(req({ ts: T + 60_000_001 })).reason)).toBe("RECONCILE_STALE");
    // an older reconciliation report never moves the mark backwards
    rm.noteReconciled(T - 100_000_000);
    expect(rm.checkEntry(req({ ts: T + 60_000_000 })).allowed).toBe(true);
  });

  it("is ignored when reconcileMaxAgeSeconds is 0 (replay)", () => {
    const rm = new RiskManager({ ...CFG, reconcileMaxAgeSeconds: 0 }, T);
    expect(rm.checkEntry(req({ ts: T + 1e12 })).allowed).toBe(true);
  });
});

describe("RiskManager — states", () => {
  it("ACTIVE → REDUCING when the day's loss reaches maxDailyLossPct of the day-start balance", () => {
    const rm = new RiskManager(CFG, T);
    // lost $29.99 of a $1000 day-start balance: under the $30 limit
    expect(rm.updateBook(T, book({ dailyPnl: -29_990_000, balance: 970_010_000 }))).toEqual([]);
    expect(rm.state()).toBe("ACTIVE");
    const recs = rm.updateBook(T + 1, book({ dailyPnl: -30 * D, balance: 970 * D, costs: { A: 4 * D } }));
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ kind: "risk_state_changed", ts: T + 1, from: "ACTIVE", to: "REDUCING" });
    expect(rm.state()).toBe("REDUCING");
    expect(code(rm.checkEntry(req()).reason)).toBe("REDUCING_ONLY");
    expect(rm.checkEntry(req({ reducing: true, action: "sell" })).allowed).toBe(true);
    // a same-day recovery does not reopen entries, and no duplicate records
    expect(rm.updateBook(T + 2, book({ dailyPnl: -5 * D, balance: 995 * D, costs: { A: 4 * D } }))).toEqual([]);
    expect(rm.state()).toBe("REDUCING");
  });

  it("a corrected settlement lifts the REDUCING its wrong loss caused, only when the corrected day is within the limit", () => {
    const rm = new RiskManager(CFG, T);
    rm.updateBook(T, book({ dailyPnl: -40 * D, balance: 960 * D }));
    expect(rm.state()).toBe("REDUCING");
    // Corrected by +$5 to −$35: still over the limit (3 % of the $1000 day start = $30): stays.
    expect(rm.settlementCorrected(T + 1, book({ dailyPnl: -35 * D, balance: 965 * D }), 5 * D, T - 1)).toEqual([]);
    // Corrected by +$45 to +$10: the loss never happened → ACTIVE, with the reason.
    const recs = rm.settlementCorrected(T + 2, book({ dailyPnl: 10 * D, balance: 1010 * D }), 45 * D, T - 1);
    expect(recs).toEqual([expect.objectContaining({ from: "REDUCING", to: "ACTIVE", reason: "settlement corrected: realized 10.00 today, within the daily loss limit" })]);
    // HALTED is never lifted by a correction.
    rm.halt(T + 3, "test");
    expect(rm.settlementCorrected(T + 4, book({ dailyPnl: 10 * D, balance: 1010 * D }), 1 * D, T - 1)).toEqual([]);
    expect(rm.state()).toBe("HALTED");
  });

  it("a correction does not undo a REDUCING that real losses caused, even after a real recovery", () => {
    const rm = new RiskManager(CFG, T);
    rm.updateBook(T, book({ dailyPnl: -40 * D, balance: 960 * D })); // real losses: REDUCING
    rm.updateBook(T + 1, book({ dailyPnl: -20 * D, balance: 980 * D })); // a real recovery: still REDUCING
    // A correction elsewhere that makes the day worse, or one too small to undo the trip, lifts nothing.
    expect(rm.settlementCorrected(T + 2, book({ dailyPnl: -21 * D, balance: 979 * D }), -1 * D, T - 1)).toEqual([]);
    expect(rm.settlementCorrected(T + 3, book({ dailyPnl: -16 * D, balance: 984 * D }), 5 * D, T - 1)).toEqual([]); // trip −40 −1 +5 = −36
    expect(rm.state()).toBe("REDUCING");
  });

  it("a correction of a settlement booked after the trip is a recovery, and lifts nothing", () => {
    const rm = new RiskManager(CFG, T);
    // Market A's real −$40 trips REDUCING at T. B settles by a fallback at T + 1 for −$5 (day −$45).
    rm.updateBook(T, book({ dailyPnl: -40 * D, balance: 960 * D }));
    rm.updateBook(T + 1, book({ dailyPnl: -45 * D, balance: 955 * D }));
    // The venue says B won: +$20 → the day is −$25, within the $30 limit. But at the trip the day
    // was −$40 from A alone (B was not booked yet): the trip stands.
    expect(rm.settlementCorrected(T + 2, book({ dailyPnl: -25 * D, balance: 975 * D }), 20 * D, T + 1)).toEqual([]);
    expect(rm.state()).toBe("REDUCING");
  });

  it("a correction that itself trips the limit counts once at the trip", () => {
    const rm = new RiskManager(CFG, T);
    rm.updateBook(T, book({ dailyPnl: -25 * D, balance: 975 * D })); // within the $30 limit
    // A −$20 correction of a settlement booked at T − 1 takes the day to −$45: REDUCING.
    const trip = rm.settlementCorrected(T + 1, book({ dailyPnl: -45 * D, balance: 955 * D }), -20 * D, T - 1);
    expect(trip).toEqual([expect.objectContaining({ from: "ACTIVE", to: "REDUCING" })]);
    // That settlement (first booked at T − 1) corrected back by +$20: the day at
    // the trip, corrected, is −$25, within the limit, and so is the day now → ACTIVE. Counting the
    // −$20 twice (−$45 at the trip, −$65 after it) would leave the trip at −$45 after the +$20: stuck.
    const lift = rm.settlementCorrected(T + 2, book({ dailyPnl: -25 * D, balance: 975 * D }), 20 * D, T - 1);
    expect(lift).toEqual([expect.objectContaining({ from: "REDUCING", to: "ACTIVE" })]);
  });

  it("a correction of a settlement booked the day before is not part of today's trip", () => {
    const rm = new RiskManager(CFG, T);
    rm.updateBook(T, book({ dailyPnl: -40 * D, balance: 960 * D })); // today's real −$40: REDUCING
    // A settlement of yesterday corrected by +$45, booked today: today's day is +$5, but the trip was real.
    expect(rm.settlementCorrected(T + 1, book({ dailyPnl: 5 * D, balance: 1005 * D }), 45 * D, T - 86_400 * 1_000_000)).toEqual([]);
    expect(rm.state()).toBe("REDUCING");
  });

  it("a REDUCING entered on reset() is lifted by a correction of the loss that caused it", () => {
    const rm = new RiskManager(CFG, T);
    rm.halt(T, "test");
    rm.updateBook(T + 1, book({ dailyPnl: -40 * D, balance: 960 * D })); // a fallback's −$40, booked at T + 1
    const reset = rm.reset(T + 2, "operator");
    expect(reset.map((r) => r.to)).toEqual(["ACTIVE", "REDUCING"]);
    const lift = rm.settlementCorrected(T + 3, book({ dailyPnl: 10 * D, balance: 1010 * D }), 50 * D, T + 1);
    expect(lift).toEqual([expect.objectContaining({ from: "REDUCING", to: "ACTIVE" })]); // before: the trip time was unset
  });

  it("REDUCING → ACTIVE on the next UTC day, and back to REDUCING if that day loses too", () => {
    const rm = new RiskManager(CFG, T);
    rm.updateBook(T, book({ dailyPnl: -40 * D, balance: 960 * D }));
    expect(rm.state()).toBe("REDUCING");
    const recs = rm.updateBook(NEXT_DAY, book({ dailyPnl: 0, balance: 960 * D }));
    expect(recs).toEqual([{ kind: "risk_state_changed", ts: NEXT_DAY, from: "REDUCING", to: "ACTIVE", reason: "new UTC day 2026-09-30" }]);
    // new day: limit is 3% of $960 = $28.80
    expect(rm.updateBook(NEXT_DAY + 1, book({ dailyPnl: -28_790_000, balance: 931_210_000 }))).toEqual([]);
    expect(rm.updateBook(NEXT_DAY + 2, book({ dailyPnl: -28_800_000, balance: 931_200_000 }))).toHaveLength(1);
    expect(rm.state()).toBe("REDUCING");
  });

  it("stays REDUCING on a new day whose own loss is already over the limit", () => {
    const rm = new RiskManager(CFG, T);
    rm.updateBook(T, book({ dailyPnl: -40 * D, balance: 960 * D }));
    expect(rm.updateBook(NEXT_DAY, book({ dailyPnl: -40 * D, balance: 920 * D }))).toEqual([]);
    expect(rm.state()).toBe("REDUCING");
  });

  it("HALTED refuses everything, reducing orders included, and is sticky", () => {
    const rm = new RiskManager(CFG, T);
    rm.updateBook(T, book({ costs: { A: 4 * D } }));
    const recs = rm.halt(T, "reconciliation mismatch");
    expect(recs).toEqual([{ kind: "risk_state_changed", ts: T, from: "ACTIVE", to: "HALTED", reason: "reconciliation mismatch" }]);
    expect(rm.checkEntry(req()).reason).toBe("HALTED: reconciliation mismatch");
    expect(rm.checkEntry(req({ reducing: true })).allowed).toBe(false);
    // nothing in the book or the calendar un-halts it
    expect(rm.updateBook(DAY_AFTER, book())).toEqual([]);
    expect(rm.state()).toBe("HALTED");
    // a second halt keeps the first reason and emits nothing
    expect(rm.halt(T + 5, "other")).toEqual([]);
    expect(rm.engageKillSwitch(T + 6, "operator")).toEqual([]);
    expect(rm.haltedBecause()).toBe("reconciliation mismatch");
    // HALTED beats every other refusal reason
    rm.block(T, "spot", "stale");
    expect(code(rm.checkEntry(req()).reason)).toBe("HALTED");
  });

  it("kill switch halts from REDUCING too", () => {
    const rm = new RiskManager(CFG, T);
    rm.updateBook(T, book({ dailyPnl: -40 * D, balance: 960 * D }));
    const recs = rm.engageKillSwitch(T + 1, "operator");
    expect(recs).toEqual([{ kind: "risk_state_changed", ts: T + 1, from: "REDUCING", to: "HALTED", reason: "kill switch: operator" }]);
    // and the next day does not bring it back
    expect(rm.updateBook(NEXT_DAY, book())).toEqual([]);
    expect(rm.state()).toBe("HALTED");
  });

  it("reset leaves HALTED explicitly, straight into REDUCING if today's loss is still over", () => {
    const rm = new RiskManager(CFG, T);
    rm.halt(T, "unknown fill");
    expect(rm.reset(T + 1, "operator")).toEqual([
      { kind: "risk_state_changed", ts: T + 1, from: "HALTED", to: "ACTIVE", reason: "reset: operator" },
    ]);
    expect(rm.checkEntry(req()).allowed).toBe(true);

    const rm2 = new RiskManager(CFG, T);
    rm2.updateBook(T, book({ dailyPnl: -40 * D, balance: 960 * D }));
    rm2.halt(T + 1, "kill");
    const recs = rm2.reset(T + 2, "operator");
    expect(recs.map((r) => [r.from, r.to])).toEqual([
      ["HALTED", "ACTIVE"],
      ["ACTIVE", "REDUCING"],
    ]);
    expect(rm2.state()).toBe("REDUCING");
    // the next day's rollover works after a reset into REDUCING
    rm2.updateBook(NEXT_DAY, book({ balance: 960 * D }));
    expect(rm2.state()).toBe("ACTIVE");
    // resetting an ACTIVE manager emits nothing
    expect(rm2.reset(NEXT_DAY + 1, "noop")).toEqual([]);
  });
});
