/**
 * Market calibration study on real KXBTC15M top-of-book polls: how well does the market-implied
 * probability — at the YES bid, the YES ask and their mid — forecast the outcome?
 *
 * Outcomes. The polls (Feb 2026) and the venue settlements recorded next to them barely overlap (the
 * bot checked other windows), so two outcome sources are used and reported separately:
 *  - "venue": the recorded `settlement_result`, joined by ticker (authoritative, tiny sample);
 *  - "proxy": the KXBTC15M rule is "the 60-s average at close ≥ the value at the window's open" (in the
 *    May-2026 settlements every strike equals the previous window's expiration value). With the poll
 *    file's own spot proxy (`brti`, a mean of three exchanges' spot, NOT the real BRTI) the outcome is
 *    approximated as mean(proxy polls in [close − 60 s, close + 30 s]) ≥ mean(proxy polls in
 *    [open − 60 s, open + 30 s]). Misclassification is possible near ties; its rate is estimated by
 *    agreement with the venue result where both exist and with a decisive final quote (bid ≥ 0.90 or
 *    ask ≤ 0.10 in the last 90 s).
 * Observations: every poll with a valid two-sided quote (0 < bid < ask < 1 is not required: a 0 bid is a
 * real quote), grouped by ticker for cluster statistics; also one poll per market at fixed horizons.
 */
import { z } from "zod";
import type { TsUs } from "../core/units.ts";
import { US_PER_S } from "../core/units.ts";
import { DEFAULT_ENGINE_CONFIG } from "../core/config.ts";
import type { ProbabilityModel } from "../core/models.ts";
import { BipowerVol, defaultModelRegistry } from "../core/models.ts";
import { createVolEstimator } from "../core/volatility.ts";
import type { ReliabilityBin } from "./stats.ts";
import { brier, brierClimatology, ece, logLoss, mean, reliabilityCurve } from "./stats.ts";
import type { TournamentResult, TournamentRow } from "./tournament.ts";
import { runTournament } from "./tournament.ts";

export interface QuotePoll {
  readonly ts: TsUs;
  readonly ticker: string;
  readonly yesBid: number;
  readonly yesAsk: number;
  readonly proxy: number;
}

const PollRow = z.object({
  t: z.string(),
  brti: z.number().positive().nullable().optional(),
  kalshi: z.object({
    ticker: z.string().min(1),
    yes_bid: z.number().min(0).max(1),
    yes_ask: z.number().min(0).max(1),
  }),
});

const VenueSettlement = z.object({
  ticker: z.string(),
  close_time: z.string(),
  settlement_result: z.enum(["yes", "no"]),
});

function naiveUtcToUs(t: string): number {
  const iso = /(Z|[+-]\d{2}:?\d{2})$/.test(t) ? t : t + "Z";
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})$/.exec(iso);
  if (!m) return NaN;
  const base = Date.parse(m[1]! + m[3]!);
  return base * 1000 + Number((m[2] ?? "").slice(0, 6).padEnd(6, "0"));
}

export function parsePolls(jsonl: string): { polls: QuotePoll[]; rejected: number } {
  const polls: QuotePoll[] = [];
  let rejected = 0;
  for (const line of jsonl.split(/\r?\n/)) {
    if (!line.trim()) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      rejected++;
      continue;
    }
    const r = PollRow.safeParse(obj);
    const ts = r.success ? naiveUtcToUs(r.data.t) : NaN;
    if (!r.success || !Number.isFinite(ts) || r.data.kalshi.yes_ask < r.data.kalshi.yes_bid) {
      rejected++;
      continue;
    }
    polls.push({ ts, ticker: r.data.kalshi.ticker, yesBid: r.data.kalshi.yes_bid, yesAsk: r.data.kalshi.yes_ask, proxy: r.data.brti ?? NaN });
  }
  polls.sort((a, b) => a.ts - b.ts);
  return { polls, rejected };
}

export function parseVenueSettlements(json: string): Map<string, { closeTs: TsUs; yes: boolean }> {
  const arr = z.array(VenueSettlement).parse(JSON.parse(json));
  return new Map(arr.map((s) => [s.ticker, { closeTs: naiveUtcToUs(s.close_time), yes: s.settlement_result === "yes" }]));
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

/** UTC offset of US Eastern time (hours) at a UTC instant: DST from 2nd Sunday of March 07:00 UTC to 1st Sunday of November 06:00 UTC. */
function easternOffsetHours(utcMs: number): number {
  const y = new Date(utcMs).getUTCFullYear();
  const nthSunday = (month: number, n: number): number => {
    const first = new Date(Date.UTC(y, month, 1)).getUTCDay();
    return 1 + ((7 - first) % 7) + 7 * (n - 1);
  };
  const start = Date.UTC(y, 2, nthSunday(2, 2), 7);
  const end = Date.UTC(y, 10, nthSunday(10, 1), 6);
  return utcMs >= start && utcMs < end ? -4 : -5;
}

/** Close time of a KXBTC15M ticker: "KXBTC15M-26FEB020300-00" = 2026-02-02 03:00 US/Eastern. */
export function kxbtc15mCloseUs(ticker: string): number {
  const m = /-(\d{2})([A-Z]{3})(\d{2})(\d{2})(\d{2})(?:-|$)/.exec(ticker);
  if (!m) return NaN;
  const mon = MONTHS.indexOf(m[2]!);
  if (mon < 0) return NaN;
  const local = Date.UTC(2000 + Number(m[1]), mon, Number(m[3]), Number(m[4]), Number(m[5]));
  // Try EST first, then check the offset at the resulting instant (DST switch hours are ambiguous anyway).
  let utc = local + 5 * 3600_000;
  if (easternOffsetHours(utc) === -4) utc = local + 4 * 3600_000;
  return utc * 1000;
}

export interface MarketOutcome {
  readonly ticker: string;
  readonly closeTs: TsUs;
  readonly venue: boolean | null;
  readonly proxy: boolean | null;
  /** From the last decisive quote in the final 90 s (bid ≥ .9 → yes, ask ≤ .1 → no), else null. */
  readonly finalQuote: boolean | null;
}

export interface MarketCalibration {
  readonly n: number;
  readonly markets: number;
  readonly base_rate: number;
  readonly brier_climatology: number;
  readonly at: Record<"bid" | "ask" | "mid", { brier: number; log_loss: number; ece: number; mean_gap: number }>;
  readonly reliability_mid: ReliabilityBin[];
  readonly by_minutes_to_close: Record<string, { n: number; brier_mid: number; brier_climatology: number; ece_mid: number }>;
}

export interface MarketStudyResult {
  readonly polls: number;
  readonly rejected_rows: number;
  readonly markets_polled: number;
  readonly venue_settlements: number;
  readonly outcomes: MarketOutcome[];
  readonly proxy_vs_venue: { compared: number; agree: number };
  readonly proxy_vs_final_quote: { compared: number; agree: number };
  readonly venue: MarketCalibration | null;
  readonly proxy: MarketCalibration | null;
  /** One poll per market: the last one at least H minutes before close. */
  readonly proxy_at_horizon: Record<string, MarketCalibration | null>;
  /**
   * The library's models beside the market on the proxy-settled polls (every poll with a proxy spot
   * and a warm σ), baseline = the market mid, clusters = markets (one close time each). Strike = the
   * proxy at the window's open — the same approximation that settles the outcome.
   */
  readonly models_vs_market: TournamentResult | null;
}

function mid(p: QuotePoll): number {
  return (p.yesBid + p.yesAsk) / 2;
}

export function calibrate(rows: readonly { poll: QuotePoll; y: 0 | 1; closeTs: TsUs }[], bins = 10): MarketCalibration | null {
  if (rows.length < 2) return null;
  const y = rows.map((r) => r.y);
  const forecasts = {
    bid: rows.map((r) => r.poll.yesBid),
    ask: rows.map((r) => r.poll.yesAsk),
    mid: rows.map((r) => mid(r.poll)),
  };
  const at = {} as MarketCalibration["at"];
  for (const k of ["bid", "ask", "mid"] as const) {
    const p = forecasts[k];
    at[k] = { brier: brier(p, y), log_loss: logLoss(p, y), ece: ece(p, y, { bins }), mean_gap: mean(y) - mean(p) };
  }
  const byMin: MarketCalibration["by_minutes_to_close"] = {};
  for (const [lo, hi] of [[0, 5], [5, 10], [10, 15]] as const) {
    const sub = rows.filter((r) => {
      const m = (r.closeTs - r.poll.ts) / 60 / US_PER_S;
      return m > lo && m <= hi;
    });
    if (sub.length < 2) continue;
    const sy = sub.map((r) => r.y);
    const sp = sub.map((r) => mid(r.poll));
    byMin[`${lo}-${hi}`] = { n: sub.length, brier_mid: brier(sp, sy), brier_climatology: brierClimatology(sy), ece_mid: ece(sp, sy, { bins }) };
  }
  return {
    n: rows.length,
    markets: new Set(rows.map((r) => r.poll.ticker)).size,
    base_rate: mean(y),
    brier_climatology: brierClimatology(y),
    at,
    reliability_mid: reliabilityCurve(forecasts.mid, y, { bins }),
    by_minutes_to_close: byMin,
  };
}

export function runMarketCalibration(
  pollsText: string,
  settlementsJson: string,
  opts: { horizons?: readonly number[]; bins?: number } = {},
): MarketStudyResult {
  const { polls, rejected } = parsePolls(pollsText);
  const venue = parseVenueSettlements(settlementsJson);
  const byTicker = new Map<string, QuotePoll[]>();
  for (const p of polls) {
    const l = byTicker.get(p.ticker) ?? [];
    l.push(p);
    byTicker.set(p.ticker, l);
  }
  const proxyAround = (t: number): number => {
    const xs = polls.filter((p) => p.ts >= t - 60 * US_PER_S && p.ts <= t + 30 * US_PER_S && p.proxy > 0).map((p) => p.proxy);
    return xs.length ? mean(xs) : NaN;
  };
  const outcomes: MarketOutcome[] = [];
  for (const [ticker, ps] of byTicker) {
    const closeTs = venue.get(ticker)?.closeTs ?? kxbtc15mCloseUs(ticker);
    if (!Number.isFinite(closeTs)) continue;
    const atOpen = proxyAround(closeTs - 15 * 60 * US_PER_S);
    const atClose = proxyAround(closeTs);
    const proxy = Number.isFinite(atOpen) && Number.isFinite(atClose) ? atClose >= atOpen : null;
    const late = ps.filter((p) => p.ts <= closeTs && p.ts >= closeTs - 90 * US_PER_S);
    const last = late[late.length - 1];
    const finalQuote = last ? (last.yesBid >= 0.9 ? true : last.yesAsk <= 0.1 ? false : null) : null;
    outcomes.push({ ticker, closeTs, venue: venue.get(ticker)?.yes ?? null, proxy, finalQuote });
  }
  outcomes.sort((a, b) => a.closeTs - b.closeTs);
  const agree = (a: (o: MarketOutcome) => boolean | null, b: (o: MarketOutcome) => boolean | null) => {
    const both = outcomes.filter((o) => a(o) !== null && b(o) !== null);
    return { compared: both.length, agree: both.filter((o) => a(o) === b(o)).length };
  };
  const rowsFor = (pick: (o: MarketOutcome) => boolean | null) =>
    outcomes.flatMap((o) => {
      const v = pick(o);
      if (v === null) return [];
      // Only polls while the market was open (before its close).
      return (byTicker.get(o.ticker) ?? []).filter((p) => p.ts < o.closeTs).map((poll) => ({ poll, y: (v ? 1 : 0) as 0 | 1, closeTs: o.closeTs }));
    });
  const proxyRows = rowsFor((o) => o.proxy);
  const atHorizon: Record<string, MarketCalibration | null> = {};
  for (const h of opts.horizons ?? [10, 5, 2]) {
    const one = new Map<string, (typeof proxyRows)[number]>();
    for (const r of proxyRows) if (r.closeTs - r.poll.ts >= h * 60 * US_PER_S) one.set(r.poll.ticker, r); // last such poll wins
    atHorizon[String(h)] = calibrate([...one.values()], opts.bins ?? 10);
  }
  // Models on the polls: σ from the library's EWMA estimator (and bipower σ) on the proxy stream,
  // 30-s grid (the polls' spacing), 15-min half-life, 20 returns of warm-up.
  const cfg = DEFAULT_ENGINE_CONFIG;
  const reg = defaultModelRegistry();
  const models: ProbabilityModel[] = [
    reg.create("diffusion", cfg.model),
    reg.create({ name: "student-t", params: { nu: 5 } }, cfg.model),
    reg.create("jump-robust", cfg.model),
    reg.create("ewma-lognormal", cfg.model),
  ];
  const grid = 30;
  const vol = createVolEstimator({ ...cfg.vol, gridSeconds: grid, maxGapSeconds: 3 * grid, minSamples: 20 });
  const robust = new BipowerVol(grid, cfg.vol.ewmaHalfLifeSeconds, 20);
  const strikeOf = new Map<string, { strike: number; closeTs: TsUs; y: 0 | 1 }>();
  for (const o of outcomes) {
    if (o.proxy === null) continue;
    const k = proxyAround(o.closeTs - 15 * 60 * US_PER_S);
    if (Number.isFinite(k)) strikeOf.set(o.ticker, { strike: k, closeTs: o.closeTs, y: o.proxy ? 1 : 0 });
  }
  const rowsM: TournamentRow[] = [];
  let lastGrid = NaN;
  let lastGridPx = NaN;
  for (const p of polls) {
    if (!(p.proxy > 0)) continue;
    vol.onMid(p.ts, p.proxy);
    const cell = Math.floor(p.ts / (grid * US_PER_S));
    if (cell !== lastGrid) {
      robust.push(Number.isFinite(lastGrid) && cell - lastGrid <= 3 ? Math.log(p.proxy / lastGridPx) / Math.sqrt(cell - lastGrid) : NaN);
      lastGrid = cell;
      lastGridPx = p.proxy;
    }
    const m = strikeOf.get(p.ticker);
    const sigma = vol.sigma();
    if (!m || p.ts >= m.closeTs || !Number.isFinite(sigma)) continue;
    const input = {
      spot: p.proxy, sigma, sigmaRobust: robust.sigma(), now: p.ts, settleTime: m.closeTs, strikeType: "greater_or_equal" as const,
      floorStrike: m.strike, capStrike: NaN, observedSum: 0, observedCount: 0,
    };
    const pr: Record<string, number> = { market: mid(p) };
    for (const mo of models) pr[mo.name] = mo.probability(input);
    rowsM.push({ cluster: p.ticker, y: m.y, p: pr });
  }
  let modelsVsMarket: TournamentResult | null = null;
  try {
    modelsVsMarket = runTournament(rowsM, ["market", ...models.map((m) => m.name)], "market", { reps: 2000, bins: opts.bins ?? 10 });
  } catch {
    modelsVsMarket = null;
  }
  return {
    models_vs_market: modelsVsMarket,
    polls: polls.length,
    rejected_rows: rejected,
    markets_polled: byTicker.size,
    venue_settlements: venue.size,
    outcomes,
    proxy_vs_venue: agree((o) => o.proxy, (o) => o.venue),
    proxy_vs_final_quote: agree((o) => o.proxy, (o) => o.finalQuote),
    venue: calibrate(rowsFor((o) => o.venue), opts.bins ?? 10),
    proxy: calibrate(proxyRows, opts.bins ?? 10),
    proxy_at_horizon: atHorizon,
  };
}

/** Base rate and strike rule check on the May-2026 settlements (strike = previous expiration value). */
export function summarizeSettlementFile(jsonl: string): { n: number; yes: number; strike_chain_ok: number; strike_chain_checked: number } {
  const Row = z.object({ close_time: z.string(), strike: z.number(), expiration_value: z.coerce.number(), result: z.enum(["yes", "no"]) });
  const rows = jsonl
    .split(/\r?\n/)
    .filter((l) => l.trim())
    .map((l) => Row.parse(JSON.parse(l)))
    .sort((a, b) => a.close_time.localeCompare(b.close_time));
  let ok = 0;
  let checked = 0;
  for (let i = 1; i < rows.length; i++) {
    const gap = Date.parse(rows[i]!.close_time) - Date.parse(rows[i - 1]!.close_time);
    if (gap !== 15 * 60_000) continue;
    checked++;
    if (Math.abs(rows[i]!.strike - rows[i - 1]!.expiration_value) < 0.005) ok++;
  }
  return { n: rows.length, yes: rows.filter((r) => r.result === "yes").length, strike_chain_ok: ok, strike_chain_checked: checked };
}
