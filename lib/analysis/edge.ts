/**
 * The edge verdict (EDGE_VALIDATION.md §3–4). Pure: observations in, numbers and a verdict out.
 *
 * Design, in one paragraph: the primary question is whether the actual trade rule made money after
 * spread, fees and simulated fills on settlements that came AFTER the model + config was frozen.
 * Every test clusters by settlement time (markets that settle together share one BTC path, whatever
 * event they belong to) and uses t(K − 1) critical values — or the wild cluster bootstrap when K is
 * small. Forecast quality (ΔBrier vs the market, encompassing) supports the primary test; calibration
 * is judged by a cluster-robust logistic recalibration. The p-values of the verdict's family are
 * Holm-adjusted. Stages count clusters, not markets, and every verdict prints the effect it could
 * have detected (80 % power) at the current sample.
 */
import type { ClusterMeanTest, EncompassingTest, MurphyDecomposition, Recalibration, ReliabilityBand } from "./stats.ts";
import {
  brier, brierClimatology, brierLosses, clusterMeanTest, deflatedSharpe, ece, encompassingTest, holmAdjust, logisticRecalibration,
  logLoss, logLosses, minimumDetectableEffect, murphyDecomposition, reliabilityBands, walkForwardSplit, wildClusterBootstrapMean,
} from "./stats.ts";
import type { DeflatedSharpe } from "./stats.ts";

/** One scored forecast: the model's and the market's P(YES) for a market that has settled. */
export interface ForecastObs {
  readonly market: string;
  /** Cluster key: the settlement time (as a string), since markets that settle together share a path. */
  readonly cluster: string;
  /** Evaluation time and settlement time, µs. */
  readonly ts: number;
  readonly settleTs: number;
  readonly pModel: number;
  /** Market-implied P(YES) at the mid of the YES bid/ask. */
  readonly pMarket: number;
  /** … at the YES bid and the YES ask (NaN when absent). */
  readonly pBid?: number;
  readonly pAsk?: number;
  readonly y: 0 | 1;
  /** Best predicted EV per contract (max of the YES and NO legs); NaN when no quote. */
  readonly ev: number;
  /** Realized PnL per contract of taking that side at the ask after the recorded cost (diagnostic). */
  readonly pnl: number;
}

/** One market the engine actually traded: its net PnL after fills, fees and settlement. */
export interface TradeObs {
  readonly market: string;
  /**
   * When the trade was decided, µs: the first order (or fill) of the market. A trade is out of sample
   * only when this is after the freeze, whenever it settles.
   */
  readonly entryTs: number;
  readonly settleTs: number;
  /** Net dollars: Σ sells − Σ buys − fees + settlement payout. */
  readonly pnl: number;
  /** Contracts bought (for per-contract figures). */
  readonly contracts: number;
}

export const ALPHA = 0.05;

/** Stages by independent clusters (distinct settlement times) in the part being judged. */
export const CLUSTER_STAGES = { noise: 10, killBad: 20, tests: 30 } as const;

export type Stage = "noise" | "kill-bad-models" | "calibration-tests" | "oos-confirmation";

export function stageOf(clusters: number): Stage {
  if (clusters < CLUSTER_STAGES.noise) return "noise";
  if (clusters < CLUSTER_STAGES.killBad) return "kill-bad-models";
  if (clusters < CLUSTER_STAGES.tests) return "calibration-tests";
  return "oos-confirmation";
}

export interface PnlTest {
  readonly trades: number;
  readonly clusters: number;
  readonly totalPnl: number;
  readonly meanPerTrade: number;
  readonly cluster: ClusterMeanTest | null;
  /** The p-value used: the wild cluster bootstrap (the t(K − 1) figures are in `cluster`). */
  readonly pValue: number;
  readonly method: "wild cluster bootstrap" | "wild cluster bootstrap (Webb)" | "none";
  /** Smallest mean PnL per trade detectable with 80 % power at this sample. */
  readonly mde: number;
  readonly sharpe: DeflatedSharpe;
}

export interface ForecastTests {
  readonly n: number;
  readonly clusters: number;
  readonly brierModel: number;
  readonly logLossModel: number;
  readonly eceModel: number;
  /** Brier of the benchmarks on the same observations. */
  readonly brierAt: { readonly mid: number; readonly bid: number; readonly ask: number; readonly recalibrated: number };
  /** ΔBrier model − mid, clustered t(K − 1): pLess is the p-value of "model better". */
  readonly dBrier: ClusterMeanTest;
  readonly dLogLoss: ClusterMeanTest;
  /** ΔBrier model − recalibrated market (logistic recalibration of the mid, fitted on the in-sample part). */
  readonly dBrierRecal: ClusterMeanTest | null;
  readonly encompassing: EncompassingTest;
  readonly calibration: Recalibration;
  readonly calibrationMarket: Recalibration;
  /** Calibrated = the recalibration test does not reject (0, 1) at ALPHA; NaN is never calibrated. */
  readonly calibrated: boolean;
  /** Smallest ΔBrier improvement detectable with 80 % power. */
  readonly mdeBrier: number;
  readonly bssVsMarket: number;
  readonly bssVsClimatology: number;
  readonly murphy: MurphyDecomposition;
}

export interface PartVerdict {
  readonly label: string;
  readonly stage: Stage;
  readonly clusters: number;
  readonly forecasts: ForecastTests | null;
  readonly pnl: PnlTest;
  /** Holm-adjusted p-values of the family {PnL, ΔBrier vs mid, encompassing}. */
  readonly holm: { readonly pnl: number; readonly brier: number; readonly encompassing: number };
  /** Primary test passes after Holm, calibration not rejected, stage reached. */
  readonly edge: boolean;
  readonly power: string;
}

export interface WalkForwardFoldResult {
  readonly testDays: readonly string[];
  readonly trades: number;
  readonly pnl: number;
  readonly dBrier: number;
}

export interface EdgeReport {
  /** Scored forecast observations and traded markets. */
  readonly n: number;
  readonly trades: number;
  readonly clusters: number;
  /** Freeze time of the model + config (µs), NaN when it was never frozen. */
  readonly freezeTs: number;
  readonly inSample: PartVerdict;
  /** Forecasts made and trades entered strictly after the freeze; null when not frozen. */
  readonly outOfSample: PartVerdict | null;
  readonly walkForward: WalkForwardFoldResult[];
  readonly reliabilityModel: ReliabilityBand[];
  readonly reliabilityMarket: ReliabilityBand[];
  readonly stage: Stage;
  readonly verdict: "no edge shown" | "edge in-sample only" | "edge out-of-sample";
  readonly verdictLine: string;
  readonly powerLine: string;
  readonly notes: string[];
}

export interface EvaluateOptions {
  /**
   * Freeze of the model + config, µs. Out of sample: forecasts made and trades entered after it.
   * In sample: what settled up to it. A decision made before the freeze whose market settles after it
   * is in neither part (it was not made by a frozen model, and its outcome was not known at the freeze).
   */
  readonly freezeTs?: number;
  /** Configs / models tried before picking this one (deflates the Sharpe ratio). */
  readonly trials?: number;
  readonly seed?: number;
  /** Skip the reliability bands and walk-forward (simulations). */
  readonly light?: boolean;
}

const logit = (q: number): number => Math.log(q / (1 - q));
const expit = (x: number): number => 1 / (1 + Math.exp(-x));

function forecastTests(obs: readonly ForecastObs[], recalFrom: readonly ForecastObs[]): ForecastTests | null {
  if (obs.length < 3) return null;
  const y = obs.map((o) => o.y);
  const pm = obs.map((o) => o.pModel);
  const pk = obs.map((o) => o.pMarket);
  const cl = obs.map((o) => o.cluster);
  const bm = brierLosses(pm, y);
  const bk = brierLosses(pk, y);
  const lm = logLosses(pm, y);
  const lk = logLosses(pk, y);
  const dBrier = clusterMeanTest(bm.map((b, i) => b - bk[i]!), cl);
  const orMid = (x: number | undefined, i: number) => (x !== undefined && Number.isFinite(x) ? x : pk[i]!);
  // Recalibrated market: logistic recalibration of the mid fitted on `recalFrom` (the in-sample part).
  const rc = recalFrom.length >= 20 ? logisticRecalibration(recalFrom.map((o) => o.pMarket), recalFrom.map((o) => o.y), recalFrom.map((o) => o.cluster)) : null;
  const clip = (q: number) => Math.min(1 - 1e-4, Math.max(1e-4, q));
  const pRecal = rc && Number.isFinite(rc.slope) ? pk.map((q) => expit(rc.intercept + rc.slope * logit(clip(q)))) : null;
  const calibration = logisticRecalibration(pm, y, cl);
  return {
    n: obs.length,
    clusters: dBrier.clusters,
    brierModel: brier(pm, y),
    logLossModel: logLoss(pm, y),
    eceModel: ece(pm, y, { bins: 10 }),
    brierAt: {
      mid: brier(pk, y),
      bid: brier(obs.map((o, i) => orMid(o.pBid, i)), y),
      ask: brier(obs.map((o, i) => orMid(o.pAsk, i)), y),
      recalibrated: pRecal ? brier(pRecal, y) : NaN,
    },
    dBrier,
    dLogLoss: clusterMeanTest(lm.map((l, i) => l - lk[i]!), cl),
    dBrierRecal: pRecal ? clusterMeanTest(bm.map((b, i) => b - (pRecal[i]! - y[i]!) ** 2), cl) : null,
    encompassing: encompassingTest(pm, pk, y, cl),
    calibration,
    calibrationMarket: logisticRecalibration(pk, y, cl),
    calibrated: calibration.pValue >= ALPHA,
    mdeBrier: minimumDetectableEffect(dBrier.se, dBrier.df),
    bssVsMarket: 1 - brier(pm, y) / brier(pk, y),
    bssVsClimatology: 1 - brier(pm, y) / brierClimatology(y),
    murphy: murphyDecomposition(pm, y, { bins: 10 }),
  };
}

function pnlTest(trades: readonly TradeObs[], trials: number, seed: number): PnlTest {
  const clusters = new Set(trades.map((t) => String(t.settleTs))).size;
  const total = trades.reduce((s, t) => s + t.pnl, 0);
  if (trades.length < 2 || clusters < 2) {
    return {
      trades: trades.length, clusters, totalPnl: total, meanPerTrade: trades.length ? total / trades.length : NaN, cluster: null, pValue: NaN,
      method: "none", mde: NaN, sharpe: deflatedSharpe([], trials),
    };
  }
  const x = trades.map((t) => t.pnl);
  const cl = trades.map((t) => String(t.settleTs));
  const ct = clusterMeanTest(x, cl);
  // The wild cluster bootstrap with the null imposed gives the p-value at every K (Webb weights at
  // K ≤ 5). It is exact when cluster PnL sums are symmetric about 0 and asymptotically valid when they
  // are skewed (buying the cheap side is lottery-like). Measured size at 5, 12 and 40 clusters in
  // EDGE_VALIDATION.md §5; the pairs bootstrap-t and the plain t(K − 1) are shown there for comparison.
  const wb = wildClusterBootstrapMean(x, cl, { seed, reps: 1999 });
  const p = wb.pGreater;
  // Sharpe per settlement cluster (the independent unit), deflated by the number of trials.
  const byCluster = new Map<string, number>();
  trades.forEach((t) => byCluster.set(String(t.settleTs), (byCluster.get(String(t.settleTs)) ?? 0) + t.pnl));
  return {
    trades: trades.length, clusters, totalPnl: total, meanPerTrade: ct.mean, cluster: ct, pValue: p,
    method: wb.weights === "webb" ? "wild cluster bootstrap (Webb)" : "wild cluster bootstrap", mde: minimumDetectableEffect(ct.se, ct.df),
    sharpe: deflatedSharpe([...byCluster.values()], trials),
  };
}

function part(label: string, obs: readonly ForecastObs[], trades: readonly TradeObs[], recalFrom: readonly ForecastObs[], trials: number, seed: number): PartVerdict {
  const f = forecastTests(obs, recalFrom);
  const pnl = pnlTest(trades, trials, seed);
  const clusters = new Set([...obs.map((o) => o.cluster), ...trades.map((t) => String(t.settleTs))]).size;
  // The primary test is on traded markets: the stage counts their settlement clusters.
  const stage = stageOf(pnl.clusters);
  const [hp, hb, he] = holmAdjust([pnl.pValue, f?.dBrier.pLess ?? NaN, f?.encompassing.pValue ?? NaN]) as [number, number, number];
  const calibrated = f?.calibrated ?? false;
  const edge = stage === "oos-confirmation" && hp < ALPHA && calibrated;
  const money = (x: number) => (Number.isFinite(x) ? `$${x.toFixed(4)}` : "–");
  const power =
    `${label}: K = ${pnl.clusters} settlement clusters with trades → detectable mean PnL ≥ ${money(pnl.mde)} per traded market` +
    (f ? `; K = ${f.clusters} forecast clusters → detectable ΔBrier ≤ −${Number.isFinite(f.mdeBrier) ? f.mdeBrier.toFixed(4) : "–"}` : "") +
    " (one-sided 5 %, 80 % power)";
  return { label, stage, clusters, forecasts: f, pnl, holm: { pnl: hp, brier: hb, encompassing: he }, edge, power };
}

export function evaluateEdge(obs: readonly ForecastObs[], trades: readonly TradeObs[] = [], opts: EvaluateOptions = {}): EdgeReport {
  const notes: string[] = [];
  const freezeTs = opts.freezeTs ?? NaN;
  const frozen = Number.isFinite(freezeTs);
  const trials = Math.max(1, opts.trials ?? 1);
  const seed = opts.seed ?? 1;
  const insObs = frozen ? obs.filter((o) => o.settleTs <= freezeTs) : [...obs];
  const insTrades = frozen ? trades.filter((t) => t.settleTs <= freezeTs) : [...trades];
  const inSample = part(frozen ? "before the freeze" : "all data (not frozen)", insObs, insTrades, insObs, trials, seed);
  // Out of sample needs the decision itself after the freeze, not just the settlement: otherwise a
  // freeze taken while open positions are already winning would turn them into out-of-sample wins.
  // A NaN time (unknown) never counts as after.
  const oosObs = frozen ? obs.filter((o) => o.ts > freezeTs && o.settleTs > freezeTs) : [];
  const oosTrades = frozen ? trades.filter((t) => t.entryTs > freezeTs && t.settleTs > freezeTs) : [];
  const outOfSample = frozen ? part("after the freeze", oosObs, oosTrades, insObs, trials, seed + 1) : null;
  const clusters = new Set(obs.map((o) => o.cluster)).size;

  let verdict: EdgeReport["verdict"] = "no edge shown";
  if (outOfSample?.edge) verdict = "edge out-of-sample";
  else if (inSample.edge) verdict = "edge in-sample only";
  if (!frozen) notes.push("model + config not frozen: no out-of-sample claim is possible (freeze it with `npm run report -- --freeze RUN`, then judge only later settlements)");
  const judged = outOfSample ?? inSample;
  if (judged.stage !== "oos-confirmation") {
    notes.push(`${judged.label}: ${judged.pnl.clusters} settlement clusters with trades (< ${CLUSTER_STAGES.tests}); stage "${judged.stage}" — no edge can be claimed yet`);
  }
  if (judged.forecasts && !judged.forecasts.calibrated) {
    notes.push(`${judged.label}: calibration ${Number.isFinite(judged.forecasts.calibration.pValue) ? `rejected (recalibration p = ${judged.forecasts.calibration.pValue.toFixed(4)})` : "not estimable (constant or one-sided forecasts)"}`);
  }
  if (frozen) {
    const straddleObs = obs.length - insObs.length - oosObs.length;
    const straddleTrades = trades.length - insTrades.length - oosTrades.length;
    if (straddleObs > 0 || straddleTrades > 0) {
      notes.push(
        `${straddleObs} forecasts and ${straddleTrades} traded markets were decided before the freeze but settle after it: they are in neither part`,
      );
    }
  }
  if (trades.length === 0) notes.push("no traded markets: the primary test (PnL of the trade rule) has nothing to judge");

  let walkForward: WalkForwardFoldResult[] = [];
  let reliabilityModel: ReliabilityBand[] = [];
  let reliabilityMarket: ReliabilityBand[] = [];
  if (!opts.light) {
    const day = (t: number) => new Date(Math.floor(t / 1000)).toISOString().slice(0, 10);
    const folds = walkForwardSplit(obs, (o) => day(o.settleTs), { minTrainDays: 1, testDays: 1 });
    walkForward = folds.map((f) => {
      const days = new Set(f.testDays);
      const tr = trades.filter((t) => days.has(day(t.settleTs)));
      const y = f.test.map((o) => o.y);
      return {
        testDays: f.testDays,
        trades: tr.length,
        pnl: tr.reduce((s, t) => s + t.pnl, 0),
        dBrier: f.test.length ? brier(f.test.map((o) => o.pModel), y) - brier(f.test.map((o) => o.pMarket), y) : NaN,
      };
    });
    if (obs.length >= 2) {
      const y = obs.map((o) => o.y);
      const cl = obs.map((o) => o.cluster);
      reliabilityModel = reliabilityBands(obs.map((o) => o.pModel), y, cl, { bins: 10, reps: 300, seed: 7 });
      reliabilityMarket = reliabilityBands(obs.map((o) => o.pMarket), y, cl, { bins: 10, reps: 300, seed: 8 });
    }
  }
  const stage = judged.stage;
  const verdictLine =
    stage === "noise" && verdict === "no edge shown"
      ? `no edge shown — sample too small (${judged.pnl.clusters} settlement clusters with trades, ${clusters} with forecasts, n = ${obs.length} forecasts; at least ${CLUSTER_STAGES.noise} clusters are needed to say anything, ${CLUSTER_STAGES.tests} to claim edge)`
      : `${verdict} (n = ${obs.length} forecasts, ${trades.length} traded markets, stage: ${stage}; judged on ${judged.label})`;
  return {
    n: obs.length, trades: trades.length, clusters, freezeTs, inSample, outOfSample, walkForward, reliabilityModel, reliabilityMarket, stage, verdict,
    verdictLine, powerLine: judged.power, notes,
  };
}
