import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { ConfigError, ENV_NAMES, loadConfig, parseEngineOverrides } from "../../lib/config.ts";

describe("configuration from the environment", () => {
  test("the spec's defaults", () => {
    const c = loadConfig({});
    expect(c.env.TAU_MAX_MINUTES).toBe(60);
    expect(c.env.EV_MIN).toBe(0.03);
    expect(c.env.SPREAD_MAX_TICKS).toBe(6);
    expect(c.env.NO_NEW_ENTRIES_LAST_SECONDS).toBe(120);
    expect(c.env.MAX_OPEN_POSITIONS).toBe(1);
    expect(c.env.TRADING_ENABLED).toBe(false);
    expect(c.env.COINBASE_STALE_SECONDS).toBe(10);
    expect(c.kalshi.env).toBe("demo");
    expect(c.kalshi.restUrl).toBe("https://external-api.demo.kalshi.co/trade-api/v2");
    expect(c.engine.strategy.evMin).toBe(0.03);
  });
  test("values flow into the engine config", () => {
    const c = loadConfig({ EV_MIN: "0.05", TRADING_ENABLED: "1", KALSHI_ENV: "prod", MAX_OPEN_POSITIONS: "3" });
    expect(c.engine.strategy.evMin).toBe(0.05);
    expect(c.env.TRADING_ENABLED).toBe(true);
    expect(c.engine.risk.maxOpenPositions).toBe(3);
    expect(c.kalshi.wsUrl).toBe("wss://external-api-ws.kalshi.com/trade-api/ws/v2");
  });
  test("a bad value is a clear error naming the variable", () => {
    const bad = (env: Record<string, string>, name: string) => {
      try {
        loadConfig(env);
        throw new Error("accepted");
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as Error).message).toContain(name);
      }
    };
    bad({ EV_MIN: "lots" }, "EV_MIN");
    bad({ TRADING_ENABLED: "yes" }, "TRADING_ENABLED");
    bad({ KALSHI_ENV: "staging" }, "KALSHI_ENV");
    bad({ MAX_POSITION_PCT: "2" }, "MAX_POSITION_PCT");
    bad({ KALSHI_REST_URL: "not a url" }, "KALSHI_REST_URL");
  });
  test("a private key path never appears in error text for key variables", () => {
    try {
      loadConfig({ KALSHI_API_KEY_ID: "", EV_MIN: "x" });
    } catch (e) {
      expect((e as Error).message).not.toMatch(/BEGIN/);
    }
  });
  test(".env.example documents every variable", () => {
    const text = readFileSync(join(import.meta.dirname, "../../.env.example"), "utf8");
    const missing = ENV_NAMES.filter((n) => !new RegExp(`^#?\\s*${n}=`, "m").test(text));
    expect(missing).toEqual([]);
  });
  test("--config overrides are validated", () => {
    expect(parseEngineOverrides({ strategy: { evMin: 0.1 } })).toEqual({ strategy: { evMin: 0.1 } });
    expect(() => parseEngineOverrides({ strategy: { evMinn: 0.1 } })).toThrow(ConfigError);
    expect(() => parseEngineOverrides({ risk: { maxPositionPct: 3 } })).toThrow(/risk.maxPositionPct/);
  });
});
