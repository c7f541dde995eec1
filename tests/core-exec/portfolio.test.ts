import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Portfolio, type FillInput } from "../../lib/core/portfolio.ts";
import { parseIsoToUs } from "../../lib/core/units.ts";

const D = 1_000_000; // one dollar in Micros
const START = 1000 * D;
const T = parseIsoToUs("2026-09-29T20:00:00Z");
const M = "KXBTCD-26SEP2917-T109999.99";

function fill(p: Partial<FillInput> & Pick<FillInput, "outcome" | "action" | "price" | "count">): FillInput {
  return { ts: T, market: M, fee: 0, ...p };
}

/** cash = start + realized − fees − Σ cost of open positions (see portfolio.ts header). */
function expectInvariant(pf: Portfolio): void {
  expect(pf.cash()).toBe(pf.startingCash + pf.realizedTotal() - pf.feesTotal() - pf.exposure());
}

describe("Portfolio — hand-computed cases", () => {
  it("buy 10 YES @0.40, settle YES: payout $10, pnl +$6, fees reduce cash", () => {
    const pf = new Portfolio(START);
    const after = pf.applyFill(fill({ outcome: "yes", action: "buy", price: 4000, count: 1000, fee: 170_000 }));
    expect(after).toEqual({ market: M, position: 1000, costBasis: 4 * D, realizedPnl: 0, feesPaid: 170_000 });
    expect(pf.cash()).toBe(START - 4 * D - 170_000);
    expect(pf.exposure()).toBe(4 * D);
    const s = pf.settle(M, "yes", -1, T + 1);
    expect(s).toEqual({ payout: 10 * D, pnl: 6 * D, position: 1000 });
    expect(pf.cash()).toBe(START + 6 * D - 170_000);
    expect(pf.realizedTotal()).toBe(6 * D);
    expect(pf.feesTotal()).toBe(170_000);
    expect(pf.dailyRealized(T)).toBe(6 * D - 170_000);
    expect(pf.openMarkets()).toEqual([]);
    expect(pf.position(M).position).toBe(0);
    expectInvariant(pf);
  });

  it("buy 10 NO @0.30: position −10; settle NO pays $10 (pnl +$7), settle YES pays 0 (pnl −$3)", () => {
    const a = new Portfolio(START);
    a.applyFill(fill({ outcome: "no", action: "buy", price: 3000, count: 1000 }));
    expect(a.position(M)).toMatchObject({ position: -1000, costBasis: 3 * D });
    expect(a.cash()).toBe(START - 3 * D);
    expect(a.settle(M, "no", -1)).toEqual({ payout: 10 * D, pnl: 7 * D, position: -1000 });
    expect(a.cash()).toBe(START + 7 * D);

    const b = new Portfolio(START);
    b.applyFill(fill({ outcome: "no", action: "buy", price: 3000, count: 1000 }));
    expect(b.settle(M, "yes", -1)).toEqual({ payout: 0, pnl: -3 * D, position: -1000 });
    expect(b.cash()).toBe(START - 3 * D);
  });

  it("buy 10 YES @0.40 then buy 4 NO @0.55 nets to +6 YES and realizes 4×(0.45−0.40)", () => {
    const pf = new Portfolio(START);
    pf.applyFill(fill({ outcome: "yes", action: "buy", price: 4000, count: 1000 }));
    const after = pf.applyFill(fill({ outcome: "no", action: "buy", price: 5500, count: 400 }));
    // Venue: pay 4×0.55 = 2.20 for NO, 4 YES+NO pairs redeemed for $4 → cash −4 −2.20 +4 = −2.20.
    expect(after).toEqual({ market: M, position: 600, costBasis: 2_400_000, realizedPnl: 200_000, feesPaid: 0 });
    expect(pf.cash()).toBe(START - 2_200_000);
    expectInvariant(pf);
    // Settle YES: 6 × $1 → cash −2.20 + 6 = +3.80 = 0.20 realized + (6 − 2.40).
    expect(pf.settle(M, "yes", -1)).toEqual({ payout: 6 * D, pnl: 3_600_000, position: 600 });
    expect(pf.cash()).toBe(START + 3_800_000);
    expect(pf.realizedTotal()).toBe(3_800_000);
  });

  it("same netting, settled NO: 10 YES lost (−4.00), 4 NO won 4×0.45 (+1.80) → −2.20", () => {
    const pf = new Portfolio(START);
    pf.applyFill(fill({ outcome: "yes", action: "buy", price: 4000, count: 1000 }));
    pf.applyFill(fill({ outcome: "no", action: "buy", price: 5500, count: 400 }));
    pf.settle(M, "no", -1);
    expect(pf.cash()).toBe(START - 2_200_000);
  });

  it("sell YES through zero: long 5 @0.40, sell 8 @0.50 → −3 (NO at 0.50)", () => {
    const pf = new Portfolio(START);
    pf.applyFill(fill({ outcome: "yes", action: "buy", price: 4000, count: 500 }));
    const after = pf.applyFill(fill({ outcome: "yes", action: "sell", price: 5000, count: 800 }));
    // Venue: sell 5 YES +2.50; the other 3 are an ask = buy 3 NO at 0.50, −1.50. Net +1.00.
    expect(after).toEqual({ market: M, position: -300, costBasis: 1_500_000, realizedPnl: 500_000, feesPaid: 0 });
    expect(pf.cash()).toBe(START - 2 * D + 1 * D);
    expectInvariant(pf);
    // Settle NO: 3 NO pay $3 → total +0.50 + 1.50 = +2.00.
    pf.settle(M, "no", -1);
    expect(pf.cash()).toBe(START + 2 * D);
  });

  it("sell NO to reduce, then through zero into YES", () => {
    const pf = new Portfolio(START);
    pf.applyFill(fill({ outcome: "no", action: "buy", price: 3000, count: 1000 }));
    // sell 4 NO @0.45: +1.80, realized 4×0.15 = 0.60, 6 NO left costing 1.80
    expect(pf.applyFill(fill({ outcome: "no", action: "sell", price: 4500, count: 400 }))).toMatchObject({
      position: -600,
      costBasis: 1_800_000,
      realizedPnl: 600_000,
    });
    expect(pf.cash()).toBe(START - 3 * D + 1_800_000);
    // sell 9 NO @0.20: 6 closed (realized 6×(0.20−0.30) = −0.60), 3 beyond = a bid = buy 3 YES at 0.80.
    // Venue cash: +6×0.20 = 1.20 for the NO, −3×0.80 = 2.40 for YES → −1.20.
    expect(pf.applyFill(fill({ outcome: "no", action: "sell", price: 2000, count: 900 }))).toMatchObject({
      position: 300,
      costBasis: 2_400_000,
      realizedPnl: 0,
    });
    expect(pf.cash()).toBe(START - 3 * D + 1_800_000 - 1_200_000);
    expectInvariant(pf);
  });

  it("buy YES while short (holding NO) redeems pairs", () => {
    const pf = new Portfolio(START);
    pf.applyFill(fill({ outcome: "no", action: "buy", price: 3000, count: 1000 })); // −3.00
    // buy 4 YES @0.60: pay 2.40, 4 pairs → +4.00; realized 4×((1−0.60)−0.30) = +0.40
    expect(pf.applyFill(fill({ outcome: "yes", action: "buy", price: 6000, count: 400 }))).toMatchObject({
      position: -600,
      costBasis: 1_800_000,
      realizedPnl: 400_000,
    });
    expect(pf.cash()).toBe(START - 3 * D - 2_400_000 + 4 * D);
  });

  it("closes FIFO lots", () => {
    const pf = new Portfolio(START);
    pf.applyFill(fill({ outcome: "yes", action: "buy", price: 4000, count: 1000 }));
    pf.applyFill(fill({ outcome: "yes", action: "buy", price: 6000, count: 1000 }));
    // sell 15 @0.50: first lot 10×(+0.10) = 1.00, second 5×(−0.10) = −0.50
    expect(pf.applyFill(fill({ outcome: "yes", action: "sell", price: 5000, count: 1500 }))).toMatchObject({
      position: 500,
      costBasis: 3 * D,
      realizedPnl: 500_000,
    });
  });

  it("fractional counts and sub-cent prices stay exact", () => {
    const pf = new Portfolio(START);
    // 0.37 contracts × $0.4321 = $0.159877
    pf.applyFill(fill({ outcome: "yes", action: "buy", price: 4321, count: 37 }));
    expect(pf.cash()).toBe(START - 159_877);
    expect(pf.settle(M, "yes", -1)).toEqual({ payout: 370_000, pnl: 370_000 - 159_877, position: 37 });
  });

  it("scalar pays the value per YES and its complement per NO; void refunds cost", () => {
    const y = new Portfolio(START);
    y.applyFill(fill({ outcome: "yes", action: "buy", price: 4000, count: 1000 }));
    expect(y.settle(M, "scalar", 2500)).toEqual({ payout: 2_500_000, pnl: -1_500_000, position: 1000 });
    const n = new Portfolio(START);
    n.applyFill(fill({ outcome: "no", action: "buy", price: 4000, count: 1000 }));
    expect(n.settle(M, "scalar", 2500)).toEqual({ payout: 7_500_000, pnl: 3_500_000, position: -1000 });
    const v = new Portfolio(START);
    v.applyFill(fill({ outcome: "no", action: "buy", price: 4000, count: 1000, fee: 50_000 }));
    expect(v.settle(M, "void", -1)).toEqual({ payout: 4 * D, pnl: 0, position: -1000 });
    expect(v.cash()).toBe(START - 50_000);
    expect(() => y.settle("X", "scalar", 2500)).not.toThrow(); // flat/unknown market: nothing to pay
    const bad = new Portfolio(START);
    bad.applyFill(fill({ outcome: "yes", action: "buy", price: 4000, count: 100 }));
    expect(() => bad.settle(M, "scalar", 10_001)).toThrow();
  });

  it("settling an unknown or flat market pays nothing", () => {
    const pf = new Portfolio(START);
    expect(pf.settle("NOPE", "yes", -1)).toEqual({ payout: 0, pnl: 0, position: 0 });
    expect(pf.cash()).toBe(START);
  });

  it("rejects invalid fills", () => {
    const pf = new Portfolio(START);
    expect(() => pf.applyFill(fill({ outcome: "yes", action: "buy", price: 10_001, count: 100 }))).toThrow();
    expect(() => pf.applyFill(fill({ outcome: "yes", action: "buy", price: 4000, count: 0 }))).toThrow();
    expect(() => pf.applyFill(fill({ outcome: "yes", action: "buy", price: 4000.5, count: 100 }))).toThrow();
    expect(() => pf.applyFill(fill({ outcome: "yes", action: "buy", price: 4000, count: 100, fee: -1 }))).toThrow();
    expect(pf.cash()).toBe(START);
  });

  it("unrealized marks YES at yesBid and NO at noBid", () => {
    const pf = new Portfolio(START);
    pf.applyFill(fill({ market: "A", outcome: "yes", action: "buy", price: 4000, count: 1000 })); // cost 4.00
    pf.applyFill(fill({ market: "B", outcome: "no", action: "buy", price: 5500, count: 400 })); // cost 2.20
    pf.applyFill(fill({ market: "C", outcome: "yes", action: "buy", price: 5000, count: 100 })); // cost 0.50
    const marks = (m: string) =>
      m === "A" ? { yesBid: 4500, noBid: 5300 } : m === "B" ? { yesBid: 4800, noBid: 5000 } : null;
    // A: 10×0.45 − 4.00 = +0.50; B: 4×0.50 − 2.20 = −0.20; C skipped.
    expect(pf.unrealized(marks)).toBe(300_000);
    // absent bid (−1) marks at zero
    expect(pf.unrealized((m) => (m === "A" ? { yesBid: -1, noBid: 5000 } : null))).toBe(-4 * D);
    expect(pf.exposure()).toBe(6_700_000);
    expect(pf.openMarkets()).toEqual(["A", "B", "C"]);
  });

  it("daily realized follows the UTC day of each fill/settlement, fees included", () => {
    const pf = new Portfolio(START);
    const late = parseIsoToUs("2026-09-29T23:59:59.999999Z");
    const early = parseIsoToUs("2026-09-30T00:00:00Z");
    pf.applyFill(fill({ ts: late, outcome: "yes", action: "buy", price: 4000, count: 1000, fee: 100_000 }));
    pf.applyFill(fill({ ts: early, outcome: "yes", action: "sell", price: 5000, count: 500, fee: 30_000 }));
    expect(pf.dailyRealized(late)).toBe(-100_000);
    // day 2: 5×0.10 − 0.03 = 0.47
    expect(pf.dailyRealized(early)).toBe(470_000);
    // settlement NO on day 2 loses the remaining 5×0.40
    pf.settle(M, "no", -1, early + 5);
    expect(pf.dailyRealized(early)).toBe(470_000 - 2 * D);
    // settlement without ts uses the latest event time seen
    pf.applyFill(fill({ ts: early + 10, market: "B", outcome: "yes", action: "buy", price: 1000, count: 100 }));
    pf.settle("B", "yes", -1);
    expect(pf.dailyRealized(early)).toBe(470_000 - 2 * D + 900_000);
    expect(pf.dailyRealized(parseIsoToUs("2026-10-01T12:00:00Z"))).toBe(0);
  });

  it("reconcile reports every mismatch", () => {
    const pf = new Portfolio(START);
    pf.applyFill(fill({ market: "A", outcome: "yes", action: "buy", price: 4000, count: 1000 }));
    pf.applyFill(fill({ market: "B", outcome: "no", action: "buy", price: 4000, count: 300 }));
    expect(pf.reconcile([{ market: "A", position: 1000 }, { market: "B", position: -300 }])).toEqual([]);
    // zero entries on the venue side equal "no position"
    expect(pf.reconcile([{ market: "A", position: 1000 }, { market: "B", position: -300 }, { market: "Z", position: 0 }])).toEqual([]);
    const mm = pf.reconcile([{ market: "A", position: 500 }, { market: "C", position: -200 }]);
    expect(mm).toEqual([
      "A: local position 10.00, venue 5.00",
      "B: local position -3.00, venue 0.00",
      "C: local position 0.00, venue -2.00",
    ]);
    expect(pf.reconcile([{ market: "A", position: 500 }, { market: "A", position: 500 }, { market: "B", position: -300 }])).toEqual([
      "A: venue snapshot lists the market twice",
    ]);
  });
});

// ---- Property: second implementation that never nets ----------------------------------------------

/**
 * Brute-force simulator: holds YES and NO contracts separately and never nets. A sell beyond what is
 * held in that leg is what the venue does with the rest of an ask/bid: a buy of the other leg at
 * 1 − price. At settlement every YES pays $1 if YES, every NO pays $1 if NO — a matched YES+NO pair
 * pays exactly $1 either way.
 */
class GrossSim {
  cash: number;
  yes = new Map<string, number>();
  no = new Map<string, number>();
  constructor(start: number) {
    this.cash = start;
  }
  apply(f: FillInput): void {
    const own = f.outcome === "yes" ? this.yes : this.no;
    const other = f.outcome === "yes" ? this.no : this.yes;
    this.cash -= f.fee;
    if (f.action === "buy") {
      own.set(f.market, (own.get(f.market) ?? 0) + f.count);
      this.cash -= f.price * f.count;
      return;
    }
    const held = own.get(f.market) ?? 0;
    const k = Math.min(held, f.count);
    own.set(f.market, held - k);
    this.cash += f.price * k;
    const rest = f.count - k;
    other.set(f.market, (other.get(f.market) ?? 0) + rest);
    this.cash -= (10_000 - f.price) * rest;
  }
  settle(market: string, yesPays: number): void {
    this.cash += (this.yes.get(market) ?? 0) * yesPays + (this.no.get(market) ?? 0) * (10_000 - yesPays);
    this.yes.set(market, 0);
    this.no.set(market, 0);
  }
  net(market: string): number {
    return (this.yes.get(market) ?? 0) - (this.no.get(market) ?? 0);
  }
}

const arbFill = fc.record({
  market: fc.constantFrom("A", "B", "C"),
  outcome: fc.constantFrom<"yes" | "no">("yes", "no"),
  action: fc.constantFrom<"buy" | "sell">("buy", "sell"),
  price: fc.integer({ min: 1, max: 9999 }),
  count: fc.integer({ min: 1, max: 3000 }),
  fee: fc.integer({ min: 0, max: 50_000 }),
  dt: fc.integer({ min: 0, max: 3_600_000_000 }),
});

describe("Portfolio — property against a gross (non-netting) simulator", () => {
  it("net positions, cash invariant and final cash after settlement agree", () => {
    fc.assert(
      fc.property(
        fc.array(arbFill, { maxLength: 40 }),
        fc.record({
          A: fc.integer({ min: 0, max: 10_000 }),
          B: fc.integer({ min: 0, max: 10_000 }),
          C: fc.integer({ min: 0, max: 10_000 }),
        }),
        (fills, yesPays) => {
          const pf = new Portfolio(START);
          const sim = new GrossSim(START);
          let ts = T;
          for (const f of fills) {
            ts += f.dt;
            const fi: FillInput = { ts, market: f.market, outcome: f.outcome, action: f.action, price: f.price, count: f.count, fee: f.fee };
            pf.applyFill(fi);
            sim.apply(fi);
            expect(pf.position(f.market).position).toBe(sim.net(f.market));
            expectInvariant(pf);
            expect(pf.exposure()).toBeGreaterThanOrEqual(0);
          }
          for (const m of ["A", "B", "C"] as const) {
            const v = yesPays[m];
            // yes/no results exercise the named paths; anything else settles as scalar
            if (v === 10_000) pf.settle(m, "yes", -1, ts);
            else if (v === 0) pf.settle(m, "no", -1, ts);
            else pf.settle(m, "scalar", v, ts);
            sim.settle(m, v);
          }
          expect(pf.cash()).toBe(sim.cash);
          expect(pf.openMarkets()).toEqual([]);
          expect(pf.exposure()).toBe(0);
          // everything realized: cash − start = realized − fees
          expect(pf.cash() - START).toBe(pf.realizedTotal() - pf.feesTotal());
        },
      ),
      { numRuns: 400 },
    );
  });
});
