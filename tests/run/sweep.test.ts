/**
 * A parameter sweep shares book updates and model probabilities between sessions. Its oracle is
 * the obvious second implementation: each config replayed on its own must give the same summary.
 */
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { DEFAULT_ENGINE_CONFIG, mergeEngineConfig, type EngineConfig } from "../../lib/core/config.ts";
import type { EngineEvent } from "../../lib/core/events.ts";
import { Engine } from "../../lib/core/engine.ts";
import { SpotFeatures } from "../../lib/core/features.ts";
import { Replay } from "../../lib/run/replay.ts";
import { readTapeEvents } from "../../lib/tape/reader.ts";
import { codeVersion, runInWorker, runSweep, runSweepJob, splitSweep, type SweepJob } from "../../lib/run/sweep.ts";

const TAPE = join(import.meta.dirname, "../../fixtures/tapes/sample");

const CONFIGS: EngineConfig[] = [
  DEFAULT_ENGINE_CONFIG,
  mergeEngineConfig(DEFAULT_ENGINE_CONFIG, { strategy: { evMin: 0.08 } }),
  mergeEngineConfig(DEFAULT_ENGINE_CONFIG, { strategy: { spreadMaxTicks: 2, evalIntervalSeconds: 3 } }),
  mergeEngineConfig(DEFAULT_ENGINE_CONFIG, { strategy: { execution: "maker", evMin: 0.02 } }),
  mergeEngineConfig(DEFAULT_ENGINE_CONFIG, { vol: { method: "window" }, model: { shrinkToHalf: 0.1 } }),
];

async function events(): Promise<EngineEvent[]> {
  const out: EngineEvent[] = [];
  for await (const b of readTapeEvents(TAPE)) for (const { event } of b) out.push(event);
  return out;
}

/**
 * Replay `evs` once as a sweep of CONFIGS and once per config alone; every audit record must agree.
 * Returns the sweep's summaries.
 */
function expectSweepEqualsAlone(
  evs: readonly EngineEvent[],
  opts: { settlementGraceSeconds?: number } = {},
  configs: readonly EngineConfig[] = CONFIGS,
): Record<string, unknown>[] {
  // Every audit record, not only the summary: the sweep hands most book deltas and spot events only
  // to the sessions they concern (Session.skim) and moves the shared spot features once, and any
  // difference that makes would show in some record.
  const swept: string[][] = configs.map(() => []);
  const sweep = new Replay(
    configs.map((config, i) => ({ config, onRecord: (r) => swept[i]!.push(JSON.stringify(r)) })),
    opts,
  );
  for (const e of evs) sweep.feed(e);
  sweep.finish();
  for (const [i, config] of configs.entries()) {
    const records: string[] = [];
    const alone = new Replay([{ config, onRecord: (r) => records.push(JSON.stringify(r)) }], opts);
    for (const e of evs) alone.feed(e);
    alone.finish();
    expect(JSON.stringify(sweep.summaryJSON(i)), `config ${i}`).toBe(JSON.stringify(alone.summaryJSON(0)));
    expect(swept[i]!.length, `config ${i} records`).toBe(records.length);
    for (let k = 0; k < records.length; k++) if (swept[i]![k] !== records[k]) expect(swept[i]![k], `config ${i} record ${k}`).toBe(records[k]);
    // What no record shows: the engine's clock and counters.
    const [es, ea] = [sweep.results[i]!.session.engine, alone.results[0]!.session.engine];
    expect(JSON.stringify([es.time(), es.counters]), `config ${i} engine`).toBe(JSON.stringify([ea.time(), ea.counters]));
  }
  return configs.map((_, i) => sweep.summaryJSON(i));
}

describe("parameter sweep over one pass", () => {
  test("each session of a sweep equals the same config replayed alone", async () => {
    const summaries = expectSweepEqualsAlone(await events());
    // The configs really differ in outcome (otherwise the comparison proves little).
    expect(new Set(summaries.map((s) => s.trades)).size).toBeGreaterThan(2);
  }, 120_000);

  test("the same when every market settles from the shared fallback window (no venue result)", async () => {
    // Without the venue's determined/settled frames each session settles from the BRTI/spot window,
    // which a sweep keeps once for all sessions.
    const evs = (await events()).filter((e) => !(e.kind === "market_lifecycle" && e.result));
    // A grace off the sweeps' 3- and 5-s grids, so a settlement falls due between two sweeps.
    const summaries = expectSweepEqualsAlone(evs, { settlementGraceSeconds: 601 });
    const sources = JSON.stringify(summaries.map((s) => s.settlement_sources));
    expect(sources).toMatch(/brti_avg60|spot_proxy/);
    expect(sources).not.toMatch(/venue/);
  }, 120_000);

  test("the same when a market's close time moves in, a delta passes it, and it moves back out", async () => {
    // Alone, the venue closes a market at its first book event at or after the close time, for
    // good; a session of a sweep that skipped that delta used to miss the close (found in review).
    const base = await events();
    const info = base.find((e) => e.kind === "market_info")! as Extract<EngineEvent, { kind: "market_info" }>;
    const firstTrade = base.find((e) => e.kind === "order_update" || (e.kind === "public_trade" && e.market === info.market))?.tsRecv ?? base.at(-1)!.tsRecv;
    // The last delta of the market before its first print, far enough in for orders to be resting.
    const d = base.filter((e) => e.kind === "book_delta" && e.market === info.market && e.tsRecv < firstTrade).at(-1)!;
    const early = { ...info, tsRecv: d.tsRecv - 1000, closeTime: d.tsRecv - 999 };
    const back = { ...info, tsRecv: d.tsRecv + 1, closeTime: info.closeTime };
    const evs: EngineEvent[] = [];
    for (const e of base) {
      if (e === d) evs.push(early);
      evs.push(e);
      if (e === d) evs.push(back);
    }
    const summaries = expectSweepEqualsAlone(evs);
    // The close bites: orders for that market are refused after it, alone and in the sweep.
    expect(summaries.some((s) => (s.orders_rejected as number) > 0)).toBe(true);
  }, 120_000);

  test("the same for configs that differ only in a non-finite setting (±Infinity, NaN share no state)", async () => {
    const configs = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN].map((minSamples) =>
      mergeEngineConfig(DEFAULT_ENGINE_CONFIG, { vol: { minSamples } }),
    );
    expect(new Set(configs.map((c) => SpotFeatures.keyOf(c))).size).toBe(3);
    expectSweepEqualsAlone(await events(), {}, configs);
  }, 120_000);

  test("the same engine clock for input out of time order", async () => {
    const all = await events();
    const last = all.at(-1)!;
    const print = (dt: number): EngineEvent => ({ kind: "spot_trade", tsRecv: last.tsRecv + dt, tsExchange: null, productId: "BTC-USD", price: 1, size: 1, takerSide: "buy", tradeId: `late-${dt}` });
    expectSweepEqualsAlone([...all, print(1000), print(500)]);
  }, 120_000);

  test("the same when a book delta is lost (a seq gap every session must see)", async () => {
    const all = await events();
    const deltas = all.flatMap((e, i) => (e.kind === "book_delta" ? [i] : []));
    const lost = new Set([deltas[Math.floor(deltas.length / 3)]!, deltas[Math.floor((2 * deltas.length) / 3)]!]);
    const summaries = expectSweepEqualsAlone(all.filter((_, i) => !lost.has(i)));
    expect(JSON.stringify(summaries.map((s) => s.opportunities_by_reason))).toMatch(/BOOK_STALE/);
  }, 120_000);
});

describe("shared spot features", () => {
  test("an engine refuses features built for another vol or window setting", () => {
    const sink = { intent: () => {}, record: () => {} };
    const other = mergeEngineConfig(DEFAULT_ENGINE_CONFIG, { vol: { method: "window" } });
    expect(() => new Engine(DEFAULT_ENGINE_CONFIG, sink, 0, { features: new SpotFeatures(other) })).toThrow(/do not match/);
    const window = mergeEngineConfig(DEFAULT_ENGINE_CONFIG, { model: { settlementWindowSeconds: 30 } });
    expect(() => new Engine(DEFAULT_ENGINE_CONFIG, sink, 0, { features: new SpotFeatures(window) })).toThrow(/do not match/);
    // Same vol and window, other strategy: shareable.
    const strategy = mergeEngineConfig(DEFAULT_ENGINE_CONFIG, { strategy: { evMin: 0.2 } });
    expect(() => new Engine(DEFAULT_ENGINE_CONFIG, sink, 0, { features: new SpotFeatures(strategy) })).not.toThrow();
  });
});

describe("sweep jobs on worker threads", () => {
  const configs = [...CONFIGS, mergeEngineConfig(DEFAULT_ENGINE_CONFIG, { strategy: { evMin: 0.01 } })];

  test("splitSweep covers every config once, in order", () => {
    const job: SweepJob = { tape: TAPE, configs };
    for (const k of [1, 2, 3, 4, 6, 10]) {
      const shards = splitSweep(job, k);
      expect(shards.flatMap((s) => s.configs)).toEqual(configs);
      expect(shards.map((s) => s.firstIndex)).toEqual(shards.map((_, i) => shards.slice(0, i).reduce((n, s) => n + s.configs.length, 0)));
    }
  });

  test("a --workers 2 sweep equals the single-thread sweep byte for byte", async () => {
    const job: SweepJob = { tape: TAPE, configs, extra: { tape: "sample" }, latency: { kind: "constant", entryUs: 40_000, responseUs: 60_000 } };
    const single = await runSweepJob(job);
    const two = await runSweep(job, 2);
    expect(JSON.stringify(two)).toBe(JSON.stringify(single));
    // It really used a second thread for part of the configs, and the configs really differ.
    expect(splitSweep(job, 2).map((s) => s.configs.length)).toEqual([3, 3]);
    expect(new Set(single.summaries.map((s) => JSON.stringify(s.opportunities_by_reason) + s.trades)).size).toBeGreaterThan(2);
  }, 180_000);

  test("a worker's error reaches the caller", async () => {
    await expect(runInWorker({ tape: join(TAPE, "no-such-dir", ".."), configs: [{ ...DEFAULT_ENGINE_CONFIG, strategy: null as never }] })).rejects.toThrow(/sweep worker/);
  }, 60_000);

  test("codeVersion is a stable fingerprint", () => {
    expect(codeVersion()).toMatch(/^[0-9a-f]{16}$/);
    expect(codeVersion()).toBe(codeVersion());
  });
});
