/**
 * The per-market price grid, built from the market's `price_ranges` (reference §7.1): a list of bands
 * `{start, end, step}` in PriceE4. The valid prices of a band are start, start+step, … up to end; the
 * market's grid is the union over its bands. Examples:
 *  - linear_cent:        [{0, 10000, 100}]
 *  - tapered_deci_cent:  [{0, 1000, 10}, {1000, 9000, 100}, {9000, 10000, 10}]
 *
 * Assumption (checked by `validatePriceRanges`): bands do not overlap except that one band may start
 * exactly where another ends. Band order in the array does not matter. Everything here is a handful of
 * integer operations per band (Kalshi markets have 1–5 bands), no allocation.
 */
import type { PriceRange } from "./events.ts";
import type { PriceE4 } from "./units.ts";

/** The classic $0.01 grid over [0, 1]. */
export const LINEAR_CENT: readonly PriceRange[] = Object.freeze([Object.freeze({ start: 0, end: 10_000, step: 100 })]);

/** Highest grid point of a band (end itself when (end − start) is a multiple of step). */
function bandTop(r: PriceRange): PriceE4 {
  return r.start + Math.floor((r.end - r.start) / r.step) * r.step;
}

/** Throws a RangeError when the bands are unusable (non-integer, empty, bad step, overlapping). */
export function validatePriceRanges(ranges: readonly PriceRange[]): void {
  if (ranges.length === 0) throw new RangeError("price_ranges is empty");
  for (const r of ranges) {
    if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.end) || !Number.isSafeInteger(r.step)) {
      throw new RangeError(`price range has non-integer bounds: ${JSON.stringify(r)}`);
    }
    if (r.step <= 0 || r.end < r.start) throw new RangeError(`bad price range ${JSON.stringify(r)}`);
  }
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const a = ranges[i]!;
      const b = ranges[j]!;
      // Overlap of more than one shared boundary point is not supported.
      if (a.start < b.end && b.start < a.end) throw new RangeError(`overlapping price ranges ${JSON.stringify(a)} ${JSON.stringify(b)}`);
    }
  }
}

/**
 * Tick size (step) at `price`: the step of the band that contains it. At a boundary shared by two
 * bands the LARGER step is returned — this feeds cost buffers ("slippage = k ticks"), where erring
 * coarse is the conservative side. Outside every band, the step of the nearest band.
 */
export function tickSizeAt(ranges: readonly PriceRange[], price: PriceE4): PriceE4 {
  let step = 0;
  let nearestStep = 0;
  let nearestDist = Infinity;
  for (const r of ranges) {
    if (price >= r.start && price <= r.end) {
      if (r.step > step) step = r.step;
    } else {
      const dist = price < r.start ? r.start - price : price - r.end;
      if (dist < nearestDist) {
        nearestDist = dist;
        nearestStep = r.step;
      }
    }
  }
  return step > 0 ? step : nearestStep;
}

/** True when `price` is an allowed price of some band. */
export function isOnGrid(ranges: readonly PriceRange[], price: PriceE4): boolean {
  if (!Number.isInteger(price)) return false;
  for (const r of ranges) {
    if (price >= r.start && price <= r.end && (price - r.start) % r.step === 0) return true;
  }
  return false;
}

/**
 * The nearest grid price at or below ("down") / at or above ("up") `price`. A price beyond the grid's
 * extent clamps to the grid's lowest / highest point (so the result is always a valid grid price).
 * Buyers round their limit down and sellers up, so rounding never makes a price worse for us.
 */
export function roundToGrid(ranges: readonly PriceRange[], price: PriceE4, mode: "down" | "up"): PriceE4 {
  let best = mode === "down" ? -Infinity : Infinity;
  let lowest = Infinity;
  let highest = -Infinity;
  for (const r of ranges) {
    const top = bandTop(r);
    if (r.start < lowest) lowest = r.start;
    if (top > highest) highest = top;
    if (mode === "down") {
      if (price < r.start) continue;
      const cand = price >= top ? top : r.start + Math.floor((price - r.start) / r.step) * r.step;
      if (cand > best) best = cand;
    } else {
      if (price > top) continue;
      const cand = price <= r.start ? r.start : r.start + Math.ceil((price - r.start) / r.step) * r.step;
      if (cand < best) best = cand;
    }
  }
  if (Number.isFinite(best)) return best;
  return mode === "down" ? lowest : highest;
}

/** Next grid price strictly above `price` (NaN when none). */
export function nextGridUp(ranges: readonly PriceRange[], price: PriceE4): PriceE4 {
  let best = Infinity;
  for (const r of ranges) {
    const top = bandTop(r);
    if (price >= top) continue;
    const cand = price < r.start ? r.start : r.start + (Math.floor((price - r.start) / r.step) + 1) * r.step;
    if (cand < best) best = cand;
  }
  return Number.isFinite(best) ? best : NaN;
}

/** Next grid price strictly below `price` (NaN when none). */
export function nextGridDown(ranges: readonly PriceRange[], price: PriceE4): PriceE4 {
  let best = -Infinity;
  for (const r of ranges) {
    const top = bandTop(r);
    if (price <= r.start) continue;
    const cand = price > top ? top : r.start + (Math.ceil((price - r.start) / r.step) - 1) * r.step;
    if (cand > best) best = cand;
  }
  return Number.isFinite(best) ? best : NaN;
}

/** Number of grid points p with lo < p ≤ hi, boundary points shared by two bands counted once. */
function gridPointsIn(ranges: readonly PriceRange[], lo: PriceE4, hi: PriceE4): number {
  let count = 0;
  for (const r of ranges) {
    if (hi < r.start || lo >= r.end) continue;
    const kTop = Math.floor((r.end - r.start) / r.step);
    const kMin = lo < r.start ? 0 : Math.floor((lo - r.start) / r.step) + 1;
    const kMax = Math.min(kTop, Math.floor((hi - r.start) / r.step));
    if (kMax >= kMin) count += kMax - kMin + 1;
  }
  // A boundary that is the top point of one band and the start of another was counted twice.
  for (const a of ranges) {
    const top = bandTop(a);
    if (top <= lo || top > hi) continue;
    for (const b of ranges) {
      if (b !== a && b.start === top) count--;
    }
  }
  return count;
}

/**
 * Signed distance from `lo` to `hi` in grid ticks: the number of grid prices p with lo < p ≤ hi
 * (negative when hi < lo). For on-grid prices this is the number of one-tick moves from lo to hi, e.g.
 * bid 0.45 / ask 0.47 on a cent grid → 2; across a tapered boundary 0.095 → 0.11 → 5 + 1 = 6.
 */
export function ticksBetween(ranges: readonly PriceRange[], lo: PriceE4, hi: PriceE4): number {
  if (hi === lo) return 0;
  return hi > lo ? gridPointsIn(ranges, lo, hi) : -gridPointsIn(ranges, hi, lo);
}
