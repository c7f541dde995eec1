import { describe, expect, it } from "vitest";
import {
  brier, brierClimatology, brierSkillScore, createRng, dieboldMariano, ece, evBinMonotonicity, logLoss, murphyDecomposition,
  normalCdf, olsSlope, pairedClusterBootstrap, reliabilityBands, reliabilityCurve, spearman, spiegelhalter, studentTCdf, studentTTwoSided,
  tQuantile, walkForwardSplit,
} from "../../lib/analysis/stats.ts";

describe("proper scores", () => {
  it("Brier and log-loss match hand arithmetic", () => {
    // p = .9,.2,.6; y = 1,0,0 → (.01 + .04 + .36)/3 = .41/3
    expect(brier([0.9, 0.2, 0.6], [1, 0, 0])).toBeCloseTo(0.41 / 3, 12);
    // −(ln .9 + ln .8 + ln .4)/3 = (0.1053605 + 0.2231436 + 0.9162907)/3
    expect(logLoss([0.9, 0.2, 0.6], [1, 0, 0])).toBeCloseTo(1.2447948 / 3, 6);
    // clipping keeps a certain miss finite: −ln(1e-6) = 13.8155
    expect(logLoss([0], [1])).toBeCloseTo(13.815511, 5);
  });

  it("Brier of climatology is p̄(1 − p̄) and BSS against a reference", () => {
    const y = [1, 0, 0, 0];
    // constant .25: (.5625 + 3·.0625)/4 = .1875 = .25·.75
    expect(brier([0.25, 0.25, 0.25, 0.25], y)).toBeCloseTo(0.1875, 12);
    expect(brierClimatology(y)).toBeCloseTo(0.1875, 12);
    // BS(p) = .41/3, BS(0.5) = .25 → BSS = 1 − .136667/.25 = .453333
    expect(brierSkillScore([0.9, 0.2, 0.6], [1, 0, 0], [0.5, 0.5, 0.5])).toBeCloseTo(1 - 0.41 / 3 / 0.25, 12);
    expect(brierSkillScore([0.25, 0.25, 0.25, 0.25], y)).toBeCloseTo(0, 12);
  });
});

describe("calibration", () => {
  it("reliability curve drops empty bins, ECE weights by count", () => {
    const p = [0.05, 0.15, 0.12, 0.95];
    const y = [0, 1, 0, 1];
    const bins = reliabilityCurve(p, y, { bins: 10 });
    expect(bins.map((b) => b.count)).toEqual([1, 2, 1]);
    expect(bins[1]!.meanPred).toBeCloseTo(0.135, 12);
    expect(bins[1]!.obsFreq).toBe(0.5);
    expect(bins[2]!.lo).toBeCloseTo(0.9, 12);
    // (1·|0−.05| + 2·|.5−.135| + 1·|1−.95|)/4 = (.05 + .73 + .05)/4
    expect(ece(p, y, { bins: 10 })).toBeCloseTo(0.2075, 12);
  });

  it("quantile bins hold equal counts", () => {
    const p = Array.from({ length: 100 }, (_, i) => (i + 0.5) / 100) .map((x) => x * x);
    const y = p.map((_, i) => i % 2);
    const bins = reliabilityCurve(p, y, { bins: 4, strategy: "quantile" });
    expect(bins.map((b) => b.count)).toEqual([25, 25, 25, 25]);
  });

  it("Spiegelhalter Z by hand", () => {
    // Σ(y−p)(1−2p) = (−.2)(.6) + (.2)(−.6) = −.24; √Σ(1−2p)²p(1−p) = √(2·.36·.16) = √.1152
    const t = spiegelhalter([0.2, 0.8], [0, 1]);
    expect(t.z).toBeCloseTo(-0.24 / Math.sqrt(0.1152), 12);
    expect(t.pValue).toBeCloseTo(2 * (1 - normalCdf(0.24 / Math.sqrt(0.1152))), 12);
    // forecasts of .9 that never come true are rejected
    expect(spiegelhalter(Array(50).fill(0.9), Array(50).fill(0)).pValue).toBeLessThan(1e-6);
  });

  it("Murphy decomposition: worked example with discrete forecasts", () => {
    // five forecasts of .2 (one YES) and four of .7 (three YES); N = 9, ō = 4/9
    const p = [0.2, 0.2, 0.2, 0.2, 0.2, 0.7, 0.7, 0.7, 0.7];
    const y = [0, 0, 1, 0, 0, 1, 1, 0, 1];
    const m = murphyDecomposition(p, y, { bins: 10 });
    // BS = (4·.04 + .64 + 3·.09 + .49)/9 = 1.56/9
    expect(m.brier).toBeCloseTo(1.56 / 9, 12);
    // REL = (5·0² + 4·(.7−.75)²)/9 = .01/9
    expect(m.reliability).toBeCloseTo(0.01 / 9, 12);
    // RES = (5·(.2−4/9)² + 4·(.75−4/9)²)/9 = .6722222/9
    expect(m.resolution).toBeCloseTo((5 * (0.2 - 4 / 9) ** 2 + 4 * (0.75 - 4 / 9) ** 2) / 9, 12);
    expect(m.uncertainty).toBeCloseTo(20 / 81, 12);
    expect(m.withinBinVariance).toBe(0);
    // the identity holds exactly for one forecast value per bin
    expect(m.reliability - m.resolution + m.uncertainty).toBeCloseTo(m.brier, 14);
    // Ferro–Fricker: Σ n_k ō_k(1−ō_k)/(n_k−1)/N = (5·.16/4 + 4·.1875/3)/9 = .45/9 = .05
    expect(m.corrected.reliability).toBeCloseTo(0.01 / 9 - 0.05, 12);
    expect(m.corrected.uncertainty).toBeCloseTo((9 / 8) * (20 / 81), 12);
    expect(m.corrected.resolution).toBeCloseTo(m.resolution - 0.05 + 20 / 81 / 8, 12);
    expect(m.corrected.reliability - m.corrected.resolution + m.corrected.uncertainty).toBeCloseTo(m.brier, 12);
  });

  it("Murphy + within-bin terms reproduce the Brier score for continuous forecasts", () => {
    const rng = createRng(3);
    const p = Array.from({ length: 500 }, () => rng());
    const y = p.map((pi) => (rng() < pi ? 1 : 0));
    for (const strategy of ["uniform", "quantile"] as const) {
      const m = murphyDecomposition(p, y, { bins: 7, strategy });
      expect(m.reliability - m.resolution + m.uncertainty + m.withinBinVariance - m.withinBinCovariance).toBeCloseTo(m.brier, 12);
    }
  });

  it("bootstrap bands bracket each bin's observed frequency", () => {
    const rng = createRng(5);
    const p = Array.from({ length: 400 }, () => rng());
    const y = p.map((pi) => (rng() < pi ? 1 : 0));
    const clusters = p.map((_, i) => `E${Math.floor(i / 4)}`);
    const bands = reliabilityBands(p, y, clusters, { bins: 5, reps: 200 });
    expect(bands).toHaveLength(5);
    for (const b of bands) {
      expect(b.bandLo).toBeLessThanOrEqual(b.obsFreq + 1e-12);
      expect(b.bandHi).toBeGreaterThanOrEqual(b.obsFreq - 1e-12);
      expect(b.bandHi - b.bandLo).toBeLessThan(0.35);
    }
  });
});

describe("Student t and normal", () => {
  it("matches closed forms and table values", () => {
    expect(studentTCdf(1, 1)).toBeCloseTo(0.75, 12); // Cauchy: 1/2 + atan(1)/π
    expect(studentTCdf(1, 2)).toBeCloseTo(0.5 + 1 / (2 * Math.sqrt(3)), 12); // df 2: 1/2 + t/(2√(2+t²))
    expect(studentTCdf(-1, 2)).toBeCloseTo(0.5 - 1 / (2 * Math.sqrt(3)), 12);
    expect(studentTTwoSided(2.228, 10)).toBeCloseTo(0.05, 3); // table: t.975,10 = 2.228
    expect(studentTTwoSided(2.086, 20)).toBeCloseTo(0.05, 3); // t.975,20 = 2.086
    expect(studentTTwoSided(4.032, 5)).toBeCloseTo(0.01, 3); // t.995,5 = 4.032
    expect(studentTCdf(0, 7)).toBeCloseTo(0.5, 14);
    expect(tQuantile(0.975, 10)).toBeCloseTo(2.228, 3);
    expect(normalCdf(1.96)).toBeCloseTo(0.9750021, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.1586553, 6);
  });
});

describe("Diebold–Mariano", () => {
  it("constructed series with a known statistic (lag 0 and lag 1)", () => {
    // d = A − B = [.1, .3, .1, .3]: d̄ = .2, γ0 = 4·.01/4 = .01, Var(d̄) = .01/4 → DM = .2/.05 = 4
    const A = [0.1, 0.3, 0.1, 0.3];
    const B = [0, 0, 0, 0];
    const r0 = dieboldMariano(A, B, { lag: 0 });
    expect(r0.meanDiff).toBeCloseTo(0.2, 12);
    expect(r0.dm).toBeCloseTo(4, 12);
    // HLN, h = 1: 4·√((4 + 1 − 2)/4) = 4·√.75 = 3.4641
    expect(r0.hln).toBeCloseTo(4 * Math.sqrt(0.75), 12);
    // t(3) CDF closed form: 1/2 + (1/π)(u/(1+u²) ... ) with u = t/√3 = 2 → F = .5 + (2/5 + atan 2)/π
    const F = 0.5 + (0.4 + Math.atan(2)) / Math.PI;
    expect(r0.df).toBe(3);
    expect(r0.pValue).toBeCloseTo(2 * (1 - F), 10);
    // lag 1: γ1 = 3·(−.01)/4 = −.0075; LRV = .01 + 2·½·(−.0075) = .0025; Var(d̄) = .000625 → DM = 8
    const r1 = dieboldMariano(A, B, { lag: 1 });
    expect(r1.dm).toBeCloseTo(8, 10);
    expect(r1.lag).toBe(1);
  });

  it("one-sided alternative and a clearly better forecaster", () => {
    const rng = createRng(11);
    const p = Array.from({ length: 400 }, () => rng());
    const y = p.map((pi) => (rng() < pi ? 1 : 0));
    const good = p.map((pi, i) => (pi - y[i]!) ** 2);
    const bad = p.map((pi, i) => (Math.min(1, Math.max(0, pi + (rng() - 0.5) * 0.8)) - y[i]!) ** 2);
    const r = dieboldMariano(good, bad, { alternative: "less" });
    expect(r.meanDiff).toBeLessThan(0);
    expect(r.pValue).toBeLessThan(0.01);
    expect(r.lag).toBe(Math.floor(4 * Math.pow(4, 2 / 9))); // Newey–West rule: floor(4·(400/100)^(2/9)) = 5
    // equal forecasts: p-value near 1 for two-sided when nothing differs but noise
    const same = dieboldMariano(good, good.map((g, i) => g + (i % 2 === 0 ? 1e-3 : -1e-3)));
    expect(same.pValue).toBeGreaterThan(0.5);
  });
});

describe("paired cluster bootstrap", () => {
  it("is deterministic per seed and reflects cluster-level variability", () => {
    // 50 clusters of 10 identical values ±1: the mean's SE is about 1/√50 ≈ .141, not 1/√500 ≈ .045
    const d: number[] = [];
    const c: string[] = [];
    for (let k = 0; k < 50; k++) for (let j = 0; j < 10; j++) {
      d.push(k % 2 === 0 ? 1 : -1);
      c.push(`E${k}`);
    }
    const a = pairedClusterBootstrap(d, c, { reps: 2000, seed: 1 });
    const b = pairedClusterBootstrap(d, c, { reps: 2000, seed: 1 });
    expect(a).toEqual(b);
    expect(a.clusters).toBe(50);
    expect(a.mean).toBe(0);
    expect(a.se).toBeGreaterThan(0.12);
    expect(a.se).toBeLessThan(0.165);
    expect(a.lo).toBeLessThan(0);
    expect(a.hi).toBeGreaterThan(0);
    // a constant difference has a degenerate interval
    const k = pairedClusterBootstrap([0.5, 0.5, 0.5], ["a", "b", "c"], { reps: 100 });
    expect([k.lo, k.hi, k.pNotNegative]).toEqual([0.5, 0.5, 1]);
  });
});

describe("trend tests and EV bins", () => {
  it("Spearman and OLS slope match hand values", () => {
    // rank differences −1,1,−1,1,0 → ρ = 1 − 6·4/(5·24) = .8
    expect(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]).rho).toBeCloseTo(0.8, 12);
    // x = 0..3, y = 1,3,2,5: Sxy = 5.5, Sxx = 5 → slope 1.1, SSE = 2.7, se = √(2.7/2/5)
    const s = olsSlope([0, 1, 2, 3], [1, 3, 2, 5]);
    expect(s.slope).toBeCloseTo(1.1, 12);
    expect(s.intercept).toBeCloseTo(1.1, 12);
    expect(s.se).toBeCloseTo(Math.sqrt(0.27), 12);
    expect(s.t).toBeCloseTo(1.1 / Math.sqrt(0.27), 10);
  });

  it("EV bins: monotone PnL, CIs, and a significant trend", () => {
    const ev = Array.from({ length: 200 }, (_, i) => i / 1000);
    const pnl = ev.map((e, i) => 2 * e + (i % 2 === 0 ? 0.05 : -0.05));
    const m = evBinMonotonicity(ev, pnl, { bins: 4 });
    expect(m.bins.map((b) => b.count)).toEqual([50, 50, 50, 50]);
    expect(m.monotone).toBe(true);
    expect(m.slope.slope).toBeGreaterThan(1.5);
    expect(m.spearman.pPositive).toBeLessThan(1e-6);
    for (const b of m.bins) {
      expect(b.ciLo).toBeLessThan(b.meanPnl);
      expect(b.ciHi).toBeGreaterThan(b.meanPnl);
    }
    // reversed PnL is not monotone
    expect(evBinMonotonicity(ev, pnl.map((x) => -x), { bins: 4 }).monotone).toBe(false);
  });
});

describe("walk-forward", () => {
  it("tests only on days after the training days", () => {
    const items = ["2026-02-01", "2026-02-01", "2026-02-02", "2026-02-03", "2026-02-04", "2026-02-05"].map((d, i) => ({ d, i }));
    const folds = walkForwardSplit(items, (x) => x.d, { minTrainDays: 2, testDays: 1 });
    expect(folds.map((f) => f.testDays)).toEqual([["2026-02-03"], ["2026-02-04"], ["2026-02-05"]]);
    expect(folds[0]!.train.map((x) => x.i)).toEqual([0, 1, 2]);
    const rolling = walkForwardSplit(items, (x) => x.d, { minTrainDays: 2, testDays: 2, rollingTrainDays: 1 });
    expect(rolling[0]!.trainDays).toEqual(["2026-02-02"]);
    expect(rolling[0]!.testDays).toEqual(["2026-02-03", "2026-02-04"]);
    for (const f of folds) for (const t of f.trainDays) expect(t < f.testDays[0]!).toBe(true);
  });
});
