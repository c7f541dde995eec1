/**
 * Where research-job results live, and how they are merged.
 *
 *   <out>/manifest.json                 the sweep's plan: variants (every config tried), jobs, days
 *   <out>/results/job=<id>/             one finished job: a Parquet file per store table + job.json
 *   <out>/results/.tmp-<id>-…/          a job being written (ignored; left behind by a crash)
 *   <out>/sweep.duckdb                  merged audit store (same schema as any replay's store)
 *   <out>/tables/<table>.parquet        merged tables, rows in a canonical order
 *   <out>/summary.json                  merged summary
 *
 * A job's directory is written under a temporary name and renamed into place, so it either exists
 * complete or not at all. The rename fails if the directory already exists: when a job runs twice
 * (a retry after a stalled lock, a duplicate enqueue) the first result wins and the second is
 * dropped — both are the same bytes of the same pure function, and the merge reads each job id once.
 */
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { openStore, queryObjects, type Store } from "../store/db.ts";
import { canonicalJson, runJob, type JobOutcome, type JobSpec, type SweepPlan, type Variant } from "./jobs.ts";
import { startThread } from "./sweep.ts";

/** Store tables a job's replay fills (the audit tables, `runs` and `sweep_results`). */
export const RESULT_TABLES = [
  "runs",
  "sweep_results",
  "opportunities",
  "features",
  "risk_events",
  "orders",
  "fills",
  "positions_snapshots",
  "settlements",
] as const;

export const resultsDir = (out: string): string => join(out, "results");
export const jobDir = (out: string, id: string): string => join(resultsDir(out), `job=${id}`);
export const hasResult = (out: string, id: string): boolean => existsSync(join(jobDir(out, id), "job.json"));

/** Job ids with a finished result under `out`. */
export function finishedJobIds(out: string): Set<string> {
  const dir = resultsDir(out);
  const ids = new Set<string>();
  if (!existsSync(dir)) return ids;
  for (const name of readdirSync(dir)) {
    const m = /^job=(j[0-9a-f]+)$/.exec(name);
    if (m && existsSync(join(dir, name, "job.json"))) ids.add(m[1]!);
  }
  return ids;
}

/**
 * Columns a row can be inserted into. Virtual columns (the `ts` TIMESTAMP views) are excluded; DuckDB
 * reports their expression as `column_default`, and no table of the schema uses a plain DEFAULT.
 */
async function storedColumns(store: Store, table: string): Promise<string[]> {
  const rows = await queryObjects(
    store,
    `SELECT column_name FROM duckdb_columns() WHERE table_name = $1 AND column_default IS NULL ORDER BY column_index`,
    [table],
  );
  if (rows.length === 0) throw new Error(`no table ${table} in the store`);
  return rows.map((r) => `"${String(r.column_name)}"`);
}

const sqlStr = (s: string): string => `'${s.replace(/'/g, "''")}'`;

export interface JobMeta {
  readonly worker: string;
  readonly seconds: number;
  readonly attempt?: number;
}

/**
 * Write a job's outcome under `out` atomically. Returns "exists" (and writes nothing) when another
 * attempt already stored it.
 */
export async function writeJobResult(out: string, outcome: JobOutcome, meta: JobMeta): Promise<"written" | "exists"> {
  const job = outcome.job;
  const final = jobDir(out, job.id);
  if (hasResult(out, job.id)) return "exists";
  mkdirSync(resultsDir(out), { recursive: true });
  const tmp = join(resultsDir(out), `.tmp-${job.id}-${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(tmp);
  try {
    const store = outcome.store;
    for (const v of outcome.variants) await insertSweepResult(store, job, v.variant, v.runId, outcome.events, v.summary);
    for (const t of RESULT_TABLES) {
      const cols = await storedColumns(store, t);
      const file = join(tmp, `${t}.parquet`);
      await store.connection.run(`COPY (SELECT ${cols.join(", ")} FROM ${t} ORDER BY ALL) TO ${sqlStr(file)} (FORMAT parquet)`);
      fsyncFile(file);
    }
    const info = {
      job,
      events: outcome.events,
      first_ts_us: outcome.firstTs,
      last_ts_us: outcome.lastTs,
      runs: outcome.variants.map((v) => v.runId),
      written_by: { ...meta, host: hostname(), pid: process.pid },
    };
    writeFileSync(join(tmp, "job.json"), JSON.stringify(info, null, 1) + "\n");
    fsyncFile(join(tmp, "job.json"));
    fsyncFile(tmp);
    try {
      renameSync(tmp, final);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") {
        rmSync(tmp, { recursive: true, force: true });
        return "exists";
      }
      throw err;
    }
    fsyncFile(resultsDir(out));
    return "written";
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function fsyncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function insertSweepResult(store: Store, job: JobSpec, v: Variant, runId: string, events: number, s: Record<string, unknown>): Promise<void> {
  const scores = s.scores as { n: number; brier_model: number | null; brier_market: number | null };
  await store.connection.run(
    `INSERT INTO sweep_results VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
    [
      job.id, runId, v.id, v.name, job.from, job.to, job.tape, job.codeVersion, BigInt(events),
      BigInt(s.trades as number), BigInt(s.fills as number), s.fees_usd as number, s.settlement_pnl_usd as number,
      s.realized_pnl_usd as number, BigInt(scores.n), scores.brier_model, scores.brier_market, canonicalJson(v.config), JSON.stringify(s),
    ],
  );
}

/** Run a job and store its result (unless one exists already). */
export async function runAndStore(
  job: JobSpec,
  tapeDir: string,
  out: string,
  o: { worker: string; attempt?: number; codeVersion?: string },
): Promise<{ status: "written" | "exists"; seconds: number }> {
  const t0 = performance.now();
  if (hasResult(out, job.id)) return { status: "exists", seconds: 0 };
  const outcome = await runJob(job, tapeDir, { codeVersion: o.codeVersion });
  try {
    const seconds = Math.round(performance.now() - t0) / 1000;
    const status = await writeJobResult(out, outcome, { worker: o.worker, seconds, attempt: o.attempt });
    return { status, seconds };
  } finally {
    await outcome.store.close();
  }
}

const JOB_THREAD = new URL("./job-thread.ts", import.meta.url).href;

/**
 * A long-lived worker thread that runs research jobs one at a time (the library loads once). Used by
 * in-process `--workers N` and by queue workers: there the replay runs off the main thread, whose
 * event loop stays free to renew the job's lock however long a job or a DuckDB append takes.
 */
export class JobThread {
  private w: ReturnType<typeof startThread> | null = null;
  private pending: { resolve: (r: { status: "written" | "exists"; seconds: number }) => void; reject: (e: Error) => void } | null = null;

  private thread(): ReturnType<typeof startThread> {
    if (this.w) return this.w;
    const w = startThread(JOB_THREAD);
    w.on("message", (m: { ok: true; result: { status: "written" | "exists"; seconds: number } } | { ok: false; error: string }) => {
      const p = this.pending;
      this.pending = null;
      if (!p) return;
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(m.error));
    });
    const fail = (e: Error) => {
      // A dead thread (crash, out of memory) fails its job; the next job gets a fresh thread.
      this.w = null;
      const p = this.pending;
      this.pending = null;
      p?.reject(e);
    };
    w.on("error", fail);
    w.on("exit", (code) => fail(new Error(`job thread exited (${code})`)));
    return (this.w = w);
  }

  run(input: JobThreadInput): Promise<{ status: "written" | "exists"; seconds: number }> {
    if (this.pending) return Promise.reject(new Error("JobThread runs one job at a time"));
    const w = this.thread();
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      w.postMessage(input);
    });
  }

  async close(): Promise<void> {
    const w = this.w;
    this.w = null;
    if (w) {
      w.removeAllListeners("exit");
      await w.terminate();
    }
  }
}

/**
 * Run jobs on this machine without a queue: one after another in this thread, or up to `threads` at
 * a time in worker threads. `onDone` is called after each job.
 */
export async function runJobsHere(
  jobs: readonly JobSpec[],
  tapeDir: string,
  out: string,
  o: { threads?: number; codeVersion?: string; onDone?: () => void } = {},
): Promise<void> {
  const threads = Math.max(1, Math.floor(o.threads ?? 1));
  if (threads === 1) {
    for (const j of jobs) {
      await runAndStore(j, tapeDir, out, { worker: "in-process", codeVersion: o.codeVersion });
      o.onDone?.();
    }
    return;
  }
  let next = 0;
  const lane = async (): Promise<void> => {
    const t = new JobThread();
    try {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        await t.run({ job, tapeDir, out, codeVersion: o.codeVersion, worker: "in-process" });
        o.onDone?.();
      }
    } finally {
      await t.close();
    }
  };
  await Promise.all(Array.from({ length: Math.min(threads, jobs.length) }, lane));
}

export interface JobThreadInput {
  readonly job: JobSpec;
  readonly tapeDir: string;
  readonly out: string;
  readonly codeVersion?: string;
  /** Who writes the result (recorded in job.json). */
  readonly worker: string;
  readonly attempt?: number;
}

// ---- The sweep manifest ----------------------------------------------------------------------------------

export interface SweepManifest {
  readonly format: 1;
  readonly code_version: string;
  readonly days: readonly string[];
  /** Every configuration the sweep tries (the multiple-testing count is its length). */
  readonly variants: readonly Variant[];
  readonly jobs: readonly { readonly id: string; readonly from: string; readonly to: string; readonly variants: readonly string[] }[];
}

export function manifestOf(plan: SweepPlan): SweepManifest {
  return {
    format: 1,
    code_version: plan.codeVersion,
    days: plan.days,
    variants: plan.variants,
    jobs: plan.jobs.map((j) => ({ id: j.id, from: j.from, to: j.to, variants: j.variants.map((v) => v.id) })),
  };
}

/**
 * Write the manifest (temp + rename). A different plan already in `out` is refused: its results
 * would be merged with ours.
 */
export function writeManifest(out: string, m: SweepManifest): void {
  mkdirSync(out, { recursive: true });
  const path = join(out, "manifest.json");
  const text = JSON.stringify(m, null, 1) + "\n";
  if (existsSync(path)) {
    const old = readFileSync(path, "utf8");
    if (old === text) return;
    const prev = JSON.parse(old) as SweepManifest;
    const ids = (x: SweepManifest) => x.jobs.map((j) => j.id).join(",");
    if (ids(prev) !== ids(m)) throw new Error(`${out} holds another sweep (manifest.json differs); use a new --out or delete it`);
  }
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function readManifest(out: string): SweepManifest {
  return JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as SweepManifest;
}

// ---- Merge ------------------------------------------------------------------------------------------------

export interface MergeResult {
  readonly summary: Record<string, unknown>;
  readonly missing: readonly string[];
}

/**
 * Merge the finished jobs of the sweep in `out` into <out>/sweep.duckdb, <out>/tables/*.parquet and
 * <out>/summary.json. Only job ids of the manifest are read, each once; results of other plans are
 * ignored. With jobs missing the merge still runs (`missing` lists them) so partial sweeps can be
 * inspected, and summary.json says it is partial.
 */
export async function mergeSweep(out: string): Promise<MergeResult> {
  const m = readManifest(out);
  const done = finishedJobIds(out);
  const present = m.jobs.filter((j) => done.has(j.id));
  const missing = m.jobs.filter((j) => !done.has(j.id)).map((j) => j.id);
  const dbPath = join(out, "sweep.duckdb");
  for (const p of [dbPath, `${dbPath}.wal`]) rmSync(p, { force: true });
  const store = await openStore(dbPath);
  try {
    mkdirSync(join(out, "tables"), { recursive: true });
    for (const t of RESULT_TABLES) {
      const cols = (await storedColumns(store, t)).join(", ");
      const files = present.map((j) => join(jobDir(out, j.id), `${t}.parquet`));
      if (files.length > 0) {
        await store.connection.run(`INSERT INTO ${t} (${cols}) SELECT ${cols} FROM read_parquet([${files.map(sqlStr).join(", ")}]) ORDER BY ALL`);
      }
      const file = join(out, "tables", `${t}.parquet`);
      await store.connection.run(`COPY (SELECT ${cols} FROM ${t} ORDER BY ALL) TO ${sqlStr(`${file}.tmp`)} (FORMAT parquet)`);
      renameSync(`${file}.tmp`, file);
    }
    // Every (job, variant) pair exactly once — the sweep_results primary key enforces it; the
    // variants that ran are the ones whose rows are here.
    const rows = await queryObjects(
      store,
      `SELECT run_id, variant_id, variant_name, from_day, to_day, events, summary_json FROM sweep_results ORDER BY variant_name, variant_id, from_day`,
    );
    const ran = new Set(rows.map((r) => String(r.variant_id)));
    const byVariant = await queryObjects(
      store,
      `SELECT variant_id, variant_name, count(*) AS runs, min(from_day) AS from_day, max(to_day) AS to_day,
              sum(events) AS events, sum(trades) AS trades, sum(fills) AS fills,
              round(sum(fees_usd), 6) AS fees_usd, round(sum(settlement_pnl_usd), 6) AS settlement_pnl_usd,
              round(sum(realized_pnl_usd), 6) AS realized_pnl_usd, sum(forecasts_scored) AS forecasts_scored,
              round(sum(brier_model * forecasts_scored) / nullif(sum(forecasts_scored), 0), 6) AS brier_model,
              round(sum(brier_market * forecasts_scored) / nullif(sum(forecasts_scored), 0), 6) AS brier_market
       FROM sweep_results GROUP BY variant_id, variant_name ORDER BY variant_name, variant_id`,
    );
    const summary = {
      format: 1,
      code_version: m.code_version,
      days: m.days,
      complete: missing.length === 0,
      jobs: { planned: m.jobs.length, merged: present.length, missing: missing.length },
      // Multiple-testing bookkeeping: every configuration the sweep tried, wherever it ran.
      configs_planned: m.variants.length,
      configs_tried: ran.size,
      variants: m.variants.map((v) => ({ id: v.id, name: v.name, ran: ran.has(v.id) })),
      by_variant: byVariant,
      runs: rows.map((r) => ({
        run_id: r.run_id,
        variant_id: r.variant_id,
        variant_name: r.variant_name,
        from: r.from_day,
        to: r.to_day,
        summary: JSON.parse(String(r.summary_json)) as unknown,
      })),
    };
    const text = JSON.stringify(summary, null, 1) + "\n";
    writeFileSync(join(out, "summary.json.tmp"), text);
    renameSync(join(out, "summary.json.tmp"), join(out, "summary.json"));
    return { summary, missing };
  } finally {
    await store.close();
  }
}

/**
 * The number of configurations a sweep tried, for a multiple-testing correction: read from the
 * merged summary (every variant with a result, on any machine) or, before a merge, the manifest.
 */
export function configsTried(out: string): number {
  const p = join(out, "summary.json");
  if (existsSync(p)) return (JSON.parse(readFileSync(p, "utf8")) as { configs_tried: number }).configs_tried;
  return readManifest(out).variants.length;
}
