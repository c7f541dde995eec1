/**
 * Streaming tape reader.
 *
 * Days are disjoint in receipt time, so a multi-day read is one DuckDB query per day, each sorted by
 * (ts_recv, source rank, ord); memory is bounded by one day's sort, which DuckDB may spill to disk.
 * Results are consumed as columnar chunks: numeric columns are cast to DOUBLE in SQL and read as
 * Float64Array, repeated strings (kind, side, source, market, conn_id) are cast to ENUMs and read as
 * integer codes, so the only per-row string decoding is for columns that really vary per row.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  DuckDBInstance,
  type DuckDBConnection,
  type DuckDBDataChunk,
  type DuckDBVector,
} from "@duckdb/node-api";
import type { Source } from "../core/events.ts";
import type { RawFrame, TapeEvent } from "./types.ts";
import { decodeEventBatch, type EventBatch } from "./codec.ts";
import {
  DIR_CODES,
  KIND_CODES,
  SEGMENT_EXT,
  SIDE_CODES,
  SOURCES_BY_RANK,
  isSource,
  layerDir,
  sqlEnum,
  sqlString,
  type Layer,
} from "./schema.ts";

export interface ReadOptions {
  /** First UTC day, YYYY-MM-DD, inclusive. */
  from?: string;
  /** Last UTC day, inclusive. */
  to?: string;
  /** Rows per yielded batch (approximate: whole DuckDB chunks are decoded). Default 8192. */
  batchRows?: number;
  /** Only these sources (default: all). */
  sources?: Source[];
  /** DuckDB memory limit for the per-day sort (default "1GB"); beyond it the sort spills to disk. */
  memoryLimit?: string;
}

const DAY_RE = /^date=(\d{4}-\d{2}-\d{2})$/;

/** Days present in either layer, ascending. */
export async function listTapeDays(dir: string): Promise<string[]> {
  const days = new Set<string>();
  for (const layer of ["raw", "events"] as const) {
    for (const d of listDays(dir, layer)) days.add(d);
  }
  return [...days].sort();
}

function listDays(dir: string, layer: Layer): string[] {
  const base = layerDir(dir, layer);
  if (!fs.existsSync(base)) return [];
  const out: string[] = [];
  for (const name of fs.readdirSync(base)) {
    const m = DAY_RE.exec(name);
    if (m) out.push(m[1]!);
  }
  return out.sort();
}

/** Parquet files of one layer and day, limited to the wanted sources. */
export function dayFiles(dir: string, layer: Layer, day: string, sources?: readonly Source[]): string[] {
  const base = path.join(layerDir(dir, layer), `date=${day}`);
  if (!fs.existsSync(base)) return [];
  const files: string[] = [];
  for (const name of fs.readdirSync(base).sort()) {
    const m = /^source=(.+)$/.exec(name);
    if (!m || !isSource(m[1]!)) continue;
    if (sources && !sources.includes(m[1])) continue;
    const d = path.join(base, name);
    for (const f of fs.readdirSync(d).sort()) if (f.endsWith(SEGMENT_EXT)) files.push(path.join(d, f));
  }
  return files;
}

function wantedDays(days: string[], opts: ReadOptions): string[] {
  return days.filter((d) => (opts.from === undefined || d >= opts.from) && (opts.to === undefined || d <= opts.to));
}

/** A DuckDB session for one read: created lazily, closed when the iteration ends. */
async function openSession(opts: ReadOptions): Promise<{ db: DuckDBConnection; close(): void }> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tape-read-"));
  const instance = await DuckDBInstance.create(":memory:", {
    memory_limit: opts.memoryLimit ?? "1GB",
    temp_directory: tmp,
  });
  const db = await instance.connect();
  return {
    db,
    close() {
      db.closeSync();
      instance.closeSync();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

function readParquetSql(files: readonly string[]): string {
  return `read_parquet([${files.map(sqlString).join(", ")}], hive_partitioning = true, union_by_name = true)`;
}

const SOURCE_ENUM = sqlEnum(SOURCES_BY_RANK);

// ---- typed column access --------------------------------------------------------------------------

type TypedItems = Float64Array | Uint8Array | Uint16Array | Uint32Array;

/**
 * The typed array behind a fixed-width vector. @duckdb/node-api keeps it in a field it does not
 * export in its typings; if a future version moves it, fall back to element-wise reads (slower but
 * correct).
 */
function items(v: DuckDBVector): TypedItems {
  const raw = (v as unknown as { items?: unknown }).items;
  if (
    raw instanceof Float64Array ||
    raw instanceof Uint8Array ||
    raw instanceof Uint16Array ||
    raw instanceof Uint32Array
  ) {
    return raw;
  }
  const n = v.itemCount;
  const out = new Float64Array(n);
  const enumValues = (v.type as { values?: readonly string[] }).values;
  for (let i = 0; i < n; i++) {
    const x = v.getItem(i);
    out[i] = typeof x === "number" ? x : typeof x === "string" && enumValues ? enumValues.indexOf(x) : Number.NaN;
  }
  return out;
}

function enumValues(v: DuckDBVector): readonly string[] {
  const values = (v.type as { values?: readonly string[] }).values;
  if (!values) throw new Error(`expected an ENUM column, got ${v.type.toString()}`);
  return values;
}

/** Fixed code tables must be read with the declared order, whatever DuckDB returns. */
function checkEnum(v: DuckDBVector, expected: readonly string[], what: string): void {
  const got = enumValues(v);
  if (got.length !== expected.length || got.some((x, i) => x !== expected[i])) {
    throw new Error(`${what} enum mismatch`);
  }
}

function stringAt(v: DuckDBVector): (i: number) => string | null {
  return (i) => v.getItem(i) as string | null;
}

async function* chunks(db: DuckDBConnection, sql: string): AsyncGenerator<DuckDBDataChunk> {
  const result = await db.stream(sql);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (chunk === null || chunk.rowCount === 0) return;
    yield chunk;
  }
}

// ---- events ---------------------------------------------------------------------------------------

const num = (col: string) => `coalesce(${col}::DOUBLE, 'NaN'::DOUBLE)`;

function eventsSql(files: readonly string[], marketType: string): string {
  return `SELECT
      ts_recv::DOUBLE, ${num("ts_exchange")}, CAST(kind AS ${sqlEnum(KIND_CODES)}),
      CAST(source AS ${SOURCE_ENUM}), CAST(coalesce(market, '') AS ${marketType}),
      ${num("sid")}, ${num("seq")}, CAST(coalesce(side, '') AS ${sqlEnum(SIDE_CODES)}),
      ${num("price")}, ${num("price2")}, ${num("price3")},
      ${num("qty")}, ${num("qty2")}, ${num("qty3")}, ${num("qty4")},
      ${num("px")}, ${num("px2")}, ${num("px3")}, ${num("px4")}, ${num("px5")},
      ref, extra
    FROM ${readParquetSql(files)}
    ORDER BY ts_recv, CAST(source AS ${SOURCE_ENUM}), ord`;
}

function chunkToBatch(chunk: DuckDBDataChunk): EventBatch {
  const v = (i: number) => chunk.getColumnVector(i);
  const kindV = v(2);
  const sourceV = v(3);
  const sideV = v(7);
  checkEnum(kindV, KIND_CODES, "kind");
  checkEnum(sourceV, SOURCES_BY_RANK, "source");
  checkEnum(sideV, SIDE_CODES, "side");
  const marketV = v(4);
  return {
    length: chunk.rowCount,
    tsRecv: items(v(0)),
    tsExchange: items(v(1)),
    kind: items(kindV),
    source: items(sourceV),
    market: items(marketV),
    marketDict: enumValues(marketV),
    sid: items(v(5)),
    seq: items(v(6)),
    side: items(sideV),
    price: items(v(8)),
    price2: items(v(9)),
    price3: items(v(10)),
    qty: items(v(11)),
    qty2: items(v(12)),
    qty3: items(v(13)),
    qty4: items(v(14)),
    px: items(v(15)),
    px2: items(v(16)),
    px3: items(v(17)),
    px4: items(v(18)),
    px5: items(v(19)),
    ref: stringAt(v(20)),
    extra: stringAt(v(21)),
  };
}

let typeCounter = 0;

/**
 * Normalized events in receipt-time order (tie-break: ts_recv, then source rank, then ord), streamed in
 * batches; memory stays flat however many days.
 */
export async function* readTapeEvents(dir: string, opts: ReadOptions = {}): AsyncGenerator<readonly TapeEvent[]> {
  const batchRows = opts.batchRows ?? 8192;
  const days = wantedDays(listDays(dir, "events"), opts);
  if (days.length === 0) return;
  const session = await openSession(opts);
  try {
    const { db } = session;
    for (const day of days) {
      const files = dayFiles(dir, "events", day, opts.sources);
      if (files.length === 0) continue;
      // A per-day dictionary of markets, so the market column arrives as integer codes.
      const marketType = `tape_market_${++typeCounter}`;
      await db.run(
        `CREATE TYPE ${marketType} AS ENUM (SELECT DISTINCT coalesce(market, '') FROM ${readParquetSql(files)} ORDER BY 1)`,
      );
      try {
        let out: TapeEvent[] = [];
        for await (const chunk of chunks(db, eventsSql(files, marketType))) {
          decodeEventBatch(chunkToBatch(chunk), out);
          if (out.length >= batchRows) {
            yield out;
            out = [];
          }
        }
        if (out.length > 0) yield out;
      } finally {
        await db.run(`DROP TYPE IF EXISTS ${marketType}`);
      }
    }
  } finally {
    session.close();
  }
}

// ---- raw frames -----------------------------------------------------------------------------------

/** A raw frame with its writer ordinal (what verify needs beyond RawFrame). */
export interface RawFrameWithOrd extends RawFrame {
  readonly ord: number;
}

/** Raw frames in receipt-time order (for --from-raw re-parsing and verify). */
export async function* readTapeRaw(dir: string, opts: ReadOptions = {}): AsyncGenerator<readonly RawFrameWithOrd[]> {
  const batchRows = opts.batchRows ?? 8192;
  const days = wantedDays(listDays(dir, "raw"), opts);
  if (days.length === 0) return;
  const session = await openSession(opts);
  try {
    const { db } = session;
    for (const day of days) {
      const files = dayFiles(dir, "raw", day, opts.sources);
      if (files.length === 0) continue;
      const connType = `tape_conn_${++typeCounter}`;
      await db.run(
        `CREATE TYPE ${connType} AS ENUM (SELECT DISTINCT coalesce(conn_id, '') FROM ${readParquetSql(files)} ORDER BY 1)`,
      );
      try {
        const sql = `SELECT ts_recv::DOUBLE, ord::DOUBLE, CAST(source AS ${SOURCE_ENUM}),
            CAST(coalesce(conn_id, '') AS ${connType}), CAST(dir AS ${sqlEnum(DIR_CODES)}), text
          FROM ${readParquetSql(files)}
          ORDER BY ts_recv, CAST(source AS ${SOURCE_ENUM}), ord`;
        let out: RawFrameWithOrd[] = [];
        for await (const chunk of chunks(db, sql)) {
          const sourceV = chunk.getColumnVector(2);
          const dirV = chunk.getColumnVector(4);
          const connV = chunk.getColumnVector(3);
          checkEnum(sourceV, SOURCES_BY_RANK, "source");
          checkEnum(dirV, DIR_CODES, "dir");
          const ts = items(chunk.getColumnVector(0));
          const ord = items(chunk.getColumnVector(1));
          const src = items(sourceV);
          const conn = items(connV);
          const connDict = enumValues(connV);
          const dirs = items(dirV);
          const text = chunk.getColumnVector(5);
          for (let i = 0, n = chunk.rowCount; i < n; i++) {
            out.push({
              source: SOURCES_BY_RANK[src[i]!]!,
              connId: connDict[conn[i]!]!,
              tsRecv: ts[i]!,
              dir: DIR_CODES[dirs[i]!]!,
              text: (text.getItem(i) as string | null) ?? "",
              ord: ord[i]!,
            });
          }
          if (out.length >= batchRows) {
            yield out;
            out = [];
          }
        }
        if (out.length > 0) yield out;
      } finally {
        await db.run(`DROP TYPE IF EXISTS ${connType}`);
      }
    }
  } finally {
    session.close();
  }
}
