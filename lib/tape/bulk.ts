/**
 * A bulk writer of the events layer: the same Parquet files the tape writer produces (same columns,
 * types, Hive layout, segment names, (ts_recv, ord) order, zstd), written straight from memory in
 * column chunks instead of through the crash journal. For bulk producers that can simply start over
 * after a crash — the benchmark's synthetic days — where the journal's per-event JSON line and the
 * NDJSON → Parquet roll are most of the cost. Raw frames are counted and dropped: a tape written this
 * way has the events layer only (`--from-raw` and `tape verify`'s raw checks do not apply to it).
 *
 * Numbers go into DOUBLE vectors of a staging table with NaN for NULL (one typed-array copy per
 * column chunk, no per-value call), kind/side/market as integer codes; ref and extra ride in two
 * VARCHAR columns of the same chunk (mostly NULL). One COPY per segment file casts back to the
 * schema's types.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DuckDBDataChunk, DuckDBDoubleType, DuckDBInstance, DuckDBVarCharType, type DuckDBConnection } from "@duckdb/node-api";
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
}

type Col = keyof typeof EVENT_COLUMNS;
/** Numeric staging columns: every schema column except the strings (codes, or the two VARCHAR columns). */
const NUM_COLS = (Object.keys(EVENT_COLUMNS) as Col[]).filter((c) => EVENT_COLUMNS[c] !== "VARCHAR");
const STAGE_COLS = [...NUM_COLS, "kind_code", "side_code", "market_code"] as const;
const CHUNK = 2048;

const sqlList = (xs: readonly string[]): string => `[${xs.map(sqlString).join(", ")}]`;

export async function openBulkEventWriter(opts: BulkEventWriterOptions): Promise<BulkEventWriter> {
  const segUs = (opts.segmentSeconds ?? 3600) * 1_000_000;
  if (!(segUs > 0) || US_PER_DAY % segUs !== 0) throw new Error("segmentSeconds must divide a day");
  const instance = await DuckDBInstance.create(":memory:");
  const db = await instance.connect();
  await db.run(`CREATE TEMP TABLE stage (${STAGE_COLS.map((c) => `${c} DOUBLE`).join(", ")}, src DOUBLE, ref VARCHAR, extra VARCHAR)`);

  const stats = { events: 0, rejected: 0, rawDropped: 0, files: 0 };
  let ord = 0;
  let segStart = -1;
  let firstTs = 0;
  let rows: { row: EventRow; src: number }[] = [];
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown = null;
  let closed = false;

  function cut(): void {
    if (rows.length === 0) return;
    const batch = rows;
    const name = segmentName(firstTs, randomBytes(4).toString("hex"));
    const day = dayNumberToKey(Math.floor(segStart / US_PER_DAY));
    rows = [];
    chain = chain.then(() => writeSegment(db, opts.dir, day, name, batch).then((n) => void (stats.files += n))).catch((e: unknown) => void (failure ??= e));
  }

  return {
    stats,
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
      if (start !== segStart) {
        if (start < segStart) throw new Error("bulk writer needs non-decreasing receipt times");
        cut();
        segStart = start;
        firstTs = e.tsRecv;
      }
      ord++;
      rows.push({ row, src: SOURCES_BY_RANK.indexOf(source) });
      stats.events++;
    },
    async flush(): Promise<void> {
      await chain;
      if (failure) throw failure;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      cut();
      await chain;
      db.closeSync();
      instance.closeSync();
      if (failure) throw failure;
    },
  };
}

/** Stage one segment's rows and COPY one Parquet file per source. Returns the number of files. */
async function writeSegment(db: DuckDBConnection, root: string, day: string, name: string, batch: readonly { row: EventRow; src: number }[]): Promise<number> {
  const markets: string[] = [];
  const marketCode = new Map<string, number>();
  const appender = await db.createAppender("stage");
  const numTypes = [...STAGE_COLS, "src"].map(() => DuckDBDoubleType.instance);
  const types = [...numTypes, DuckDBVarCharType.instance, DuckDBVarCharType.instance];
  const REF = numTypes.length;
  const EXTRA = REF + 1;
  try {
    for (let at = 0; at < batch.length; at += CHUNK) {
      const n = Math.min(CHUNK, batch.length - at);
      const chunk = DuckDBDataChunk.create(types, n);
      const cols = numTypes.map((_, i) => (chunk.getColumnVector(i) as unknown as { items: Float64Array }).items);
      // Most rows carry neither string: a NULL costs a validity bit, a value one native call.
      const refVec = chunk.getColumnVector(REF);
      const extraVec = chunk.getColumnVector(EXTRA);
      for (let i = 0; i < n; i++) {
        const { row, src } = batch[at + i]!;
        let c = 0;
        for (const k of NUM_COLS) {
          const v = row[k as keyof EventRow];
          cols[c++]![i] = typeof v === "number" ? v : Number.NaN;
        }
        cols[c++]![i] = KIND_CODES.indexOf(row.kind);
        cols[c++]![i] = SIDE_CODES.indexOf((row.side ?? "") as (typeof SIDE_CODES)[number]);
        const m = row.market;
        let mc = -1;
        if (m !== null && m !== undefined) {
          mc = marketCode.get(m) ?? -1;
          if (mc < 0) {
            mc = markets.length;
            markets.push(m);
            marketCode.set(m, mc);
          }
        }
        cols[c++]![i] = mc;
        cols[c++]![i] = src;
        refVec.setItem(i, row.ref ?? null);
        extraVec.setItem(i, row.extra ?? null);
      }
      for (let i = 0; i < types.length; i++) (chunk.getColumnVector(i) as unknown as { flush(): void }).flush();
      appender.appendDataChunk(chunk);
    }
  } finally {
    appender.closeSync();
  }
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
        return `s.${c} AS ${c}`;
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
        `COPY (SELECT ${sel.join(", ")} FROM stage s WHERE s.src = ${src} ORDER BY s.ts_recv, s.ord) ` +
          `TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      fs.renameSync(tmp, final);
      files++;
    }
  } finally {
    await db.run(`DELETE FROM stage`);
  }
  return files;
}
