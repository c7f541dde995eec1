/**
 * Spot calibration study: is the library's own probability model (vol estimator + settlement-average
 * model) calibrated on real BTC candles, before any market is involved?
 *
 * Procedure (documented in EDGE_VALIDATION.md):
 *  - Hourly settlements H at every top of the hour covered by the candles.
 *  - Decision times D = H − τ for τ ∈ {60, 30, 15, 5} minutes. At D the model sees only candles that
 *    closed by D: the vol estimator is fed each candle's close at its close time, and spot = the close
 *    of the candle ending at D.
 *  - Strike ladder K_k = spot·(1 + step·k), k = −K…K (default step 0.25 %, K = 8), strike type
 *    "greater" (YES iff the settlement value > K).
 *  - Settlement value ≈ the final-60-s average: the last candle before H covers exactly [H − 60 s, H),
 *    so its (open + high + low + close)/4 stands in for the 60 one-second index values (the typical
 *    price of that minute). With coarser candles the last candle's close is used instead.
 *  - p_model = probabilityYes({spot, sigma, now: D, settleTime: H, …, observedSum: 0, observedCount: 0}).
 * The vol estimator runs on a minute grid here (the engine's default 1 s grid cannot see minute data):
 * gridSeconds = candle length, maxGapSeconds = 3 candles, minSamples = 60 returns (one hour).
 */
import type { EngineConfig, VolConfig } from "../core/config.ts";
import { DEFAULT_ENGINE_CONFIG } from "../core/config.ts";
import type { ProbabilityModel } from "../core/models.ts";
import { BipowerVol, defaultModelRegistry } from "../core/models.ts";
import type { TsUs } from "../core/units.ts";
import { US_PER_S } from "../core/units.ts";
import { createVolEstimator, SECONDS_PER_YEAR } from "../core/volatility.ts";
import type { MurphyDecomposition, ReliabilityBin } from "./stats.ts";
import { brier, brierClimatology, ece, logLoss, mean, murphyDecomposition, reliabilityCurve } from "./stats.ts";
import type { TournamentResult, TournamentRow } from "./tournament.ts";
import { chooseModel, runTournament } from "./tournament.ts";

export { parseCandleCsv, type Candle, type CandleParse } from "../tape/candles.ts";
import type { Candle, CandleParse } from "../tape/candles.ts";

export interface SpotStudyOptions {
  ladderStep?: number;
  ladderK?: number;
  /** Minutes before settlement at which decisions are taken. */
  taus?: readonly number[];
  cfg?: EngineConfig;
  /** Overrides of the study's vol configuration (see module comment). */
  vol?: Partial<VolConfig>;
  bins?: number;
  /**
   * Models scored side by side (default: TOURNAMENT_MODELS). `p` of each observation is the first
   * model's; every model's probability is in `pModels`.
   */
  models?: readonly ProbabilityModel[];
}

/** The tournament of the spot study: the library's model, its variants, and the naive baseline last. */
export function tournamentModels(cfg: EngineConfig = DEFAULT_ENGINE_CONFIG): ProbabilityModel[] {
  const reg = defaultModelRegistry();
  return [
    reg.create("diffusion", cfg.model),
    reg.create({ name: "student-t", params: { nu: 5 } }, cfg.model),
    reg.create("jump-robust", cfg.model),
    reg.create("ewma-lognormal", cfg.model),
  ];
}
export const SPOT_BASELINE = "ewma-lognormal";

export interface SpotObservation {
  readonly settle: TsUs;
  readonly decision: TsUs;
  readonly tauMinutes: number;
  readonly k: number;
  readonly strike: number;
  readonly spot: number;
  readonly sigma: number;
  /** Jump-robust σ (bipower variation of the same minute returns, same half-life); NaN until warm. */
  readonly sigmaRobust: number;
  readonly p: number;
  readonly pModels: Readonly<Record<string, number>>;
  readonly settleValue: number;
  readonly y: 0 | 1;
}

export interface ScoreSummary {
  readonly n: number;
  readonly base_rate: number;
  readonly brier: number;
  readonly log_loss: number;
  readonly ece: number;
  readonly brier_climatology: number;
  /** 1 − Brier/Brier_climatology. */
  readonly bss_climatology: number;
}

export interface SpotStudyResult extends ScoreSummary {
  readonly candles: number;
  readonly rejected_rows: number;
  readonly candle_seconds: number;
  readonly settlements: number;
  readonly skipped_decisions: number;
  readonly first_settle: string;
  readonly last_settle: string;
  readonly mean_sigma: number;
  readonly by_tau: Record<string, ScoreSummary & { z_var: number; z_var_robust: number }>;
  /** Scores restricted to forecasts in (0.05, 0.95), where near-certain far strikes do not dominate. */
  readonly informative: ScoreSummary;
  readonly reliability: ReliabilityBin[];
  readonly murphy: MurphyDecomposition;
  readonly observations: SpotObservation[];
}

export function summarize(p: readonly number[], y: readonly number[], bins = 10): ScoreSummary {
  const bc = brierClimatology(y);
  const b = brier(p, y);
  return {
    n: p.length,
    base_rate: mean(y),
    brier: b,
    log_loss: logLoss(p, y),
    ece: ece(p, y, { bins }),
    brier_climatology: bc,
    bss_climatology: 1 - b / bc,
  };
}

export function studyVolConfig(cfg: EngineConfig, candleSeconds: number, over: Partial<VolConfig> = {}): VolConfig {
  return { ...cfg.vol, gridSeconds: candleSeconds, maxGapSeconds: 3 * candleSeconds, minSamples: 60, ...over };
}

/** Run the study on parsed candles. Deterministic; uses only data available at each decision time. */
export function runSpotCalibration(parsed: CandleParse, opts: SpotStudyOptions = {}): SpotStudyResult {
  const cfg = opts.cfg ?? DEFAULT_ENGINE_CONFIG;
  const step = opts.ladderStep ?? 0.0025;
  const K = opts.ladderK ?? 8;
  const taus = opts.taus ?? [60, 30, 15, 5];
  const { candles, candleSeconds } = parsed;
  if (candles.length < 2) throw new Error("need at least two candles");
  const cUs = candleSeconds * US_PER_S;
  const HOUR = 3600 * US_PER_S;
  const byOpen = new Map(candles.map((c) => [c.t, c]));

  // Settlement hours whose final candle exists; settle value from that candle.
  const settles: { H: TsUs; value: number }[] = [];
  const firstH = Math.ceil(candles[0]!.t / HOUR) * HOUR;
  const lastEnd = candles[candles.length - 1]!.t + cUs;
  for (let H = firstH; H <= lastEnd; H += HOUR) {
    const last = byOpen.get(H - cUs);
    if (!last) continue;
    const value = candleSeconds <= 60 ? (last.open + last.high + last.low + last.close) / 4 : last.close;
    settles.push({ H, value });
  }

  const decisions = settles
    .flatMap((s) => taus.map((tau) => ({ ...s, tau, D: s.H - tau * 60 * US_PER_S })))
    .sort((a, b) => a.D - b.D || a.H - b.H);
  const volCfg = studyVolConfig(cfg, candleSeconds, opts.vol);
  const vol = createVolEstimator(volCfg);
  const robust = new BipowerVol(candleSeconds, volCfg.ewmaHalfLifeSeconds, volCfg.minSamples);
  const models = opts.models ?? tournamentModels(cfg);
  if (models.length === 0) throw new Error("no models to score");
  let fed = 0;
  let skipped = 0;
  const obs: SpotObservation[] = [];
  for (const d of decisions) {
    // Feed every candle that closed by D (close time = open + length), stamped at its close.
    while (fed < candles.length && candles[fed]!.t + cUs <= d.D) {
      const c = candles[fed]!;
      vol.onMid(c.t + cUs - 1, c.close);
      const prev = fed > 0 ? candles[fed - 1]! : null;
      robust.push(prev && c.t - prev.t === cUs ? Math.log(c.close / prev.close) : NaN);
      fed++;
    }
    const spotCandle = byOpen.get(d.D - cUs);
    const sigma = vol.sigma();
    if (!spotCandle || !Number.isFinite(sigma)) {
      skipped++;
      continue;
    }
    const spot = spotCandle.close;
    const sigmaRobust = robust.sigma();
    for (let k = -K; k <= K; k++) {
      const strike = spot * (1 + step * k);
      const input = {
        spot, sigma, sigmaRobust, now: d.D, settleTime: d.H, strikeType: "greater" as const, floorStrike: strike, capStrike: NaN,
        observedSum: 0, observedCount: 0,
      };
      const pModels: Record<string, number> = {};
      for (const m of models) pModels[m.name] = m.probability(input);
      const p = pModels[models[0]!.name]!;
      if (!Number.isFinite(p)) continue;
      obs.push({ settle: d.H, decision: d.D, tauMinutes: d.tau, k, strike, spot, sigma, sigmaRobust, p, pModels, settleValue: d.value, y: d.value > strike ? 1 : 0 });
    }
  }
  if (obs.length === 0) throw new Error("no decision could be scored (too few candles to warm the vol estimator?)");
  const bins = opts.bins ?? 10;
  const P = obs.map((o) => o.p);
  const Y = obs.map((o) => o.y);
  const byTau: Record<string, ScoreSummary & { z_var: number; z_var_robust: number }> = {};
  for (const tau of taus) {
    const sub = obs.filter((o) => o.tauMinutes === tau);
    if (!sub.length) continue;
    // Dispersion check: z = ln(settle/spot)/(σ√τ) per decision (k = 0 rows); Var(z) ≈ 1 when σ is right,
    // < 1 when the model's σ is too high (under-confident forecasts), > 1 when too low.
    const zs = sub
      .filter((o) => o.k === 0)
      .map((o) => Math.log(o.settleValue / o.spot) / (o.sigma * Math.sqrt((o.settle - o.decision) / US_PER_S / SECONDS_PER_YEAR)));
    // Robust version (fat tails): (median|z| / 0.6745)², the MAD-based variance of a normal.
    const absZ = zs.map(Math.abs).sort((a, b) => a - b);
    const mad = absZ.length ? absZ[Math.floor(absZ.length / 2)]! / 0.6744897501960817 : NaN;
    byTau[String(tau)] = {
      ...summarize(sub.map((o) => o.p), sub.map((o) => o.y), bins),
      z_var: mean(zs.map((z) => z * z)),
      z_var_robust: mad * mad,
    };
  }
  const inf = obs.filter((o) => o.p > 0.05 && o.p < 0.95);
  const iso = (t: number) => new Date(t / 1000).toISOString();
  return {
    ...summarize(P, Y, bins),
    candles: candles.length,
    rejected_rows: parsed.rejected,
    candle_seconds: candleSeconds,
    settlements: new Set(obs.map((o) => o.settle)).size,
    skipped_decisions: skipped,
    first_settle: iso(Math.min(...settles.map((x) => x.H))),
    last_settle: iso(Math.max(...settles.map((x) => x.H))),
    mean_sigma: mean(obs.map((o) => o.sigma)),
    by_tau: byTau,
    informative: inf.length > 1 ? summarize(inf.map((o) => o.p), inf.map((o) => o.y), bins) : summarize(P, Y, bins),
    reliability: reliabilityCurve(P, Y, { bins }),
    murphy: murphyDecomposition(P, Y, { bins }),
    observations: obs,
  };
}

export interface SpotTournament {
  readonly models: string[];
  readonly baseline: string;
  /** First settlement of the hold-out part (ISO). */
  readonly split: string;
  readonly all: TournamentResult;
  readonly selection: TournamentResult;
  readonly holdout: TournamentResult | null;
  /** The model chosen by `chooseModel` on the selection part only. */
  readonly chosen: string;
  /** The chosen model on the hold-out: not significantly worse than the baseline in Brier and log-loss. */
  readonly chosenHoldsUp: boolean | null;
}

/**
 * The model tournament of the spot study: every model beside the baseline, with paired differences
 * and 95 % cluster-bootstrap CIs (clusters = settlement hours), by horizon. The default model is chosen
 * on the first `selectionDays` UTC days only and then reported on the rest as out of sample.
 */
export function spotTournament(r: SpotStudyResult, opts: { selectionDays?: number; reps?: number; seed?: number; baseline?: string } = {}): SpotTournament {
  const obs = r.observations;
  const models = Object.keys(obs[0]!.pModels);
  const baseline = opts.baseline ?? (models.includes(SPOT_BASELINE) ? SPOT_BASELINE : models[models.length - 1]!);
  const DAY = 86400 * US_PER_S;
  const firstDay = Math.floor(Math.min(...obs.map((o) => o.settle)) / DAY) * DAY;
  const splitTs = firstDay + (opts.selectionDays ?? 7) * DAY;
  const rows = (sub: readonly SpotObservation[]): TournamentRow[] =>
    sub.map((o) => ({ cluster: String(o.settle), y: o.y, group: `τ=${o.tauMinutes}`, p: o.pModels }));
  const o1 = obs.filter((o) => o.settle < splitTs);
  const o2 = obs.filter((o) => o.settle >= splitTs);
  const t = (sub: readonly SpotObservation[], seed: number) => runTournament(rows(sub), models, baseline, { reps: opts.reps, seed });
  const seed = opts.seed ?? 1;
  const selection = t(o1, seed + 1);
  const chosen = chooseModel(selection);
  const holdout = o2.length >= 3 ? t(o2, seed + 2) : null;
  const c = holdout?.scores.find((s) => s.model === chosen);
  const chosenHoldsUp = !c ? null : c.model === baseline ? true : c.dBrier?.verdict !== "worse" && c.dLogLoss?.verdict !== "worse";
  return { models, baseline, split: new Date(splitTs / 1000).toISOString(), all: t(obs, seed), selection, holdout, chosen, chosenHoldsUp };
}
