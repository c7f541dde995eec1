/**
 * lib/core must stay pure and deterministic: no wall clock, randomness, timers, environment or IO.
 * Two independent checks: a static scan of the source, and a run of the engine with every such
 * global trapped so that any use throws.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test, vi } from "vitest";

const CORE = join(import.meta.dirname, "../../lib/core");

const FORBIDDEN: [RegExp, string][] = [
  [/\bDate\.now\s*\(/, "Date.now()"],
  [/\bnew\s+Date\s*\(\s*\)/, "new Date() without an argument"],
  [/\bperformance\.now\s*\(/, "performance.now()"],
  [/\bMath\.random\s*\(/, "Math.random()"],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\s*\(/, "timers"],
  [/\bprocess\./, "process.*"],
  [/\bhrtime\b/, "hrtime"],
  [/\bcrypto\.(randomUUID|getRandomValues|randomBytes)\b/, "crypto randomness"],
  [/\bfetch\s*\(/, "fetch()"],
  [/\bimport\s*\(/, "dynamic import"],
  [/from\s+["'](node:)?(fs|fs\/promises|net|http|https|http2|dgram|child_process|worker_threads|os|crypto|tls|dns|readline|perf_hooks)["']/, "Node IO/system modules"],
  [/from\s+["'](ws|@duckdb\/node-api|apache-arrow)["']/, "IO packages"],
];

/** Returns the violations in one file's text (comments stripped). */
export function scan(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
  const found: string[] = [];
  for (const [re, what] of FORBIDDEN) if (re.test(code)) found.push(what);
  return found;
}

describe("lib/core purity", () => {
  test("the scanner catches each forbidden construct (so the next test can fail)", () => {
    expect(scan("const t = Date.now();")).toContain("Date.now()");
    expect(scan("const d = new Date();")).toContain("new Date() without an argument");
    expect(scan("const d = new Date(ts);")).toEqual([]);
    expect(scan("x = Math.random()")).toContain("Math.random()");
    expect(scan("setTimeout(f, 1)")).toContain("timers");
    expect(scan('import { readFileSync } from "node:fs";')).toContain("Node IO/system modules");
    expect(scan('import WebSocket from "ws";')).toContain("IO packages");
    expect(scan("const e = process.env.X")).toContain("process.*");
    expect(scan("// Date.now() in a comment is fine")).toEqual([]);
  });

  test("no file in lib/core uses the wall clock, randomness, timers, env or IO", () => {
    const files = readdirSync(CORE).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(8);
    const violations: string[] = [];
    for (const f of files) for (const v of scan(readFileSync(join(CORE, f), "utf8"))) violations.push(`${f}: ${v}`);
    expect(violations).toEqual([]);
  });

  afterEach(() => vi.restoreAllMocks());

  test("the engine runs with clock, randomness and timers trapped", async () => {
    const trap = (what: string) => () => {
      throw new Error(`lib/core used ${what}`);
    };
    vi.spyOn(Date, "now").mockImplementation(trap("Date.now"));
    vi.spyOn(Math, "random").mockImplementation(trap("Math.random"));
    vi.spyOn(performance, "now").mockImplementation(trap("performance.now"));
    vi.spyOn(globalThis, "setTimeout").mockImplementation(trap("setTimeout") as never);
    vi.spyOn(globalThis, "setInterval").mockImplementation(trap("setInterval") as never);
    const { Engine } = await import("../../lib/core/engine.ts");
    const { DEFAULT_ENGINE_CONFIG } = await import("../../lib/core/config.ts");
    const h = await import("../helpers/scenario.ts");
    const close = h.T0 + 3000 * h.S;
    const events = h.merge(
      [h.marketInfo("KXBTCD-26NOV2517-T99999.99", 99_999.99, close)],
      h.spotWalk(1500, 100_000, 0.0002, 1),
      [h.snapshot(h.T0 + 5 * h.S, "KXBTCD-26NOV2517-T99999.99", 1, 1, [[4000, 1000]], [[5500, 1000]])],
    );
    const out: unknown[] = [];
    const engine = new Engine(DEFAULT_ENGINE_CONFIG, { intent: (i) => out.push(i), record: (r) => out.push(r) });
    for (const e of events) engine.onEvent(e);
    expect(out.length).toBeGreaterThan(100);
  });
});
