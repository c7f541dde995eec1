/**
 * Research jobs on BullMQ over Redis: the coordinator enqueues a sweep's jobs under their job ids
 * (a second enqueue of the same id is a no-op), any number of worker processes on any machines pull
 * them, run them against their copy of the lake and store each result under <out>/results/job=<id>.
 *
 * Delivery is at-least-once. A worker that dies mid-job stops renewing the job's lock; after
 * `lockDuration` another worker's stalled-job check moves it back to the wait list and it runs again.
 * A job can therefore run twice; results.ts makes that harmless (first complete result wins, the merge
 * reads each id once). The results directory, not Redis, is the truth about what is done: Redis may be
 * flushed or restarted and the coordinator re-enqueues whatever has no result.
 */
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { Queue, Worker, type Job } from "bullmq";
import { Redis } from "ioredis";
import { codeVersion, type JobSpec } from "./jobs.ts";
import { hasResult, JobThread } from "./results.ts";

export const DEFAULT_QUEUE = "kbe-sweep";

/** What one queued job carries: the research job and where the coordinator sees tape and results. */
export interface SweepJobData {
  readonly spec: JobSpec;
  readonly tape: string;
  readonly out: string;
}

export interface SweepJobResult {
  readonly status: "written" | "exists";
  readonly seconds: number;
  readonly worker: string;
}

/** BullMQ needs `maxRetriesPerRequest: null` on its connections (blocking commands). */
export function redisConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null });
}

/**
 * The queue-level id: the job id qualified by the results directory, so two sweeps that share a job
 * but write to different places each get it done.
 */
export function queueJobId(spec: JobSpec, out: string): string {
  return `${spec.id}-${createHash("sha256").update(out).digest("hex").slice(0, 8)}`;
}

export const JOB_OPTIONS = {
  // Errors (a lake not yet synced, a full disk) are retried with backoff; crashes come back through
  // the stalled-job check and do not consume attempts.
  attempts: 4,
  backoff: { type: "exponential", delay: 1000 },
  // The results directory records completion; Redis keeps only what is pending or failed.
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600 },
} as const;

export function openQueue(url: string, name = DEFAULT_QUEUE): Queue<SweepJobData, SweepJobResult> {
  return new Queue<SweepJobData, SweepJobResult>(name, { connection: redisConnection(url) });
}

export interface EnqueueResult {
  readonly added: number;
  /** Failed jobs (attempts exhausted) put back to run again. */
  readonly retried: number;
}

/**
 * Enqueue the jobs (those without a result). Jobs already waiting or running are left alone (same
 * id); jobs that failed for good in an earlier run are retried.
 */
export async function enqueueJobs(queue: Queue<SweepJobData, SweepJobResult>, jobs: readonly JobSpec[], tape: string, out: string): Promise<EnqueueResult> {
  let retried = 0;
  const fresh: JobSpec[] = [];
  for (const spec of jobs) {
    const existing = await queue.getJob(queueJobId(spec, out));
    if (existing && (await existing.getState()) === "failed") {
      await existing.retry("failed");
      retried++;
    } else if (!existing) fresh.push(spec);
  }
  await queue.addBulk(fresh.map((spec) => ({ name: "replay", data: { spec, tape, out }, opts: { ...JOB_OPTIONS, jobId: queueJobId(spec, out) } })));
  return { added: fresh.length, retried };
}

/** State of a job in the queue ("unknown": not there — done and removed, or lost with Redis). */
export async function queuedState(queue: Queue<SweepJobData, SweepJobResult>, spec: JobSpec, out: string): Promise<{ state: string; reason?: string }> {
  const j = await queue.getJob(queueJobId(spec, out));
  if (!j) return { state: "unknown" };
  const state = await j.getState();
  return state === "failed" ? { state, reason: j.failedReason } : { state };
}

export interface WorkerOptions {
  readonly url: string;
  readonly queue?: string;
  /** Override the tape / results paths carried by the jobs (this machine mounts them elsewhere). */
  readonly tape?: string;
  readonly out?: string;
  readonly concurrency?: number;
  /** How long a job's lock lives without renewal before the job counts as stalled (BullMQ default 30 s). */
  readonly lockMs?: number;
  /** How often this worker looks for stalled jobs (BullMQ default 30 s). */
  readonly stalledMs?: number;
  readonly name?: string;
  readonly log?: (line: string) => void;
}

/** Start a worker that runs sweep jobs until closed. */
export function startSweepWorker(o: WorkerOptions): Worker<SweepJobData, SweepJobResult> {
  const name = o.name ?? `${hostname()}:${process.pid}`;
  const log = o.log ?? (() => {});
  const mine = codeVersion();
  // The replay runs on job threads (one per concurrent job), never on this thread: its event loop must
  // stay free to renew job locks, or a long job would be declared stalled and run again elsewhere.
  const idle: JobThread[] = [];
  const threads: JobThread[] = [];
  const w = new Worker<SweepJobData, SweepJobResult>(
    o.queue ?? DEFAULT_QUEUE,
    async (job: Job<SweepJobData, SweepJobResult>) => {
      const { spec } = job.data;
      const tape = o.tape ?? job.data.tape;
      const out = o.out ?? job.data.out;
      if (hasResult(out, spec.id)) {
        log(`skip ${spec.id} (result exists)`);
        return { status: "exists", seconds: 0, worker: name };
      }
      log(`start ${spec.id} ${spec.from}..${spec.to} ×${spec.variants.length} attempt ${job.attemptsMade + 1}`);
      let t = idle.pop();
      if (!t) threads.push((t = new JobThread()));
      let r: { status: "written" | "exists"; seconds: number };
      try {
        r = await t.run({ job: spec, tapeDir: tape, out, worker: name, attempt: job.attemptsMade + 1, codeVersion: mine });
      } finally {
        idle.push(t);
      }
      log(`${r.status === "written" ? "done" : "duplicate"} ${spec.id} ${r.seconds.toFixed(2)} s`);
      return { ...r, worker: name };
    },
    {
      connection: redisConnection(o.url),
      concurrency: o.concurrency ?? 1,
      lockDuration: o.lockMs ?? 30_000,
      stalledInterval: o.stalledMs ?? 30_000,
      // A crash is retried through the stalled check; allow a few before giving a job up.
      maxStalledCount: 3,
    },
  );
  w.on("closed", () => void Promise.all(threads.map((t) => t.close())));
  w.on("failed", (job, err) => log(`failed ${job?.data.spec.id ?? "?"}: ${err.message}`));
  w.on("error", (err) => log(`worker error: ${err.message}`));
  return w;
}
