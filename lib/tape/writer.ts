/**
 * The crash-safe tape writer.
 *
 * Every frame and event is appended, as one JSON line, to the journal of the open segment
 * (`<dir>/journal/<segment>.ndjson`). Lines are buffered in memory and handed to the OS at least every
 * `flushIntervalMs`, so a kill -9 loses at most that much. When receipt time crosses the segment's
 * span (aligned to `segmentSeconds`) or on close, the journal is rolled into Parquet by DuckDB in the
 * background — one file per (layer, UTC date, source), written under a temporary name and renamed —
 * and then deleted. A journal left behind by a crash is rolled on the next open, before anything new is
 * written; the new run always starts a new segment.
 *
 * One writer per directory at a time: `<dir>/journal/LOCK` holds the owner's pid and, where /proc
 * exists, its start time (so a pid reused by an unrelated process does not block the tape).
 */
import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { RETURN_FREED_MEMORY } from "../duckdb.ts";
import type { EngineEvent, Source } from "../core/events.ts";
import type { RawFrame, TapeSink } from "./types.ts";
import { decodeEventRows, encodeEvent, TapeCodecError, wellFormed, type EventRow } from "./codec.ts";
import {
  EVENT_COLUMNS,
  JOURNAL_COLUMNS,
  JOURNAL_DIR,
  JOURNAL_EXT,
  RAW_COLUMNS,
  SEGMENT_EXT,
  US_PER_DAY,
  dayNumberToKey,
  isSource,
  layerDir,
  partitionDir,
  segmentName,
  sqlString,
  type Layer,
} from "./schema.ts";

export interface TapeWriterOptions {
  dir: string;
  /** Span of one segment in receipt time; segments are aligned to multiples of it. Default 300. */
  segmentSeconds?: number;
  /** Journal hand-off to the OS at least this often. Default 200. */
  flushIntervalMs?: number;
  /**
   * A segment is also rolled once its journal holds this many bytes (default 16 MB). A roll's native
   * memory grows with the journal (measured: ~45 MB for 8 MB, ~80 MB for 16 MB, ~120 MB for 32 MB), so
   * this is what keeps a fast capture's memory flat; at ordinary rates segments end on time first.
   */
  maxJournalBytes?: number;
  /**
   * The journal write (default fs.writeSync). Tests inject a failing one where no size-limited
   * filesystem is available; it must behave like writeSync (return bytes written, or throw).
   */
  writeSync?: (fd: number, data: Buffer, offset: number, length: number) => number;
}

export interface TapeWriterStats {
  rawFrames: number;
  events: number;
  /** Segments this writer rolled into Parquet (its own, not recovered ones). */
  segments: number;
  /** Frames/events refused because the format cannot hold them (counted, never thrown). */
  rejected: number;
  /** Journals of a previous run rolled on open. */
  recoveredSegments: number;
  /** Truncated trailing journal lines dropped during recovery. */
  droppedPartialLines: number;
  /** Rolls that failed; their journals stay on disk for the next open to recover. */
  rollFailures: number;
  /** Journal writes the OS refused (e.g. disk full); those lines are lost. */
  journalWriteFailures: number;
  /** Lines lost to failed journal writes (the journal is cut back to its last whole line). */
  lostLines: number;
  /** Malformed lines found in journals during recovery (set aside in journal/quarantine/). */
  quarantinedLines: number;
  /** Journals recovered on open that held malformed lines. */
  quarantinedJournals: number;
  /**
   * Journals whose roll failed on open even after their malformed lines were set aside: moved whole to
   * journal/quarantine/ (kept for a person to look at) so the writer still opens.
   */
  unrollableJournals: number;
}

export type TapeWriter = TapeSink & { stats(): TapeWriterStats };

interface OpenSegment {
  readonly name: string;
  readonly journalPath: string;
  readonly fd: number;
  readonly endUs: number;
  /** Bytes of whole lines in the journal: after a failed write the file is cut back to this. */
  committed: number;
  /** A write to this journal failed: check it line by line before rolling. */
  failed: boolean;
}

const MAX_BUFFERED_BYTES = 1 << 20;
/** DuckDB read_json refuses lines over 16 MB by default (5 M UTF-16 units is at most 15 MB); no real frame comes near it. */
const MAX_LINE_CHARS = 5 << 20;

export async function openTapeWriter(opts: TapeWriterOptions): Promise<TapeWriter> {
  const segmentUs = Math.round((opts.segmentSeconds ?? 300) * 1_000_000);
  const flushIntervalMs = opts.flushIntervalMs ?? 200;
  const maxJournalBytes = opts.maxJournalBytes ?? 16 << 20;
  if (!(segmentUs > 0)) throw new Error("segmentSeconds must be positive");
  if (!(flushIntervalMs > 0)) throw new Error("flushIntervalMs must be positive");

  const root = path.resolve(opts.dir);
  const journalDir = path.join(root, JOURNAL_DIR);
  fs.mkdirSync(journalDir, { recursive: true });
  const lock = takeLock(journalDir);

  const stats: TapeWriterStats = {
    rawFrames: 0,
    events: 0,
    segments: 0,
    rejected: 0,
    recoveredSegments: 0,
    droppedPartialLines: 0,
    rollFailures: 0,
    journalWriteFailures: 0,
    lostLines: 0,
    quarantinedLines: 0,
    quarantinedJournals: 0,
    unrollableJournals: 0,
  };

  let instance: DuckDBInstance | null = null;
  let conn: DuckDBConnection | null = null;
  let recoveredMaxOrd = -1;
  let firstOrd = 0;
  try {
    // Rolling a journal must not cost the process hundreds of MB (a 5-min segment at 20 k msg/s is
    // ~6 M lines): DuckDB gets a small budget and spills the journal table and the sorts to disk.
    const spill = path.join(journalDir, ".duckdb-tmp");
    fs.rmSync(spill, { recursive: true, force: true });
    instance = await DuckDBInstance.create(":memory:", {
      threads: "1",
      memory_limit: "128MB",
      temp_directory: spill,
      preserve_insertion_order: "false",
      // Hand freed memory back to the OS after each roll instead of keeping up to 128 MB of it cached.
      ...RETURN_FREED_MEMORY,
    });
    conn = await instance.connect();
    removeStaleTemps(root);
    for (const file of fs.readdirSync(journalDir).filter((f) => f.endsWith(JOURNAL_EXT)).sort()) {
      const p = path.join(journalDir, file);
      stats.droppedPartialLines += dropPartialTail(p);
      const q = quarantineMalformed(p);
      if (q > 0) {
        stats.quarantinedLines += q;
        stats.quarantinedJournals++;
      }
      try {
        recoveredMaxOrd = Math.max(recoveredMaxOrd, await rollJournal(conn, root, p, file.slice(0, -JOURNAL_EXT.length)));
        stats.recoveredSegments++;
      } catch (err) {
        // A journal DuckDB still refuses must not block the tape for ever: keep it aside, open anyway.
        const dest = quarantineJournal(p);
        stats.unrollableJournals++;
        process.stderr.write(`tape: journal ${p} could not be rolled (${(err as Error).message.split("\n")[0]}); moved to ${dest}\n`);
      }
    }
    // ord continues after everything on disk: any file may hold the largest ord (a clock step back or a
    // frame stamped in the future puts later writes on an earlier or later day), and so may set-aside journals.
    firstOrd = Math.max(await maxOrd(conn, root), recoveredMaxOrd, maxOrdOfQuarantinedJournals(journalDir)) + 1;
  } catch (err) {
    conn?.closeSync();
    instance?.closeSync();
    releaseLock(lock);
    throw err;
  }
  const db = conn;
  const dbInstance = instance;
  let ord = firstOrd;

  let seg: OpenSegment | null = null;
  let buf: string[] = [];
  let bufBytes = 0;
  let closed = false;
  let rolls: Promise<void> = Promise.resolve();
  const rollErrors: unknown[] = [];
  let unreportedWriteError: unknown = null;
  let openFailedAt: number | null = null;

  const doWrite = opts.writeSync ?? ((fd: number, data: Buffer, offset: number, length: number) => fs.writeSync(fd, data, offset, length));

  /**
   * Hand buffered lines to the OS. Never throws into a producer's loop: failures are recorded. Every
   * write is checked: a short or failed write (disk full) cuts the journal back to its last whole line,
   * so a half line is never glued to a later one; the lines of that batch are counted as lost.
   */
  const writeBuffered = (): void => {
    if (seg === null || buf.length === 0) return;
    const lines = buf.length;
    const data = Buffer.from(buf.join(""), "utf8");
    buf = [];
    bufBytes = 0;
    let done = 0;
    try {
      while (done < data.length) {
        const n = doWrite(seg.fd, data, done, data.length - done);
        if (!(n > 0)) throw Object.assign(new Error("journal write made no progress"), { code: "ENOSPC" });
        done += n;
      }
      seg.committed += data.length;
    } catch (err) {
      stats.journalWriteFailures++;
      stats.lostLines += lines;
      seg.failed = true;
      rollErrors.push(err);
      unreportedWriteError = err;
      // Cut back even when no byte was reported written: a failing write may still have left some.
      try {
        fs.ftruncateSync(seg.fd, seg.committed);
      } catch (e2) {
        // Cannot cut back: close this journal and roll it (its partial tail is dropped first).
        rollErrors.push(e2);
        abandonSegment();
      }
    }
  };

  /** Close the current journal and roll it (its partial tail is dropped first); the next line opens a new one. */
  const abandonSegment = (): void => {
    if (seg === null) return;
    try {
      fs.closeSync(seg.fd);
    } catch {
      // already counted
    }
    scheduleRoll({ ...seg, failed: true });
    seg = null;
  };

  const scheduleRoll = (s: OpenSegment): void => {
    rolls = rolls.then(async () => {
      try {
        if (s.failed) {
          dropPartialTail(s.journalPath);
          const q = quarantineMalformed(s.journalPath);
          if (q > 0) {
            stats.quarantinedLines += q;
            stats.quarantinedJournals++;
          }
        }
        await rollJournal(db, root, s.journalPath, s.name);
        stats.segments++;
      } catch (err) {
        stats.rollFailures++;
        rollErrors.push(err);
      }
    });
  };

  const finishSegment = (): void => {
    if (seg === null) return;
    writeBuffered();
    try {
      fs.fsyncSync(seg.fd);
      fs.closeSync(seg.fd);
    } catch (err) {
      rollErrors.push(err);
    }
    scheduleRoll(seg);
    seg = null;
  };

  const append = (tsRecv: number, line: string): void => {
    // A segment also ends when its journal is large: rolling it then needs little memory.
    if (seg !== null && (tsRecv >= seg.endUs || seg.committed + bufBytes >= maxJournalBytes)) finishSegment();
    if (seg === null) {
      if (openFailedAt !== null && Date.now() - openFailedAt < 1000) {
        stats.journalWriteFailures++;
        stats.lostLines++;
        return;
      }
      const name = segmentName(tsRecv, randomUUID().slice(0, 8));
      const journalPath = path.join(journalDir, name + JOURNAL_EXT);
      let fd: number;
      try {
        fd = fs.openSync(journalPath, "a");
        openFailedAt = null;
      } catch (err) {
        openFailedAt = Date.now();
        stats.journalWriteFailures++;
        stats.lostLines++;
        rollErrors.push(err);
        unreportedWriteError = err;
        return;
      }
      seg = {
        name,
        journalPath,
        fd,
        endUs: (Math.floor(tsRecv / segmentUs) + 1) * segmentUs,
        committed: 0,
        failed: false,
      };
    }
    buf.push(line);
    bufBytes += line.length;
    if (bufBytes >= MAX_BUFFERED_BYTES) writeBuffered();
  };

  const timer = setInterval(writeBuffered, flushIntervalMs);
  timer.unref();

  const checkOpen = (): void => {
    if (closed) throw new Error("tape writer is closed");
  };


  return {
    raw(frame: RawFrame): void {
      checkOpen();
      if (
        !validTs(frame.tsRecv) ||
        !isSource(frame.source) ||
        (frame.dir !== "recv" && frame.dir !== "send") ||
        typeof frame.connId !== "string" ||
        typeof frame.text !== "string" ||
        // A lone surrogate makes DuckDB refuse the whole journal (market/ref are checked by encodeEvent).
        !wellFormed(frame.text) ||
        !wellFormed(frame.connId)
      ) {
        stats.rejected++;
        return;
      }
      const line = JSON.stringify({
        layer: "r",
        source: frame.source,
        ts_recv: frame.tsRecv,
        conn_id: frame.connId,
        dir: frame.dir,
        ord: ord,
        text: frame.text,
      });
      if (line.length > MAX_LINE_CHARS) {
        stats.rejected++;
        return;
      }
      ord++;
      append(frame.tsRecv, line + "\n");
      stats.rawFrames++;
    },
    event(e: EngineEvent, source: Source): void {
      checkOpen();
      let line: string;
      try {
        if (!validTs(e.tsRecv) || !isSource(source)) throw new TapeCodecError("bad tsRecv or source");
        const row = encodeEvent(e, ord);
        line = JSON.stringify({ layer: "e", source, ...row });
        if (line.length > MAX_LINE_CHARS) throw new TapeCodecError("event too large");
      } catch (err) {
        if (err instanceof TapeCodecError) {
          stats.rejected++;
          return;
        }
        throw err;
      }
      ord++;
      append(e.tsRecv, line + "\n");
      stats.events++;
    },
    async flush(): Promise<void> {
      checkOpen();
      if (seg !== null) {
        writeBuffered();
        try {
          if (seg !== null) fs.fdatasyncSync(seg.fd);
        } catch (err) {
          stats.journalWriteFailures++;
          rollErrors.push(err);
          unreportedWriteError ??= err;
        }
      }
      if (unreportedWriteError !== null) {
        const err = unreportedWriteError;
        unreportedWriteError = null;
        throw new Error("tape writer: journal write failed", { cause: err });
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      try {
        finishSegment();
        await rolls;
      } finally {
        db.closeSync();
        dbInstance.closeSync();
        fs.rmSync(path.join(journalDir, ".duckdb-tmp"), { recursive: true, force: true });
        releaseLock(lock);
      }
      if (rollErrors.length > 0) {
        throw new Error(`tape writer: ${rollErrors.length} journal write/roll failure(s); journals kept for recovery`, {
          cause: rollErrors[0],
        });
      }
    },
    stats: () => ({ ...stats }),
  };
}

const validTs = (ts: unknown): ts is number => typeof ts === "number" && Number.isSafeInteger(ts) && ts >= 0;

// ---- rolling a journal into Parquet -----------------------------------------------------------------

const JOURNAL_COLUMNS_SQL = `{${Object.entries(JOURNAL_COLUMNS)
  .map(([k, t]) => `${k}: ${sqlString(t)}`)
  .join(", ")}}`;

let tableCounter = 0;

/**
 * Roll one journal into Parquet files (temp name, then rename), then delete the journal. Returns the
 * largest ord it held (-1 when empty).
 */
export async function rollJournal(db: DuckDBConnection, root: string, journalPath: string, name: string): Promise<number> {
  if (fs.statSync(journalPath).size === 0) {
    fs.rmSync(journalPath);
    return -1;
  }
  let maxOrdRolled = -1;
  const renames: [string, string][] = [];
  const table = `tape_journal_${++tableCounter}`;
  // A view, not a table: each pass streams the journal from disk, so a large journal never sits in
  // memory (only the per-file sort does, and that spills to the temp directory).
  await db.run(
    `CREATE TEMP VIEW ${table} AS SELECT * FROM read_json(${sqlString(journalPath)}, ` +
      `format = 'newline_delimited', columns = ${JOURNAL_COLUMNS_SQL})`,
  );
  try {
    const groups = await db.runAndReadAll(
      `SELECT DISTINCT layer, source, (ts_recv // ${US_PER_DAY})::BIGINT AS day FROM ${table}`,
    );
    for (const [layerCode, source, day] of groups.getRowsJS() as [string, string, bigint][]) {
      const layer: Layer = layerCode === "r" ? "raw" : "events";
      if (!isSource(source)) throw new Error(`journal ${journalPath}: unknown source ${source}`);
      const dir = partitionDir(root, layer, dayNumberToKey(Number(day)), source);
      fs.mkdirSync(dir, { recursive: true });
      const final = path.join(dir, name + SEGMENT_EXT);
      const tmp = final + ".tmp";
      const cols = Object.keys(layer === "raw" ? RAW_COLUMNS : EVENT_COLUMNS).join(", ");
      await db.run(
        `COPY (SELECT ${cols} FROM ${table} WHERE layer = ${sqlString(layerCode)} AND source = ${sqlString(source)} ` +
          `AND ts_recv // ${US_PER_DAY} = ${Number(day)} ORDER BY ts_recv, ord) ` +
          `TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      renames.push([tmp, final]);
      // Durable before the journal goes: a power loss must not lose both copies.
      fsyncPath(tmp);
    }
    const m = await db.runAndReadAll(`SELECT coalesce(max(ord), -1)::DOUBLE FROM ${table}`);
    maxOrdRolled = Number(m.getRowsJS()[0]?.[0] ?? -1);
    const dirs = new Set<string>();
    for (const [tmp, final] of renames) {
      fs.renameSync(tmp, final);
      // The renames, and the entries of newly made partition directories, up to the tape root.
      for (let d = path.dirname(final), i = 0; i < 3; i++, d = path.dirname(d)) dirs.add(d);
    }
    for (const d of dirs) fsyncDir(d);
    fs.rmSync(journalPath);
  } catch (err) {
    for (const [tmp] of renames) fs.rmSync(tmp, { force: true });
    throw err;
  } finally {
    await db.run(`DROP VIEW IF EXISTS ${table}`);
  }
  return maxOrdRolled;
}

function fsyncPath(file: string): void {
  const fd = fs.openSync(file, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsync a directory so renames in it survive a power loss; a no-op where directories cannot be synced. */
function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, "r");
  } catch {
    return;
  }
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EINVAL" && code !== "EPERM" && code !== "EISDIR" && code !== "ENOTSUP") throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Cut a journal back to its last complete line. Returns 1 when a partial line was dropped.
 * Reads backwards so a huge journal is not loaded whole.
 */
export function dropPartialTail(journalPath: string): number {
  const size = fs.statSync(journalPath).size;
  if (size === 0) return 0;
  const fd = fs.openSync(journalPath, "r+");
  try {
    const chunk = Buffer.alloc(64 * 1024);
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const n = fs.readSync(fd, chunk, 0, end - start, start);
      const nl = chunk.subarray(0, n).lastIndexOf(0x0a);
      if (nl >= 0) {
        const keep = start + nl + 1;
        if (keep === size) return 0;
        fs.ftruncateSync(fd, keep);
        return 1;
      }
      end = start;
    }
    fs.ftruncateSync(fd, 0);
    return 1;
  } finally {
    fs.closeSync(fd);
  }
}

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/** A journal cell DuckDB can cast to its column type and the reader reads back unchanged (absent = NULL). */
function cellOk(type: string, v: unknown): boolean {
  if (v === null || v === undefined) return true;
  switch (type) {
    case "BIGINT":
      return typeof v === "number" && Number.isSafeInteger(v);
    case "INTEGER":
      return typeof v === "number" && Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX;
    case "DOUBLE":
      return typeof v === "number" && Number.isFinite(v);
    case "VARCHAR":
      return typeof v === "string" && wellFormed(v);
    default:
      return false;
  }
}

const JOURNAL_COLUMN_TYPES = Object.entries(JOURNAL_COLUMNS);

/**
 * True when a journal line is a row that rolls and reads back: every column of its declared type
 * (no lone surrogates, sid/price in int32), a known layer and source, ts_recv and ord present, and for
 * events a row the codec decodes (known kind, side valid for the kind, the kind's required columns).
 * One line failing any of this would make DuckDB or the reader refuse the whole segment.
 */
export function journalLineOk(l: string): boolean {
  let v: unknown;
  try {
    v = JSON.parse(l);
  } catch {
    return false;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  if (typeof o.source !== "string" || !isSource(o.source) || !validTs(o.ts_recv)) return false;
  if (typeof o.ord !== "number" || !Number.isSafeInteger(o.ord)) return false;
  for (const [k, t] of JOURNAL_COLUMN_TYPES) if (!cellOk(t, o[k])) return false;
  if (o.layer === "r") return (o.dir === "recv" || o.dir === "send") && typeof o.conn_id === "string" && typeof o.text === "string";
  if (o.layer !== "e") return false;
  try {
    decodeEventRows([o as unknown as EventRow], [o.source]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Set aside the lines of a journal that would not roll or read back (see journalLineOk: a half line
 * glued to the next by an older version after a failed write, a lone surrogate, a corrupted value). They go, verbatim, to
 * `journal/quarantine/<name>.bad` with a note on stderr; the journal keeps only its good lines, so
 * it rolls. Returns the number of lines set aside (0 = nothing done, the journal untouched).
 */
export function quarantineMalformed(journalPath: string): number {
  if (fs.statSync(journalPath).size === 0) return 0;
  const isGood = journalLineOk;
  // First pass: count bad lines without keeping anything (journals can be large).
  let bad = 0;
  forEachLine(journalPath, (l) => {
    if (!isGood(l)) bad++;
  });
  if (bad === 0) return 0;
  const qDir = path.join(path.dirname(journalPath), "quarantine");
  fs.mkdirSync(qDir, { recursive: true });
  const qPath = path.join(qDir, path.basename(journalPath, JOURNAL_EXT) + ".bad");
  const tmp = journalPath + ".clean";
  const goodFd = fs.openSync(tmp, "w");
  const badFd = fs.openSync(qPath, "a");
  let good = 0;
  try {
    forEachLine(journalPath, (l) => {
      if (isGood(l)) {
        fs.writeSync(goodFd, l + "\n");
        good++;
      } else fs.writeSync(badFd, l + "\n");
    });
    fs.fsyncSync(goodFd);
  } finally {
    fs.closeSync(goodFd);
    fs.closeSync(badFd);
  }
  fs.renameSync(tmp, journalPath);
  process.stderr.write(`tape: journal ${journalPath} held ${bad} malformed line(s); set aside in ${qPath}, the other ${good} recovered\n`);
  return bad;
}

/** Call `f` with every line of a file (without its newline), reading in chunks. */
function forEachLine(file: string, f: (line: string) => void): void {
  const fd = fs.openSync(file, "r");
  try {
    const chunk = Buffer.alloc(1 << 20);
    let carry: Buffer = Buffer.alloc(0);
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n <= 0) break;
      let data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let start = 0;
      for (let i = data.indexOf(0x0a, start); i >= 0; i = data.indexOf(0x0a, start)) {
        if (i > start) f(data.toString("utf8", start, i));
        start = i + 1;
      }
      carry = Buffer.from(data.subarray(start));
      data = Buffer.alloc(0);
    }
    if (carry.length > 0) f(carry.toString("utf8"));
  } finally {
    fs.closeSync(fd);
  }
}

/** Move a journal that cannot be rolled to journal/quarantine/ (never overwriting); returns where it went. */
function quarantineJournal(journalPath: string): string {
  const qDir = path.join(path.dirname(journalPath), "quarantine");
  fs.mkdirSync(qDir, { recursive: true });
  let dest = path.join(qDir, path.basename(journalPath));
  if (fs.existsSync(dest)) dest = path.join(qDir, `${path.basename(journalPath, JOURNAL_EXT)}-${randomUUID().slice(0, 8)}${JOURNAL_EXT}`);
  fs.renameSync(journalPath, dest);
  return dest;
}

/** Largest ord in journals set aside whole (they may be fixed and rolled by hand later). */
function maxOrdOfQuarantinedJournals(journalDir: string): number {
  const qDir = path.join(journalDir, "quarantine");
  if (!fs.existsSync(qDir)) return -1;
  let best = -1;
  for (const f of fs.readdirSync(qDir)) {
    if (!f.endsWith(JOURNAL_EXT)) continue;
    forEachLine(path.join(qDir, f), (l) => {
      try {
        const o = (JSON.parse(l) as { ord?: unknown } | null)?.ord;
        if (typeof o === "number" && Number.isSafeInteger(o) && o > best) best = o;
      } catch {
        // not a row: no ord to respect
      }
    });
  }
  return best;
}

/**
 * Largest ord on disk, over every segment file: ord follows write order, not receipt time, so any day
 * may hold it. Footer statistics answer for most files; files without them are scanned.
 */
async function maxOrd(db: DuckDBConnection, root: string): Promise<number> {
  const files: string[] = [];
  for (const layer of ["raw", "events"] as const) {
    const base = layerDir(root, layer);
    if (!fs.existsSync(base)) continue;
    for (const day of fs.readdirSync(base)) {
      if (!day.startsWith("date=")) continue;
      const dayDir = path.join(base, day);
      if (!fs.statSync(dayDir).isDirectory()) continue;
      for (const src of fs.readdirSync(dayDir)) {
        const d = path.join(dayDir, src);
        if (!fs.statSync(d).isDirectory()) continue;
        for (const f of fs.readdirSync(d)) if (f.endsWith(SEGMENT_EXT)) files.push(path.join(d, f));
      }
    }
  }
  let best = -1;
  for (let i = 0; i < files.length; i += 1000) best = Math.max(best, await maxOrdOf(db, files.slice(i, i + 1000)));
  return best;
}

async function maxOrdOf(db: DuckDBConnection, files: readonly string[]): Promise<number> {
  if (files.length === 0) return -1;
  try {
    const r = await db.runAndReadAll(
      `SELECT file_name, max(TRY_CAST(stats_max_value AS BIGINT))::DOUBLE, bool_or(stats_max_value IS NULL OR TRY_CAST(stats_max_value AS BIGINT) IS NULL) ` +
        `FROM parquet_metadata([${files.map(sqlString).join(", ")}]) WHERE path_in_schema = 'ord' GROUP BY file_name`,
    );
    let best = -1;
    const answered = new Set<string>();
    for (const [file, max, missing] of r.getRowsJS() as [string, number | null, boolean][]) {
      if (missing || max === null) continue;
      answered.add(file);
      best = Math.max(best, max);
    }
    // No statistics (or no row groups, or no ord column): read the column.
    const scan = files.filter((f) => !answered.has(f));
    if (scan.length > 0) {
      const s = await db.runAndReadAll(
        `SELECT coalesce(max(ord), -1)::DOUBLE FROM read_parquet([${scan.map(sqlString).join(", ")}], union_by_name = true)`,
      );
      best = Math.max(best, Number(s.getRowsJS()[0]?.[0] ?? -1));
    }
    return best;
  } catch (err) {
    // One damaged file must not keep the writer from opening: find it, name it, go on without it.
    if (files.length === 1) {
      process.stderr.write(`tape: cannot read ord of ${files[0]} (${(err as Error).message.split("\n")[0]}); ignored\n`);
      return -1;
    }
    let best = -1;
    for (const f of files) best = Math.max(best, await maxOrdOf(db, [f]));
    return best;
  }
}

/** Temp files of a roll interrupted by a crash; their journal is still there and will be rolled again. */
function removeStaleTemps(root: string): void {
  for (const layer of ["raw", "events"] as const) {
    const base = layerDir(root, layer);
    if (!fs.existsSync(base)) continue;
    for (const entry of fs.readdirSync(base, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith(SEGMENT_EXT + ".tmp")) {
        fs.rmSync(path.join(entry.parentPath, entry.name), { force: true });
      }
    }
  }
}

// ---- the directory lock ---------------------------------------------------------------------------

interface HeldLock {
  readonly path: string;
  readonly content: string;
}

interface LockOwner {
  readonly pid: number;
  /** /proc/<pid>/stat field 22 when the lock was written; absent in old LOCK files and without /proc. */
  readonly start?: string;
}

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22); undefined without /proc. */
function procStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces and parentheses): field 3 is index 0.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function parseLock(text: string): LockOwner | null {
  const [p, start] = text.trim().split(/\s+/);
  const pid = Number(p);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return start === undefined ? { pid } : { pid, start };
}

/** The owner still runs: its pid is alive and (when the lock recorded one) has the same start time. */
function ownerAlive(o: LockOwner): boolean {
  if (!processAlive(o.pid)) return false;
  if (o.start === undefined) return true;
  const now = procStartTime(o.pid);
  return now === undefined || now === o.start;
}

/** True when `journalDir/LOCK` names a live writer (verify uses this too). */
export function tapeLockHeld(journalDir: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(path.join(journalDir, "LOCK"), "utf8");
  } catch {
    return false;
  }
  const owner = parseLock(text);
  return owner !== null && ownerAlive(owner);
}

/** Create the lock with its content in one step (link fails if it exists), so no one reads it empty. */
function createLock(lockPath: string, content: string): boolean {
  const tmp = `${lockPath}.new-${process.pid}-${randomUUID().slice(0, 8)}`;
  fs.writeFileSync(tmp, content);
  try {
    fs.linkSync(tmp, lockPath);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    // A filesystem without hard links: exclusive create (a reader may briefly see it empty).
    try {
      const fd = fs.openSync(lockPath, "wx");
      try {
        fs.writeSync(fd, content);
      } finally {
        fs.closeSync(fd);
      }
      return true;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw e2;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function takeLock(journalDir: string): HeldLock {
  const lockPath = path.join(journalDir, "LOCK");
  const start = procStartTime(process.pid);
  const content = start === undefined ? `${process.pid}\n` : `${process.pid} ${start}\n`;
  for (let attempt = 0; attempt < 10; attempt++) {
    if (createLock(lockPath, content)) return { path: lockPath, content };
    let text: string;
    try {
      text = fs.readFileSync(lockPath, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    const owner = parseLock(text);
    if (owner !== null && ownerAlive(owner)) {
      throw new Error(`tape directory ${path.dirname(journalDir)} is in use by pid ${owner.pid}`);
    }
    // The owner died without closing. Take over atomically: rename the stale lock aside (only one
    // taker can), check it still names the dead owner, then create ours exclusively. (Content, not
    // inode: a freed inode is reused at once, so a new live lock can carry the stale one's number.)
    const aside = `${lockPath}.stale-${process.pid}-${randomUUID().slice(0, 8)}`;
    try {
      fs.renameSync(lockPath, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    if (fs.readFileSync(aside, "utf8") !== text) {
      // Someone took over in between and we moved their live lock: give it back (link never clobbers).
      try {
        fs.linkSync(aside, lockPath);
      } catch {
        // a third process holds LOCK now; the next attempt sees it
      }
    }
    fs.rmSync(aside, { force: true });
  }
  throw new Error(`tape directory ${path.dirname(journalDir)}: could not take journal/LOCK (contended)`);
}

/** Remove the lock only while it is still ours. */
function releaseLock(lock: HeldLock): void {
  try {
    if (fs.readFileSync(lock.path, "utf8") === lock.content) fs.rmSync(lock.path, { force: true });
  } catch {
    // already gone
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

// ---- recovering tapes left by crashed runs ------------------------------------------------------

export interface RecoveredTape {
  readonly dir: string;
  /** Journals rolled into Parquet. */
  readonly journals: number;
  readonly droppedPartialLines: number;
  readonly quarantinedLines: number;
  /** Why it was left alone (another live process holds it) or failed. */
  readonly problem?: string;
}

/** True when `dir` holds journals that were never rolled (a run that did not close its tape). */
export function hasPendingJournals(dir: string): boolean {
  const j = path.join(dir, JOURNAL_DIR);
  if (!fs.existsSync(j)) return false;
  return fs.readdirSync(j).some((f) => f.endsWith(JOURNAL_EXT) && fs.statSync(path.join(j, f)).size > 0);
}

/**
 * Roll every journal a crashed run left under `root` — in `root` itself (collector tapes) and in each
 * direct subdirectory (paper/live write `TAPE_DIR/<run id>`). A tape whose lock is held by a live
 * process is left alone. Opening a writer does the work (recovery happens on open), closing it
 * releases the lock. Returns one entry per tape that had journals.
 */
export async function recoverTapes(root: string, o: { skip?: string } = {}): Promise<RecoveredTape[]> {
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) return [];
  const candidates = [root, ...fs.readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => path.join(root, d.name))];
  const out: RecoveredTape[] = [];
  for (const dir of candidates) {
    if (o.skip && path.resolve(dir) === path.resolve(o.skip)) continue;
    if (!hasPendingJournals(dir)) continue;
    try {
      const w = await openTapeWriter({ dir });
      const s = w.stats();
      await w.close();
      out.push({ dir, journals: s.recoveredSegments, droppedPartialLines: s.droppedPartialLines, quarantinedLines: s.quarantinedLines });
    } catch (e) {
      out.push({ dir, journals: 0, droppedPartialLines: 0, quarantinedLines: 0, problem: (e as Error).message });
    }
  }
  return out;
}
