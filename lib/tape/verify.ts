/**
 * Capture health check: counts, per-connection ordering, sequence continuity (Kalshi per (connection,
 * sid), Coinbase per connection), duplicates and stale periods. Raw frames are re-parsed minimally
 * (JSON.parse for sid/seq/sequence_num), independently of the venue parsers.
 */
import fs from "node:fs";
import path from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import { createMemoryDuckDB } from "../duckdb.ts";
import type { Source } from "../core/events.ts";
import { formatIsoUs } from "../core/units.ts";
import { readTapeEvents, readTapeRaw, dayFiles, listTapeDays } from "./reader.ts";
import { tapeLockHeld } from "./writer.ts";
import { JOURNAL_DIR, JOURNAL_EXT, sqlString, type Layer } from "./schema.ts";

export interface VerifyOptions {
  /** A gap of more than this between spot quotes is a stale period. Default 10 s. */
  staleSpotSeconds?: number;
  /** A gap of more than this between received Kalshi frames is a stale period. Default 10 s. */
  staleKalshiSeconds?: number;
  /** At most this many gaps/duplicates/examples are listed (all are counted). Default 50. */
  maxListed?: number;
  /** A market's first book frame this long after it opened (or the capture began) is "late". Default 10 s. */
  lateBookSeconds?: number;
}

/**
 * One market's recording against its trading window (from its last recorded market_info): the first
 * and last book frame vs open and close. Markets whose window lies outside the capture are listed
 * with `expected: false`. `recorded` false while open during the capture = a problem.
 */
export interface MarketCoverage {
  market: string;
  openUs: number;
  closeUs: number;
  /** The window overlaps the capture span: a book should be on the tape. */
  expected: boolean;
  bookFrames: number;
  firstBookUs: number | null;
  lastBookUs: number | null;
  /** First book frame − max(open, capture start), seconds (null without book frames). */
  startLagSeconds: number | null;
  /** min(close, capture end) − last book frame, seconds: quiet books end early, so only reported. */
  endLeadSeconds: number | null;
  recorded: boolean;
  late: boolean;
}

export interface DayCount {
  day: string;
  source: Source;
  rawFrames: number;
  events: number;
  files: number;
}

export interface SeqGap {
  source: Source;
  connId: string;
  /** Kalshi subscription id; null for Coinbase (sequence_num is per connection). */
  sid: number | null;
  expected: number;
  got: number;
  missing: number;
  tsRecv: number;
}

export interface Duplicate {
  /** "seq": a sequence number not above the last one seen; "text": the identical frame at the same ts_recv. */
  reason: "seq" | "text";
  source: Source;
  connId: string;
  sid: number | null;
  seq: number | null;
  tsRecv: number;
}

export interface OrderingViolation {
  source: Source;
  connId: string;
  ord: number;
  tsRecv: number;
  /** A frame of the same connection written after this one (higher ord) but stamped earlier. */
  afterOrd: number;
}

export interface StalePeriod {
  stream: "spot_quote" | "kalshi";
  fromUs: number;
  toUs: number;
  seconds: number;
}

export interface VerifyReport {
  dir: string;
  healthy: boolean;
  days: DayCount[];
  totals: { rawFrames: number; events: number; files: number };
  span: { fromUs: number; toUs: number } | null;
  unreadableFiles: string[];
  journals: { files: string[]; writerAlive: boolean };
  unparseableFrames: number;
  orderingViolations: { count: number; listed: OrderingViolation[] };
  gaps: { count: number; missing: number; listed: SeqGap[] };
  duplicates: { count: number; listed: Duplicate[] };
  stale: StalePeriod[];
  /** Per-market book coverage (markets known from market_info events). */
  markets: MarketCoverage[];
  problems: string[];
}

export async function verifyTape(dir: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const staleSpotUs = (opts.staleSpotSeconds ?? 10) * 1e6;
  const staleKalshiUs = (opts.staleKalshiSeconds ?? 10) * 1e6;
  const maxListed = opts.maxListed ?? 50;
  const root = path.resolve(dir);
  if (!fs.existsSync(root)) throw new Error(`no tape at ${root}`);

  const duck = await createMemoryDuckDB("tape-verify-", { memory_limit: "1GB" });
  const db = await duck.instance.connect();
  try {
    // ---- files and counts (each file read on its own, so a broken one is named) ----
    const days = await listTapeDays(root);
    const counts = new Map<string, DayCount>();
    const unreadable: string[] = [];
    const unreadableWhy = new Map<string, string>();
    const readable: Record<Layer, string[]> = { raw: [], events: [] };
    for (const day of days) {
      for (const layer of ["raw", "events"] as const) {
        for (const file of dayFiles(root, layer, day)) {
          const source = /source=([^/\\]+)/.exec(file)![1] as Source;
          let n: number;
          try {
            // Decode every value of every row group (count(*) alone answers from the footer and
            // would pass a file whose data pages are damaged).
            const r = await db.runAndReadAll(`SELECT count(*)::DOUBLE, max(hash(COLUMNS(*))) FROM read_parquet(${sqlString(file)})`);
            n = Number(r.getRowsJS()[0]![0]);
          } catch (e) {
            unreadable.push(file);
            unreadableWhy.set(file, (e as Error).message.split("\n")[0]!.replace(/^.*?: (?=[^:]*$)/, ""));
            continue;
          }
          readable[layer].push(file);
          const key = `${day}|${source}`;
          const c = counts.get(key) ?? { day, source, rawFrames: 0, events: 0, files: 0 };
          if (layer === "raw") c.rawFrames += n;
          else c.events += n;
          c.files++;
          counts.set(key, c);
        }
      }
    }
    const dayCounts = [...counts.values()].sort((a, b) =>
      a.day === b.day ? a.source.localeCompare(b.source) : a.day.localeCompare(b.day),
    );

    // ---- streaming pass over raw frames: ordering, seq continuity, duplicates ----
    const gaps: SeqGap[] = [];
    let gapCount = 0;
    let missingTotal = 0;
    const dups: Duplicate[] = [];
    let dupCount = 0;
    const ordering: OrderingViolation[] = [];
    let orderingCount = 0;
    let unparseable = 0;
    const lastSeq = new Map<string, number>();
    const maxOrdByConn = new Map<string, number>();
    let curTs = Number.NaN;
    const textsAtTs = new Set<string>();

    // What the replayer would refuse (an unsorted file, a row that does not decode) is a problem, not a crash.
    const readErrors: string[] = [];
    const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!;
    if (unreadable.length === 0) {
      try {
        for await (const batch of readTapeEvents(root)) void batch;
      } catch (e) {
        readErrors.push(`events layer cannot be replayed: ${firstLine(e)}`);
      }
    }

    if (unreadable.length === 0) {
      try {
        for await (const batch of readTapeRaw(root)) {
          for (const f of batch) {
            const connKey = `${f.source}\u0000${f.connId}`;
            const maxOrd = maxOrdByConn.get(connKey);
            if (maxOrd !== undefined && f.ord < maxOrd) {
              orderingCount++;
              if (ordering.length < maxListed) {
                ordering.push({ source: f.source, connId: f.connId, ord: f.ord, tsRecv: f.tsRecv, afterOrd: maxOrd });
              }
            } else maxOrdByConn.set(connKey, f.ord);

            if (f.tsRecv !== curTs) {
              curTs = f.tsRecv;
              textsAtTs.clear();
            }
            const textKey = `${connKey}\u0000${f.dir}\u0000${f.text}`;
            if (textsAtTs.has(textKey)) {
              dupCount++;
              if (dups.length < maxListed) {
                dups.push({ reason: "text", source: f.source, connId: f.connId, sid: null, seq: null, tsRecv: f.tsRecv });
              }
              continue;
            }
            textsAtTs.add(textKey);

            if (f.dir !== "recv" || (f.source !== "kalshi" && f.source !== "coinbase")) continue;
            let msg: unknown;
            try {
              msg = JSON.parse(f.text);
            } catch {
              unparseable++;
              continue;
            }
            if (typeof msg !== "object" || msg === null) {
              unparseable++;
              continue;
            }
            let sid: number | null = null;
            let seq: number;
            if (f.source === "kalshi") {
              const m = msg as { sid?: unknown; seq?: unknown };
              if (typeof m.sid !== "number" || typeof m.seq !== "number") continue;
              sid = m.sid;
              seq = m.seq;
            } else {
              const m = msg as { sequence_num?: unknown };
              if (typeof m.sequence_num !== "number") continue;
              seq = m.sequence_num;
            }
            const seqKey = sid === null ? connKey : `${connKey}\u0000${sid}`;
            const prev = lastSeq.get(seqKey);
            if (prev === undefined || seq === prev + 1) {
              lastSeq.set(seqKey, seq);
            } else if (seq > prev + 1) {
              gapCount++;
              missingTotal += seq - prev - 1;
              if (gaps.length < maxListed) {
                gaps.push({
                  source: f.source,
                  connId: f.connId,
                  sid,
                  expected: prev + 1,
                  got: seq,
                  missing: seq - prev - 1,
                  tsRecv: f.tsRecv,
                });
              }
              lastSeq.set(seqKey, seq);
            } else {
              dupCount++;
              if (dups.length < maxListed) {
                dups.push({ reason: "seq", source: f.source, connId: f.connId, sid, seq, tsRecv: f.tsRecv });
              }
            }
          }
        }
      } catch (e) {
        readErrors.push(`raw layer cannot be read in order (checks after this point skipped): ${firstLine(e)}`);
      }
    }

    // ---- stale periods ----
    const span = await captureSpan(db, readable);
    const stale: StalePeriod[] = [];
    if (span !== null) {
      const hasSource = (s: Source) => dayCounts.some((c) => c.source === s);
      if (hasSource("coinbase") || (await anyRows(db, readable.events, "kind = 'spot_quote'"))) {
        stale.push(
          ...(await stalePeriods(db, "spot_quote", readable.events, "kind = 'spot_quote'", span, staleSpotUs)),
        );
      }
      if (hasSource("kalshi")) {
        const kalshiRaw = readable.raw.filter((f) => f.includes(`${path.sep}source=kalshi${path.sep}`));
        stale.push(...(await stalePeriods(db, "kalshi", kalshiRaw, "dir = 'recv'", span, staleKalshiUs)));
      }
    }

    // ---- per-market coverage ----
    const markets = span !== null && readable.events.length > 0 ? await marketCoverage(db, readable.events, span, (opts.lateBookSeconds ?? 10) * 1e6) : [];

    // ---- journals ----
    const journalDir = path.join(root, JOURNAL_DIR);
    const journals = fs.existsSync(journalDir)
      ? fs.readdirSync(journalDir).filter((f) => f.endsWith(JOURNAL_EXT))
      : [];
    const writerAlive = tapeLockHeld(journalDir);

    const problems: string[] = [];
    if (unreadable.length > 0) {
      problems.push(`${unreadable.length} unreadable Parquet file(s): ${unreadable.map((f) => `${f} (${unreadableWhy.get(f) ?? "error"})`).join(", ")}`);
    }
    if (journals.length > 0 && !writerAlive) {
      problems.push(`${journals.length} journal(s) not rolled and no writer running: run \`npm run tape -- recover ${root}\` (paper/live do it on start)`);
    }
    if (unreadable.length > 0) problems.push("ordering, sequence and duplicate checks skipped (unreadable files)");
    problems.push(...readErrors);
    if (unparseable > 0) problems.push(`${unparseable} received frame(s) are not JSON objects`);
    if (orderingCount > 0) problems.push(`${orderingCount} frame(s) with ts_recv going backwards within a connection`);
    if (gapCount > 0) problems.push(`${gapCount} sequence gap(s), ${missingTotal} message(s) missing`);
    if (dupCount > 0) problems.push(`${dupCount} duplicate frame(s)`);
    if (stale.length > 0) problems.push(`${stale.length} stale period(s)`);
    const unrecorded = markets.filter((m) => m.expected && !m.recorded);
    if (unrecorded.length > 0) problems.push(`${unrecorded.length} market(s) open during the capture but not recorded: ${unrecorded.slice(0, 10).map((m) => m.market).join(", ")}${unrecorded.length > 10 ? ", …" : ""}`);
    const late = markets.filter((m) => m.expected && m.recorded && m.late);
    if (late.length > 0) problems.push(`${late.length} market(s) recorded late (first book frame > ${opts.lateBookSeconds ?? 10} s after open): ${late.slice(0, 10).map((m) => m.market).join(", ")}`);
    if (days.length === 0) problems.push(journals.length > 0 ? "no Parquet yet: everything is still in journals (see above)" : "tape is empty");

    return {
      dir: root,
      healthy: problems.length === 0,
      days: dayCounts,
      totals: {
        rawFrames: dayCounts.reduce((s, c) => s + c.rawFrames, 0),
        events: dayCounts.reduce((s, c) => s + c.events, 0),
        files: dayCounts.reduce((s, c) => s + c.files, 0),
      },
      span,
      unreadableFiles: unreadable,
      journals: { files: journals, writerAlive },
      unparseableFrames: unparseable,
      orderingViolations: { count: orderingCount, listed: ordering },
      gaps: { count: gapCount, missing: missingTotal, listed: gaps },
      duplicates: { count: dupCount, listed: dups },
      stale,
      markets,
      problems,
    };
  } finally {
    db.closeSync();
    duck.dispose();
  }
}

function fileList(files: readonly string[]): string {
  return `read_parquet([${files.map(sqlString).join(", ")}], union_by_name = true)`;
}

async function captureSpan(
  db: DuckDBConnection,
  files: Record<Layer, string[]>,
): Promise<{ fromUs: number; toUs: number } | null> {
  const all = [...files.raw, ...files.events];
  if (all.length === 0) return null;
  const r = await db.runAndReadAll(`SELECT min(ts_recv)::DOUBLE, max(ts_recv)::DOUBLE FROM ${fileList(all)}`);
  const [lo, hi] = r.getRowsJS()[0] as [number | null, number | null];
  return lo === null || hi === null ? null : { fromUs: lo, toUs: hi };
}

async function anyRows(db: DuckDBConnection, files: readonly string[], where: string): Promise<boolean> {
  if (files.length === 0) return false;
  const r = await db.runAndReadAll(`SELECT count(*)::DOUBLE FROM (SELECT 1 FROM ${fileList(files)} WHERE ${where} LIMIT 1)`);
  return Number(r.getRowsJS()[0]![0]) > 0;
}

/** Gaps longer than `limitUs` between observations, including from the capture's start and to its end. */
async function stalePeriods(
  db: DuckDBConnection,
  stream: StalePeriod["stream"],
  files: readonly string[],
  where: string,
  span: { fromUs: number; toUs: number },
  limitUs: number,
): Promise<StalePeriod[]> {
  const mk = (fromUs: number, toUs: number): StalePeriod => ({ stream, fromUs, toUs, seconds: (toUs - fromUs) / 1e6 });
  if (files.length === 0) return span.toUs - span.fromUs > limitUs ? [mk(span.fromUs, span.toUs)] : [];
  const r = await db.runAndReadAll(`
    WITH obs AS (SELECT ts_recv FROM ${fileList(files)} WHERE ${where}),
    bounds AS (SELECT ${span.fromUs}::BIGINT AS ts_recv UNION ALL SELECT ${span.toUs}::BIGINT),
    pts AS (SELECT ts_recv FROM obs UNION ALL SELECT ts_recv FROM bounds WHERE EXISTS (SELECT 1 FROM obs)),
    seqd AS (SELECT ts_recv, lag(ts_recv) OVER (ORDER BY ts_recv) AS prev FROM pts)
    SELECT prev::DOUBLE, ts_recv::DOUBLE FROM seqd WHERE ts_recv - prev > ${limitUs} ORDER BY prev`);
  const rows = r.getRowsJS() as [number, number][];
  if (rows.length === 0 && !(await anyRows(db, files, where))) {
    return span.toUs - span.fromUs > limitUs ? [mk(span.fromUs, span.toUs)] : [];
  }
  return rows.map(([a, b]) => mk(a, b));
}

async function marketCoverage(
  db: DuckDBConnection,
  files: readonly string[],
  span: { fromUs: number; toUs: number },
  lateUs: number,
): Promise<MarketCoverage[]> {
  const r = await db.runAndReadAll(`
    WITH ev AS (SELECT ts_recv, kind, market, extra FROM ${fileList(files)} WHERE market IS NOT NULL),
    info AS (SELECT market, arg_max(extra, ts_recv) AS extra FROM ev WHERE kind = 'market_info' GROUP BY market),
    books AS (SELECT market, min(ts_recv) AS first, max(ts_recv) AS last, count(*) AS n FROM ev
              WHERE kind IN ('book_snapshot', 'book_delta') GROUP BY market)
    SELECT info.market, CAST(json_extract(info.extra, '$.openTime') AS DOUBLE), CAST(json_extract(info.extra, '$.closeTime') AS DOUBLE),
           books.first::DOUBLE, books.last::DOUBLE, coalesce(books.n, 0)::DOUBLE
    FROM info LEFT JOIN books USING (market) ORDER BY info.market`);
  const out: MarketCoverage[] = [];
  for (const row of r.getRowsJS() as [string, number | null, number | null, number | null, number | null, number][]) {
    const [market, open, close, first, last, n] = row;
    const openUs = open ?? -1;
    const closeUs = close ?? -1;
    const from = Math.max(openUs, span.fromUs);
    const to = closeUs >= 0 ? Math.min(closeUs, span.toUs) : span.toUs;
    const expected = openUs >= 0 && to > from;
    const startLag = first !== null ? (first - from) / 1e6 : null;
    out.push({
      market,
      openUs,
      closeUs,
      expected,
      bookFrames: n,
      firstBookUs: first,
      lastBookUs: last,
      startLagSeconds: startLag,
      endLeadSeconds: last !== null ? (to - last) / 1e6 : null,
      recorded: n > 0,
      late: first !== null && expected && first - from > lateUs,
    });
  }
  return out;
}

/** Human-readable summary. */
export function formatVerifyReport(r: VerifyReport): string {
  const lines: string[] = [];
  const iso = (us: number) => formatIsoUs(us);
  lines.push(`tape ${r.dir}: ${r.healthy ? "HEALTHY" : "PROBLEMS"}`);
  if (r.span) lines.push(`span ${iso(r.span.fromUs)} → ${iso(r.span.toUs)}`);
  lines.push(`totals: ${r.totals.rawFrames} raw frames, ${r.totals.events} events, ${r.totals.files} files`);
  lines.push("day         source    raw_frames      events  files");
  for (const c of r.days) {
    lines.push(
      `${c.day}  ${c.source.padEnd(8)} ${String(c.rawFrames).padStart(11)} ${String(c.events).padStart(11)} ${String(c.files).padStart(6)}`,
    );
  }
  if (r.journals.files.length > 0) {
    lines.push(`journals: ${r.journals.files.length} open (${r.journals.writerAlive ? "writer running" : "no writer"})`);
  }
  for (const g of r.gaps.listed) {
    lines.push(
      `gap: ${g.source} conn ${g.connId}${g.sid === null ? "" : ` sid ${g.sid}`} expected ${g.expected} got ${g.got} (${g.missing} missing) at ${iso(g.tsRecv)}`,
    );
  }
  for (const d of r.duplicates.listed) {
    lines.push(
      `duplicate (${d.reason}): ${d.source} conn ${d.connId}${d.sid === null ? "" : ` sid ${d.sid}`}${d.seq === null ? "" : ` seq ${d.seq}`} at ${iso(d.tsRecv)}`,
    );
  }
  for (const o of r.orderingViolations.listed) {
    lines.push(`ordering: ${o.source} conn ${o.connId} ord ${o.ord} at ${iso(o.tsRecv)} precedes ord ${o.afterOrd} in time`);
  }
  for (const s of r.stale) {
    lines.push(`stale ${s.stream}: ${iso(s.fromUs)} → ${iso(s.toUs)} (${s.seconds.toFixed(1)} s)`);
  }
  const expected = r.markets.filter((m) => m.expected);
  if (r.markets.length > 0) {
    lines.push(`markets: ${r.markets.length} known, ${expected.length} open during the capture, ${expected.filter((m) => m.recorded).length} recorded`);
    lines.push("market                                   open                 close                first_book  last_book  frames");
    const rel = (us: number | null, base: number) => (us === null ? "-" : `${((us - base) / 1e6).toFixed(1)}s`);
    for (const m of r.markets) {
      const flag = !m.expected ? " (outside capture)" : !m.recorded ? " NOT RECORDED" : m.late ? " LATE" : "";
      lines.push(
        `${m.market.padEnd(40)} ${m.openUs >= 0 ? iso(m.openUs).slice(0, 19) : "?".padEnd(19)}  ${m.closeUs >= 0 ? iso(m.closeUs).slice(0, 19) : "?".padEnd(19)}  ` +
          `${("open+" + rel(m.firstBookUs, m.openUs)).padStart(10)} ${("close" + (m.lastBookUs === null ? "" : (m.lastBookUs - m.closeUs >= 0 ? "+" : "")) + rel(m.lastBookUs, m.closeUs)).padStart(10)} ${String(m.bookFrames).padStart(7)}${flag}`,
      );
    }
  }
  for (const p of r.problems) lines.push(`PROBLEM: ${p}`);
  return lines.join("\n");
}
