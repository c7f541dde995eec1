/**
 * Statistics for proving (or refuting) edge: proper scores, calibration, forecast-comparison tests.
 * Standard pieces (mean, variance, correlation, regression line, skewness, kurtosis) come from
 * simple-statistics; what it lacks is written here — DM with HAC, Murphy, cluster-robust tests and
 * bootstraps, logistic recalibration, SPA, deflated Sharpe — each checked against a reference in
 * tests/analysis. Inputs are plain arrays of probabilities in [0,1] and binary outcomes (0/1). Pure
 * functions, no IO; randomness only through a seeded PRNG.
 */
import { mulberry32 } from "../core/prng.ts";
import * as ss from "simple-statistics";
import { normalCdf as coreNormalCdf } from "../core/probability.ts";
import { incompleteBeta, studentTCdf } from "../core/special.ts";

// ---- small helpers -------------------------------------------------------------------------------

function checkPair(p: readonly number[], y: readonly number[]): void {
  if (p.length !== y.length) throw new Error(`length mismatch: ${p.length} forecasts vs ${y.length} outcomes`);
  if (p.length === 0) throw new Error("no observations");
}

/** Arithmetic mean (simple-statistics, compensated summation); NaN for no values. */
export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : ss.mean(xs as number[]);
}

/** Sample variance, n − 1 denominator (simple-statistics); NaN below two values. */
export function variance(xs: readonly number[]): number {
  return xs.length < 2 ? NaN : ss.sampleVariance(xs as number[]);
}

/** Linear-interpolated quantile of sorted data (type 7, as R's default). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Deterministic PRNG (the project's mulberry32): same seed, same stream, on every platform. */
export function createRng(seed: number): () => number {
  return mulberry32(seed);
}

// ---- proper scores --------------------------------------------------------------------------------

/** Mean squared error of probability forecasts against 0/1 outcomes. */
export function brier(p: readonly number[], y: readonly number[]): number {
  checkPair(p, y);
  let s = 0;
  for (let i = 0; i < p.length; i++) s += (p[i]! - y[i]!) ** 2;
  return s / p.length;
}

/** Per-observation Brier losses (for paired tests). */
export function brierLosses(p: readonly number[], y: readonly number[]): number[] {
  checkPair(p, y);
  return p.map((pi, i) => (pi - y[i]!) ** 2);
}

/** Per-observation log losses, forecasts clipped to [eps, 1 − eps] so a confident miss is finite. */
export function logLosses(p: readonly number[], y: readonly number[], eps = 1e-6): number[] {
  checkPair(p, y);
  return p.map((pi, i) => {
    const q = Math.min(1 - eps, Math.max(eps, pi));
    return y[i]! === 1 ? -Math.log(q) : -Math.log(1 - q);
  });
}

export function logLoss(p: readonly number[], y: readonly number[], eps = 1e-6): number {
  return mean(logLosses(p, y, eps));
}

/**
 * Brier skill score against a reference forecast: 1 − BS(p)/BS(ref). `ref` is either per-observation
 * forecasts (e.g. the market's) or one constant (climatology; defaults to the sample base rate).
 * Positive = better than the reference.
 */
export function brierSkillScore(p: readonly number[], y: readonly number[], ref?: readonly number[] | number): number {
  const refP = ref === undefined ? mean(y) : ref;
  const refForecasts = typeof refP === "number" ? p.map(() => refP) : refP;
  return 1 - brier(p, y) / brier(refForecasts, y);
}

/** Brier score of always forecasting the sample base rate: p̄(1 − p̄). */
export function brierClimatology(y: readonly number[]): number {
  const b = mean(y);
  return b * (1 - b);
}

// ---- calibration ----------------------------------------------------------------------------------

export type BinStrategy = "uniform" | "quantile";

export interface BinOptions {
  /** Number of bins (default 10). */
  bins?: number;
  /** Equal-width bins on [0,1], or equal-count bins on the forecasts' quantiles. */
  strategy?: BinStrategy;
}

/** Bin edges: uniform on [0,1] or at forecast quantiles (duplicates collapsed). */
export function binEdges(p: readonly number[], opts: BinOptions = {}): number[] {
  const k = opts.bins ?? 10;
  if (!(k >= 1)) throw new Error("bins must be ≥ 1");
  if ((opts.strategy ?? "uniform") === "uniform") return Array.from({ length: k + 1 }, (_, i) => i / k);
  const sorted = [...p].sort((a, b) => a - b);
  const edges = Array.from({ length: k + 1 }, (_, i) => quantileSorted(sorted, i / k));
  edges[0] = 0;
  edges[k] = 1;
  return edges.filter((e, i) => i === 0 || e > edges[i - 1]!);
}

/**
 * Index of the bin holding p: bins are (e_i, e_{i+1}], the first one closed at its lower edge, so a
 * forecast exactly on an edge (a whole-cent market mid on 0.30) belongs to the bin below it — the usual
 * convention of reliability diagrams. Values outside [e_0, e_last] go to the first / last bin.
 */
export function binIndex(edges: readonly number[], p: number): number {
  const last = edges.length - 2;
  if (p <= edges[1]!) return 0;
  if (p > edges[last]!) return last;
  // smallest b ≥ 1 with p ≤ e_{b+1}
  let lo = 1;
  let hi = last;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (p <= edges[mid + 1]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export interface ReliabilityBin {
  readonly lo: number;
  readonly hi: number;
  readonly count: number;
  /** Mean forecast in the bin. */
  readonly meanPred: number;
  /** Observed frequency of YES in the bin. */
  readonly obsFreq: number;
}

/** Reliability curve; empty bins are dropped. */
export function reliabilityCurve(p: readonly number[], y: readonly number[], opts: BinOptions = {}): ReliabilityBin[] {
  checkPair(p, y);
  return reliabilityWithEdges(p, y, binEdges(p, opts));
}

export function reliabilityWithEdges(p: readonly number[], y: readonly number[], edges: readonly number[]): ReliabilityBin[] {
  const k = edges.length - 1;
  const n = new Array<number>(k).fill(0);
  const sp = new Array<number>(k).fill(0);
  const sy = new Array<number>(k).fill(0);
  for (let i = 0; i < p.length; i++) {
    const b = binIndex(edges, p[i]!);
    n[b]!++;
    sp[b]! += p[i]!;
    sy[b]! += y[i]!;
  }
  const out: ReliabilityBin[] = [];
  for (let b = 0; b < k; b++) {
    if (n[b]! === 0) continue;
    out.push({ lo: edges[b]!, hi: edges[b + 1]!, count: n[b]!, meanPred: sp[b]! / n[b]!, obsFreq: sy[b]! / n[b]! });
  }
  return out;
}

/** Expected calibration error: Σ_k (n_k/N)·|ō_k − p̄_k| over the reliability bins. */
export function ece(p: readonly number[], y: readonly number[], opts: BinOptions = {}): number {
  const bins = reliabilityCurve(p, y, opts);
  let s = 0;
  for (const b of bins) s += b.count * Math.abs(b.obsFreq - b.meanPred);
  return s / p.length;
}

export interface SpiegelhalterTest {
  readonly z: number;
  /** Two-sided p-value under H0: the forecasts are calibrated. */
  readonly pValue: number;
}

/**
 * Spiegelhalter (1986, Stat. Med. 5:421–433) calibration test:
 *   Z = Σ (y_i − p_i)(1 − 2p_i) / √(Σ (1 − 2p_i)² p_i(1 − p_i)),  ~ N(0,1) when forecasts are calibrated.
 * Unlike ECE it has no upward small-sample bias, so it can gate "calibrated" at any n.
 */
export function spiegelhalter(p: readonly number[], y: readonly number[]): SpiegelhalterTest {
  checkPair(p, y);
  let num = 0;
  let den = 0;
  for (let i = 0; i < p.length; i++) {
    const q = p[i]!;
    num += (y[i]! - q) * (1 - 2 * q);
    den += (1 - 2 * q) ** 2 * q * (1 - q);
  }
  const z = den > 0 ? num / Math.sqrt(den) : NaN;
  return { z, pValue: Number.isFinite(z) ? 2 * (1 - normalCdf(Math.abs(z))) : NaN };
}

export interface MurphyDecomposition {
  readonly n: number;
  readonly brier: number;
  /** (1/N) Σ n_k (p̄_k − ō_k)² — lower is better. */
  readonly reliability: number;
  /** (1/N) Σ n_k (ō_k − ō)² — higher is better. */
  readonly resolution: number;
  /** ō(1 − ō). */
  readonly uncertainty: number;
  /** Within-bin forecast variance (1/N) ΣΣ (p_i − p̄_k)²; 0 when each bin holds one forecast value. */
  readonly withinBinVariance: number;
  /** Within-bin covariance (2/N) ΣΣ (o_i − ō_k)(p_i − p̄_k). */
  readonly withinBinCovariance: number;
  /** Ferro–Fricker bias-corrected components (they still satisfy REL − RES + UNC = the same sum). */
  readonly corrected: { readonly reliability: number; readonly resolution: number; readonly uncertainty: number };
}

/**
 * Murphy (1973, J. Appl. Meteor. 12:595–600) decomposition BS = REL − RES + UNC over forecast bins.
 * With continuous forecasts pooled into bins the identity needs two extra terms (Stephenson, Coelho &
 * Jolliffe 2008, Wea. Forecasting 23:752–757): BS = REL − RES + UNC + WBV − WBC, which holds exactly.
 * The bias-corrected variant follows Ferro & Fricker (2012, Q. J. R. Meteorol. Soc. 138:1954–1960):
 *   UNC' = N/(N−1)·ō(1−ō)
 *   REL' = REL − (1/N) Σ_k n_k ō_k(1−ō_k)/(n_k−1)
 *   RES' = RES − (1/N) Σ_k n_k ō_k(1−ō_k)/(n_k−1) + ō(1−ō)/(N−1)
 * (bins with n_k = 1 contribute 0 to the correction sum; REL' − RES' + UNC' = REL − RES + UNC).
 */
export function murphyDecomposition(p: readonly number[], y: readonly number[], opts: BinOptions = {}): MurphyDecomposition {
  checkPair(p, y);
  const edges = binEdges(p, opts);
  const bins = reliabilityWithEdges(p, y, edges);
  const N = p.length;
  const obar = mean(y);
  let rel = 0;
  let res = 0;
  let corr = 0;
  for (const b of bins) {
    rel += b.count * (b.meanPred - b.obsFreq) ** 2;
    res += b.count * (b.obsFreq - obar) ** 2;
    if (b.count > 1) corr += (b.count * b.obsFreq * (1 - b.obsFreq)) / (b.count - 1);
  }
  rel /= N;
  res /= N;
  corr /= N;
  // Within-bin terms need the bin of every observation.
  const byStart = new Map(bins.map((b) => [b.lo, b]));
  let wbv = 0;
  let wbc = 0;
  for (let i = 0; i < N; i++) {
    const b = byStart.get(edges[binIndex(edges, p[i]!)]!)!;
    wbv += (p[i]! - b.meanPred) ** 2;
    wbc += (y[i]! - b.obsFreq) * (p[i]! - b.meanPred);
  }
  const unc = obar * (1 - obar);
  return {
    n: N,
    brier: brier(p, y),
    reliability: rel,
    resolution: res,
    uncertainty: unc,
    withinBinVariance: wbv / N,
    withinBinCovariance: (2 * wbc) / N,
    corrected: {
      reliability: rel - corr,
      resolution: res - corr + unc / (N - 1),
      uncertainty: (N / (N - 1)) * unc,
    },
  };
}

// ---- distributions ------------------------------------------------------------------------------

export { incompleteBeta, lnGamma, studentTCdf } from "../core/special.ts";

/** Two-sided p-value of a t statistic. */
export function studentTTwoSided(t: number, df: number): number {
  if (Number.isNaN(t)) return NaN;
  const x = df / (df + t * t);
  return incompleteBeta(x, df / 2, 0.5);
}

/** Standard normal CDF via the complementary error function (Numerical Recipes erfc, |ε| < 1.2e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 +
          t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

// ---- Diebold–Mariano ----------------------------------------------------------------------------

export interface DieboldMarianoOptions {
  /** Forecast horizon in steps (1 for one-step forecasts). */
  h?: number;
  /** Newey–West truncation lag; default floor(4·(T/100)^(2/9)), at least h − 1. */
  lag?: number;
  /** "two-sided" (default) or "less": H1 says A has lower expected loss than B. */
  alternative?: "two-sided" | "less";
}

export interface DieboldMarianoResult {
  readonly n: number;
  /** Mean loss differential d̄ = mean(lossA − lossB); negative favours A. */
  readonly meanDiff: number;
  /** HAC (Newey–West, Bartlett kernel) variance of d̄. */
  readonly varianceOfMean: number;
  readonly lag: number;
  /** Raw DM statistic d̄/√Var(d̄). */
  readonly dm: number;
  /** Harvey–Leybourne–Newbold corrected statistic, compared with t(T−1). */
  readonly hln: number;
  readonly df: number;
  readonly pValue: number;
}

/** Newey–West default lag, Newey & West (1994): floor(4·(T/100)^(2/9)). */
export function neweyWestLag(n: number): number {
  return Math.floor(4 * Math.pow(n / 100, 2 / 9));
}

/**
 * Diebold & Mariano (1995) test of equal predictive accuracy on paired losses, with the
 * long-run variance of d estimated by Newey–West (1987) Bartlett-weighted autocovariances
 * γ̂_0 + 2 Σ_{k=1}^{L} (1 − k/(L+1)) γ̂_k (autocovariances with 1/T), and the small-sample correction
 * of Harvey, Leybourne & Newbold (1997): DM* = DM·√((T + 1 − 2h + h(h−1)/T)/T) against Student t(T−1).
 */
export function dieboldMariano(
  lossA: readonly number[],
  lossB: readonly number[],
  opts: DieboldMarianoOptions = {},
): DieboldMarianoResult {
  if (lossA.length !== lossB.length) throw new Error("loss series differ in length");
  const T = lossA.length;
  if (T < 3) throw new Error("need at least 3 paired losses");
  const h = opts.h ?? 1;
  const d = lossA.map((a, i) => a - lossB[i]!);
  const dbar = mean(d);
  const lag = Math.min(T - 1, Math.max(opts.lag ?? neweyWestLag(T), h - 1));
  const gamma = (k: number): number => {
    let s = 0;
    for (let t = k; t < T; t++) s += (d[t]! - dbar) * (d[t - k]! - dbar);
    return s / T;
  };
  let lrv = gamma(0);
  for (let k = 1; k <= lag; k++) lrv += 2 * (1 - k / (lag + 1)) * gamma(k);
  const varMean = lrv / T;
  const dm = varMean > 0 ? dbar / Math.sqrt(varMean) : NaN;
  const hln = dm * Math.sqrt((T + 1 - 2 * h + (h * (h - 1)) / T) / T);
  const df = T - 1;
  const pValue = (opts.alternative ?? "two-sided") === "two-sided" ? studentTTwoSided(hln, df) : studentTCdf(hln, df);
  return { n: T, meanDiff: dbar, varianceOfMean: varMean, lag, dm, hln, df, pValue };
}

// ---- cluster bootstrap ----------------------------------------------------------------------------

export interface BootstrapOptions {
  reps?: number;
  seed?: number;
  /** Two-sided confidence level 1 − alpha (default 0.05 → 95 %). */
  alpha?: number;
}

export interface BootstrapResult {
  readonly n: number;
  readonly clusters: number;
  readonly mean: number;
  readonly lo: number;
  readonly hi: number;
  readonly se: number;
  /** Share of bootstrap means ≥ 0: a one-sided p-value for H1 "mean < 0" (A better than B). */
  readonly pNotNegative: number;
  readonly reps: number;
}

/**
 * Percentile CI of the mean of paired differences d (e.g. loss_model − loss_market), resampling whole
 * clusters (event tickers) with replacement, so correlated markets of one event count once.
 */
export function pairedClusterBootstrap(
  d: readonly number[],
  clusters: readonly string[],
  opts: BootstrapOptions = {},
): BootstrapResult {
  if (d.length !== clusters.length) throw new Error("differences and clusters differ in length");
  if (d.length === 0) throw new Error("no observations");
  const reps = opts.reps ?? 2000;
  const alpha = opts.alpha ?? 0.05;
  const rng = createRng(opts.seed ?? 12345);
  const sums = new Map<string, { s: number; n: number }>();
  for (let i = 0; i < d.length; i++) {
    const c = sums.get(clusters[i]!) ?? { s: 0, n: 0 };
    c.s += d[i]!;
    c.n += 1;
    sums.set(clusters[i]!, c);
  }
  const cs = [...sums.values()];
  const K = cs.length;
  const means: number[] = new Array(reps);
  let nonNeg = 0;
  for (let r = 0; r < reps; r++) {
    let s = 0;
    let n = 0;
    for (let j = 0; j < K; j++) {
      const c = cs[Math.floor(rng() * K)]!;
      s += c.s;
      n += c.n;
    }
    means[r] = s / n;
    if (s / n >= 0) nonNeg++;
  }
  means.sort((a, b) => a - b);
  return {
    n: d.length,
    clusters: K,
    mean: mean(d),
    lo: quantileSorted(means, alpha / 2),
    hi: quantileSorted(means, 1 - alpha / 2),
    se: Math.sqrt(variance(means)),
    pNotNegative: nonNeg / reps,
    reps,
  };
}

export interface ReliabilityBand {
  readonly lo: number;
  readonly hi: number;
  readonly meanPred: number;
  readonly obsFreq: number;
  readonly count: number;
  /** Percentile band of the bin's observed frequency under the cluster bootstrap. */
  readonly bandLo: number;
  readonly bandHi: number;
}

/** Reliability curve with cluster-bootstrap bands on each bin's observed frequency (fixed edges). */
export function reliabilityBands(
  p: readonly number[],
  y: readonly number[],
  clusters: readonly string[],
  opts: BinOptions & BootstrapOptions = {},
): ReliabilityBand[] {
  checkPair(p, y);
  const edges = binEdges(p, opts);
  const base = reliabilityWithEdges(p, y, edges);
  const reps = opts.reps ?? 500;
  const alpha = opts.alpha ?? 0.05;
  const rng = createRng(opts.seed ?? 777);
  const groups = new Map<string, number[]>();
  clusters.forEach((c, i) => {
    const g = groups.get(c) ?? [];
    g.push(i);
    groups.set(c, g);
  });
  const gs = [...groups.values()];
  const k = edges.length - 1;
  const samples: number[][] = Array.from({ length: k }, () => []);
  const binOf = p.map((pi) => binIndex(edges, pi));
  for (let r = 0; r < reps; r++) {
    const n = new Array<number>(k).fill(0);
    const sy = new Array<number>(k).fill(0);
    for (let j = 0; j < gs.length; j++) {
      for (const i of gs[Math.floor(rng() * gs.length)]!) {
        n[binOf[i]!]!++;
        sy[binOf[i]!]! += y[i]!;
      }
    }
    for (let b = 0; b < k; b++) if (n[b]! > 0) samples[b]!.push(sy[b]! / n[b]!);
  }
  return base.map((b) => {
    const idx = edges.indexOf(b.lo);
    const s = samples[idx]!.sort((a, c) => a - c);
    return { ...b, bandLo: quantileSorted(s, alpha / 2), bandHi: quantileSorted(s, 1 - alpha / 2) };
  });
}

// ---- EV-bin monotonicity ---------------------------------------------------------------------------

/** Average ranks (ties share their mean rank), 1-based. */
export function ranks(xs: readonly number[]): number[] {
  const idx = xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]!);
  const r = new Array<number>(xs.length);
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && xs[idx[j + 1]!] === xs[idx[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]!] = avg;
    i = j + 1;
  }
  return r;
}

/** Pearson correlation (simple-statistics' sampleCorrelation). */
export function pearson(x: readonly number[], y: readonly number[]): number {
  return ss.sampleCorrelation(x as number[], y as number[]);
}

export interface CorrelationTest {
  readonly rho: number;
  readonly t: number;
  readonly df: number;
  /** One-sided p-value for H1: positive association. */
  readonly pPositive: number;
}

/** Spearman rank correlation with the usual t approximation t = ρ√((n−2)/(1−ρ²)), df = n − 2. */
export function spearman(x: readonly number[], y: readonly number[]): CorrelationTest {
  const rho = pearson(ranks(x), ranks(y));
  const n = x.length;
  const t = rho * Math.sqrt((n - 2) / Math.max(1e-300, 1 - rho * rho));
  return { rho, t, df: n - 2, pPositive: 1 - studentTCdf(t, n - 2) };
}

export interface SlopeTest {
  readonly slope: number;
  readonly intercept: number;
  readonly se: number;
  readonly t: number;
  readonly df: number;
  readonly pPositive: number;
}

/** OLS slope of y on x with its classical standard error and one-sided t-test (H1: slope > 0). */
export function olsSlope(x: readonly number[], y: readonly number[]): SlopeTest {
  const n = x.length;
  const mx = mean(x);
  let sxx = 0;
  for (let i = 0; i < n; i++) sxx += (x[i]! - mx) ** 2;
  // The line from simple-statistics; the standard error (which it does not give) here.
  const { m: slope, b: intercept } = ss.linearRegression(x.map((xi, i) => [xi, y[i]!]));
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (y[i]! - intercept - slope * x[i]!) ** 2;
  const se = Math.sqrt(sse / (n - 2) / sxx);
  const t = slope / se;
  return { slope, intercept, se, t, df: n - 2, pPositive: 1 - studentTCdf(t, n - 2) };
}

export interface EvBin {
  readonly lo: number;
  readonly hi: number;
  readonly count: number;
  readonly meanEv: number;
  readonly meanPnl: number;
  /** t-interval of the bin's mean realized PnL (NaN when count < 2). */
  readonly ciLo: number;
  readonly ciHi: number;
}

export interface EvMonotonicity {
  readonly bins: EvBin[];
  /** Bin mean PnL never decreases with bin mean EV. */
  readonly monotone: boolean;
  readonly spearman: CorrelationTest;
  readonly slope: SlopeTest;
}

/**
 * Realized PnL per predicted-EV bin (quantile bins by default), each with a 95 % t-interval, plus two
 * trend tests over the observations: Spearman rank correlation and an OLS slope t-test of PnL on EV.
 * Edge requires high-EV bins to out-earn low-EV bins (positive, significant trend).
 */
export function evBinMonotonicity(
  ev: readonly number[],
  pnl: readonly number[],
  opts: { bins?: number; strategy?: BinStrategy; alpha?: number } = {},
): EvMonotonicity {
  if (ev.length !== pnl.length) throw new Error("ev and pnl differ in length");
  if (ev.length < 3) throw new Error("need at least 3 observations");
  const k = opts.bins ?? 5;
  const alpha = opts.alpha ?? 0.05;
  const sorted = [...ev].sort((a, b) => a - b);
  let edges: number[];
  if ((opts.strategy ?? "quantile") === "quantile") {
    edges = Array.from({ length: k + 1 }, (_, i) => quantileSorted(sorted, i / k));
  } else {
    const lo = sorted[0]!;
    const hi = sorted[sorted.length - 1]!;
    edges = Array.from({ length: k + 1 }, (_, i) => lo + ((hi - lo) * i) / k);
  }
  edges = edges.filter((e, i) => i === 0 || e > edges[i - 1]!);
  if (edges.length < 2) edges = [sorted[0]!, sorted[0]!];
  const members: number[][] = Array.from({ length: Math.max(1, edges.length - 1) }, () => []);
  ev.forEach((e, i) => members[edges.length < 3 ? 0 : binIndex(edges, e)]!.push(i));
  const bins: EvBin[] = [];
  members.forEach((m, b) => {
    if (m.length === 0) return;
    const pn = m.map((i) => pnl[i]!);
    const mp = mean(pn);
    const half = m.length > 1 ? tQuantile(1 - alpha / 2, m.length - 1) * Math.sqrt(variance(pn) / m.length) : NaN;
    bins.push({
      lo: edges[b]!,
      hi: edges[Math.min(b + 1, edges.length - 1)]!,
      count: m.length,
      meanEv: mean(m.map((i) => ev[i]!)),
      meanPnl: mp,
      ciLo: mp - half,
      ciHi: mp + half,
    });
  });
  const monotone = bins.every((b, i) => i === 0 || b.meanPnl >= bins[i - 1]!.meanPnl);
  return { bins, monotone, spearman: spearman(ev, pnl), slope: olsSlope(ev, pnl) };
}

/** Student-t quantile by bisection on the CDF (adequate for CIs; |error| < 1e-10). */
export function tQuantile(q: number, df: number): number {
  if (q <= 0) return -Infinity;
  if (q >= 1) return Infinity;
  let lo = -1e3;
  let hi = 1e3;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < q) lo = mid;
    else hi = mid;
    if (hi - lo < 1e-12) break;
  }
  return (lo + hi) / 2;
}

// ---- walk-forward by date ---------------------------------------------------------------------------

export interface WalkForwardFold<T> {
  /** UTC days, "YYYY-MM-DD", inclusive. */
  readonly trainDays: readonly string[];
  readonly testDays: readonly string[];
  readonly train: T[];
  readonly test: T[];
}

/**
 * Expanding- (default) or rolling-window walk-forward folds over UTC calendar days: each fold trains on
 * days strictly before its test days, so nothing from the test period leaks into fitting.
 */
export function walkForwardSplit<T>(
  items: readonly T[],
  dayOf: (item: T) => string,
  opts: { minTrainDays: number; testDays: number; rollingTrainDays?: number },
): WalkForwardFold<T>[] {
  const byDay = new Map<string, T[]>();
  for (const it of items) {
    const d = dayOf(it);
    const list = byDay.get(d) ?? [];
    list.push(it);
    byDay.set(d, list);
  }
  const days = [...byDay.keys()].sort();
  const folds: WalkForwardFold<T>[] = [];
  for (let start = opts.minTrainDays; start < days.length; start += opts.testDays) {
    const testDays = days.slice(start, start + opts.testDays);
    const trainStart = opts.rollingTrainDays ? Math.max(0, start - opts.rollingTrainDays) : 0;
    const trainDays = days.slice(trainStart, start);
    folds.push({
      trainDays,
      testDays,
      train: trainDays.flatMap((d) => byDay.get(d)!),
      test: testDays.flatMap((d) => byDay.get(d)!),
    });
  }
  return folds;
}

// ---- cluster-robust inference ------------------------------------------------------------------------

/** F(d1, d2) CDF via the regularized incomplete beta: P(F ≤ x) = I_{d1x/(d1x+d2)}(d1/2, d2/2). */
export function fCdf(x: number, d1: number, d2: number): number {
  if (!(x > 0)) return 0;
  if (x === Infinity) return 1;
  return incompleteBeta((d1 * x) / (d1 * x + d2), d1 / 2, d2 / 2);
}

export interface ClusterMeanTest {
  readonly n: number;
  readonly clusters: number;
  readonly mean: number;
  /** Cluster-robust (CR1) standard error of the mean. */
  readonly se: number;
  readonly t: number;
  /** Degrees of freedom of the reference t distribution: K − 1. */
  readonly df: number;
  /** One-sided p-value for H1: mean > 0. */
  readonly pGreater: number;
  /** One-sided p-value for H1: mean < 0. */
  readonly pLess: number;
  /** 95 % two-sided interval mean ± t_{0.975, K−1}·se. */
  readonly lo: number;
  readonly hi: number;
}

/**
 * Mean of x with a cluster-robust standard error and t(K − 1) reference (the small-K correction of
 * Bester, Conley & Hansen 2011 / Cameron & Miller 2015 §4.1): with cluster sums u_g of (x_i − x̄),
 *   Var(x̄) = K/(K−1) · Σ_g u_g² / n².
 * With equal cluster sizes this is exactly the one-sample t-test on the cluster means.
 */
export function clusterMeanTest(x: readonly number[], clusters: readonly string[], alpha = 0.05): ClusterMeanTest {
  if (x.length !== clusters.length) throw new Error("values and clusters differ in length");
  const n = x.length;
  if (n === 0) throw new Error("no observations");
  const m = mean(x);
  const sums = new Map<string, number>();
  for (let i = 0; i < n; i++) sums.set(clusters[i]!, (sums.get(clusters[i]!) ?? 0) + (x[i]! - m));
  const K = sums.size;
  let ss = 0;
  for (const u of sums.values()) ss += u * u;
  const se = K > 1 ? Math.sqrt(((K / (K - 1)) * ss) / (n * n)) : NaN;
  // No spread across clusters (every cluster's mean the same): the limit of a shrinking spread, ±∞.
  const t = se > 0 ? m / se : m === 0 ? 0 : K > 1 ? (m > 0 ? Infinity : -Infinity) : NaN;
  const df = Math.max(1, K - 1);
  const tc = K > 1 ? tQuantile(1 - alpha / 2, df) : NaN;
  return {
    n, clusters: K, mean: m, se, t, df,
    pGreater: Number.isNaN(t) ? NaN : 1 - studentTCdf(t, df),
    pLess: Number.isNaN(t) ? NaN : studentTCdf(t, df),
    lo: m - tc * se,
    hi: m + tc * se,
  };
}

/** Webb's (2014) six-point weights: ±√(1/2), ±1, ±√(3/2), each with probability 1/6 (mean 0, variance 1). */
export const WEBB_WEIGHTS: readonly number[] = [-Math.sqrt(1.5), -1, -Math.sqrt(0.5), Math.sqrt(0.5), 1, Math.sqrt(1.5)];

/**
 * Wild cluster bootstrap with the null imposed (WCR; Cameron, Gelbach & Miller 2008; MacKinnon & Webb
 * 2017) for H0: mean(x) = 0 against H1: mean > 0. Under H0 the restricted residuals are x itself, so each
 * cluster's sum is multiplied by one weight w_g; the statistic is the CR1 t, re-studentized in every
 * draw. With Rademacher weights this is a sign-flip randomization test: exact (up to ties) whenever the
 * cluster sums are independent and symmetric about 0, whatever their sizes and variances.
 * Weights: Rademacher, all 2^K patterns enumerated when 6 ≤ K ≤ 13, `reps` random draws above; with
 * K ≤ 5 Rademacher has at most 32 patterns (at K ≤ 4 a 5 % test can never reject), so Webb's six-point
 * weights are used there, all 6^K patterns enumerated.
 */
export function wildClusterBootstrapMean(
  x: readonly number[],
  clusters: readonly string[],
  opts: { reps?: number; seed?: number; weights?: "rademacher" | "webb" } = {},
): { t: number; pGreater: number; reps: number; clusters: number; weights: "rademacher" | "webb" } {
  const sums = new Map<string, { s: number; n: number }>();
  x.forEach((v, i) => {
    const c = sums.get(clusters[i]!) ?? { s: 0, n: 0 };
    c.s += v;
    c.n++;
    sums.set(clusters[i]!, c);
  });
  const cs = [...sums.values()];
  const K = cs.length;
  const n = x.length;
  const weights = opts.weights ?? (K <= 5 ? "webb" : "rademacher");
  const w = new Float64Array(K).fill(1);
  const tStat = (): number => {
    let tot = 0;
    for (let j = 0; j < K; j++) tot += w[j]! * cs[j]!.s;
    const m = tot / n;
    let ss = 0;
    for (let j = 0; j < K; j++) {
      const u = w[j]! * cs[j]!.s - m * cs[j]!.n;
      ss += u * u;
    }
    const se = Math.sqrt(((K / (K - 1)) * ss) / (n * n));
    return se > 0 ? m / se : m > 0 ? Infinity : m < 0 ? -Infinity : 0;
  };
  if (!(K > 1)) return { t: NaN, pGreater: NaN, reps: 0, clusters: K, weights };
  const t0 = tStat();
  const values = weights === "webb" ? WEBB_WEIGHTS : [-1, 1];
  const V = values.length;
  let ge = 0;
  let reps = 0;
  if (Math.pow(V, K) <= 8192) {
    // every weight pattern once (the identity pattern among them): the exact bootstrap distribution
    const digit = new Int32Array(K);
    for (;;) {
      for (let j = 0; j < K; j++) w[j] = values[digit[j]!]!;
      if (tStat() >= t0 - 1e-12) ge++;
      reps++;
      let j = 0;
      while (j < K && ++digit[j]! === V) digit[j++] = 0;
      if (j === K) break;
    }
  } else {
    reps = opts.reps ?? 1999;
    const rng = createRng(opts.seed ?? 99);
    for (let r = 0; r < reps; r++) {
      for (let j = 0; j < K; j++) w[j] = values[Math.min(V - 1, Math.floor(rng() * V))]!;
      if (tStat() >= t0 - 1e-12) ge++;
    }
    ge++; // the observed sample counts as one draw
    reps++;
  }
  return { t: t0, pGreater: ge / reps, reps, clusters: K, weights };
}

export interface LogisticFit {
  readonly n: number;
  readonly clusters: number;
  /** Coefficients in the order of the design columns. */
  readonly beta: number[];
  /** Cluster-robust (CR1) covariance. */
  readonly cov: number[][];
  readonly se: number[];
  readonly converged: boolean;
}

function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[piv]![c]!)) piv = r;
    [m[c], m[piv]] = [m[piv]!, m[c]!];
    const d = m[c]![c]!;
    if (Math.abs(d) < 1e-300) throw new Error("singular matrix");
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / d;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

function invert(a: number[][]): number[][] {
  const n = a.length;
  const cols = Array.from({ length: n }, (_, j) => solve(a, Array.from({ length: n }, (_, i) => (i === j ? 1 : 0))));
  return Array.from({ length: n }, (_, i) => cols.map((c) => c[i]!));
}

/**
 * Logistic regression by Newton–Raphson (IRLS) with a cluster-robust sandwich covariance
 * (CR1: K/(K−1)·(n−1)/(n−p) · B⁻¹ M B⁻¹, M = Σ_g s_g s_gᵀ over cluster score sums), the usual
 * Stata/statsmodels `cov_type="cluster"` estimator. `x` rows are the design (include a 1 for the intercept).
 */
export function logisticRegression(x: readonly (readonly number[])[], y: readonly number[], clusters: readonly string[]): LogisticFit {
  const n = y.length;
  const p = x[0]!.length;
  let beta = new Array<number>(p).fill(0);
  let converged = false;
  let info: number[][] = [];
  for (let it = 0; it < 100; it++) {
    const grad = new Array<number>(p).fill(0);
    info = Array.from({ length: p }, () => new Array<number>(p).fill(0));
    for (let i = 0; i < n; i++) {
      let eta = 0;
      for (let k = 0; k < p; k++) eta += beta[k]! * x[i]![k]!;
      const mu = 1 / (1 + Math.exp(-eta));
      const w = mu * (1 - mu);
      for (let k = 0; k < p; k++) {
        grad[k]! += (y[i]! - mu) * x[i]![k]!;
        for (let l = 0; l < p; l++) info[k]![l]! += w * x[i]![k]! * x[i]![l]!;
      }
    }
    const step = solve(info, grad);
    beta = beta.map((b, k) => b + step[k]!);
    if (Math.max(...step.map(Math.abs)) < 1e-10) {
      converged = true;
      break;
    }
  }
  // Sandwich at the solution.
  const scores = new Map<string, number[]>();
  info = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  for (let i = 0; i < n; i++) {
    let eta = 0;
    for (let k = 0; k < p; k++) eta += beta[k]! * x[i]![k]!;
    const mu = 1 / (1 + Math.exp(-eta));
    const w = mu * (1 - mu);
    const s = scores.get(clusters[i]!) ?? new Array<number>(p).fill(0);
    for (let k = 0; k < p; k++) {
      s[k]! += (y[i]! - mu) * x[i]![k]!;
      for (let l = 0; l < p; l++) info[k]![l]! += w * x[i]![k]! * x[i]![l]!;
    }
    scores.set(clusters[i]!, s);
  }
  const bInv = invert(info);
  const K = scores.size;
  const meat = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  for (const s of scores.values()) for (let k = 0; k < p; k++) for (let l = 0; l < p; l++) meat[k]![l]! += s[k]! * s[l]!;
  const c = K > 1 ? (K / (K - 1)) * ((n - 1) / (n - p)) : NaN;
  const cov = Array.from({ length: p }, (_, i) =>
    Array.from({ length: p }, (_, j) => {
      let v = 0;
      for (let k = 0; k < p; k++) for (let l = 0; l < p; l++) v += bInv[i]![k]! * meat[k]![l]! * bInv[l]![j]!;
      return c * v;
    }),
  );
  return { n, clusters: K, beta, cov, se: cov.map((r, i) => Math.sqrt(r[i]!)), converged };
}

const logit = (q: number): number => Math.log(q / (1 - q));

export interface Recalibration {
  readonly n: number;
  readonly clusters: number;
  /** logit P(y = 1) = intercept + slope · logit(p); a calibrated forecaster has (0, 1). */
  readonly intercept: number;
  readonly slope: number;
  readonly seIntercept: number;
  readonly seSlope: number;
  /** Wald statistic of H0 (intercept, slope) = (0, 1) with the cluster-robust covariance, / 2 → F(2, K − 1). */
  readonly f: number;
  readonly pValue: number;
  readonly converged: boolean;
}

/**
 * Logistic recalibration (Cox 1958): regress y on logit(p) (forecasts clipped to [eps, 1 − eps]).
 * Slope < 1: over-confident; > 1: under-confident; intercept ≠ 0: biased. The joint test of
 * (0, 1) uses the cluster-robust covariance and an F(2, K − 1) reference, so shared price paths do
 * not make a calibrated forecaster look miscalibrated (unlike Spiegelhalter's independent-data Z).
 * Constant forecasts have no slope to estimate: NaN everywhere, and NaN is never "calibrated".
 */
export function logisticRecalibration(p: readonly number[], y: readonly number[], clusters: readonly string[], eps = 1e-4): Recalibration {
  checkPair(p, y);
  const xs = p.map((q) => logit(Math.min(1 - eps, Math.max(eps, q))));
  const nan: Recalibration = { n: p.length, clusters: new Set(clusters).size, intercept: NaN, slope: NaN, seIntercept: NaN, seSlope: NaN, f: NaN, pValue: NaN, converged: false };
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  if (!(hi - lo > 1e-9) || y.every((v) => v === y[0])) return nan;
  let fit: LogisticFit;
  try {
    fit = logisticRegression(xs.map((v) => [1, v]), y, clusters);
  } catch {
    return nan;
  }
  const [a, b] = fit.beta as [number, number];
  const d = [a, b - 1];
  let f = NaN;
  try {
    const inv = invert(fit.cov);
    f = (d[0]! * (inv[0]![0]! * d[0]! + inv[0]![1]! * d[1]!) + d[1]! * (inv[1]![0]! * d[0]! + inv[1]![1]! * d[1]!)) / 2;
  } catch {
    f = NaN;
  }
  const df2 = Math.max(1, fit.clusters - 1);
  return {
    n: fit.n, clusters: fit.clusters, intercept: a, slope: b, seIntercept: fit.se[0]!, seSlope: fit.se[1]!, f,
    pValue: Number.isFinite(f) ? 1 - fCdf(f, 2, df2) : NaN, converged: fit.converged,
  };
}

// ---- multiple testing, data snooping, power ---------------------------------------------------------

/**
 * Holm (1979) step-down adjusted p-values: sort ascending, p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) p_(j)).
 * Controls the family-wise error rate under any dependence. NaN p-values are treated as 1.
 */
export function holmAdjust(p: readonly number[]): number[] {
  const m = p.length;
  const order = p.map((_, i) => i).sort((a, b) => (Number.isNaN(p[a]!) ? 1 : p[a]!) - (Number.isNaN(p[b]!) ? 1 : p[b]!));
  const out = new Array<number>(m);
  let run = 0;
  order.forEach((idx, j) => {
    const v = Number.isNaN(p[idx]!) ? 1 : p[idx]!;
    run = Math.max(run, Math.min(1, (m - j) * v));
    out[idx] = run;
  });
  return out;
}

export interface SpaResult {
  /** Number of candidates (models / configs). */
  readonly m: number;
  readonly clusters: number;
  /** Index of the candidate with the largest studentized mean advantage. */
  readonly best: number;
  readonly stat: number;
  /** Hansen's consistent SPA_c p-value (recentred with the √(2 ln ln n) threshold). */
  readonly pSpa: number;
  /** Hansen's upper SPA_u p-value (every candidate recentred at its mean, as if all were on the
   *  boundary): conservative, never below pSpa for the same draws. */
  readonly pSpaUpper: number;
  /** White's Reality Check p-value (non-studentized, every candidate recentred at its mean). */
  readonly pRealityCheck: number;
  readonly reps: number;
}

/**
 * Tests whether the best of m candidates beats a benchmark after accounting for the search over all
 * of them: White (2000) Reality Check and Hansen (2005) SPA. d[k][i] is the benchmark's loss minus
 * candidate k's loss (or candidate k's PnL) on observation i, positive = candidate better.
 *   T = max(0, max_k √n d̄_k/ω̂_k), ω̂_k² = n · CR1 Var(d̄_k) over clusters (settlement times);
 *   SPA_c recentring μ̂_k = d̄_k · 1{√n d̄_k/ω̂_k ≥ −√(2 ln ln n)}, SPA_u μ̂_k = d̄_k.
 * Dependence is within clusters, so the bootstrap is over clusters — a wild cluster bootstrap: each
 * draw multiplies every cluster's centred sums u_kg = Σ_{i∈g} (d_ki − d̄_k) by one Rademacher weight
 * w_g shared by all candidates (their cross-correlation is kept), and T*_b = max(0, max_k √n (Σ_g w_g
 * u_kg / n + d̄_k − μ̂_k)/ω*_k) with ω*_k re-estimated from the draw. Hansen keeps ω̂_k fixed in the
 * draws; with K = 40 clusters that draw distribution is too narrow (normal-like tails and a (K−1)/K
 * variance): on 2 000 null runs SPA_c rejected 6.5 % at 5 % with fixed ω̂ and pairs cluster resampling
 * (the previous implementation), 7.1 % with fixed ω̂ and wild weights, 4.95 % re-studentized
 * (EDGE_VALIDATION.md §5). The Reality Check uses the same draws without studentizing.
 */
export function spaTest(d: readonly (readonly number[])[], clusters: readonly string[], opts: { reps?: number; seed?: number } = {}): SpaResult {
  const m = d.length;
  const n = clusters.length;
  if (m === 0 || n < 3) throw new Error("spaTest needs at least one candidate and three observations");
  if (d.some((row) => row.length !== n)) throw new Error("spaTest: every candidate needs one value per observation");
  const idx = new Map<string, number>();
  const gOf = clusters.map((c) => {
    let g = idx.get(c);
    if (g === undefined) idx.set(c, (g = idx.size));
    return g;
  });
  const K = idx.size;
  if (K < 2) throw new Error("spaTest needs at least two clusters");
  const size = new Float64Array(K);
  gOf.forEach((g) => size[g]!++);
  const dbar = d.map((row) => mean(row));
  // centred cluster sums u_kg per candidate
  const u = d.map((row, k) => {
    const s = new Float64Array(K);
    row.forEach((v, i) => { s[gOf[i]!] = s[gOf[i]!]! + v - dbar[k]!; });
    return s;
  });
  const cr1 = K / (K - 1);
  const omegaOf = (k: number, w: Float64Array | null): number => {
    // ω² = n · CR1 variance of the (draw's) mean; in a draw the sums are w_g u_kg around their mean
    let tot = 0;
    if (w) for (let g = 0; g < K; g++) tot += w[g]! * u[k]![g]!;
    const mb = tot / n;
    let ss = 0;
    for (let g = 0; g < K; g++) {
      const e = (w ? w[g]! * u[k]![g]! : u[k]![g]!) - mb * size[g]!;
      ss += e * e;
    }
    return Math.sqrt((cr1 * ss) / n);
  };
  const omega = d.map((_, k) => omegaOf(k, null));
  const sq = Math.sqrt(n);
  const tk = dbar.map((x, k) => (omega[k]! > 0 ? (sq * x) / omega[k]! : 0));
  let best = 0;
  for (let k = 1; k < m; k++) if (tk[k]! > tk[best]!) best = k;
  const stat = Math.max(0, tk[best]!);
  const statRc = Math.max(0, Math.max(...dbar.map((x) => sq * x)));
  const thr = -Math.sqrt(2 * Math.log(Math.log(Math.max(n, 16))));
  // SPA_c shift: d̄_k − μ̂_k is 0 for candidates near the boundary, d̄_k (very negative) for clear losers
  const shiftC = dbar.map((x, k) => (tk[k]! >= thr ? 0 : x));
  const reps = opts.reps ?? 999;
  const rng = createRng(opts.seed ?? 2024);
  let geC = 0;
  let geU = 0;
  let geRc = 0;
  const w = new Float64Array(K);
  for (let r = 0; r < reps; r++) {
    for (let g = 0; g < K; g++) w[g] = rng() < 0.5 ? -1 : 1;
    let maxC = 0;
    let maxU = 0;
    let maxRc = 0;
    for (let k = 0; k < m; k++) {
      let s = 0;
      for (let g = 0; g < K; g++) s += w[g]! * u[k]![g]!;
      const zb = s / n;
      maxRc = Math.max(maxRc, sq * zb);
      const om = omegaOf(k, w);
      if (!(om > 0)) continue;
      maxU = Math.max(maxU, (sq * zb) / om);
      maxC = Math.max(maxC, (sq * (zb + shiftC[k]!)) / om);
    }
    if (maxC >= stat) geC++;
    if (maxU >= stat) geU++;
    if (maxRc >= statRc) geRc++;
  }
  const pv = (ge: number) => (ge + 1) / (reps + 1);
  return { m, clusters: K, best, stat, pSpa: pv(geC), pSpaUpper: pv(geU), pRealityCheck: pv(geRc), reps };
}

/** Standard normal quantile by bisection on the accurate Φ of lib/core (|error| < 1e-12). */
export function normalQuantile(q: number): number {
  if (q <= 0) return -Infinity;
  if (q >= 1) return Infinity;
  let lo = -40;
  let hi = 40;
  for (let i = 0; i < 200 && hi - lo > 1e-13; i++) {
    const mid = (lo + hi) / 2;
    if (coreNormalCdf(mid) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

const EULER_GAMMA = 0.5772156649015329;

/** Approximate E[max of N iid standard normals] (Bailey & López de Prado 2014, eq. for SR₀). */
export function expectedMaxNormal(N: number): number {
  if (N <= 1) return 0;
  return (1 - EULER_GAMMA) * normalQuantile(1 - 1 / N) + EULER_GAMMA * normalQuantile(1 - 1 / (N * Math.E));
}

export interface DeflatedSharpe {
  readonly n: number;
  /** Per-observation Sharpe ratio mean/sd (not annualized). */
  readonly sharpe: number;
  readonly skew: number;
  /** Non-excess kurtosis (3 for a normal). */
  readonly kurtosis: number;
  /** Benchmark SR₀ = √V · E[max of N normals]: the best Sharpe expected from N skill-less trials. */
  readonly sr0: number;
  /** Probability that the true Sharpe exceeds SR₀ (DSR); with trials = 1 it is the PSR against 0. */
  readonly dsr: number;
  readonly trials: number;
}

/**
 * Deflated Sharpe ratio (Bailey & López de Prado 2014): the probabilistic Sharpe ratio of the chosen
 * strategy against the maximum Sharpe that `trials` skill-less strategies would show,
 *   DSR = Φ( (SR − SR₀)·√(n − 1) / √(1 − γ₃·SR + (γ₄ − 1)/4 · SR²) ),
 * with SR₀ = √(varTrialSharpe)·E[max of N standard normals]. Without a measured variance across the
 * trials, the sampling variance of one Sharpe under the null, 1/(n − 1), is used.
 * Skewness and kurtosis come from simple-statistics.
 */
export function deflatedSharpe(returns: readonly number[], trials = 1, varTrialSharpe?: number): DeflatedSharpe {
  const n = returns.length;
  if (n < 4) return { n, sharpe: NaN, skew: NaN, kurtosis: NaN, sr0: NaN, dsr: NaN, trials };
  const sd = Math.sqrt(variance(returns));
  const sr = sd > 0 ? mean(returns) / sd : NaN;
  const skew = sd > 0 ? ss.sampleSkewness([...returns]) : 0;
  const kurt = sd > 0 ? ss.sampleKurtosis([...returns]) + 3 : 3;
  const v = varTrialSharpe ?? 1 / (n - 1);
  const sr0 = Math.sqrt(v) * expectedMaxNormal(trials);
  const den = Math.sqrt(Math.max(1e-12, 1 - skew * sr + ((kurt - 1) / 4) * sr * sr));
  const dsr = Number.isFinite(sr) ? coreNormalCdf(((sr - sr0) * Math.sqrt(n - 1)) / den) : NaN;
  return { n, sharpe: sr, skew, kurtosis: kurt, sr0, dsr, trials };
}

/**
 * Minimum detectable effect of a one-sided level-α test whose estimate has standard error `se` on
 * `df` degrees of freedom, at the given power: (t_{1−α,df} + t_{power,df})·se.
 */
export function minimumDetectableEffect(se: number, df: number, alpha = 0.05, power = 0.8): number {
  if (!(se > 0) || !(df >= 1)) return NaN;
  return (tQuantile(1 - alpha, df) + tQuantile(power, df)) * se;
}

export interface EncompassingTest {
  readonly n: number;
  readonly clusters: number;
  /** λ in y − p_market = λ (p_model − p_market) + e: the weight the combination puts on the model. */
  readonly lambda: number;
  readonly se: number;
  readonly t: number;
  readonly df: number;
  /** One-sided p-value for H1: λ > 0 (the model carries information the market lacks). */
  readonly pValue: number;
}

/**
 * Forecast-encompassing test (Harvey, Leybourne & Newbold 1998 / Fair & Shiller 1990): does the model
 * add information to the market's price? Regress the market's forecast error on the forecast
 * difference without intercept; λ = 0 means the market encompasses the model. Cluster-robust (CR1)
 * standard error by settlement time, t(K − 1) reference.
 */
export function encompassingTest(pModel: readonly number[], pMarket: readonly number[], y: readonly number[], clusters: readonly string[]): EncompassingTest {
  const n = y.length;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const x = pModel[i]! - pMarket[i]!;
    sxx += x * x;
    sxy += x * (y[i]! - pMarket[i]!);
  }
  const lambda = sxx > 0 ? sxy / sxx : NaN;
  const g = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const x = pModel[i]! - pMarket[i]!;
    const u = y[i]! - pMarket[i]! - lambda * x;
    g.set(clusters[i]!, (g.get(clusters[i]!) ?? 0) + x * u);
  }
  const K = g.size;
  let meat = 0;
  for (const s of g.values()) meat += s * s;
  const se = K > 1 && sxx > 0 ? Math.sqrt(((K / (K - 1)) * ((n - 1) / Math.max(1, n - 1)) * meat) / (sxx * sxx)) : NaN;
  const t = se > 0 ? lambda / se : NaN;
  const df = Math.max(1, K - 1);
  return { n, clusters: K, lambda, se, t, df, pValue: Number.isFinite(t) ? 1 - studentTCdf(t, df) : NaN };
}

/**
 * Pairs cluster bootstrap-t p-value for H1: mean(x) > 0. Whole clusters are resampled; each resample's
 * CR1 t statistic is centred at the sample mean, t* = (x̄* − x̄)/se*, and p = P*(t* ≥ t). Studentizing
 * makes it second-order accurate under skewness, which the symmetric (Rademacher) wild bootstrap and
 * the plain t(K − 1) are not: trade PnL per settlement cluster is strongly skewed.
 */
export function clusterBootstrapT(x: readonly number[], clusters: readonly string[], opts: { reps?: number; seed?: number } = {}): { t: number; pGreater: number; reps: number; clusters: number } {
  const sums = new Map<string, { s: number; n: number; s2: number }>();
  x.forEach((v, i) => {
    const c = sums.get(clusters[i]!) ?? { s: 0, n: 0, s2: 0 };
    c.s += v;
    c.n++;
    sums.set(clusters[i]!, c);
  });
  const cs = [...sums.values()];
  const K = cs.length;
  if (K < 2) return { t: NaN, pGreater: NaN, reps: 0, clusters: K };
  const stat = (pick: (j: number) => { s: number; n: number }): { m: number; se: number } => {
    let tot = 0;
    let n = 0;
    for (let j = 0; j < K; j++) {
      const c = pick(j);
      tot += c.s;
      n += c.n;
    }
    const m = tot / n;
    let ss2 = 0;
    for (let j = 0; j < K; j++) {
      const c = pick(j);
      const u = c.s - m * c.n;
      ss2 += u * u;
    }
    return { m, se: Math.sqrt(((K / (K - 1)) * ss2) / (n * n)) };
  };
  const base = stat((j) => cs[j]!);
  const t0 = base.se > 0 ? base.m / base.se : NaN;
  const reps = opts.reps ?? 999;
  const rng = createRng(opts.seed ?? 31);
  const idx = new Int32Array(K);
  let ge = 0;
  for (let r = 0; r < reps; r++) {
    for (let j = 0; j < K; j++) idx[j] = Math.floor(rng() * K);
    const b = stat((j) => cs[idx[j]!]!);
    const tb = b.se > 0 ? (b.m - base.m) / b.se : 0;
    if (tb >= t0) ge++;
  }
  return { t: t0, pGreater: (ge + 1) / (reps + 1), reps, clusters: K };
}
