import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  LINEAR_CENT,
  isOnGrid,
  nextGridDown,
  nextGridUp,
  roundToGrid,
  tickSizeAt,
  ticksBetween,
  validatePriceRanges,
} from "../../lib/core/grid.ts";
import type { PriceRange } from "../../lib/core/events.ts";

/** tapered_deci_cent: $0.001 below 0.10 and above 0.90, $0.01 between (PriceE4 units). */
const TAPERED: readonly PriceRange[] = [
  { start: 0, end: 1000, step: 10 },
  { start: 1000, end: 9000, step: 100 },
  { start: 9000, end: 10_000, step: 10 },
];
/** Same bands, listed out of order: order must not matter. */
const TAPERED_SHUFFLED: readonly PriceRange[] = [TAPERED[2]!, TAPERED[0]!, TAPERED[1]!];

/** Second implementation: enumerate every grid point into a sorted array. */
function allPoints(ranges: readonly PriceRange[]): number[] {
  const s = new Set<number>();
  for (const r of ranges) for (let p = r.start; p <= r.end; p += r.step) s.add(p);
  return [...s].sort((a, b) => a - b);
}

describe("grid by hand", () => {
  it("linear cent", () => {
    expect(tickSizeAt(LINEAR_CENT, 4500)).toBe(100);
    expect(isOnGrid(LINEAR_CENT, 4500)).toBe(true);
    expect(isOnGrid(LINEAR_CENT, 4550)).toBe(false);
    expect(roundToGrid(LINEAR_CENT, 4550, "down")).toBe(4500);
    expect(roundToGrid(LINEAR_CENT, 4550, "up")).toBe(4600);
    expect(roundToGrid(LINEAR_CENT, 4500, "up")).toBe(4500);
    expect(ticksBetween(LINEAR_CENT, 4500, 4700)).toBe(2); // bid 0.45, ask 0.47
    expect(ticksBetween(LINEAR_CENT, 4700, 4500)).toBe(-2);
    expect(ticksBetween(LINEAR_CENT, 0, 10_000)).toBe(100);
  });

  it("tapered: membership, band boundaries included", () => {
    for (const g of [TAPERED, TAPERED_SHUFFLED]) {
      expect(isOnGrid(g, 0)).toBe(true);
      expect(isOnGrid(g, 990)).toBe(true); // 0.099
      expect(isOnGrid(g, 995)).toBe(false); // 0.0995: finer than any band
      expect(isOnGrid(g, 1000)).toBe(true); // 0.10 boundary
      expect(isOnGrid(g, 1050)).toBe(false); // 0.105: $0.01 band
      expect(isOnGrid(g, 1100)).toBe(true);
      expect(isOnGrid(g, 9010)).toBe(true); // 0.901
      expect(isOnGrid(g, 9005)).toBe(false);
      expect(isOnGrid(g, 10_000)).toBe(true);
    }
  });

  it("tapered: tick size (larger step at a shared boundary)", () => {
    expect(tickSizeAt(TAPERED, 500)).toBe(10);
    expect(tickSizeAt(TAPERED, 5000)).toBe(100);
    expect(tickSizeAt(TAPERED, 9500)).toBe(10);
    expect(tickSizeAt(TAPERED, 1000)).toBe(100);
    expect(tickSizeAt(TAPERED, 9000)).toBe(100);
  });

  it("tapered: rounding across boundaries", () => {
    for (const g of [TAPERED, TAPERED_SHUFFLED]) {
      expect(roundToGrid(g, 1050, "down")).toBe(1000);
      expect(roundToGrid(g, 1050, "up")).toBe(1100);
      expect(roundToGrid(g, 995, "down")).toBe(990);
      expect(roundToGrid(g, 995, "up")).toBe(1000);
      expect(roundToGrid(g, 8950, "down")).toBe(8900);
      expect(roundToGrid(g, 8950, "up")).toBe(9000);
      expect(roundToGrid(g, 9055, "down")).toBe(9050);
      expect(roundToGrid(g, 9055, "up")).toBe(9060);
    }
  });

  it("rounding beyond the grid's extent clamps to its ends", () => {
    const g: PriceRange[] = [{ start: 100, end: 9900, step: 100 }];
    expect(roundToGrid(g, 50, "down")).toBe(100);
    expect(roundToGrid(g, 9950, "up")).toBe(9900);
    // a band whose end is not on its step: top point is 9900
    const odd: PriceRange[] = [{ start: 0, end: 10_000, step: 300 }];
    expect(roundToGrid(odd, 9950, "up")).toBe(9900);
    expect(roundToGrid(odd, 9950, "down")).toBe(9900);
  });

  it("tapered: next tick up/down", () => {
    expect(nextGridUp(TAPERED, 990)).toBe(1000);
    expect(nextGridUp(TAPERED, 1000)).toBe(1100);
    expect(nextGridDown(TAPERED, 1000)).toBe(990);
    expect(nextGridDown(TAPERED, 9010)).toBe(9000);
    expect(nextGridUp(TAPERED, 8900)).toBe(9000);
    expect(nextGridUp(TAPERED, 10_000)).toBeNaN();
    expect(nextGridDown(TAPERED, 0)).toBeNaN();
  });

  it("tapered: ticks between", () => {
    expect(ticksBetween(TAPERED, 990, 1100)).toBe(2); // 1000, 1100
    expect(ticksBetween(TAPERED, 950, 1100)).toBe(6); // 960 970 980 990 1000 1100
    expect(ticksBetween(TAPERED, 8900, 9020)).toBe(3); // 9000 9010 9020
    expect(ticksBetween(TAPERED, 9020, 8900)).toBe(-3);
    expect(ticksBetween(TAPERED, 4500, 4500)).toBe(0);
    // 100 deci-cent ticks to 0.10, 80 cent ticks to 0.90, 100 deci-cent ticks to 1.00
    expect(ticksBetween(TAPERED, 0, 10_000)).toBe(280);
    expect(ticksBetween(TAPERED_SHUFFLED, 0, 10_000)).toBe(280);
  });

  it("validation", () => {
    expect(() => validatePriceRanges(TAPERED)).not.toThrow();
    expect(() => validatePriceRanges([])).toThrow(RangeError);
    expect(() => validatePriceRanges([{ start: 0, end: 10_000, step: 0 }])).toThrow(RangeError);
    expect(() => validatePriceRanges([{ start: 0, end: 6000, step: 100 }, { start: 5000, end: 10_000, step: 10 }])).toThrow(RangeError);
  });
});

describe("grid vs enumeration (second implementation)", () => {
  const grids = [LINEAR_CENT, TAPERED, TAPERED_SHUFFLED, [{ start: 0, end: 500, step: 1 }, { start: 500, end: 9500, step: 50 }, { start: 9500, end: 10_000, step: 1 }]];
  it("isOnGrid, roundToGrid, next up/down and ticksBetween agree with a sorted point list", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: grids.length - 1 }), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), (gi, a, b) => {
        const g = grids[gi]!;
        const pts = allPoints(g);
        expect(isOnGrid(g, a)).toBe(pts.includes(a));
        const down = [...pts].reverse().find((p) => p <= a)!;
        const up = pts.find((p) => p >= a)!;
        expect(roundToGrid(g, a, "down")).toBe(down);
        expect(roundToGrid(g, a, "up")).toBe(up);
        expect(nextGridUp(g, a)).toBe(pts.find((p) => p > a) ?? NaN);
        expect(nextGridDown(g, a)).toBe([...pts].reverse().find((p) => p < a) ?? NaN);
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const n = pts.filter((p) => p > lo && p <= hi).length;
        expect(ticksBetween(g, lo, hi)).toBe(n);
        expect(ticksBetween(g, hi, lo)).toBe(lo === hi ? 0 : -n);
      }),
      { numRuns: 1500 },
    );
  });
});
