/**
 * Collector memory under load: the fake Kalshi venue (this process) sends book changes at a target
 * rate to a real collector (a child process: `runners/collect.ts --kalshi`, tape + store on a temp
 * folder), and the collector's resident memory is sampled from /proc every 250 ms.
 *
 *   npm run soak:collector [-- --rate 20000] [--seconds 30] [--json]
 *
 * Prints the rate the collector actually received (its own frame count / seconds), peak and final
 * RSS, and whether the peak stays under the 400 MB target. A measurement, not a test: exit 0 when
 * under the target and the achieved rate is at least 80 % of the asked one, 1 otherwise.
 * SOAK_NODE_OPTIONS is passed to the collector as NODE_OPTIONS (e.g. a --require that logs
 * process.memoryUsage()); SOAK_SHOW_OUTPUT=1 prints the collector's output; SOAK_KEEP=1 keeps its folder.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startFakeKalshi } from "../lib/venues/fake/index.ts";

const TARGET_MB = 400;

function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { rate: { type: "string", default: "20000" }, seconds: { type: "string", default: "30" }, json: { type: "boolean", default: false } },
    strict: true,
  });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  if (!(rate > 0) || !(seconds > 0)) throw new Error("--rate and --seconds must be positive numbers");
  // The fake sends what the elapsed time owes at each 1-ms tick (setInterval fires < 1000×/s).
  const kalshi = await startFakeKalshi({ flowIntervalMs: 1, flowPerSecond: rate, tradeShare: 0.05, tickerIntervalMs: 0, brtiIntervalMs: 1000, seed: 7 });
  const dir = mkdtempSync(join(tmpdir(), "soak-collector-"));
  const root = resolve(import.meta.dirname, "..");
  const child = spawn(process.execPath, ["--import", "tsx", "runners/collect.ts", "--kalshi", "--seconds", String(seconds), "--tape", join(dir, "tape"), "--db", join(dir, "db.duckdb")], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ...kalshi.clientEnv,
      LOG_PATH: join(dir, "collect.jsonl"),
      ...(process.env.SOAK_NODE_OPTIONS ? { NODE_OPTIONS: process.env.SOAK_NODE_OPTIONS } : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  let peak = 0;
  let last = 0;
  const samples: number[] = [];
  const timer = setInterval(() => {
    const r = rssMb(child.pid!);
    if (r === null) return;
    last = r;
    samples.push(r);
    if (r > peak) peak = r;
  }, 250);
  const code: number = await new Promise((res) => child.once("exit", (c) => res(c ?? 1)));
  clearInterval(timer);
  await kalshi.close();
  if (process.env.SOAK_KEEP) process.stderr.write(`soak:collector: capture, store and log kept in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
  const frames = Number(/kalshi_frames=(\d+)/.exec(out)?.[1] ?? 0);
  const achieved = frames / seconds;
  const ok = code === 0 && peak < TARGET_MB && achieved >= 0.8 * rate;
  const timeline = samples.filter((_, i) => i % 4 === 0).map((x) => Math.round(x));
  const summary = { timeline, askedRate: rate, achievedRate: Math.round(achieved), seconds, frames, peakRssMb: Math.round(peak), finalRssMb: Math.round(last), samples: samples.length, targetMb: TARGET_MB, collectorExit: code, ok };
  if (values.json) process.stdout.write(JSON.stringify(summary) + "\n");
  else {
    process.stdout.write(
      `collector at ${summary.achievedRate} msg/s (asked ${rate}) for ${seconds} s: ${frames} frames · peak RSS ${summary.peakRssMb} MB · final ${summary.finalRssMb} MB · ` +
        `target < ${TARGET_MB} MB: ${peak < TARGET_MB ? "MET" : "MISSED"}${achieved < 0.8 * rate ? " (rate below 80 % of the asked one: the load generator could not keep up)" : ""}\n`,
    );
    if (code !== 0 || process.env.SOAK_SHOW_OUTPUT) process.stdout.write(out.slice(-4000));
  }
  return ok ? 0 : 1;
}

main().then(
  (c) => process.exit(c),
  (e: unknown) => {
    process.stderr.write(`soak:collector failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  },
);
