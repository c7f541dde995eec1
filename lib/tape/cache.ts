/**
 * A derived, disposable read cache of the events layer: one file per Parquet segment, holding the
 * segment's rows in the compact page layout of codec.ts, so a warm read is plain `readSync` into typed
 * arrays with no DuckDB round trip and no per-value conversion.
 *
 *   <tape>/.cache/events-v<VERSION>/date=YYYY-MM-DD/source=<source>/<segment>.evc
 *
 * The Parquet file stays the source of truth. A cache file records the size, mtime and inode of the
 * segment it was built from and is ignored when any of them (or the format version) differs; it is
 * written to a temp name and renamed when complete; every page carries a CRC-32. The reader never
 * requires it: missing, stale, unwritable or corrupt → read the Parquet file. Deleting `.cache` is
 * always safe. Layout: see SCHEMA.md ("Read cache").
 */
import fs from "node:fs";
import path from "node:path";
import { threadId } from "node:worker_threads";
import { crc32 } from "node:zlib";
import type { CompactColumns, CompactEventPage } from "./codec.ts";

/** Bump whenever the byte layout or the compact cell lists in codec.ts change. */
export const EVENT_CACHE_VERSION = 1;
export const CACHE_DIRNAME = ".cache";

const MAGIC = 0x43564554; // "TEVC" read as little-endian u32
const HEADER_BYTES = 64;
const ALIGN = 8;

/** What a cache file is keyed on: the identity of the Parquet file it was built from. */
export interface SourceKey {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

export function sourceKey(file: string): SourceKey | null {
  try {
    const st = fs.statSync(file);
    return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
  } catch {
    return null;
  }
}

function sameKey(a: SourceKey, b: SourceKey): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

/** Cache file of an events-layer segment; null when the file is not under `<tape>/events`. */
export function eventCachePath(tapeDir: string, parquetFile: string): string | null {
  const rel = path.relative(path.join(tapeDir, "events"), parquetFile);
  if (rel.startsWith("..") || path.isAbsolute(rel)) return null;
  return path.join(tapeDir, CACHE_DIRNAME, `events-v${EVENT_CACHE_VERSION}`, rel.replace(/\.parquet$/, "") + ".evc");
}

/** A cache file that fails a structural or checksum test. */
export class CacheCorruptError extends Error {
  constructor(file: string, why: string) {
    super(`tape cache ${file} is corrupt (${why})`);
    this.name = "CacheCorruptError";
  }
}

interface PageEntry {
  readonly rows: number;
  readonly vals: number;
  readonly stringBytes: number;
  readonly crc: number;
}

interface Footer {
  readonly minTs: number | null;
  readonly markets: string[];
  /** [rows, vals, stringBytes, crc] per page, in file order. */
  readonly pages: [number, number, number, number][];
}

const pad = (n: number): number => (n + ALIGN - 1) & ~(ALIGN - 1);

/** Byte offsets of a page's sections; every typed section starts 8-aligned. */
function pageLayout(rows: number, vals: number, stringBytes: number) {
  const ts = 0;
  const ord = ts + 8 * rows;
  const v = ord + 8 * rows;
  const market = v + 8 * vals;
  const kind = market + pad(4 * rows);
  const side = kind + rows;
  const hasRef = side + rows;
  const strings = pad(hasRef + rows);
  const bytes = pad(strings + stringBytes);
  return { ts, ord, v, market, kind, side, hasRef, strings, bytes };
}

// ---- reading --------------------------------------------------------------------------------------

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Sequential page reader over one cache file. */
export class EventCacheReader {
  private pageIndex = 0;
  private offset = HEADER_BYTES;
  private buffer: Buffer | null = null;

  private constructor(
    readonly file: string,
    private fd: number | null,
    readonly rows: number,
    readonly minTs: number,
    readonly markets: readonly string[],
    private readonly pages: readonly PageEntry[],
  ) {}

  /**
   * Open a cache file if it exists and was built from a segment with this key; null otherwise (the
   * caller reads the Parquet file). A file that exists but fails its checks is deleted.
   */
  static open(file: string, key: SourceKey): EventCacheReader | null {
    let fd: number;
    try {
      fd = fs.openSync(file, "r");
    } catch {
      return null;
    }
    try {
      const r = EventCacheReader.parse(file, fd, key);
      if (r === null) fs.closeSync(fd);
      return r;
    } catch {
      // Structurally bad (or unreadable): the cache is never worth failing a read over.
      fs.closeSync(fd);
      discard(file);
      return null;
    }
  }

  private static parse(file: string, fd: number, key: SourceKey): EventCacheReader | null {
    const size = fs.fstatSync(fd).size;
    if (size < HEADER_BYTES) throw new CacheCorruptError(file, "short header");
    const h = Buffer.allocUnsafeSlow(HEADER_BYTES);
    if (fs.readSync(fd, h, 0, HEADER_BYTES, 0) !== HEADER_BYTES) throw new CacheCorruptError(file, "short header");
    if (h.readUInt32LE(0) !== MAGIC) throw new CacheCorruptError(file, "bad magic");
    // An older or newer layout is not corrupt, just not ours: leave it to the writer to replace.
    if (h.readUInt32LE(4) !== EVENT_CACHE_VERSION) return null;
    const built: SourceKey = { size: h.readDoubleLE(8), mtimeMs: h.readDoubleLE(16), ino: h.readDoubleLE(24) };
    if (!sameKey(built, key)) return null;
    const rows = h.readDoubleLE(32);
    const footerOffset = h.readDoubleLE(40);
    const footerBytes = h.readUInt32LE(48);
    const footerCrc = h.readUInt32LE(52);
    if (footerOffset + footerBytes !== size || footerOffset < HEADER_BYTES) throw new CacheCorruptError(file, "bad size");
    const fb = Buffer.allocUnsafeSlow(footerBytes);
    if (fs.readSync(fd, fb, 0, footerBytes, footerOffset) !== footerBytes) throw new CacheCorruptError(file, "short footer");
    if (crc32(fb) !== footerCrc) throw new CacheCorruptError(file, "footer checksum");
    let footer: Footer;
    try {
      footer = JSON.parse(utf8.decode(fb)) as Footer;
    } catch {
      throw new CacheCorruptError(file, "footer is not JSON");
    }
    if (!Array.isArray(footer.pages) || !Array.isArray(footer.markets)) throw new CacheCorruptError(file, "footer shape");
    const pages: PageEntry[] = [];
    let total = 0;
    let bytes = HEADER_BYTES;
    for (const [r, v, sb, crc] of footer.pages) {
      pages.push({ rows: r, vals: v, stringBytes: sb, crc });
      total += r;
      bytes += pageLayout(r, v, sb).bytes;
    }
    if (total !== rows || bytes !== footerOffset) throw new CacheCorruptError(file, "page index does not add up");
    // An empty segment has no first row: JSON wrote its +Infinity as null.
    const minTs = typeof footer.minTs === "number" ? footer.minTs : Number.POSITIVE_INFINITY;
    return new EventCacheReader(file, fd, rows, minTs, footer.markets, pages);
  }

  /**
   * The next page, or null after the last. Throws CacheCorruptError on a checksum mismatch. The page's
   * arrays are views of a buffer the following call overwrites.
   */
  nextPage(): CompactEventPage | null {
    const entry = this.pages[this.pageIndex];
    if (entry === undefined || this.fd === null) return null;
    const lay = pageLayout(entry.rows, entry.vals, entry.stringBytes);
    // One buffer per reader, reused: the views of a page are dead once the next page is asked for
    // (the merge has consumed the block), and fresh 100 KB+ buffers cost page faults and GC pressure.
    if (this.buffer === null || this.buffer.length < lay.bytes) this.buffer = Buffer.allocUnsafeSlow(Math.max(lay.bytes, 1 << 18));
    const buf = this.buffer.subarray(0, lay.bytes);
    if (fs.readSync(this.fd, buf, 0, lay.bytes, this.offset) !== lay.bytes) throw new CacheCorruptError(this.file, "short page");
    if (crc32(buf) !== entry.crc) throw new CacheCorruptError(this.file, `page ${this.pageIndex} checksum`);
    this.pageIndex++;
    this.offset += lay.bytes;
    const ab = buf.buffer;
    const o = buf.byteOffset;
    const n = entry.rows;
    let strings: string[] = [];
    if (entry.stringBytes > 0) {
      const parsed: unknown = JSON.parse(utf8.decode(buf.subarray(lay.strings, lay.strings + entry.stringBytes)));
      if (!Array.isArray(parsed)) throw new CacheCorruptError(this.file, "string list");
      strings = parsed as string[];
    }
    return {
      length: n,
      tsRecv: new Float64Array(ab, o + lay.ts, n),
      ord: new Float64Array(ab, o + lay.ord, n),
      vals: new Float64Array(ab, o + lay.v, entry.vals),
      market: new Uint32Array(ab, o + lay.market, n),
      kind: new Uint8Array(ab, o + lay.kind, n),
      side: new Uint8Array(ab, o + lay.side, n),
      hasRef: new Uint8Array(ab, o + lay.hasRef, n),
      marketDict: this.markets,
      strings,
    };
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** Remove a bad cache file so the next read rebuilds it; failure to remove is harmless. */
export function discard(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // read-only tape: the file stays and keeps being ignored
  }
}

// ---- writing --------------------------------------------------------------------------------------

let tempCounter = 0;

/**
 * Builds a cache file page by page while the Parquet segment is read. Never throws: on any IO error
 * it gives up quietly (the read goes on; the next read tries again).
 */
export class EventCacheWriter {
  private readonly markets: string[] = [];
  private readonly marketCodes = new Map<string, number>();
  private readonly pages: [number, number, number, number][] = [];
  private offset = HEADER_BYTES;
  private rows = 0;
  private minTs = Number.POSITIVE_INFINITY;

  private constructor(
    private readonly file: string,
    private readonly temp: string,
    private fd: number | null,
    private readonly key: SourceKey,
    private readonly sourceFile: string,
  ) {}

  static create(file: string, sourceFile: string, key: SourceKey): EventCacheWriter | null {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const temp = `${file}.${process.pid}-${threadId}-${++tempCounter}.tmp`;
      const fd = fs.openSync(temp, "w");
      return new EventCacheWriter(file, temp, fd, key, sourceFile);
    } catch {
      return null;
    }
  }

  get active(): boolean {
    return this.fd !== null;
  }

  /** Page-local market code of a string, assigned on first use. */
  marketCode(m: string): number {
    let c = this.marketCodes.get(m);
    if (c === undefined) {
      c = this.markets.length;
      this.markets.push(m);
      this.marketCodes.set(m, c);
    }
    return c;
  }

  append(cols: CompactColumns): void {
    if (this.fd === null || cols.length === 0) return;
    try {
      const n = cols.length;
      const sb = cols.strings.length > 0 ? Buffer.from(JSON.stringify(cols.strings), "utf8") : null;
      const stringBytes = sb?.length ?? 0;
      const lay = pageLayout(n, cols.vals.length, stringBytes);
      const buf = Buffer.alloc(lay.bytes);
      const put = (a: ArrayBufferView, at: number): void => {
        buf.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
      };
      put(cols.tsRecv, lay.ts);
      put(cols.ord, lay.ord);
      put(cols.vals, lay.v);
      put(cols.market, lay.market);
      put(cols.kind, lay.kind);
      put(cols.side, lay.side);
      put(cols.hasRef, lay.hasRef);
      if (sb) buf.set(sb, lay.strings);
      writeAll(this.fd, buf, this.offset);
      this.pages.push([n, cols.vals.length, stringBytes, crc32(buf)]);
      this.offset += lay.bytes;
      if (this.rows === 0) this.minTs = cols.tsRecv[0]!;
      this.rows += n;
    } catch {
      this.abort();
    }
  }

  /** Write footer and header and move the file into place, unless the segment changed meanwhile. */
  finish(): void {
    if (this.fd === null) return;
    try {
      const now = sourceKey(this.sourceFile);
      if (now === null || !sameKey(now, this.key)) throw new Error("segment changed while read");
      const footer: Footer = { minTs: this.minTs, markets: this.markets, pages: this.pages };
      const fb = Buffer.from(JSON.stringify(footer), "utf8");
      writeAll(this.fd, fb, this.offset);
      const h = Buffer.alloc(HEADER_BYTES);
      h.writeUInt32LE(MAGIC, 0);
      h.writeUInt32LE(EVENT_CACHE_VERSION, 4);
      h.writeDoubleLE(this.key.size, 8);
      h.writeDoubleLE(this.key.mtimeMs, 16);
      h.writeDoubleLE(this.key.ino, 24);
      h.writeDoubleLE(this.rows, 32);
      h.writeDoubleLE(this.offset, 40);
      h.writeUInt32LE(fb.length, 48);
      h.writeUInt32LE(crc32(fb), 52);
      writeAll(this.fd, h, 0);
      fs.closeSync(this.fd);
      this.fd = null;
      fs.renameSync(this.temp, this.file);
    } catch {
      this.abort();
    }
  }

  /** Drop the partial file (the read stopped early or IO failed). */
  abort(): void {
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = null;
    }
    discard(this.temp);
  }
}

function writeAll(fd: number, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, position + done);
}
