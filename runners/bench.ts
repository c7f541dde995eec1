/**
 * npm run bench -- [--json] [--days N] [--markets N] [--dir DIR] [--quick]
 *
 * Replay throughput and memory on a synthesized reference day (~5 M events: Coinbase ticks, book
 * deltas over ~40 markets, BRTI once a second, trades). The tapes are synthesized once and cached
 * under data/bench/ (the first run takes a few minutes per day). Prints one JSON object with --json:
 *   events, read_events_per_s, replay_events_per_s (read → engine → simulated venue → audit rows in
 *   an in-memory DuckDB store), replay_over_read, the same two without the audit store,
 *   peak_rss_mb_1day, peak_rss_mb_4days, sweep32_over_1, plus the machine. Reads use the tape's
 *   read cache (lib/tape/cache.ts), warmed by the first run.
 * Each measurement runs in a fresh child process so peak RSS is that of the measured job alone.
 * sweep_jobs (runners/bench-sweep.ts): wall time of a research sweep (--sweep-configs configs × the
 * first two days, one job per config and day) in-process and on BullMQ with 1 and 2 local workers;
 * --sweep-jobs-only measures just that, --no-sweep-jobs skips it (it needs redis-server).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_ENGINE_CONFIG, mergeEngineConfig, type EngineConfig } from "../lib/core/config.ts";
import { Replay } from "../lib/run/replay.ts";
import { AuditWriter, openStore } from "../lib/store/db.ts";
import { synthesize } from "../lib/tape/synth.ts";
import { readTapeEvents } from "../lib/tape/reader.ts";
import { openTapeWriter } from "../lib/tape/writer.ts";
import { benchSweep, type SweepBench } from "./bench-sweep.ts";
import { BINANCE_BTCUSD_1M_CSV } from "../fixtures/data/paths.ts";

const CSV = BINANCE_BTCUSD_1M_CSV;
const DAYS = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"];

const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    dir: { type: "string", default: "data/bench" },
    markets: { type: "string", default: "30" },
    hours: { type: "string", default: "24" },
    quick: { type: "boolean", default: false },
    child: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    configs: { type: "string", default: "1" },
    audit: { type: "boolean", default: false },
    "sweep-configs": { type: "string", default: "4" },
    "sweep-jobs-only": { type: "boolean", default: false },
    "no-sweep-jobs": { type: "boolean", default: false },
  },
  strict: true,
});

const dir = resolve(values.dir!);
const tapeDir = join(dir, values.quick ? "tape-quick" : "tape");

if (values.child) {
  await child(values.child);
} else {
  await main();
}

/** The research-sweep scaling figures (in-process vs 1 and 2 BullMQ workers) on the first two days. */
function sweepJobs(days: readonly string[]): Promise<SweepBench> {
  return benchSweep({ tape: tapeDir, from: days[0], to: days[Math.min(1, days.length - 1)], configs: Number(values["sweep-configs"]) });
}

async function main(): Promise<void> {
  const hours = values.quick ? 2 : Number(values.hours);
  const days = values.quick ? DAYS.slice(0, 2) : DAYS;
  await ensureTapes(days, hours);
  if (values["sweep-jobs-only"]) {
    const sj = { sweep_jobs: await sweepJobs(days) };
    process.stdout.write((values.json ? JSON.stringify(sj) : JSON.stringify(sj, null, 1)) + "\n");
    return;
  }
  const first = days[0]!;
  const last = days[days.length - 1]!;
  const read = runChild(["read", "--from", first, "--to", first]);
  const replay = runChild(["replay", "--from", first, "--to", first, "--audit"]);
  const rss1 = runChild(["replay", "--from", first, "--to", first]);
  const rss4 = runChild(["replay", "--from", first, "--to", last]);
  const sweep1 = runChild(["replay", "--from", first, "--to", first, "--configs", "1"]);
  const sweep32 = runChild(["replay", "--from", first, "--to", first, "--configs", "32"]);
  const out = {
    events: read.events,
    read_events_per_s: Math.round(read.events / read.seconds),
    replay_events_per_s: Math.round(replay.events / replay.seconds),
    replay_over_read: round(replay.seconds / read.seconds, 3),
    // The same replay without writing audit rows to DuckDB: the engine + venue path alone.
    replay_no_audit_events_per_s: Math.round(rss1.events / rss1.seconds),
    replay_no_audit_over_read: round(rss1.seconds / read.seconds, 3),
    peak_rss_mb_1day: round(rss1.rssMb, 1),
    peak_rss_mb_4days: round(rss4.rssMb, 1),
    days_in_4day_run: days.length,
    events_4days: rss4.events,
    sweep32_over_1: round(sweep32.seconds / sweep1.seconds, 3),
    sweep1_seconds: round(sweep1.seconds, 3),
    sweep32_seconds: round(sweep32.seconds, 3),
    sweep_jobs: values["no-sweep-jobs"] ? null : await sweepJobs(days),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? "?", mem_gb: round(totalmem() / 2 ** 30, 1), node: process.version },
  };
  if (values.json) process.stdout.write(JSON.stringify(out) + "\n");
  else for (const [k, v] of Object.entries(out)) process.stdout.write(`${k.padEnd(22)} ${typeof v === "object" ? JSON.stringify(v) : v}\n`);
}

interface ChildResult {
  events: number;
  seconds: number;
  rssMb: number;
}

function runChild(args: string[]): ChildResult {
  const r = spawnSync(process.execPath, ["--import", "tsx", import.meta.filename, "--child", ...args, "--dir", dir, ...(values.quick ? ["--quick"] : [])], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`bench child ${args.join(" ")} failed (${r.status})`);
  const line = r.stdout.trim().split("\n").pop()!;
  return JSON.parse(line) as ChildResult;
}

/** Child: one measured job; prints {events, seconds, rssMb}. */
async function child(job: string): Promise<void> {
  const opts = { from: values.from, to: values.to };
  const t0 = performance.now();
  let events = 0;
  if (job === "read") {
    for await (const batch of readTapeEvents(tapeDir, opts)) events += batch.length;
  } else if (job === "replay") {
    const n = Number(values.configs);
    const configs: EngineConfig[] = [];
    for (let i = 0; i < n; i++) configs.push(sweepConfig(i));
    let writer: AuditWriter | null = null;
    let store = null;
    if (values.audit) {
      store = await openStore(":memory:");
      writer = new AuditWriter(store, "bench", "replay");
    }
    const replay = new Replay(configs.map((config, i) => ({ config, onRecord: i === 0 && writer ? (r) => writer!.write(r) : undefined })));
    for await (const batch of readTapeEvents(tapeDir, opts)) replay.feedBatch(batch);
    replay.finish();
    if (writer) await writer.close();
    if (store) await store.close();
    events = replay.stats.events;
  } else throw new Error(`unknown bench job ${job}`);
  const seconds = (performance.now() - t0) / 1000;
  const rssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ events, seconds, rssMb }) + "\n");
}

/** The i-th config of the reference sweep: a grid over EV threshold and spread filter. */
function sweepConfig(i: number): EngineConfig {
  if (i === 0) return DEFAULT_ENGINE_CONFIG;
  const evMins = [0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2];
  const spreads = [2, 4, 6, 10];
  return mergeEngineConfig(DEFAULT_ENGINE_CONFIG, {
    strategy: { evMin: evMins[i % evMins.length]!, spreadMaxTicks: spreads[Math.floor(i / evMins.length) % spreads.length]! },
  });
}

async function ensureTapes(days: readonly string[], hours: number): Promise<void> {
  mkdirSync(tapeDir, { recursive: true });
  for (const [i, day] of days.entries()) {
    const marker = join(tapeDir, `.done-${day}`);
    if (existsSync(marker)) continue;
    process.stderr.write(`bench: synthesizing ${day} (${hours} h, ${values.markets} markets per hour) into ${tapeDir} …\n`);
    const t0 = performance.now();
    const w = await openTapeWriter({ dir: tapeDir, segmentSeconds: 3600 });
    const s = await synthesize(
      {
        seed: 1000 + i,
        startDay: day,
        hours,
        candleCsvPath: CSV,
        marketsPerHour: Number(values.markets),
        spotTicksPerSecond: 12,
        deltasPerSecondPerMarket: 1,
        candleDay: `2023-03-0${(i % 9) + 1}`,
      },
      w,
    );
    await w.close();
    writeFileSync(marker, JSON.stringify(s.eventsByKind));
    process.stderr.write(`bench: ${day}: ${s.events} events in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  }
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
