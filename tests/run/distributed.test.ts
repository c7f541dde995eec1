/**
 * Sweeps through BullMQ on a real redis-server (127.0.0.1): 8 configs × 2 days, run by separate
 * worker processes. The oracle is the in-process run of the same sweep (whose per-job results are
 * themselves checked against plain replays in jobs.test.ts): the merged tables and summary must be
 * the same bytes, whatever the workers, crashes and restarts in between.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../../lib/config.ts";
import { planSweep, type SweepPlan } from "../../lib/run/jobs.ts";
import { enqueueJobs, openQueue } from "../../lib/run/queue.ts";
import { jobDir } from "../../lib/run/results.ts";
import { openStore, queryObjects } from "../../lib/store/db.ts";
import { requireRedis, startRedis, type TestRedis } from "../helpers/redis.ts";
import { ROOT, SWEEP_CONFIGS, synthSweepTape } from "../helpers/sweep-tape.ts";

const SWEEP = join(ROOT, "runners/sweep.ts");
const WORKER = join(ROOT, "runners/sweep-worker.ts");

let dir = "";
let tape = "";
let sweepFile = "";
let redis: TestRedis | null = null;
let plan: SweepPlan;
const procs: ChildProcess[] = [];

interface Proc {
  readonly proc: ChildProcess;
  readonly lines: string[];
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

function start(script: string, args: string[]): Proc {
  const proc = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  procs.push(proc);
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let buf = "";
  const onData = (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      for (const w of waiters.splice(0)) (w.re.test(line) ? w.resolve(line) : waiters.push(w));
    }
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  return {
    proc,
    lines,
    exited,
    waitFor: (re, timeoutMs = 120_000) =>
      new Promise<string>((resolve, reject) => {
        const hit = lines.find((l) => re.test(l));
        if (hit) return resolve(hit);
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${lines.join("\n")}`)), timeoutMs);
        waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
        void exited.then((code) => reject(new Error(`process exited (${code}) before ${re}:\n${lines.join("\n")}`)));
      }),
  };
}

const sweepArgs = (out: string) => ["--tape", tape, "--sweep", sweepFile, "--out", out, "--json"];

async function runSweep(args: string[]): Promise<Proc> {
  const p = start(SWEEP, args);
  const code = await p.exited;
  if (code !== 0) throw new Error(`sweep exited ${code}:\n${p.lines.join("\n")}`);
  return p;
}

function worker(queueName: string, extra: string[] = []): Proc {
  return start(WORKER, ["--queue", redis!.url, "--queue-name", queueName, ...extra]);
}

/** summary.json and every merged table, as bytes. */
function outputs(out: string): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  m.set("summary.json", readFileSync(join(out, "summary.json")));
  for (const t of readdirSync(join(out, "tables")).sort()) m.set(t, readFileSync(join(out, "tables", t)));
  return m;
}

let inProcess: Map<string, Buffer>;

function expectSameAsInProcess(out: string): void {
  const got = outputs(out);
  expect([...got.keys()]).toEqual([...inProcess.keys()]);
  for (const [k, v] of inProcess) expect(got.get(k)!.equals(v), k).toBe(true);
}

async function expectEachRunOnce(out: string): Promise<void> {
  const store = await openStore(join(out, "sweep.duckdb"));
  try {
    const [r] = await queryObjects(store, `SELECT count(*) AS n, count(DISTINCT (variant_id, from_day)) AS distinct_runs FROM sweep_results`);
    expect(r).toEqual({ n: 16, distinct_runs: 16 });
    const [runs] = await queryObjects(store, `SELECT count(*) AS n FROM runs`);
    expect(runs!.n).toBe(16);
  } finally {
    await store.close();
  }
}

const writerPid = (out: string, id: string): number =>
  (JSON.parse(readFileSync(join(jobDir(out, id), "job.json"), "utf8")) as { written_by: { pid: number } }).written_by.pid;

const qname = () => `kbe-test-${randomBytes(4).toString("hex")}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kbe-dist-"));
  tape = join(dir, "tape");
  sweepFile = join(dir, "sweep.json");
  writeFileSync(sweepFile, JSON.stringify(SWEEP_CONFIGS));
  if (!requireRedis()) return;
  redis = await startRedis();
  await synthSweepTape(tape);
  plan = await planSweep({ tapeDir: tape, base: loadConfig(process.env).engine, configs: SWEEP_CONFIGS });
  const out = join(dir, "in-process");
  await runSweep(sweepArgs(out));
  inProcess = outputs(out);
}, 240_000);

afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      await gone;
    }
  }
});

afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.runIf(requireRedis())("sweeps on BullMQ over Redis", () => {
  test("the in-process sweep has 8 configs × 2 days that trade differently", () => {
    const s = JSON.parse(inProcess.get("summary.json")!.toString()) as { configs_tried: number; runs: { summary: { trades: number } }[] };
    expect(plan.jobs).toHaveLength(16);
    expect(s.configs_tried).toBe(8);
    expect(s.runs).toHaveLength(16);
    expect(new Set(s.runs.map((r) => r.summary.trades)).size).toBeGreaterThan(4);
  });

  test("2 worker processes give the in-process result byte for byte; enqueuing twice adds nothing", async () => {
    const q = qname();
    const out = join(dir, "two-workers");
    const queue = openQueue(redis!.url, q);
    try {
      // The coordinator's own enqueue will be the third: all no-ops once the ids are there.
      expect((await enqueueJobs(queue, plan.jobs, tape, out)).added).toBe(16);
      expect((await enqueueJobs(queue, plan.jobs, tape, out)).added).toBe(0);
      expect((await queue.getJobCounts("waiting")).waiting).toBe(16);
    } finally {
      await queue.close();
    }
    const w1 = worker(q);
    const w2 = worker(q);
    await Promise.all([w1.waitFor(/^ready/), w2.waitFor(/^ready/)]);
    const coord = await runSweep([...sweepArgs(out), "--queue", redis!.url, "--queue-name", q]);
    // Usually 0; a job that a worker finished (and BullMQ removed) between the coordinator's look at
    // the results and its enqueue is queued again — and then skipped by the worker, never recomputed.
    expect(coord.lines.join("\n")).toMatch(/enqueued \d+ jobs/);
    const computed = [...w1.lines, ...w2.lines].filter((l) => l.startsWith("done j"));
    expect(computed).toHaveLength(16);
    expect(coord.lines.join("\n")).toMatch(/sweep: 16\/16 jobs .* ETA/);
    expectSameAsInProcess(out);
    await expectEachRunOnce(out);
    const pids = new Set(plan.jobs.map((j) => writerPid(out, j.id)));
    expect(pids).toEqual(new Set([w1.proc.pid, w2.proc.pid]));
  }, 240_000);

  test("a worker SIGKILLed mid-job: its job is retried by the other, the sweep completes, nothing counted twice", async () => {
    const q = qname();
    const out = join(dir, "killed");
    const fast = ["--lock-ms", "2000", "--stalled-ms", "500"];
    const victim = worker(q, fast);
    const survivor = worker(q, fast);
    await Promise.all([victim.waitFor(/^ready/), survivor.waitFor(/^ready/)]);
    const coord = start(SWEEP, [...sweepArgs(out), "--queue", redis!.url, "--queue-name", q]);
    const started = await victim.waitFor(/^start j/);
    victim.proc.kill("SIGKILL");
    const killedJob = /^start (j[0-9a-f]+)/.exec(started)![1]!;
    expect(await coord.exited, coord.lines.join("\n")).toBe(0);
    expect(victim.proc.signalCode).toBe("SIGKILL");
    expectSameAsInProcess(out);
    await expectEachRunOnce(out);
    // The job the victim held was finished by the survivor, after its lock expired.
    expect(writerPid(out, killedJob)).toBe(survivor.proc.pid);
    expect(survivor.lines.some((l) => l.startsWith(`start ${killedJob}`))).toBe(true);
    // The victim finished nothing; the survivor computed each of the 16 jobs once.
    expect(victim.lines.filter((l) => l.startsWith("done j"))).toEqual([]);
    expect(survivor.lines.filter((l) => l.startsWith("done j"))).toHaveLength(16);
  }, 240_000);

  test("a job running longer than its lock is not taken from a live worker (the lock is renewed)", async () => {
    const q = qname();
    const out = join(dir, "long-job");
    const fast = ["--lock-ms", "1000", "--stalled-ms", "500"];
    const a = worker(q, fast);
    const b = worker(q, fast);
    await Promise.all([a.waitFor(/^ready/), b.waitFor(/^ready/)]);
    // One job: both days × 24 configs (the 8, each at three entry horizons), several seconds — many
    // times the 1 s lock however fast the replay gets (with 8 configs it came down to ~2 s).
    const longSweep = join(dir, "long-sweep.json");
    writeFileSync(longSweep, JSON.stringify([60, 59, 58].flatMap((tau) => SWEEP_CONFIGS.map((c) => ({ ...c, strategy: { ...c.strategy, tauMaxMinutes: tau } })))));
    const args = sweepArgs(out).map((a) => (a === sweepFile ? longSweep : a));
    const coord = await runSweep([...args, "--queue", redis!.url, "--queue-name", q, "--days-per-job", "2", "--variants-per-job", "24"]);
    expect(coord.lines.join("\n")).toMatch(/→ 1 jobs/);
    const lines = [...a.lines, ...b.lines];
    const took = Number(/^done j[0-9a-f]+ ([\d.]+) s/.exec(lines.find((l) => l.startsWith("done j"))!)![1]);
    expect(took).toBeGreaterThan(2);
    expect(lines.filter((l) => l.startsWith("start j"))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith("done j"))).toHaveLength(1);
  }, 240_000);

  test("a coordinator killed mid-sweep resumes: finished jobs are skipped, the result is the same", async () => {
    const q = qname();
    const out = join(dir, "resumed");
    const w = worker(q);
    await w.waitFor(/^ready/);
    const first = start(SWEEP, [...sweepArgs(out), "--queue", redis!.url, "--queue-name", q]);
    await first.waitFor(/^sweep: [3-9]\/16 jobs/);
    first.proc.kill("SIGKILL");
    await first.exited;
    const second = await runSweep([...sweepArgs(out), "--queue", redis!.url, "--queue-name", q]);
    const resumed = /resuming, (\d+) already done/.exec(second.lines.join("\n"));
    expect(resumed, second.lines.join("\n")).not.toBeNull();
    expect(Number(resumed![1])).toBeGreaterThanOrEqual(3);
    expectSameAsInProcess(out);
    await expectEachRunOnce(out);
    // Run again once complete: nothing left to do, same bytes.
    const third = await runSweep([...sweepArgs(out), "--queue", redis!.url, "--queue-name", q]);
    expect(third.lines.join("\n")).toMatch(/resuming, 16 already done/);
    expectSameAsInProcess(out);
  }, 240_000);
});

test.runIf(!requireRedis())("Redis tests are skipped only outside CI, when redis-server is not installed", () => {
  expect(process.env.CI).not.toBe("true");
});
