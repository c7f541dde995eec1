/**
 * npm run sweep -- [--tape DIR] [--from DATE --to DATE] [--config FILE] --sweep FILE [--models FILE]
 *                  [--out DIR] [--days-per-job N] [--variants-per-job N] [--grace SECONDS] [--warmup SECONDS]
 *                  [--workers N | --queue redis://HOST:PORT [--queue-name NAME] [--local-workers N]] [--json]
 *
 * A research sweep: every config of --sweep (a JSON array of engine overrides, as for `npm run replay
 * --sweep`) crossed with every model of --models (a JSON array of {"name", "overrides"}), replayed
 * over the tape's days. The work is split into jobs (--days-per-job days × --variants-per-job
 * configs; default one day × one config), each a pure function of its inputs with a content-hash id.
 * --warmup S replays the S seconds of tape before each job's first day first, with no trading and
 * no records, so every job starts with warm books, volatility and index instead of cold at midnight.
 *
 * Without --queue the jobs run here, one after another, or N at a time on worker threads with
 * --workers N (same results). With --queue this process only coordinates:
 * it enqueues the jobs on BullMQ (same id = same job, so enqueuing twice is harmless), waits while
 * workers (`npm run sweep-worker`, on any machines sharing the Redis, the lake and --out) run them,
 * and shows progress. --local-workers N also starts N workers here.
 *
 * Results go to <out>/results/job=<id>/ (Parquet, one directory per job, written atomically); at
 * the end they are merged with DuckDB into <out>/sweep.duckdb, <out>/tables/*.parquet and
 * <out>/summary.json. Re-running the same command resumes: jobs with a result are skipped.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, parseEngineOverrides } from "../lib/config.ts";
import type { EngineConfigOverrides } from "../lib/core/config.ts";
import { planSweep, type JobSpec } from "../lib/run/jobs.ts";
import { DEFAULT_QUEUE, enqueueJobs, openQueue, queuedState } from "../lib/run/queue.ts";
import { finishedJobIds, manifestOf, mergeSweep, runJobsHere, writeManifest } from "../lib/run/results.ts";
import { checkReplayArgs } from "../lib/run/replay-args.ts";

const SAMPLE_TAPE = "fixtures/tapes/sample";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      tape: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      config: { type: "string" },
      sweep: { type: "string" },
      models: { type: "string" },
      out: { type: "string", default: "data/sweep" },
      "days-per-job": { type: "string", default: "1" },
      "variants-per-job": { type: "string", default: "1" },
      grace: { type: "string" },
      warmup: { type: "string" },
      queue: { type: "string" },
      "queue-name": { type: "string", default: DEFAULT_QUEUE },
      "local-workers": { type: "string", default: "0" },
      workers: { type: "string", default: "1" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    const doc = readFileSync(new URL(import.meta.url)).toString().split("*/")[0]!;
    process.stdout.write(doc.replace(/^\/\*\*?\n?/, "").replace(/^ \* ?/gm, "").trim() + "\n");
    return 0;
  }
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new ConfigError([`--${name}: expected an integer ≥ ${min}, got ${JSON.stringify(v)}`]);
    return n;
  };
  const tape = resolve(values.tape ?? SAMPLE_TAPE);
  // The same checks as the replay runner: real calendar days in order, a tape folder with days, --grace ≥ 0.
  const checked = await checkReplayArgs({ tape, from: values.from, to: values.to, grace: values.grace });
  if (checked.problems.length > 0) throw new ConfigError(checked.problems);
  const out = resolve(values.out!);
  const localWorkers = int("local-workers", values["local-workers"]!, 0);
  if (localWorkers > 0 && !values.queue) throw new ConfigError(["--local-workers needs --queue"]);
  const workers = int("workers", values.workers!, 1);
  const warmup = values.warmup === undefined ? 0 : int("warmup", values.warmup, 0);
  if (workers > 1 && values.queue) throw new ConfigError(["--workers (threads of an in-process sweep) does not apply with --queue; start workers with --local-workers or npm run sweep-worker"]);

  const overrides = values.config ? parseEngineOverrides(readJson(values.config), values.config) : undefined;
  const base = loadConfig(process.env, overrides).engine;
  const plan = await planSweep({
    tapeDir: tape,
    base,
    configs: values.sweep ? overridesList(values.sweep) : undefined,
    models: values.models ? modelList(values.models) : undefined,
    from: values.from,
    to: values.to,
    daysPerJob: int("days-per-job", values["days-per-job"]!, 1),
    variantsPerJob: int("variants-per-job", values["variants-per-job"]!, 1),
    options: {
      ...(values.grace !== undefined ? { settlementGraceSeconds: Number(values.grace) } : {}),
      ...(warmup > 0 ? { warmupSeconds: warmup } : {}),
    },
  });
  writeManifest(out, manifestOf(plan));
  const already = finishedJobIds(out);
  const todo = plan.jobs.filter((j) => !already.has(j.id));
  log(
    `sweep: ${plan.variants.length} configs × ${plan.days.length} days → ${plan.jobs.length} jobs` +
      (already.size > 0 ? `; resuming, ${plan.jobs.length - todo.length} already done` : "") +
      ` · code ${plan.codeVersion} · out ${out}`,
  );
  const progress = new Progress(plan.jobs.length, plan.jobs.length - todo.length);
  const t0 = performance.now();
  if (!values.queue) {
    await runJobsHere(todo, tape, out, { threads: workers, codeVersion: plan.codeVersion, onDone: () => progress.update(progress.done + 1) });
  } else {
    await coordinate(values.queue, values["queue-name"]!, plan.jobs, todo, tape, out, localWorkers, progress);
  }
  progress.finish();
  const { summary, missing } = await mergeSweep(out);
  if (missing.length > 0) throw new Error(`merge: ${missing.length} jobs have no result`);
  log(`sweep: ${plan.jobs.length} jobs in ${((performance.now() - t0) / 1000).toFixed(2)} s · merged into ${out}/summary.json and ${out}/sweep.duckdb`);
  if (values.json) process.stdout.write(JSON.stringify(summary) + "\n");
  else printHuman(summary);
  return 0;
}

/** Enqueue, optionally start local workers, and wait until every job has a result. */
async function coordinate(
  url: string,
  queueName: string,
  all: readonly JobSpec[],
  todo: readonly JobSpec[],
  tape: string,
  out: string,
  localWorkers: number,
  progress: Progress,
): Promise<void> {
  const queue = openQueue(url, queueName);
  const workers: ChildProcess[] = [];
  try {
    const e = await enqueueJobs(queue, todo, tape, out);
    log(`sweep: enqueued ${e.added} jobs on ${queueName}${e.retried ? `, retried ${e.retried} failed` : ""}${todo.length - e.added - e.retried > 0 ? `, ${todo.length - e.added - e.retried} already queued` : ""}`);
    for (let i = 0; i < localWorkers; i++) {
      const w = spawn(process.execPath, ["--import", "tsx", resolve(import.meta.dirname, "sweep-worker.ts"), "--queue", url, "--queue-name", queueName], {
        stdio: ["ignore", "ignore", "inherit"],
      });
      workers.push(w);
    }
    let lastCheck = 0;
    let lastDone = -1;
    let lastChange = performance.now();
    let lastWarn = 0;
    for (;;) {
      const done = finishedJobIds(out);
      const left = all.filter((j) => !done.has(j.id));
      progress.update(all.length - left.length);
      if (left.length === 0) return;
      if (left.length !== lastDone) {
        lastDone = left.length;
        lastChange = performance.now();
      }
      if (performance.now() - lastChange > 60_000 && performance.now() - lastWarn > 60_000) {
        // Nothing finished for a minute: say what the queue holds (no worker running is the usual cause).
        lastWarn = performance.now();
        const c = await queue.getJobCounts("waiting", "active", "delayed", "failed");
        log(`sweep: no job finished for ${((performance.now() - lastChange) / 1000).toFixed(0)} s; queue ${queueName}: ${JSON.stringify(c)} — are workers running (npm run sweep-worker -- --queue ${url})?`);
      }
      if (performance.now() - lastCheck > 5000) {
        lastCheck = performance.now();
        // Redis is not the record of completion: a job that is neither queued nor done (Redis was
        // flushed or restarted without persistence) is enqueued again; one that failed for good stops the sweep.
        const unknown: JobSpec[] = [];
        for (const j of left) {
          const s = await queuedState(queue, j, out);
          if (s.state === "failed") throw new Error(`job ${j.id} (${j.from}..${j.to}) failed: ${s.reason}; fix the cause and re-run to resume`);
          if (s.state === "unknown") unknown.push(j);
        }
        // A job that finished (and left Redis) while we looked is not lost.
        const finished = finishedJobIds(out);
        const lost = unknown.filter((j) => !finished.has(j.id));
        if (lost.length > 0) {
          const r = await enqueueJobs(queue, lost, tape, out);
          if (r.added > 0) log(`sweep: re-enqueued ${r.added} jobs missing from the queue`);
        }
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    for (const w of workers) w.kill("SIGTERM");
    await Promise.all(workers.map((w) => (w.exitCode !== null ? null : new Promise((r) => w.once("exit", r)))));
    await queue.close();
  }
}

/** Jobs done / total, rate and ETA on stderr: redrawn on a TTY, a line per change (at most 1/s) otherwise. */
class Progress {
  private readonly t0 = performance.now();
  private lastLine = 0;
  private printed = -1;
  private readonly tty = process.stderr.isTTY === true;
  done: number;
  constructor(
    private readonly total: number,
    private readonly start: number,
  ) {
    this.done = start;
  }
  update(done: number): void {
    const changed = done !== this.done;
    this.done = done;
    const now = performance.now();
    if (!changed && (!this.tty || now - this.lastLine < 1000)) return;
    if (now - this.lastLine < (this.tty ? 200 : 1000) && done < this.total) return;
    this.print(now);
  }
  private print(now: number): void {
    const done = this.done;
    this.lastLine = now;
    this.printed = done;
    const s = (now - this.t0) / 1000;
    const rate = (done - this.start) / s;
    const eta = rate > 0 ? (this.total - done) / rate : NaN;
    const line = `sweep: ${done}/${this.total} jobs · ${rate.toFixed(2)} jobs/s · elapsed ${s.toFixed(1)} s · ETA ${Number.isFinite(eta) ? `${eta.toFixed(1)} s` : "?"}`;
    process.stderr.write(this.tty ? `\r${line}\x1b[K` : `${line}\n`);
  }
  finish(): void {
    if (this.printed !== this.done) this.print(performance.now());
    if (this.tty) process.stderr.write("\n");
  }
}

function printHuman(summary: Record<string, unknown>): void {
  const rows = summary.by_variant as Record<string, unknown>[];
  const lines = [`configs tried ${String(summary.configs_tried)} · jobs ${JSON.stringify(summary.jobs)} · days ${(summary.days as string[]).join(", ")}`];
  lines.push(["variant", "runs", "trades", "fills", "fees $", "settle PnL $", "Brier model", "Brier market"].map((h) => h.padStart(12)).join(" "));
  for (const r of rows) {
    lines.push(
      [r.variant_name, r.runs, r.trades, r.fills, r.fees_usd, r.settlement_pnl_usd, r.brier_model ?? "n/a", r.brier_market ?? "n/a"]
        .map((x) => String(x).padStart(12))
        .join(" "),
    );
  }
  process.stdout.write(lines.join("\n") + "\n");
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new ConfigError([`${file}: ${(err as Error).message}`]);
  }
}

function overridesList(file: string): EngineConfigOverrides[] {
  const list = readJson(file);
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError([`--sweep ${file}: expected a non-empty JSON array of config overrides`]);
  return list.map((o, i) => parseEngineOverrides(o, `${file}[${i}]`));
}

function modelList(file: string): { name: string; overrides: EngineConfigOverrides }[] {
  const list = readJson(file);
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError([`--models ${file}: expected a non-empty JSON array of {"name", "overrides"}`]);
  return list.map((m: unknown, i) => {
    const o = m as { name?: unknown; overrides?: unknown };
    if (typeof o?.name !== "string" || !/^[\w.-]+$/.test(o.name)) throw new ConfigError([`--models ${file}[${i}].name: expected a name of letters, digits, '.', '_' or '-'`]);
    return { name: o.name, overrides: parseEngineOverrides(o.overrides ?? {}, `${file}[${i}].overrides`) };
  });
}

const log = (s: string): void => void process.stderr.write(`${s}\n`);

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`sweep failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
