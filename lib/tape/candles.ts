/**
 * One-minute (or any-period) OHLC candles from CSV — the real BTC minutes that drive the tape
 * synthesizer and the spot calibration study. Header names the columns (open_time or timestamp, open,
 * high, low, close); rows that fail validation are skipped and counted, never fatal.
 */
import { z } from "zod";
import { readFileSync } from "node:fs";
import type { TsUs } from "../core/units.ts";
import { US_PER_S } from "../core/units.ts";

export interface Candle {
  /** Open time, µs. */
  readonly t: TsUs;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
}

export interface CandleParse {
  readonly candles: Candle[];
  /** Data rows that failed validation (skipped, not fatal). */
  readonly rejected: number;
  /** Median spacing of open times, seconds. */
  readonly candleSeconds: number;
}

const PriceField = z.coerce.number().finite().positive();

/** open_time as ISO/"YYYY-MM-DD HH:MM:SS+00:00" text, or Unix seconds / ms / µs. */
function parseOpenTime(text: string): number {
  const s = text.trim().replace(/^"|"$/g, "");
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    if (n < 1e11) return Math.round(n * US_PER_S);
    if (n < 1e14) return Math.round(n * 1000);
    return Math.round(n);
  }
  let iso = s.replace(" ", "T");
  if (!/(Z|[+-]\d{2}:?\d{2})$/.test(iso)) iso += "Z"; // naive timestamps are UTC
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms * 1000 : NaN;
}

/** Parse a candle CSV with a header naming open_time (or timestamp), open, high, low, close. */
export function parseCandleCsv(text: string): CandleParse {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new Error("empty candle CSV");
  const header = lines[0]!.split(",").map((h) => h.trim().replace(/^"|"$/g, "").toLowerCase());
  const col = (names: string[]): number => {
    const i = header.findIndex((h) => names.includes(h));
    if (i < 0) throw new Error(`candle CSV header lacks ${names[0]} (got: ${header.join(",")})`);
    return i;
  };
  const iT = col(["open_time", "timestamp", "time", "date"]);
  const iO = col(["open"]);
  const iH = col(["high"]);
  const iL = col(["low"]);
  const iC = col(["close"]);
  const byT = new Map<number, Candle>();
  let rejected = 0;
  for (let k = 1; k < lines.length; k++) {
    const f = lines[k]!.split(",");
    const t = parseOpenTime(f[iT] ?? "");
    const o = PriceField.safeParse(f[iO]);
    const h = PriceField.safeParse(f[iH]);
    const l = PriceField.safeParse(f[iL]);
    const c = PriceField.safeParse(f[iC]);
    if (!Number.isFinite(t) || !o.success || !h.success || !l.success || !c.success) {
      rejected++;
      continue;
    }
    byT.set(t, { t, open: o.data, high: h.data, low: l.data, close: c.data });
  }
  const candles = [...byT.values()].sort((a, b) => a.t - b.t);
  const gaps = candles.slice(1).map((c, i) => c.t - candles[i]!.t).sort((a, b) => a - b);
  const candleSeconds = gaps.length ? gaps[Math.floor(gaps.length / 2)]! / US_PER_S : 60;
  return { candles, rejected, candleSeconds };
}

export function loadCandleCsv(path: string): CandleParse {
  return parseCandleCsv(readFileSync(path, "utf8"));
}
