/**
 * A guard against bad Coinbase prints for the two places a single mid is used as it is: the spot the
 * engine prices from, and the one-second BRTI proxy samples of a settlement window. The BRTI itself
 * drops a venue whose mid strays from the other venues' median (CF Benchmarks' erroneous-data rule);
 * with one venue, the reference is that venue's own recent level. A mid more than MAX_SPOT_JUMP from
 * the last accepted one is held back; a new level is taken only once mids have stayed near it for
 * SPOT_CONFIRM_US (after a long outage, say), so one stray print never moves anything. Pure and
 * deterministic: time is the events' own.
 */
import { US_PER_S, type TsUs } from "./units.ts";

/** Largest relative move from the last accepted mid taken at once (BTC does not move 5 % in a tick). */
export const MAX_SPOT_JUMP = 0.05;
/** How long mids must agree on a new level, far from the old one, before it is taken. */
export const SPOT_CONFIRM_US = 5 * US_PER_S;

export class SpotMidGuard {
  private level = Number.NaN;
  private candidate = Number.NaN;
  private candidateSince = 0;
  /** Mids held back so far. */
  held = 0;

  /**
   * True while the latest mids disagree with the accepted level and a new one is not confirmed yet:
   * the spot is not known, so nothing should be priced from the old level (a real crash looks like
   * this for SPOT_CONFIRM_US). The next mid near the accepted level ends it.
   */
  inDoubt(): boolean {
    return this.candidate === this.candidate;
  }

  /** True when `mid` (seen at ts) may be used; false for a stray print. */
  accept(ts: TsUs, mid: number): boolean {
    if (!(mid > 0) || mid === Number.POSITIVE_INFINITY) return false;
    const level = this.level;
    if (level !== level || Math.abs(mid / level - 1) <= MAX_SPOT_JUMP) {
      this.level = mid;
      this.candidate = Number.NaN;
      return true;
    }
    const c = this.candidate;
    if (c === c && Math.abs(mid / c - 1) <= MAX_SPOT_JUMP) {
      if (ts - this.candidateSince >= SPOT_CONFIRM_US) {
        this.level = mid;
        this.candidate = Number.NaN;
        return true;
      }
    } else {
      this.candidate = mid;
      this.candidateSince = ts;
    }
    this.held++;
    return false;
  }
}
