/**
 * tsx runners/bench-sweep.ts --tape DIR [--from D --to D] [--configs N] [--repeats N] [--json]
 * (also part of `npm run bench`, which passes its reference tape)
 *
 * Wall time of one research sweep (N configs × the tape's days, one job per config and day) run
 * in-process, then on BullMQ with 1 and with 2 local worker processes, each from a fresh results
 * directory; the three modes interleaved, best of --repeats (default 2). Workers are started (and
 * ready) before the clock starts, as long-lived workers would be; the clock covers plan, enqueue, all
 * jobs, and the merge. Scaling efficiency = speed-up over the in-process run / workers. Uses
 * $REDIS_URL, else starts a private redis-server. The merged summaries of the three runs must be
 * identical bytes, or the benchmark fails.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { EngineConfigOverrides } from "../lib/core/config.ts";
import { startRedis } from "../lib/run/local-redis.ts";
import { readTapeEvents } from "../lib/tape/reader.ts";

const SWEEP = resolve(import.meta.dirname, "sweep.ts");
const WORKER = resolve(import.meta.dirname, "sweep-worker.ts");

export interface SweepBench {
  readonly configs: number;
  readonly jobs: number;
  readonly in_process_s: number;
  readonly bullmq_1_worker_s: number;
  readonly bullmq_2_workers_s: number;
  readonly speedup_1_worker: number;
  readonly speedup_2_workers: number;
  readonly efficiency_1_worker: number;
  readonly efficiency_2_workers: number;
  /** 2 workers against 1 worker: the queue's own scaling, without the in-process baseline. */
  readonly workers_2_over_1: number;
  readonly identical_results: boolean;
  readonly repeats: number;
  readonly cpus: number;
}

/** N configs of a grid over EV threshold and spread filter (config 0 = the defaults). */
function grid(n: number): EngineConfigOverrides[] {
  const evMins = [0.05, 0.01, 0.02, 0.03, 0.08, 0.1, 0.15, 0.2];
  const spreads = [4, 2, 6, 10];
  const out: EngineConfigOverrides[] = [];
  for (let i = 0; i < n; i++) out.push(i === 0 ? {} : { strategy: { evMin: evMins[i % evMins.length]!, spreadMaxTicks: spreads[Math.floor(i / evMins.length) % spreads.length]! } });
  return out;
}

export async function benchSweep(o: { tape: string; from?: string; to?: string; configs?: number; repeats?: number; log?: (s: string) => void }): Promise<SweepBench> {
  const log = o.log ?? ((s: string) => void process.stderr.write(`${s}\n`));
  const dir = mkdtempSync(join(tmpdir(), "kbe-bench-sweep-"));
  const redis = await startRedis();
  const workers: ChildProcess[] = [];
  try {
    const sweepFile = join(dir, "sweep.json");
    writeFileSync(sweepFile, JSON.stringify(grid(o.configs ?? 8)));
    const base = ["--tape", o.tape, "--sweep", sweepFile, "--json", ...(o.from ? ["--from", o.from] : []), ...(o.to ? ["--to", o.to] : [])];
    const timed = async (name: string, extra: string[]): Promise<{ seconds: number; summary: string }> => {
      const out = join(dir, name);
      const t0 = performance.now();
      await run(SWEEP, [...base, "--out", out, ...extra]);
      const seconds = (performance.now() - t0) / 1000;
      log(`bench-sweep: ${name} ${seconds.toFixed(2)} s`);
      return { seconds, summary: readFileSync(join(out, "summary.json"), "utf8") };
    };
    // Read the tape once first, so every run finds it in the OS page cache.
    for await (const _ of readTapeEvents(o.tape, { from: o.from, to: o.to })) void _;
    const onQueue = async (n: number, rep: number): Promise<{ seconds: number; summary: string }> => {
      const queue = `kbe-bench-${process.pid}-${n}-${rep}`;
      const ws: ChildProcess[] = [];
      for (let i = 0; i < n; i++) ws.push(await startWorker(redis.url, queue));
      workers.push(...ws);
      try {
        return await timed(`bullmq-${n}-${rep}`, ["--queue", redis.url, "--queue-name", queue]);
      } finally {
        await Promise.all(ws.map(stop));
      }
    };
    // Interleaved repeats, best of each: a shared machine's load moves more than the modes differ.
    const best = (a: { seconds: number; summary: string } | undefined, b: { seconds: number; summary: string }) => (a && a.seconds <= b.seconds ? a : b);
    let inProcess: { seconds: number; summary: string } | undefined;
    let one: { seconds: number; summary: string } | undefined;
    let two: { seconds: number; summary: string } | undefined;
    for (let rep = 0; rep < (o.repeats ?? 2); rep++) {
      inProcess = best(inProcess, await timed(`in-process-${rep}`, []));
      one = best(one, await onQueue(1, rep));
      two = best(two, await onQueue(2, rep));
    }
    if (!inProcess || !one || !two) throw new Error("bench-sweep: repeats must be ≥ 1");
    const s = JSON.parse(inProcess.summary) as { jobs: { planned: number }; configs_tried: number };
    const r = (x: number) => Math.round(x * 1000) / 1000;
    const identical = one.summary === inProcess.summary && two.summary === inProcess.summary;
    if (!identical) {
      const a = inProcess.summary.split("\n");
      const b = (one.summary === inProcess.summary ? two : one).summary.split("\n");
      const i = a.findIndex((l, k) => l !== b[k]);
      // (A changed lib/ between the runs changes code_version: do not edit the code while it runs.)
      throw new Error(`bench-sweep: the BullMQ runs did not reproduce the in-process summary; first difference, line ${i + 1}: ${a[i]} vs ${b[i]}`);
    }
    return {
      configs: s.configs_tried,
      jobs: s.jobs.planned,
      in_process_s: r(inProcess.seconds),
      bullmq_1_worker_s: r(one.seconds),
      bullmq_2_workers_s: r(two.seconds),
      speedup_1_worker: r(inProcess.seconds / one.seconds),
      speedup_2_workers: r(inProcess.seconds / two.seconds),
      efficiency_1_worker: r(inProcess.seconds / one.seconds),
      efficiency_2_workers: r(inProcess.seconds / two.seconds / 2),
      workers_2_over_1: r(one.seconds / two.seconds),
      identical_results: identical,
      repeats: o.repeats ?? 2,
      cpus: cpus().length,
    };
  } finally {
    await Promise.all(workers.map(stop));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(script: string, args: string[]): Promise<void> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ["--import", "tsx", script, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    p.once("exit", (code) => (code === 0 ? res() : rej(new Error(`${script} exited ${code}: ${err.slice(-2000)}`))));
  });
}

function startWorker(url: string, queue: string): Promise<ChildProcess> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ["--import", "tsx", WORKER, "--queue", url, "--queue-name", queue], { stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    p.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      if (/^ready/m.test(buf)) res(p);
    });
    p.once("exit", (code) => rej(new Error(`sweep worker exited ${code} before it was ready`)));
  });
}

function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    p.once("exit", () => res());
    p.kill("SIGTERM");
  });
}

if (import.meta.filename === process.argv[1] || process.argv[1]?.endsWith("bench-sweep.ts")) {
  const { values } = parseArgs({
    options: {
      tape: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      configs: { type: "string", default: "8" },
      repeats: { type: "string", default: "2" },
      json: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (!values.tape) {
    process.stderr.write("bench-sweep: --tape DIR is required\n");
    process.exit(2);
  }
  const r = await benchSweep({ tape: resolve(values.tape), from: values.from, to: values.to, configs: Number(values.configs), repeats: Number(values.repeats) });
  if (values.json) process.stdout.write(JSON.stringify(r) + "\n");
  else for (const [k, v] of Object.entries(r)) process.stdout.write(`${k.padEnd(22)} ${v}\n`);
}
