/**
 * Paper after a crash and on a failing disk (issue 14): a `kill -9`'d run's tape is recovered when the
 * next run starts (it used to stay a bare journal: verify "empty", replay 0 events), and any lost
 * write makes the run exit non-zero with the count instead of "0 errors. Exit 0".
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../../lib/live/runtime.ts";
import { readTapeEvents } from "../../lib/tape/reader.ts";
import { verifyTape } from "../../lib/tape/verify.ts";
import { startFakes, tradingEnv, waitFor, type Fakes } from "./harness.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
let fakes: Fakes | null = null;
let dir = "";
afterEach(async () => {
  await fakes?.close();
  fakes = null;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const journalBytes = (tapeRoot: string): number => {
  if (!fs.existsSync(tapeRoot)) return 0;
  let n = 0;
  for (const run of fs.readdirSync(tapeRoot)) {
    const j = path.join(tapeRoot, run, "journal");
    if (!fs.existsSync(j)) continue;
    for (const f of fs.readdirSync(j)) if (f.endsWith(".ndjson")) n += fs.statSync(path.join(j, f)).size;
  }
  return n;
};

describe("paper: kill -9, then restart", () => {
  it("the next run rolls the dead run's journal: its tape verifies without journal problems and replays its events", async () => {
    fakes = await startFakes();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "crash-restart-"));
    const tapes = path.join(dir, "tapes");
    const env = { ...tradingEnv(fakes), TAPE_DIR: tapes, LOG_PATH: path.join(dir, "app.jsonl") };
    const child = spawn(process.execPath, ["--import", "tsx", "runners/paper.ts", "--no-store"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: "ignore",
    });
    await waitFor("journal data", () => journalBytes(tapes) > 20_000, 30_000, 100);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const [dead] = fs.readdirSync(tapes);
    const deadDir = path.join(tapes, dead!);
    const before = await verifyTape(deadDir);
    expect(before.healthy).toBe(false); // only a journal so far
    const r = await runCli("paper", ["--seconds", "0.5", "--no-store"], env);
    expect(r.exitCode).toBe(0);
    const after = await verifyTape(deadDir);
    expect(after.journals.files).toEqual([]);
    expect(after.totals.events).toBeGreaterThan(0);
    let n = 0;
    for await (const b of readTapeEvents(deadDir)) n += b.length;
    expect(n).toBe(after.totals.events);
  }, 90_000);
});

describe("paper: lost writes fail the run", () => {
  it("every log line refused (LOG_PATH on /dev/full) → exit 3 and the count", async () => {
    if (!fs.existsSync("/dev/full")) return;
    fakes = await startFakes();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "write-fail-"));
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      lines.push(String(chunk));
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write;
    let r;
    try {
      r = await runCli("paper", ["--seconds", "1", "--no-store", "--no-tape"], { ...tradingEnv(fakes), LOG_PATH: "/dev/full" });
    } finally {
      process.stdout.write = write;
    }
    expect(r.exitCode).toBe(3);
    const text = lines.join("");
    expect(text).toMatch(/WRITE FAILURES: [1-9]\d*/);
    expect(text).not.toMatch(/Exit 0/);
    expect(text.trim().split("\n").at(-1)).toMatch(/^exit 3/);
  }, 60_000);
});
