/**
 * Real-data studies.
 *   tsx runners/study.ts spot-calibration [--csv FILE] [--json] [--ladder-step 0.0025] [--ladder-k 8] [--selection-days 7]
 *   tsx runners/study.ts market-calibration [--quotes FILE] [--settlements FILE] [--may-settlements FILE] [--json]
 * Default data: the real files bundled in fixtures/data/ (see its README for sources and licences).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { runMarketCalibration, summarizeSettlementFile } from "../lib/analysis/market-study.ts";
import type { MarketCalibration } from "../lib/analysis/market-study.ts";
import { parseCandleCsv, runSpotCalibration, spotTournament } from "../lib/analysis/spot-study.ts";
import type { SpotTournament } from "../lib/analysis/spot-study.ts";
import type { TournamentResult } from "../lib/analysis/tournament.ts";
import { BINANCE_BTCUSD_1M_CSV, DATA_DIR } from "../fixtures/data/paths.ts";

const DATA = DATA_DIR;

const f4 = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : "NaN");

function spotCalibration(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      csv: { type: "string", default: BINANCE_BTCUSD_1M_CSV },
      json: { type: "boolean", default: false },
      "selection-days": { type: "string", default: "7" },
      "ladder-step": { type: "string", default: "0.0025" },
      "ladder-k": { type: "string", default: "8" },
    },
  });
  const csv = z.string().min(1, "--csv FILE is required").parse(values.csv);
  const ladderStep = z.coerce.number().positive().max(0.5).parse(values["ladder-step"]);
  const ladderK = z.coerce.number().int().min(0).max(100).parse(values["ladder-k"]);
  const selectionDays = z.coerce.number().int().min(1).parse(values["selection-days"]);
  const r = runSpotCalibration(parseCandleCsv(readFileSync(csv, "utf8")), { ladderStep, ladderK });
  const { observations: _obs, ...summary } = r;
  const tour = spotTournament(r, { selectionDays });
  if (values.json) {
    const strip = (t: TournamentResult | null) => t && { ...t, scores: t.scores.map(({ reliability: _r, ...s }) => s) };
    console.log(JSON.stringify({ ...summary, tournament: { ...tour, all: strip(tour.all), selection: strip(tour.selection), holdout: strip(tour.holdout) } }));
    return;
  }
  console.log(`spot calibration — ${csv}`);
  console.log(`candles ${r.candles} (${r.candle_seconds}s, ${r.rejected_rows} rejected), settlements ${r.settlements} (${r.first_settle} → ${r.last_settle})`);
  console.log(`n ${r.n}  base rate ${f4(r.base_rate)}  mean sigma ${f4(r.mean_sigma)}`);
  console.log(`Brier ${f4(r.brier)}  log-loss ${f4(r.log_loss)}  ECE ${f4(r.ece)}  Brier(climatology) ${f4(r.brier_climatology)}  BSS ${f4(r.bss_climatology)}`);
  console.log(`informative (0.05<p<0.95): n ${r.informative.n}  Brier ${f4(r.informative.brier)}  clim ${f4(r.informative.brier_climatology)}  ECE ${f4(r.informative.ece)}`);
  for (const [tau, s] of Object.entries(r.by_tau)) {
    console.log(`  τ=${tau.padStart(2)} min: n ${s.n}  Brier ${f4(s.brier)}  LL ${f4(s.log_loss)}  ECE ${f4(s.ece)}  Var(z) ${f4(s.z_var)}  robust ${f4(s.z_var_robust)}`);
  }
  console.log("reliability (bin: mean p → observed, n):");
  for (const b of r.reliability) console.log(`  (${b.lo.toFixed(1)},${b.hi.toFixed(1)}] ${f4(b.meanPred)} → ${f4(b.obsFreq)}  (${b.count})`);
  const m = r.murphy;
  console.log(`Murphy: REL ${f4(m.reliability)}  RES ${f4(m.resolution)}  UNC ${f4(m.uncertainty)}  (+WBV ${f4(m.withinBinVariance)} −WBC ${f4(m.withinBinCovariance)})`);
  printTournament(tour);
}

const e5 = (x: number): string => (Number.isFinite(x) ? (x >= 0 ? "+" : "") + x.toFixed(5) : "NaN");

function printTournamentPart(title: string, t: TournamentResult): void {
  console.log(`\n${title}: n ${t.n} forecasts in ${t.clusters} clusters${t.dropped ? ` (${t.dropped} dropped: some model had no probability)` : ""}`);
  console.log(`  ${"model".padEnd(15)} ${"Brier".padStart(8)} ${"log-loss".padStart(8)} ${"ECE".padStart(7)} ${"slope".padStart(6)} ${"icpt".padStart(6)}  ΔBrier vs ${t.baseline} [95% cluster CI]          Δlog-loss [95% CI]`);
  for (const s of t.scores) {
    const d = s.dBrier;
    const l = s.dLogLoss;
    console.log(
      `  ${s.model.padEnd(15)} ${s.brier.toFixed(5).padStart(8)} ${s.logLoss.toFixed(5).padStart(8)} ${s.ece.toFixed(4).padStart(7)} ${s.recalibration.slope.toFixed(3).padStart(6)} ${s.recalibration.intercept.toFixed(3).padStart(6)}  ` +
        (d ? `${e5(d.mean)} [${e5(d.lo)}, ${e5(d.hi)}] ${d.verdict.padEnd(13)}` : "(baseline)".padEnd(44)) +
        (l ? ` ${e5(l.mean)} [${e5(l.lo)}, ${e5(l.hi)}]` : ""),
    );
  }
  const groups = Object.keys(t.scores[0]!.byGroup);
  if (groups.length) {
    console.log(`  ΔBrier vs ${t.baseline} by horizon:`);
    for (const s of t.scores) {
      if (s.model === t.baseline) continue;
      console.log(`    ${s.model.padEnd(15)} ` + groups.map((g) => { const d = s.byGroup[g]!.dBrier; return `${g} ${d ? `${e5(d.mean)} [${e5(d.lo)}, ${e5(d.hi)}]` : "–"}`; }).join("  "));
    }
  }
}

function printTournament(t: SpotTournament): void {
  console.log(`\nmodel tournament (baseline ${t.baseline}; calibration slope/intercept of logit(y) on logit(p); CIs: paired cluster bootstrap over settlement hours, 2000 resamples)`);
  printTournamentPart("all data (clusters = settlement hours)", t.all);
  printTournamentPart(`selection part (settlements before ${t.split})`, t.selection);
  if (t.holdout) printTournamentPart(`hold-out part (settlements from ${t.split})`, t.holdout);
  const c = t.holdout?.scores.find((s) => s.model === t.chosen);
  console.log(`\nchosen on the selection part: ${t.chosen} (lowest Brier among models not significantly worse than the baseline)`);
  if (c) {
    console.log(`out of sample: ${t.chosen} Brier ${c.brier.toFixed(5)}, ΔBrier vs ${t.baseline} ${c.dBrier ? `${e5(c.dBrier.mean)} [${e5(c.dBrier.lo)}, ${e5(c.dBrier.hi)}] (${c.dBrier.verdict})` : "(it is the baseline)"} → ${t.chosenHoldsUp ? "not significantly worse than the baseline" : "SIGNIFICANTLY WORSE than the baseline"}`);
  }
}

function printCal(name: string, c: MarketCalibration | null): void {
  if (!c) {
    console.log(`${name}: too few observations`);
    return;
  }
  console.log(`${name}: n ${c.n} polls over ${c.markets} markets, base rate ${f4(c.base_rate)}, Brier(climatology) ${f4(c.brier_climatology)}`);
  for (const k of ["bid", "ask", "mid"] as const) {
    const a = c.at[k];
    console.log(`  at ${k.padEnd(3)}: Brier ${f4(a.brier)}  log-loss ${f4(a.log_loss)}  ECE ${f4(a.ece)}  mean(y − p) ${f4(a.mean_gap)}`);
  }
  for (const [k, v] of Object.entries(c.by_minutes_to_close)) {
    console.log(`  ${k} min to close: n ${v.n}  Brier(mid) ${f4(v.brier_mid)}  clim ${f4(v.brier_climatology)}  ECE(mid) ${f4(v.ece_mid)}`);
  }
}

function marketCalibration(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      quotes: { type: "string", default: join(DATA, "kalshi_kxbtc15m_quotes_2026-02", "collection_20260202_024420.jsonl") },
      settlements: { type: "string", default: join(DATA, "kalshi_kxbtc15m_quotes_2026-02", "settlements.json") },
      "may-settlements": {
        type: "string",
        default: join(DATA, "kalshi_kxbtc15m_settlements_2026-05", "kxbtc15m_settlements_2026-05-13_to_15.jsonl"),
      },
      json: { type: "boolean", default: false },
    },
  });
  const r = runMarketCalibration(readFileSync(values.quotes!, "utf8"), readFileSync(values.settlements!, "utf8"));
  let may: ReturnType<typeof summarizeSettlementFile> | null = null;
  try {
    may = summarizeSettlementFile(readFileSync(values["may-settlements"]!, "utf8"));
  } catch {
    may = null; // optional context only
  }
  const { outcomes, ...rest } = r;
  const out = {
    ...rest,
    n: r.proxy?.n ?? 0,
    outcome_counts: {
      venue: outcomes.filter((o) => o.venue !== null).length,
      proxy: outcomes.filter((o) => o.proxy !== null).length,
      proxy_yes: outcomes.filter((o) => o.proxy === true).length,
    },
    may_2026_settlements: may,
  };
  if (values.json) {
    console.log(JSON.stringify(out));
    return;
  }
  console.log(`market calibration — ${r.polls} polls (${r.rejected_rows} rejected) over ${r.markets_polled} markets; ${r.venue_settlements} venue settlements on file`);
  console.log(`outcomes: venue-joined ${out.outcome_counts.venue} markets, proxy-settled ${out.outcome_counts.proxy} (${out.outcome_counts.proxy_yes} yes)`);
  console.log(`proxy vs venue: ${r.proxy_vs_venue.agree}/${r.proxy_vs_venue.compared} agree; proxy vs decisive final quote: ${r.proxy_vs_final_quote.agree}/${r.proxy_vs_final_quote.compared}`);
  printCal("venue-settled", r.venue);
  printCal("proxy-settled (all polls)", r.proxy);
  for (const [h, c] of Object.entries(r.proxy_at_horizon)) printCal(`proxy-settled, one poll per market ≥ ${h} min before close`, c);
  if (r.models_vs_market) {
    printTournamentPart(
      "the library's models beside the market (proxy-settled polls; strike = the spot proxy at the window's open, an approximation; clusters = markets)",
      r.models_vs_market,
    );
  } else console.log("models vs market: too few polls with a warm σ");
  if (may) console.log(`May-2026 settlements: ${may.yes}/${may.n} yes; strike = previous expiration value in ${may.strike_chain_ok}/${may.strike_chain_checked} back-to-back windows`);
}

const [cmd, ...rest] = process.argv.slice(2);
try {
  if (cmd === "spot-calibration") spotCalibration(rest);
  else if (cmd === "market-calibration") marketCalibration(rest);
  else {
    console.error("usage: tsx runners/study.ts spot-calibration [--csv FILE] [--json] [--ladder-step X] [--ladder-k K]\n       tsx runners/study.ts market-calibration [--quotes F] [--settlements F] [--json]");
    process.exit(2);
  }
} catch (err) {
  console.error(`study failed: ${(err as Error).message}`);
  process.exit(1);
}
