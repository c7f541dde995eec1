import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { TokenBucket } from "../../lib/core/ratelimit.ts";

const T0 = 1_790_000_000_000_000; // µs

describe("TokenBucket", () => {
  it("starts full and refuses the 11th create of cost 10 at 100 tokens/s, capacity 100", () => {
    const b = new TokenBucket(100, 100, T0);
    expect(b.available(T0)).toBe(100);
    for (let i = 0; i < 10; i++) expect(b.tryTake(T0, 10)).toBe(true);
    expect(b.tryTake(T0, 10)).toBe(false);
    expect(b.available(T0)).toBe(0);
    // A failed take takes nothing: 10 ms later exactly 1 token (100/s × 0.01 s) is there.
    expect(b.available(T0 + 10_000)).toBe(1);
  });

  it("lets cheaper cancels use what creates leave", () => {
    const b = new TokenBucket(100, 100, T0);
    for (let i = 0; i < 9; i++) expect(b.tryTake(T0, 10)).toBe(true); // 90 used
    for (let i = 0; i < 5; i++) expect(b.tryTake(T0, 2)).toBe(true); // 10 more
    expect(b.tryTake(T0, 2)).toBe(false);
  });

  it("refills linearly and caps at capacity", () => {
    const b = new TokenBucket(100, 100, T0);
    expect(b.tryTake(T0, 100)).toBe(true);
    // 0.25 s at 100/s = 25 tokens
    expect(b.available(T0 + 250_000)).toBe(25);
    // a day later: capped at 100
    expect(b.available(T0 + 86_400_000_000)).toBe(100);
  });

  it("waitUs gives the exact refill time", () => {
    const b = new TokenBucket(100, 100, T0);
    b.tryTake(T0, 100);
    // 10 tokens at 100 tokens/s = 0.1 s
    expect(b.waitUs(T0, 10)).toBe(100_000);
    expect(b.tryTake(T0 + 99_999, 10)).toBe(false);
    expect(b.tryTake(T0 + 100_000, 10)).toBe(true);
    expect(b.waitUs(T0 + 100_000, 0)).toBe(0);
    expect(b.waitUs(T0, 101)).toBe(Number.POSITIVE_INFINITY);
    expect(b.tryTake(T0 + 10_000_000, 101)).toBe(false);
    // 3 tokens/s: 1 token needs ceil(1e6/3) = 333 334 µs
    const c = new TokenBucket(3, 5, T0);
    c.tryTake(T0, 5);
    expect(c.waitUs(T0, 1)).toBe(333_334);
    expect(c.tryTake(T0 + 333_333, 1)).toBe(false);
    expect(c.tryTake(T0 + 333_334, 1)).toBe(true);
  });

  it("time going backwards never adds tokens nor rewinds the clock", () => {
    const b = new TokenBucket(100, 100, T0);
    b.tryTake(T0 + 1_000_000, 100);
    expect(b.available(T0)).toBe(0);
    expect(b.tryTake(T0 - 5_000_000, 2)).toBe(false);
    // refill resumes from T0+1s, not from the earlier time
    expect(b.available(T0 + 1_000_000)).toBe(0);
    expect(b.available(T0 + 1_020_000)).toBe(2);
    // 2 tokens at T0+1.02 s; 10 are there at T0+1.1 s whatever earlier ts we ask from
    expect(b.waitUs(T0 + 1_020_000, 10)).toBe(80_000);
    expect(b.waitUs(T0 + 1_000_000, 10)).toBe(100_000);
    expect(b.waitUs(T0 + 900_000, 10)).toBe(200_000);
  });

  it("does not drift over a million tiny steps at a rate that does not divide 1e6", () => {
    // 3 tokens/s stepped every µs for one second must give exactly 3 tokens.
    const b = new TokenBucket(3, 5, T0);
    b.tryTake(T0, 5);
    for (let t = 1; t <= 1_000_000; t++) b.available(T0 + t);
    expect(b.available(T0 + 1_000_000)).toBe(3);
    // and a fractional rate: 0.3 tokens/s for 10 s in 7-µs steps = 3 tokens
    const c = new TokenBucket(0.3, 5, T0);
    c.tryTake(T0, 5);
    for (let t = 0; t <= 10_000_000; t += 7) c.available(T0 + t);
    expect(c.available(T0 + 10_000_000)).toBe(3);
  });

  it("matches an exact rational model on random sequences", () => {
    // Reference: tokens in pico-tokens (1e-12) as BigInt; refill R micro-tokens/s = R pico-tokens/µs.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.tuple(fc.integer({ min: -50_000, max: 400_000 }), fc.integer({ min: 0, max: 40 }), fc.boolean()), {
          maxLength: 60,
        }),
        (rateTimes10, capacity, ops) => {
          const rate = rateTimes10 / 10;
          const b = new TokenBucket(rate, capacity, T0);
          const R = BigInt(Math.round(rate * 1e6));
          const cap = BigInt(capacity) * 1_000_000_000_000n;
          let pico = cap;
          let last = T0;
          let ts = T0;
          for (const [dt, cost, take] of ops) {
            ts += dt;
            if (ts > last) {
              pico += BigInt(ts - last) * R;
              if (pico > cap) pico = cap;
              last = ts;
            }
            if (take) {
              const need = BigInt(cost) * 1_000_000_000_000n;
              const ok = pico >= need;
              if (ok) pico -= need;
              expect(b.tryTake(ts, cost)).toBe(ok);
            } else {
              expect(b.available(ts)).toBe(Number(pico / 1_000_000n) / 1e6);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
