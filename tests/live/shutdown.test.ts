/**
 * Shutdown under hostile conditions (issue 14): a venue whose order list fails during the kill switch,
 * cancels that fail, and — through a real child process started with the README's own command —
 * repeated signals while the kill switch runs. The fake venue's order state is the oracle.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { sleep } from "../../lib/live/clock.ts";
import { startFakes, startRuntime, tradingEnv, waitFor, type Fakes, type Harness } from "./harness.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

let fakes: Fakes | null = null;
let h: Harness | null = null;
let child: ChildProcess | null = null;

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  child = null;
  await h?.close();
  await fakes?.close();
  h = null;
  fakes = null;
});

const resting = (f: Fakes) => f.kalshi.state.orders().filter((o) => o.status === "resting");

function liveEnv(f: Fakes, markets: number, extra: Record<string, string> = {}): Record<string, string> {
  return tradingEnv(f, { TRADING_ENABLED: "1", KALSHI_MARKET_TICKERS: f.kalshi.state.tickers().slice(0, markets).join(","), ...extra });
}

describe("kill switch when the venue misbehaves", () => {
  it("GET /portfolio/orders answering 503: a cancel still goes out for every order the engine knows; exit 1, no '0 resting' claim", async () => {
    fakes = await startFakes();
    h = await startRuntime("live", liveEnv(fakes, 3));
    await waitFor("three resting", () => resting(fakes!).length === 3, 10_000);
    await sleep(300);
    fakes.kalshi.faults.rest("GET /portfolio/orders", { kind: 503, count: 100_000 });
    h.rt.kill("test kill");
    const res = await h.done;
    expect(resting(fakes)).toHaveLength(0);
    // The venue could not list orders, so nothing account-wide is confirmed: the operator must look.
    expect(res.exitCode).not.toBe(0);
    const text = h.lines.join("\n");
    expect(text).not.toMatch(/\b0 resting/i);
    expect(text).toMatch(/could not list/i);
  }, 30_000);

  it("cancels that keep failing: exit 1 and the message names every order not confirmed cancelled", async () => {
    fakes = await startFakes();
    h = await startRuntime("live", liveEnv(fakes, 3));
    await waitFor("three resting", () => resting(fakes!).length === 3, 10_000);
    await sleep(300);
    const ids = resting(fakes).map((o) => o.orderId);
    fakes.kalshi.faults.rest("DELETE /portfolio/events/orders/{id}", { kind: 503, count: 100_000 });
    h.rt.kill("test kill");
    const res = await h.done;
    expect(res.exitCode).toBe(1);
    const text = h.lines.join("\n");
    for (const id of ids) expect(text).toContain(id);
    fakes.kalshi.faults.clear();
  }, 40_000);

  it("kill() while stopping re-prints progress instead of being ignored or starting over", async () => {
    fakes = await startFakes();
    h = await startRuntime("live", liveEnv(fakes, 2));
    await waitFor("two resting", () => resting(fakes!).length === 2, 10_000);
    fakes.kalshi.faults.rest("GET /portfolio/orders", { kind: "delay", ms: 800, count: 1 });
    h.rt.kill("first");
    await sleep(100);
    h.rt.kill("second");
    const res = await h.done;
    expect(res.exitCode).toBe(0);
    expect(resting(fakes)).toHaveLength(0);
    expect(h.lines.filter((l) => /KILL SWITCH engaged/.test(l))).toHaveLength(1);
    expect(h.lines.some((l) => /already stopping/i.test(l))).toBe(true);
  }, 30_000);
});

/** The README's systemd ExecStart, with /usr/bin/env dropped: the exact command a deployment runs. */
function documentedCommand(): string[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const line = readme.split("\n").find((l) => l.startsWith("ExecStart="));
  expect(line, "README has a systemd ExecStart line").toBeDefined();
  const words = line!.slice("ExecStart=".length).trim().split(/\s+/);
  return words[0] === "/usr/bin/env" ? words.slice(1) : words;
}

function startDocumented(f: Fakes, extraEnv: Record<string, string> = {}): { child: ChildProcess; out: string[] } {
  const [cmd, ...args] = documentedCommand();
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...liveEnv(f, 3), ...extraEnv };
  const c = spawn(cmd!, [...args, "--no-store", "--no-tape"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const out: string[] = [];
  c.stdout!.on("data", (d: Buffer) => out.push(d.toString()));
  c.stderr!.on("data", (d: Buffer) => out.push(d.toString()));
  return { child: c, out };
}

const exited = (c: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve({ code: c.exitCode, signal: c.signalCode });
    c.once("exit", (code, signal) => resolve({ code, signal }));
  });

describe("signals to the documented command (README systemd ExecStart)", () => {
  it("the command starts node itself (no wrapper process between the service manager and the runner)", () => {
    const [cmd] = documentedCommand();
    expect(cmd).toBe("node");
  });

  it("SIGTERM to its PID: every order cancelled at the venue, exit 0", async () => {
    fakes = await startFakes();
    const s = startDocumented(fakes);
    child = s.child;
    await waitFor("three resting", () => resting(fakes!).length === 3, 30_000, 100);
    child.kill("SIGTERM");
    const r = await exited(child);
    expect(resting(fakes)).toHaveLength(0);
    expect(r.code, s.out.join("")).toBe(0);
  }, 60_000);

  it("a second SIGINT and a SIGTERM while the kill switch runs only re-print progress; nothing is left resting", async () => {
    fakes = await startFakes();
    const s = startDocumented(fakes);
    child = s.child;
    await waitFor("three resting", () => resting(fakes!).length === 3, 30_000, 100);
    // Hold the kill switch's first order listing so the next signals land mid-shutdown.
    fakes.kalshi.faults.rest("GET /portfolio/orders", { kind: "delay", ms: 1500, count: 1 });
    child.kill("SIGINT");
    await waitFor("kill switch engaged", () => /KILL SWITCH engaged/.test(s.out.join("")), 10_000);
    child.kill("SIGINT");
    await sleep(100);
    child.kill("SIGTERM");
    const r = await exited(child);
    expect(resting(fakes)).toHaveLength(0);
    expect(r.signal, s.out.join("")).toBeNull();
    expect(r.code, s.out.join("")).toBe(0);
    expect(s.out.join("")).toMatch(/already stopping/i);
  }, 60_000);
});
