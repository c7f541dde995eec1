/**
 * A sweep job: replay one tape over a day range for a set of configs and return one summary per
 * config. A job is a pure function of (tape, day range, config set, code version) — everything it
 * needs is plain JSON, so it can run in this thread, in a worker thread (`--workers N`) or on another
 * machine (a queue worker), and the same job always gives byte-identical summaries.
 *
 * Configs inside a job share book updates and model probabilities (lib/run/replay.ts); a session's
 * outcome does not depend on which other configs share its pass (tests/run/sweep.test.ts), so
 * splitting a config set across workers and concatenating the results in config order gives exactly
 * the single-thread sweep.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { EngineConfig } from "../core/config.ts";
import type { AuditRecord } from "../core/records.ts";
import { ConstantLatency, SampledLatency, type LatencyModel } from "../sim/models.ts";
import { readTapeEvents } from "../tape/reader.ts";
import { Replay, type ReplayTarget } from "./replay.ts";

/** Simulated order latency as data (a job must be serializable). Times in µs. */
export type LatencySpec =
  | { readonly kind: "constant"; readonly entryUs: number; readonly responseUs: number }
  | { readonly kind: "sampled"; readonly entryUs: readonly number[]; readonly responseUs: readonly number[]; readonly seed: number };

export function latencyFactory(spec: LatencySpec | undefined): (() => LatencyModel) | undefined {
  if (spec === undefined) return undefined;
  if (spec.kind === "constant") return () => new ConstantLatency(spec.entryUs, spec.responseUs);
  return () => new SampledLatency(spec.entryUs, spec.responseUs, spec.seed);
}

export interface SweepJob {
  /** Tape directory. */
  readonly tape: string;
  /** First and last UTC day (YYYY-MM-DD, inclusive); absent = the whole tape. */
  readonly from?: string;
  readonly to?: string;
  /** Complete engine configs (already merged with the defaults), in sweep order. */
  readonly configs: readonly EngineConfig[];
  /** Index of configs[0] in the whole sweep (so a shard's summaries can be placed). */
  readonly firstIndex?: number;
  readonly settlementGraceSeconds?: number;
  readonly latency?: LatencySpec;
  /** The code the result belongs to (see codeVersion()); carried into the result, not interpreted. */
  readonly codeVersion?: string;
  /** Merged into every summary (e.g. {tape: "…"} as the user named it). */
  readonly extra?: Readonly<Record<string, unknown>>;
  /**
   * Replay this much tape before `from` first (seconds, default 0), with no trading and no
   * records: books, volatility and the index are warm when the job's own range starts. Needs `from`.
   */
  readonly warmupSeconds?: number;
}

export interface SweepJobResult {
  readonly firstIndex: number;
  /** One summary per config, in job order. */
  readonly summaries: Record<string, unknown>[];
  readonly events: number;
  readonly firstTs: number;
  readonly lastTs: number;
  readonly outOfOrder: number;
  readonly codeVersion?: string;
}

export interface RunJobHooks {
  /** Audit records of the job's first config (e.g. the store writer). */
  onRecord?: (r: AuditRecord) => void;
  /** Models scored side by side on the first config's evaluations (the `forecasts` table). */
  forecasts?: ReplayTarget["forecasts"];
  /** Audit records of config i, for every config that gets a sink (research jobs store them all). */
  onRecordOf?: (i: number) => ((r: AuditRecord) => void) | undefined;
  /** Called after each batch with the events so far and the last receipt time. */
  onProgress?: (events: number, lastTs: number) => void;
  /**
   * Give the event loop a turn at least this often (ms) — a queue worker must keep renewing its job
   * lock while a long replay runs. Default: only when the tape reader awaits.
   */
  yieldEveryMs?: number;
}

/** Run one job in this thread. */
export async function runSweepJob(job: SweepJob, hooks: RunJobHooks = {}): Promise<SweepJobResult> {
  const warm = warmupOf(job);
  const replay = new Replay(
    job.configs.map((config, i) => ({
      config,
      onRecord: hooks.onRecordOf?.(i) ?? (i === 0 ? hooks.onRecord : undefined),
      forecasts: i === 0 ? hooks.forecasts : undefined,
    })),
    { settlementGraceSeconds: job.settlementGraceSeconds, latency: latencyFactory(job.latency), ...(warm ? { warmUntil: warm.startUs } : {}) },
  );
  let lastYield = performance.now();
  for await (const batch of readTapeEvents(job.tape, { from: warm ? warm.fromDay : job.from, to: job.to })) {
    if (warm !== null && batch.length > 0 && batch[0]!.event.tsRecv < warm.fromUs) {
      // The part of the warm-up day before the prefix is read but not replayed.
      const at = batch.findIndex((t) => t.event.tsRecv >= warm.fromUs);
      if (at < 0) continue;
      replay.feedBatch(batch.slice(at));
    } else replay.feedBatch(batch);
    hooks.onProgress?.(replay.stats.events, replay.stats.lastTs);
    if (hooks.yieldEveryMs !== undefined && performance.now() - lastYield >= hooks.yieldEveryMs) {
      await new Promise<void>((r) => setImmediate(r));
      lastYield = performance.now();
    }
  }
  replay.finish();
  const s = replay.stats;
  return {
    firstIndex: job.firstIndex ?? 0,
    summaries: job.configs.map((_, i) => replay.summaryJSON(i, job.extra ?? {})),
    events: s.events,
    firstTs: s.firstTs,
    lastTs: s.lastTs,
    outOfOrder: s.outOfOrder,
    ...(job.codeVersion !== undefined ? { codeVersion: job.codeVersion } : {}),
  };
}

/** A job's warm-up: replay from `fromUs` (read from `fromDay`), trade and record from `startUs`. */
export function warmupOf(job: { from?: string; warmupSeconds?: number }): { startUs: number; fromUs: number; fromDay: string } | null {
  const seconds = job.warmupSeconds ?? 0;
  if (!(seconds > 0)) return null;
  if (job.from === undefined) throw new Error("a warm-up needs a first day (from)");
  const startUs = Date.parse(`${job.from}T00:00:00Z`) * 1000;
  if (!Number.isFinite(startUs)) throw new Error(`bad first day ${job.from}`);
  const fromUs = startUs - Math.round(seconds * 1_000_000);
  return { startUs, fromUs, fromDay: new Date(Math.floor(fromUs / 1000)).toISOString().slice(0, 10) };
}

/**
 * Split a sweep into `shards` jobs of contiguous config ranges (sizes differ by at most one).
 * Shard 0 holds config 0, whose audit records a caller may want to store.
 */
export function splitSweep(job: SweepJob, shards: number): SweepJob[] {
  const n = job.configs.length;
  const k = Math.max(1, Math.min(Math.floor(shards), n));
  const out: SweepJob[] = [];
  let at = 0;
  for (let i = 0; i < k; i++) {
    const size = Math.floor(n / k) + (i < n % k ? 1 : 0);
    out.push({ ...job, configs: job.configs.slice(at, at + size), firstIndex: (job.firstIndex ?? 0) + at });
    at += size;
  }
  return out;
}

/** Concatenate shard results (in any order) into the result of the whole sweep. */
export function mergeSweepResults(parts: readonly SweepJobResult[]): SweepJobResult {
  const sorted = [...parts].sort((a, b) => a.firstIndex - b.firstIndex);
  const first = sorted[0];
  if (first === undefined) throw new Error("mergeSweepResults: no results");
  for (const p of sorted) {
    if (p.events !== first.events || p.firstTs !== first.firstTs || p.lastTs !== first.lastTs) {
      throw new Error("sweep shards read different events (tape changed during the sweep?)");
    }
  }
  return { ...first, firstIndex: first.firstIndex, summaries: sorted.flatMap((p) => p.summaries) };
}

/**
 * Run a sweep on `workers` threads: configs are split into contiguous shards; shard 0 runs in this
 * thread (with the hooks), the others in worker threads. The merged result equals runSweepJob(job).
 */
export async function runSweep(job: SweepJob, workers: number, hooks: RunJobHooks = {}): Promise<SweepJobResult> {
  const shards = splitSweep(job, workers);
  if (shards.length === 1) return runSweepJob(job, hooks);
  const remote = shards.slice(1).map((s) => runInWorker(s));
  // If the local shard fails, still wait for the workers so none is left running.
  const local = runSweepJob(shards[0]!, hooks);
  const all = await Promise.allSettled([local, ...remote]);
  const failed = all.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return mergeSweepResults(all.map((r) => (r as PromiseFulfilledResult<SweepJobResult>).value));
}

/**
 * Worker bootstrap. On Node 20 a worker does not inherit the parent's `--import tsx` hooks (and
 * ignores it in execArgv), so the worker registers tsx's ESM loader itself, then imports the entry.
 */
const TSX_API = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api").replace(/index\.cjs$/, "index.mjs")).href;
const WORKER_ENTRY = new URL("./sweep-worker.ts", import.meta.url).href;
const bootOf = (entry: string): string => `
import(${JSON.stringify(TSX_API)})
  .then((api) => { api.register(); return import(${JSON.stringify(entry)}); })
  .catch((e) => require("node:worker_threads").parentPort.postMessage({ ok: false, error: String((e && e.stack) || e) }));
`;

/** Run one job in a worker thread (TypeScript loaded through tsx, as in the parent). */
export function runInWorker(job: SweepJob): Promise<SweepJobResult> {
  return runInThread<SweepJobResult>(WORKER_ENTRY, job);
}

/** Start a worker thread running the module at `entryUrl` (through tsx) with `workerData = data`. */
export function startThread(entryUrl: string, data?: unknown): Worker {
  return new Worker(bootOf(entryUrl), { eval: true, workerData: data });
}

/**
 * Run a module in a worker thread with `workerData = data`; it answers with one message
 * {ok: true, result} or {ok: false, error}. Shared by sweep shards and research jobs (jobs.ts).
 */
export function runInThread<T>(entryUrl: string, data: unknown): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const w = startThread(entryUrl, data);
    let done = false;
    w.once("message", (m: { ok: true; result: T } | { ok: false; error: string }) => {
      done = true;
      if (m.ok) resolvePromise(m.result);
      else reject(new Error(`sweep worker: ${m.error}`));
    });
    w.once("error", (e) => {
      done = true;
      reject(e);
    });
    w.once("exit", (code) => {
      if (!done) reject(new Error(`sweep worker exited with code ${code} before answering`));
    });
  });
}

/**
 * A fingerprint of the code a result depends on: SHA-256 over the paths and contents of every
 * TypeScript file under lib/ plus package-lock.json. Equal versions + equal jobs → equal results.
 */
export function codeVersion(root = resolve(import.meta.dirname, "../..")): string {
  const h = createHash("sha256");
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".ts") || name.endsWith(".sql")) files.push(p);
    }
  };
  walk(join(root, "lib"));
  files.push(join(root, "package-lock.json"));
  for (const f of files) {
    h.update(relative(root, f)).update("\0");
    try {
      h.update(readFileSync(f)).update("\0");
    } catch {
      h.update("missing\0");
    }
  }
  return h.digest("hex").slice(0, 16);
}
