import { describe, expect, it } from "vitest";
import fc from "fast-check";
import fs from "node:fs";
import path from "node:path";
import type { EngineEvent, Source } from "../../lib/core/events.ts";
import { readTapeEvents } from "../../lib/tape/reader.ts";
import type { TapeEvent } from "../../lib/tape/types.ts";
import { anyEvent, anySource } from "./arbitraries.ts";
import { expectedOrder, readAll, tempDirs, writeEvents } from "./helpers.ts";

const freshDir = tempDirs("tape-cache-");

/** Every file under a directory, relative, sorted. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

const parquetFiles = (dir: string) => filesUnder(path.join(dir, "events")).filter((f) => f.endsWith(".parquet"));
const cacheFiles = (dir: string) => filesUnder(path.join(dir, ".cache"));
/** The cache file of an events segment (layout documented in SCHEMA.md, "Read cache"). */
const cacheOf = (dir: string, rel: string) => path.join(dir, ".cache", "events-v1", rel.replace(/\.parquet$/, ".evc"));

const DAY0 = Date.UTC(2026, 1, 12) * 1000; // 2026-02-12T00:00Z in µs
const US_PER_DAY = 86_400_000_000;

/** Events of every kind in a 2-day window. */
function sampleEvents(n: number, seed: number): TapeEvent[] {
  return fc
    .sample(fc.tuple(anyEvent, anySource, fc.integer({ min: 0, max: 2 * US_PER_DAY - 1 })), { numRuns: n, seed })
    .map(([e, source, offset]) => ({ source, event: { ...e, tsRecv: DAY0 + offset } as EngineEvent }));
}

/**
 * Many rows in one segment (so its cache file has several 2048-row pages), interleaved with a second
 * source at equal timestamps to exercise the cross-source tie-break.
 */
function denseEvents(n: number): TapeEvent[] {
  const out: TapeEvent[] = [];
  for (let i = 0; i < n; i++) {
    const tsRecv = DAY0 + 1_000_000 + Math.floor(i / 3) * 1000;
    out.push({
      source: "kalshi",
      event: {
        kind: "book_delta",
        tsRecv,
        tsExchange: i % 5 === 0 ? null : tsRecv - 7,
        market: `KXBTCD-26FEB1217-T${70_000 + (i % 7) * 250}`,
        sid: 3,
        seq: i + 1,
        side: i % 2 === 0 ? "yes" : "no",
        price: 100 + (i % 97) * 100,
        delta: (i % 11) * 100 - 500,
        clientOrderId: i % 13 === 0 ? `ord-${i}` : null,
      },
    });
    if (i % 4 === 0) {
      out.push({
        source: "coinbase",
        event: {
          kind: "spot_trade",
          tsRecv,
          tsExchange: tsRecv - 3,
          productId: "BTC-USD",
          price: 97_000 + i / 8,
          size: 0.001 * (i % 9),
          takerSide: i % 8 === 0 ? "buy" : "sell",
          tradeId: `t-${i}-é`,
        },
      });
    }
  }
  return out;
}

describe("tape read cache", () => {
  it("gives the same events as Parquet: cold (building), warm, and with the cache off", async () => {
    const dir = freshDir();
    const written = sampleEvents(1500, 7);
    expect(new Set(written.map((x) => x.event.kind)).size).toBeGreaterThanOrEqual(15);
    await writeEvents(dir, written, 600);
    const oracle = expectedOrder(written);

    expect(cacheFiles(dir)).toEqual([]);
    expect(await readAll(dir, { cache: false })).toEqual(oracle);
    expect(cacheFiles(dir)).toEqual([]); // cache: false writes nothing

    expect(await readAll(dir, { batchRows: 37 })).toEqual(oracle); // cold: builds the cache
    // One complete cache file per segment, no temp files left.
    const built = parquetFiles(dir).map((f) => path.relative(path.join(dir, ".cache"), cacheOf(dir, f)));
    expect(cacheFiles(dir)).toEqual(built.sort());

    expect(await readAll(dir, { batchRows: 37 })).toEqual(oracle); // warm
    expect(await readAll(dir, { from: "2026-02-13", sources: ["kalshi", "sim"] })).toEqual(
      oracle.filter((x) => x.event.tsRecv >= DAY0 + US_PER_DAY && (x.source === "kalshi" || x.source === "sim")),
    );
  });

  it("serves a current segment from the cache without touching the Parquet file", async () => {
    const dir = freshDir();
    const written = denseEvents(5000);
    await writeEvents(dir, written);
    // Whole-second mtimes, so they can be restored exactly below.
    const T = 1_800_000_000;
    for (const rel of parquetFiles(dir)) fs.utimesSync(path.join(dir, "events", rel), T, T);
    await readAll(dir); // build
    // Overwrite every segment in place with zeros, keeping size, inode and mtime: the cache key still
    // matches, so a correct read can only have come from the cache.
    for (const rel of parquetFiles(dir)) {
      const f = path.join(dir, "events", rel);
      const st = fs.statSync(f);
      fs.writeFileSync(f, Buffer.alloc(st.size));
      fs.utimesSync(f, T, T);
      const now = fs.statSync(f);
      expect([now.ino, now.size, now.mtimeMs]).toEqual([st.ino, st.size, st.mtimeMs]);
    }
    expect(await readAll(dir, { batchRows: 500 })).toEqual(expectedOrder(written));
    await expect(readAll(dir, { cache: false })).rejects.toThrow();
  });

  it("drops a cache file whose segment changed and rebuilds it", async () => {
    const dir = freshDir();
    const a = denseEvents(300);
    await writeEvents(dir, a);
    await readAll(dir); // build
    // Replace the kalshi segment with one holding different events (another tape, same day).
    const other = freshDir();
    const b: TapeEvent[] = a
      .filter((x) => x.source === "kalshi")
      .map((x) => ({ source: "kalshi", event: { ...x.event, tsRecv: x.event.tsRecv + 1 } }) as TapeEvent)
      .slice(0, 100);
    await writeEvents(other, b);
    const [kalshiRel] = parquetFiles(dir).filter((f) => f.includes("source=kalshi"));
    const [otherRel] = parquetFiles(other);
    fs.copyFileSync(path.join(other, "events", otherRel!), path.join(dir, "events", kalshiRel!));

    const expected = expectedOrder([...a.filter((x) => x.source !== "kalshi"), ...b]);
    expect(await readAll(dir)).toEqual(expected); // stale cache ignored, rebuilt
    const cacheFile = cacheOf(dir, kalshiRel!);
    const rebuiltAt = fs.statSync(cacheFile).mtimeMs;
    expect(await readAll(dir)).toEqual(expected); // from the rebuilt cache
    expect(fs.statSync(cacheFile).mtimeMs).toBe(rebuiltAt);
  });

  for (const [what, damage] of [
    ["a flipped byte in a middle page", (buf: Buffer) => void (buf[Math.floor(buf.length / 2)]! ^= 0x40)],
    ["a flipped byte in the first page", (buf: Buffer) => void (buf[64 + 9]! ^= 0x01)],
    ["a truncated file", (buf: Buffer) => buf.subarray(0, Math.floor(buf.length * 0.7))],
    ["a damaged header", (buf: Buffer) => void buf.fill(0xff, 0, 16)],
    ["a damaged footer", (buf: Buffer) => void (buf[buf.length - 3]! ^= 0x20)],
    ["an empty file", () => Buffer.alloc(0)],
  ] as const) {
    it(`falls back to Parquet with identical events on ${what}, then rebuilds`, async () => {
      const dir = freshDir();
      const written = denseEvents(9000); // kalshi segment: 9000 rows = 5 pages
      await writeEvents(dir, written);
      const oracle = expectedOrder(written);
      await readAll(dir); // build
      for (const rel of parquetFiles(dir)) {
        const f = cacheOf(dir, rel);
        const buf = fs.readFileSync(f);
        const out = damage(buf);
        fs.writeFileSync(f, out ?? buf);
      }
      expect(await readAll(dir, { batchRows: 333 })).toEqual(oracle);
      expect(await readAll(dir)).toEqual(oracle); // rebuilt (or built now)
      expect(await readAll(dir)).toEqual(oracle);
      expect(cacheFiles(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    });
  }

  it("reads normally when the cache cannot be written", async () => {
    const dir = freshDir();
    const written = sampleEvents(200, 11);
    await writeEvents(dir, written);
    fs.writeFileSync(path.join(dir, ".cache"), "not a directory");
    expect(await readAll(dir)).toEqual(expectedOrder(written));
    expect(await readAll(dir)).toEqual(expectedOrder(written));
  });

  it("leaves no partial cache file when a read is abandoned", async () => {
    const dir = freshDir();
    const written = denseEvents(6000);
    await writeEvents(dir, written);
    for await (const batch of readTapeEvents(dir, { batchRows: 100 })) {
      expect(batch.length).toBe(100);
      break;
    }
    expect(cacheFiles(dir)).toEqual([]);
    expect(await readAll(dir)).toEqual(expectedOrder(written));
    expect(cacheFiles(dir)).toHaveLength(parquetFiles(dir).length);
  });
});
