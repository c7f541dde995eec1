/**
 * Read scored forecasts out of the audit store: evaluations (opportunities) of markets that have a
 * resolved outcome, joined to that outcome.
 *
 * Which evaluation is "the" forecast of a market:
 *  - "last" (default): the last evaluation with both p_model and a market mid, at least `cutoffMinutes`
 *    before the market's settle time — one observation per (run, market);
 *  - "all": every such evaluation; observations of one settlement time are then strongly dependent,
 *    which the verdict's cluster-robust tests (clusters = settlement times) account for.
 * Only evaluations whose inputs were fresh (`inputs_fresh`: spot, book and volatility usable) are scored.
 * Outcome: the run's own settlement record / lifecycle result for the market, else the most recent
 * resolved outcome of that market recorded by any run (e.g. the collector's). Scalar/void are dropped.
 */
import type { Store } from "../store/db.ts";
import { queryObjects } from "../store/db.ts";
import type { ForecastObs, TradeObs } from "./edge.ts";
import type { TournamentRow } from "./tournament.ts";

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

/** Gate reasons of an evaluation whose inputs were not fresh (the fallback for rows without `inputs_fresh`). */
const STALE_REASONS = ["NO_SPOT", "SPOT_STALE", "BOOK_MISSING", "BOOK_STALE", "VOL_NOT_WARM", "MARKET_NOT_OPEN", "UNSUPPORTED_STRIKE"] as const;

export async function loadForecasts(store: Store, f: ForecastFilter = {}): Promise<LoadedForecasts> {
  const where: string[] = [
    "p_model IS NOT NULL",
    "p_market_mid IS NOT NULL",
    "NOT isnan(p_model)",
    // Only evaluations made on fresh inputs: a stale book's frozen mid is no market forecast (and a
    // model beats it easily). Rows from before migration 013 have no flag: judged by the gate reason.
    `coalesce(inputs_fresh, reason NOT IN (${STALE_REASONS.map((r) => `'${r}'`).join(", ")}))`,
  ];
  if (f.runId) where.push(`run_id = '${esc(f.runId)}'`);
  if (f.from) where.push(`ts_us >= epoch_us(DATE '${esc(f.from)}')`);
  if (f.to) where.push(`ts_us < epoch_us(DATE '${esc(f.to)}' + INTERVAL 1 DAY)`);
  const cutoffUs = Math.round((f.cutoffMinutes ?? 0) * 60e6);
  where.push(`ts_us <= settle_time_us - ${cutoffUs}`);
  const pick = (f.forecast ?? "last") === "last" ? "QUALIFY row_number() OVER (PARTITION BY run_id, market ORDER BY ts_us DESC) = 1" : "";
  const rows = await queryObjects(
    store,
    `WITH o AS (
       SELECT run_id, market, event_ticker, ts_us, settle_time_us, p_model, p_market_mid, p_market_bid, p_market_ask, yes_ask_e4, no_ask_e4,
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
      // Markets that settle at the same instant share one BTC path, whatever their event: cluster by it.
      cluster: String(r.settle_time_us),
      ts: r.ts_us as number,
      settleTs: r.settle_time_us as number,
      pModel: r.p_model as number,
      pMarket: r.p_market_mid as number,
      pBid: (r.p_market_bid as number | null) ?? NaN,
      pAsk: (r.p_market_ask as number | null) ?? NaN,
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

/**
 * Markets the engine traded, with their net PnL after the simulated (or real) fills, exact fees and the
 * settlement payout: Σ sells − Σ buys − fees + payout, in dollars. Only markets with a settlement record
 * count; the settlement time comes from the market's evaluations (the cluster key).
 */
export async function loadTrades(store: Store, f: ForecastFilter = {}): Promise<{ trades: TradeObs[]; unsettled: number }> {
  const where: string[] = ["1 = 1"];
  if (f.runId) where.push(`run_id = '${esc(f.runId)}'`);
  if (f.from) where.push(`ts_us >= epoch_us(DATE '${esc(f.from)}')`);
  if (f.to) where.push(`ts_us < epoch_us(DATE '${esc(f.to)}' + INTERVAL 1 DAY)`);
  const rows = await queryObjects(
    store,
    `WITH fl AS (
       SELECT run_id, market,
              sum(CASE WHEN action = 'sell' THEN price_e4 * count_e2 ELSE -price_e4 * count_e2 END - fee_micros)::BIGINT AS cash_micros,
              sum(CASE WHEN action = 'buy' THEN count_e2 ELSE 0 END)::BIGINT AS bought_e2
       FROM fills WHERE ${where.join(" AND ")} GROUP BY run_id, market
     ), en AS (
       -- the decision time of a traded market: its first order record (or fill, if no order was kept)
       SELECT run_id, market, min(ts_us) AS entry_us FROM (
         SELECT run_id, market, ts_us FROM orders WHERE ${where.join(" AND ")}
         UNION ALL SELECT run_id, market, ts_us FROM fills WHERE ${where.join(" AND ")}
       ) GROUP BY run_id, market
     ), st AS (
       SELECT run_id, market, sum(payout_micros)::BIGINT AS payout_micros FROM settlements GROUP BY run_id, market
     ), tm AS (
       SELECT run_id, market, max(settle_time_us) AS settle_time_us FROM opportunities GROUP BY run_id, market
     )
     SELECT fl.market, fl.cash_micros, fl.bought_e2, st.payout_micros, tm.settle_time_us, en.entry_us
     FROM fl LEFT JOIN st USING (run_id, market) LEFT JOIN tm USING (run_id, market) LEFT JOIN en USING (run_id, market)
     ORDER BY tm.settle_time_us, fl.market`,
  );
  const trades: TradeObs[] = [];
  let unsettled = 0;
  for (const r of rows) {
    if (r.payout_micros === null || r.payout_micros === undefined || r.settle_time_us === null) {
      unsettled++;
      continue;
    }
    trades.push({
      market: r.market as string,
      entryTs: Number(r.entry_us),
      settleTs: Number(r.settle_time_us),
      pnl: (Number(r.cash_micros) + Number(r.payout_micros)) / 1e6,
      contracts: Number(r.bought_e2) / 100,
    });
  }
  return { trades, unsettled };
}

/** The freeze that applies to a run (first freeze of its config hash), or NaN. */
export async function loadFreeze(store: Store, runId: string | undefined): Promise<{ frozenUs: number; configHash: string | null }> {
  if (!runId) return { frozenUs: NaN, configHash: null };
  const rows = await queryObjects(
    store,
    `SELECT r.config_hash, f.frozen_us FROM runs r LEFT JOIN model_freezes f ON f.config_hash = r.config_hash WHERE r.run_id = '${esc(runId)}'`,
  );
  if (rows.length === 0) return { frozenUs: NaN, configHash: null };
  const fu = rows[0]!.frozen_us;
  return { frozenUs: fu === null || fu === undefined ? NaN : Number(fu), configHash: (rows[0]!.config_hash as string | null) ?? null };
}

/**
 * The replay's model tournament (table `forecasts`): per model and market the last forecast at least
 * `cutoffMinutes` before settlement, joined to the outcome, as tournament rows (the market mid is the
 * pseudo-model "market"). Clusters = settlement times.
 */
export async function loadTournamentRows(store: Store, f: ForecastFilter = {}): Promise<{ rows: TournamentRow[]; models: string[] }> {
  const where: string[] = ["p_market_mid IS NOT NULL"];
  if (f.runId) where.push(`run_id = '${esc(f.runId)}'`);
  if (f.from) where.push(`ts_us >= epoch_us(DATE '${esc(f.from)}')`);
  if (f.to) where.push(`ts_us < epoch_us(DATE '${esc(f.to)}' + INTERVAL 1 DAY)`);
  where.push(`ts_us <= settle_time_us - ${Math.round((f.cutoffMinutes ?? 0) * 60e6)}`);
  const rows = await queryObjects(
    store,
    `WITH fc AS (
       SELECT run_id, model, market, settle_time_us, p, p_market_mid, ts_us FROM forecasts WHERE ${where.join(" AND ")}
       QUALIFY row_number() OVER (PARTITION BY run_id, model, market ORDER BY ts_us DESC) = 1
     ), anyrun AS (
       SELECT market, arg_max(outcome, ts_us) AS outcome FROM market_outcomes WHERE outcome IS NOT NULL GROUP BY market
     )
     SELECT fc.run_id, fc.model, fc.market, fc.settle_time_us, fc.p, fc.p_market_mid, coalesce(s.outcome, a.outcome) AS outcome
     FROM fc
     LEFT JOIN market_outcomes s ON s.run_id = fc.run_id AND s.market = fc.market AND s.outcome IS NOT NULL
     LEFT JOIN anyrun a ON a.market = fc.market
     WHERE coalesce(s.outcome, a.outcome) IS NOT NULL
     ORDER BY fc.settle_time_us, fc.market`,
  );
  const byKey = new Map<string, { cluster: string; y: number; p: Record<string, number> }>();
  const models = new Set<string>();
  for (const r of rows) {
    const key = `${r.run_id}|${r.market}`;
    let e = byKey.get(key);
    if (!e) byKey.set(key, (e = { cluster: String(r.settle_time_us), y: Number(r.outcome) === 1 ? 1 : 0, p: { market: r.p_market_mid as number } }));
    e.p[r.model as string] = r.p === null || r.p === undefined ? NaN : (r.p as number);
    models.add(r.model as string);
  }
  return { rows: [...byKey.values()], models: [...models].sort() };
}

/** Net PnL of one sweep config at one settlement time (the sum over the markets it traded there). */
export interface SweepPnlRow {
  readonly variantId: string;
  readonly settleTs: number;
  readonly pnl: number;
  readonly markets: number;
}

/**
 * A merged sweep store (lib/run/results.ts) as the SPA needs it: every config the sweep ran, every
 * settlement time at which some run of the sweep saw a market settle (the common sample; a config
 * that did not trade at a time made $0 there), and each config's net trade PnL per settlement time —
 * fills, exact fees and payout, as `loadTrades` computes it, summed over the config's runs (days).
 */
export async function loadSweepPnl(store: Store): Promise<{ configs: { variantId: string; name: string; runs: number }[]; times: number[]; rows: SweepPnlRow[] }> {
  const configs = (
    await queryObjects(store, `SELECT variant_id, any_value(variant_name) AS name, count(DISTINCT run_id) AS runs FROM sweep_results GROUP BY variant_id ORDER BY variant_id`)
  ).map((r) => ({ variantId: String(r.variant_id), name: String(r.name), runs: Number(r.runs) }));
  const common = `sr AS (SELECT DISTINCT run_id, variant_id FROM sweep_results),
     tm AS (SELECT run_id, market, max(settle_time_us) AS settle_time_us FROM opportunities GROUP BY run_id, market),
     st AS (SELECT run_id, market, sum(payout_micros)::BIGINT AS payout_micros FROM settlements GROUP BY run_id, market)`;
  const times = (
    await queryObjects(
      store,
      `WITH ${common}
       SELECT DISTINCT tm.settle_time_us FROM tm JOIN st USING (run_id, market) JOIN sr USING (run_id)
       WHERE tm.settle_time_us IS NOT NULL ORDER BY 1`,
    )
  ).map((r) => Number(r.settle_time_us));
  const rows = (
    await queryObjects(
      store,
      `WITH ${common},
       fl AS (
         SELECT run_id, market,
                sum(CASE WHEN action = 'sell' THEN price_e4 * count_e2 ELSE -price_e4 * count_e2 END - fee_micros)::BIGINT AS cash_micros
         FROM fills GROUP BY run_id, market
       )
       SELECT sr.variant_id, tm.settle_time_us, sum(fl.cash_micros + st.payout_micros)::BIGINT AS pnl_micros, count(*) AS markets
       FROM fl JOIN st USING (run_id, market) JOIN tm USING (run_id, market) JOIN sr USING (run_id)
       WHERE tm.settle_time_us IS NOT NULL
       GROUP BY sr.variant_id, tm.settle_time_us ORDER BY 1, 2`,
    )
  ).map((r) => ({ variantId: String(r.variant_id), settleTs: Number(r.settle_time_us), pnl: Number(r.pnl_micros) / 1e6, markets: Number(r.markets) }));
  return { configs, times, rows };
}
