/**
 * Edge report: reads evaluations and outcomes from the store, runs the tests of EDGE_VALIDATION.md and
 * writes DIR/index.html with inline SVG charts plus the same charts as PNG files.
 *
 *   tsx runners/report.ts [--db PATH] [--run ID | --from YYYY-MM-DD --to YYYY-MM-DD] [--out DIR]
 *                         [--forecast last|all] [--cutoff-min M]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Resvg } from "@resvg/resvg-js";
import { z } from "zod";
import { COLORS, evBinChart, messageChart, reliabilityChart, sampleCountChart, timeSeriesChart } from "../lib/analysis/charts.ts";
import type { EdgeReport, ForecastObs, ScoreSet } from "../lib/analysis/edge.ts";
import { evaluateEdge, PASS, SAMPLE_THRESHOLDS } from "../lib/analysis/edge.ts";
import type { ForecastFilter } from "../lib/analysis/load.ts";
import { loadForecasts, loadRealizedPnl } from "../lib/analysis/load.ts";
import { openStore, resolveDbPath } from "../lib/store/db.ts";

const Args = z.object({
  db: z.string().min(1).optional(),
  run: z.string().min(1).optional(),
  from: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "dates are YYYY-MM-DD").optional(),
  to: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "dates are YYYY-MM-DD").optional(),
  out: z.string().min(1).default("reports/latest"),
  forecast: z.enum(["last", "all"]).default("last"),
  "cutoff-min": z.coerce.number().min(0).default(0),
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
  charts["ev_bins.svg"] = rep.ev ? evBinChart(rep.ev.bins) : messageChart("Realized PnL by predicted-EV bin", "fewer than 10 evaluations with quotes and outcomes");
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
      { label: "all", n: rep.n },
      { label: "in-sample", n: rep.inSample?.n ?? 0 },
      { label: "out-of-sample", n: rep.outOfSample?.n ?? 0 },
      { label: "event clusters", n: rep.all?.clusters ?? 0 },
    ],
    [
      { n: SAMPLE_THRESHOLDS.noise, label: "100 noise" },
      { n: SAMPLE_THRESHOLDS.killBad, label: "200 kill bad" },
      { n: SAMPLE_THRESHOLDS.tests, label: "300 tests" },
      { n: SAMPLE_THRESHOLDS.oos, label: "400 OOS" },
      { n: SAMPLE_THRESHOLDS.oosStrong, label: "600" },
    ],
  );
  return charts;
}

function scoreRows(name: string, s: ScoreSet | null): string {
  if (!s) return `<tr><td>${name}</td><td colspan="9">fewer than 3 observations</td></tr>`;
  const pass = (b: boolean) => (b ? `<b style="color:${COLORS.good}">pass</b>` : `<b style="color:${COLORS.bad}">fail</b>`);
  return `<tr><td>${name}</td><td>${s.n}</td><td>${s.clusters}</td><td>${f4(s.brierModel)}</td><td>${f4(s.brierMarket)}</td>
<td>${f4(s.logLossModel)}<br>BSS vs market ${f4(s.bssVsMarket)}, vs climatology ${f4(s.bssVsClimatology)}<br>Murphy REL ${f4(s.murphyModel.reliability)} RES ${f4(s.murphyModel.resolution)} UNC ${f4(s.murphyModel.uncertainty)}</td><td>${f4(s.logLossMarket)}</td><td>${f4(s.eceModel)} / ${f4(s.eceMarket)}<br>Spiegelhalter p ${f4(s.spiegelhalterModel.pValue)}</td>
<td>DM p ${f4(s.dmBrier?.pValue)} (lag ${s.dmBrier?.lag ?? "–"}); log-loss DM p ${f4(s.dmLogLoss?.pValue)}<br>ΔBrier ${f4(s.bootstrapBrier?.mean)} CI [${f4(s.bootstrapBrier?.lo)}, ${f4(s.bootstrapBrier?.hi)}]</td>
<td>${pass(s.beatsMarket)} / ${pass(s.calibrated)}</td></tr>`;
}

export function renderHtml(rep: EdgeReport, charts: ReportCharts, meta: { filter: string; db: string; evaluations: number; unresolved: number }): string {
  const ev = rep.ev;
  const evText = ev
    ? `Spearman ρ ${f4(ev.spearman.rho)} (one-sided p ${f4(ev.spearman.pPositive)}); OLS slope ${f4(ev.slope.slope)} (t ${f4(ev.slope.t)}, one-sided p ${f4(ev.slope.pPositive)}); monotone bins: ${ev.monotone ? "yes" : "no"} → ${rep.evPass ? "pass" : "fail"}`
    : "not enough evaluations with quotes";
  const img = (file: string, alt: string) =>
    `<figure>${charts[file]}<figcaption>${esc(alt)} — <a href="${file.replace(".svg", ".png")}">PNG</a></figcaption></figure>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Edge report</title>
<style>body{font-family:DejaVu Sans,Arial,sans-serif;max-width:1340px;margin:24px auto;padding:0 16px;color:#222}
.verdict{font-size:22px;font-weight:bold;padding:12px 16px;border-radius:6px;background:#f3f3f3;border-left:6px solid ${rep.verdict === "edge out-of-sample" ? COLORS.good : rep.verdict === "edge in-sample only" ? COLORS.market : COLORS.bad}}
table{border-collapse:collapse;font-size:13px;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
figure{display:inline-block;margin:8px}figcaption{font-size:12px;color:#555}</style></head><body>
<h1>Edge report</h1>
<p>Store <code>${esc(meta.db)}</code>, selection: ${esc(meta.filter)}. Evaluations considered: ${meta.evaluations}; without a resolved outcome yet: ${meta.unresolved}.</p>
<p class="verdict">Verdict: ${esc(rep.verdictLine)}</p>
${rep.notes.length ? `<ul>${rep.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : ""}
<h2>Model vs market</h2>
<table><tr><th>part</th><th>n</th><th>clusters</th><th>Brier model</th><th>Brier market</th><th>log-loss model</th><th>log-loss market</th><th>ECE model / market</th><th>tests</th><th>beats market / calibrated</th></tr>
${scoreRows("all", rep.all)}
${scoreRows("in-sample", rep.inSample)}
${scoreRows(`out-of-sample (settled from ${Number.isFinite(rep.splitTs) ? new Date(rep.splitTs / 1000).toISOString().slice(0, 16) : "–"})`, rep.outOfSample)}
</table>
<p>Pass thresholds: DM one-sided p &lt; ${PASS.dmP} and cluster-bootstrap 95% CI of ΔBrier entirely &lt; 0; ECE model ≤ ECE market + ${PASS.eceSlack} and Spiegelhalter p ≥ ${PASS.spiegelhalterP}; EV slope one-sided p &lt; ${PASS.evSlopeP} with top bin PnL &gt; 0; out-of-sample n ≥ ${PASS.oosMin}.</p>
<p>EV bins: ${esc(evText)}</p>
<h2>Charts</h2>
${img("reliability.svg", "Reliability diagram, model vs market")}
${img("ev_bins.svg", "Realized PnL per predicted-EV bin")}
${img("cum_pnl.svg", "Cumulative PnL")}
${img("cum_brier.svg", "Cumulative Brier advantage")}
${img("sample_counts.svg", "Sample counts vs thresholds")}
</body></html>
`;
}

export async function runReport(argv: string[]): Promise<{ out: string; report: EdgeReport }> {
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
    },
  });
  const a = Args.parse(values);
  if (a.run && (a.from || a.to)) throw new Error("use either --run or --from/--to, not both");
  const dbPath = resolveDbPath(a.db);
  const store = await openStore(dbPath);
  try {
    const filter: ForecastFilter = { forecast: a.forecast, cutoffMinutes: a["cutoff-min"] };
    if (a.run) filter.runId = a.run;
    if (a.from) filter.from = a.from;
    if (a.to) filter.to = a.to;
    const loaded = await loadForecasts(store, filter);
    const realized = await loadRealizedPnl(store, filter);
    const rep = evaluateEdge(loaded.obs);
    const charts = buildCharts(loaded.obs, rep, realized);
    mkdirSync(a.out, { recursive: true });
    for (const [file, svg] of Object.entries(charts)) {
      writeFileSync(join(a.out, file), svg);
      writeFileSync(join(a.out, file.replace(/\.svg$/, ".png")), svgToPng(svg));
    }
    const filterText = `${a.run ? `run ${a.run}` : a.from || a.to ? `${a.from ?? "…"} → ${a.to ?? "…"}` : "all runs"}; forecast = ${a.forecast} evaluation per market${a.forecast === "last" ? ` ≥ ${a["cutoff-min"]} min before settlement` : " (clustered by event)"}`;
    writeFileSync(join(a.out, "index.html"), renderHtml(rep, charts, { filter: filterText, db: dbPath, evaluations: loaded.evaluations, unresolved: loaded.unresolved }));
    const { reliabilityModel: _m, reliabilityMarket: _k, ...summary } = rep;
    writeFileSync(join(a.out, "summary.json"), JSON.stringify(summary, null, 2));
    return { out: a.out, report: rep };
  } finally {
    await store.close();
  }
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  runReport(process.argv.slice(2))
    .then(({ out, report }) => console.log(`${report.verdictLine}\nreport written to ${join(out, "index.html")}`))
    .catch((err: unknown) => {
      console.error(`report failed: ${(err as Error).message}`);
      process.exit(1);
    });
}
