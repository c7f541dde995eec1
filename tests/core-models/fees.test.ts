import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { feePerContract, tradeFee, type FeeSchedule } from "../../lib/core/fees.ts";
import { DEFAULT_ENGINE_CONFIG, type FeeConfig } from "../../lib/core/config.ts";

const CENT: FeeConfig = { ...DEFAULT_ENGINE_CONFIG.fees, takerCoefficient: 0.07, makerCoefficient: 0.0175, rounding: "order_cent" };
const CENTICENT: FeeConfig = { ...CENT, rounding: "fill_centicent" };
const TAKER_ONLY: FeeSchedule = { feeType: "quadratic", feeMultiplier: 1 };
const WITH_MAKER: FeeSchedule = { feeType: "quadratic_with_maker_fees", feeMultiplier: 1 };

/**
 * Independent oracle: taker fee in micros with the coefficient as the rational 7/100 (not the
 * implementation's 70 000/10^6 form), all in BigInt.
 *   fee $ = 7/100 · (count/100) · (p/1e4) · ((1e4 − p)/1e4) = 7·count·p·(1e4−p) / 1e12
 *   fee in steps of `stepMicros` = 7·count·p·(1e4−p) / (1e12 · stepMicros / 1e6), ceiled.
 */
function oracleTakerMicros(count: number, p: number, stepMicros: number): number {
  const num = 7n * BigInt(count) * BigInt(p) * BigInt(10_000 - p) * 1_000_000n;
  const den = 1_000_000_000_000n * BigInt(stepMicros);
  const steps = (num + den - 1n) / den;
  return Number(steps) * stepMicros;
}

describe("tradeFee — reference §6 examples, by hand", () => {
  it("taker 10 @ $0.45 → 0.07·10·0.45·0.55 = 0.17325 → $0.18", () => {
    expect(tradeFee(1000, 4500, false, TAKER_ONLY, CENT)).toBe(180_000);
  });
  it("maker 10 @ $0.45 on a maker-fee series → 0.0175·10·0.2475 = 0.0433125 → $0.05", () => {
    expect(tradeFee(1000, 4500, true, WITH_MAKER, CENT)).toBe(50_000);
  });
  it("maker pays nothing on a plain quadratic series", () => {
    expect(tradeFee(1000, 4500, true, TAKER_ONLY, CENT)).toBe(0);
  });
  it("1 @ $0.50 → 0.0175 → $0.02", () => {
    expect(tradeFee(100, 5000, false, TAKER_ONLY, CENT)).toBe(20_000);
  });
  it("100 @ $0.01 → 0.07·100·0.01·0.99 = 0.0693 → $0.07", () => {
    expect(tradeFee(10_000, 100, false, TAKER_ONLY, CENT)).toBe(70_000);
  });
  it("fractional 0.5 @ $0.50 → 0.07·0.5·0.25 = 0.00875 → $0.01", () => {
    expect(tradeFee(50, 5000, false, TAKER_ONLY, CENT)).toBe(10_000);
  });
  it("fill_centicent: 10 @ $0.45 → 0.17325 → $0.1733", () => {
    expect(tradeFee(1000, 4500, false, TAKER_ONLY, CENTICENT)).toBe(173_300);
  });
  it("an exact cent amount is not rounded further: 20 @ $0.50 → 0.07·20·0.25 = $0.35", () => {
    expect(tradeFee(2000, 5000, false, TAKER_ONLY, CENT)).toBe(350_000);
  });
  it("fee multiplier scales the coefficient: ×0.5, 10 @ $0.45 → 0.086625 → $0.09", () => {
    expect(tradeFee(1000, 4500, false, { feeType: "quadratic", feeMultiplier: 0.5 }, CENT)).toBe(90_000);
  });
  it("flat is priced like quadratic (taker fee, no maker fee)", () => {
    const flat: FeeSchedule = { feeType: "flat", feeMultiplier: 1 };
    expect(tradeFee(1000, 4500, false, flat, CENT)).toBe(180_000);
    expect(tradeFee(1000, 4500, true, flat, CENT)).toBe(0);
  });
  it("zero at P = 0 and P = 1, and for zero count", () => {
    expect(tradeFee(1000, 0, false, TAKER_ONLY, CENT)).toBe(0);
    expect(tradeFee(1000, 10_000, false, TAKER_ONLY, CENT)).toBe(0);
    expect(tradeFee(0, 5000, false, TAKER_ONLY, CENT)).toBe(0);
  });
  it("large orders (BigInt path): 1 000 000 @ $0.50 → $17 500 exactly; 1 234 567.89 @ $0.3333 vs oracle", () => {
    expect(tradeFee(100_000_000, 5000, false, TAKER_ONLY, CENT)).toBe(17_500_000_000);
    expect(tradeFee(123_456_789, 3333, false, TAKER_ONLY, CENT)).toBe(oracleTakerMicros(123_456_789, 3333, 10_000));
    expect(tradeFee(123_456_789, 3333, false, TAKER_ONLY, CENTICENT)).toBe(oracleTakerMicros(123_456_789, 3333, 100));
  });
  it("rejects negative / fractional counts and prices outside [0,1]", () => {
    expect(() => tradeFee(-1, 5000, false, TAKER_ONLY, CENT)).toThrow(RangeError);
    expect(() => tradeFee(1.5, 5000, false, TAKER_ONLY, CENT)).toThrow(RangeError);
    expect(() => tradeFee(100, 10_001, false, TAKER_ONLY, CENT)).toThrow(RangeError);
  });
});

describe("tradeFee — properties", () => {
  const count = fc.integer({ min: 0, max: 2_000_000_000 });
  const price = fc.integer({ min: 0, max: 10_000 });
  it("equals the BigInt rational oracle (both rounding modes)", () => {
    fc.assert(
      fc.property(count, price, (c, p) => {
        expect(tradeFee(c, p, false, TAKER_ONLY, CENT)).toBe(oracleTakerMicros(c, p, 10_000));
        expect(tradeFee(c, p, false, TAKER_ONLY, CENTICENT)).toBe(oracleTakerMicros(c, p, 100));
      }),
      { numRuns: 2000 },
    );
  });
  it("symmetric in P ↔ 1 − P", () => {
    fc.assert(
      fc.property(count, price, fc.boolean(), (c, p, maker) => {
        expect(tradeFee(c, p, maker, WITH_MAKER, CENT)).toBe(tradeFee(c, 10_000 - p, maker, WITH_MAKER, CENT));
      }),
    );
  });
  it("non-decreasing in count; maker ≤ taker", () => {
    fc.assert(
      fc.property(count, count, price, (a, b, p) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(tradeFee(lo, p, false, TAKER_ONLY, CENT)).toBeLessThanOrEqual(tradeFee(hi, p, false, TAKER_ONLY, CENT));
        expect(tradeFee(lo, p, true, WITH_MAKER, CENTICENT)).toBeLessThanOrEqual(tradeFee(hi, p, true, WITH_MAKER, CENTICENT));
        expect(tradeFee(hi, p, true, WITH_MAKER, CENT)).toBeLessThanOrEqual(tradeFee(hi, p, false, WITH_MAKER, CENT));
      }),
    );
  });
  it("fill_centicent never exceeds order_cent, and differs by less than a cent", () => {
    fc.assert(
      fc.property(count, price, (c, p) => {
        const cent = tradeFee(c, p, false, TAKER_ONLY, CENT);
        const cc = tradeFee(c, p, false, TAKER_ONLY, CENTICENT);
        expect(cc).toBeLessThanOrEqual(cent);
        expect(cent - cc).toBeLessThan(10_000);
      }),
    );
  });
});

describe("feePerContract", () => {
  it("10 @ $0.45 taker → $0.18 / 10 = $0.018 per contract", () => {
    expect(feePerContract(1000, 4500, false, TAKER_ONLY, CENT)).toBeCloseTo(0.018, 12);
  });
  it("1 @ $0.50 → $0.02 (rounding of a small order shows up per contract)", () => {
    expect(feePerContract(100, 5000, false, TAKER_ONLY, CENT)).toBeCloseTo(0.02, 12);
  });
  it("count 0 → the marginal rate 0.07·P·(1−P)", () => {
    expect(feePerContract(0, 4500, false, TAKER_ONLY, CENT)).toBeCloseTo(0.07 * 0.45 * 0.55, 12);
    expect(feePerContract(0, 4500, true, TAKER_ONLY, CENT)).toBe(0);
  });
});
