/**
 * Parity: a paper session against the fake venues records its tape and its audit rows; replaying the
 * tape through the replayer must reproduce the same decisions, intents, order changes and fills. A
 * second check corrupts one stored decision and expects parity to point at it (so the check can fail).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../../lib/live/clock.ts";
import { checkParity } from "../../lib/run/parity.ts";
import { openStore } from "../../lib/store/db.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";
import { startFakes, startRuntime, tradingEnv, waitFor, type Fakes } from "./harness.ts";

let fakes: Fakes;
let dir: string;

beforeAll(async () => {
  fakes = await startFakes({ flowIntervalMs: 40 });
  dir = mkdtempSync(join(tmpdir(), "parity-"));
});
afterAll(async () => {
  await fakes.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("paper ↔ replay parity", () => {
  it("replaying the recorded paper tape reproduces every decision, intent, order change and fill", async () => {
    const tapeDir = join(dir, "tape");
    const dbPath = join(dir, "audit.duckdb");
    const tape = await openTapeWriter({ dir: tapeDir });
    const store = await openStore(dbPath);
    const env = tradingEnv(fakes, { EXECUTION: "taker", MAX_OPEN_POSITIONS: "3", RECONCILE_SECONDS: "1" });
    const h = await startRuntime("paper", env, { tape, store });
    let runId = h.runId;
    try {
      await waitFor("fills in paper", () => h.records.filter((r) => r.kind === "fill_record").length >= 2, 10_000);
      await sleep(1200); // a reconciliation snapshot and more evaluations after the fills
      h.rt.kill("parity test");
      const res = await h.done;
      expect(res.killed).toBe(true);
      expect(res.noneResting).toBe(true);
      runId = h.runId;
    } finally {
      await h.close();
      await store.close();
      await tape.close();
    }
    const kinds = new Set(h.events.map((x) => x.e.kind));
    expect(kinds.has("timer") && kinds.has("kill_switch") && kinds.has("book_snapshot") && kinds.has("spot_quote")).toBe(true);

    const report = await checkParity({ tapeDir, runId, dbPath });
    expect(report.firstDifference).toBeNull();
    expect(report.identical).toBe(true);
    expect(report.counts.decisions!.recorded).toBeGreaterThan(10);
    expect(report.counts.intents!.recorded).toBeGreaterThanOrEqual(2);
    expect(report.counts.fills!.recorded).toBeGreaterThanOrEqual(2);
    for (const c of Object.values(report.counts)) if (c) expect(c.replayed).toBe(c.recorded);

    // The check can fail: change one stored decision and it must be named.
    const s2 = await openStore(dbPath);
    await s2.connection.run(`UPDATE opportunities SET reason = 'EV_BELOW_MIN' WHERE run_id = $1 AND decision = 'trade'`, [runId]);
    await s2.close();
    const bad = await checkParity({ tapeDir, runId, dbPath });
    expect(bad.identical).toBe(false);
    expect(bad.firstDifference?.stream).toBe("decisions");
  }, 30_000);
});
