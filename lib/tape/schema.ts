/**
 * The on-disk layout of a tape: directory structure, Parquet column lists and the small code tables
 * the reader uses. The human-readable description is lib/tape/SCHEMA.md; keep the two in step.
 *
 *   <dir>/raw/date=YYYY-MM-DD/source=<source>/<segment>.parquet      layer 1, frames as received
 *   <dir>/events/date=YYYY-MM-DD/source=<source>/<segment>.parquet   layer 2, normalized events
 *   <dir>/journal/<segment>.ndjson                                   open segments (crash journal)
 */
import path from "node:path";
import type { EventKind, Source } from "../core/events.ts";
import { EVENT_KINDS } from "../core/events.ts";

export type Layer = "raw" | "events";

export const LAYERS: readonly Layer[] = ["raw", "events"];

/**
 * Sources in tie-break rank: at an identical ts_recv, market data from the spot venue comes first,
 * then Kalshi, then simulator output, then control (timers fire after the data of their instant).
 */
export const SOURCES_BY_RANK: readonly Source[] = ["coinbase", "kalshi", "sim", "control"];

export function sourceRank(s: Source): number {
  return SOURCES_BY_RANK.indexOf(s);
}

export function isSource(s: string): s is Source {
  return (SOURCES_BY_RANK as readonly string[]).includes(s);
}

/** Kind codes used by the reader: the position in this list (== EVENT_KINDS order). */
export const KIND_CODES: readonly EventKind[] = EVENT_KINDS;

/**
 * Values of the `side` column. The empty string stands for NULL in the reader's enum cast, so code 0
 * means "no side".
 */
export const SIDE_CODES = ["", "yes", "no", "buy", "sell", "unknown", "bid", "ask"] as const;
export type SideValue = Exclude<(typeof SIDE_CODES)[number], "">;

export const DIR_CODES = ["recv", "send"] as const;

/** Column name → DuckDB type, in file order. */
export const RAW_COLUMNS = {
  ts_recv: "BIGINT",
  conn_id: "VARCHAR",
  dir: "VARCHAR",
  ord: "BIGINT",
  text: "VARCHAR",
} as const;

export const EVENT_COLUMNS = {
  ts_recv: "BIGINT",
  ts_exchange: "BIGINT",
  ord: "BIGINT",
  kind: "VARCHAR",
  market: "VARCHAR",
  sid: "INTEGER",
  seq: "BIGINT",
  side: "VARCHAR",
  price: "INTEGER",
  price2: "INTEGER",
  price3: "INTEGER",
  qty: "BIGINT",
  qty2: "BIGINT",
  qty3: "BIGINT",
  qty4: "BIGINT",
  px: "DOUBLE",
  px2: "DOUBLE",
  px3: "DOUBLE",
  px4: "DOUBLE",
  px5: "DOUBLE",
  ref: "VARCHAR",
  extra: "VARCHAR",
} as const;

/**
 * The in-memory layout the codec decodes: every numeric cell of an event row (codes for
 * kind/source/market/side), row-major, in this order; NaN stands for NULL. The reader fills it from
 * DuckDB's typed column vectors.
 */
export const EVENT_CELLS = [
  "ts_recv",
  "ord",
  "ts_exchange",
  "kind",
  "source",
  "market",
  "sid",
  "seq",
  "side",
  "price",
  "price2",
  "price3",
  "qty",
  "qty2",
  "qty3",
  "qty4",
  "px",
  "px2",
  "px3",
  "px4",
  "px5",
  // Derived: 1 when ref is not NULL (the ref string column itself arrives with NULL as '').
  "has_ref",
] as const;

export const EVENT_STRIDE = EVENT_CELLS.length;

export type RawColumn = keyof typeof RAW_COLUMNS;
export type EventColumn = keyof typeof EVENT_COLUMNS;

/**
 * Journal lines carry the union of both layers' columns plus the layer and source they belong to.
 * `layer` is "r" (raw) or "e" (event).
 */
export const JOURNAL_COLUMNS: Record<string, string> = {
  layer: "VARCHAR",
  source: "VARCHAR",
  ...RAW_COLUMNS,
  ...EVENT_COLUMNS,
};

export const JOURNAL_DIR = "journal";
export const JOURNAL_EXT = ".ndjson";
export const SEGMENT_EXT = ".parquet";

export function layerDir(root: string, layer: Layer): string {
  return path.join(root, layer);
}

export function partitionDir(root: string, layer: Layer, day: string, source: Source): string {
  return path.join(root, layer, `date=${day}`, `source=${source}`);
}

/** `YYYY-MM-DD` of a UTC day number (days since the epoch). */
export function dayNumberToKey(dayNumber: number): string {
  return new Date(dayNumber * 86_400_000).toISOString().slice(0, 10);
}

export const US_PER_DAY = 86_400_000_000;

/**
 * A segment name sorts by its first receipt time and is unique across restarts:
 * `seg-<first ts_recv, 16 digits>-<random suffix>`.
 */
export function segmentName(firstTsRecv: number, suffix: string): string {
  return `seg-${String(Math.max(0, Math.trunc(firstTsRecv))).padStart(16, "0")}-${suffix}`;
}

/** SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** SQL inline ENUM type over the given values. */
export function sqlEnum(values: readonly string[]): string {
  return `ENUM(${values.map(sqlString).join(", ")})`;
}
