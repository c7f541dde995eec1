/**
 * Wall-clock receipt time for IO code (never imported by lib/core).
 *
 * `performance.timeOrigin + performance.now()` is epoch milliseconds with sub-millisecond
 * resolution that never steps backwards within the process, so receipt stamps keep arrival order.
 */
import type { TsUs } from "../core/units.ts";

let last = 0;

/** Microseconds since the Unix epoch; strictly increasing within the process. */
export function nowUs(): TsUs {
  let t = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  // Two frames in the same microsecond still get distinct, ordered stamps.
  if (t <= last) t = last + 1;
  last = t;
  return t;
}

/** Epoch milliseconds for protocol fields (signing timestamps, ts_ms). */
export function nowMs(): number {
  return Date.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
