/**
 * One-second samples of the settlement index, for two jobs: the part of a market's final 60-s window
 * already observed (the model conditions on it) and the fallback settlement value when a tape holds
 * no venue result.
 *
 * Each whole second keeps the last BRTI print seen in it and, separately, the last spot mid. A
 * second with no BRTI print falls back to the spot mid, and the caller is told which source it got.
 * Window convention — one rule, `settlementSecond`, for the model, the simulated venue's fallback
 * settlement and the studies: Kalshi averages the prints in (close − 60 s, close]. A print at time t
 * belongs to the one-second slot s = ⌈t⌉ covering (s − 1 s, s]; the window is the slots
 * close − 59 … close. So a print exactly at close counts, one a moment after close does not, and one
 * a moment after close − 60 s does (flooring to the second got both of these wrong). A BRTI print's
 * t is its CF Benchmarks stamp (features.ts `indexStamp`), not when we received it.
 */
import { US_PER_S, type TsUs } from "./units.ts";

/** The one-second slot (s − 1 s, s] holding an observation at `ts`, as an integer second. */
export function settlementSecond(ts: TsUs): number {
  return Math.ceil(ts / US_PER_S);
}

/** True when an observation at `ts` is inside the settlement window (close − window, close]. */
export function inSettlementWindow(ts: TsUs, close: TsUs, windowSeconds = 60): boolean {
  return ts > close - windowSeconds * US_PER_S && ts <= close;
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
    // The field is sent only in (close − 60 s, close], so a print up to 30 s past a close (a close tick
    // stamped a few ms late, or filed by a late receipt) still belongs to that close, not the next.
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
    if (!(mid > 0)) return;
    const sec = settlementSecond(ts);
    const i = sec % this.keepSeconds;
    this.spotVal[i] = mid;
    this.spotSec[i] = sec;
  }

  /** Samples of the window ending at `settle` that are already in the past at `now`. */
  observed(settle: TsUs, now: TsUs): WindowSample {
    // Slots are (s − 1, s]: the window's last slot is the close's, and a slot is observed once begun.
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
