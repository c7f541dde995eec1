/**
 * Absurd or dangerous settings are refused with an error that names the variable and never echoes its
 * value (issue 14). The paper runner is driven end to end against the fake venues where the refusal
 * must happen before anything runs.
 */
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, ENV_RANGES, MAX_TIMER_SECONDS, loadConfig } from "../../lib/config.ts";
import { runCli } from "../../lib/live/runtime.ts";
import { startFakes, tradingEnv, type Fakes } from "./harness.ts";

function problem(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(env)}`);
}

describe("environment validation", () => {
  it("booleans take exactly 0 or 1: TRADING_ENABLED=true is refused, not silently enabled", () => {
    expect(problem({ TRADING_ENABLED: "true" })).toMatch(/TRADING_ENABLED/);
    expect(problem({ TRADING_ENABLED: "yes" })).toMatch(/TRADING_ENABLED/);
    expect(problem({ POST_ONLY: "false" })).toMatch(/POST_ONLY/);
    expect(loadConfig({ TRADING_ENABLED: "1" }).env.TRADING_ENABLED).toBe(true);
    expect(loadConfig({ TRADING_ENABLED: "0" }).env.TRADING_ENABLED).toBe(false);
  });

  it("timers above 2^31 ms are refused (Node would fire them after 1 ms)", () => {
    for (const name of ["STATUS_SECONDS", "RECONCILE_SECONDS", "COLLECTOR_SECONDS"]) {
      expect(problem({ [name]: "3000000" })).toMatch(new RegExp(name));
    }
    expect(MAX_TIMER_SECONDS * 1000).toBeLessThanOrEqual(2 ** 31 - 1);
    expect(loadConfig({ COLLECTOR_SECONDS: String(MAX_TIMER_SECONDS) }).env.COLLECTOR_SECONDS).toBe(MAX_TIMER_SECONDS);
  });

  it("ORDER_CONTRACTS=1e308 and STARTING_BALANCE_DOLLARS=1e308 are refused, naming the variable", () => {
    expect(problem({ ORDER_CONTRACTS: "1e308" })).toMatch(/ORDER_CONTRACTS/);
    expect(problem({ ORDER_CONTRACTS: "0.005" })).toMatch(/ORDER_CONTRACTS/);
    expect(problem({ STARTING_BALANCE_DOLLARS: "1e308" })).toMatch(/STARTING_BALANCE_DOLLARS/);
  });

  it("every numeric variable enforces its documented range, and .env.example documents exactly that range", () => {
    const doc = readFileSync(join(import.meta.dirname, "../../.env.example"), "utf8");
    for (const [name, r] of Object.entries(ENV_RANGES)) {
      const [min, max] = r;
      expect(doc, name).toContain(`# ${name}: [${min}, ${max}]`);
      expect(() => loadConfig({ [name]: String(max) }), name).not.toThrow();
      expect(() => loadConfig({ [name]: String(min) }), name).not.toThrow();
      expect(problem({ [name]: String(max + 1) }), name).toContain(name);
      expect(problem({ [name]: String(min - 1) }), name).toContain(name);
      expect(problem({ [name]: "NaN" }), name).toContain(name);
    }
  });

  it("an empty value is an error where the default would change the venue (URLs, env, keys)", () => {
    for (const name of ["KALSHI_REST_URL", "KALSHI_WS_URL", "COINBASE_WS_URL", "KALSHI_ENV", "KALSHI_API_KEY_ID"]) {
      expect(problem({ [name]: "" })).toMatch(new RegExp(`${name}: .*empty`));
    }
    // Elsewhere empty still means "the default".
    expect(loadConfig({ EV_MIN: "", KALSHI_MARKET_TICKERS: "" }).env.EV_MIN).toBe(0.03);
  });

  it("error messages never echo the offending value (a PEM line pasted into KALSHI_ENV)", () => {
    const pem = "-----BEGIN PRIVATE KEY-----MIIEvQIBADANBgkqhkiG9w0BAQEFAASC";
    const msg = problem({ KALSHI_ENV: pem, EV_MIN: "secret-ish-42", KALSHI_REST_URL: "MIIEvQIBADANBgkq" });
    expect(msg).toMatch(/KALSHI_ENV/);
    expect(msg).toMatch(/EV_MIN/);
    expect(msg).not.toMatch(/BEGIN|MIIE|secret-ish/);
  });
});

describe("paper runner refuses unsafe files before it starts", () => {
  let fakes: Fakes | null = null;
  let dir = "";
  afterEach(async () => {
    await fakes?.close();
    fakes = null;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const envFor = (f: Fakes, extra: Record<string, string>) => ({
    ...tradingEnv(f),
    LOG_PATH: join(dir, "app.jsonl"),
    TAPE_DIR: join(dir, "tapes"),
    ...extra,
  });

  it("a private key readable by others (mode 644) is refused; ALLOW_OPEN_KEY_FILE=1 accepts it with a warning", async () => {
    fakes = await startFakes();
    dir = mkdtempSync(join(tmpdir(), "cfg-safety-"));
    const key = join(dir, "key.pem");
    copyFileSync(fakes.kalshi.privateKeyPath, key);
    chmodSync(key, 0o644);
    const refused = await runCli("paper", ["--seconds", "0.5", "--no-store", "--no-tape"], envFor(fakes, { KALSHI_PRIVATE_KEY_PATH: key }));
    expect(refused.exitCode).toBe(2);
    const allowed = await runCli("paper", ["--seconds", "0.5", "--no-store", "--no-tape"], envFor(fakes, { KALSHI_PRIVATE_KEY_PATH: key, ALLOW_OPEN_KEY_FILE: "1" }));
    expect(allowed.exitCode).toBe(0);
  }, 30_000);

  it("LOG_PATH naming a directory is refused", async () => {
    fakes = await startFakes();
    dir = mkdtempSync(join(tmpdir(), "cfg-safety-"));
    const r = await runCli("paper", ["--seconds", "0.5", "--no-store", "--no-tape"], envFor(fakes, { LOG_PATH: dir }));
    expect(r.exitCode).toBe(2);
  }, 30_000);

  it("--seconds above the timer limit is refused instead of stopping at once with exit 0", async () => {
    fakes = await startFakes();
    dir = mkdtempSync(join(tmpdir(), "cfg-safety-"));
    const r = await runCli("paper", ["--seconds", "3000000", "--no-store", "--no-tape"], envFor(fakes, {}));
    expect(r.exitCode).toBe(2);
  }, 30_000);
});
