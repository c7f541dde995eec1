/**
 * Golden tapes: replay each committed tape from disk with its config and compare the outcome with
 * the hand-derived expectation in expected.json (reasoning in fixtures/README.md). Any difference —
 * an extra order, a fill a tick off, a cent of PnL — fails CI.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { DEFAULT_ENGINE_CONFIG, mergeEngineConfig } from "../../lib/core/config.ts";
import type { AuditRecord, OrderIntent } from "../../lib/core/records.ts";
import { parseEngineOverrides } from "../../lib/config.ts";
import { Replay } from "../../lib/run/replay.ts";
import { readTapeEvents } from "../../lib/tape/reader.ts";
import { SCENARIOS, T0 } from "../../fixtures/golden/scenarios.ts";

const ROOT = join(import.meta.dirname, "../../fixtures/golden");
const secs = (ts: number) => Math.round((ts - T0) / 1000) / 1000;

async function outcome(dir: string) {
  const overrides = parseEngineOverrides(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")));
  const records: AuditRecord[] = [];
  const intents: OrderIntent[] = [];
  const replay = new Replay([
    { config: mergeEngineConfig(DEFAULT_ENGINE_CONFIG, overrides), onRecord: (r) => records.push(r), onIntent: (i) => intents.push(i) },
  ]);
  for await (const batch of readTapeEvents(join(dir, "tape"))) replay.feedBatch(batch);
  replay.finish();
  const engine = replay.results[0]!.session.engine;
  return {
    orders: intents.filter((i) => i.kind === "place_order").map((i) => [secs(i.ts), i.outcome, i.price, i.count]),
    fills: records.filter((r) => r.kind === "fill_record").map((r) => [secs(r.ts), r.price, r.count, r.fee]),
    settlements: records
      .filter((r) => r.kind === "settlement")
      .map((r) => ({ market: r.market, result: r.result, source: r.source, position: r.position, pnl_micros: r.pnl })),
    cash_micros: engine.portfolio.cash(),
    risk_state: engine.risk.state(),
    inconsistencies: records.filter((r) => r.kind === "inconsistency").map((r) => r.issue),
    other_intents: intents.filter((i) => i.kind !== "place_order").map((i) => [secs(i.ts), i.kind]),
  };
}

describe("golden tapes", () => {
  const dirs = readdirSync(ROOT).filter((d) => statSync(join(ROOT, d)).isDirectory());
  test("every scenario has a committed tape", () => {
    expect(dirs.sort()).toEqual(SCENARIOS.map((s) => s.name).sort());
  });
  for (const name of dirs) {
    test(name, async () => {
      const dir = join(ROOT, name);
      const { about: _about, ...expected } = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8"));
      // The committed expectation is the hand-written one in scenarios.ts.
      expect(expected).toEqual(JSON.parse(JSON.stringify(SCENARIOS.find((s) => s.name === name)!.expected)));
      expect(await outcome(dir)).toEqual(expected);
    });
  }
});
