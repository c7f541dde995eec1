/**
 * The replay summary: counts, money and forecast quality, accumulated from the engine's audit
 * records in O(open markets) memory. Forecasts are scored once their market settles: every
 * evaluation inside the trading horizon that had both a model probability and a market mid.
 */
import type { Engine } from "../core/engine.ts";
import type { AuditRecord } from "../core/records.ts";
import { microsToDollars } from "../core/units.ts";
import { brier, logLoss } from "../analysis/stats.ts";

const LOG_EPS = 1e-6;

/** Per market: forecasts waiting for the market's result. */
interface Pending {
  pModel: number[];
  pMarket: number[];
}

const UNSCORED_REASONS = new Set(["TAU_TOO_LONG", "UNSUPPORTED_STRIKE", "MARKET_NOT_OPEN"]);

/** One settled market's part of the scores: sums over its forecasts (means from lib/analysis × n). */
interface Score {
  readonly bm: number;
  readonly bk: number;
  readonly lm: number;
  readonly lk: number;
  readonly n: number;
}

/**
 * A settled market's forecasts scored against either outcome (they all share it). Kept instead of the
 * forecasts themselves: a later result from the venue (a fallback overruled, a changed determination)
 * swaps one for the other in constant memory.
 */
interface OutcomeScores {
  readonly yes: Score;
  readonly no: Score;
}

function scoresOf(p: Pending): OutcomeScores {
  const n = p.pModel.length;
  const at = (y: 0 | 1): Score => {
    if (n === 0) return { bm: 0, bk: 0, lm: 0, lk: 0, n: 0 };
    const ys = new Array<number>(n).fill(y);
    return { bm: brier(p.pModel, ys) * n, bk: brier(p.pMarket, ys) * n, lm: logLoss(p.pModel, ys, LOG_EPS) * n, lk: logLoss(p.pMarket, ys, LOG_EPS) * n, n };
  };
  return { yes: at(1), no: at(0) };
}

/** The part of the scores a result gives: its outcome's scores; none for scalar, void or unknown results. */
function scoreFor(s: OutcomeScores | null, result: string): Score | null {
  if (!s) return null;
  return result === "yes" ? s.yes : result === "no" ? s.no : null;
}

export interface Scores {
  n: number;
  brier_model: number | null;
  brier_market: number | null;
  log_loss_model: number | null;
  log_loss_market: number | null;
  markets: number;
}

export class SummaryCollector {
  opportunities = 0;
  trades = 0;
  /** Counts per reason code (a plain object: this is the hottest path of a sweep). */
  private readonly reasonCounts: Record<string, number> = Object.create(null) as Record<string, number>;
  orders = 0;
  ordersRejected = 0;
  fills = 0;
  contracts = 0;
  fees = 0;
  settlementPnl = 0;
  settlements = 0;
  /** Fallback settlements a later venue result overruled (their correcting rows are not new settlements). */
  settlementCorrections = 0;
  readonly settlementSources = new Map<string, number>();
  /** Markets settled by a fallback: a later venue row for one of them confirms or corrects it. */
  private readonly fallbackSettled = new Map<string, { readonly source: string; readonly result: string; readonly scores: OutcomeScores | null }>();
  /** The venue's result per market it settled: a later venue row for one is a repeat or a correction. */
  private readonly venueSettled = new Map<string, { result: string; readonly scores: OutcomeScores | null }>();
  inconsistencies = 0;
  riskChanges: string[] = [];
  private readonly pending = new Map<string, Pending>();
  private n = 0;
  private bm = 0;
  private bk = 0;
  private lm = 0;
  private lk = 0;
  private scoredMarkets = 0;
  /** Distinct markets evaluated. */
  private marketCount = 0;

  record(r: AuditRecord): void {
    switch (r.kind) {
      case "opportunity": {
        this.opportunities++;
        this.reasonCounts[r.reason] = (this.reasonCounts[r.reason] ?? 0) + 1;
        if (r.decision === "trade") this.trades++;
        let p = this.pending.get(r.market);
        if (p === undefined) {
          this.pending.set(r.market, (p = { pModel: [], pMarket: [] }));
          this.marketCount++;
        }
        if (p !== SETTLED && r.inputsFresh && Number.isFinite(r.pModel) && Number.isFinite(r.pMarketMid) && !UNSCORED_REASONS.has(r.reason)) {
          p.pModel.push(r.pModel);
          p.pMarket.push(r.pMarketMid);
        }
        break;
      }
      case "order":
        if (r.status === "pending") this.orders++;
        if (r.status === "rejected") this.ordersRejected++;
        break;
      case "fill_record":
        this.fills++;
        this.contracts += r.count;
        this.fees += r.fee;
        break;
      case "settlement": {
        this.settlementPnl += r.pnl;
        const fallback = this.fallbackSettled.get(r.market);
        if (fallback !== undefined) {
          // The venue's result came after a fallback's: the market now counts under the venue, and
          // when it differs its forecasts are scored against the venue's outcome instead (from the
          // scores against both outcomes kept at the first settlement).
          this.fallbackSettled.delete(r.market);
          this.venueSettled.set(r.market, { result: r.result, scores: fallback.scores });
          if (r.result !== fallback.result) this.rescore(fallback.scores, fallback.result, r.result);
          if (r.result !== fallback.result || r.pnl !== 0) this.settlementCorrections++;
          this.settlementSources.set(fallback.source, this.settlementSources.get(fallback.source)! - 1);
          this.settlementSources.set(r.source, (this.settlementSources.get(r.source) ?? 0) + 1);
          break;
        }
        const venueBefore = r.source === "venue" ? this.venueSettled.get(r.market) : undefined;
        if (venueBefore !== undefined) {
          // The venue changed its own result (a dispute, an amended value): a correction, not a new
          // market; its forecasts now count against the new result.
          if (r.result !== venueBefore.result || r.pnl !== 0) this.settlementCorrections++;
          if (r.result !== venueBefore.result) this.rescore(venueBefore.scores, venueBefore.result, r.result);
          venueBefore.result = r.result;
          break;
        }
        this.settlements++;
        this.settlementSources.set(r.source, (this.settlementSources.get(r.source) ?? 0) + 1);
        const p = this.pending.get(r.market);
        // Keep the entry (so the market still counts once) but free its forecasts.
        if (p) this.pending.set(r.market, SETTLED);
        const scores = p && p !== SETTLED ? scoresOf(p) : null;
        const scored = scoreFor(scores, r.result);
        if (scored) this.addScore(scored, 1);
        if (r.source !== "venue") this.fallbackSettled.set(r.market, { source: r.source, result: r.result, scores });
        else this.venueSettled.set(r.market, { result: r.result, scores });
        break;
      }
      case "inconsistency":
        this.inconsistencies++;
        break;
      case "risk_state_changed":
        this.riskChanges.push(`${r.from}->${r.to}: ${r.reason}`);
        break;
      default:
        break;
    }
  }

  /** A settled market's result changed: its forecasts leave the old outcome's scores for the new one's. */
  private rescore(scores: OutcomeScores | null, from: string, to: string): void {
    const before = scoreFor(scores, from);
    if (before) this.addScore(before, -1);
    const after = scoreFor(scores, to);
    if (after) this.addScore(after, 1);
  }

  /** Add (sign 1) or take back (sign −1) one market's contribution to the scores. */
  private addScore(c: Score, sign: 1 | -1): void {
    this.bm += sign * c.bm;
    this.bk += sign * c.bk;
    this.lm += sign * c.lm;
    this.lk += sign * c.lk;
    this.n += sign * c.n;
    if (c.n > 0) this.scoredMarkets += sign;
  }

  scores(): Scores {
    const n = this.n;
    const avg = (x: number) => (n > 0 ? round(x / n, 6) : null);
    return {
      n,
      brier_model: avg(this.bm),
      brier_market: avg(this.bk),
      log_loss_model: avg(this.lm),
      log_loss_market: avg(this.lk),
      markets: this.scoredMarkets,
    };
  }

  /** A plain, key-ordered object: the `--json` output. Deterministic for a given replay. */
  toJSON(engine: Engine, events: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const reasons: Record<string, number> = {};
    for (const k of Object.keys(this.reasonCounts).sort()) reasons[k] = this.reasonCounts[k]!;
    const sources: Record<string, number> = {};
    for (const k of [...this.settlementSources.keys()].sort()) if (this.settlementSources.get(k)! > 0) sources[k] = this.settlementSources.get(k)!;
    const p = engine.portfolio;
    return {
      ...extra,
      events,
      markets: this.marketCount,
      opportunities: this.opportunities,
      opportunities_by_reason: reasons,
      trades: this.trades,
      orders: this.orders,
      orders_rejected: this.ordersRejected,
      fills: this.fills,
      contracts: this.contracts / 100,
      fees_usd: microsToDollars(this.fees),
      settlements: this.settlements,
      settlement_sources: sources,
      settlement_corrections: this.settlementCorrections,
      settlement_pnl_usd: microsToDollars(this.settlementPnl),
      realized_pnl_usd: microsToDollars(p.realizedTotal()),
      open_positions: p.openMarkets().length,
      cash_usd: microsToDollars(p.cash()),
      risk_state: engine.risk.state(),
      risk_changes: this.riskChanges,
      inconsistencies: this.inconsistencies,
      scores: this.scores(),
    };
  }
}

/** Marks a settled market: its forecasts were scored and released. */
const SETTLED: Pending = Object.freeze({ pModel: [], pMarket: [] }) as unknown as Pending;


function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
