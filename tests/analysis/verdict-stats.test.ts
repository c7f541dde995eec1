/**
 * The statistics of the redesigned verdict, each against an independent reference: simple-statistics
 * (a second implementation), closed forms, or exact enumeration.
 */
import * as ss from "simple-statistics";
import { describe, expect, it } from "vitest";
import {
  binIndex, clusterBootstrapT, clusterMeanTest, createRng, deflatedSharpe, encompassingTest, expectedMaxNormal, fCdf, holmAdjust, logisticRecalibration,
  logisticRegression, minimumDetectableEffect, normalQuantile, reliabilityCurve, spaTest, studentTCdf, wildClusterBootstrapMean,
} from "../../lib/analysis/stats.ts";

describe("reliability bins are (lo, hi]", () => {
  it("a forecast on an edge belongs to the bin below it; 0 to the first bin", () => {
    const edges = Array.from({ length: 11 }, (_, i) => i / 10);
    expect(binIndex(edges, 0)).toBe(0);
    expect(binIndex(edges, 0.1)).toBe(0);
    expect(binIndex(edges, 0.2)).toBe(1);
    expect(binIndex(edges, 0.25)).toBe(2);
    expect(binIndex(edges, 1)).toBe(9);
    // whole-cent market mids on 0.3: they land in (0.2, 0.3]
    const bins = reliabilityCurve([0.3, 0.3, 0.31], [1, 0, 1], { bins: 10 });
    expect(bins.map((b) => [b.lo, b.count])).toEqual([[0.2, 2], [0.3, 1]]);
  });
});

describe("cluster-robust mean test", () => {
  it("equals the one-sample t-test on cluster means when clusters have equal size (simple-statistics)", () => {
    const rng = createRng(3);
    const K = 12;
    const x: number[] = [];
    const cl: string[] = [];
    const means: number[] = [];
    for (let g = 0; g < K; g++) {
      const shock = rng() - 0.5;
      let s = 0;
      for (let j = 0; j < 5; j++) {
        const v = shock + 0.3 * (rng() - 0.5) + 0.05;
        x.push(v);
        cl.push(`g${g}`);
        s += v;
      }
      means.push(s / 5);
    }
    const r = clusterMeanTest(x, cl);
    // simple-statistics' tTest divides by the population SD (n denominator): rescale to the sample SD
    const tRef = ss.tTest(means, 0) * Math.sqrt((K - 1) / K);
    expect(ss.sampleStandardDeviation(means) / Math.sqrt(K)).toBeCloseTo(r.se, 12);
    expect(r.clusters).toBe(K);
    expect(r.df).toBe(K - 1);
    expect(r.t).toBeCloseTo(tRef, 10);
    expect(r.pGreater).toBeCloseTo(1 - studentTCdf(tRef, K - 1), 10);
    expect(r.hi - r.mean).toBeCloseTo(r.mean - r.lo, 12);
  });

  it("wild cluster bootstrap enumerates all 2^K sign patterns for small K", () => {
    // Every cluster sum positive: the observed t is the largest of the 32 patterns → p = 1/32.
    const x = [1, 2, 1.5, 0.5, 3, 2.2, 0.7, 1.1, 0.9, 2.5];
    const cl = ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e"];
    const w = wildClusterBootstrapMean(x, cl);
    expect(w.reps).toBe(32);
    expect(w.pGreater).toBeCloseTo(1 / 32, 12);
    // symmetric around 0 → the p-value is far from significant
    const sym = wildClusterBootstrapMean([1, -1, 2, -2, 0.5, -0.5], ["a", "b", "c", "d", "e", "f"]);
    expect(sym.pGreater).toBeGreaterThan(0.3);
  });
});

describe("F distribution", () => {
  it("F(2, d) has the closed form 1 − (1 + 2x/d)^(−d/2)", () => {
    for (const [x, d] of [[0.5, 3], [2, 10], [4.1, 29], [9, 5]] as const) {
      expect(fCdf(x, 2, d)).toBeCloseTo(1 - Math.pow(1 + (2 * x) / d, -d / 2), 12);
    }
    // F(1, d) = t²: P(F ≤ t²) = 2 T_d(t) − 1
    expect(fCdf(2.5 ** 2, 1, 7)).toBeCloseTo(2 * studentTCdf(2.5, 7) - 1, 12);
  });
});

describe("logistic regression and recalibration", () => {
  it("saturated binary predictor: coefficients are the group logits; CR1 with singleton clusters is n/(n−2) × the model variance", () => {
    // group 0: 3 of 10 yes; group 1: 7 of 10 yes
    const x: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 10; i++) {
      x.push([1, 0]);
      y.push(i < 3 ? 1 : 0);
    }
    for (let i = 0; i < 10; i++) {
      x.push([1, 1]);
      y.push(i < 7 ? 1 : 0);
    }
    const fit = logisticRegression(x, y, y.map((_, i) => `c${i}`));
    const lg = (p: number) => Math.log(p / (1 - p));
    expect(fit.beta[0]).toBeCloseTo(lg(0.3), 9);
    expect(fit.beta[1]).toBeCloseTo(lg(0.7) - lg(0.3), 9);
    const v1 = 1 / (10 * 0.3 * 0.7) + 1 / (10 * 0.7 * 0.3);
    expect(fit.cov[1]![1]).toBeCloseTo((20 / 18) * v1, 9);
  });

  it("calibrated forecasts give slope ≈ 1, intercept ≈ 0 and a large p; over-confident ones are caught", () => {
    const rng = createRng(11);
    const p: number[] = [];
    const y: number[] = [];
    const cl: string[] = [];
    for (let i = 0; i < 4000; i++) {
      const q = 0.02 + 0.96 * rng();
      p.push(q);
      y.push(rng() < q ? 1 : 0);
      cl.push(`e${i % 200}`);
    }
    const r = logisticRecalibration(p, y, cl);
    expect(Math.abs(r.slope - 1)).toBeLessThan(4 * r.seSlope);
    expect(Math.abs(r.intercept)).toBeLessThan(4 * r.seIntercept);
    // over-confident: the forecast is pushed away from ½
    const over = p.map((q) => 1 / (1 + Math.exp(-2 * Math.log(q / (1 - q)))));
    const r2 = logisticRecalibration(over, y, cl);
    expect(r2.slope).toBeLessThan(0.6);
    expect(r2.pValue).toBeLessThan(1e-6);
  });

  it("constant forecasts have no recalibration line: NaN, never 'calibrated'", () => {
    const r = logisticRecalibration([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 1], ["a", "b", "c", "d"]);
    expect(r.slope).toBeNaN();
    expect(r.pValue).toBeNaN();
  });
});

describe("multiple testing, data snooping, deflated Sharpe, power", () => {
  it("Holm adjusts like R's p.adjust(method = 'holm')", () => {
    // hand: sorted .005·4 = .02, .01·3 = .03, .03·2 = .06, .04·1 = .04 → running max .06
    expect(holmAdjust([0.01, 0.04, 0.03, 0.005])).toEqual([0.03, 0.06, 0.06, 0.02]);
    expect(holmAdjust([0.5, NaN])).toEqual([1, 1]);
  });

  it("normal quantile matches published values; E[max of N normals] is close to the exact expectation", () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 10);
    expect(normalQuantile(0.8)).toBeCloseTo(0.8416212335729143, 10);
    // exact E[max] of N iid N(0,1): N = 10 → 1.538752, N = 100 → 2.507594 (tables of order statistics)
    expect(Math.abs(expectedMaxNormal(10) / 1.538752 - 1)).toBeLessThan(0.03);
    expect(Math.abs(expectedMaxNormal(100) / 2.507594 - 1)).toBeLessThan(0.03);
    expect(expectedMaxNormal(1)).toBe(0);
  });

  it("deflated Sharpe with one trial is the probabilistic Sharpe ratio (moments from simple-statistics)", () => {
    const rng = createRng(5);
    const r = Array.from({ length: 250 }, () => 0.001 + 0.01 * (rng() - 0.5) + 0.004 * (rng() - 0.5) ** 3);
    const d = deflatedSharpe(r, 1);
    const sr = ss.mean(r) / ss.sampleStandardDeviation(r);
    const g3 = ss.sampleSkewness(r);
    const g4 = ss.sampleKurtosis(r) + 3;
    const psr = 0.5 * (1 + erfApprox((sr * Math.sqrt(249)) / Math.sqrt(1 - g3 * sr + ((g4 - 1) / 4) * sr * sr) / Math.SQRT2));
    expect(d.sharpe).toBeCloseTo(sr, 12);
    expect(d.sr0).toBe(0);
    expect(Math.abs(d.dsr - psr)).toBeLessThan(1e-6);
    // more trials → a higher bar → a lower DSR
    expect(deflatedSharpe(r, 50).dsr).toBeLessThan(d.dsr);
  });

  it("SPA and the Reality Check: one clearly better candidate is found, a worse one is not", () => {
    const rng = createRng(8);
    const cl = Array.from({ length: 600 }, (_, i) => `c${i % 60}`);
    const good = cl.map(() => 0.02 + 0.1 * (rng() - 0.5));
    const bad = cl.map(() => -0.02 + 0.1 * (rng() - 0.5));
    const r = spaTest([bad, good], cl, { reps: 499, seed: 1 });
    expect(r.best).toBe(1);
    expect(r.pSpa).toBeLessThan(0.01);
    expect(r.pRealityCheck).toBeLessThan(0.01);
    expect(spaTest([bad], cl, { reps: 499, seed: 1 }).pSpa).toBeGreaterThan(0.5);
  });

  it("encompassing λ is the no-intercept OLS slope; with singleton clusters its SE is the HC sandwich", () => {
    const rng = createRng(9);
    const n = 400;
    const pk = Array.from({ length: n }, () => 0.2 + 0.6 * rng());
    const pm = pk.map((q) => Math.min(0.99, Math.max(0.01, q + 0.2 * (rng() - 0.5))));
    const y = pm.map((q) => (rng() < q ? 1 : 0));
    const e = encompassingTest(pm, pk, y, y.map((_, i) => `i${i}`));
    const x = pm.map((q, i) => q - pk[i]!);
    const u = y.map((v, i) => v - pk[i]!);
    const sxx = x.reduce((s, v) => s + v * v, 0);
    const lam = x.reduce((s, v, i) => s + v * u[i]!, 0) / sxx;
    const hc = x.reduce((s, v, i) => s + (v * (u[i]! - lam * v)) ** 2, 0) / (sxx * sxx);
    expect(e.lambda).toBeCloseTo(lam, 12);
    expect(e.se).toBeCloseTo(Math.sqrt((n / (n - 1)) * hc), 12);
    expect(e.lambda).toBeGreaterThan(0.5); // the model's forecasts are the truth here
    expect(e.pValue).toBeLessThan(0.05);
  });

  it("cluster bootstrap-t: a clear positive mean is significant, a symmetric null is not", () => {
    const rng = createRng(10);
    const cl = Array.from({ length: 300 }, (_, i) => `c${i % 30}`);
    expect(clusterBootstrapT(cl.map(() => 0.5 + rng()), cl, { reps: 499 }).pGreater).toBeLessThan(0.01);
    expect(clusterBootstrapT(cl.map(() => rng() - 0.5), cl, { reps: 499 }).pGreater).toBeGreaterThan(0.05);
  });

  it("minimum detectable effect = (z_.95 + z_.80)·se for many degrees of freedom", () => {
    expect(minimumDetectableEffect(0.01, 1e6)).toBeCloseTo((normalQuantile(0.95) + normalQuantile(0.8)) * 0.01, 6);
    expect(minimumDetectableEffect(0.01, 9)).toBeGreaterThan(minimumDetectableEffect(0.01, 1e6));
  });
});

/** erf by its Maclaurin series (independent of the library's erfc), fine for |x| < 3. */
function erfApprox(x: number): number {
  let sum = 0;
  let term = x;
  for (let k = 0; k < 80; k++) {
    sum += term / (2 * k + 1);
    term *= (-x * x) / (k + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
