/**
 * The spot-vs-BRTI basis buffer inside the last minute: samples already observed are certain only
 * when they are BRTI prints. When they are Coinbase proxies their basis is still unknown, so the
 * buffer must not vanish as the window fills (issue 10).
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_ENGINE_CONFIG } from "../../lib/core/config.ts";
import { probabilityYes, type ProbabilityInput } from "../../lib/core/probability.ts";

const S = 1_000_000;
const SETTLE = 1_800_000_000 * S;
const cfg = { ...DEFAULT_ENGINE_CONFIG.model, basisVol: 0, basisUsd: 5, shrinkToHalf: 0 };
// Strike $4 under a flat $100,000: inside the basis std of $5, far outside the diffusion of a few seconds.
const base = (secondsLeft: number, observed: number): ProbabilityInput => ({
  spot: 100_000,
  sigma: 0.3,
  now: SETTLE - secondsLeft * S,
  settleTime: SETTLE,
  strikeType: "greater",
  floorStrike: 99_996,
  capStrike: Number.NaN,
  observedSum: observed * 100_000,
  observedCount: observed,
});

describe("basis buffer in the last minute", () => {
  it("10 s left, 50 samples observed: proxies keep the buffer, BRTI prints do not", () => {
    const brti = probabilityYes(base(10, 50), cfg);
    const proxy = probabilityYes({ ...base(10, 50), observedProxyCount: 50 }, cfg);
    // On BRTI prints only the last 10 s are unknown: a 10-s diffusion (≈ $17 at σ 0.3) and the $5
    // basis, each on a 1/6 share of the average: std ≈ $2, z ≈ 2 → p ≈ 0.98. On proxies the $5 basis
    // covers 50 + 10 of the 60 samples: std ≈ $5.3, z ≈ 0.75 → p ≈ 0.77.
    expect(brti).toBeGreaterThan(0.95);
    expect(proxy).toBeGreaterThan(0.7);
    expect(proxy).toBeLessThan(0.85);
  });

  it("window fully observed: BRTI is certain, proxies are not", () => {
    expect(probabilityYes(base(0, 60), cfg)).toBe(1);
    const p = probabilityYes({ ...base(0, 60), observedProxyCount: 60 }, cfg);
    // ln(100000/99996)/(5/100000) ≈ 0.8 → Φ(0.8) ≈ 0.788.
    expect(p).toBeCloseTo(0.788, 2);
  });
});
