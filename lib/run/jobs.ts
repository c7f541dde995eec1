/**
 * Research jobs: one replay of a set of engine configurations (variants) over a range of tape days,
 * as a pure function of (tape content, day range, variants, replay options, code version).
 *
 * A job is identified by a hash of exactly those inputs, so the same work has the same id on every
 * machine and at every attempt: a queue can de-duplicate on it, a result stored under it can be
 * trusted by whoever finds it, and a sweep can be resumed by skipping ids whose result exists.
 *
 * The tape enters a job by its fingerprint (the events-layer segment names and sizes of the days it
 * covers), not by its path: workers mount the lake wherever they like, and a worker whose copy of the
 * lake differs refuses the job instead of computing something else under the same id.
 *
 * A research job is the queue-ready form of a SweepJob (lib/run/sweep.ts): the same replay, run by
 * runSweepJob, plus content identity (tape fingerprint, variant ids, job id) and every variant's
 * audit records. Everything here is deterministic; wall-clock figures (how long a job took) live in
 * the result's metadata, never in its tables.
 */
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { relative } from "node:path";
import type { EngineConfig, EngineConfigOverrides } from "../core/config.ts";
import { mergeEngineConfig } from "../core/config.ts";
import { AuditWriter, beginRun, openStore, type Store } from "../store/db.ts";
import { dayFiles, listTapeDays } from "../tape/reader.ts";
import { codeVersion, runSweepJob, warmupOf, type LatencySpec } from "./sweep.ts";

export { codeVersion };

export const JOB_FORMAT = 1;

/** One configuration of a sweep: the full engine config, with a stable id and a readable name. */
export interface Variant {
  /** Hash of the canonical config JSON: equal configs are the same variant whatever their name. */
  readonly id: string;
  readonly name: string;
  readonly config: EngineConfig;
}

/** Replay settings of a sweep, as in SweepJob. */
export interface ReplayOptions {
  /** Settle markets without a recorded result after this grace (seconds; default the session's). */
  readonly settlementGraceSeconds?: number;
  /** Simulated order latency (default the session's 50 ms / 50 ms). */
  readonly latency?: LatencySpec;
  /**
   * Seconds of tape before each job's first day replayed first, without trading or records, so a
   * day-range job starts with warm books, volatility and index (default 0: the day starts cold).
   */
  readonly warmupSeconds?: number;
}

export interface ResearchJob {
  readonly format: typeof JOB_FORMAT;
  /** Fingerprint of the tape days the job reads (see tapeFingerprint). */
  readonly tape: string;
  /** Inclusive UTC day range. */
  readonly from: string;
  readonly to: string;
  readonly variants: readonly Variant[];
  readonly options: ReplayOptions;
  /** Hash of the code that computes the result (see codeVersion). */
  readonly codeVersion: string;
}

/** A job with its id: what travels through a queue. */
export interface JobSpec extends ResearchJob {
  readonly id: string;
}

// ---- Hashing ------------------------------------------------------------------------------------------

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") {
    if (typeof v === "number" && !Number.isFinite(v)) throw new Error(`canonicalJson: non-finite number ${v}`);
    return JSON.stringify(v) ?? "null";
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
}

const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");

/** The job id: "j" + 24 hex digits of the hash of its inputs (never an integer, never a ':'). */
export function jobId(job: ResearchJob): string {
  return `j${sha256(canonicalJson(job)).slice(0, 24)}`;
}

export function variantOf(name: string, config: EngineConfig): Variant {
  return { id: `v${sha256(canonicalJson(config)).slice(0, 16)}`, name, config };
}

/**
 * Identity of the tape days a job reads: relative path and size of every events-layer segment of
 * those days. Segment names carry their first timestamp and a random id, so a rewritten or extended
 * day changes the fingerprint; the bytes themselves are not hashed (a year of tape is many GB).
 */
export function tapeFingerprint(tapeDir: string, days: readonly string[]): string {
  const lines: string[] = [];
  for (const day of days) {
    for (const f of dayFiles(tapeDir, "events", day)) lines.push(`${relative(tapeDir, f)}\t${statSync(f).size}`);
  }
  if (lines.length === 0) throw new Error(`tape ${tapeDir} has no events for ${days.join(", ")}`);
  return `t${sha256(lines.join("\n")).slice(0, 24)}`;
}

// ---- Planning -----------------------------------------------------------------------------------------

export interface SweepPlanInput {
  readonly tapeDir: string;
  readonly base: EngineConfig;
  /** Config overrides of the sweep (each one variant; default: the base alone). */
  readonly configs?: readonly EngineConfigOverrides[];
  /** Model variants (named overrides, typically of `vol`/`model`) crossed with every config. */
  readonly models?: readonly { readonly name: string; readonly overrides: EngineConfigOverrides }[];
  readonly from?: string;
  readonly to?: string;
  /** Consecutive tape days per job (default 1: every day is an independent session). */
  readonly daysPerJob?: number;
  /** Variants replayed together in one job (they share one decode of the tape; default 1). */
  readonly variantsPerJob?: number;
  readonly options?: ReplayOptions;
  readonly codeVersion?: string;
}

export interface SweepPlan {
  readonly codeVersion: string;
  readonly days: readonly string[];
  readonly variants: readonly Variant[];
  readonly jobs: readonly JobSpec[];
}

/**
 * The tape days a job reads: its own range, plus the earlier days its warm-up reaches into (so the
 * tape fingerprint covers every byte the job's result depends on).
 */
export function jobReadDays(tapeDays: readonly string[], from: string, to: string, options: ReplayOptions = {}): string[] {
  const first = warmupOf({ from, warmupSeconds: options.warmupSeconds })?.fromDay ?? from;
  return tapeDays.filter((d) => d >= first && d <= to);
}

/** Cross configs × models into variants, split variants × days into jobs. Deterministic. */
export async function planSweep(p: SweepPlanInput): Promise<SweepPlan> {
  const configs = p.configs && p.configs.length > 0 ? p.configs : [{}];
  const models = p.models && p.models.length > 0 ? p.models : [{ name: "", overrides: {} }];
  const variants: Variant[] = [];
  const seen = new Set<string>();
  for (const [i, c] of configs.entries()) {
    for (const m of models) {
      const v = variantOf(m.name ? `c${i}.${m.name}` : `c${i}`, mergeEngineConfig(mergeEngineConfig(p.base, c), m.overrides));
      // A duplicate config is the same experiment: tried once, counted once.
      if (seen.has(v.id)) continue;
      seen.add(v.id);
      variants.push(v);
    }
  }
  const tapeDays = await listTapeDays(p.tapeDir);
  const days = tapeDays.filter((d) => (!p.from || d >= p.from) && (!p.to || d <= p.to));
  if (days.length === 0) throw new Error(`tape ${p.tapeDir} has no days in ${p.from ?? "…"} → ${p.to ?? "…"}`);
  const dpj = p.daysPerJob ?? 1;
  const vpj = p.variantsPerJob ?? 1;
  if (!(Number.isInteger(dpj) && dpj >= 1) || !(Number.isInteger(vpj) && vpj >= 1)) throw new Error("daysPerJob and variantsPerJob must be integers ≥ 1");
  const version = p.codeVersion ?? codeVersion();
  const jobs: JobSpec[] = [];
  for (let d = 0; d < days.length; d += dpj) {
    const chunk = days.slice(d, d + dpj);
    const tape = tapeFingerprint(p.tapeDir, jobReadDays(tapeDays, chunk[0]!, chunk[chunk.length - 1]!, p.options));
    for (let v = 0; v < variants.length; v += vpj) {
      const job: ResearchJob = {
        format: JOB_FORMAT,
        tape,
        from: chunk[0]!,
        to: chunk[chunk.length - 1]!,
        variants: variants.slice(v, v + vpj),
        options: p.options ?? {},
        codeVersion: version,
      };
      jobs.push({ ...job, id: jobId(job) });
    }
  }
  return { codeVersion: version, days, variants, jobs };
}

// ---- Running ------------------------------------------------------------------------------------------

/** The run id of one variant over one job's days: what its audit rows carry. */
export function runIdOf(job: ResearchJob, v: Variant): string {
  return `sweep-${v.id}-${job.from}-${job.to}`;
}

export interface VariantOutcome {
  readonly variant: Variant;
  readonly runId: string;
  /** The replay summary, exactly as `npm run replay --json` prints it for this config and days. */
  readonly summary: Record<string, unknown>;
}

export interface JobOutcome {
  readonly job: JobSpec;
  readonly events: number;
  readonly firstTs: number;
  readonly lastTs: number;
  readonly variants: readonly VariantOutcome[];
  /** In-memory audit store holding every variant's records (close it when done). */
  readonly store: Store;
}

export class TapeMismatchError extends Error {
  constructor(job: JobSpec, found: string, dir: string) {
    super(`job ${job.id} wants tape ${job.tape} for ${job.from}..${job.to}, but ${dir} holds ${found}: is the lake mounted and synced?`);
    this.name = "TapeMismatchError";
  }
}

export class CodeVersionError extends Error {
  constructor(job: JobSpec, mine: string) {
    super(`job ${job.id} was planned by code ${job.codeVersion}; this worker runs ${mine}`);
    this.name = "CodeVersionError";
  }
}

/**
 * Run one job against the tape in `tapeDir`. The event loop gets a turn at least every `yieldMs`
 * (a queue worker must keep renewing its job lock while a long replay runs).
 */
export async function runJob(job: JobSpec, tapeDir: string, opts: { yieldMs?: number; codeVersion?: string } = {}): Promise<JobOutcome> {
  if (jobId(stripId(job)) !== job.id) throw new Error(`job ${job.id}: id does not match its inputs`);
  const mine = opts.codeVersion ?? codeVersion();
  if (mine !== job.codeVersion) throw new CodeVersionError(job, mine);
  const days = jobReadDays(await listTapeDays(tapeDir), job.from, job.to, job.options);
  const found = days.length > 0 ? tapeFingerprint(tapeDir, days) : "no days";
  if (found !== job.tape) throw new TapeMismatchError(job, found, tapeDir);

  const store = await openStore(":memory:");
  try {
    const writers = job.variants.map((v) => new AuditWriter(store, runIdOf(job, v), "replay"));
    const r = await runSweepJob(
      {
        tape: tapeDir,
        from: job.from,
        to: job.to,
        configs: job.variants.map((v) => v.config),
        settlementGraceSeconds: job.options.settlementGraceSeconds,
        latency: job.options.latency,
        codeVersion: job.codeVersion,
        warmupSeconds: job.options.warmupSeconds,
      },
      { onRecordOf: (i) => (rec) => writers[i]!.write(rec), yieldEveryMs: opts.yieldMs ?? 200 },
    );
    for (const w of writers) await w.close();
    for (const v of job.variants) {
      await beginRun(store, { runId: runIdOf(job, v), mode: "replay", startedTs: Math.max(r.firstTs, 0), configJson: canonicalJson(v.config), tape: job.tape });
    }
    return {
      job,
      events: r.events,
      firstTs: r.firstTs,
      lastTs: r.lastTs,
      variants: job.variants.map((variant, i) => ({ variant, runId: runIdOf(job, variant), summary: r.summaries[i]! })),
      store,
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

function stripId(j: JobSpec): ResearchJob {
  const { id: _id, ...rest } = j;
  return rest;
}
