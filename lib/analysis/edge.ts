/**
 * The edge verdict: model forecasts vs market-implied forecasts on settled markets, with the tests and
 * pass thresholds of EDGE_VALIDATION.md. Pure: takes observations, returns numbers and a verdict.
 */
import type {
  BootstrapResult, DieboldMarianoResult, EvMonotonicity, MurphyDecomposition, ReliabilityBand, SpiegelhalterTest,
} from "./stats.ts";
import {
  brier, brierLosses, dieboldMariano, ece, evBinMonotonicity, logLoss, logLosses, pairedClusterBootstrap, reliabilityBands,
  brierClimatology, murphyDecomposition, spiegelhalter,
} from "./stats.ts";

/** One scored forecast: the model's and the market's P(YES) for a market that has settled. */
export interface ForecastObs {
  readonly market: string;
  /** Cluster for resampling: the event ticker (markets of one event share one outcome path). */
  readonly cluster: string;
  /** Evaluation time and settlement time, µs. */
  readonly ts: number;
  readonly settleTs: number;
  readonly pModel: number;
  /** Market-implied P(YES) (mid of the YES bid/ask). */
  readonly pMarket: number;
  readonly y: 0 | 1;
  /** Best predicted EV per contract (max of the YES and NO legs) and the side it picks; NaN when no quote. */
  readonly ev: number;
  /** Realized PnL per contract of taking that side at the ask, after costs; NaN when no quote. */
  readonly pnl: number;
}

/** Sample-size stages (settled, independent-ish observations). */
export const SAMPLE_THRESHOLDS = { noise: 100, killBad: 200, tests: 300, oos: 400, oosStrong: 600 } as const;

/** Pass thresholds of each test (EDGE_VALIDATION.md §Tests). */
export const PASS = {
  /** One-sided p-value of DM (model loss < market loss). */
  dmP: 0.05,
  /** The cluster-bootstrap 95 % CI of Brier(model) − Brier(market) must lie below 0. */
  bootstrapHi: 0,
  /** Model ECE must not exceed the market's by more than this … */
  eceSlack: 0.01,
  /** … and Spiegelhalter's test must not reject calibration at this level. */
  spiegelhalterP: 0.05,
  /** EV trend: one-sided slope p-value, and the top EV bin must earn > 0. */
  evSlopeP: 0.05,
  /** Minimum observations in the out-of-sample part for the OOS verdict. */
  oosMin: 100,
} as const;

export interface ScoreSet {
  readonly n: number;
  readonly clusters: number;
  readonly brierModel: number;
  readonly brierMarket: number;
  readonly logLossModel: number;
  readonly logLossMarket: number;
  readonly eceModel: number;
  readonly eceMarket: number;
  readonly spiegelhalterModel: SpiegelhalterTest;
  /** Brier skill of the model vs the market and vs climatology (sample base rate). */
  readonly bssVsMarket: number;
  readonly bssVsClimatology: number;
  readonly murphyModel: MurphyDecomposition;
  readonly dmBrier: DieboldMarianoResult | null;
  readonly dmLogLoss: DieboldMarianoResult | null;
  readonly bootstrapBrier: BootstrapResult | null;
  /** Brier and bootstrap tests both favour the model at the thresholds. */
  readonly beatsMarket: boolean;
  readonly calibrated: boolean;
}

export interface EdgeReport {
  readonly n: number;
  readonly stage: "noise" | "kill-bad-models" | "calibration-tests" | "oos-confirmation";
  readonly all: ScoreSet | null;
  readonly inSample: ScoreSet | null;
  readonly outOfSample: ScoreSet | null;
  /** The first settlement time of the out-of-sample part (µs), NaN when there is none. */
  readonly splitTs: number;
  readonly ev: EvMonotonicity | null;
  readonly evPass: boolean;
  readonly reliabilityModel: ReliabilityBand[];
  readonly reliabilityMarket: ReliabilityBand[];
  readonly verdict: "no edge shown" | "edge in-sample only" | "edge out-of-sample";
  readonly verdictLine: string;
  readonly notes: string[];
}

export function scoreSet(obs: readonly ForecastObs[], seed = 1): ScoreSet | null {
  if (obs.length < 3) return null;
  const y = obs.map((o) => o.y);
  const pm = obs.map((o) => o.pModel);
  const pk = obs.map((o) => o.pMarket);
  const bm = brierLosses(pm, y);
  const bk = brierLosses(pk, y);
  const clusters = obs.map((o) => o.cluster);
  let dmB: DieboldMarianoResult | null = null;
  let dmL: DieboldMarianoResult | null = null;
  try {
    dmB = dieboldMariano(bm, bk, { alternative: "less" });
    dmL = dieboldMariano(logLosses(pm, y), logLosses(pk, y), { alternative: "less" });
  } catch {
    /* too few points */
  }
  const boot = pairedClusterBootstrap(bm.map((b, i) => b - bk[i]!), clusters, { reps: 2000, seed });
  const eceModel = ece(pm, y, { bins: 10 });
  const eceMarket = ece(pk, y, { bins: 10 });
  const spg = spiegelhalter(pm, y);
  const beats = !!dmB && dmB.pValue < PASS.dmP && boot.hi < PASS.bootstrapHi;
  return {
    n: obs.length,
    clusters: boot.clusters,
    brierModel: brier(pm, y),
    brierMarket: brier(pk, y),
    logLossModel: logLoss(pm, y),
    logLossMarket: logLoss(pk, y),
    eceModel,
    eceMarket,
    spiegelhalterModel: spg,
    bssVsMarket: 1 - brier(pm, y) / brier(pk, y),
    bssVsClimatology: 1 - brier(pm, y) / brierClimatology(y),
    murphyModel: murphyDecomposition(pm, y, { bins: 10 }),
    dmBrier: dmB,
    dmLogLoss: dmL,
    bootstrapBrier: boot,
    beatsMarket: beats,
    calibrated: eceModel <= eceMarket + PASS.eceSlack && !(spg.pValue < PASS.spiegelhalterP),
  };
}

/** Chronological split: the first `inSampleShare` of distinct UTC days is in-sample (≥ 2 days), else by time. */
export function chronologicalSplit(obs: readonly ForecastObs[], inSampleShare = 0.6): { ins: ForecastObs[]; oos: ForecastObs[]; splitTs: number } {
  const sorted = [...obs].sort((a, b) => a.settleTs - b.settleTs);
  if (sorted.length < 2) return { ins: sorted, oos: [], splitTs: NaN };
  const day = (t: number) => new Date(Math.floor(t / 1000)).toISOString().slice(0, 10);
  const days = [...new Set(sorted.map((o) => day(o.settleTs)))];
  let splitTs: number;
  if (days.length >= 2) {
    const firstOosDay = days[Math.min(days.length - 1, Math.max(1, Math.round(days.length * inSampleShare)))]!;
    splitTs = Date.parse(firstOosDay + "T00:00:00Z") * 1000;
  } else {
    splitTs = sorted[Math.floor(sorted.length * inSampleShare)]!.settleTs;
  }
  return { ins: sorted.filter((o) => o.settleTs < splitTs), oos: sorted.filter((o) => o.settleTs >= splitTs), splitTs };
}

export function stageOf(n: number): EdgeReport["stage"] {
  if (n < SAMPLE_THRESHOLDS.noise) return "noise";
  if (n < SAMPLE_THRESHOLDS.tests) return "kill-bad-models";
  if (n < SAMPLE_THRESHOLDS.oos) return "calibration-tests";
  return "oos-confirmation";
}

export function evaluateEdge(obs: readonly ForecastObs[], opts: { seed?: number; inSampleShare?: number } = {}): EdgeReport {
  const n = obs.length;
  const notes: string[] = [];
  const stage = stageOf(n);
  const all = scoreSet(obs, opts.seed ?? 1);
  const { ins, oos, splitTs } = chronologicalSplit(obs, opts.inSampleShare ?? 0.6);
  const inSample = scoreSet(ins, (opts.seed ?? 1) + 1);
  const outOfSample = scoreSet(oos, (opts.seed ?? 1) + 2);
  const withEv = obs.filter((o) => Number.isFinite(o.ev) && Number.isFinite(o.pnl));
  let ev: EvMonotonicity | null = null;
  if (withEv.length >= 10) {
    ev = evBinMonotonicity(withEv.map((o) => o.ev), withEv.map((o) => o.pnl), { bins: 5 });
  }
  const top = ev?.bins[ev.bins.length - 1];
  const evPass = !!ev && ev.slope.pPositive < PASS.evSlopeP && !!top && top.meanPnl > 0;
  let reliabilityModel: ReliabilityBand[] = [];
  let reliabilityMarket: ReliabilityBand[] = [];
  if (n >= 2) {
    const y = obs.map((o) => o.y);
    const cl = obs.map((o) => o.cluster);
    reliabilityModel = reliabilityBands(obs.map((o) => o.pModel), y, cl, { bins: 10, reps: 300, seed: 7 });
    reliabilityMarket = reliabilityBands(obs.map((o) => o.pMarket), y, cl, { bins: 10, reps: 300, seed: 8 });
  }

  let verdict: EdgeReport["verdict"] = "no edge shown";
  const edgeIn = (inSample?.beatsMarket ?? false) || (all?.beatsMarket ?? false);
  const edgeOos = (outOfSample?.beatsMarket ?? false) && oos.length >= PASS.oosMin && evPass && (outOfSample?.calibrated ?? false);
  if (n < SAMPLE_THRESHOLDS.noise) {
    notes.push(`sample too small: ${n} settled observations < ${SAMPLE_THRESHOLDS.noise}; every number here is noise`);
  } else if (edgeOos && n >= SAMPLE_THRESHOLDS.oos) verdict = "edge out-of-sample";
  else if (edgeIn) verdict = "edge in-sample only";
  if (n >= SAMPLE_THRESHOLDS.noise && oos.length < PASS.oosMin) {
    notes.push(`out-of-sample part has ${oos.length} observations < ${PASS.oosMin}: no out-of-sample verdict possible`);
  }
  if (ev && !evPass) notes.push("EV bins: realized PnL does not rise significantly with predicted EV");
  const verdictLine =
    n < SAMPLE_THRESHOLDS.noise ? `no edge shown — sample too small (n = ${n} < ${SAMPLE_THRESHOLDS.noise})` : `${verdict} (n = ${n}, stage: ${stage})`;
  return { n, stage, all, inSample, outOfSample, splitTs, ev, evPass, reliabilityModel, reliabilityMarket, verdict, verdictLine, notes };
}
