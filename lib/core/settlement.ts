/**
 * One-second samples of the settlement index, for two jobs: the part of a market's final 60-s window
 * already observed (the model conditions on it) and the fallback settlement value when a tape holds
 * no venue result.
 *
 * Each whole second keeps the last BRTI print seen in it and, separately, the last spot mid. A
 * second with no BRTI print falls back to the spot mid, and the caller is told which source it got.
 * Window convention: the seconds in (settle − window, settle], as Kalshi's running average uses.
 */
import { US_PER_S, type TsUs } from "./units.ts";

export type IndexSource = "brti" | "spot" | "mixed" | "none";

export interface WindowSample {
  readonly sum: number;
  readonly count: number;
  readonly source: IndexSource;
}

export class IndexWindow {
  private readonly indexVal: Float64Array;
  private readonly indexSec: Float64Array;
  private readonly spotVal: Float64Array;
  private readonly spotSec: Float64Array;

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
    const sec = Math.floor(ts / US_PER_S);
    const i = sec % this.keepSeconds;
    this.indexVal[i] = value;
    this.indexSec[i] = sec;
  }

  onSpotMid(ts: TsUs, mid: number): void {
    if (!(mid > 0)) return;
    const sec = Math.floor(ts / US_PER_S);
    const i = sec % this.keepSeconds;
    this.spotVal[i] = mid;
    this.spotSec[i] = sec;
  }

  /** Samples of the window ending at `settle` that are already in the past at `now`. */
  observed(settle: TsUs, now: TsUs): WindowSample {
    const settleSec = Math.floor(settle / US_PER_S);
    const nowSec = Math.floor(now / US_PER_S);
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
    return { sum, count, source };
  }
}
