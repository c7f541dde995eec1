/**
 * The project's one seeded PRNG (mulberry32): 32 bits of state, uniform in [0, 1), the same stream
 * on every platform for a given seed. Used wherever simulation or resampling needs randomness
 * (the simulated venue's sampled latency, the synthesizer, the fake venues, bootstraps, tests), so
 * runs are reproducible. The engine itself never draws random numbers.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
