import { mulberry32 } from "../../core/prng.ts";

/** Small seeded PRNG (mulberry32) so fake venue activity is reproducible for a given seed. */
export class Prng {
  private readonly u: () => number;
  constructor(seed: number) {
    this.u = mulberry32(seed >>> 0 || 0x9e3779b9);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.u();
  }
  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error("pick from empty list");
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}
