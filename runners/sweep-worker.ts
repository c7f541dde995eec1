/**
 * npm run sweep-worker -- [--queue redis://HOST:PORT] [--queue-name NAME] [--tape DIR] [--out DIR]
 *                         [--concurrency N] [--lock-ms MS] [--stalled-ms MS]
 *
 * A worker of distributed sweeps (see runners/sweep.ts): pulls research jobs from BullMQ, replays
 * them against the lake and writes each result under the sweep's results directory. Run any number,
 * on any machines that reach the Redis and mount the lake and the results directory (at the paths
 * the coordinator used, or pass --tape / --out). The Redis URL defaults to $REDIS_URL.
 *
 * One line per job event goes to stdout ("start <id> …", "done <id> …"). SIGTERM/SIGINT finish the
 * running job and exit; a worker killed outright loses only its current job, which another worker
 * picks up once the job's lock (--lock-ms, default 30 000) has expired.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../lib/config.ts";
import { DEFAULT_QUEUE, startSweepWorker } from "../lib/run/queue.ts";

const { values } = parseArgs({
  options: {
    queue: { type: "string" },
    "queue-name": { type: "string", default: DEFAULT_QUEUE },
    tape: { type: "string" },
    out: { type: "string" },
    concurrency: { type: "string", default: "1" },
    "lock-ms": { type: "string", default: "30000" },
    "stalled-ms": { type: "string", default: "30000" },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});

try {
  if (values.help) {
    const doc = readFileSync(new URL(import.meta.url)).toString().split("*/")[0]!;
    process.stdout.write(doc.replace(/^\/\*\*?\n?/, "").replace(/^ \* ?/gm, "").trim() + "\n");
    process.exit(0);
  }
  const url = values.queue ?? process.env.REDIS_URL;
  if (!url || !/^rediss?:\/\//.test(url)) throw new ConfigError(["--queue (or REDIS_URL): expected redis://HOST:PORT"]);
  const int = (name: string, min: number): number => {
    const v = values[name as "concurrency"]!;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new ConfigError([`--${name}: expected an integer ≥ ${min}, got ${JSON.stringify(v)}`]);
    return n;
  };
  const worker = startSweepWorker({
    url,
    queue: values["queue-name"],
    tape: values.tape ? resolve(values.tape) : undefined,
    out: values.out ? resolve(values.out) : undefined,
    concurrency: int("concurrency", 1),
    lockMs: int("lock-ms", 1000),
    stalledMs: int("stalled-ms", 500),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  await worker.waitUntilReady();
  process.stdout.write(`ready ${values["queue-name"]} pid ${process.pid}\n`);
  let closing = false;
  const stop = (sig: string): void => {
    if (closing) return;
    closing = true;
    process.stdout.write(`${sig}: finishing the current job\n`);
    worker.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
} catch (err) {
  process.stderr.write(err instanceof ConfigError ? `${err.message}\n` : `sweep-worker failed: ${(err as Error).message}\n`);
  process.exit(2);
}
