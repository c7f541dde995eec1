/**
 * journal/LOCK: pid + process start time (a reused pid is not the owner), and an atomic take-over of a
 * stale lock (two processes racing for it: one wins). Real processes, real files.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openTapeWriter } from "../../lib/tape/writer.ts";
import { verifyTape } from "../../lib/tape/verify.ts";
import { tempDirs } from "./helpers.ts";

const freshDir = tempDirs("tape-lock-");
const ROOT = path.resolve(import.meta.dirname, "../..");
const HAS_PROC = fs.existsSync("/proc/self/stat");
const DEAD_PID = 99_999_999; // above any pid_max

const startTime = (pid: number) => {
  const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return s.slice(s.lastIndexOf(")") + 2).split(" ")[19]!;
};

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});
async function unrelatedProcess(): Promise<number> {
  const c = spawn("sleep", ["60"], { stdio: "ignore" });
  children.push(c);
  await new Promise((r) => c.once("spawn", r));
  return c.pid!;
}
function lockDir(content: string): string {
  const dir = freshDir();
  fs.mkdirSync(path.join(dir, "journal"), { recursive: true });
  fs.writeFileSync(path.join(dir, "journal", "LOCK"), content);
  return dir;
}

describe.runIf(HAS_PROC)("journal/LOCK owner identity", () => {
  it("the lock holds the writer's pid and start time, and is removed on close", async () => {
    const dir = freshDir();
    const w = await openTapeWriter({ dir });
    expect(fs.readFileSync(path.join(dir, "journal", "LOCK"), "utf8").trim()).toBe(`${process.pid} ${startTime(process.pid)}`);
    await expect(openTapeWriter({ dir })).rejects.toThrow(/in use by pid/);
    await w.close();
    expect(fs.existsSync(path.join(dir, "journal", "LOCK"))).toBe(false);
  });

  it("a stale lock whose pid now belongs to an unrelated live process is taken over", async () => {
    const pid = await unrelatedProcess();
    const dir = lockDir(`${pid} ${Number(startTime(pid)) - 1}\n`);
    const w = await openTapeWriter({ dir });
    await w.close();
  });

  it("a lock naming a live process with its start time is respected; so is an old pid-only lock", async () => {
    const pid = await unrelatedProcess();
    await expect(openTapeWriter({ dir: lockDir(`${pid} ${startTime(pid)}\n`) })).rejects.toThrow(`in use by pid ${pid}`);
    await expect(openTapeWriter({ dir: lockDir(String(pid)) })).rejects.toThrow(`in use by pid ${pid}`);
    const w = await openTapeWriter({ dir: lockDir(String(DEAD_PID)) });
    await w.close();
  });

  it("verify does not call a reused pid a running writer", async () => {
    const pid = await unrelatedProcess();
    const dir = lockDir(`${pid} ${Number(startTime(pid)) - 1}\n`);
    fs.writeFileSync(path.join(dir, "journal", "seg-0001770890400000000-00000001.ndjson"), "{}\n");
    const r = await verifyTape(dir);
    expect(r.journals.writerAlive).toBe(false);
    expect(r.problems.join("\n")).toMatch(/not rolled and no writer running/);
    fs.writeFileSync(path.join(dir, "journal", "LOCK"), `${pid} ${startTime(pid)}\n`);
    expect((await verifyTape(dir)).journals.writerAlive).toBe(true);
  });
});

describe("taking over a stale lock", () => {
  it("two processes racing for the same stale lock: never both open", async () => {
    const N = 12;
    const STEP = 200;
    const dirs = Array.from({ length: N }, () => lockDir(`${DEAD_PID}\n`));
    const go = Date.now() + 4000; // past both children's start-up
    const run = () =>
      new Promise<string>((resolve) => {
        const c = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "tests/tape/lock-race-child.ts"), String(go), String(STEP), ...dirs], { cwd: ROOT });
        children.push(c);
        let out = "";
        c.stdout.on("data", (d) => (out += d));
        c.stderr.on("data", (d) => (out += d));
        c.on("exit", () => resolve(out));
      });
    const outs = await Promise.all([run(), run()]);
    const opened = (i: number) => outs.filter((o) => o.includes(`OPEN ${i}\n`)).length;
    const decided = (i: number) => outs.filter((o) => o.includes(`OPEN ${i}\n`) || o.includes(`REFUSED ${i}\n`)).length;
    for (let i = 0; i < N; i++) expect(decided(i), outs.join("\n---\n")).toBe(2);
    const both = Array.from({ length: N }, (_, i) => i).filter((i) => opened(i) === 2);
    const none = Array.from({ length: N }, (_, i) => i).filter((i) => opened(i) === 0);
    expect({ both, none }, outs.join("\n---\n")).toEqual({ both: [], none: [] });
  }, 60_000);
});
