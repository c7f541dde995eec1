/**
 * A parameter sweep shares book updates and model probabilities between sessions. Its oracle is
 * the obvious second implementation: each config replayed on its own must give the same summary.
 */
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { DEFAULT_ENGINE_CONFIG, mergeEngineConfig, type EngineConfig } from "../../lib/core/config.ts";
import type { EngineEvent } from "../../lib/core/events.ts";
import { Replay } from "../../lib/run/replay.ts";
import { readTapeEvents } from "../../lib/tape/reader.ts";

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

describe("parameter sweep over one pass", () => {
  test("each session of a sweep equals the same config replayed alone", async () => {
    const evs = await events();
    const sweep = new Replay(CONFIGS.map((config) => ({ config })));
    for (const e of evs) sweep.feed(e);
    sweep.finish();
    for (const [i, config] of CONFIGS.entries()) {
      const alone = new Replay([{ config }]);
      for (const e of evs) alone.feed(e);
      alone.finish();
      expect(JSON.stringify(sweep.summaryJSON(i)), `config ${i}`).toBe(JSON.stringify(alone.summaryJSON(0)));
    }
    // The configs really differ in outcome (otherwise the comparison proves little).
    const trades = CONFIGS.map((_, i) => sweep.summaryJSON(i).trades);
    expect(new Set(trades).size).toBeGreaterThan(2);
  }, 120_000);
});
