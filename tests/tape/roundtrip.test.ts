import { describe, expect, it } from "vitest";
import fc from "fast-check";
import fs from "node:fs";
import path from "node:path";
import type { EngineEvent, Source } from "../../lib/core/events.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";
import { listTapeDays, readTapeEvents, readTapeRaw } from "../../lib/tape/reader.ts";
import type { TapeEvent } from "../../lib/tape/types.ts";
import { anyEvent, anySource } from "./arbitraries.ts";
import { expectedOrder, readAll, tempDirs, writeEvents } from "./helpers.ts";

const freshDir = tempDirs("tape-rt-");

const DAY0 = Date.UTC(2026, 1, 12) * 1000; // 2026-02-12T00:00Z in µs
const US_PER_DAY = 86_400_000_000;

/** Events of every kind, re-stamped into a 3-day window so a read covers few day partitions. */
function sampleEvents(n: number, seed: number): TapeEvent[] {
  return fc
    .sample(fc.tuple(anyEvent, anySource, fc.integer({ min: 0, max: 3 * US_PER_DAY - 1 })), { numRuns: n, seed })
    .map(([e, source, offset]) => ({ source, event: { ...e, tsRecv: DAY0 + offset } as EngineEvent }));
}

describe("tape round trip through Parquet", () => {
  it("reads back every kind exactly, in receipt order", async () => {
    const dir = freshDir();
    const written = sampleEvents(1500, 42);
    // Every kind is present (the generator picks kinds uniformly).
    expect(new Set(written.map((x) => x.event.kind)).size).toBeGreaterThanOrEqual(15);
    await writeEvents(dir, written, 600);
    const back = await readAll(dir);
    expect(back).toEqual(expectedOrder(written));
  });

  it("reads a many-chunk segment exactly: NULLs, negative and > 2^32 integers, refs present or not", async () => {
    // Typed vectors cross as they are (BIGINT from its 32-bit halves, NULL from the validity bits), so
    // values on both sides of 2^31 / 2^32, negatives and NULLs must all come back unchanged.
    const dir = freshDir();
    const written: TapeEvent[] = [];
    for (let i = 0; i < 9000; i++) {
      const tsRecv = DAY0 + 1_000_000 + Math.floor(i / 3) * 1000;
      written.push({
        source: "kalshi",
        event: {
          kind: "book_delta", tsRecv, tsExchange: i % 5 === 0 ? null : tsRecv - 7, market: `KXBTCD-26FEB1217-T${70_000 + (i % 7) * 250}`,
          sid: 3, seq: i % 11 === 0 ? 2 ** 33 + i : i + 1, side: i % 2 === 0 ? "yes" : "no", price: 100 + (i % 97) * 100,
          delta: i % 3 === 0 ? -(2 ** 40) - i : (i % 11) * 100 - 500, clientOrderId: i % 13 === 0 ? `ord-${i}` : null,
        },
      });
      if (i % 4 === 0) {
        written.push({
          source: "coinbase",
          event: { kind: "spot_trade", tsRecv, tsExchange: tsRecv - 3, productId: "BTC-USD", price: 97_000 + i / 8, size: 0.001 * (i % 9), takerSide: i % 8 === 0 ? "buy" : "sell", tradeId: `t-${i}-é` },
        });
      }
    }
    await writeEvents(dir, written);
    expect(await readAll(dir, { batchRows: 777 })).toEqual(expectedOrder(written));
  });

  it("property: any event sequence reads back in (ts, source rank, write order)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(anyEvent, anySource, fc.integer({ min: 0, max: 5 })), { minLength: 1, maxLength: 60 }),
        async (items) => {
          const dir = freshDir();
          // Few distinct timestamps, so ties across and within sources are common.
          const written = items.map(([e, source, dt]) => ({
            source,
            event: { ...e, tsRecv: DAY0 + dt } as EngineEvent,
          }));
          await writeEvents(dir, written);
          expect(await readAll(dir, { batchRows: 7 })).toEqual(expectedOrder(written));
          fs.rmSync(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: 8 },
    );
  });

  it("breaks ties at the same ts_recv by source rank, then by write order", async () => {
    const dir = freshDir();
    const timer = (tsRecv: number): EngineEvent => ({ kind: "timer", tsRecv, tsExchange: null });
    const t = DAY0 + 5_000_000;
    const written: TapeEvent[] = [
      { source: "control", event: timer(t) }, // written first, ranks last
      { source: "kalshi", event: timer(t) },
      { source: "coinbase", event: { ...timer(t), tsExchange: 1 } },
      { source: "coinbase", event: { ...timer(t), tsExchange: 2 } },
      { source: "sim", event: timer(t - 1) }, // earlier ts beats every rank
    ];
    await writeEvents(dir, written);
    const back = await readAll(dir);
    expect(back.map((x) => [x.source, x.event.tsRecv, x.event.tsExchange])).toEqual([
      ["sim", t - 1, null],
      ["coinbase", t, 1],
      ["coinbase", t, 2],
      ["kalshi", t, null],
      ["control", t, null],
    ]);
  });

  it("reads several days in order, filters by day range and source, lists days", async () => {
    const dir = freshDir();
    const ev = (day: number, s: number): EngineEvent => ({
      kind: "index_value",
      tsRecv: DAY0 + day * US_PER_DAY + s * 1_000_000,
      tsExchange: null,
      indexId: "BRTI",
      value: 97_000 + day,
      avg60s: Number.NaN, quarterAvg: Number.NaN, quarterTicks: 0,
      sid: 1,
      seq: day * 100 + s,
    });
    // Written out of day order, across two writer sessions.
    const first: TapeEvent[] = [
      { source: "kalshi", event: ev(2, 1) },
      { source: "kalshi", event: ev(0, 1) },
      { source: "coinbase", event: ev(1, 1) },
    ];
    const second: TapeEvent[] = [
      { source: "kalshi", event: ev(1, 0) },
      { source: "sim", event: ev(0, 0) },
    ];
    await writeEvents(dir, first);
    await writeEvents(dir, second);
    expect(await listTapeDays(dir)).toEqual(["2026-02-12", "2026-02-13", "2026-02-14"]);
    const seqs = (xs: TapeEvent[]) => xs.map((x) => (x.event as { seq: number }).seq);
    expect(seqs(await readAll(dir))).toEqual([0, 1, 100, 101, 201]);
    expect(seqs(await readAll(dir, { from: "2026-02-13", to: "2026-02-13" }))).toEqual([100, 101]);
    expect(seqs(await readAll(dir, { from: "2026-02-13" }))).toEqual([100, 101, 201]);
    expect(seqs(await readAll(dir, { sources: ["kalshi"] }))).toEqual([1, 100, 201]);
  });

  it("splits a segment that spans midnight into both date partitions", async () => {
    const dir = freshDir();
    const midnight = DAY0 + US_PER_DAY;
    const written: TapeEvent[] = [-2, -1, 0, 0.5].map((s) => ({
      source: "kalshi",
      event: { kind: "timer", tsRecv: midnight + s * 1_000_000, tsExchange: null },
    }));
    // 7-s segments are aligned to the epoch, not to midnight: midnight is 1 770 940 800 s, and
    // 1 770 940 794 = 7 × 252 991 542, so the segment [midnight − 6 s, midnight + 1 s) holds all four.
    await writeEvents(dir, written, 7);
    const a = fs.readdirSync(path.join(dir, "events", "date=2026-02-12", "source=kalshi"));
    const b = fs.readdirSync(path.join(dir, "events", "date=2026-02-13", "source=kalshi"));
    expect(a).toHaveLength(1);
    expect(b).toEqual(a);
    expect((await readAll(dir)).map((x) => x.event.tsRecv)).toEqual(written.map((x) => x.event.tsRecv));
  });

  it("yields batches no larger than batchRows and can be abandoned mid-way", async () => {
    const dir = freshDir();
    const written = sampleEvents(300, 9);
    await writeEvents(dir, written);
    let batches = 0;
    for await (const batch of readTapeEvents(dir, { batchRows: 16 })) {
      expect(batch.length).toBeGreaterThan(0);
      expect(batch.length).toBeLessThanOrEqual(16);
      if (++batches === 3) break;
    }
    expect((await readAll(dir)).length).toBe(300);
  });

  it("round-trips raw frames in receipt order with connection and direction", async () => {
    const dir = freshDir();
    const w = await openTapeWriter({ dir });
    const t = DAY0 + 1_000;
    w.raw({ source: "kalshi", connId: "k-1", tsRecv: t + 2, dir: "recv", text: '{"type":"ticker","msg":{}}' });
    w.raw({ source: "kalshi", connId: "k-1", tsRecv: t, dir: "send", text: '{"id":1,"cmd":"subscribe"}' });
    w.raw({ source: "coinbase", connId: "c-1", tsRecv: t + 2, dir: "recv", text: "é ünïcødé ✓ \"quoted\"\n" });
    w.raw({ source: "coinbase", connId: "c-1", tsRecv: t + 3, dir: "recv", text: "" });
    await w.close();
    const frames = [];
    for await (const b of readTapeRaw(dir)) frames.push(...b);
    expect(frames.map(({ source, connId, tsRecv, dir, text }) => ({ source, connId, tsRecv, dir, text }))).toEqual([
      { source: "kalshi", connId: "k-1", tsRecv: t, dir: "send", text: '{"id":1,"cmd":"subscribe"}' },
      { source: "coinbase", connId: "c-1", tsRecv: t + 2, dir: "recv", text: "é ünïcødé ✓ \"quoted\"\n" },
      { source: "kalshi", connId: "k-1", tsRecv: t + 2, dir: "recv", text: '{"type":"ticker","msg":{}}' },
      { source: "coinbase", connId: "c-1", tsRecv: t + 3, dir: "recv", text: "" },
    ]);
  });
});
