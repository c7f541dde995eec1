/**
 * Streaming tape reader.
 *
 * Every Parquet segment the writer produces is sorted by (ts_recv, ord), so a day is a k-way merge of
 * sorted runs: files are opened lazily in order of their first receipt time (from the Parquet footer
 * statistics) and merged in JS by (ts_recv, source rank, ord). Usually one file per source is open at
 * a time, so memory stays at a few chunks whatever the day's size, and no sort runs at all — a
 * per-day ORDER BY was measured 2–4× slower than streaming files unsorted on this machine.
 *
 * An events segment is read from its read-cache file when one is current (cache.ts: typed arrays
 * straight from disk, no DuckDB, no per-value conversion); otherwise it is streamed through DuckDB as
 * columnar chunks and the cache file is written on the way. Numeric cells of a row are packed in SQL
 * into one DOUBLE[] column (codes for kind/source/market/side), which crosses into JS as a single
 * Float64Array; only per-row strings (trade ids, extra JSON, raw text) are decoded one by one. Both
 * paths produce the same events in the same order; the merge does not know which one a file used.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  DuckDBInstance,
  type DuckDBConnection,
  type DuckDBDataChunk,
  type DuckDBResult,
  type DuckDBVector,
} from "@duckdb/node-api";
import type { Source } from "../core/events.ts";
import type { RawFrame, TapeEvent } from "./types.ts";
import {
  decodeCompactRows,
  decodeEventBatch,
  packCompactColumns,
  type CompactEventPage,
  type CompactPosition,
  type EventBatch,
} from "./codec.ts";
import {
  EventCacheReader,
  EventCacheWriter,
  discard,
  eventCachePath,
  sourceKey,
  type SourceKey,
} from "./cache.ts";
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
  /**
   * Use and build the read cache under `<dir>/.cache` (default true; see cache.ts). The cache is
   * derived and optional: false reads every segment from Parquet and writes nothing.
   */
  cache?: boolean;
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
      if (f.endsWith(SEGMENT_EXT)) runs.push({ file: path.join(d, f), source, rank: sourceRank(source), minTs: 0 });
    }
  }
  return runs;
}

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
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tape-read-"));
  const instance = await DuckDBInstance.create(":memory:", {
    memory_limit: opts.memoryLimit ?? "1GB",
    temp_directory: tmp,
  });
  const db = await instance.connect();
  return {
    instance,
    db,
    close() {
      db.closeSync();
      instance.closeSync();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
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

function stringAt(v: DuckDBVector): (i: number) => string | null {
  return (i) => v.getItem(i) as string | null;
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

/** SQL for one packed cell (see EVENT_CELLS): codes via the enums, NULL → NaN. */
function cellSql(cell: (typeof EVENT_CELLS)[number], rank: number, marketType: string): string {
  switch (cell) {
    case "kind":
      return `enum_code(CAST(kind AS ${KIND_ENUM}))::DOUBLE`;
    case "source":
      return `${rank}::DOUBLE`;
    case "market":
      return `enum_code(CAST(coalesce(market, '') AS ${marketType}))::DOUBLE`;
    case "side":
      return `enum_code(CAST(coalesce(side, '') AS ${SIDE_ENUM}))::DOUBLE`;
    case "has_ref":
      return `(ref IS NOT NULL)::DOUBLE`;
    default:
      return `coalesce(${cell}::DOUBLE, 'NaN'::DOUBLE)`;
  }
}

/** Rows of one segment in file order (= (ts_recv, ord) order), from row `offset` on. */
function eventsSql(run: FileRun, marketType: string, offset: number): string {
  const cells = EVENT_CELLS.map((c) => cellSql(c, run.rank, marketType)).join(", ");
  // NULLs are coalesced away so the string vectors carry no validity mask (per-row mask checks in
  // @duckdb/node-api allocate BigInts); has_ref keeps ref's NULL-ness, extra is never NULL where read.
  // A single-file scan keeps file order (DuckDB preserves insertion order), so OFFSET resumes exactly.
  return `SELECT [${cells}]::DOUBLE[${EVENT_STRIDE}], coalesce(ref, ''), coalesce(extra, '')
    FROM read_parquet(${sqlString(run.file)})${offset > 0 ? ` OFFSET ${offset}` : ""}`;
}

/** Feeds decoded DuckDB chunks of one segment into its cache file. */
interface CacheFeed {
  readonly writer: EventCacheWriter;
  /** Dictionary code (this read's) → cache file code; -1 = not yet assigned. */
  readonly remap: Int32Array;
}

function eventBlock(chunk: DuckDBDataChunk, marketDict: readonly string[], feed: CacheFeed | null): Block<TapeEvent> {
  const n = chunk.rowCount;
  const cells = packedCells(chunk.getColumnVector(0), n, EVENT_STRIDE);
  const batch: EventBatch = {
    length: n,
    cells,
    marketDict,
    ref: stringAt(chunk.getColumnVector(1)),
    extra: stringAt(chunk.getColumnVector(2)),
  };
  const items: TapeEvent[] = [];
  decodeEventBatch(batch, items);
  if (feed !== null && feed.writer.active) {
    // Decoding succeeded, so every code and string is valid: pack the same rows for the cache.
    try {
      const { writer, remap } = feed;
      const cols = packCompactColumns(batch, (code) => {
        let c = remap[code]!;
        if (c < 0) c = remap[code] = writer.marketCode(marketDict[code]!);
        return c;
      });
      writer.append(cols);
      return { items, ts: cols.tsRecv, ord: cols.ord };
    } catch {
      feed.writer.abort();
    }
  }
  const ts = new Float64Array(n);
  const ord = new Float64Array(n);
  for (let i = 0, r = 0; i < n; i++, r += EVENT_STRIDE) {
    ts[i] = cells[r + CELL_TS]!;
    ord[i] = cells[r + CELL_ORD]!;
  }
  return { items, ts, ord };
}

/** One events read: the DuckDB session is opened only if some segment has to come from Parquet. */
class EventReadContext {
  private session: Promise<Session> | null = null;

  constructor(
    readonly dir: string,
    readonly opts: ReadOptions,
  ) {}

  /**
   * The market dictionary of the day being read, over its segments that are not cached: one ENUM per
   * day (built on first use) instead of one per file, which costs a query per file.
   */
  private day: { files: Set<string>; type: string; dict: () => Promise<string[]> } | null = null;

  async startDay(uncached: readonly string[]): Promise<void> {
    await this.endDay();
    if (uncached.length === 0) return;
    const type = `tape_market_${++typeCounter}`;
    let dict: Promise<string[]> | null = null;
    this.day = {
      files: new Set(uncached),
      type,
      dict: () => (dict ??= this.db().then((s) => createDictionary(s.db, type, uncached, "market"))),
    };
  }

  async endDay(): Promise<void> {
    const day = this.day;
    this.day = null;
    if (day !== null && this.session !== null) await (await this.session).db.run(`DROP TYPE IF EXISTS ${day.type}`);
  }

  get useCache(): boolean {
    return this.opts.cache !== false;
  }

  db(): Promise<Session> {
    this.session ??= openSession(this.opts);
    return this.session;
  }

  async close(): Promise<void> {
    if (this.session) (await this.session).close();
  }

  /**
   * Rows of a segment from Parquet, from row `offset` on; with `key`, also (re)build its cache file
   * (only a read from row 0 can produce a complete one).
   */
  async duckSource(run: FileRun, offset: number, key: SourceKey | null): Promise<BlockSource<TapeEvent>> {
    const { db, instance } = await this.db();
    const shared = this.day?.files.has(run.file) ? this.day : null;
    const own = shared === null ? `tape_market_${++typeCounter}` : null;
    const marketType = shared?.type ?? own!;
    const marketDict = shared !== null ? await shared.dict() : await createDictionary(db, own!, [run.file], "market");
    const cachePath = this.useCache && offset === 0 && key !== null ? eventCachePath(this.dir, run.file) : null;
    const writer = cachePath !== null ? EventCacheWriter.create(cachePath, run.file, key!) : null;
    const feed: CacheFeed | null = writer ? { writer, remap: new Int32Array(marketDict.length).fill(-1) } : null;
    return DuckBlockSource.open(instance, eventsSql(run, marketType, offset), (chunk) => eventBlock(chunk, marketDict, feed), {
      end: () => writer?.finish(),
      close: async () => {
        writer?.abort();
        if (own !== null) await db.run(`DROP TYPE IF EXISTS ${own}`);
      },
    });
  }
}

/** Rows decoded at a time from a cache page (measured: smaller slices mean cheaper young-generation GCs). */
const SLICE_ROWS = 256;

/** Pages of a segment's cache file; on any trouble with the cache, the rest comes from Parquet. */
class CachedEventSource implements BlockSource<TapeEvent> {
  private fallback: BlockSource<TapeEvent> | null = null;
  /** Rows handed out so far (where a fallback resumes). */
  private rows = 0;
  private page: CompactEventPage | null = null;
  private readonly at: CompactPosition = { row: 0, val: 0, str: 0 };

  constructor(
    private readonly reader: EventCacheReader,
    private readonly run: FileRun,
    private readonly ctx: EventReadContext,
    private readonly key: SourceKey,
  ) {}

  next(): Block<TapeEvent> | null | Promise<Block<TapeEvent> | null> {
    if (this.fallback !== null) return this.fallback.next();
    try {
      let page = this.page;
      if (page === null || this.at.row === page.length) {
        page = this.page = this.reader.nextPage();
        if (page === null) return null;
        this.at.row = this.at.val = this.at.str = 0;
      }
      const from = this.at.row;
      const items: TapeEvent[] = [];
      decodeCompactRows(page, this.run.source, this.at, SLICE_ROWS, items);
      this.rows += items.length;
      const to = this.at.row;
      return { items, ts: page.tsRecv.subarray(from, to), ord: page.ord.subarray(from, to) };
    } catch {
      // Corrupt, truncated or unreadable: Parquet is the source of truth. Rebuild only from the start.
      this.reader.close();
      discard(this.reader.file);
      return this.switchToParquet();
    }
  }

  private async switchToParquet(): Promise<Block<TapeEvent> | null> {
    this.fallback = await this.ctx.duckSource(this.run, this.rows, this.rows === 0 ? this.key : null);
    return this.fallback.next();
  }

  async close(): Promise<void> {
    this.reader.close();
    await this.fallback?.close();
  }
}

interface EventRun extends FileRun {
  key: SourceKey | null;
  cached: boolean;
}

/** Cache state and first receipt time of each segment (from the cache header, else Parquet stats). */
async function prepareEventRuns(ctx: EventReadContext, runs: FileRun[]): Promise<EventRun[]> {
  const out: EventRun[] = [];
  const uncached: EventRun[] = [];
  for (const run of runs) {
    const er: EventRun = { ...run, key: sourceKey(run.file), cached: false };
    const cachePath = ctx.useCache && er.key !== null ? eventCachePath(ctx.dir, run.file) : null;
    const reader = cachePath !== null ? EventCacheReader.open(cachePath, er.key!) : null;
    if (reader !== null) {
      er.minTs = reader.minTs;
      er.cached = true;
      reader.close();
    } else uncached.push(er);
    out.push(er);
  }
  if (uncached.length > 0) await loadMinTs((await ctx.db()).db, uncached);
  await ctx.startDay(uncached.map((r) => r.file));
  return out;
}

async function openEventSource(ctx: EventReadContext, run: EventRun): Promise<BlockSource<TapeEvent>> {
  if (run.cached && run.key !== null) {
    const path = eventCachePath(ctx.dir, run.file);
    const reader = path !== null ? EventCacheReader.open(path, run.key) : null;
    if (reader !== null) return new CachedEventSource(reader, run, ctx, run.key);
  }
  return ctx.duckSource(run, 0, run.key);
}

/**
 * Normalized events in receipt-time order (tie-break: ts_recv, then source rank, then ord), streamed in
 * batches; memory stays flat however many days. Segments are read from the read cache when it holds
 * a current copy, else from Parquet (building the cache on the way, unless `cache: false`).
 */
export async function* readTapeEvents(dir: string, opts: ReadOptions = {}): AsyncGenerator<readonly TapeEvent[]> {
  const batchRows = Math.max(1, opts.batchRows ?? 2048);
  const days = wantedDays(listDays(dir, "events"), opts);
  if (days.length === 0) return;
  const ctx = new EventReadContext(dir, opts);
  try {
    for (const day of days) {
      const files = dayFileRuns(dir, "events", day, opts.sources);
      if (files.length === 0) continue;
      const runs = await prepareEventRuns(ctx, files);
      yield* mergeRuns(runs, (run) => openEventSource(ctx, run as EventRun), batchRows);
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

