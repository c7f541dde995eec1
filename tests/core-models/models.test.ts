import { describe, expect, it } from "vitest";
import { DEFAULT_ENGINE_CONFIG } from "../../lib/core/config.ts";
import type { ModelInput } from "../../lib/core/models.ts";
import { BipowerVol, defaultModelRegistry, impliedSigma, NAIVE_MODEL_CONFIG, unitStudentTCdf } from "../../lib/core/models.ts";
import { probabilityYes } from "../../lib/core/probability.ts";
import { normalStream } from "./prng.ts";
import { SECONDS_PER_YEAR } from "../../lib/core/volatility.ts";

const T0 = 1_700_000_000_000_000;
const cfg = DEFAULT_ENGINE_CONFIG.model;
const reg = defaultModelRegistry();

function input(over: Partial<ModelInput> = {}): ModelInput {
  return {
    spot: 30000, sigma: 0.5, now: T0, settleTime: T0 + 30 * 60e6, strikeType: "greater", floorStrike: 30100, capStrike: NaN,
    observedSum: 0, observedCount: 0, ...over,
  };
}

/** Independent Φ: Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), not the library's erfc. */
function phiAS(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - (((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t) * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

const normals = normalStream;

describe("built-in probability models", () => {
  it("the registry knows the five built-ins and refuses unknown names", () => {
    expect(reg.names().sort()).toEqual(["diffusion", "ewma-lognormal", "jump-robust", "market-implied", "student-t"]);
    expect(() => reg.create("nope", cfg)).toThrow(/unknown probability model "nope"/);
    expect(() => reg.create({ name: "student-t", params: { nu: 2 } }, cfg)).toThrow(/ν > 2/);
  });

  it("diffusion is exactly the library's probabilityYes", () => {
    const x = input();
    expect(reg.create("diffusion", cfg).probability(x)).toBe(probabilityYes(x, cfg));
  });

  it("ewma-lognormal is the zero-rate Black–Scholes digital N(d2) (closed form)", () => {
    const m = reg.create("ewma-lognormal", cfg);
    for (const [K, sigma, minutes] of [[30100, 0.5, 30], [29500, 0.8, 60], [30000, 0.3, 5], [31000, 1.2, 15]] as const) {
      const t = (minutes * 60) / SECONDS_PER_YEAR;
      const d2 = (Math.log(30000 / K) - (sigma * sigma * t) / 2) / (sigma * Math.sqrt(t));
      const p = m.probability(input({ floorStrike: K, sigma, settleTime: T0 + minutes * 60e6 }));
      expect(Math.abs(p - phiAS(d2))).toBeLessThan(3e-7);
    }
    // "less" is the complement
    const pl = m.probability(input({ strikeType: "less", capStrike: 30100, floorStrike: NaN }));
    expect(pl).toBeCloseTo(1 - m.probability(input()), 12);
  });

  it("student-t matches a seeded Monte Carlo of the variance-matched t law (endpoint, ν = 5)", () => {
    const nu = 5;
    const m = reg.create({ name: "student-t", params: { nu } }, NAIVE_MODEL_CONFIG);
    const sigma = 0.6;
    const minutes = 60;
    const t = (minutes * 60) / SECONDS_PER_YEAR;
    const s = sigma * Math.sqrt(t);
    const z = normals(42);
    const N = 200_000;
    const strikes = [29700, 30000, 30150, 30400];
    const hits = strikes.map(() => 0);
    const c = Math.sqrt((nu - 2) / nu);
    for (let i = 0; i < N; i++) {
      let chi = 0;
      for (let k = 0; k < nu; k++) chi += z() ** 2;
      const T = z() / Math.sqrt(chi / nu);
      const logS = Math.log(30000) - (s * s) / 2 + s * c * T;
      strikes.forEach((K, j) => {
        if (logS > Math.log(K)) hits[j]!++;
      });
    }
    strikes.forEach((K, j) => {
      const mc = hits[j]! / N;
      const se = Math.sqrt((mc * (1 - mc)) / N);
      const p = m.probability(input({ floorStrike: K, sigma, settleTime: T0 + minutes * 60e6 }));
      expect(Math.abs(p - mc)).toBeLessThan(4 * se + 1e-9);
    });
  });

  it("student-t has unit variance (numerical integral of z² dF) and tends to the diffusion as ν → ∞", () => {
    const F = unitStudentTCdf(5);
    let v = 0;
    const h = 0.005;
    for (let x = -60; x < 60; x += h) v += (x + h / 2) ** 2 * (F(x + h) - F(x));
    expect(v).toBeCloseTo(1, 2);
    const big = reg.create({ name: "student-t", params: { nu: 1e7 } }, cfg);
    const x = input();
    expect(Math.abs(big.probability(x) - probabilityYes(x, cfg))).toBeLessThan(1e-5);
    // fatter tails: a far strike is more likely, a near one less extreme
    const t5 = reg.create({ name: "student-t", params: { nu: 5 } }, NAIVE_MODEL_CONFIG);
    const far = input({ floorStrike: 31500 });
    expect(t5.probability(far)).toBeGreaterThan(probabilityYes(far, NAIVE_MODEL_CONFIG));
  });

  it("jump-robust prices at sigmaRobust and refuses to guess without it", () => {
    const m = reg.create("jump-robust", cfg);
    expect(m.probability(input({ sigmaRobust: 0.3 }))).toBe(probabilityYes(input({ sigma: 0.3 }), cfg));
    expect(m.probability(input())).toBeNaN();
  });

  it("market-implied recovers the σ that generated the peers' mids and prices the held-out strike with it", () => {
    const flat = { ...cfg, sigmaFloor: 0, shrinkToHalf: 0 };
    const peers = [29800, 29950, 30050, 30250, 30400].map((K) => ({
      strikeType: "greater" as const, floorStrike: K, capStrike: NaN, pMid: probabilityYes(input({ floorStrike: K, sigma: 0.62 }), flat),
    }));
    const x = input({ sigma: 0.2, peers });
    expect(impliedSigma(x, cfg)).toBeCloseTo(0.62, 4);
    const p = reg.create("market-implied", cfg).probability(x);
    expect(p).toBeCloseTo(probabilityYes(input({ sigma: 0.62 }), flat), 6);
    expect(reg.create("market-implied", cfg).probability(input({ peers: peers.slice(0, 1) }))).toBeNaN();
  });

  it("a user model can be registered and created by name", () => {
    const r = defaultModelRegistry().register("coin", () => ({ name: "coin", probability: () => 0.5 }));
    expect(r.create("coin", cfg).probability(input())).toBe(0.5);
    expect(() => r.register("Bad Name", () => ({ name: "x", probability: () => 0 }))).toThrow();
  });
});

describe("BipowerVol", () => {
  it("estimates σ of a diffusion and ignores a single jump that the squared returns do not", () => {
    const z = normals(7);
    const gridSigma = 0.001; // per minute
    const bv = new BipowerVol(60, 1e9, 10); // effectively an equal-weight mean
    let rv = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      let r = gridSigma * z();
      if (i === n / 2) r = 0.05; // a 50-σ jump
      rv += r * r;
      bv.push(r);
    }
    const annual = Math.sqrt(SECONDS_PER_YEAR / 60);
    expect(bv.sigma() / (gridSigma * annual)).toBeGreaterThan(0.97);
    expect(bv.sigma() / (gridSigma * annual)).toBeLessThan(1.03);
    expect(Math.sqrt(rv / n) / gridSigma).toBeGreaterThan(1.05); // the plain estimate is dragged up
  });

  it("is NaN until warm and restarts its chain at a gap", () => {
    const bv = new BipowerVol(60, 3600, 3);
    bv.push(0.001);
    bv.push(0.001);
    bv.push(NaN);
    bv.push(0.001);
    expect(bv.sigma()).toBeNaN(); // only one product so far
    bv.push(0.001);
    bv.push(0.001);
    expect(bv.sigma()).toBeGreaterThan(0);
  });
});
