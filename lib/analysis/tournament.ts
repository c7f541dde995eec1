/**
 * Model tournament: several probability models forecast the same observations; each is scored on its
 * own and against one baseline, pair by pair (same observation, same outcome), with cluster-robust
 * uncertainty. Used by the spot study (clusters = settlement hours) and the replay report.
 *
 * Only observations where every model produced a finite probability are scored, so the comparison is
 * paired. Differences are model − baseline: negative ΔBrier / Δlog-loss means the model is better.
 */
import type { Recalibration, ReliabilityBin, SpaResult } from "./stats.ts";
import { brier, brierLosses, clusterMeanTest, ece, logisticRecalibration, logLoss, logLosses, reliabilityCurve, spaTest } from "./stats.ts";

export interface TournamentRow {
  readonly cluster: string;
  readonly y: number;
  /** Optional stratum (e.g. the horizon "τ=15"). */
  readonly group?: string;
  /** P(YES) by model name. */
  readonly p: Readonly<Record<string, number>>;
}

export interface Diff {
  readonly mean: number;
  readonly lo: number;
  readonly hi: number;
  /** CI entirely above 0: significantly worse than the baseline; entirely below: significantly better. */
  readonly verdict: "better" | "worse" | "not different";
}

export interface ModelScore {
  readonly model: string;
  readonly n: number;
  readonly brier: number;
  readonly logLoss: number;
  readonly ece: number;
  readonly recalibration: Recalibration;
  readonly dBrier: Diff | null;
  readonly dLogLoss: Diff | null;
  readonly byGroup: Record<string, { n: number; brier: number; logLoss: number; dBrier: Diff | null }>;
  readonly reliability: ReliabilityBin[];
}

export interface TournamentResult {
  readonly baseline: string;
  readonly n: number;
  readonly clusters: number;
  /** Rows dropped because some model had no probability. */
  readonly dropped: number;
  readonly scores: ModelScore[];
}

/**
 * Mean loss difference (model − baseline) with its t(K−1) interval over clusters (CR1). A percentile
 * pairs cluster bootstrap shrinks the spread by (K−1)/K and uses normal quantiles: with equally good
 * models it called one better or worse in 15 % of runs at K = 5 and 10 % at K = 10 (Cameron, Gelbach
 * & Miller 2008 report the same over-rejection).
 */
function diff(x: readonly number[], cl: readonly string[]): Diff {
  const t = clusterMeanTest(x, cl);
  return { mean: t.mean, lo: t.lo, hi: t.hi, verdict: t.lo > 0 ? "worse" : t.hi < 0 ? "better" : "not different" };
}

export function runTournament(
  rows: readonly TournamentRow[],
  models: readonly string[],
  baseline: string,
  /** reps and seed are no longer used (the differences take a t(K−1) interval); kept for callers. */
  opts: { reps?: number; seed?: number; bins?: number } = {},
): TournamentResult {
  if (!models.includes(baseline)) throw new Error(`baseline "${baseline}" is not among the models`);
  const ok = rows.filter((r) => models.every((m) => Number.isFinite(r.p[m])));
  if (ok.length < 3) throw new Error(`only ${ok.length} observations with a probability from every model`);
  const y = ok.map((r) => r.y);
  const cl = ok.map((r) => r.cluster);
  const P = (m: string, sub: readonly TournamentRow[]) => sub.map((r) => r.p[m]!);
  const groups = [...new Set(ok.map((r) => r.group).filter((g): g is string => g !== undefined))].sort((a, b) =>
    a.localeCompare(b, "en", { numeric: true }),
  );
  const baseB = brierLosses(P(baseline, ok), y);
  const baseL = logLosses(P(baseline, ok), y);
  const scores = models.map((m, mi): ModelScore => {
    const pm = P(m, ok);
    const bm = brierLosses(pm, y);
    const lm = logLosses(pm, y);
    const isBase = m === baseline;
    const byGroup: ModelScore["byGroup"] = {};
    for (const g of groups) {
      const idx = ok.map((r, i) => (r.group === g ? i : -1)).filter((i) => i >= 0);
      const sy = idx.map((i) => y[i]!);
      const sp = idx.map((i) => pm[i]!);
      byGroup[g] = {
        n: idx.length,
        brier: brier(sp, sy),
        logLoss: logLoss(sp, sy),
        dBrier: isBase || idx.length < 3 ? null : diff(idx.map((i) => bm[i]! - baseB[i]!), idx.map((i) => cl[i]!)),
      };
    }
    return {
      model: m,
      n: ok.length,
      brier: brier(pm, y),
      logLoss: logLoss(pm, y),
      ece: ece(pm, y, { bins: opts.bins ?? 10 }),
      recalibration: logisticRecalibration(pm, y, cl),
      dBrier: isBase ? null : diff(bm.map((b, i) => b - baseB[i]!), cl),
      dLogLoss: isBase ? null : diff(lm.map((b, i) => b - baseL[i]!), cl),
      byGroup,
      reliability: reliabilityCurve(pm, y, { bins: opts.bins ?? 10 }),
    };
  });
  return { baseline, n: ok.length, clusters: new Set(cl).size, dropped: rows.length - ok.length, scores };
}

/**
 * The selection rule used to pick a default model (fixed before looking at the hold-out): the lowest
 * Brier score among the models that are not significantly worse than the baseline in either Brier or
 * log-loss; ties broken by the order given (simpler models first).
 */
export function chooseModel(t: TournamentResult): string {
  let best = t.baseline;
  let bestB = Infinity;
  for (const s of t.scores) {
    if (s.dBrier?.verdict === "worse" || s.dLogLoss?.verdict === "worse") continue;
    if (s.brier < bestB - 1e-12) {
      best = s.model;
      bestB = s.brier;
    }
  }
  return best;
}

// ---- Configs of a sweep -------------------------------------------------------------------------------

export interface SweepConfigScore {
  readonly variantId: string;
  readonly name: string;
  /** Settlement times at which the config traded, and its net PnL summed over them (dollars). */
  readonly tradedTimes: number;
  readonly totalPnl: number;
  /** Mean PnL per settlement time of the common sample, and its clustered t (one cluster per time). */
  readonly meanPerTime: number;
  readonly t: number;
}

export interface SweepSpa {
  readonly times: number;
  readonly configs: readonly SweepConfigScore[];
  /** Best config by studentized mean PnL; null when nothing can be tested. */
  readonly best: string | null;
  readonly spa: SpaResult | null;
  readonly note: string;
}

/**
 * Data snooping across the configs of a sweep: does the best config make money after accounting for
 * every config tried? Each config's observation at a settlement time is its net PnL there ($0 when it
 * did not trade); the benchmark is not trading (PnL 0), so d_k = PnL_k. Settlement times are the
 * independent units (every market settling together shares one BTC path), so each time is its own
 * cluster for Hansen's SPA / White's Reality Check (spaTest).
 */
export function sweepSpa(
  configs: readonly { variantId: string; name: string }[],
  times: readonly number[],
  rows: readonly { variantId: string; settleTs: number; pnl: number }[],
  opts: { reps?: number; seed?: number } = {},
): SweepSpa {
  const at = new Map(times.map((t, i) => [t, i]));
  const col = new Map(configs.map((c, k) => [c.variantId, k]));
  const d = configs.map(() => new Array<number>(times.length).fill(0));
  for (const r of rows) {
    const i = at.get(r.settleTs);
    const k = col.get(r.variantId);
    if (i === undefined || k === undefined) throw new Error(`sweep PnL row outside the sample (${r.variantId} at ${r.settleTs})`);
    d[k]![i]! += r.pnl;
  }
  const cl = times.map(String);
  const traded = configs.map(() => new Set<number>());
  for (const r of rows) traded[col.get(r.variantId)!]!.add(r.settleTs);
  let spa: SpaResult | null = null;
  let note = "";
  if (configs.length === 0) note = "no configs in the sweep store";
  else if (times.length < 3) note = `only ${times.length} settlement times: SPA needs at least 3`;
  else spa = spaTest(d, cl, { reps: opts.reps ?? 999, seed: opts.seed ?? 2025 });
  const scores = configs.map((c, k) => {
    const row = d[k]!;
    const n = row.length;
    const m = n ? row.reduce((a, b) => a + b, 0) / n : NaN;
    const sd = n > 1 ? Math.sqrt(row.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1)) : NaN;
    return {
      variantId: c.variantId, name: c.name, tradedTimes: traded[k]!.size, totalPnl: row.reduce((a, b) => a + b, 0),
      meanPerTime: m, t: sd > 0 ? (m / sd) * Math.sqrt(n) : NaN,
    };
  });
  return { times: times.length, configs: scores, best: spa ? configs[spa.best]!.variantId : null, spa, note };
}
