/**
 * The audit store: one DuckDB file holding market data (collector), engine audit records (replay,
 * paper, live) and study rows. Schema lives in ordered SQL migrations next to this file; they apply
 * automatically when a store is opened. Units and column meanings: lib/store/SCHEMA.md.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import duckdb from "@duckdb/node-bindings";
import { BIGINT, BOOLEAN, DOUBLE, DuckDBDataChunk, DuckDBInstance, INTEGER, LIST, VARCHAR, type DuckDBType } from "@duckdb/node-api";
import { createMemoryDuckDB, RETURN_FREED_MEMORY, type MemoryDuckDB } from "../duckdb.ts";
import type { DuckDBAppender, DuckDBConnection, DuckDBValue } from "@duckdb/node-api";
import { z } from "zod";
import type { EngineEvent } from "../core/events.ts";
import type { AuditRecord, ForecastRecord } from "../core/records.ts";
import type { TsUs } from "../core/units.ts";

export interface Store {
  readonly path: string;
  connection: DuckDBConnection;
  close(): Promise<void>;
}

export const DEFAULT_DB_PATH = "./data/kalshi.duckdb";

/** DB path from an explicit argument, else the DB_PATH env var, else the default. */
export function resolveDbPath(arg?: string | null, env: Record<string, string | undefined> = process.env): string {
  if (arg) return arg;
  const parsed = z.string().trim().min(1).optional().safeParse(env.DB_PATH);
  if (!parsed.success) throw new Error("DB_PATH must be a non-empty path");
  return parsed.data ?? DEFAULT_DB_PATH;
}

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), "migrations");

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The migration files, ordered by their numeric prefix (NNN_name.sql). */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir)) {
    const m = /^(\d+)_([\w-]+)\.sql$/.exec(file);
    if (!m) continue;
    out.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, file), "utf8") });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.version === out[i - 1]!.version) throw new Error(`duplicate migration version ${out[i]!.version}`);
  }
  return out;
}

/** Apply every migration newer than what schema_migrations records, each in its own transaction. */
export async function migrate(connection: DuckDBConnection, migrations: Migration[] = loadMigrations()): Promise<number[]> {
  await connection.run(
    `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_us BIGINT NOT NULL)`,
  );
  const done = new Set(
    (await connection.runAndReadAll(`SELECT version FROM schema_migrations`)).getRowsJS().map((r) => Number(r[0])),
  );
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    await connection.run("BEGIN TRANSACTION");
    try {
      await connection.run(m.sql);
      await connection.run(`INSERT INTO schema_migrations VALUES ($1, $2, $3)`, [m.version, m.name, BigInt(Date.now()) * 1000n]);
      await connection.run("COMMIT");
    } catch (err) {
      await connection.run("ROLLBACK");
      throw new Error(`migration ${m.version}_${m.name} failed: ${(err as Error).message}`);
    }
    applied.push(m.version);
  }
  return applied;
}

export async function openStore(path: string = resolveDbPath(), o: { memoryLimit?: string; threads?: number } = {}): Promise<Store> {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  // A long-running writer (the collector) caps DuckDB's buffer pool and has freed memory returned to
  // the OS after each task; analysis keeps the defaults. A file database spills to <file>.tmp, an
  // in-memory one into a folder of its own (lib/duckdb.ts).
  const options: Record<string, string> = {
    ...(o.memoryLimit ? { memory_limit: o.memoryLimit, ...RETURN_FREED_MEMORY } : {}),
    ...(o.threads ? { threads: String(o.threads) } : {}),
  };
  const duck: Pick<MemoryDuckDB, "instance" | "dispose"> =
    path === ":memory:"
      ? await createMemoryDuckDB("kbe-store-", options)
      : await DuckDBInstance.create(path, options).then((instance) => ({ instance, dispose: () => instance.closeSync() }));
  const connection = await duck.instance.connect();
  try {
    await migrate(connection);
    await loadColumns(connection);
  } catch (err) {
    connection.closeSync();
    duck.dispose();
    throw err;
  }
  let closed = false;
  return {
    path,
    connection,
    async close() {
      if (closed) return;
      closed = true;
      connection.closeSync();
      duck.dispose();
    },
  };
}

export type RunMode = "replay" | "paper" | "live" | "collect" | "study";

export interface RunInfo {
  runId: string;
  mode: RunMode;
  startedTs: TsUs;
  configJson: string;
  tape?: string;
}

export async function beginRun(store: Store, run: RunInfo): Promise<void> {
  await store.connection.run(`INSERT INTO runs (run_id, mode, started_us, config_json, tape, config_hash) VALUES ($1, $2, $3, $4, $5, $6)`, [
    run.runId,
    run.mode,
    BigInt(run.startedTs),
    run.configJson,
    run.tape ?? null,
    configHash(run.configJson),
  ]);
}

/** Rows as plain objects; BIGINT values that fit a double exactly become numbers. */
export async function queryObjects(
  store: Store | DuckDBConnection,
  sql: string,
  params?: DuckDBValue[] | Record<string, DuckDBValue>,
): Promise<Record<string, unknown>[]> {
  const conn: DuckDBConnection = "close" in store && "path" in store ? (store as Store).connection : (store as DuckDBConnection);
  const reader = await conn.runAndReadAll(sql, params);
  const rows = reader.getRowObjectsJS();
  for (const row of rows) {
    for (const k of Object.keys(row)) {
      const v = row[k];
      if (typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)) {
        row[k] = Number(v);
      }
    }
  }
  return rows as Record<string, unknown>[];
}

// ---- Batched appender writing ---------------------------------------------------------------------

/**
 * Column kinds of a row. Sentinels are mapped to NULL on the way in: NaN for doubles, negative values
 * for `price` (PriceE4 -1 = absent), null/undefined for everything.
 */
type ColKind = "str" | "dbl" | "int" | "big" | "price" | "bool" | "i4list" | "i8list";

interface TableSpec<T> {
  readonly table: string;
  readonly kinds: readonly ColKind[];
  readonly row: (r: T, runId: string, mode: string) => unknown[];
}

function isInt(v: unknown): boolean {
  return typeof v === "number" && Number.isSafeInteger(v);
}

const INT32_MAX = 2 ** 31 - 1;
/** An INTEGER column's value: a safe integer that fits in 32 bits. */
function isInt32(v: unknown): boolean {
  return isInt(v) && (v as number) <= INT32_MAX && (v as number) >= -INT32_MAX - 1;
}

/**
 * True when every integer-kind value is an exact integer of its column's width (or null) and no cell
 * of a NOT NULL column would be stored as NULL, so a row is rejected whole instead of failing its
 * batch (DuckDB then refuses every row of it) at the append.
 */
function rowValid(kinds: readonly ColKind[], row: unknown[], notNull: readonly boolean[]): boolean {
  if (row.length !== kinds.length) return false;
  for (let i = 0; i < kinds.length; i++) {
    const k = kinds[i]!;
    const v = row[i];
    if (v === null || v === undefined) {
      if (notNull[i]) return false;
      continue;
    }
    switch (k) {
      case "int":
        if (!isInt32(v)) return false;
        break;
      case "price": // -1 (absent) is stored as NULL
        if (!isInt32(v) || (notNull[i] && (v as number) < 0)) return false;
        break;
      case "big":
        if (!isInt(v)) return false;
        break;
      case "str":
        if (typeof v !== "string") return false;
        break;
      case "dbl": // NaN is stored as NULL
        if (typeof v !== "number" || (notNull[i] && Number.isNaN(v))) return false;
        break;
      case "bool":
        if (typeof v !== "boolean") return false;
        break;
      case "i4list":
        if (!Array.isArray(v) || !v.every(isInt32)) return false;
        break;
      case "i8list":
        if (!Array.isArray(v) || !v.every(isInt)) return false;
        break;
    }
  }
  return true;
}

/**
 * What a writer needs of a table's stored columns, in column order: NOT NULL flags and DuckDB type
 * names. Read when the store opens, per connection, so a writer issues no query of its own next to
 * other writers' appends on the shared connection; a table made later is found by reading them again
 * on its first batch.
 */
interface TableColumns {
  readonly notNull: boolean[];
  readonly types: string[];
}

const COLUMNS = new WeakMap<DuckDBConnection, Map<string, TableColumns>>();

async function loadColumns(connection: DuckDBConnection): Promise<Map<string, TableColumns>> {
  const r = await connection.runAndReadAll(
    `SELECT table_name, is_nullable, data_type FROM duckdb_columns()
     WHERE database_name = current_database() AND schema_name = 'main' ORDER BY table_name, column_index`,
  );
  const byTable = new Map<string, TableColumns>();
  for (const [name, nullable, type] of r.getRowsJS()) {
    let t = byTable.get(String(name));
    if (!t) byTable.set(String(name), (t = { notNull: [], types: [] }));
    t.notNull.push(nullable === false);
    t.types.push(String(type));
  }
  COLUMNS.set(connection, byTable);
  return byTable;
}

/** A table's columns; writers fill its first `n` columns in order (generated ones come last). */
async function tableColumns(connection: DuckDBConnection, table: string, n: number): Promise<TableColumns> {
  const cols = COLUMNS.get(connection)?.get(table) ?? (await loadColumns(connection)).get(table);
  if (!cols || cols.notNull.length < n) throw new Error(`table ${table} has ${cols?.notNull.length ?? 0} columns, its writer fills ${n}`);
  return cols;
}

/** How a writer hands rows to DuckDB: a data chunk per 2048 rows (default), or one call per value. */
export type AppendPath = "chunks" | "rows";

export interface WriterOptions {
  /** Records buffered before a background flush (default 50 000). */
  batchRows?: number;
  appendPath?: AppendPath;
}

/** Rows per appended data chunk: DuckDB's vector size, the most a chunk holds. */
const CHUNK_ROWS = Math.min(2048, duckdb.vector_size());

/** The stored type each scalar column kind is laid out as in a chunk. */
const CHUNK_TYPE: Partial<Record<ColKind, string>> = { str: "VARCHAR", dbl: "DOUBLE", int: "INTEGER", price: "INTEGER", big: "BIGINT", bool: "BOOLEAN" };
const CHUNK_DUCK_TYPE: Record<string, DuckDBType> = { VARCHAR, DOUBLE, INTEGER, BIGINT, BOOLEAN };

/** The chunk layouts below write little-endian words, DuckDB's layout on every platform it ships for. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** A table whose every column is a scalar of the type its kind expects; others keep the row appender. */
function chunkable(kinds: readonly ColKind[], types: readonly string[]): boolean {
  if (!LITTLE_ENDIAN) return false;
  for (let j = 0; j < kinds.length; j++) if (CHUNK_TYPE[kinds[j]!] !== types[j]) return false;
  return true;
}

/**
 * Append validated rows (at most CHUNK_ROWS) as one data chunk: numbers are laid into typed arrays
 * and copied into their vectors a column at a time, and a string of at most 12 ASCII bytes is written
 * in place as DuckDB's inlined `duckdb_string_t` (length, then the bytes, zero-padded) — the many
 * short codes (run id, mode, side, decision, reason) then cost no call each. Longer strings go
 * through `duckdb_vector_assign_string_element`, the one call that owns heap memory (SCHEMA.md,
 * "Writers", has the figures).
 */
function appendChunk(a: DuckDBAppender, kinds: readonly ColKind[], types: readonly string[], rows: readonly unknown[][]): void {
  const n = rows.length;
  const chunk = DuckDBDataChunk.create(
    types.slice(0, kinds.length).map((t) => CHUNK_DUCK_TYPE[t]!),
    n,
  );
  const words = Math.ceil(n / 64) * 2; // validity: 64-bit words, as 32-bit halves
  for (let j = 0; j < kinds.length; j++) {
    const vec = duckdb.data_chunk_get_vector(chunk.chunk, j);
    const valid = new Uint32Array(words).fill(0xffffffff);
    let anyNull = false;
    let long: number[] | null = null;
    let cells: Uint8Array | Int32Array | Float64Array;
    const kind = kinds[j]!;
    if (kind === "str") {
      cells = new Uint8Array(n * 16);
      const lengths = new Uint32Array(cells.buffer);
      for (let i = 0; i < n; i++) {
        const v = rows[i]![j] as string | null | undefined;
        if (v === null || v === undefined) {
          anyNull = setNull(valid, i);
          continue;
        }
        const len = v.length;
        let inline = len <= 12;
        for (let c = 0, at = i * 16 + 4; inline && c < len; c++, at++) {
          const code = v.charCodeAt(c);
          if (code > 127) inline = false;
          else cells[at] = code;
        }
        if (inline) lengths[i * 4] = len;
        else (long ??= []).push(i);
      }
    } else if (kind === "big") {
      // A safe integer as two 32-bit halves: exact, and no BigInt per value.
      cells = new Int32Array(n * 2);
      for (let i = 0; i < n; i++) {
        const v = rows[i]![j] as number | null | undefined;
        if (v === null || v === undefined) {
          anyNull = setNull(valid, i);
          continue;
        }
        const hi = Math.floor(v / 4294967296);
        cells[2 * i] = (v - hi * 4294967296) | 0;
        cells[2 * i + 1] = hi;
      }
    } else {
      // dbl: NaN is NULL; int; price: negative (−1, absent) is NULL; bool as 0/1 bytes.
      cells = kind === "dbl" ? new Float64Array(n) : kind === "bool" ? new Uint8Array(n) : new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = rows[i]![j] as number | boolean | null | undefined;
        if (v === null || v === undefined || v !== v || (kind === "price" && (v as number) < 0)) anyNull = setNull(valid, i);
        else cells[i] = typeof v === "boolean" ? (v ? 1 : 0) : v;
      }
    }
    duckdb.copy_data_to_vector(vec, 0, cells.buffer as ArrayBuffer, 0, cells.byteLength);
    if (long !== null) appendLongStrings(vec, rows, j, long, n); // after the copy, which would overwrite them
    if (anyNull) {
      duckdb.vector_ensure_validity_writable(vec);
      duckdb.copy_data_to_vector_validity(vec, 0, valid.buffer, 0, valid.byteLength);
    }
  }
  a.appendDataChunk(chunk);
}

/** Clear row i's validity bit; true, for the caller's "any NULL" flag. */
function setNull(valid: Uint32Array, i: number): true {
  valid[i >>> 5]! &= ~(1 << (i & 31));
  return true;
}

/**
 * Strings a chunk cannot inline. Each distinct one is assigned once; its repeats in the chunk (the
 * market, its event ticker) get a copy of the same `duckdb_string_t`, pointing at the one copy of the
 * bytes in the vector's own string heap, as DuckDB's own flattened vectors do. A chunk holds a few
 * dozen markets, so this saves most of the calls.
 */
function appendLongStrings(vec: duckdb.Vector, rows: readonly unknown[][], j: number, long: readonly number[], n: number): void {
  const first = new Map<string, number>();
  let repeats: number[] | null = null;
  for (const i of long) {
    const v = rows[i]![j] as string;
    const at = first.get(v);
    if (at !== undefined) {
      (repeats ??= []).push(i, at);
      continue;
    }
    first.set(v, i);
    duckdb.vector_assign_string_element(vec, i, v); // keeps NUL: the binding passes the length
  }
  if (repeats === null) return;
  const cells = duckdb.vector_get_data(vec, n * 16); // a copy, with the assigned strings in place
  for (let r = 0; r < repeats.length; r += 2) cells.copyWithin(repeats[r]! * 16, repeats[r + 1]! * 16, repeats[r + 1]! * 16 + 16);
  duckdb.copy_data_to_vector(vec, 0, cells.buffer as ArrayBuffer, cells.byteOffset, n * 16);
}

function appendRow(a: DuckDBAppender, kinds: readonly ColKind[], row: unknown[]): void {
  for (let i = 0; i < kinds.length; i++) {
    const v = row[i];
    if (v === null || v === undefined) {
      a.appendNull();
      continue;
    }
    switch (kinds[i]!) {
      case "str":
        a.appendVarchar(v as string);
        break;
      case "dbl":
        if (Number.isNaN(v)) a.appendNull();
        else a.appendDouble(v as number);
        break;
      case "int":
        a.appendInteger(v as number);
        break;
      case "big":
        // Safe integers convert to BIGINT exactly; appendDouble avoids a BigInt allocation per value.
        a.appendDouble(v as number);
        break;
      case "price":
        if ((v as number) < 0) a.appendNull();
        else a.appendInteger(v as number);
        break;
      case "bool":
        a.appendBoolean(v as boolean);
        break;
      case "i4list":
        a.appendList((v as number[]).slice(), I4_LIST);
        break;
      case "i8list":
        a.appendList(
          (v as number[]).map((x) => BigInt(x)),
          I8_LIST,
        );
        break;
    }
  }
  a.endRow();
}

const I4_LIST = LIST(INTEGER);
const I8_LIST = LIST(BIGINT);

/**
 * Shared machinery: records are buffered per table, converted to rows and appended with DuckDB's
 * appender on flush (or in the background once `batchRows` accumulate). A record whose integer fields
 * are not exact integers of their column's width, that would put NULL in a NOT NULL column, or that
 * its table cannot represent is rejected and counted, never half-written.
 */
class BatchedWriter<T> {
  private readonly buffers = new Map<TableSpec<T>, T[]>();
  private buffered = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private closed = false;
  protected readonly countsByKind: Record<string, number> = {};

  constructor(
    private readonly store: Store,
    readonly runId: string,
    private readonly mode: string,
    private readonly batchRows: number,
    /** "rows": one appender call per value, kept as the oracle of the chunk path in tests. */
    private readonly appendPath: AppendPath = "chunks",
  ) {}

  protected enqueue(spec: TableSpec<T>, r: T): void {
    if (this.closed) throw new Error("writer is closed");
    let buf = this.buffers.get(spec);
    if (!buf) {
      buf = [];
      this.buffers.set(spec, buf);
    }
    buf.push(r);
    // Background flush; a failure is kept and raised by the next explicit flush()/close().
    if (++this.buffered >= this.batchRows) this.schedule();
  }

  protected bump(key: string): void {
    this.countsByKind[key] = (this.countsByKind[key] ?? 0) + 1;
  }

  counts(): Record<string, number> {
    return { ...this.countsByKind };
  }

  private schedule(): Promise<void> {
    const batches = [...this.buffers.entries()].filter(([, b]) => b.length > 0);
    this.buffers.clear();
    this.buffered = 0;
    this.chain = this.chain.then(async () => {
      for (const [spec, rows] of batches) {
        try {
          await this.appendBatch(spec, rows);
        } catch (err) {
          this.failure ??= err as Error;
        }
      }
    });
    return this.chain;
  }

  /** Append everything buffered so far; resolves once it is in the database. */
  flush(): Promise<void> {
    return this.schedule().then(() => {
      if (this.failure) {
        const f = this.failure;
        this.failure = null;
        throw f;
      }
    });
  }

  private async appendBatch(spec: TableSpec<T>, records: T[]): Promise<void> {
    const { notNull, types } = await tableColumns(this.store.connection, spec.table, spec.kinds.length);
    const byChunk = this.appendPath === "chunks" && chunkable(spec.kinds, types);
    const a = await this.store.connection.createAppender(spec.table);
    try {
      const rows: unknown[][] = [];
      for (const r of records) {
        let row: unknown[] | null;
        try {
          row = spec.row(r, this.runId, this.mode);
        } catch {
          row = null; // a record its table cannot represent (e.g. a BigInt in a JSON field)
        }
        if (row === null || !rowValid(spec.kinds, row, notNull)) {
          this.bump("rejected");
          continue;
        }
        if (!byChunk) appendRow(a, spec.kinds, row);
        else if (rows.push(row) === CHUNK_ROWS) {
          appendChunk(a, spec.kinds, types, rows);
          rows.length = 0;
        }
      }
      if (rows.length > 0) appendChunk(a, spec.kinds, types, rows);
    } finally {
      a.closeSync(); // closing flushes the appender's buffer into the table
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
  }
}

const nn = (v: number): number | null => (Number.isNaN(v) ? null : v);

// ---- Audit records ---------------------------------------------------------------------------------

type AuditSpec = TableSpec<AuditRecord>;

const OPPORTUNITIES: AuditSpec = {
  table: "opportunities",
  kinds: [
    "str", "str", "big", "str", "str", "str", "str", "dbl", "dbl", "big", "dbl", "dbl", "dbl", "dbl",
    "price", "price", "price", "price", "dbl", "dbl", "dbl", "dbl", "dbl", "dbl", "dbl", "str", "str", "str", "str", "bool",
  ],
  row: (r, runId, mode) => {
    const o = r as Extract<AuditRecord, { kind: "opportunity" }>;
    return [
      runId, mode, o.ts, o.evalId, o.market, o.eventTicker, o.strikeType, o.floorStrike, o.capStrike, o.settleTime,
      o.spot, o.tauSeconds, o.sigma, o.pModel, o.yesBid, o.yesAsk, o.noBid, o.noAsk, o.pMarketBid, o.pMarketAsk,
      o.pMarketMid, o.costYes, o.costNo, o.evYes, o.evNo, o.side, o.decision, o.reason, o.detail, o.inputsFresh,
    ];
  },
};

const FEATURES: AuditSpec = {
  table: "features",
  kinds: ["str", "str", "big", "dbl", "dbl", "big", "dbl", "dbl"],
  row: (r, runId, mode) => {
    const f = r as Extract<AuditRecord, { kind: "features" }>;
    return [runId, mode, f.ts, f.spot, f.sigma, f.sigmaSamples, f.indexValue, f.basis];
  },
};

const RISK_EVENTS: AuditSpec = {
  table: "risk_events",
  kinds: ["str", "str", "big", "str", "str", "str", "str", "str", "bool", "str", "str", "big", "bool", "str", "str", "str"],
  row: (r, runId, mode) => {
    // run_id, mode, ts_us, event_type, from_state, to_state, eval_id, market, allowed, state, reason,
    // count_e2, ok, mismatches_json, issue, detail
    switch (r.kind) {
      case "risk_state_changed":
        return [runId, mode, r.ts, "state_changed", r.from, r.to, null, null, null, null, r.reason, null, null, null, null, null];
      case "risk_verdict":
        return [runId, mode, r.ts, "verdict", null, null, r.evalId, r.market, r.allowed, r.state, r.reason, r.count, null, null, null, null];
      case "reconciliation":
        return [runId, mode, r.ts, "reconciliation", null, null, null, null, null, null, null, null, r.ok, JSON.stringify(r.mismatches), null, null];
      case "inconsistency":
        return [runId, mode, r.ts, "inconsistency", null, null, null, r.market, null, null, null, null, null, null, r.issue, r.detail];
      default:
        return [];
    }
  },
};

const ORDERS: AuditSpec = {
  table: "orders",
  kinds: ["str", "str", "big", "str", "str", "str", "str", "str", "str", "int", "big", "big", "str", "str", "str"],
  row: (r, runId, mode) => {
    const o = r as Extract<AuditRecord, { kind: "order" }>;
    return [runId, mode, o.ts, o.clientOrderId, o.orderId, o.market, o.outcome, o.action, o.bookSide, o.yesPrice, o.count, o.filled, o.status, o.reason, o.evalId];
  },
};

const FILLS: AuditSpec = {
  table: "fills",
  kinds: ["str", "str", "big", "str", "str", "str", "str", "str", "str", "int", "big", "big", "bool", "big"],
  row: (r, runId, mode) => {
    const f = r as Extract<AuditRecord, { kind: "fill_record" }>;
    return [runId, mode, f.ts, f.tradeId, f.clientOrderId, f.orderId, f.market, f.outcome, f.action, f.price, f.count, f.fee, f.isTaker, f.positionAfter];
  },
};

const POSITIONS: AuditSpec = {
  table: "positions_snapshots",
  kinds: ["str", "str", "big", "str", "big", "big", "big", "big"],
  row: (r, runId, mode) => {
    const p = r as Extract<AuditRecord, { kind: "position" }>;
    return [runId, mode, p.ts, p.market, p.position, p.costBasis, p.realizedPnl, p.feesPaid];
  },
};

const SETTLEMENTS: AuditSpec = {
  table: "settlements",
  kinds: ["str", "str", "big", "str", "str", "str", "dbl", "big", "big", "big"],
  row: (r, runId, mode) => {
    const s = r as Extract<AuditRecord, { kind: "settlement" }>;
    return [runId, mode, s.ts, s.market, s.result, s.source, s.settleValue, s.position, s.payout, s.pnl];
  },
};

export const AUDIT_SPECS: Record<AuditRecord["kind"], AuditSpec> = {
  opportunity: OPPORTUNITIES,
  features: FEATURES,
  risk_state_changed: RISK_EVENTS,
  risk_verdict: RISK_EVENTS,
  reconciliation: RISK_EVENTS,
  inconsistency: RISK_EVENTS,
  order: ORDERS,
  fill_record: FILLS,
  position: POSITIONS,
  settlement: SETTLEMENTS,
};

/** Buffered, batched writer of engine audit records (DuckDB appender). */
export class AuditWriter extends BatchedWriter<AuditRecord> {
  constructor(store: Store, runId: string, mode: RunInfo["mode"], opts: WriterOptions = {}) {
    super(store, runId, mode, opts.batchRows ?? 50_000, opts.appendPath);
  }

  write(r: AuditRecord): void {
    const spec = AUDIT_SPECS[r.kind];
    if (!spec) {
      this.bump("unknown");
      return;
    }
    this.bump(r.kind);
    this.enqueue(spec, r);
  }
}

// ---- Forecasts of a model tournament -----------------------------------------------------------------

const FORECASTS: TableSpec<ForecastRecord> = {
  table: "forecasts",
  kinds: ["str", "str", "str", "big", "str", "str", "big", "dbl", "dbl", "dbl", "dbl", "dbl", "str", "dbl", "dbl", "dbl", "int", "dbl"],
  row: (f, runId, mode) => [
    runId, mode, f.model, f.ts, f.market, f.eventTicker, f.settleTime, f.p, f.spot, f.sigma, f.sigmaRobust, f.tauSeconds, f.strikeType,
    f.floorStrike, f.capStrike, f.observedSum, f.observedCount, f.pMarketMid,
  ],
};

/** Buffered writer of the `forecasts` table (one row per model per scored evaluation). */
export class ForecastWriter extends BatchedWriter<ForecastRecord> {
  constructor(store: Store, runId: string, mode: RunInfo["mode"], opts: WriterOptions = {}) {
    super(store, runId, mode, opts.batchRows ?? 50_000, opts.appendPath);
  }

  write(r: ForecastRecord): void {
    this.bump(r.model);
    this.enqueue(FORECASTS, r);
  }
}

/** Canonical hash of a config (sorted keys), the identity a freeze refers to. */
export function configHash(configJson: string): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canon) : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : v;
  return createHash("sha256").update(JSON.stringify(canon(JSON.parse(configJson)))).digest("hex");
}

/**
 * Freeze the model + config of a run: from `frozenUs` on, settlements of runs with the same config
 * hash count as out of sample. A freeze is never moved later (re-freezing keeps the first date), so
 * data seen before it cannot be relabelled out of sample.
 */
export async function freezeRun(store: Store, runId: string, frozenUs: TsUs, note = ""): Promise<{ configHash: string; frozenUs: TsUs }> {
  const rows = await queryObjects(store, `SELECT config_json FROM runs WHERE run_id = $1`, [runId]);
  if (rows.length === 0) throw new Error(`no run ${runId} in the store`);
  const hash = configHash(String(rows[0]!.config_json));
  await store.connection.run(`UPDATE runs SET config_hash = $1 WHERE run_id = $2`, [hash, runId]);
  await store.connection.run(`INSERT INTO model_freezes VALUES ($1, $2, $3, $4) ON CONFLICT (config_hash) DO NOTHING`, [hash, BigInt(frozenUs), runId, note]);
  const f = await queryObjects(store, `SELECT frozen_us FROM model_freezes WHERE config_hash = $1`, [hash]);
  return { configHash: hash, frozenUs: Number(f[0]!.frozen_us) };
}

// ---- Market data -------------------------------------------------------------------------------------

type EventSpec = TableSpec<EngineEvent>;
type Ev<K extends EngineEvent["kind"]> = Extract<EngineEvent, { kind: K }>;

const HEAD_KINDS: ColKind[] = ["str", "big", "big"];
const head = (e: EngineEvent, runId: string): unknown[] => [runId, e.tsRecv, e.tsExchange];

const MD_SPECS: Partial<Record<EngineEvent["kind"], EventSpec>> = {
  spot_quote: {
    table: "spot_ticks",
    kinds: [...HEAD_KINDS, "str", "dbl", "dbl", "dbl", "dbl", "dbl", "big"],
    row: (e, runId) => {
      const q = e as Ev<"spot_quote">;
      return [...head(e, runId), q.productId, q.bid, q.ask, q.bidSize, q.askSize, q.last, q.seq < 0 ? null : q.seq];
    },
  },
  spot_trade: {
    table: "spot_trades",
    kinds: [...HEAD_KINDS, "str", "dbl", "dbl", "str", "str"],
    row: (e, runId) => {
      const t = e as Ev<"spot_trade">;
      return [...head(e, runId), t.productId, t.price, t.size, t.takerSide, t.tradeId];
    },
  },
  index_value: {
    table: "index_values",
    kinds: [...HEAD_KINDS, "str", "dbl", "dbl", "big", "big", "dbl", "big"],
    row: (e, runId) => {
      const v = e as Ev<"index_value">;
      return [...head(e, runId), v.indexId, v.value, v.avg60s, v.sid, v.seq, v.quarterAvg, v.quarterTicks];
    },
  },
  market_info: {
    table: "kalshi_markets",
    kinds: [...HEAD_KINDS, "str", "str", "str", "str", "dbl", "dbl", "big", "big", "big", "str", "str", "dbl", "str", "big"],
    row: (e, runId) => {
      const m = e as Ev<"market_info">;
      const waiver = m.feeWaiverUntil !== undefined && m.feeWaiverUntil >= 0 ? m.feeWaiverUntil : null;
      return [
        ...head(e, runId), m.market, m.eventTicker, m.seriesTicker, m.strikeType, m.floorStrike, m.capStrike, m.openTime,
        m.closeTime, m.settleTime, JSON.stringify(m.priceRanges), m.feeType, m.feeMultiplier, m.status, waiver,
      ];
    },
  },
  market_lifecycle: {
    table: "kalshi_market_lifecycle",
    kinds: [...HEAD_KINDS, "str", "str", "str", "price", "dbl", "big", "big", "big"],
    row: (e, runId) => {
      const l = e as Ev<"market_lifecycle">;
      return [...head(e, runId), l.market, l.phase, l.result, l.settlementValue, l.expirationValue, l.closeTime < 0 ? null : l.closeTime, l.sid, l.seq];
    },
  },
  market_ticker: {
    table: "kalshi_tickers",
    kinds: [...HEAD_KINDS, "str", "price", "price", "price", "big", "big", "big", "big"],
    row: (e, runId) => {
      const t = e as Ev<"market_ticker">;
      // A size the frame did not carry (-1) is NULL, not an empty level.
      const known = (n: number) => (n < 0 ? null : n);
      return [...head(e, runId), t.market, t.lastPrice, t.yesBid, t.yesAsk, known(t.yesBidSize), known(t.yesAskSize), known(t.volume), known(t.openInterest)];
    },
  },
  book_snapshot: {
    table: "kalshi_orderbook_snapshots",
    kinds: [...HEAD_KINDS, "str", "big", "big", "i4list", "i8list", "i4list", "i8list"],
    row: (e, runId) => {
      const s = e as Ev<"book_snapshot">;
      return [
        ...head(e, runId), s.market, s.sid, s.seq,
        s.yesBids.map((l) => l[0]), s.yesBids.map((l) => l[1]), s.noBids.map((l) => l[0]), s.noBids.map((l) => l[1]),
      ];
    },
  },
  book_delta: {
    table: "kalshi_orderbook_deltas",
    kinds: [...HEAD_KINDS, "str", "big", "big", "str", "int", "big", "str"],
    row: (e, runId) => {
      const d = e as Ev<"book_delta">;
      return [...head(e, runId), d.market, d.sid, d.seq, d.side, d.price, d.delta, d.clientOrderId];
    },
  },
  public_trade: {
    table: "public_trades",
    kinds: [...HEAD_KINDS, "str", "str", "int", "big", "str", "big", "big", "bool"],
    row: (e, runId) => {
      const t = e as Ev<"public_trade">;
      return [...head(e, runId), t.market, t.tradeId, t.yesPrice, t.count, t.takerSide, t.sid, t.seq, t.blockTrade === true];
    },
  },
};

const OTHER_EVENTS: EventSpec = {
  table: "other_events",
  kinds: [...HEAD_KINDS, "str", "str", "str"],
  row: (e, runId) => [...head(e, runId), e.kind, "market" in e ? e.market : null, JSON.stringify(e)],
};

/** Market-data rows for the collector (and anything else that wants events in SQL). */
export class MarketDataWriter extends BatchedWriter<EngineEvent> {
  constructor(store: Store, runId: string, opts: WriterOptions = {}) {
    super(store, runId, "collect", opts.batchRows ?? 50_000, opts.appendPath);
  }

  write(e: EngineEvent): void {
    this.bump(e.kind);
    if (e.kind === "timer") return; // heartbeats carry no data
    this.enqueue(MD_SPECS[e.kind] ?? OTHER_EVENTS, e);
  }
}
