/**
 * Model tournament: several probability models forecast the same observations; each is scored on its
 * own and against one baseline, pair by pair (same observation, same outcome), with cluster-robust
 * uncertainty. Used by the spot study (clusters = settlement hours) and the replay report.
 *
 * Only observations where every model produced a finite probability are scored, so the comparison is
 * paired. Differences are model − baseline: negative ΔBrier / Δlog-loss means the model is better.
 */
import type { BootstrapResult, Recalibration, ReliabilityBin } from "./stats.ts";
import { brier, brierLosses, ece, logisticRecalibration, logLoss, logLosses, pairedClusterBootstrap, reliabilityCurve } from "./stats.ts";

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

function diff(b: BootstrapResult): Diff {
  return { mean: b.mean, lo: b.lo, hi: b.hi, verdict: b.lo > 0 ? "worse" : b.hi < 0 ? "better" : "not different" };
}

export function runTournament(
  rows: readonly TournamentRow[],
  models: readonly string[],
  baseline: string,
  opts: { reps?: number; seed?: number; bins?: number } = {},
): TournamentResult {
  if (!models.includes(baseline)) throw new Error(`baseline "${baseline}" is not among the models`);
  const ok = rows.filter((r) => models.every((m) => Number.isFinite(r.p[m])));
  if (ok.length < 3) throw new Error(`only ${ok.length} observations with a probability from every model`);
  const reps = opts.reps ?? 2000;
  const seed = opts.seed ?? 1;
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
        dBrier: isBase || idx.length < 3 ? null : diff(pairedClusterBootstrap(idx.map((i) => bm[i]! - baseB[i]!), idx.map((i) => cl[i]!), { reps, seed: seed + 100 * mi + groups.indexOf(g) })),
      };
    }
    return {
      model: m,
      n: ok.length,
      brier: brier(pm, y),
      logLoss: logLoss(pm, y),
      ece: ece(pm, y, { bins: opts.bins ?? 10 }),
      recalibration: logisticRecalibration(pm, y, cl),
      dBrier: isBase ? null : diff(pairedClusterBootstrap(bm.map((b, i) => b - baseB[i]!), cl, { reps, seed: seed + 10 * mi })),
      dLogLoss: isBase ? null : diff(pairedClusterBootstrap(lm.map((b, i) => b - baseL[i]!), cl, { reps, seed: seed + 10 * mi + 1 })),
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
