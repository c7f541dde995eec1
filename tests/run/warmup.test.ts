/**
 * Day-range jobs with a warm-up prefix. The oracle is the continuous replay: over the same tape, a
 * job that starts at midnight after replaying the hours before it (no trading, no records) must see
 * exactly what the continuous replay saw from midnight on — every audit record — as long as the
 * continuous run carries no positions across midnight (here: a config that never trades). Without
 * the warm-up the day starts cold, and the records differ (volatility not warm, books missing).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mergeEngineConfig } from "../../lib/core/config.ts";
import type { AuditRecord } from "../../lib/core/records.ts";
import { jobReadDays, planSweep, runJob } from "../../lib/run/jobs.ts";
import { runSweepJob, warmupOf } from "../../lib/run/sweep.ts";
import { readTapeEvents } from "../../lib/tape/reader.ts";
import { BASE, synthSweepTape } from "../helpers/sweep-tape.ts";

let dir = "";
let tape = "";
const DAY2 = "2026-11-24";
const MIDNIGHT = Date.parse(`${DAY2}T00:00:00Z`) * 1000;
// EV can never reach 10: the config follows the market and records every evaluation, but never trades.
const NEVER_TRADES = mergeEngineConfig(BASE, { strategy: { evMin: 10 } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kbe-warmup-"));
  tape = join(dir, "tape");
  await synthSweepTape(tape); // 22:00 on the 23rd to 02:00 on the 24th
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function records(job: Parameters<typeof runSweepJob>[0]): Promise<{ recs: AuditRecord[]; result: Awaited<ReturnType<typeof runSweepJob>> }> {
  const recs: AuditRecord[] = [];
  const result = await runSweepJob(job, { onRecord: (r) => recs.push(r) });
  return { recs, result };
}

const tsOf = (r: AuditRecord): number => (r as { ts?: number }).ts ?? Number.NaN;

describe("warm-up prefix", () => {
  test("a day job warmed on the hours before midnight records exactly what the continuous replay records after midnight", async () => {
    const all = await records({ tape, from: "2026-11-23", to: DAY2, configs: [NEVER_TRADES] });
    const after = all.recs.filter((r) => tsOf(r) >= MIDNIGHT);
    expect(all.recs.some((r) => tsOf(r) < MIDNIGHT)).toBe(true);
    expect(after.filter((r) => r.kind === "opportunity").length).toBeGreaterThan(500);
    expect(after.some((r) => r.kind === "order")).toBe(false);

    const warm = await records({ tape, from: DAY2, to: DAY2, configs: [NEVER_TRADES], warmupSeconds: 3 * 3600 });
    expect(warm.recs.every((r) => !(tsOf(r) < MIDNIGHT))).toBe(true);
    expect(warm.recs).toEqual(after);

    // The job counts only its own day's events; the warm-up's are counted apart.
    let day2Events = 0;
    for await (const b of readTapeEvents(tape, { from: DAY2, to: DAY2 })) day2Events += b.length;
    expect(warm.result.events).toBe(day2Events);
    expect(warm.result.firstTs).toBeGreaterThanOrEqual(MIDNIGHT);

    // Cold, the same day prices differently at first: the warm-up is what makes the two equal.
    const cold = await records({ tape, from: DAY2, to: DAY2, configs: [NEVER_TRADES] });
    expect(cold.recs).not.toEqual(after);
    // Markets announced before midnight (their market_info and book snapshot are in the prefix) are
    // unknown to the cold job: it never evaluates them.
    const markets = (rs: AuditRecord[]) => new Set(rs.flatMap((r) => (r.kind === "opportunity" ? [r.market] : [])));
    const coldMarkets = markets(cold.recs);
    const warmMarkets = markets(warm.recs);
    expect([...coldMarkets].every((m) => warmMarkets.has(m))).toBe(true);
    expect(warmMarkets.size).toBeGreaterThan(coldMarkets.size);
  }, 120_000);

  test("a trading config does not trade during the warm-up: the day starts flat", async () => {
    const cont = await records({ tape, from: "2026-11-23", to: DAY2, configs: [BASE] });
    // The continuous run does trade before midnight (else this test would prove nothing).
    expect(cont.recs.some((r) => r.kind === "order" && r.ts < MIDNIGHT)).toBe(true);
    const warm = await records({ tape, from: DAY2, to: DAY2, configs: [BASE], warmupSeconds: 3 * 3600 });
    const ordered = new Set(warm.recs.flatMap((r) => (r.kind === "order" ? [r.clientOrderId] : [])));
    // Every fill and every settled position comes from an order the job itself sent after midnight.
    for (const r of warm.recs) {
      if (r.kind === "fill_record") expect(ordered.has(r.clientOrderId ?? "")).toBe(true);
      if (r.kind === "order") expect(r.ts).toBeGreaterThanOrEqual(MIDNIGHT);
    }
    const filledMarkets = new Set(warm.recs.flatMap((r) => (r.kind === "fill_record" ? [r.market] : [])));
    for (const r of warm.recs) if (r.kind === "settlement" && r.position !== 0) expect(filledMarkets.has(r.market)).toBe(true);
  }, 120_000);

  test("a partial warm-up replays only its prefix of the day before", async () => {
    const w = warmupOf({ from: DAY2, warmupSeconds: 1800 })!;
    expect(w.fromDay).toBe("2026-11-23");
    expect(w.startUs - w.fromUs).toBe(1800 * 1e6);
    const r = await records({ tape, from: DAY2, to: DAY2, configs: [NEVER_TRADES], warmupSeconds: 1800 });
    expect(r.recs.every((x) => !(tsOf(x) < MIDNIGHT))).toBe(true);
    expect(warmupOf({ from: DAY2 })).toBeNull();
    expect(() => warmupOf({ warmupSeconds: 60 })).toThrow(/first day/);
  }, 60_000);

  test("research jobs: the warm-up is part of the job's identity and its tape fingerprint covers the day before", async () => {
    const cold = await planSweep({ tapeDir: tape, base: BASE, from: DAY2, to: DAY2, codeVersion: "c1" });
    const warm = await planSweep({ tapeDir: tape, base: BASE, from: DAY2, to: DAY2, codeVersion: "c1", options: { warmupSeconds: 3600 } });
    expect(warm.jobs[0]!.id).not.toBe(cold.jobs[0]!.id);
    // The warm job depends on the 23rd's bytes too.
    expect(warm.jobs[0]!.tape).not.toBe(cold.jobs[0]!.tape);
    expect(jobReadDays(["2026-11-23", DAY2], DAY2, DAY2, { warmupSeconds: 3600 })).toEqual(["2026-11-23", DAY2]);
    expect(jobReadDays(["2026-11-23", DAY2], DAY2, DAY2, {})).toEqual([DAY2]);
    const planned = await planSweep({ tapeDir: tape, base: NEVER_TRADES, from: DAY2, to: DAY2, codeVersion: "c1", options: { warmupSeconds: 3 * 3600 } });
    const o = await runJob(planned.jobs[0]!, tape, { codeVersion: "c1" });
    try {
      const direct = await records({ tape, from: DAY2, to: DAY2, configs: [NEVER_TRADES], warmupSeconds: 3 * 3600 });
      expect(o.events).toBe(direct.result.events);
      expect(o.variants[0]!.summary).toEqual(direct.result.summaries[0]);
    } finally {
      await o.store.close();
    }
  }, 120_000);
});
