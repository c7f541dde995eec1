/**
 * One-second samples of the settlement index, for two jobs: the part of a market's final 60-s window
 * already observed (the model conditions on it) and the fallback settlement value when a tape holds
 * no venue result.
 *
 * Each whole second keeps the last BRTI print seen in it and, separately, the last spot mid. A
 * second with no BRTI print falls back to the spot mid, and the caller is told which source it got.
 * Window convention — one rule, `settlementSecond`, for the model, the simulated venue's fallback
 * settlement and the studies: Kalshi averages the 60 ticks of the seconds close − 59 … close — its
 * `cfbenchmarks_value` stream counts them ":01 → 1 … :00 → 60", the tick of the close second in, the
 * one of close − 60 out. CF Benchmarks stamps a tick a fraction past its second (the published example
 * tick of a quarter close is stamped close + 123 ms), so a print at time t belongs to the slot of the
 * whole second it falls in, s = ⌊t⌋; rounding up instead put the close tick outside the window and the
 * tick of close − 60 inside it. A BRTI print's t is its CF Benchmarks stamp (features.ts
 * `indexStamp`), not when we received it.
 */
import { US_PER_S, type TsUs } from "./units.ts";
import { SpotMidGuard } from "./spot-guard.ts";

/** The one-second slot [s, s + 1 s) holding an observation at `ts`, as an integer second. */
export function settlementSecond(ts: TsUs): number {
  return Math.floor(ts / US_PER_S);
}

/** True when an observation at `ts` is in one of the window's seconds, close − (window − 1) … close. */
export function inSettlementWindow(ts: TsUs, close: TsUs, windowSeconds = 60): boolean {
  const sec = settlementSecond(ts);
  const closeSec = settlementSecond(close);
  return sec > closeSec - windowSeconds && sec <= closeSec;
}

/**
 * A settlement average as Kalshi states it: in dollars to the cent (every `expiration_value` of the
 * KXBTC15M settlements we hold has two decimals, and its result is that value against the strike).
 * `sum` is of `count` prints; prints of whole cents are summed exactly as integer cents and the
 * average rounded half up. Kalshi's rounding of a half cent is not published (README, "Protocol facts
 * that are uncertain"); comparing the unrounded float instead let a tie with the strike or a
 * sub-cent excess fall either way by floating-point noise.
 */
export function settlementAverage(sum: number, count: number): number {
  const cents = sum * 100;
  const whole = Math.round(cents);
  // Prints of whole cents: exact integer arithmetic. Otherwise (spot-mid proxies at half cents) the
  // float mean, rounded half up — rounding such a sum to cents first could add up to half a cent.
  if (Math.abs(cents - whole) < 1e-6) return Math.floor((2 * whole + count) / (2 * count)) / 100;
  return Math.floor(cents / count + 0.5 + 1e-9) / 100;
}

/** A published average (8 decimals) to the cent, half up; a half cent within 1e-8 $ counts as one. */
export function settlementValueToCents(value: number): number {
  return Math.floor(value * 100 + 0.5 + 1e-6) / 100;
}

export type IndexSource = "brti" | "spot" | "mixed" | "none";

/** Kalshi's quarter-hour closes (:00, :15, :30, :45), µs. */
export const QUARTER_US = 900 * US_PER_S;

/** The quarter-hour close whose final minute holds an observation at `ts`: the next boundary at or after it. */
export function quarterCloseOf(ts: TsUs): TsUs {
  return Math.ceil(ts / QUARTER_US) * QUARTER_US;
}

/** Kalshi's own running settlement average for one quarter-hour close, as it last published it. */
export interface VenueAverage {
  readonly value: number;
  /** Ticks in it (60 once the close tick is in). */
  readonly ticks: number;
}

export interface WindowSample {
  readonly sum: number;
  readonly count: number;
  readonly source: IndexSource;
  /** How many of `count` are spot-mid proxies (no BRTI print in that second). */
  readonly proxyCount: number;
}

export class IndexWindow {
  private readonly indexVal: Float64Array;
  private readonly indexSec: Float64Array;
  private readonly spotVal: Float64Array;
  private readonly spotSec: Float64Array;
  /** Venue-published quarter averages by close time (a few quarters kept). */
  private readonly venueAvg = new Map<TsUs, VenueAverage>();
  /** Coinbase mids are proxies of the BRTI: a stray print is not one (spot-guard.ts). */
  private readonly spotGuard = new SpotMidGuard();

  constructor(
    readonly windowSeconds = 60,
    /** How many past seconds are kept (must cover the window plus any lag in asking). */
    readonly keepSeconds = 600,
  ) {
    this.indexVal = new Float64Array(keepSeconds);
    this.indexSec = new Float64Array(keepSeconds).fill(-1);
    this.spotVal = new Float64Array(keepSeconds);
    this.spotSec = new Float64Array(keepSeconds).fill(-1);
  }

  onIndex(ts: TsUs, value: number): void {
    if (!(value > 0)) return;
    const sec = settlementSecond(ts);
    const i = sec % this.keepSeconds;
    this.indexVal[i] = value;
    this.indexSec[i] = sec;
  }

  /**
   * Kalshi's `last_60s_windowed_average_15min` on a print stamped `ts`: the running average of the
   * window (close − 60 s, close] of the quarter whose final minute the print is in. The fullest one
   * seen is kept.
   */
  onVenueQuarterAverage(ts: TsUs, value: number, ticks: number): void {
    if (!(value > 0) || !(ticks > 0)) return;
    // `ts` is the tick's CF stamp (receipt only when it has none). The field is sent only in the
    // close's final minute, so a stamp up to 30 s past a close (the close tick, stamped a fraction
    // past its second) still belongs to that close, not the next.
    const close = quarterCloseOf(ts - 30 * US_PER_S);
    const prior = this.venueAvg.get(close);
    if (prior && prior.ticks > ticks) return;
    this.venueAvg.set(close, { value, ticks });
    if (this.venueAvg.size > 8) {
      let oldest = Number.POSITIVE_INFINITY;
      for (const k of this.venueAvg.keys()) if (k < oldest) oldest = k;
      this.venueAvg.delete(oldest);
    }
  }

  /** The venue's average for the window ending at `close`, when it published a complete one (the close tick in). */
  venueAverage(close: TsUs): VenueAverage | null {
    if (this.windowSeconds !== 60 || close % QUARTER_US !== 0) return null; // the venue averages 60 s at quarter closes only
    const v = this.venueAvg.get(close);
    return v !== undefined && v.ticks >= 60 ? v : null;
  }

  onSpotMid(ts: TsUs, mid: number): void {
    if (!this.spotGuard.accept(ts, mid)) return;
    const sec = settlementSecond(ts);
    const i = sec % this.keepSeconds;
    this.spotVal[i] = mid;
    this.spotSec[i] = sec;
  }

  /** Samples of the window ending at `settle` that are already in the past at `now`. */
  observed(settle: TsUs, now: TsUs): WindowSample {
    // Slots are [s, s + 1): the window's last slot is the close's, and a slot is observed once begun.
    const settleSec = settlementSecond(settle);
    const nowSec = settlementSecond(now);
    const first = settleSec - this.windowSeconds + 1;
    const last = Math.min(nowSec, settleSec);
    let sum = 0;
    let count = 0;
    let fromIndex = 0;
    let fromSpot = 0;
    for (let s = Math.max(first, nowSec - this.keepSeconds + 1); s <= last; s++) {
      const i = s % this.keepSeconds;
      if (this.indexSec[i] === s) {
        sum += this.indexVal[i]!;
        count++;
        fromIndex++;
      } else if (this.spotSec[i] === s) {
        sum += this.spotVal[i]!;
        count++;
        fromSpot++;
      }
    }
    const source: IndexSource =
      count === 0 ? "none" : fromSpot === 0 ? "brti" : fromIndex === 0 ? "spot" : "mixed";
    return { sum, count, source, proxyCount: fromSpot };
  }
}
