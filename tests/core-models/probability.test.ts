import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  averageLogVariance,
  erfc,
  futureSampleCount,
  normalCdf,
  probabilityYes,
  type ProbabilityInput,
} from "../../lib/core/probability.ts";
import { SECONDS_PER_YEAR } from "../../lib/core/volatility.ts";
import { DEFAULT_ENGINE_CONFIG, type ModelConfig } from "../../lib/core/config.ts";
import type { StrikeType } from "../../lib/core/events.ts";
import { normalStream } from "./prng.ts";

const S = 1_000_000;
const SETTLE = 1_790_000_000 * S;
/** The pure diffusion: no buffers, so oracles can be exact. */
const PURE: ModelConfig = { basisVol: 0, basisUsd: 0, sigmaFloor: 0, shrinkToHalf: 0, settlementWindowSeconds: 60 };
const DEFAULTS: ModelConfig = DEFAULT_ENGINE_CONFIG.model;

function input(over: Partial<ProbabilityInput> & { secondsToSettle?: number }): ProbabilityInput {
  const { secondsToSettle = 600, ...rest } = over;
  return {
    spot: 100_000,
    sigma: 0.5,
    now: SETTLE - Math.round(secondsToSettle * S),
    settleTime: SETTLE,
    strikeType: "greater",
    floorStrike: 100_000,
    capStrike: NaN,
    observedSum: 0,
    observedCount: 0,
    ...rest,
  };
}

/** Independent erf: composite Simpson on (2/√π)·e^{−t²}, 4000 intervals (error < 1e-13 for |x| ≤ 3). */
function erfSimpson(x: number): number {
  const n = 4000;
  const h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * Math.exp(-(i * h) * (i * h));
  return ((2 / Math.sqrt(Math.PI)) * s * h) / 3;
}
const phiOracle = (z: number) => 0.5 * (1 + erfSimpson(z / Math.SQRT2));

describe("erfc / normalCdf vs 40-digit references (mpmath)", () => {
  const ref: [number, number][] = [
    [-3, 1.9999779095030014],
    [-1, 1.8427007929497149],
    [-0.3, 1.3286267594591274],
    [0, 1.0],
    [1e-8, 0.99999998871620833],
    [0.1, 0.8875370839817151],
    [0.5, 0.47950012218695346],
    [1, 0.15729920705028513],
    [1.5, 0.033894853524689273],
    [2, 0.0046777349810472658],
    [1.9999, 0.0046798020929706085],
    [2.4999, 0.00040716990033345138],
    [2.5, 0.00040695201744495894],
    [2.5001, 0.00040673424347067974],
    [3, 2.2090496998585441e-5],
    [4, 1.5417257900280019e-8],
    [6, 2.1519736712498913e-17],
    [10, 2.0884875837625448e-45],
    [20, 5.3958656116079009e-176],
    [26, 5.6631924088561428e-296],
  ];
  it.each(ref)("erfc(%s) to 1e-13 relative", (x, v) => {
    expect(Math.abs(erfc(x) / v - 1)).toBeLessThan(1e-13);
  });
  it("normalCdf at table points (absolute 1e-15)", () => {
    const tab: [number, number][] = [
      [-8, 6.2209605742717841235e-16],
      [-5, 2.8665157187919391167e-7],
      [-3, 0.0013498980316300945267],
      [-1.96, 0.024997895148220436213],
      [-1, 0.15865525393145705141],
      [0, 0.5],
      [0.3, 0.61791142218895263307],
      [1.96, 0.97500210485177956379],
      [5, 0.99999971334842812081],
    ];
    for (const [z, v] of tab) expect(Math.abs(normalCdf(z) - v)).toBeLessThan(1e-15);
    expect(normalCdf(Infinity)).toBe(1);
    expect(normalCdf(-Infinity)).toBe(0);
    expect(normalCdf(-40)).toBe(0);
  });
});

describe("endpoint limit (n = 1) = Black–Scholes digital N(d2), zero rates", () => {
  const ONE: ModelConfig = { ...PURE, settlementWindowSeconds: 1 };
  it("S = 100 000, K = 101 000, σ = 0.5, τ = 1 h", () => {
    /*
     * τ = 3600 / (365.25·86400) = 1.14077e-4 y; σ√τ = 0.0053403;
     * d2 = (ln(100000/101000) − σ²τ/2) / (σ√τ) = (−0.0099503 − 0.0000143) / 0.0053403 = −1.865908;
     * N(d2) = 0.0310271318 (mpmath: 0.031027131810675543).
     */
    const tau = 3600 / SECONDS_PER_YEAR;
    const sd = 0.5 * Math.sqrt(tau);
    const d2 = (Math.log(100_000 / 101_000) - (sd * sd) / 2) / sd;
    const oracle = phiOracle(d2);
    expect(oracle).toBeCloseTo(0.031027131810675543, 11);
    const p = probabilityYes(input({ secondsToSettle: 3600, floorStrike: 101_000 }), ONE);
    expect(Math.abs(p - oracle)).toBeLessThan(1e-12);
    // settlementWindowSeconds = 0 is the same endpoint model
    expect(probabilityYes(input({ secondsToSettle: 3600, floorStrike: 101_000 }), { ...PURE, settlementWindowSeconds: 0 })).toBe(p);
  });
  it("at the money: N(−σ√τ/2) = 0.5 − tiny", () => {
    const p = probabilityYes(input({ secondsToSettle: 3600, floorStrike: 100_000 }), ONE);
    // mpmath: 0.49893475666581555
    expect(Math.abs(p - 0.49893475666581555)).toBeLessThan(1e-12);
    expect(p).toBeLessThan(0.5);
  });
});

/** O(n²) second implementation of the moment-matched log variance, straight from the definition. */
function naiveLogVariance(sigma: number, secondsToSettle: number, n: number): number {
  const times: number[] = [];
  for (let j = 0; j < n; j++) if (j < secondsToSettle) times.push((secondsToSettle - j) / SECONDS_PER_YEAR);
  const m = times.length;
  if (m === 0) return 0;
  // Var F / E[F]² = Σ_ij (e^{σ² min} − 1) / m²  (expm1: the plain exp would lose 8 digits here)
  let v = 0;
  for (const a of times) for (const b of times) v += Math.expm1(sigma * sigma * Math.min(a, b));
  return Math.log1p(v / (m * m));
}

describe("averageLogVariance", () => {
  it.each([
    [0.5, 600],
    [0.5, 60],
    [1.5, 59.25],
    [0.3, 30.5],
    [2, 0.4],
    [0.5, 86_400],
  ])("σ = %s, %s s to settle: equals the O(n²) definition", (sigma, d) => {
    expect(Math.abs(averageLogVariance(sigma, d, 60) / naiveLogVariance(sigma, d, 60) - 1)).toBeLessThan(1e-9);
  });
  it("variance reduction vs the endpoint: ≈ σ²·(d − 59 + 59·119/360) s before the window", () => {
    // For small σ²t: Var(avg)/avg² ≈ σ²/n² Σ_ij min(t_i, t_j); with t = d−59 … d (s) that is
    // σ²·[(d − 59) + Σ_{k,l<60} min(k,l)/3600] = σ²·(d − 59 + 19.4917) s.
    const sigma = 0.5;
    const d = 600;
    const approx = ((sigma * sigma) / SECONDS_PER_YEAR) * (d - 59 + (59 * 119) / 360);
    expect(Math.abs(averageLogVariance(sigma, d, 60) / approx - 1)).toBeLessThan(1e-5);
    expect(averageLogVariance(sigma, d, 60)).toBeLessThan(((sigma * sigma) / SECONDS_PER_YEAR) * d);
    // n = 1: exactly the endpoint variance σ²τ
    expect(Math.abs(averageLogVariance(sigma, d, 1) / (((sigma * sigma) * d) / SECONDS_PER_YEAR) - 1)).toBeLessThan(1e-12);
  });
  it("future sample count", () => {
    expect(futureSampleCount(600, 60)).toBe(60);
    expect(futureSampleCount(59.000001, 60)).toBe(60);
    expect(futureSampleCount(59, 60)).toBe(59); // sample at settle−59 s is taken now: observed
    expect(futureSampleCount(0.5, 60)).toBe(1);
    expect(futureSampleCount(0, 60)).toBe(0);
    expect(futureSampleCount(-3, 60)).toBe(0);
  });
});

interface McCase {
  name: string;
  strikeType: StrikeType;
  secondsToSettle: number;
  sigma: number;
  floor: number;
  cap: number;
  observedCount: number;
  observedAvg: number;
}

/** Monte Carlo second implementation: exact GBM at the future one-second samples, 200k paths. */
function monteCarlo(c: McCase, spot: number, paths: number, seed: number): { p: number; se: number } {
  const z = normalStream(seed);
  const n = 60;
  const future: number[] = []; // seconds from now, ascending
  for (let j = n - 1; j >= 0; j--) if (j < c.secondsToSettle) future.push(c.secondsToSettle - j);
  const pastSum = c.observedCount * c.observedAvg; // cases are built with observedCount = past slots
  const sPerSec = c.sigma / Math.sqrt(SECONDS_PER_YEAR);
  let hits = 0;
  for (let k = 0; k < paths; k++) {
    let x = Math.log(spot);
    let prev = 0;
    let sum = 0;
    for (const t of future) {
      const sd = sPerSec * Math.sqrt(t - prev);
      x += -0.5 * sd * sd + sd * z();
      prev = t;
      sum += Math.exp(x);
    }
    const avg = (pastSum + sum) / n;
    let yes: boolean;
    switch (c.strikeType) {
      case "greater":
        yes = avg > c.floor;
        break;
      case "greater_or_equal":
        yes = avg >= c.floor;
        break;
      case "less":
        yes = avg < c.cap;
        break;
      case "less_or_equal":
        yes = avg <= c.cap;
        break;
      case "between":
        yes = avg >= c.floor && avg <= c.cap;
        break;
    }
    if (yes) hits++;
  }
  const p = hits / paths;
  return { p, se: Math.sqrt((p * (1 - p)) / paths) };
}

describe("Monte Carlo agreement (200k paths, within 3 standard errors)", () => {
  const cases: McCase[] = [
    { name: "10 min before settle, greater", strikeType: "greater", secondsToSettle: 600, sigma: 0.5, floor: 100_150, cap: NaN, observedCount: 0, observedAvg: 0 },
    { name: "75 s before settle, ≥, σ 0.8", strikeType: "greater_or_equal", secondsToSettle: 75, sigma: 0.8, floor: 99_950, cap: NaN, observedCount: 0, observedAvg: 0 },
    { name: "inside: 29 observed @ 100 020, greater", strikeType: "greater", secondsToSettle: 30.5, sigma: 0.5, floor: 100_010, cap: NaN, observedCount: 29, observedAvg: 100_020 },
    { name: "inside: 54 observed @ 99 990, σ 1.0", strikeType: "greater", secondsToSettle: 5.2, sigma: 1.0, floor: 99_992, cap: NaN, observedCount: 54, observedAvg: 99_990 },
    { name: "15 min before, between", strikeType: "between", secondsToSettle: 900, sigma: 0.5, floor: 99_900, cap: 100_200, observedCount: 0, observedAvg: 0 },
    { name: "inside: 15 observed, ≤ cap", strikeType: "less_or_equal", secondsToSettle: 45, sigma: 0.6, floor: NaN, cap: 100_030, observedCount: 15, observedAvg: 100_050 },
  ];
  it.each(cases.map((c, i) => [c.name, c, i] as const))("%s", (_name, c, i) => {
    const spot = 100_000;
    const mc = monteCarlo(c, spot, 200_000, 1000 + i);
    const p = probabilityYes(
      input({
        secondsToSettle: c.secondsToSettle,
        sigma: c.sigma,
        strikeType: c.strikeType,
        floorStrike: c.floor,
        capStrike: c.cap,
        observedCount: c.observedCount,
        observedSum: c.observedCount * c.observedAvg,
        spot,
      }),
      PURE,
    );
    // the case must be informative (not trivially 0 or 1)
    expect(mc.p).toBeGreaterThan(0.05);
    expect(mc.p).toBeLessThan(0.95);
    expect(Math.abs(p - mc.p)).toBeLessThan(3 * mc.se);
  });
});

describe("strike semantics and identities", () => {
  const base = { secondsToSettle: 300, sigma: 0.6 };
  it("between = P(≥ floor) − P(> cap); less = 1 − greater_or_equal = 1 − greater (continuous case)", () => {
    for (const d of [3600, 300, 61, 30.5, 2.5]) {
      const common = { ...base, secondsToSettle: d, observedCount: Math.max(0, 60 - futureSampleCount(d, 60)), observedSum: Math.max(0, 60 - futureSampleCount(d, 60)) * 100_010 };
      const geFloor = probabilityYes(input({ ...common, strikeType: "greater_or_equal", floorStrike: 99_950 }), PURE);
      const gtCap = probabilityYes(input({ ...common, strikeType: "greater", floorStrike: 100_080 }), PURE);
      const between = probabilityYes(input({ ...common, strikeType: "between", floorStrike: 99_950, capStrike: 100_080 }), PURE);
      expect(between).toBeCloseTo(geFloor - gtCap, 12);
      const less = probabilityYes(input({ ...common, strikeType: "less", capStrike: 100_080 }), PURE);
      const lessEq = probabilityYes(input({ ...common, strikeType: "less_or_equal", capStrike: 100_080 }), PURE);
      expect(less).toBeCloseTo(1 - gtCap, 12);
      expect(lessEq).toBeCloseTo(1 - gtCap, 12);
    }
  });
  it("fully observed: indicator of the average, with > vs ≥ at equality", () => {
    const full = { secondsToSettle: 0, observedCount: 60, observedSum: 60 * 100_000 };
    const p = (strikeType: StrikeType, floorStrike: number, capStrike: number) => probabilityYes(input({ ...full, strikeType, floorStrike, capStrike }), PURE);
    expect(p("greater", 100_000, NaN)).toBe(0);
    expect(p("greater_or_equal", 100_000, NaN)).toBe(1);
    expect(p("less", NaN, 100_000)).toBe(0);
    expect(p("less_or_equal", NaN, 100_000)).toBe(1);
    expect(p("between", 100_000, 100_000)).toBe(1);
    expect(p("greater", 99_999.99, NaN)).toBe(1);
    expect(p("between", 100_000.01, 100_100)).toBe(0);
    // the live spot is irrelevant once the window is done
    expect(probabilityYes(input({ ...full, spot: 50_000, floorStrike: 99_000 }), PURE)).toBe(1);
  });
  it("59 of 60 observed far above the strike → ≈ 1, even if spot crashed", () => {
    // R = 60·100 000 − 59·101 000 = 41 000: the last sample only needs to exceed $41 000.
    const obs = { secondsToSettle: 0.5, observedCount: 59, observedSum: 59 * 101_000, floorStrike: 100_000 };
    expect(probabilityYes(input({ ...obs }), PURE)).toBeGreaterThan(1 - 1e-12);
    expect(probabilityYes(input({ ...obs, spot: 50_000 }), PURE)).toBeGreaterThan(1 - 1e-12);
    expect(probabilityYes(input({ ...obs, spot: 30_000 }), PURE)).toBeLessThan(1e-12);
  });
  it("shrinkage toward ½ and the sigma floor", () => {
    const raw = probabilityYes(input({ floorStrike: 100_300 }), PURE);
    const shrunk = probabilityYes(input({ floorStrike: 100_300 }), { ...PURE, shrinkToHalf: 0.1 });
    expect(shrunk).toBeCloseTo(0.5 + 0.9 * (raw - 0.5), 14);
    const lowSigma = probabilityYes(input({ floorStrike: 100_300, sigma: 0.01 }), { ...PURE, sigmaFloor: 0.5 });
    expect(lowSigma).toBeCloseTo(probabilityYes(input({ floorStrike: 100_300, sigma: 0.5 }), PURE), 14);
  });
  it("basis terms widen the distribution and vanish when the window is fully observed", () => {
    const itm = { floorStrike: 99_900, secondsToSettle: 20 };
    const obs = { observedCount: 40, observedSum: 40 * 100_000 };
    const pure = probabilityYes(input({ ...itm, ...obs }), PURE);
    const withBasis = probabilityYes(input({ ...itm, ...obs }), { ...PURE, basisUsd: 50, basisVol: 0.2 });
    expect(withBasis).toBeLessThan(pure);
    expect(withBasis).toBeGreaterThan(0.5);
    const done = { secondsToSettle: 0, observedCount: 60, observedSum: 60 * 99_950, floorStrike: 99_900 };
    expect(probabilityYes(input(done), { ...PURE, basisUsd: 50, basisVol: 0.2 })).toBe(1);
  });
  it("invalid inputs give NaN", () => {
    expect(probabilityYes(input({ spot: 0 }), PURE)).toBeNaN();
    expect(probabilityYes(input({ sigma: NaN }), PURE)).toBeNaN();
    expect(probabilityYes(input({ floorStrike: NaN }), PURE)).toBeNaN();
    expect(probabilityYes(input({ strikeType: "between", floorStrike: 1, capStrike: NaN }), PURE)).toBeNaN();
  });
});

describe("continuity in time", () => {
  it("no jump at the window start (first sample observed at spot)", () => {
    for (const cfg of [PURE, DEFAULTS]) {
      const before = probabilityYes(input({ secondsToSettle: 59.000001, floorStrike: 100_050 }), cfg);
      const at = probabilityYes(input({ secondsToSettle: 59, floorStrike: 100_050, observedCount: 1, observedSum: 100_000 }), cfg);
      const missing = probabilityYes(input({ secondsToSettle: 59, floorStrike: 100_050 }), cfg); // BRTI not seen: imputed at spot
      // residual ~4e-7: the moment-matched log-normal of 60 vs 59 samples (+ one known) differ slightly in shape
      expect(Math.abs(before - at)).toBeLessThan(1e-6);
      expect(missing).toBe(at);
    }
  });
  it("no jump at any sample boundary inside the window; → indicator as now → settle", () => {
    let last = NaN;
    for (let j = 59; j >= 1; j--) {
      const past = 60 - j;
      const common = { floorStrike: 100_010, observedCount: past, observedSum: past * 100_000 };
      const justBefore = probabilityYes(input({ ...common, secondsToSettle: j + 1e-6, observedCount: past - 1, observedSum: (past - 1) * 100_000 }), PURE);
      const justAfter = probabilityYes(input({ ...common, secondsToSettle: j }), PURE);
      expect(Math.abs(justBefore - justAfter)).toBeLessThan(1e-5);
      last = justAfter;
    }
    // 59 observed at 100 000, strike 100 010: the last sample must exceed 100 600 (0.6 %) within 1 s.
    expect(last).toBeLessThan(1e-6);
    const end = probabilityYes(input({ floorStrike: 99_990, secondsToSettle: 1e-6, observedCount: 59, observedSum: 59 * 100_000 }), PURE);
    expect(end).toBeGreaterThan(1 - 1e-12);
  });
});

describe("properties (fast-check): range and monotonicity", () => {
  const arbCase = fc.record({
    spot: fc.double({ min: 50_000, max: 150_000, noNaN: true }),
    spot2: fc.double({ min: 50_000, max: 150_000, noNaN: true }),
    strike: fc.double({ min: 50_000, max: 150_000, noNaN: true }),
    strike2: fc.double({ min: 50_000, max: 150_000, noNaN: true }),
    sigma: fc.double({ min: 0.01, max: 3, noNaN: true }),
    secondsToSettle: fc.double({ min: -5, max: 7200, noNaN: true }),
    observedAvg: fc.double({ min: 50_000, max: 150_000, noNaN: true }),
    missing: fc.integer({ min: 0, max: 3 }),
    cfgIdx: fc.integer({ min: 0, max: 1 }),
  });
  const TOL = 1e-12;
  function mk(c: { spot: number; strike: number; sigma: number; secondsToSettle: number; observedAvg: number; missing: number }, strikeType: StrikeType) {
    const past = 60 - futureSampleCount(c.secondsToSettle, 60);
    const k = Math.max(0, past - c.missing);
    return input({
      spot: c.spot,
      sigma: c.sigma,
      secondsToSettle: c.secondsToSettle,
      strikeType,
      floorStrike: c.strike,
      capStrike: c.strike,
      observedCount: k,
      observedSum: k * c.observedAvg,
    });
  }
  it("greater / ≥: in [0,1], non-decreasing in spot, non-increasing in strike; less: the reverse", () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const cfg = c.cfgIdx === 0 ? PURE : DEFAULTS;
        const [sLo, sHi] = c.spot <= c.spot2 ? [c.spot, c.spot2] : [c.spot2, c.spot];
        const [kLo, kHi] = c.strike <= c.strike2 ? [c.strike, c.strike2] : [c.strike2, c.strike];
        for (const t of ["greater", "greater_or_equal", "less", "less_or_equal"] as const) {
          const up = t.startsWith("greater");
          const pS1 = probabilityYes(mk({ ...c, spot: sLo }, t), cfg);
          const pS2 = probabilityYes(mk({ ...c, spot: sHi }, t), cfg);
          const pK1 = probabilityYes(mk({ ...c, strike: kLo }, t), cfg);
          const pK2 = probabilityYes(mk({ ...c, strike: kHi }, t), cfg);
          for (const p of [pS1, pS2, pK1, pK2]) {
            expect(p).toBeGreaterThanOrEqual(0);
            expect(p).toBeLessThanOrEqual(1);
          }
          if (up) {
            expect(pS1).toBeLessThanOrEqual(pS2 + TOL);
            expect(pK1).toBeGreaterThanOrEqual(pK2 - TOL);
          } else {
            expect(pS1).toBeGreaterThanOrEqual(pS2 - TOL);
            expect(pK1).toBeLessThanOrEqual(pK2 + TOL);
          }
        }
        const between = probabilityYes(input({ ...mk(c, "between"), floorStrike: kLo, capStrike: kHi }), cfg);
        expect(between).toBeGreaterThanOrEqual(0);
        expect(between).toBeLessThanOrEqual(1);
      }),
      { numRuns: 1000 },
    );
  });
});
