/**
 * Replay over a synthesized two-day capture (crossing UTC midnight, so two date partitions):
 * the CLI gives byte-identical JSON twice, events come in receipt-time order, and --from-raw
 * (re-deriving events from the raw frames with the live parsers) reaches the same decisions.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { synthesize } from "../../lib/tape/synth.ts";
import { readTapeEvents } from "../../lib/tape/reader.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";
import { BINANCE_BTCUSD_1M_CSV } from "../../fixtures/data/paths.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const CSV = BINANCE_BTCUSD_1M_CSV;
let dir = "";

function replay(args: string[]): string {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "runners/replay.ts"), "--no-store", "--json", ...args], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`replay exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kbe-replay-"));
  const w = await openTapeWriter({ dir });
  await synthesize(
    { seed: 11, startDay: "2026-11-23", startHour: 22, hours: 4, candleCsvPath: CSV, candleDay: "2023-03-13",
      marketsPerHour: 5, spotTicksPerSecond: 1, deltasPerSecondPerMarket: 0.2, level2PerSecond: 0, tradesPerMinutePerMarket: 1 },
    w,
  );
  await w.close();
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("replay of a two-day capture", () => {
  test("the capture spans two UTC dates", () => {
    expect(readdirSync(join(dir, "events")).sort()).toEqual(["date=2026-11-23", "date=2026-11-24"]);
  });

  test("events are read in receipt-time order across days and sources", async () => {
    let last = -1;
    let n = 0;
    const sources = new Set<string>();
    for await (const batch of readTapeEvents(dir)) {
      for (const { event, source } of batch) {
        expect(event.tsRecv).toBeGreaterThanOrEqual(last);
        last = event.tsRecv;
        sources.add(source);
        n++;
      }
    }
    expect(n).toBeGreaterThan(10_000);
    expect([...sources].sort()).toEqual(["coinbase", "kalshi"]);
  });

  test("two replays give byte-identical JSON", () => {
    const a = replay(["--tape", dir]);
    const b = replay(["--tape", dir]);
    expect(a.length).toBeGreaterThan(200);
    expect(a).toBe(b);
    const s = JSON.parse(a);
    expect(s.settlements).toBeGreaterThan(0);
    expect(s.opportunities).toBeGreaterThan(1000);
  }, 120_000);

  test("--from/--to select whole days", () => {
    const day2 = JSON.parse(replay(["--tape", dir, "--from", "2026-11-24", "--to", "2026-11-24"]));
    const all = JSON.parse(replay(["--tape", dir]));
    expect(day2.events).toBeGreaterThan(0);
    expect(day2.events).toBeLessThan(all.events);
  }, 120_000);

  test("--from-raw re-derives the same decisions from the raw frames", () => {
    const fromEvents = JSON.parse(replay(["--tape", dir]));
    const fromRaw = JSON.parse(replay(["--tape", dir, "--from-raw"]));
    expect(fromRaw.raw.rejects).toBe(0);
    for (const k of ["events", "opportunities", "opportunities_by_reason", "orders", "fills", "settlements", "scores"]) {
      expect(fromRaw[k], k).toEqual(fromEvents[k]);
    }
  }, 120_000);
});
