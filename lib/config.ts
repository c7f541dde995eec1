/**
 * Configuration from environment variables (and an optional JSON file of engine overrides), validated
 * with zod in this one module. A bad value is an error naming the variable. Every variable of the
 * product spec's "Configuration" section is here, plus the engine's own knobs; `.env.example` lists
 * them all with their defaults.
 */
import { z } from "zod";
import { KALSHI_HOSTS } from "./venues/kalshi/auth.ts";
import {
  DEFAULT_ENGINE_CONFIG as D,
  mergeEngineConfig,
  type EngineConfig,
  type EngineConfigOverrides,
} from "./core/config.ts";

const bool01 = z
  .enum(["0", "1", "true", "false"])
  .transform((v) => v === "1" || v === "true");
const num = (min: number, max = Number.POSITIVE_INFINITY) => z.coerce.number().refine((v) => Number.isFinite(v) && v >= min && v <= max, {
  message: `must be a number in [${min}, ${max}]`,
});
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const csv = z
  .string()
  .transform((s) => s.split(",").map((x) => x.trim()).filter((x) => x.length > 0));
const url = z.string().url();


/** Every variable, its schema and default (undefined = optional with no default). */
const ENV_SCHEMA = {
  // Kalshi
  KALSHI_ENV: z.enum(["demo", "prod"]).default("demo"),
  KALSHI_API_KEY_ID: z.string().min(1).optional(),
  KALSHI_PRIVATE_KEY_PATH: z.string().min(1).optional(),
  KALSHI_REST_URL: url.optional(),
  KALSHI_WS_URL: url.optional(),
  KALSHI_WS_AUTH_MODE: z.enum(["header", "query"]).default("header"),
  KALSHI_WS_AUTH_QUERY_KEY: z.string().min(1).default("api_key"),
  KALSHI_WS_AUTH_QUERY_SIGNATURE: z.string().min(1).default("signature"),
  KALSHI_WS_AUTH_QUERY_TIMESTAMP: z.string().min(1).default("timestamp"),
  KALSHI_WS_USE_YES_PRICE: bool01.default(false),
  KALSHI_MARKET_TICKERS: csv.default([]),
  KALSHI_MARKET_STATUS: z.enum(["unopened", "open", "paused", "closed", "settled"]).default("open"),
  KALSHI_MARKET_LIMIT: int(1, 1000).default(100),
  KALSHI_MARKET_MAX_PAGES: int(1, 1000).default(1),
  KALSHI_EVENT_TICKER: z.string().min(1).optional(),
  KALSHI_SERIES_TICKER: z.string().min(1).optional(),
  KALSHI_SERIES: csv.default(["KXBTCD", "KXBTC", "KXBTC15M"]),
  KALSHI_STALE_SECONDS: num(1).default(D.strategy.bookStaleSeconds),
  KALSHI_READ_TOKENS_PER_SECOND: num(1).default(200),
  KALSHI_WRITE_TOKENS_PER_SECOND: num(1).default(D.orders.writeTokensPerSecond),
  KALSHI_WRITE_BUCKET_CAPACITY: num(1).default(D.orders.writeBucketCapacity),
  KALSHI_EXCHANGE_INDEX: z.coerce.number().int().min(-1).optional(),
  // Coinbase
  COINBASE_WS_URL: url.default("wss://advanced-trade-ws.coinbase.com"),
  COINBASE_PRODUCT_ID: z.string().min(1).default("BTC-USD"),
  COINBASE_STALE_SECONDS: num(0.1).default(D.strategy.spotStaleSeconds),
  COINBASE_LEVEL2: bool01.default(false),
  COLLECTOR_SECONDS: num(0.1).default(60),
  // Storage / logging
  DB_PATH: z.string().min(1).default("./data/kalshi.duckdb"),
  LOG_PATH: z.string().min(1).default("./logs/app.jsonl"),
  TAPE_DIR: z.string().min(1).default("./data/tapes"),
  // Safety
  TRADING_ENABLED: bool01.default(false),
  MAX_DAILY_LOSS_PCT: num(0, 1).default(D.risk.maxDailyLossPct),
  MAX_POSITION_PCT: num(0, 1).default(D.risk.maxPositionPct),
  MAX_EXPOSURE_PCT: num(0, 1).default(D.risk.maxExposurePct),
  MAX_OPEN_POSITIONS: int(0).default(D.risk.maxOpenPositions),
  KILL_FILE: z.string().min(1).default("./KILL"),
  RECONCILE_SECONDS: num(1).default(30),
  RECONCILE_MAX_AGE_SECONDS: num(0).default(90),
  STATUS_SECONDS: num(1).default(10),
  // Strategy
  TAU_MAX_MINUTES: num(0).default(D.strategy.tauMaxMinutes),
  EV_MIN: num(0, 1).default(D.strategy.evMin),
  SPREAD_MAX_TICKS: num(0).default(D.strategy.spreadMaxTicks),
  NO_NEW_ENTRIES_LAST_SECONDS: num(0).default(D.strategy.noNewEntriesLastSeconds),
  EVAL_INTERVAL_SECONDS: num(0).default(D.strategy.evalIntervalSeconds),
  ORDER_CONTRACTS: num(0.01).default(D.strategy.orderContracts),
  EXECUTION: z.enum(["taker", "maker"]).default(D.strategy.execution),
  POST_ONLY: bool01.default(D.orders.postOnly),
  SLIPPAGE_TICKS: num(0).default(D.fees.slippageTicks),
  FEE_ROUNDING: z.enum(["order_cent", "fill_centicent"]).default(D.fees.rounding),
  // Models
  VOL_METHOD: z.enum(["ewma", "window"]).default(D.vol.method),
  VOL_GRID_SECONDS: num(0.001).default(D.vol.gridSeconds),
  VOL_HALF_LIFE_SECONDS: num(1).default(D.vol.ewmaHalfLifeSeconds),
  VOL_WINDOW_SECONDS: num(1).default(D.vol.windowSeconds),
  VOL_MIN_SAMPLES: int(2).default(D.vol.minSamples),
  MODEL_SIGMA_FLOOR: num(0).default(D.model.sigmaFloor),
  MODEL_BASIS_VOL: num(0).default(D.model.basisVol),
  MODEL_BASIS_USD: num(0).default(D.model.basisUsd),
  MODEL_SHRINK: num(0, 1).default(D.model.shrinkToHalf),
  // Replay / paper
  STARTING_BALANCE_DOLLARS: num(0).default(D.risk.startingBalanceDollars),
} as const;

export type EnvName = keyof typeof ENV_SCHEMA;
export const ENV_NAMES = Object.keys(ENV_SCHEMA) as EnvName[];

const envObject = z.object(ENV_SCHEMA);
export type Env = z.infer<typeof envObject>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

export interface AppConfig {
  readonly env: Env;
  readonly kalshi: {
    readonly env: "demo" | "prod";
    readonly restUrl: string;
    readonly wsUrl: string;
    readonly apiKeyId: string | undefined;
    readonly privateKeyPath: string | undefined;
  };
  readonly engine: EngineConfig;
}

/** Parse an environment (pass `process.env`); unknown variables are ignored, empty strings count as unset. */
export function loadConfig(source: Record<string, string | undefined>, overrides?: EngineConfigOverrides): AppConfig {
  const picked: Record<string, string> = {};
  for (const name of ENV_NAMES) {
    const v = source[name];
    if (v !== undefined && v.trim() !== "") picked[name] = v.trim();
  }
  const parsed = envObject.safeParse(picked);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? "?");
      const shown = name in picked && !/KEY|SECRET/.test(name) ? ` (got ${JSON.stringify(picked[name])})` : "";
      return `${name}: ${i.message}${shown}`;
    });
    throw new ConfigError(problems);
  }
  const env = parsed.data;
  const hosts = KALSHI_HOSTS[env.KALSHI_ENV];
  return {
    env,
    kalshi: {
      env: env.KALSHI_ENV,
      restUrl: env.KALSHI_REST_URL ?? hosts.restUrl,
      wsUrl: env.KALSHI_WS_URL ?? hosts.wsUrl,
      apiKeyId: env.KALSHI_API_KEY_ID,
      privateKeyPath: env.KALSHI_PRIVATE_KEY_PATH,
    },
    engine: mergeEngineConfig(engineConfigFromEnv(env), overrides),
  };
}

export function engineConfigFromEnv(env: Env): EngineConfig {
  return {
    vol: {
      ...D.vol,
      method: env.VOL_METHOD,
      gridSeconds: env.VOL_GRID_SECONDS,
      ewmaHalfLifeSeconds: env.VOL_HALF_LIFE_SECONDS,
      windowSeconds: env.VOL_WINDOW_SECONDS,
      minSamples: env.VOL_MIN_SAMPLES,
    },
    model: {
      ...D.model,
      sigmaFloor: env.MODEL_SIGMA_FLOOR,
      basisVol: env.MODEL_BASIS_VOL,
      basisUsd: env.MODEL_BASIS_USD,
      shrinkToHalf: env.MODEL_SHRINK,
    },
    fees: { ...D.fees, slippageTicks: env.SLIPPAGE_TICKS, rounding: env.FEE_ROUNDING },
    strategy: {
      ...D.strategy,
      tauMaxMinutes: env.TAU_MAX_MINUTES,
      evMin: env.EV_MIN,
      spreadMaxTicks: env.SPREAD_MAX_TICKS,
      noNewEntriesLastSeconds: env.NO_NEW_ENTRIES_LAST_SECONDS,
      evalIntervalSeconds: env.EVAL_INTERVAL_SECONDS,
      spotStaleSeconds: env.COINBASE_STALE_SECONDS,
      bookStaleSeconds: env.KALSHI_STALE_SECONDS,
      orderContracts: env.ORDER_CONTRACTS,
      execution: env.EXECUTION,
      series: env.KALSHI_SERIES,
    },
    risk: {
      ...D.risk,
      maxPositionPct: env.MAX_POSITION_PCT,
      maxOpenPositions: env.MAX_OPEN_POSITIONS,
      maxDailyLossPct: env.MAX_DAILY_LOSS_PCT,
      maxExposurePct: env.MAX_EXPOSURE_PCT,
      startingBalanceDollars: env.STARTING_BALANCE_DOLLARS,
      reconcileMaxAgeSeconds: env.RECONCILE_MAX_AGE_SECONDS,
    },
    orders: {
      ...D.orders,
      writeTokensPerSecond: env.KALSHI_WRITE_TOKENS_PER_SECOND,
      writeBucketCapacity: env.KALSHI_WRITE_BUCKET_CAPACITY,
      postOnly: env.POST_ONLY,
    },
  };
}

/** Zod schema for a `--config FILE` JSON of engine overrides (sections optional, unknown keys rejected). */
const section = <T extends Record<string, unknown>>(shape: T) => z.object(shape).partial().strict().optional();
export const engineOverridesSchema = z
  .object({
    vol: section({
      method: z.enum(["ewma", "window"]),
      gridSeconds: z.number().positive(),
      ewmaHalfLifeSeconds: z.number().positive(),
      windowSeconds: z.number().positive(),
      minSamples: z.number().int().min(2),
      maxGapSeconds: z.number().positive(),
      outlierSigmas: z.number().positive(),
      sigmaFloor: z.number().min(0),
      sigmaCap: z.number().positive(),
    }),
    model: section({
      basisVol: z.number().min(0),
      basisUsd: z.number().min(0),
      sigmaFloor: z.number().min(0),
      shrinkToHalf: z.number().min(0).max(1),
      settlementWindowSeconds: z.number().int().min(1),
      name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
      params: z.record(z.string(), z.number()),
    }),
    fees: section({
      takerCoefficient: z.number().min(0),
      makerCoefficient: z.number().min(0),
      rounding: z.enum(["order_cent", "fill_centicent"]),
      slippageTicks: z.number().min(0),
    }),
    strategy: section({
      tauMaxMinutes: z.number().min(0),
      evMin: z.number().min(0).max(1),
      spreadMaxTicks: z.number().min(0),
      noNewEntriesLastSeconds: z.number().min(0),
      evalIntervalSeconds: z.number().min(0),
      spotStaleSeconds: z.number().positive(),
      bookStaleSeconds: z.number().positive(),
      orderContracts: z.number().positive(),
      execution: z.enum(["taker", "maker"]),
      restingTtlSeconds: z.number().positive(),
      series: z.array(z.string()),
    }),
    risk: section({
      maxPositionPct: z.number().min(0).max(1),
      maxOpenPositions: z.number().int().min(0),
      maxDailyLossPct: z.number().min(0).max(1),
      maxExposurePct: z.number().min(0).max(1),
      startingBalanceDollars: z.number().min(0),
      reconcileMaxAgeSeconds: z.number().min(0),
    }),
    orders: section({
      writeTokensPerSecond: z.number().positive(),
      writeBucketCapacity: z.number().positive(),
      createCost: z.number().min(0),
      cancelCost: z.number().min(0),
      amendCost: z.number().min(0),
      postOnly: z.boolean(),
      clientOrderIdPrefix: z.string().min(1),
    }),
  })
  .strict();

/** Validate a parsed JSON object of overrides; errors name the offending path. */
export function parseEngineOverrides(json: unknown, what = "config"): EngineConfigOverrides {
  const r = engineOverridesSchema.safeParse(json);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => `${what}: ${i.path.join(".") || "(root)"}: ${i.message}`));
  }
  return r.data as EngineConfigOverrides;
}
