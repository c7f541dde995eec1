/**
 * Read scored forecasts out of the audit store: evaluations (opportunities) of markets that have a
 * resolved outcome, joined to that outcome.
 *
 * Which evaluation is "the" forecast of a market:
 *  - "last" (default): the last evaluation with both p_model and a market mid, at least `cutoffMinutes`
 *    before the market's settle time — one observation per (run, market);
 *  - "all": every such evaluation; observations of one event are then strongly dependent, so only the
 *    cluster bootstrap (clusters = event tickers) should be trusted, not the DM test.
 * Outcome: the run's own settlement record / lifecycle result for the market, else the most recent
 * resolved outcome of that market recorded by any run (e.g. the collector's). Scalar/void are dropped.
 */
import type { Store } from "../store/db.ts";
import { queryObjects } from "../store/db.ts";
import type { ForecastObs } from "./edge.ts";

export interface ForecastFilter {
  runId?: string;
  /** Inclusive UTC dates "YYYY-MM-DD" on the evaluation time. */
  from?: string;
  to?: string;
  forecast?: "last" | "all";
  cutoffMinutes?: number;
}

export interface LoadedForecasts {
  readonly obs: ForecastObs[];
  /** Evaluations considered (with p_model and a market mid) before the outcome join. */
  readonly evaluations: number;
  /** Of those forecasts, how many had no resolved outcome yet. */
  readonly unresolved: number;
}

const esc = (s: string): string => s.replace(/'/g, "''");

export async function loadForecasts(store: Store, f: ForecastFilter = {}): Promise<LoadedForecasts> {
  const where: string[] = ["p_model IS NOT NULL", "p_market_mid IS NOT NULL", "NOT isnan(p_model)"];
  if (f.runId) where.push(`run_id = '${esc(f.runId)}'`);
  if (f.from) where.push(`ts_us >= epoch_us(DATE '${esc(f.from)}')`);
  if (f.to) where.push(`ts_us < epoch_us(DATE '${esc(f.to)}' + INTERVAL 1 DAY)`);
  const cutoffUs = Math.round((f.cutoffMinutes ?? 0) * 60e6);
  where.push(`ts_us <= settle_time_us - ${cutoffUs}`);
  const pick = (f.forecast ?? "last") === "last" ? "QUALIFY row_number() OVER (PARTITION BY run_id, market ORDER BY ts_us DESC) = 1" : "";
  const rows = await queryObjects(
    store,
    `WITH o AS (
       SELECT run_id, market, event_ticker, ts_us, settle_time_us, p_model, p_market_mid, yes_ask_e4, no_ask_e4,
              cost_yes, cost_no, ev_yes, ev_no
       FROM opportunities WHERE ${where.join(" AND ")} ${pick}
     ), anyrun AS (
       SELECT market, arg_max(outcome, ts_us) AS outcome FROM market_outcomes WHERE outcome IS NOT NULL GROUP BY market
     )
     SELECT o.*, coalesce(s.outcome, a.outcome) AS outcome,
            (s.run_id IS NULL AND a.market IS NULL) AS unresolved
     FROM o
     LEFT JOIN market_outcomes s ON s.run_id = o.run_id AND s.market = o.market AND s.outcome IS NOT NULL
     LEFT JOIN anyrun a ON a.market = o.market
     ORDER BY o.settle_time_us, o.market, o.ts_us`,
  );
  const obs: ForecastObs[] = [];
  let unresolved = 0;
  for (const r of rows) {
    if (r.outcome === null || r.outcome === undefined) {
      unresolved++;
      continue;
    }
    const y = Number(r.outcome) === 1 ? 1 : 0;
    const evYes = (r.ev_yes as number | null) ?? NaN;
    const evNo = (r.ev_no as number | null) ?? NaN;
    const yesAsk = r.yes_ask_e4 as number | null;
    const noAsk = r.no_ask_e4 as number | null;
    // Hypothetical one-contract trade on the better leg at its ask, after the recorded all-in cost.
    let ev = NaN;
    let pnl = NaN;
    const yesOk = Number.isFinite(evYes) && yesAsk !== null;
    const noOk = Number.isFinite(evNo) && noAsk !== null;
    if (yesOk && (!noOk || evYes >= evNo)) {
      ev = evYes;
      pnl = y - yesAsk! / 10_000 - ((r.cost_yes as number | null) ?? 0);
    } else if (noOk) {
      ev = evNo;
      pnl = 1 - y - noAsk! / 10_000 - ((r.cost_no as number | null) ?? 0);
    }
    obs.push({
      market: r.market as string,
      cluster: r.event_ticker as string,
      ts: r.ts_us as number,
      settleTs: r.settle_time_us as number,
      pModel: r.p_model as number,
      pMarket: r.p_market_mid as number,
      y,
      ev,
      pnl,
    });
  }
  return { obs, evaluations: rows.length, unresolved };
}

/** Realized PnL of the engine's own settlements (micros), in time order. */
export async function loadRealizedPnl(store: Store, f: ForecastFilter = {}): Promise<{ ts: number; pnlMicros: number }[]> {
  const where: string[] = ["1 = 1"];
  if (f.runId) where.push(`run_id = '${esc(f.runId)}'`);
  if (f.from) where.push(`ts_us >= epoch_us(DATE '${esc(f.from)}')`);
  if (f.to) where.push(`ts_us < epoch_us(DATE '${esc(f.to)}' + INTERVAL 1 DAY)`);
  const rows = await queryObjects(store, `SELECT ts_us, pnl_micros FROM settlements WHERE ${where.join(" AND ")} AND position_e2 <> 0 ORDER BY ts_us`);
  return rows.map((r) => ({ ts: r.ts_us as number, pnlMicros: r.pnl_micros as number }));
}
