/**
 * A Redis for local runs (tests, the benchmark): $REDIS_URL when set (.ci/run starts redis-server and
 * sets it), else a private redis-server on 127.0.0.1 and a free port, without persistence, when the
 * Debian binary is installed. Production workers point at a real Redis instead (README).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { Redis } from "ioredis";

export interface LocalRedis {
  readonly url: string;
  stop(): Promise<void>;
}

export function redisAvailable(): boolean {
  if (process.env.REDIS_URL) return true;
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (a && typeof a === "object" ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

async function ping(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on("error", () => {}); // a refused connection while redis-server starts is expected
  try {
    await r.connect();
    return (await r.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export async function startRedis(): Promise<LocalRedis> {
  const env = process.env.REDIS_URL;
  if (env) {
    if (!(await ping(env))) throw new Error(`REDIS_URL=${env} does not answer PING`);
    return { url: env, stop: async () => {} };
  }
  if (spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status !== 0) {
    throw new Error("redis-server is not installed (apt-get install redis-server) and REDIS_URL is not set");
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    const url = `redis://127.0.0.1:${port}`;
    for (let i = 0; i < 50 && child.exitCode === null; i++) {
      if (await ping(url)) {
        return {
          url,
          stop: async () => {
            if (child.exitCode !== null) return;
            const gone = new Promise((r) => child.once("exit", r));
            child.kill("SIGTERM");
            await gone;
          },
        };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill("SIGKILL");
  }
  throw new Error("could not start redis-server");
}
