/**
 * Streaming tape reader.
 *
 * Every Parquet segment the writer produces is sorted by (ts_recv, ord), so a day is a k-way merge of
 * sorted runs: files are opened lazily in order of their first receipt time (from the Parquet footer
 * statistics) and merged in JS by (ts_recv, source rank, ord). Usually one file per source is open at
 * a time, so memory stays at a few chunks whatever the day's size, and no sort runs at all — a
 * per-day ORDER BY was measured 2–4× slower than streaming files unsorted on this machine.
 *
 * Events come straight from the Parquet segments, streamed through DuckDB as columnar chunks: each
 * column crosses into JS as the vector's own typed array (BIGINT halves, INTEGER, DOUBLE, NULLs from
 * the validity bits), kind/market/side arrive as ENUM codes (one market dictionary per day), and the
 * cells are laid row-major for the codec; a column the footer statistics show NULL throughout a
 * segment is not read at all. Strings are decoded only for the rows whose kind carries
 * one (trade ids, the extra JSON of rare kinds). There is no second, derived copy of the data to
 * build or keep in sync: the first read of a tape is as fast as every later one.
 */
import fs from "node:fs";
import path from "node:path";
import {
  DuckDBInstance,
  type DuckDBConnection,
  type DuckDBDataChunk,
  type DuckDBResult,
  type DuckDBVector,
} from "@duckdb/node-api";
import { createMemoryDuckDB, RETURN_FREED_MEMORY } from "../duckdb.ts";
import type { Source } from "../core/events.ts";
import type { RawFrame, TapeEvent } from "./types.ts";
import { decodeEventBatch, type EventBatch } from "./codec.ts";
import {
  DIR_CODES,
  EVENT_CELLS,
  EVENT_STRIDE,
  KIND_CODES,
  SEGMENT_EXT,
  SIDE_CODES,
  SOURCES_BY_RANK,
  isSource,
  layerDir,
  sourceRank,
  sqlEnum,
  sqlString,
  type Layer,
} from "./schema.ts";

export interface ReadOptions {
  /** First UTC day, YYYY-MM-DD, inclusive. */
  from?: string;
  /** Last UTC day, inclusive. */
  to?: string;
  /**
   * Rows per yielded batch (default 2048; the last batch of a read may be shorter). Larger batches
   * keep decoded objects alive across young-generation GCs and were measured to slow the read ~2×.
   */
  batchRows?: number;
  /** Only these sources (default: all). */
  sources?: Source[];
  /** DuckDB memory limit (default "1GB"). */
  memoryLimit?: string;
}

/** A segment file whose rows are not in (ts_recv, ord) order: not written by the tape writer. */
export class TapeOrderError extends Error {
  constructor(file: string) {
    super(`tape segment ${file} is not sorted by (ts_recv, ord); rewrite it with ORDER BY ts_recv, ord`);
    this.name = "TapeOrderError";
  }
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
  return dayFileRuns(dir, layer, day, sources).map((r) => r.file);
}

interface FileRun {
  readonly file: string;
  readonly source: Source;
  readonly rank: number;
  minTs: number;
  /** Columns NULL in every row of the file, by its footer statistics (not read: their cells are NaN). */
  nullColumns: ReadonlySet<string>;
}

function dayFileRuns(dir: string, layer: Layer, day: string, sources?: readonly Source[]): FileRun[] {
  const base = path.join(layerDir(dir, layer), `date=${day}`);
  if (!fs.existsSync(base)) return [];
  const runs: FileRun[] = [];
  for (const name of fs.readdirSync(base).sort()) {
    const m = /^source=(.+)$/.exec(name);
    if (!m || !isSource(m[1]!)) continue;
    const source = m[1];
    if (sources && !sources.includes(source)) continue;
    const d = path.join(base, name);
    for (const f of fs.readdirSync(d).sort()) {
      if (f.endsWith(SEGMENT_EXT)) runs.push({ file: path.join(d, f), source, rank: sourceRank(source), minTs: 0, nullColumns: NO_COLUMNS });
    }
  }
  return runs;
}

const NO_COLUMNS: ReadonlySet<string> = new Set();

function wantedDays(days: string[], opts: ReadOptions): string[] {
  return days.filter((d) => (opts.from === undefined || d >= opts.from) && (opts.to === undefined || d <= opts.to));
}

function parquetList(files: readonly string[]): string {
  return `[${files.map(sqlString).join(", ")}]`;
}

// ---- DuckDB session ---------------------------------------------------------------------------------

interface Session {
  readonly instance: DuckDBInstance;
  readonly db: DuckDBConnection;
  close(): void;
}

async function openSession(opts: ReadOptions): Promise<Session> {
  const duck = await createMemoryDuckDB("tape-read-", {
    memory_limit: opts.memoryLimit ?? "1GB",
    // A replay streams each segment once. DuckDB's cache of file blocks (on by default) only kept
    // the days already read in memory: measured on 24-h bench days, peak RSS 308 → 319 MB from one
    // day to two with it, 296 → 300 MB without, at the same read speed.
    enable_external_file_cache: "false",
    ...RETURN_FREED_MEMORY,
  });
  const db = await duck.instance.connect();
  return {
    instance: duck.instance,
    db,
    close() {
      db.closeSync();
      duck.dispose();
    },
  };
}

/**
 * The columns of each file that are NULL in every row, from the footer statistics: a segment holds
 * few kinds, and a column none of them uses (the Kalshi prices in a Coinbase file, the spot floats
 * in a Kalshi one) costs a read for nothing. A file without statistics has none listed.
 */
async function loadNullColumns(db: DuckDBConnection, runs: FileRun[]): Promise<void> {
  const r = await db.runAndReadAll(
    `SELECT file_name, path_in_schema FROM parquet_metadata(${parquetList(runs.map((x) => x.file))}) GROUP BY ALL ` +
      // Both counts must agree with the row groups' row count: a writer's wrong count reads nothing away.
      `HAVING count(*) = count(stats_null_count) AND sum(stats_null_count) = sum(num_values) AND sum(stats_null_count) = sum(row_group_num_rows)`,
  );
  const byFile = new Map<string, Set<string>>();
  for (const [file, column] of r.getRowsJS() as [string, string][]) {
    let set = byFile.get(file);
    if (!set) byFile.set(file, (set = new Set()));
    set.add(column);
  }
  // A segment written before a column existed lacks it: its cells are NULL, like an all-NULL column.
  const present = new Map<string, Set<string>>();
  const schema = await db.runAndReadAll(`SELECT file_name, name FROM parquet_schema(${parquetList(runs.map((x) => x.file))})`);
  for (const [file, name] of schema.getRowsJS() as [string, string][]) {
    let set = present.get(file);
    if (!set) present.set(file, (set = new Set()));
    set.add(name);
  }
  for (const run of runs) {
    const have = present.get(run.file);
    const absent = have ? OPTIONAL_COLUMNS.filter((c) => !have.has(c)) : [];
    const nulls = byFile.get(run.file);
    run.nullColumns = absent.length === 0 ? (nulls ?? NO_COLUMNS) : new Set([...(nulls ?? []), ...absent]);
  }
}

/** First receipt time of each file, from the footer statistics (a scan only when they are missing). */
async function loadMinTs(db: DuckDBConnection, runs: FileRun[]): Promise<void> {
  const r = await db.runAndReadAll(
    `SELECT file_name, min(stats_min_value::BIGINT)::DOUBLE FROM parquet_metadata(${parquetList(runs.map((x) => x.file))}) ` +
      `WHERE path_in_schema = 'ts_recv' GROUP BY file_name`,
  );
  const byFile = new Map<string, number | null>();
  for (const [file, min] of r.getRowsJS() as [string, number | null][]) byFile.set(file, min);
  for (const run of runs) {
    let min = byFile.get(run.file);
    if (min === null || min === undefined) {
      const s = await db.runAndReadAll(`SELECT min(ts_recv)::DOUBLE FROM read_parquet(${sqlString(run.file)})`);
      min = (s.getRowsJS()[0]?.[0] as number | null) ?? null;
    }
    run.minTs = min ?? Number.POSITIVE_INFINITY;
  }
}

/** A per-day ENUM over a string column, so the column arrives as integer codes; returns its values. */
async function createDictionary(
  db: DuckDBConnection,
  typeName: string,
  files: readonly string[],
  column: string,
): Promise<string[]> {
  await db.run(
    `CREATE TYPE ${typeName} AS ENUM (SELECT DISTINCT coalesce(${column}, '') FROM read_parquet(${parquetList(files)}, union_by_name = true) ORDER BY 1)`,
  );
  const dict = await db.runAndReadAll(`SELECT unnest(enum_range(NULL::${typeName}))`);
  return dict.getRowsJS().map((row) => String(row[0]));
}

let typeCounter = 0;

// ---- typed column access --------------------------------------------------------------------------

/**
 * The row-major float64 cells behind a DOUBLE[N] column. @duckdb/node-api keeps the typed array in
 * fields its typings do not export; if a future version moves them, fall back to element-wise reads
 * (slower, same result). The data are copied: the chunk's memory is not ours to keep.
 */
function packedCells(v: DuckDBVector, rows: number, stride: number): Float64Array {
  const child = (v as unknown as { childData?: DuckDBVector }).childData;
  const raw = child ? (child as unknown as { items?: unknown }).items : undefined;
  if (raw instanceof Float64Array && raw.length >= rows * stride) return raw.slice(0, rows * stride);
  const out = new Float64Array(rows * stride);
  for (let i = 0; i < rows; i++) {
    const item = v.getItem(i) as { items?: readonly unknown[] } | null;
    for (let c = 0; c < stride; c++) {
      const x = item?.items?.[c];
      out[i * stride + c] = typeof x === "number" ? x : Number.NaN;
    }
  }
  return out;
}

// ---- k-way merge of sorted runs -------------------------------------------------------------------

/** Rows of one chunk or cache page, decoded, with their merge keys. */
interface Block<T> {
  readonly items: T[];
  readonly ts: Float64Array;
  readonly ord: Float64Array;
}

/** Where a cursor's blocks come from: a DuckDB stream, or the read cache (synchronous). */
interface BlockSource<T> {
  /** The next block, or null at the end of the file. */
  next(): Block<T> | null | Promise<Block<T> | null>;
  close(): void | Promise<void>;
}

class Cursor<T> {
  block: Block<T> | null = null;
  pos = 0;
  /** Key of the row at `pos`, kept in fields for the merge's inner loop. */
  headTs = Number.POSITIVE_INFINITY;
  headOrd = Number.POSITIVE_INFINITY;
  readonly rank: number;
  /** Key of the last row validated (rows are validated a block at a time, on load). */
  private lastTs = Number.NEGATIVE_INFINITY;
  private lastOrd = Number.NEGATIVE_INFINITY;

  private constructor(
    readonly run: FileRun,
    private readonly src: BlockSource<T>,
  ) {
    this.rank = run.rank;
  }

  /** A cursor on the first row of the file, or null (and the source closed) when it has none. */
  static async open<T>(run: FileRun, src: BlockSource<T>): Promise<Cursor<T> | null> {
    const c = new Cursor(run, src);
    try {
      if (await c.load()) return c;
    } catch (err) {
      await c.close();
      throw err;
    }
    await c.close();
    return null;
  }

  /** Move to the next non-empty block; false at the end of the file. */
  async load(): Promise<boolean> {
    for (;;) {
      let block = this.src.next();
      if (block instanceof Promise) block = await block.catch((err: unknown) => Promise.reject(namingFile(this.run.file, err)));
      if (block === null) {
        this.block = null;
        this.headTs = Number.POSITIVE_INFINITY;
        return false;
      }
      if (block.items.length === 0) continue;
      this.validate(block);
      this.block = block;
      this.pos = 0;
      this.headTs = block.ts[0]!;
      this.headOrd = block.ord[0]!;
      return true;
    }
  }

  /** The writer sorts every file; anything else would silently break the merge, so refuse it. */
  private validate(b: Block<T>): void {
    let lastTs = this.lastTs;
    let lastOrd = this.lastOrd;
    const { ts, ord } = b;
    for (let i = 0, n = b.items.length; i < n; i++) {
      const t = ts[i]!;
      const o = ord[i]!;
      if (t < lastTs || (t === lastTs && o <= lastOrd) || t !== t || o !== o) throw new TapeOrderError(this.run.file);
      lastTs = t;
      lastOrd = o;
    }
    this.lastTs = lastTs;
    this.lastOrd = lastOrd;
  }

  async close(): Promise<void> {
    await this.src.close();
  }
}

/** Chunks of one DuckDB query, decoded as they arrive. */
class DuckBlockSource<T> implements BlockSource<T> {
  private prefetch: Promise<DuckDBDataChunk | null> | null = null;

  private constructor(
    private readonly conn: DuckDBConnection,
    private readonly result: DuckDBResult,
    private readonly decode: (chunk: DuckDBDataChunk) => Block<T>,
    private readonly hooks: { end?: () => void; close?: () => void | Promise<void> },
  ) {}

  static async open<T>(
    instance: DuckDBInstance,
    sql: string,
    decode: (chunk: DuckDBDataChunk) => Block<T>,
    hooks: { end?: () => void; close?: () => void | Promise<void> } = {},
  ): Promise<DuckBlockSource<T>> {
    const conn = await instance.connect();
    try {
      return new DuckBlockSource(conn, await conn.stream(sql), decode, hooks);
    } catch (err) {
      conn.closeSync();
      await hooks.close?.();
      throw err;
    }
  }

  /**
   * The next non-empty chunk, decoded. The following chunk is requested before this one is decoded,
   * so DuckDB produces it while JS decodes and merges.
   */
  async next(): Promise<Block<T> | null> {
    const chunk = await (this.prefetch ?? this.result.fetchChunk());
    this.prefetch = null;
    if (chunk === null || chunk.rowCount === 0) {
      this.hooks.end?.();
      return null;
    }
    this.prefetch = this.result.fetchChunk();
    return this.decode(chunk);
  }

  /** Let an in-flight fetch finish before the connection goes away. */
  async close(): Promise<void> {
    const pending = this.prefetch;
    this.prefetch = null;
    if (pending) await pending.catch(() => null);
    this.conn.closeSync();
    await this.hooks.close?.();
  }
}

/** A read error that names the tape file it came from (DuckDB's message does not always). */
function namingFile(file: string, err: unknown): unknown {
  if (!(err instanceof Error) || err.message.includes(file) || err instanceof TapeOrderError) return err;
  return new Error(`${file}: ${err.message}`, { cause: err });
}

/** a sorts before b by (ts, rank, ord). */
function before<T>(a: Cursor<T>, b: Cursor<T>): boolean {
  return (
    a.headTs < b.headTs ||
    (a.headTs === b.headTs && (a.rank < b.rank || (a.rank === b.rank && a.headOrd < b.headOrd)))
  );
}

/**
 * Merge the sorted runs of one day by (ts, source rank, ord), yielding batches of `batchRows`.
 * The inner loop is synchronous; it only leaves to fetch a chunk, open a file or yield.
 */
async function* mergeRuns<T>(
  runs: FileRun[],
  openSource: (run: FileRun) => Promise<BlockSource<T>>,
  batchRows: number,
): AsyncGenerator<T[]> {
  const pending = [...runs].sort((a, b) => a.minTs - b.minTs || a.rank - b.rank || (a.file < b.file ? -1 : 1));
  let next = 0;
  const active: Cursor<T>[] = [];
  let out: T[] = [];
  try {
    for (;;) {
      // Open every file that could hold the next row.
      for (;;) {
        const run = pending[next];
        if (run === undefined) break;
        let headTs = Number.POSITIVE_INFINITY;
        for (const c of active) if (c.headTs < headTs) headTs = c.headTs;
        if (run.minTs > headTs) break;
        next++;
        const cursor = await Cursor.open(run, await openSource(run).catch((err: unknown) => Promise.reject(namingFile(run.file, err))));
        if (cursor) active.push(cursor);
      }
      if (active.length === 0) {
        if (next >= pending.length) break;
        continue;
      }
      const stopTs = pending[next]?.minTs ?? Number.POSITIVE_INFINITY;
      let exhausted: Cursor<T> | null = null;
      const k = active.length;
      while (out.length < batchRows) {
        let best = active[0]!;
        for (let i = 1; i < k; i++) {
          const c = active[i]!;
          if (before(c, best)) best = c;
        }
        if (best.headTs >= stopTs) break;
        const b = best.block!;
        out.push(b.items[best.pos]!);
        const p = ++best.pos;
        if (p === b.items.length) {
          exhausted = best;
          break;
        }
        best.headTs = b.ts[p]!;
        best.headOrd = b.ord[p]!;
      }
      if (exhausted !== null && !(await exhausted.load())) {
        await exhausted.close();
        active.splice(active.indexOf(exhausted), 1);
      }
      if (out.length >= batchRows) {
        yield out;
        out = [];
      }
    }
    if (out.length > 0) yield out;
  } finally {
    for (const c of active) await c.close();
  }
}

// ---- events ---------------------------------------------------------------------------------------

const KIND_ENUM = sqlEnum(KIND_CODES);
const SIDE_ENUM = sqlEnum(SIDE_CODES);
const CELL_TS = EVENT_CELLS.indexOf("ts_recv");
const CELL_ORD = EVENT_CELLS.indexOf("ord");
const CELL_SOURCE = EVENT_CELLS.indexOf("source");
const CELL_HAS_REF = EVENT_CELLS.indexOf("has_ref");

/**
 * The SQL expression of one selected column per cell (EVENT_CELLS order, `source` and `has_ref`
 * excepted: the source is constant per file and has_ref is the ref column's validity). Columns keep
 * their Parquet types — no per-row cast to DOUBLE — and the three strings arrive as integer ENUM codes.
 */
function cellSelect(cell: (typeof EVENT_CELLS)[number], marketType: string): string | null {
  switch (cell) {
    // enum_code: plain integer vectors. An ENUM-typed vector makes @duckdb/node-api rebuild the
    // type with all its values for every chunk (≈ 5 % of a read for the day's market dictionary).
    case "kind":
      return `enum_code(CAST(kind AS ${KIND_ENUM}))`;
    case "market":
      return `enum_code(CAST(coalesce(market, '') AS ${marketType}))`;
    case "side":
      return `enum_code(CAST(coalesce(side, '') AS ${SIDE_ENUM}))`;
    case "source":
    case "has_ref":
      return null;
    default:
      return cell;
  }
}

/** Numeric cells a file may leave out when its column is all NULL (the string codes are always read). */
const PRUNABLE = new Set<string>(["ts_exchange", "sid", "seq", "price", "price2", "price3", "qty", "qty2", "qty3", "qty4", "px", "px2", "px3", "px4", "px5"]);
/** Columns a segment may lack altogether (an older schema): read as NULL. */
const OPTIONAL_COLUMNS: readonly string[] = [...PRUNABLE, "ref", "extra"];

/** What one segment's query selects, and where each column lands. */
interface EventLayout {
  readonly sql: string;
  /** Cells filled from selected columns: [cell index, column index]. */
  readonly selected: readonly (readonly [number, number])[];
  /** Cells of all-NULL columns, set to NaN without reading them. */
  readonly nullCells: readonly number[];
  /** Column index of `ref` / `extra`, or -1 when the file holds none. */
  readonly refCol: number;
  readonly extraCol: number;
}

/** Rows of one segment in file order (= (ts_recv, ord) order), without its all-NULL columns. */
function eventLayout(run: FileRun, marketType: string): EventLayout {
  const cols: string[] = [];
  const selected: [number, number][] = [];
  const nullCells: number[] = [];
  for (const [i, c] of EVENT_CELLS.entries()) {
    const sql = cellSelect(c, marketType);
    if (sql === null) continue;
    if (PRUNABLE.has(c) && run.nullColumns.has(c)) nullCells.push(i);
    else {
      selected.push([i, cols.length]);
      cols.push(sql);
    }
  }
  const refCol = run.nullColumns.has("ref") ? -1 : cols.push("ref") - 1;
  const extraCol = run.nullColumns.has("extra") ? -1 : cols.push("extra") - 1;
  return { sql: `SELECT ${cols.join(", ")} FROM read_parquet(${sqlString(run.file)})`, selected, nullCells, refCol, extraCol };
}

/** A bit per row, 1 = valid, as DuckDB lays it out (little-endian 64-bit words); null = all valid. */
function validityBits(v: DuckDBVector): Uint8Array | null {
  const data = (v as unknown as { validity?: { data?: BigUint64Array | null } }).validity?.data;
  return data ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
}

/**
 * Copy one column vector into cell `c` of every row of `cells` (stride EVENT_STRIDE), NULL → NaN.
 * The vector's typed array is read directly (@duckdb/node-api keeps it in `items`); a BIGINT is
 * assembled from its two 32-bit halves, exact below 2^53 like every value the tape stores. Should a
 * future version of the package move these fields, the element-wise path gives the same numbers.
 */
function fillCell(cells: Float64Array, c: number, v: DuckDBVector, n: number): void {
  const items = (v as unknown as { items?: unknown }).items;
  const valid = validityBits(v);
  const S = EVENT_STRIDE;
  if (items instanceof BigInt64Array && items.length >= n) {
    const w = new Int32Array(items.buffer, items.byteOffset, n * 2);
    for (let i = 0, r = c; i < n; i++, r += S) {
      cells[r] = valid !== null && ((valid[i >> 3]! >> (i & 7)) & 1) === 0 ? Number.NaN : w[2 * i + 1]! * 4294967296 + (w[2 * i]! >>> 0);
    }
  } else if (
    (items instanceof Float64Array || items instanceof Int32Array || items instanceof Uint8Array || items instanceof Uint16Array || items instanceof Uint32Array) &&
    items.length >= n
  ) {
    if (valid === null) for (let i = 0, r = c; i < n; i++, r += S) cells[r] = items[i]!;
    else for (let i = 0, r = c; i < n; i++, r += S) cells[r] = ((valid[i >> 3]! >> (i & 7)) & 1) === 0 ? Number.NaN : items[i]!;
  } else {
    const codes = (v.type as unknown as { values?: readonly string[] }).values;
    for (let i = 0, r = c; i < n; i++, r += S) {
      const x = v.getItem(i);
      if (x === null) cells[r] = Number.NaN;
      else if (typeof x === "string" && codes) cells[r] = codes.indexOf(x);
      else cells[r] = Number(x);
    }
  }
}

const NO_STRING = (): string | null => null;

/**
 * The row-major cells of the chunk being decoded. decodeEventBatch reads them synchronously and keeps
 * nothing of them, so one buffer serves every chunk: a fresh 300 KB array per chunk was half the
 * read's ArrayBuffer churn, and its late collection set the replay's peak RSS.
 */
let cellScratch = new Float64Array(2048 * EVENT_STRIDE);

function eventBlock(chunk: DuckDBDataChunk, rank: number, marketDict: readonly string[], layout: EventLayout): Block<TapeEvent> {
  const n = chunk.rowCount;
  const S = EVENT_STRIDE;
  if (cellScratch.length < n * S) cellScratch = new Float64Array(n * S);
  const cells = cellScratch;
  for (const [cell, col] of layout.selected) fillCell(cells, cell, chunk.getColumnVector(col), n);
  for (const c of layout.nullCells) for (let r = c, end = n * S; r < end; r += S) cells[r] = Number.NaN;
  const refVec = layout.refCol >= 0 ? chunk.getColumnVector(layout.refCol) : null;
  const refValid = refVec ? validityBits(refVec) : null;
  const ts = new Float64Array(n);
  const ord = new Float64Array(n);
  for (let i = 0, r = 0; i < n; i++, r += S) {
    cells[r + CELL_SOURCE] = rank;
    cells[r + CELL_HAS_REF] = refVec !== null && (refValid === null || ((refValid[i >> 3]! >> (i & 7)) & 1) === 1) ? 1 : 0;
    ts[i] = cells[r + CELL_TS]!;
    ord[i] = cells[r + CELL_ORD]!;
  }
  const extraVec = layout.extraCol >= 0 ? chunk.getColumnVector(layout.extraCol) : null;
  const batch: EventBatch = {
    length: n,
    cells,
    marketDict,
    ref: refVec ? (i) => refVec.getItem(i) as string | null : NO_STRING,
    extra: extraVec ? (i) => extraVec.getItem(i) as string | null : NO_STRING,
  };
  const items: TapeEvent[] = [];
  decodeEventBatch(batch, items);
  return { items, ts, ord };
}

/** One events read: a DuckDB session and, per day, one market dictionary over the day's segments. */
class EventReadContext {
  private session: Promise<Session> | null = null;
  private day: { type: string; dict: Promise<string[]> } | null = null;

  constructor(readonly opts: ReadOptions) {}

  db(): Promise<Session> {
    this.session ??= openSession(this.opts);
    return this.session;
  }

  /**
   * The day's market ENUM (one per day rather than per file: a dictionary costs a query). Built
   * before the first segment is opened, so every segment of the day shares its codes.
   */
  async startDay(files: readonly string[]): Promise<void> {
    await this.endDay();
    const type = `tape_market_${++typeCounter}`;
    const { db } = await this.db();
    this.day = { type, dict: createDictionary(db, type, files, "market") };
    await this.day.dict;
  }

  async endDay(): Promise<void> {
    const day = this.day;
    this.day = null;
    if (day !== null && this.session !== null) await (await this.session).db.run(`DROP TYPE IF EXISTS ${day.type}`);
  }

  async close(): Promise<void> {
    if (this.session) (await this.session).close();
  }

  async source(run: FileRun): Promise<BlockSource<TapeEvent>> {
    const { instance } = await this.db();
    const day = this.day!;
    const marketDict = await day.dict;
    const layout = eventLayout(run, day.type);
    return DuckBlockSource.open(instance, layout.sql, (chunk) => eventBlock(chunk, run.rank, marketDict, layout));
  }
}

/**
 * Normalized events in receipt-time order (tie-break: ts_recv, then source rank, then ord), streamed in
 * batches; memory stays flat however many days. Straight from the Parquet segments: typed column
 * vectors, integer codes for kind/market/side, strings decoded only where a kind carries one.
 */
export async function* readTapeEvents(dir: string, opts: ReadOptions = {}): AsyncGenerator<readonly TapeEvent[]> {
  const batchRows = Math.max(1, opts.batchRows ?? 2048);
  const days = wantedDays(listDays(dir, "events"), opts);
  if (days.length === 0) return;
  const ctx = new EventReadContext(opts);
  try {
    for (const day of days) {
      const runs = dayFileRuns(dir, "events", day, opts.sources);
      if (runs.length === 0) continue;
      const { db } = await ctx.db();
      await loadMinTs(db, runs);
      await loadNullColumns(db, runs);
      await ctx.startDay(runs.map((r) => r.file));
      yield* mergeRuns(runs, (run) => ctx.source(run), batchRows);
      await ctx.endDay();
    }
  } finally {
    await ctx.close();
  }
}

// ---- raw frames -----------------------------------------------------------------------------------

/** A raw frame with its writer ordinal (what verify needs beyond RawFrame). */
export interface RawFrameWithOrd extends RawFrame {
  readonly ord: number;
}

const DIR_ENUM = sqlEnum(DIR_CODES);

function rawBlock(chunk: DuckDBDataChunk, source: Source, connDict: readonly string[]): Block<RawFrameWithOrd> {
  const n = chunk.rowCount;
  const cells = packedCells(chunk.getColumnVector(0), n, 4);
  const text = chunk.getColumnVector(1);
  const items: RawFrameWithOrd[] = new Array(n);
  const ts = new Float64Array(n);
  const ord = new Float64Array(n);
  for (let i = 0, r = 0; i < n; i++, r += 4) {
    const connId = connDict[cells[r + 2]!];
    const dir = DIR_CODES[cells[r + 3]!];
    if (connId === undefined || dir === undefined) throw new Error("raw frame with unknown conn_id/dir code");
    ts[i] = cells[r]!;
    ord[i] = cells[r + 1]!;
    items[i] = { source, connId, tsRecv: ts[i]!, dir, text: text.getItem(i) as string, ord: ord[i]! };
  }
  return { items, ts, ord };
}

/** Raw frames in receipt-time order (for --from-raw re-parsing and verify). */
export async function* readTapeRaw(dir: string, opts: ReadOptions = {}): AsyncGenerator<readonly RawFrameWithOrd[]> {
  const batchRows = Math.max(1, opts.batchRows ?? 2048);
  const days = wantedDays(listDays(dir, "raw"), opts);
  if (days.length === 0) return;
  const session = await openSession(opts);
  try {
    const { db, instance } = session;
    for (const day of days) {
      const runs = dayFileRuns(dir, "raw", day, opts.sources);
      if (runs.length === 0) continue;
      await loadMinTs(db, runs);
      const connType = `tape_conn_${++typeCounter}`;
      const connDict = await createDictionary(
        db,
        connType,
        runs.map((r) => r.file),
        "conn_id",
      );
      try {
        yield* mergeRuns(
          runs,
          (run) =>
            DuckBlockSource.open(
              instance,
              `SELECT [ts_recv::DOUBLE, ord::DOUBLE, enum_code(CAST(coalesce(conn_id, '') AS ${connType}))::DOUBLE,
                       enum_code(CAST(dir AS ${DIR_ENUM}))::DOUBLE]::DOUBLE[4], coalesce(text, '')
               FROM read_parquet(${sqlString(run.file)})`,
              (chunk) => rawBlock(chunk, run.source, connDict),
            ),
          batchRows,
        );
      } finally {
        await db.run(`DROP TYPE IF EXISTS ${connType}`);
      }
    }
  } finally {
    session.close();
  }
}

