/**
 * A collector whose writes fail reports the count and its CLI exits 3 (issue 14: "0 errors. Exit 0"
 * on a full disk). The log goes to /dev/full, where every write fails with ENOSPC.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";

const ROOT = resolve(import.meta.dirname, "../..");
let kalshi: FakeKalshi;
let dir: string;
beforeAll(async () => {
  kalshi = await startFakeKalshi({ flowIntervalMs: 20, brtiIntervalMs: 200, tickerIntervalMs: 0 });
  dir = mkdtempSync(join(tmpdir(), "collect-fail-"));
});
afterAll(async () => {
  await kalshi.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("collector write failures", () => {
  it("every log line refused → write_failures > 0 in the summary and exit 3", async () => {
    if (!existsSync("/dev/full")) return;
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ...kalshi.clientEnv,
      LOG_PATH: "/dev/full",
    };
    // Async spawn: the fake venue lives in this process and must keep answering.
    const child = spawn(process.execPath, ["--import", "tsx", "runners/collect.ts", "--kalshi", "--seconds", "1.5", "--tape", join(dir, "tape"), "--db", join(dir, "db.duckdb")], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    expect(code, out).toBe(3);
    expect(out).toMatch(/write_failures=[1-9]\d*/);
    expect(out).not.toMatch(/Exit 0/);
  }, 60_000);
});
