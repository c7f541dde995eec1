/**
 * A bulk writer of the events layer: the same Parquet files the tape writer produces (same columns,
 * types, Hive layout, segment names, (ts_recv, ord) order, zstd), written straight from memory in
 * column chunks instead of through the crash journal. For bulk producers that can simply start over
 * after a crash — the benchmark's synthetic days — where the journal's per-event JSON line and the
 * NDJSON → Parquet roll are most of the cost. Raw frames are counted and dropped: a tape written this
 * way has the events layer only (`--from-raw` and `tape verify`'s raw checks do not apply to it).
 *
 * Each event is laid down at once in the segment's typed column arrays (no row object is kept).
 * At the segment's end the columns go into DOUBLE vectors of a staging table with NaN for NULL (one
 * typed-array copy per column chunk, no per-value call), kind/side/market as integer codes; the few
 * rows carrying a ref or extra string go to a side table. One COPY per segment file casts back to
 * the schema's types, and runs while the producer fills the next segment.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DuckDBDataChunk, DuckDBDoubleType, DuckDBVarCharType, type DuckDBConnection } from "@duckdb/node-api";
import { createMemoryDuckDB, RETURN_FREED_MEMORY } from "../duckdb.ts";
import type { EngineEvent, Source } from "../core/events.ts";
import { encodeEvent, TapeCodecError, type EventRow } from "./codec.ts";
import {
  EVENT_COLUMNS,
  KIND_CODES,
  SIDE_CODES,
  SOURCES_BY_RANK,
  US_PER_DAY,
  dayNumberToKey,
  isSource,
  partitionDir,
  segmentName,
  sqlString,
  SEGMENT_EXT,
} from "./schema.ts";
import type { RawFrame, TapeSink } from "./types.ts";

export interface BulkEventWriterOptions {
  readonly dir: string;
  /** Segment span in receipt time (default 3600 s; must divide a day). */
  readonly segmentSeconds?: number;
}

export interface BulkEventWriter extends TapeSink {
  readonly stats: { events: number; rejected: number; rawDropped: number; files: number };
  /** Where DuckDB may spill: a folder of this writer's own, removed on close. */
  readonly tempDirectory: string;
}

type Col = keyof typeof EVENT_COLUMNS;
/** Numeric staging columns: every schema column except the strings (codes, or the two VARCHAR columns). */
const NUM_COLS = (Object.keys(EVENT_COLUMNS) as Col[]).filter((c) => EVENT_COLUMNS[c] !== "VARCHAR") as (keyof EventRow)[];
const STAGE_COLS = [...NUM_COLS, "kind_code", "side_code", "market_code", "src"] as const;
const C_KIND = NUM_COLS.length;
const C_SIDE = C_KIND + 1;
const C_MARKET = C_KIND + 2;
const C_SRC = C_KIND + 3;
const CHUNK = 2048;
const KIND_INDEX = new Map<string, number>(KIND_CODES.map((k, i) => [k, i]));
const SIDE_INDEX = new Map<string, number>(SIDE_CODES.map((k, i) => [k, i]));

const sqlList = (xs: readonly string[]): string => `[${xs.map(sqlString).join(", ")}]`;

/**
 * One segment's rows, column by column: typed arrays for the staging columns, the few rows that
 * carry a string, and the segment's market dictionary. Rows are laid down as they arrive, so no
 * per-row object outlives its event (nothing for the garbage collector to trace for an hour).
 */
class SegmentColumns {
  n = 0;
  private cap = 16_384;
  cols: Float64Array[] = STAGE_COLS.map(() => new Float64Array(16_384));
  /** The few rows carrying a string (trade ids, rare kinds' JSON): [ord, ref, extra]. */
  readonly strings: [number, string | null, string | null][] = [];
  readonly markets: string[] = [];
  private readonly marketCode = new Map<string, number>();

  constructor(
    readonly start: number,
    readonly firstTs: number,
  ) {}

  add(row: EventRow, src: number): void {
    if (this.n === this.cap) {
      this.cap *= 2;
      this.cols = this.cols.map((c) => {
        const g = new Float64Array(this.cap);
        g.set(c);
        return g;
      });
    }
    const i = this.n++;
    const cols = this.cols;
    for (let c = 0; c < C_KIND; c++) {
      const v = row[NUM_COLS[c]!];
      cols[c]![i] = typeof v === "number" ? v : Number.NaN;
    }
    cols[C_KIND]![i] = KIND_INDEX.get(row.kind)!;
    cols[C_SIDE]![i] = SIDE_INDEX.get(row.side ?? "")!;
    const m = row.market;
    let mc = -1;
    if (m !== null && m !== undefined) {
      mc = this.marketCode.get(m) ?? -1;
      if (mc < 0) {
        mc = this.markets.length;
        this.markets.push(m);
        this.marketCode.set(m, mc);
      }
    }
    cols[C_MARKET]![i] = mc;
    cols[C_SRC]![i] = src;
    if ((row.ref ?? null) !== null || (row.extra ?? null) !== null) this.strings.push([row.ord, row.ref ?? null, row.extra ?? null]);
  }
}

export async function openBulkEventWriter(opts: BulkEventWriterOptions): Promise<BulkEventWriter> {
  const segUs = (opts.segmentSeconds ?? 3600) * 1_000_000;
  if (!(segUs > 0) || US_PER_DAY % segUs !== 0) throw new Error("segmentSeconds must divide a day");
  // Freed memory goes back to the OS after each segment; the spill folder is the writer's own.
  const duck = await createMemoryDuckDB("tape-bulk-", RETURN_FREED_MEMORY);
  const db = await duck.instance.connect();
  await db.run(`CREATE TEMP TABLE stage (${STAGE_COLS.map((c) => `${c} DOUBLE`).join(", ")})`);
  await db.run(`CREATE TEMP TABLE strs (ord DOUBLE, ref VARCHAR, extra VARCHAR)`);

  const stats = { events: 0, rejected: 0, rawDropped: 0, files: 0 };
  let ord = 0;
  let seg: SegmentColumns | null = null;
  let chain: Promise<void> = Promise.resolve();
  /** The chain before the newest segment's write: what flush() waits for. */
  let settled: Promise<void> = Promise.resolve();
  let failure: unknown = null;
  let closed = false;

  function cut(): void {
    if (seg === null || seg.n === 0) return;
    const done = seg;
    const name = segmentName(done.firstTs, randomBytes(4).toString("hex"));
    const day = dayNumberToKey(Math.floor(done.start / US_PER_DAY));
    seg = null;
    settled = chain;
    chain = chain.then(() => writeSegment(db, opts.dir, day, name, done).then((n) => void (stats.files += n))).catch((e: unknown) => void (failure ??= e));
  }

  return {
    stats,
    tempDirectory: duck.tempDirectory,
    raw(_f: RawFrame): void {
      stats.rawDropped++;
    },
    event(e: EngineEvent, source: Source): void {
      if (closed) throw new Error("bulk writer is closed");
      let row: EventRow;
      try {
        if (!isSource(source)) throw new TapeCodecError(`unknown source ${source}`);
        row = encodeEvent(e, ord);
      } catch (err) {
        if (err instanceof TapeCodecError) {
          stats.rejected++;
          return;
        }
        throw err;
      }
      const start = e.tsRecv - (e.tsRecv % segUs);
      if (seg === null || start !== seg.start) {
        if (seg !== null && start < seg.start) throw new Error("bulk writer needs non-decreasing receipt times");
        cut();
        seg = new SegmentColumns(start, e.tsRecv);
      }
      ord++;
      seg.add(row, SOURCES_BY_RANK.indexOf(source));
      stats.events++;
    },
    /**
     * Waits for every segment but the newest one: that one is written while the producer goes on
     * (one segment in flight bounds the memory). This writer keeps no journal, so a crash loses the
     * run either way; close() waits for everything.
     */
    async flush(): Promise<void> {
      await settled;
      if (failure) throw failure;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      cut();
      await chain;
      db.closeSync();
      duck.dispose();
      if (failure) throw failure;
    },
  };
}

/** Stage one segment's columns and COPY one Parquet file per source. Returns the number of files. */
async function writeSegment(db: DuckDBConnection, root: string, day: string, name: string, seg: SegmentColumns): Promise<number> {
  const appender = await db.createAppender("stage");
  const strs = await db.createAppender("strs");
  const types = STAGE_COLS.map(() => DuckDBDoubleType.instance);
  try {
    // One typed-array copy per column chunk: NaN stands for NULL, so no validity bits to set.
    for (let at = 0; at < seg.n; at += CHUNK) {
      const n = Math.min(CHUNK, seg.n - at);
      const chunk = DuckDBDataChunk.create(types, n);
      for (let c = 0; c < types.length; c++) {
        const v = chunk.getColumnVector(c) as unknown as { items: Float64Array; flush(): void };
        v.items.set(seg.cols[c]!.subarray(at, at + n));
        v.flush();
      }
      appender.appendDataChunk(chunk);
    }
    const sr = seg.strings;
    for (let at = 0; at < sr.length; at += CHUNK) {
      const part = sr.slice(at, at + CHUNK);
      const sc = DuckDBDataChunk.create([DuckDBDoubleType.instance, DuckDBVarCharType.instance, DuckDBVarCharType.instance], part.length);
      sc.setColumns([part.map((r) => r[0]), part.map((r) => r[1]), part.map((r) => r[2])]);
      strs.appendDataChunk(sc);
    }
  } finally {
    appender.closeSync();
    strs.closeSync();
  }
  const markets = seg.markets;
  const big = (c: string) => `CASE WHEN isnan(s.${c}) THEN NULL ELSE s.${c}::BIGINT END`;
  const sel = (Object.keys(EVENT_COLUMNS) as Col[]).map((c) => {
    const t = EVENT_COLUMNS[c];
    switch (c) {
      case "kind":
        return `${sqlList(KIND_CODES)}[s.kind_code::INTEGER + 1] AS kind`;
      case "side":
        return `nullif(${sqlList(SIDE_CODES)}[s.side_code::INTEGER + 1], '') AS side`;
      case "market":
        return markets.length === 0 ? `NULL::VARCHAR AS market` : `CASE WHEN s.market_code < 0 THEN NULL ELSE ${sqlList(markets)}[s.market_code::INTEGER + 1] END AS market`;
      case "ref":
      case "extra":
        return `x.${c} AS ${c}`;
      default:
        if (t === "DOUBLE") return `CASE WHEN isnan(s.${c}) THEN NULL ELSE s.${c} END AS ${c}`;
        return `${t === "INTEGER" ? `(${big(c)})::INTEGER` : big(c)} AS ${c}`;
    }
  });
  let files = 0;
  try {
    const srcs = await db.runAndReadAll(`SELECT DISTINCT src::INTEGER FROM stage ORDER BY 1`);
    for (const [src] of srcs.getRowsJS() as [number][]) {
      const source = SOURCES_BY_RANK[src]!;
      const dir = partitionDir(root, "events", day, source);
      fs.mkdirSync(dir, { recursive: true });
      const final = path.join(dir, name + SEGMENT_EXT);
      const tmp = `${final}.tmp`;
      await db.run(
        `COPY (SELECT ${sel.join(", ")} FROM stage s LEFT JOIN strs x ON x.ord = s.ord WHERE s.src = ${src} ORDER BY s.ts_recv, s.ord) ` +
          `TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      fs.renameSync(tmp, final);
      files++;
    }
  } finally {
    await db.run(`DELETE FROM stage`);
    await db.run(`DELETE FROM strs`);
  }
  return files;
}
