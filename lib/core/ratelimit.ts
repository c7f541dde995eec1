/**
 * Token bucket driven by event time (never the wall clock), so replay, paper and live throttle the
 * same way for the same event stream.
 *
 * Kalshi bills every write against a per-second token budget (reference §5): Basic tier refills the
 * Write bucket at 100 tokens/s with 1 s of capacity; a V2 create/amend/decrease costs 10, a cancel 2.
 *
 * Exactness: tokens are held as integer micro-tokens. Refill of `elapsedUs` at R micro-tokens per
 * second adds floor((elapsedUs·R + carry) / 1e6) micro-tokens and keeps the remainder in `carry`, so
 * no fraction is ever lost however many small steps a long run takes. Intermediate products use
 * BigInt because elapsed·R can pass 2^53 for large buckets.
 */
import type { TsUs } from "./units.ts";

const MICRO = 1_000_000;
const MICRO_N = 1_000_000n;

function toMicroTokens(tokens: number, what: string): number {
  if (!Number.isFinite(tokens) || tokens < 0) throw new RangeError(`${what} must be a finite number ≥ 0, got ${tokens}`);
  const m = Math.round(tokens * MICRO);
  if (!Number.isSafeInteger(m)) throw new RangeError(`${what} too large: ${tokens}`);
  return m;
}

export class TokenBucket {
  /** Refill rate in micro-tokens per second. */
  private readonly rateMicroPerS: bigint;
  private readonly capacityMicro: number;
  private tokensMicro: number;
  /** Refill remainder in micro-token·µs/s units, always < 1e6. */
  private carry: bigint = 0n;
  /** Latest event time seen; refill happens only when time moves past it. */
  private lastTs: TsUs;

  constructor(tokensPerSecond: number, capacity: number, startTs: TsUs) {
    const rate = toMicroTokens(tokensPerSecond, "tokensPerSecond");
    if (rate <= 0) throw new RangeError(`tokensPerSecond must be > 0, got ${tokensPerSecond}`);
    this.rateMicroPerS = BigInt(rate);
    this.capacityMicro = toMicroTokens(capacity, "capacity");
    this.tokensMicro = this.capacityMicro; // starts full
    this.lastTs = startTs;
  }

  /** Bring the bucket forward to ts. Time going backwards never adds tokens (and does not rewind). */
  private refill(ts: TsUs): void {
    if (ts <= this.lastTs) return;
    const elapsed = BigInt(ts - this.lastTs);
    this.lastTs = ts;
    if (this.tokensMicro >= this.capacityMicro) {
      this.carry = 0n;
      return;
    }
    const num = elapsed * this.rateMicroPerS + this.carry;
    const add = num / MICRO_N;
    const room = BigInt(this.capacityMicro - this.tokensMicro);
    if (add >= room) {
      this.tokensMicro = this.capacityMicro;
      this.carry = 0n;
    } else {
      this.tokensMicro += Number(add);
      this.carry = num % MICRO_N;
    }
  }

  /** Take `cost` tokens at event time ts if available; returns false (and takes nothing) otherwise. */
  tryTake(ts: TsUs, cost: number): boolean {
    const c = toMicroTokens(cost, "cost");
    this.refill(ts);
    if (this.tokensMicro < c) return false;
    this.tokensMicro -= c;
    return true;
  }

  /** Tokens available at ts (fractional tokens shown to 1e-6). */
  available(ts: TsUs): number {
    this.refill(ts);
    return this.tokensMicro / MICRO;
  }

  /** µs to wait from ts until `cost` tokens are available (0 if now; Infinity if cost > capacity). */
  waitUs(ts: TsUs, cost: number): number {
    const c = toMicroTokens(cost, "cost");
    if (c > this.capacityMicro) return Number.POSITIVE_INFINITY;
    this.refill(ts);
    // If ts lies before the latest time seen, refill only resumes from lastTs.
    const behind = ts < this.lastTs ? this.lastTs - ts : 0;
    const deficit = c - this.tokensMicro;
    if (deficit <= 0) return 0; // tryTake at ts would succeed now
    // Smallest e with floor((e·R + carry)/1e6) ≥ deficit  ⇔  e·R ≥ deficit·1e6 − carry.
    const need = BigInt(deficit) * MICRO_N - this.carry;
    const e = (need + this.rateMicroPerS - 1n) / this.rateMicroPerS;
    return behind + Number(e);
  }

  /** Capacity in tokens (for reports). */
  capacity(): number {
    return this.capacityMicro / MICRO;
  }
}
