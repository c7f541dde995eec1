/**
 * The bulk events writer (lib/tape/bulk.ts) writes the same events layer as the journaled tape writer:
 * its oracle is the tape writer itself, fed the same synthesized capture.
 */
import { DuckDBInstance } from "@duckdb/node-api";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BINANCE_BTCUSD_1M_CSV } from "../../fixtures/data/paths.ts";
import type { EngineEvent, Source } from "../../lib/core/events.ts";
import { openBulkEventWriter } from "../../lib/tape/bulk.ts";
import { synthesize, type SynthOptions } from "../../lib/tape/synth.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";
import type { TapeSink } from "../../lib/tape/types.ts";
import { anyEvent, anySource } from "./arbitraries.ts";
import fc from "fast-check";
import { expectedOrder, readAll, tempDirs } from "./helpers.ts";

const freshDir = tempDirs("tape-bulk-");

const OPTS: SynthOptions = {
  seed: 7, startDay: "2026-11-23", startHour: 23, hours: 1.5, candleCsvPath: BINANCE_BTCUSD_1M_CSV, candleDay: "2023-03-10",
  marketsPerHour: 5, spotTicksPerSecond: 1, deltasPerSecondPerMarket: 0.3, level2PerSecond: 0, tradesPerMinutePerMarket: 2,
};

async function columnsOf(file: string): Promise<string> {
  const inst = await DuckDBInstance.create(":memory:");
  const c = await inst.connect();
  const r = await c.runAndReadAll(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${file.replaceAll("'", "''")}'))`);
  c.closeSync();
  inst.closeSync();
  return JSON.stringify(r.getRowsJS());
}

const eventFiles = (dir: string) =>
  fs.readdirSync(path.join(dir, "events"), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();

describe("bulk events writer", () => {
  it("writes the events the journaled writer writes (a synthesized capture over midnight), same schema", async () => {
    const a = freshDir();
    const b = freshDir();
    const w = await openTapeWriter({ dir: a, segmentSeconds: 1800 });
    await synthesize(OPTS, w);
    await w.close();
    const bulk = await openBulkEventWriter({ dir: b, segmentSeconds: 1800 });
    await synthesize(OPTS, bulk);
    await bulk.close();
    expect(bulk.stats.rejected).toBe(0);
    const fromWriter = await readAll(a);
    expect(fromWriter.length).toBeGreaterThan(5000);
    expect(await readAll(b)).toEqual(fromWriter);
    // Two days, and the same Parquet column names and types as the tape writer's files.
    const days = (d: string) => fs.readdirSync(path.join(d, "events")).sort();
    expect(days(b)).toEqual(days(a));
    expect(days(b).length).toBe(2);
    expect(await columnsOf(eventFiles(b)[0]!)).toBe(await columnsOf(eventFiles(a)[0]!));
    expect(fs.existsSync(path.join(b, "raw"))).toBe(false);
  }, 120_000);

  it("round-trips every kind exactly (same generator as the writer's round-trip test)", async () => {
    const dir = freshDir();
    const t0 = Date.UTC(2026, 1, 12) * 1000;
    const written = fc
      .sample(fc.tuple(anyEvent, anySource, fc.integer({ min: 0, max: 2 * 86_400_000_000 - 1 })), { numRuns: 1200, seed: 5 })
      .map(([e, source, off]) => ({ source: source as Source, event: { ...e, tsRecv: t0 + off } as EngineEvent }))
      .sort((x, y) => x.event.tsRecv - y.event.tsRecv);
    const sink: TapeSink & { stats: { rejected: number } } = await openBulkEventWriter({ dir, segmentSeconds: 3600 });
    for (const { event, source } of written) sink.event(event, source);
    await sink.close();
    expect(sink.stats.rejected).toBe(0);
    expect(await readAll(dir)).toEqual(expectedOrder(written));
  }, 60_000);
});
