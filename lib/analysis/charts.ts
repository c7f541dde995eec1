/**
 * Hand-written SVG charts for the edge report (no chart library). Every function returns a complete,
 * standalone <svg> document string that renders the same in a browser and in resvg.
 */
import type { EvBin, ReliabilityBand } from "./stats.ts";

const W = 640;
const H = 420;
const M = { l: 70, r: 20, t: 44, b: 58 };
const FONT = "DejaVu Sans, Arial, sans-serif";
export const COLORS = { model: "#1f77b4", market: "#ff7f0e", grid: "#dddddd", axis: "#333333", good: "#2ca02c", bad: "#d62728" };

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const fmt = (x: number): string => {
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1).replace(/\.0$/, "");
  if (a >= 1) return x.toFixed(2).replace(/0$/, "").replace(/\.0?$/, "");
  return x.toFixed(3).replace(/0+$/, "").replace(/\.$/, "");
};

/** "Nice" tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

interface Frame {
  x: (v: number) => number;
  y: (v: number) => number;
  parts: string[];
}

function frame(
  title: string,
  xLabel: string,
  yLabel: string,
  xd: [number, number],
  yd: [number, number],
  xTickFmt: (v: number) => string = fmt,
  xTicks?: number[],
  yTicks?: number[],
): Frame {
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const x = (v: number) => M.l + ((v - xd[0]) / (xd[1] - xd[0] || 1)) * pw;
  const y = (v: number) => M.t + ph - ((v - yd[0]) / (yd[1] - yd[0] || 1)) * ph;
  const parts: string[] = [
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="26" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`,
  ];
  for (const t of yTicks ?? niceTicks(yd[0], yd[1])) {
    parts.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${y(t)}" y2="${y(t)}" stroke="${COLORS.grid}" stroke-width="1"/>`);
    parts.push(`<text x="${M.l - 8}" y="${y(t) + 4}" text-anchor="end" font-size="12">${esc(fmt(t))}</text>`);
  }
  for (const t of xTicks ?? niceTicks(xd[0], xd[1])) {
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${M.t}" y2="${M.t + ph}" stroke="${COLORS.grid}" stroke-width="1"/>`);
    // Labels at the plot's edges are anchored inward so they are not clipped.
    const anchor = x(t) > W - M.r - 40 ? "end" : x(t) < M.l + 40 ? "start" : "middle";
    parts.push(`<text x="${x(t)}" y="${M.t + ph + 18}" text-anchor="${anchor}" font-size="12">${esc(xTickFmt(t))}</text>`);
  }
  parts.push(`<rect x="${M.l}" y="${M.t}" width="${pw}" height="${ph}" fill="none" stroke="${COLORS.axis}" stroke-width="1"/>`);
  parts.push(`<text x="${M.l + pw / 2}" y="${H - 14}" text-anchor="middle" font-size="13">${esc(xLabel)}</text>`);
  parts.push(
    `<text x="18" y="${M.t + ph / 2}" text-anchor="middle" font-size="13" transform="rotate(-90 18 ${M.t + ph / 2})">${esc(yLabel)}</text>`,
  );
  return { x, y, parts };
}

function svg(parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}">\n${parts.join("\n")}\n</svg>\n`;
}

function legend(items: { label: string; color: string; dash?: boolean }[], x0 = M.l + 10, y0 = M.t + 16): string[] {
  return items.flatMap((it, i) => [
    `<line x1="${x0}" x2="${x0 + 22}" y1="${y0 + i * 18}" y2="${y0 + i * 18}" stroke="${it.color}" stroke-width="3"${it.dash ? ' stroke-dasharray="5,3"' : ""}/>`,
    `<text x="${x0 + 28}" y="${y0 + i * 18 + 4}" font-size="12">${esc(it.label)}</text>`,
  ]);
}

/** A chart that only carries a message (used when there is nothing to plot). */
export function messageChart(title: string, message: string): string {
  return svg([
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="26" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="#fafafa" stroke="#999999"/>`,
    `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" font-size="14" fill="#555555">${esc(message)}</text>`,
  ]);
}

/** Reliability diagram: observed frequency vs mean forecast per bin, bootstrap bands as whiskers. */
export function reliabilityChart(series: { label: string; color: string; bands: readonly ReliabilityBand[] }[], title = "Reliability"): string {
  if (series.every((s) => s.bands.length === 0)) return messageChart(title, "no settled forecasts to plot");
  const f = frame(title, "forecast probability (bin mean)", "observed frequency of YES", [0, 1], [0, 1]);
  f.parts.push(`<line x1="${f.x(0)}" y1="${f.y(0)}" x2="${f.x(1)}" y2="${f.y(1)}" stroke="#888888" stroke-dasharray="4,4"/>`);
  series.forEach((s, si) => {
    const dx = (si - (series.length - 1) / 2) * 4; // small offset so whiskers do not overlap
    for (const b of s.bands) {
      if (Number.isFinite(b.bandLo) && Number.isFinite(b.bandHi)) {
        f.parts.push(
          `<line x1="${f.x(b.meanPred) + dx}" x2="${f.x(b.meanPred) + dx}" y1="${f.y(b.bandLo)}" y2="${f.y(b.bandHi)}" stroke="${s.color}" stroke-width="2" opacity="0.45"/>`,
        );
      }
    }
    const pts = s.bands.map((b) => `${f.x(b.meanPred) + dx},${f.y(b.obsFreq)}`).join(" ");
    if (s.bands.length > 1) f.parts.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const b of s.bands) {
      const r = Math.max(3, Math.min(9, 2 + Math.sqrt(b.count)));
      f.parts.push(`<circle cx="${f.x(b.meanPred) + dx}" cy="${f.y(b.obsFreq)}" r="${r.toFixed(1)}" fill="${s.color}" fill-opacity="0.8"><title>n=${b.count}</title></circle>`);
    }
  });
  f.parts.push(...legend([...series.map((s) => ({ label: s.label, color: s.color })), { label: "perfect calibration", color: "#888888", dash: true }]));
  f.parts.push(`<text x="${W - M.r - 6}" y="${H - M.b - 8}" text-anchor="end" font-size="11" fill="#555555">whiskers: 95% cluster-bootstrap band; dot area ~ n</text>`);
  return svg(f.parts);
}

/** Mean realized PnL per predicted-EV bin with 95 % intervals. */
export function evBinChart(bins: readonly EvBin[], title = "Realized PnL by predicted-EV bin"): string {
  if (bins.length === 0) return messageChart(title, "no evaluations with quotes and outcomes");
  const vals = bins.flatMap((b) => [b.meanPnl, Number.isFinite(b.ciLo) ? b.ciLo : b.meanPnl, Number.isFinite(b.ciHi) ? b.ciHi : b.meanPnl, 0]);
  let lo = Math.min(...vals);
  let hi = Math.max(...vals);
  const pad = (hi - lo || 0.1) * 0.1;
  lo -= pad;
  hi += pad;
  const f = frame(title, "predicted EV bin (mean EV per contract, $)", "realized PnL per contract ($)", [0, bins.length], [lo, hi], (v) => {
    const b = bins[Math.floor(v)];
    return b ? fmt(b.meanEv) : "";
  }, bins.map((_, i) => i + 0.5));
  f.parts.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${f.y(0)}" y2="${f.y(0)}" stroke="${COLORS.axis}" stroke-width="1.5"/>`);
  bins.forEach((b, i) => {
    const x0 = f.x(i + 0.15);
    const x1 = f.x(i + 0.85);
    const top = f.y(Math.max(0, b.meanPnl));
    const h = Math.abs(f.y(b.meanPnl) - f.y(0));
    f.parts.push(`<rect x="${x0}" y="${top}" width="${x1 - x0}" height="${Math.max(1, h)}" fill="${b.meanPnl >= 0 ? COLORS.good : COLORS.bad}" fill-opacity="0.75"/>`);
    if (Number.isFinite(b.ciLo)) {
      const xc = f.x(i + 0.5);
      f.parts.push(`<line x1="${xc}" x2="${xc}" y1="${f.y(b.ciLo)}" y2="${f.y(b.ciHi)}" stroke="${COLORS.axis}" stroke-width="1.5"/>`);
      f.parts.push(`<line x1="${xc - 6}" x2="${xc + 6}" y1="${f.y(b.ciLo)}" y2="${f.y(b.ciLo)}" stroke="${COLORS.axis}"/>`);
      f.parts.push(`<line x1="${xc - 6}" x2="${xc + 6}" y1="${f.y(b.ciHi)}" y2="${f.y(b.ciHi)}" stroke="${COLORS.axis}"/>`);
    }
    f.parts.push(`<text x="${f.x(i + 0.5)}" y="${M.t + 14}" text-anchor="middle" font-size="11" fill="#555555">n=${b.count}</text>`);
  });
  return svg(f.parts);
}

export interface Series {
  label: string;
  color: string;
  points: readonly (readonly [number, number])[];
}

/** Tick instants on whole UTC minutes/hours/days, about 3–6 of them. */
export function timeTicks(x0: number, x1: number): number[] {
  const MIN = 60e6;
  const steps = [1, 5, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 43200].map((m) => m * MIN);
  const step = steps.find((s) => (x1 - x0) / s <= 6) ?? steps[steps.length - 1]!;
  const out: number[] = [];
  for (let t = Math.ceil(x0 / step) * step; t <= x1; t += step) out.push(t);
  return out;
}

/** Lines over time (x in µs since epoch, labelled as UTC dates/hours). */
export function timeSeriesChart(series: readonly Series[], title: string, yLabel: string): string {
  const pts = series.flatMap((s) => s.points);
  if (pts.length === 0) return messageChart(title, "nothing to plot yet");
  let x0 = Math.min(...pts.map((p) => p[0]));
  let x1 = Math.max(...pts.map((p) => p[0]));
  if (x1 === x0) {
    x0 -= 3600e6;
    x1 += 3600e6;
  }
  let y0 = Math.min(0, ...pts.map((p) => p[1]));
  let y1 = Math.max(0, ...pts.map((p) => p[1]));
  const pad = (y1 - y0 || 1) * 0.08;
  y0 -= pad;
  y1 += pad;
  const spanH = (x1 - x0) / 3600e6;
  const label = (v: number) => {
    const iso = new Date(v / 1000).toISOString();
    return spanH > 48 ? iso.slice(5, 10) : iso.slice(5, 10) + " " + iso.slice(11, 16);
  };
  const ticks = timeTicks(x0, x1);
  const f = frame(title, "settlement time (UTC)", yLabel, [x0, x1], [y0, y1], label, ticks.length >= 2 ? ticks : [x0, x1]);
  f.parts.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${f.y(0)}" y2="${f.y(0)}" stroke="${COLORS.axis}" stroke-width="1"/>`);
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => `${i === 0 ? "M" : "L"}${f.x(p[0]).toFixed(1)},${f.y(p[1]).toFixed(1)}`).join(" ");
    f.parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    if (s.points.length === 1) f.parts.push(`<circle cx="${f.x(s.points[0]![0])}" cy="${f.y(s.points[0]![1])}" r="4" fill="${s.color}"/>`);
  }
  f.parts.push(...legend(series.map((s) => ({ label: s.label, color: s.color }))));
  return svg(f.parts);
}

/** Settled-sample counts against the sample-size thresholds. */
export function sampleCountChart(counts: { label: string; n: number }[], thresholds: { n: number; label: string }[], title = "Settled observations vs thresholds"): string {
  const maxN = Math.max(...counts.map((c) => c.n), ...thresholds.map((t) => t.n)) * 1.1;
  const f = frame(title, "settled observations", "", [0, maxN], [0, counts.length], fmt, undefined, []);
  const rowH = (H - M.t - M.b) / counts.length;
  counts.forEach((c, i) => {
    const yTop = M.t + i * rowH + rowH * 0.2;
    f.parts.push(`<rect x="${f.x(0)}" y="${yTop}" width="${Math.max(1, f.x(c.n) - f.x(0))}" height="${rowH * 0.6}" fill="${COLORS.model}" fill-opacity="0.8"/>`);
    f.parts.push(`<text x="${f.x(0) + 6}" y="${yTop + rowH * 0.3 + 5}" font-size="13" fill="#000000">${esc(c.label)}: ${c.n}</text>`);
  });
  thresholds.forEach((t, i) => {
    f.parts.push(`<line x1="${f.x(t.n)}" x2="${f.x(t.n)}" y1="${M.t}" y2="${H - M.b}" stroke="${COLORS.bad}" stroke-width="1.5" stroke-dasharray="6,3"/>`);
    // Staggered so neighbouring labels do not collide.
    f.parts.push(`<text x="${f.x(t.n) + 3}" y="${H - M.b - 8 - (i % 3) * 14}" font-size="11" fill="${COLORS.bad}">${esc(t.label)}</text>`);
  });
  return svg(f.parts);
}
