/**
 * Edge report: reads evaluations and outcomes from the store, runs the tests of EDGE_VALIDATION.md and
 * writes DIR/index.html with inline SVG charts plus the same charts as PNG files.
 *
 *   tsx runners/report.ts [--db PATH] [--run ID | --from YYYY-MM-DD --to YYYY-MM-DD] [--out DIR]
 *                         [--forecast last|all] [--cutoff-min M] [--trials N] [--sweep DIR]
 *   tsx runners/report.ts --freeze RUN [--note TEXT]     freeze RUN's model + config as of now
 *
 * Out of sample = forecasts made and trades entered after the freeze of the run's config hash (table model_freezes); without
 * a freeze the report can only say "in-sample". --trials: how many configs/models were tried before
 * this one (deflates the Sharpe ratio). --sweep DIR: a research sweep's output (npm run sweep): the
 * store defaults to DIR/sweep.duckdb and trials to at least the configs the sweep tried on any machine.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Resvg } from "@resvg/resvg-js";
import { z } from "zod";
import { COLORS, evBinChart, messageChart, reliabilityChart, sampleCountChart, timeSeriesChart } from "../lib/analysis/charts.ts";
import type { EdgeReport, ForecastObs, PartVerdict } from "../lib/analysis/edge.ts";
import { ALPHA, CLUSTER_STAGES, evaluateEdge } from "../lib/analysis/edge.ts";
import type { ForecastFilter } from "../lib/analysis/load.ts";
import { loadForecasts, loadFreeze, loadRealizedPnl, loadSweepPnl, loadTournamentRows, loadTrades } from "../lib/analysis/load.ts";
import type { SpaResult } from "../lib/analysis/stats.ts";
import { brierLosses, evBinMonotonicity, spaTest } from "../lib/analysis/stats.ts";
import type { SweepSpa, TournamentResult } from "../lib/analysis/tournament.ts";
import { runTournament, sweepSpa } from "../lib/analysis/tournament.ts";
import { configsTried } from "../lib/run/results.ts";
import { freezeRun, openStore, resolveDbPath } from "../lib/store/db.ts";

const Args = z.object({
  db: z.string().min(1).optional(),
  run: z.string().min(1).optional(),
  from: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "dates are YYYY-MM-DD").optional(),
  to: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "dates are YYYY-MM-DD").optional(),
  out: z.string().min(1).default("reports/latest"),
  forecast: z.enum(["last", "all"]).default("last"),
  "cutoff-min": z.coerce.number().min(0).default(0),
  trials: z.coerce.number().int().min(1).default(1),
  sweep: z.string().min(1).optional(),
});

export function svgToPng(svg: string): Buffer {
  return new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" }, background: "white" }).render().asPng();
}

const f4 = (x: number | undefined | null): string => (x === undefined || x === null || !Number.isFinite(x) ? "–" : x.toFixed(4));
const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export interface ReportCharts {
  [file: string]: string;
}

export function buildCharts(obs: readonly ForecastObs[], rep: EdgeReport, realized: { ts: number; pnlMicros: number }[]): ReportCharts {
  const charts: ReportCharts = {};
  charts["reliability.svg"] = reliabilityChart(
    [
      { label: "model", color: COLORS.model, bands: rep.reliabilityModel },
      { label: "market (mid)", color: COLORS.market, bands: rep.reliabilityMarket },
    ],
    "Reliability: model vs market",
  );
  // Diagnostic only (not a verdict test): hypothetical one-contract PnL per predicted-EV quintile.
  const withEv = obs.filter((o) => Number.isFinite(o.ev) && Number.isFinite(o.pnl));
  charts["ev_bins.svg"] =
    withEv.length >= 10
      ? evBinChart(evBinMonotonicity(withEv.map((o) => o.ev), withEv.map((o) => o.pnl), { bins: 5 }).bins)
      : messageChart("Realized PnL by predicted-EV bin", "fewer than 10 evaluations with quotes and outcomes");
  const sorted = [...obs].sort((a, b) => a.settleTs - b.settleTs);
  let cumB = 0;
  const brierAdv = sorted.map((o) => {
    cumB += (o.pMarket - o.y) ** 2 - (o.pModel - o.y) ** 2;
    return [o.settleTs, cumB] as const;
  });
  charts["cum_brier.svg"] = timeSeriesChart(
    [{ label: "Σ (Brier market − Brier model)  (> 0: model better)", color: COLORS.model, points: brierAdv }],
    "Cumulative Brier advantage of the model",
    "cumulative Brier difference",
  );
  let cumH = 0;
  const hypo = sorted
    .filter((o) => Number.isFinite(o.pnl) && o.ev > 0)
    .map((o) => {
      cumH += o.pnl;
      return [o.settleTs, cumH] as const;
    });
  let cumR = 0;
  const real = realized.map((r) => {
    cumR += r.pnlMicros / 1e6;
    return [r.ts, cumR] as const;
  });
  charts["cum_pnl.svg"] = timeSeriesChart(
    [
      { label: "hypothetical: 1 contract when predicted EV > 0", color: COLORS.model, points: hypo },
      { label: "realized (engine settlements)", color: COLORS.market, points: real },
    ],
    "Cumulative PnL ($)",
    "PnL ($)",
  );
  charts["sample_counts.svg"] = sampleCountChart(
    [
      { label: "forecast clusters", n: rep.clusters },
      { label: "trade clusters, in-sample", n: rep.inSample.pnl.clusters },
      { label: "trade clusters, out-of-sample", n: rep.outOfSample?.pnl.clusters ?? 0 },
    ],
    [
      { n: CLUSTER_STAGES.noise, label: `${CLUSTER_STAGES.noise} kill bad` },
      { n: CLUSTER_STAGES.killBad, label: `${CLUSTER_STAGES.killBad} tests` },
      { n: CLUSTER_STAGES.tests, label: `${CLUSTER_STAGES.tests} OOS` },
    ],
    "Independent settlement clusters vs stage thresholds",
  );
  return charts;
}

const p4 = (x: number | undefined | null): string => (x === undefined || x === null || !Number.isFinite(x) ? "–" : x !== 0 && Math.abs(x) < 1e-4 ? x.toExponential(1) : x.toFixed(4));

export interface ModelTournament {
  readonly result: TournamentResult | null;
  readonly spa: SpaResult | null;
  readonly note: string;
}

/** Replay tournament from the `forecasts` table: every model vs the baseline, and SPA vs the market. */
export function tournamentOf(rows: Awaited<ReturnType<typeof loadTournamentRows>>): ModelTournament {
  const models = ["market", ...rows.models];
  if (rows.models.length === 0) return { result: null, spa: null, note: "no forecasts table rows for this selection (replay with a store and --models)" };
  const ok = rows.rows.filter((r) => models.every((m) => Number.isFinite(r.p[m])));
  if (ok.length < 3) return { result: null, spa: null, note: `only ${ok.length} settled markets with a forecast from every model` };
  const baseline = rows.models.includes("ewma-lognormal") ? "ewma-lognormal" : "market";
  const result = runTournament(ok, models, baseline, { reps: 1000 });
  const y = ok.map((r) => r.y);
  const lm = brierLosses(ok.map((r) => r.p.market!), y);
  const d = rows.models.map((m) => brierLosses(ok.map((r) => r.p[m]!), y).map((l, i) => lm[i]! - l));
  let spa: SpaResult | null = null;
  try {
    spa = spaTest(d, ok.map((r) => r.cluster), { reps: 999 });
  } catch {
    spa = null;
  }
  return { result, spa, note: "" };
}

function partHtml(v: PartVerdict | null, title: string): string {
  if (!v) return `<h3>${esc(title)}</h3><p>Not frozen: there is no out-of-sample part.</p>`;
  const f = v.forecasts;
  const pnl = v.pnl;
  const pass = (b: boolean) => (b ? `<b style="color:${COLORS.good}">pass</b>` : `<b style="color:${COLORS.bad}">fail</b>`);
  const rows: string[] = [];
  rows.push(`<tr><td>P1 primary: PnL of the trade rule</td><td>${pnl.trades} traded markets, K = ${pnl.clusters}; total $${p4(pnl.totalPnl)}, mean $${p4(pnl.meanPerTrade)} per market (t(K−1) ${p4(pnl.cluster?.t)}, 95 % CI [${p4(pnl.cluster?.lo)}, ${p4(pnl.cluster?.hi)}])</td><td>${pnl.method}: p ${p4(pnl.pValue)}; Holm ${p4(v.holm.pnl)}</td><td>${pass(v.holm.pnl < ALPHA)}</td></tr>`);
  if (f) {
    rows.push(`<tr><td>F1 ΔBrier model − mid</td><td>${p4(f.dBrier.mean)} (Brier model ${p4(f.brierModel)}; at mid ${p4(f.brierAt.mid)}, bid ${p4(f.brierAt.bid)}, ask ${p4(f.brierAt.ask)}, recalibrated market ${p4(f.brierAt.recalibrated)})</td><td>clustered t(${f.dBrier.df}) p ${p4(f.dBrier.pLess)}; Holm ${p4(v.holm.brier)}</td><td>${pass(v.holm.brier < ALPHA)} (supporting)</td></tr>`);
    rows.push(`<tr><td>F2 Δlog-loss model − mid</td><td>${p4(f.dLogLoss.mean)}</td><td>clustered t p ${p4(f.dLogLoss.pLess)}</td><td>reported</td></tr>`);
    if (f.dBrierRecal) rows.push(`<tr><td>F3 ΔBrier model − recalibrated market</td><td>${p4(f.dBrierRecal.mean)}</td><td>clustered t p ${p4(f.dBrierRecal.pLess)}</td><td>reported</td></tr>`);
    rows.push(`<tr><td>F4 encompassing: y − mid = λ (model − mid)</td><td>λ ${p4(f.encompassing.lambda)} (se ${p4(f.encompassing.se)})</td><td>t(${f.encompassing.df}) p ${p4(f.encompassing.pValue)}; Holm ${p4(v.holm.encompassing)}</td><td>${pass(v.holm.encompassing < ALPHA)} (supporting)</td></tr>`);
    rows.push(`<tr><td>C1 calibration: logit(y) = a + b·logit(p)</td><td>model a ${p4(f.calibration.intercept)}, b ${p4(f.calibration.slope)}; market a ${p4(f.calibrationMarket.intercept)}, b ${p4(f.calibrationMarket.slope)}; ECE ${p4(f.eceModel)}</td><td>F(2, ${Math.max(1, f.calibration.clusters - 1)}) p ${p4(f.calibration.pValue)}</td><td>${pass(f.calibrated)}</td></tr>`);
  }
  rows.push(`<tr><td>Sharpe (per settlement cluster)</td><td>SR ${p4(pnl.sharpe.sharpe)}, skew ${p4(pnl.sharpe.skew)}, kurtosis ${p4(pnl.sharpe.kurtosis)}</td><td>deflated Sharpe (${pnl.sharpe.trials} trials, SR₀ ${p4(pnl.sharpe.sr0)}): ${p4(pnl.sharpe.dsr)}</td><td>reported</td></tr>`);
  return `<h3>${esc(title)} — stage ${v.stage}, edge: ${v.edge ? "yes" : "no"}</h3>
<table><tr><th>test</th><th>estimate</th><th>p-value</th><th>at α = ${ALPHA}</th></tr>${rows.join("\n")}</table>
<p><i>Power:</i> ${esc(v.power)}</p>`;
}

function tournamentHtml(t: ModelTournament): string {
  if (!t.result) return `<p>${esc(t.note)}</p>`;
  const r = t.result;
  const rows = r.scores.map((s) => `<tr><td>${esc(s.model)}</td><td>${p4(s.brier)}</td><td>${p4(s.logLoss)}</td><td>${p4(s.ece)}</td><td>${p4(s.recalibration.slope)}</td><td>${s.dBrier ? `${p4(s.dBrier.mean)} [${p4(s.dBrier.lo)}, ${p4(s.dBrier.hi)}] ${s.dBrier.verdict}` : "(baseline)"}</td></tr>`);
  const spa = t.spa ? `Hansen SPA over the ${t.spa.m} models vs the market mid (Brier): best ${esc(r.scores[t.spa.best + 1]?.model ?? "?")}, SPA_c p ${p4(t.spa.pSpa)}, SPA_u p ${p4(t.spa.pSpaUpper)} (White's Reality Check p ${p4(t.spa.pRealityCheck)}; ${t.spa.clusters} clusters; wild cluster bootstrap, re-studentized).` : "";
  return `<p>${r.n} settled markets in ${r.clusters} settlement clusters; baseline ${esc(r.baseline)}; 95 % paired cluster-bootstrap CIs.</p>
<table><tr><th>model</th><th>Brier</th><th>log-loss</th><th>ECE</th><th>calibration slope</th><th>ΔBrier vs baseline</th></tr>${rows.join("\n")}</table><p>${spa}</p>`;
}

/** One line on the sweep's data-snooping test (also printed by the CLI). */
export function sweepSpaLine(s: SweepSpa): string {
  if (!s.spa) return `sweep SPA: ${s.note}`;
  const best = s.configs.find((c) => c.variantId === s.best);
  return `sweep SPA over ${s.spa.m} configs, ${s.times} settlement times (benchmark: no trade): best ${best?.name ?? "?"} ` +
    `($${p4(best?.totalPnl)} total, t ${p4(best?.t)}), SPA_c p ${p4(s.spa.pSpa)}, SPA_u p ${p4(s.spa.pSpaUpper)}, Reality Check p ${p4(s.spa.pRealityCheck)}`;
}

function sweepHtml(s: SweepSpa | null): string {
  if (!s) return "";
  const rows = s.configs.map((c) => `<tr><td>${esc(c.name)}</td><td>${c.tradedTimes}</td><td>${p4(c.totalPnl)}</td><td>${p4(c.meanPerTime)}</td><td>${p4(c.t)}</td></tr>`);
  return `<h2>Configs of the sweep (data snooping)</h2><p>${esc(sweepSpaLine(s))}. Edge for the best config needs SPA p &lt; ${ALPHA}; the per-config t ignores the search and is not a test.</p>
<table><tr><th>config</th><th>settlement times traded</th><th>PnL $</th><th>mean $ per settlement time</th><th>t</th></tr>${rows.join("\n")}</table>`;
}

export function renderHtml(rep: EdgeReport, charts: ReportCharts, meta: { filter: string; db: string; evaluations: number; unresolved: number; tournament: ModelTournament; sweep?: SweepSpa | null }): string {
  const img = (file: string, alt: string) =>
    `<figure>${charts[file]}<figcaption>${esc(alt)} — <a href="${file.replace(".svg", ".png")}">PNG</a></figcaption></figure>`;
  const wf = rep.walkForward.length
    ? `<table><tr><th>test day</th><th>traded markets</th><th>PnL $</th><th>ΔBrier model − mid</th></tr>${rep.walkForward.map((w) => `<tr><td>${w.testDays.join(", ")}</td><td>${w.trades}</td><td>${p4(w.pnl)}</td><td>${p4(w.dBrier)}</td></tr>`).join("")}</table>`
    : "<p>fewer than two UTC days of settlements: no walk-forward folds</p>";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Edge report</title>
<style>body{font-family:DejaVu Sans,Arial,sans-serif;max-width:1340px;margin:24px auto;padding:0 16px;color:#222}
.verdict{font-size:22px;font-weight:bold;padding:12px 16px;border-radius:6px;background:#f3f3f3;border-left:6px solid ${rep.verdict === "edge out-of-sample" ? COLORS.good : rep.verdict === "edge in-sample only" ? COLORS.market : COLORS.bad}}
table{border-collapse:collapse;font-size:13px;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
figure{display:inline-block;margin:8px}figcaption{font-size:12px;color:#555}</style></head><body>
<h1>Edge report</h1>
<p>Store <code>${esc(meta.db)}</code>, selection: ${esc(meta.filter)}. Evaluations considered: ${meta.evaluations}; without a resolved outcome yet: ${meta.unresolved}.
Frozen: ${Number.isFinite(rep.freezeTs) ? new Date(rep.freezeTs / 1000).toISOString() : "no"}.</p>
<p class="verdict">Verdict: ${esc(rep.verdictLine)}</p>
<p><b>Power:</b> ${esc(rep.powerLine)}</p>
${rep.notes.length ? `<ul>${rep.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : ""}
<p>Edge requires: P1 (one-sided, Holm-adjusted over {P1, F1, F4}) &lt; ${ALPHA}, calibration not rejected (C1 p ≥ ${ALPHA}), and ≥ ${CLUSTER_STAGES.tests} independent settlement clusters with trades — on decisions made after the freeze for "edge out-of-sample" (a decision before it that settles after it is in neither part). Clusters are settlement times. See EDGE_VALIDATION.md.</p>
${partHtml(rep.outOfSample, "Out of sample (decisions after the freeze)")}
${partHtml(rep.inSample, Number.isFinite(rep.freezeTs) ? "In sample (settlements up to the freeze)" : "All data (not frozen: in-sample)")}
<h2>Model tournament (forecasts table)</h2>
${tournamentHtml(meta.tournament)}
${sweepHtml(meta.sweep ?? null)}
<h2>Walk-forward (one UTC day at a time)</h2>
${wf}
<h2>Charts</h2>
${img("reliability.svg", "Reliability diagram, model vs market")}
${img("ev_bins.svg", "Realized PnL per predicted-EV bin")}
${img("cum_pnl.svg", "Cumulative PnL")}
${img("cum_brier.svg", "Cumulative Brier advantage")}
${img("sample_counts.svg", "Clusters vs stage thresholds")}
</body></html>
`;
}

export async function runReport(argv: string[]): Promise<{ out: string; report: EdgeReport; tournament: ModelTournament; sweep: SweepSpa | null }> {
  const { values } = parseArgs({
    args: argv,
    options: {
      db: { type: "string" },
      run: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      out: { type: "string" },
      forecast: { type: "string" },
      "cutoff-min": { type: "string" },
      trials: { type: "string" },
      sweep: { type: "string" },
    },
  });
  const a = Args.parse(values);
  if (a.run && (a.from || a.to)) throw new Error("use either --run or --from/--to, not both");
  const dbPath = resolveDbPath(a.db ?? (a.sweep ? join(a.sweep, "sweep.duckdb") : undefined));
  // A sweep's multiple-testing count: every config it tried, wherever it ran (lib/run/results.ts).
  const trials = a.sweep ? Math.max(a.trials, configsTried(a.sweep)) : a.trials;
  const store = await openStore(dbPath);
  try {
    const filter: ForecastFilter = { forecast: a.forecast, cutoffMinutes: a["cutoff-min"] };
    if (a.run) filter.runId = a.run;
    if (a.from) filter.from = a.from;
    if (a.to) filter.to = a.to;
    const loaded = await loadForecasts(store, filter);
    const realized = await loadRealizedPnl(store, filter);
    const { trades } = await loadTrades(store, filter);
    const freeze = await loadFreeze(store, a.run);
    const rep = evaluateEdge(loaded.obs, trades, { freezeTs: freeze.frozenUs, trials });
    const tournament = tournamentOf(await loadTournamentRows(store, filter));
    // SPA / Reality Check across every config of the sweep (the whole merged store, not the selection)
    const sweepPnl = a.sweep ? await loadSweepPnl(store) : null;
    const sweep = sweepPnl ? sweepSpa(sweepPnl.configs, sweepPnl.times, sweepPnl.rows) : null;
    const charts = buildCharts(loaded.obs, rep, realized);
    mkdirSync(a.out, { recursive: true });
    for (const [file, svg] of Object.entries(charts)) {
      writeFileSync(join(a.out, file), svg);
      writeFileSync(join(a.out, file.replace(/\.svg$/, ".png")), svgToPng(svg));
    }
    const filterText = `${a.run ? `run ${a.run}` : a.from || a.to ? `${a.from ?? "…"} → ${a.to ?? "…"}` : "all runs"}; forecast = ${a.forecast} evaluation per market${a.forecast === "last" ? ` ≥ ${a["cutoff-min"]} min before settlement` : " (clustered by settlement time)"}`;
    writeFileSync(join(a.out, "index.html"), renderHtml(rep, charts, { filter: filterText, db: dbPath, evaluations: loaded.evaluations, unresolved: loaded.unresolved, tournament, sweep }));
    const { reliabilityModel: _m, reliabilityMarket: _k, ...summary } = rep;
    const t = tournament.result ? { ...tournament.result, scores: tournament.result.scores.map(({ reliability: _r, ...x }) => x) } : null;
    writeFileSync(join(a.out, "summary.json"), JSON.stringify({ ...summary, tournament: t, spa: tournament.spa, sweep }, null, 2));
    return { out: a.out, report: rep, tournament, sweep };
  } finally {
    await store.close();
  }
}

/** `--freeze RUN [--note TEXT]`: record now (wall clock) as the freeze of RUN's config hash. */
export async function runFreeze(argv: string[]): Promise<{ configHash: string; frozenUs: number }> {
  const { values } = parseArgs({ args: argv, options: { db: { type: "string" }, freeze: { type: "string" }, note: { type: "string" } } });
  const run = z.string().min(1, "--freeze RUN").parse(values.freeze);
  const store = await openStore(resolveDbPath(values.db));
  try {
    return await freezeRun(store, run, Date.now() * 1000, values.note ?? "");
  } finally {
    await store.close();
  }
}

function printSummary(rep: EdgeReport, t: ModelTournament): void {
  console.log(`Verdict: ${rep.verdictLine}`);
  console.log(`Power: ${rep.powerLine}`);
  for (const n of rep.notes) console.log(`  note: ${n}`);
  for (const v of [rep.outOfSample, rep.inSample]) {
    if (!v) continue;
    const f = v.forecasts;
    console.log(`  ${v.label}: stage ${v.stage}; PnL ${v.pnl.trades} markets, mean $${p4(v.pnl.meanPerTrade)}, p ${p4(v.pnl.pValue)} (${v.pnl.method}), Holm ${p4(v.holm.pnl)}` +
      (f ? `; ΔBrier vs mid ${p4(f.dBrier.mean)} (p ${p4(f.dBrier.pLess)}), encompassing λ ${p4(f.encompassing.lambda)} (p ${p4(f.encompassing.pValue)}), calibration slope ${p4(f.calibration.slope)} (p ${p4(f.calibration.pValue)})` : ""));
  }
  if (t.result) {
    console.log(`  tournament (${t.result.n} settled markets, ${t.result.clusters} clusters, baseline ${t.result.baseline}):`);
    for (const s of t.result.scores) console.log(`    ${s.model.padEnd(15)} Brier ${p4(s.brier)}  ΔBrier ${s.dBrier ? `${p4(s.dBrier.mean)} [${p4(s.dBrier.lo)}, ${p4(s.dBrier.hi)}] ${s.dBrier.verdict}` : "(baseline)"}`);
    if (t.spa) console.log(`    SPA vs market mid: SPA_c p ${p4(t.spa.pSpa)}, SPA_u p ${p4(t.spa.pSpaUpper)} (Reality Check ${p4(t.spa.pRealityCheck)})`);
  } else console.log(`  tournament: ${t.note}`);
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const argv = process.argv.slice(2);
  (argv.includes("--freeze")
    ? runFreeze(argv).then((f) => console.log(`frozen config ${f.configHash.slice(0, 12)}… at ${new Date(f.frozenUs / 1000).toISOString()}: only later settlements count as out of sample`))
    : runReport(argv).then(({ out, report, tournament, sweep }) => {
        printSummary(report, tournament);
        if (sweep) console.log(`  ${sweepSpaLine(sweep)}`);
        console.log(`report written to ${join(out, "index.html")}`);
      }))
    .catch((err: unknown) => {
      console.error(`report failed: ${(err as Error).message}`);
      process.exit(1);
    });
}
