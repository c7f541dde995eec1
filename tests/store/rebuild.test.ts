/**
 * `tape rebuild-store`: the audit rows a crash lost (the store flushes in batches) are re-derived from
 * the paper session's tape and appended; afterwards the store is exactly what the session would have
 * written (the session's own records are the oracle, and parity must hold again).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../../lib/live/clock.ts";
import { checkParity } from "../../lib/run/parity.ts";
import { rebuildStore } from "../../lib/run/rebuild.ts";
import { openStore, queryObjects } from "../../lib/store/db.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";
import { startFakes, startRuntime, tradingEnv, waitFor, type Fakes } from "../live/harness.ts";

const ROOT = resolve(import.meta.dirname, "../..");
let fakes: Fakes;
let dir: string;
beforeAll(async () => {
  fakes = await startFakes({ flowIntervalMs: 40 });
  dir = mkdtempSync(join(tmpdir(), "rebuild-"));
});
afterAll(async () => {
  await fakes.close();
  rmSync(dir, { recursive: true, force: true });
});

const TABLES = ["opportunities", "orders", "fills", "features", "risk_events", "positions_snapshots", "settlements"];

async function counts(dbPath: string, runId: string): Promise<Record<string, number>> {
  const s = await openStore(dbPath);
  try {
    const out: Record<string, number> = {};
    for (const t of TABLES) out[t] = Number((await queryObjects(s, `SELECT count(*)::INTEGER AS n FROM ${t} WHERE run_id = $1`, [runId]))[0]!.n);
    return out;
  } finally {
    await s.close();
  }
}

describe("rebuild-store", () => {
  it("appends exactly the rows a crash lost; the store then matches the session and parity holds", async () => {
    const runId = `prb${Date.now().toString(36)}`;
    const tapeDir = join(dir, runId);
    const dbPath = join(dir, "audit.duckdb");
    const tape = await openTapeWriter({ dir: tapeDir });
    const store = await openStore(dbPath);
    const h = await startRuntime("paper", tradingEnv(fakes, { EXECUTION: "taker", MAX_OPEN_POSITIONS: "3", RECONCILE_SECONDS: "1" }), { tape, store, runId });
    try {
      await waitFor("fills in paper", () => h.records.filter((r) => r.kind === "fill_record").length >= 2, 10_000);
      await sleep(500);
      h.rt.kill("rebuild test");
      await h.done;
    } finally {
      await h.close();
      await store.close();
      await tape.close();
    }
    const full = await counts(dbPath, runId);
    expect(full.opportunities).toBeGreaterThan(10);
    // The crash: the last batch of every table never reached the store.
    const s = await openStore(dbPath);
    const cut: number = h.records[Math.floor(h.records.length / 2)]!.ts;
    for (const t of TABLES) await s.connection.run(`DELETE FROM ${t} WHERE run_id = $1 AND ts_us > $2`, [runId, cut]);
    await s.close();
    const lost = await counts(dbPath, runId);
    expect(lost.opportunities).toBeLessThan(full.opportunities!);
    expect((await checkParity({ tapeDir, runId, dbPath })).identical).toBe(false);

    const cli = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "runners/tape.ts"), "rebuild-store", tapeDir, "--db", dbPath], { cwd: ROOT, encoding: "utf8" });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/row\(s\) added/);
    expect(await counts(dbPath, runId)).toEqual(full);
    expect((await checkParity({ tapeDir, runId, dbPath })).identical).toBe(true);
    // Nothing more to add the second time.
    expect((await rebuildStore({ tapeDir, runId, dbPath })).added).toBe(0);
  }, 60_000);
});
