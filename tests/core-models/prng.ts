/** Tiny seeded PRNGs for deterministic test paths (not a test file itself). */

export { mulberry32 } from "../../lib/core/prng.ts";
import { mulberry32 } from "../../lib/core/prng.ts";

/** Standard normals by Box–Muller on a mulberry32 stream (second value of each pair cached). */
export function normalStream(seed: number): () => number {
  const u = mulberry32(seed);
  let spare = NaN;
  return () => {
    if (!Number.isNaN(spare)) {
      const s = spare;
      spare = NaN;
      return s;
    }
    let u1 = u();
    while (u1 === 0) u1 = u();
    const r = Math.sqrt(-2 * Math.log(u1));
    const th = 2 * Math.PI * u();
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
}
