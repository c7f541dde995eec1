/**
 * Replay sees exactly what live saw, on rolling markets: a paper session against the rolling fake
 * (2-s windows) records its tape and audit rows; replaying the tape reproduces every decision, intent
 * and fill — which needs the merged market records (strike from metadata_updated, lifecycle results)
 * to be on the tape as the session consumed them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { checkParity } from "../../lib/run/parity.ts";
import { openStore } from "../../lib/store/db.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";
import { startRuntime } from "../live/harness.ts";
import { rollingEnv, startRollingFakes, type RollingFakes } from "./helpers.ts";

let f: RollingFakes;
let dir: string;
beforeAll(async () => {
  f = await startRollingFakes(91, 6);
  dir = mkdtempSync(join(tmpdir(), "parity-rolling-"));
});
afterAll(async () => {
  await f?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("paper ↔ replay parity on rolling markets", () => {
  test("the replayed tape reproduces every decision, intent and fill across windows", async () => {
    const tapeDir = join(dir, "tape");
    const dbPath = join(dir, "audit.duckdb");
    const tape = await openTapeWriter({ dir: tapeDir });
    const store = await openStore(dbPath);
    const h = await startRuntime("paper", rollingEnv(f, { EXITS_ENABLED: "0" }), { tape, store, seconds: 11 });
    try {
      await h.done;
    } finally {
      await h.close();
      await store.close();
      await tape.close();
    }
    const settled = h.records.filter((r) => r.kind === "settlement").length;
    expect(settled).toBeGreaterThanOrEqual(1);
    const report = await checkParity({ tapeDir, runId: h.runId, dbPath });
    expect(report.firstDifference).toBeNull();
    expect(report.identical).toBe(true);
    expect(report.counts.decisions!.recorded).toBeGreaterThan(20);
    expect(report.counts.fills!.recorded).toBeGreaterThanOrEqual(2);
  });
});
