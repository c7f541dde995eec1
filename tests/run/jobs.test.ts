/**
 * Research jobs without a queue: ids are a function of exactly their inputs; a job's result equals
 * the same config replayed on its own (the plain Replay path is the oracle); results are written
 * once, atomically, and the merge reads each planned job exactly once.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mergeEngineConfig } from "../../lib/core/config.ts";
import { CodeVersionError, jobId, planSweep, runJob, TapeMismatchError, variantOf, type JobSpec } from "../../lib/run/jobs.ts";
import { Replay } from "../../lib/run/replay.ts";
import { configsTried, finishedJobIds, jobDir, manifestOf, mergeSweep, writeJobResult, writeManifest } from "../../lib/run/results.ts";
import { queryObjects, openStore } from "../../lib/store/db.ts";
import { readTapeEvents } from "../../lib/tape/reader.ts";
import { loadTrades } from "../../lib/analysis/load.ts";
import { runReport, sweepSpaLine } from "../../runners/report.ts";
import { BASE, ROOT, SWEEP_CONFIGS, synthSweepTape } from "../helpers/sweep-tape.ts";

let dir = "";
let tape = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kbe-jobs-"));
  tape = join(dir, "tape");
  await synthSweepTape(tape);
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function runToResults(out: string, jobs: readonly JobSpec[]): Promise<void> {
  for (const j of jobs) {
    const o = await runJob(j, tape);
    try {
      expect(await writeJobResult(out, o, { worker: "test", seconds: 0 })).toBe("written");
    } finally {
      await o.store.close();
    }
  }
}

describe("job identity", () => {
  test("the id is a function of tape, days, variants, options and code version", async () => {
    const plan = await planSweep({ tapeDir: tape, base: BASE, configs: SWEEP_CONFIGS.slice(0, 2), codeVersion: "c1" });
    const again = await planSweep({ tapeDir: tape, base: BASE, configs: SWEEP_CONFIGS.slice(0, 2), codeVersion: "c1" });
    expect(plan.days).toEqual(["2026-11-23", "2026-11-24"]);
    expect(plan.jobs).toHaveLength(4);
    expect(again.jobs.map((j) => j.id)).toEqual(plan.jobs.map((j) => j.id));
    expect(new Set(plan.jobs.map((j) => j.id)).size).toBe(4);
    const { id: _id, ...job } = plan.jobs[0]!;
    const ids = new Set([
      plan.jobs[0]!.id,
      jobId({ ...job, codeVersion: "c2" }),
      jobId({ ...job, tape: "tother" }),
      jobId({ ...job, to: "2026-11-25" }),
      jobId({ ...job, options: { settlementGraceSeconds: 60 } }),
      jobId({ ...job, variants: [variantOf("c0", mergeEngineConfig(BASE, { strategy: { evMin: 0.051 } }))] }),
    ]);
    expect(ids.size).toBe(6);
    for (const i of ids) expect(i).toMatch(/^j[0-9a-f]{24}$/);
  });

  test("a variant is its config: key order and name do not change its id; a duplicate config is tried once", async () => {
    const a = variantOf("a", BASE);
    const reverseKeys = (v: unknown): unknown =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]))
        : v;
    const reordered = reverseKeys(BASE) as typeof BASE;
    expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(BASE));
    expect(variantOf("b", reordered).id).toBe(a.id);
    const plan = await planSweep({ tapeDir: tape, base: BASE, configs: [{}, { strategy: { evMin: BASE.strategy.evMin } }, { strategy: { evMin: 0.09 } }], codeVersion: "c1" });
    expect(plan.variants.map((v) => v.name)).toEqual(["c0", "c2"]);
  });
});

describe("running a job", () => {
  test("each variant of a job equals that config replayed alone over the same days", async () => {
    const plan = await planSweep({ tapeDir: tape, base: BASE, configs: SWEEP_CONFIGS.slice(0, 4), from: "2026-11-24", variantsPerJob: 4 });
    expect(plan.jobs).toHaveLength(1);
    const o = await runJob(plan.jobs[0]!, tape);
    await o.store.close();
    const trades = new Set<unknown>();
    for (const [i, v] of plan.variants.entries()) {
      const alone = new Replay([{ config: v.config }]);
      for await (const b of readTapeEvents(tape, { from: "2026-11-24", to: "2026-11-24" })) alone.feedBatch(b);
      alone.finish();
      expect(JSON.stringify(o.variants[i]!.summary), v.name).toBe(JSON.stringify(alone.summaryJSON(0)));
      trades.add(o.variants[i]!.summary.trades);
    }
    expect(trades.size).toBeGreaterThan(2);
  }, 120_000);

  test("a worker refuses a job whose tape, code or id does not match", async () => {
    const plan = await planSweep({ tapeDir: tape, base: BASE, from: "2026-11-24" });
    const job = plan.jobs[0]!;
    const copy = join(dir, "tape-copy");
    cpSync(tape, copy, { recursive: true });
    const seg = join(copy, "events/date=2026-11-24/source=coinbase");
    writeFileSync(join(seg, readdirSync(seg).find((f) => f.endsWith(".parquet"))!), "truncated");
    await expect(runJob(job, copy)).rejects.toBeInstanceOf(TapeMismatchError);
    await expect(runJob(job, tape, { codeVersion: "cdifferent" })).rejects.toBeInstanceOf(CodeVersionError);
    await expect(runJob({ ...job, from: "2026-11-23" }, tape)).rejects.toThrow(/id does not match/);
  });
});

describe("results and merge", () => {
  test("written once, atomically; the merge reads each planned job once and ignores debris", async () => {
    const out = join(dir, "out");
    const plan = await planSweep({ tapeDir: tape, base: BASE, configs: SWEEP_CONFIGS.slice(0, 2) });
    writeManifest(out, manifestOf(plan));
    await runToResults(out, plan.jobs);
    // A second attempt of a finished job stores nothing.
    const again = await runJob(plan.jobs[0]!, tape);
    expect(await writeJobResult(out, again, { worker: "dup", seconds: 0 })).toBe("exists");
    await again.store.close();
    expect(JSON.parse(readFileSync(join(jobDir(out, plan.jobs[0]!.id), "job.json"), "utf8")).written_by.worker).toBe("test");
    // Debris: a crashed write and a result of some other plan, both full copies of a real result.
    cpSync(jobDir(out, plan.jobs[1]!.id), join(out, "results", `.tmp-${plan.jobs[1]!.id}-1-ab`), { recursive: true });
    cpSync(jobDir(out, plan.jobs[1]!.id), join(out, "results", "job=j000000000000000000000000"), { recursive: true });
    expect(finishedJobIds(out).size).toBe(5);

    const first = await mergeSweep(out);
    expect(first.missing).toEqual([]);
    const bytes = (f: string) => readFileSync(join(out, f));
    const snapshot = ["summary.json", ...readdirSync(join(out, "tables")).map((t) => `tables/${t}`)].map((f) => [f, bytes(f)] as const);
    const s = first.summary as { runs: unknown[]; configs_tried: number; complete: boolean };
    expect(s.runs).toHaveLength(4);
    expect(s.configs_tried).toBe(2);
    expect(s.complete).toBe(true);
    expect(configsTried(out)).toBe(2);

    const store = await openStore(join(out, "sweep.duckdb"));
    const [c] = await queryObjects(store, `SELECT count(*) AS n, count(DISTINCT run_id) AS runs FROM sweep_results`);
    const [f] = await queryObjects(store, `SELECT count(*) AS n FROM fills`);
    const perJob = await queryObjects(store, `SELECT run_id, count(*) AS n FROM fills GROUP BY run_id`);
    await store.close();
    expect(c).toEqual({ n: 4, runs: 4 });
    // Fills of the merged store = the sum of each job's fills, no more.
    const expected = (s.runs as { summary: { fills: number } }[]).reduce((a, r) => a + r.summary.fills, 0);
    expect(f!.n).toBe(expected);
    expect(perJob.length).toBeGreaterThan(0);

    // The edge report on a sweep counts every config the sweep tried (deflated Sharpe).
    const run = (s.runs as { run_id: string }[])[0]!.run_id;
    const rep = await runReport(["--sweep", out, "--run", run, "--out", join(dir, "report")]);
    expect(rep.report.inSample.pnl.sharpe.trials).toBe(2);
    // …and runs SPA / Reality Check across those configs on their PnL per settlement time. Oracle:
    // each run's own traded markets (loadTrades on that run alone), summed over the config's runs.
    const sw = rep.sweep!;
    console.log(`[sweep] ${sweepSpaLine(sw)}; ${sw.configs.map((c) => `${c.name}: ${c.tradedTimes} times, $${c.totalPnl.toFixed(2)}`).join("; ")}`);
    expect(sw.configs.map((c) => c.variantId).sort()).toEqual([...new Set((s.runs as { variant_id: string }[]).map((r) => r.variant_id))].sort());
    const check = await openStore(join(out, "sweep.duckdb"));
    try {
      for (const c of sw.configs) {
        let total = 0;
        const times = new Set<number>();
        for (const r of (s.runs as { run_id: string; variant_id: string }[]).filter((x) => x.variant_id === c.variantId)) {
          const { trades } = await loadTrades(check, { runId: r.run_id });
          for (const t of trades) {
            total += t.pnl;
            times.add(t.settleTs);
          }
        }
        expect(c.totalPnl).toBeCloseTo(total, 9);
        expect(c.tradedTimes).toBe(times.size);
      }
    } finally {
      await check.close();
    }
    if (sw.times >= 3) {
      expect(sw.spa!.m).toBe(2);
      expect(sw.spa!.pSpaUpper).toBeGreaterThanOrEqual(sw.spa!.pSpa);
    } else expect(sw.note).toMatch(/settlement times/);
    expect(JSON.parse(readFileSync(join(dir, "report", "summary.json"), "utf8")).sweep.times).toBe(sw.times);

    // Merging again gives the same bytes.
    await mergeSweep(out);
    for (const [name, b] of snapshot) expect(bytes(name).equals(b), name).toBe(true);

    // A missing job makes the merge partial, and says so.
    rmSync(jobDir(out, plan.jobs[3]!.id), { recursive: true });
    const partial = await mergeSweep(out);
    expect(partial.missing).toEqual([plan.jobs[3]!.id]);
    expect((partial.summary as { complete: boolean; runs: unknown[] }).complete).toBe(false);
    expect((partial.summary as { runs: unknown[] }).runs).toHaveLength(3);
  }, 180_000);

  test("a results directory of another sweep is refused", async () => {
    const out = join(dir, "out2");
    mkdirSync(out);
    writeManifest(out, manifestOf(await planSweep({ tapeDir: tape, base: BASE, configs: SWEEP_CONFIGS.slice(0, 1) })));
    const other = manifestOf(await planSweep({ tapeDir: tape, base: BASE, configs: SWEEP_CONFIGS.slice(1, 2) }));
    expect(() => writeManifest(out, other)).toThrow(/another sweep/);
    expect(existsSync(join(out, "manifest.json"))).toBe(true);
  });
});

describe("npm run sweep in-process", () => {
  test("--workers 2 (worker threads) gives the same bytes as one thread", () => {
    const sweepFile = join(dir, "sweep3.json");
    writeFileSync(sweepFile, JSON.stringify(SWEEP_CONFIGS.slice(0, 3)));
    const run = (out: string, extra: string[]) => {
      const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "runners/sweep.ts"), "--tape", tape, "--sweep", sweepFile, "--out", out, "--json", ...extra], {
        cwd: ROOT,
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(0);
      const files = ["summary.json", ...readdirSync(join(out, "tables")).sort().map((t) => `tables/${t}`)];
      return new Map(files.map((f) => [f, readFileSync(join(out, f))]));
    };
    const one = run(join(dir, "cli-1"), []);
    const two = run(join(dir, "cli-2"), ["--workers", "2"]);
    expect([...two.keys()]).toEqual([...one.keys()]);
    for (const [k, v] of one) expect(two.get(k)!.equals(v), k).toBe(true);
    const writers = new Set(readdirSync(join(dir, "cli-2", "results")).map((d) => JSON.parse(readFileSync(join(dir, "cli-2", "results", d, "job.json"), "utf8")).written_by.worker));
    expect(writers.size).toBe(2);
  }, 240_000);
});
