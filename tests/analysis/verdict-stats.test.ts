/**
 * The statistics of the redesigned verdict, each against an independent reference: simple-statistics
 * (a second implementation), closed forms, or exact enumeration.
 */
import * as ss from "simple-statistics";
import { describe, expect, it } from "vitest";
import {
  binIndex, clusterMeanTest, createRng, fCdf, logisticRecalibration, logisticRegression, reliabilityCurve, studentTCdf,
  wildClusterBootstrapMean,
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
