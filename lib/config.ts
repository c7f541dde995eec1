/**
 * Configuration from environment variables (and an optional JSON file of engine overrides), validated
 * with zod in this one module. A bad value is an error naming the variable. Every variable of the
 * product spec's "Configuration" section is here, plus the engine's own knobs; `.env.example` lists
 * them all with their defaults.
 */
import { appendFileSync, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { KALSHI_HOSTS } from "./venues/kalshi/auth.ts";
import {
  DEFAULT_ENGINE_CONFIG as D,
  mergeEngineConfig,
  type EngineConfig,
  type EngineConfigOverrides,
} from "./core/config.ts";

/** Booleans are spelled exactly as documented: "1" on, "0" off. Anything else ("true", "yes") is an error. */
const bool01 = z.enum(["0", "1"], { message: 'must be "0" or "1"' }).transform((v) => v === "1");

/** The longest timer Node can arm (setTimeout/setInterval take a signed 32-bit ms count; above it they fire after 1 ms). */
export const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * The documented range of every numeric variable ([min, max], inclusive; "int" = whole numbers).
 * `.env.example` lists the same table (a test compares them); values outside are errors.
 */
export const ENV_RANGES = {
  KALSHI_MARKET_LIMIT: [1, 1000, "int"],
  KALSHI_MARKET_MAX_PAGES: [1, 1000, "int"],
  KALSHI_DISCOVERY_SECONDS: [1, 86_400],
  KALSHI_STALE_SECONDS: [1, 3600],
  KALSHI_READ_TOKENS_PER_SECOND: [1, 100_000],
  KALSHI_WRITE_TOKENS_PER_SECOND: [1, 100_000],
  KALSHI_WRITE_BUCKET_CAPACITY: [1, 1_000_000],
  KALSHI_EXCHANGE_INDEX: [-1, 1000, "int"],
  COINBASE_STALE_SECONDS: [0.1, 3600],
  COLLECTOR_SECONDS: [0.1, MAX_TIMER_SECONDS],
  MAX_DAILY_LOSS_PCT: [0, 1],
  MAX_POSITION_PCT: [0, 1],
  MAX_EXPOSURE_PCT: [0, 1],
  MAX_OPEN_POSITIONS: [0, 10_000, "int"],
  RECONCILE_SECONDS: [1, 86_400],
  RECONCILE_MAX_AGE_SECONDS: [0, MAX_TIMER_SECONDS],
  STATUS_SECONDS: [1, 86_400],
  TAU_MAX_MINUTES: [0, 525_600],
  EV_MIN: [0, 1],
  SPREAD_MAX_TICKS: [0, 100],
  NO_NEW_ENTRIES_LAST_SECONDS: [0, 86_400],
  EVAL_INTERVAL_SECONDS: [0, 3600],
  ORDER_CONTRACTS: [0.01, 100_000, "cents"],
  RESTING_TTL_SECONDS: [0.001, 86_400],
  REPRICE_KEEP_EV: [-1, 1],
  REPRICE_TICKS: [1, 100, "int"],
  EXIT_EV_MIN: [0, 1],
  KELLY_FRACTION: [0, 1],
  SLIPPAGE_TICKS: [0, 100],
  VOL_GRID_SECONDS: [0.001, 3600],
  VOL_HALF_LIFE_SECONDS: [1, 2_592_000],
  VOL_WINDOW_SECONDS: [1, 2_592_000],
  VOL_MIN_SAMPLES: [2, 1_000_000, "int"],
  MODEL_SIGMA_FLOOR: [0, 10],
  MODEL_BASIS_VOL: [0, 10],
  MODEL_BASIS_USD: [0, 100_000],
  MODEL_SHRINK: [0, 1],
  STARTING_BALANCE_DOLLARS: [0, 1_000_000_000],
} as const satisfies Record<string, readonly [number, number] | readonly [number, number, "int" | "cents"]>;

type RangedName = keyof typeof ENV_RANGES;

/** A number in the variable's documented range (see ENV_RANGES). */
const ranged = (name: RangedName) => {
  const r = ENV_RANGES[name] as readonly [number, number, ("int" | "cents")?];
  const [min, max, kind] = r;
  const what = kind === "int" ? "a whole number" : kind === "cents" ? "a multiple of 0.01" : "a number";
  return z.coerce.number({ message: `must be ${what} in [${min}, ${max}]` }).refine(
    (v) =>
      Number.isFinite(v) &&
      v >= min &&
      v <= max &&
      (kind !== "int" || Number.isInteger(v)) &&
      (kind !== "cents" || Math.abs(Math.round(v * 100) - v * 100) < 1e-6),
    { message: `must be ${what} in [${min}, ${max}]` },
  );
};
const csv = z
  .string()
  .transform((s) => s.split(",").map((x) => x.trim()).filter((x) => x.length > 0));
const url = z.string().url();

/**
 * Variables where an empty value is an error: falling back to the default would silently change the
 * venue, the account or the markets traded. Elsewhere an empty value means "unset" (the default).
 */
export const EMPTY_IS_ERROR: readonly string[] = [
  "KALSHI_ENV",
  "KALSHI_API_KEY_ID",
  "KALSHI_PRIVATE_KEY_PATH",
  "KALSHI_REST_URL",
  "KALSHI_WS_URL",
  "KALSHI_EVENT_TICKER",
  "KALSHI_SERIES_TICKER",
  "KALSHI_SERIES",
  "KALSHI_EXCHANGE_INDEX",
  "COINBASE_WS_URL",
  "COINBASE_PRODUCT_ID",
  "TRADING_ENABLED",
];

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
  KALSHI_MARKET_LIMIT: ranged("KALSHI_MARKET_LIMIT").default(1000),
  KALSHI_MARKET_MAX_PAGES: ranged("KALSHI_MARKET_MAX_PAGES").default(10),
  // REST re-discovery period: the backstop behind lifecycle `created` frames (lib/live/market-feed.ts).
  KALSHI_DISCOVERY_SECONDS: ranged("KALSHI_DISCOVERY_SECONDS").default(60),
  KALSHI_EVENT_TICKER: z.string().min(1).optional(),
  KALSHI_SERIES_TICKER: z.string().min(1).optional(),
  KALSHI_SERIES: csv.default(["KXBTCD", "KXBTC", "KXBTC15M"]),
  KALSHI_STALE_SECONDS: ranged("KALSHI_STALE_SECONDS").default(D.strategy.bookStaleSeconds),
  KALSHI_READ_TOKENS_PER_SECOND: ranged("KALSHI_READ_TOKENS_PER_SECOND").default(200),
  KALSHI_WRITE_TOKENS_PER_SECOND: ranged("KALSHI_WRITE_TOKENS_PER_SECOND").default(D.orders.writeTokensPerSecond),
  KALSHI_WRITE_BUCKET_CAPACITY: ranged("KALSHI_WRITE_BUCKET_CAPACITY").default(D.orders.writeBucketCapacity),
  KALSHI_EXCHANGE_INDEX: ranged("KALSHI_EXCHANGE_INDEX").optional(),
  // Coinbase
  COINBASE_WS_URL: url.default("wss://advanced-trade-ws.coinbase.com"),
  COINBASE_PRODUCT_ID: z.string().min(1).default("BTC-USD"),
  COINBASE_STALE_SECONDS: ranged("COINBASE_STALE_SECONDS").default(D.strategy.spotStaleSeconds),
  COINBASE_LEVEL2: bool01.default(false),
  COLLECTOR_SECONDS: ranged("COLLECTOR_SECONDS").default(60),
  // Storage / logging
  DB_PATH: z.string().min(1).default("./data/kalshi.duckdb"),
  LOG_PATH: z.string().min(1).default("./logs/app.jsonl"),
  TAPE_DIR: z.string().min(1).default("./data/tapes"),
  // Safety
  TRADING_ENABLED: bool01.default(false),
  MAX_DAILY_LOSS_PCT: ranged("MAX_DAILY_LOSS_PCT").default(D.risk.maxDailyLossPct),
  MAX_POSITION_PCT: ranged("MAX_POSITION_PCT").default(D.risk.maxPositionPct),
  MAX_EXPOSURE_PCT: ranged("MAX_EXPOSURE_PCT").default(D.risk.maxExposurePct),
  MAX_OPEN_POSITIONS: ranged("MAX_OPEN_POSITIONS").default(D.risk.maxOpenPositions),
  KILL_FILE: z.string().min(1).default("./KILL"),
  RECONCILE_SECONDS: ranged("RECONCILE_SECONDS").default(30),
  RECONCILE_MAX_AGE_SECONDS: ranged("RECONCILE_MAX_AGE_SECONDS").default(90),
  STATUS_SECONDS: ranged("STATUS_SECONDS").default(10),
  // Strategy
  TAU_MAX_MINUTES: ranged("TAU_MAX_MINUTES").default(D.strategy.tauMaxMinutes),
  EV_MIN: ranged("EV_MIN").default(D.strategy.evMin),
  SPREAD_MAX_TICKS: ranged("SPREAD_MAX_TICKS").default(D.strategy.spreadMaxTicks),
  NO_NEW_ENTRIES_LAST_SECONDS: ranged("NO_NEW_ENTRIES_LAST_SECONDS").default(D.strategy.noNewEntriesLastSeconds),
  EVAL_INTERVAL_SECONDS: ranged("EVAL_INTERVAL_SECONDS").default(D.strategy.evalIntervalSeconds),
  ORDER_CONTRACTS: ranged("ORDER_CONTRACTS").default(D.strategy.orderContracts),
  EXECUTION: z.enum(["taker", "maker"]).default(D.strategy.execution),
  RESTING_TTL_SECONDS: ranged("RESTING_TTL_SECONDS").default(D.strategy.restingTtlSeconds),
  REPRICE_ENABLED: bool01.default(D.strategy.repriceEnabled),
  REPRICE_KEEP_EV: ranged("REPRICE_KEEP_EV").default(D.strategy.repriceKeepEv),
  REPRICE_TICKS: ranged("REPRICE_TICKS").default(D.strategy.repriceTicks),
  EXITS_ENABLED: bool01.default(D.strategy.exitsEnabled),
  EXIT_EV_MIN: ranged("EXIT_EV_MIN").default(D.strategy.exitEvMin),
  SIZING: z.enum(["fixed", "kelly"]).default(D.strategy.sizing),
  KELLY_FRACTION: ranged("KELLY_FRACTION").default(D.strategy.kellyFraction),
  POST_ONLY: bool01.default(D.orders.postOnly),
  SLIPPAGE_TICKS: ranged("SLIPPAGE_TICKS").default(D.fees.slippageTicks),
  FEE_ROUNDING: z.enum(["order_cent", "fill_centicent"]).default(D.fees.rounding),
  FEE_WAIVERS: z.enum(["honor", "ignore"]).default("honor"),
  // Models
  VOL_METHOD: z.enum(["ewma", "window"]).default(D.vol.method),
  VOL_GRID_SECONDS: ranged("VOL_GRID_SECONDS").default(D.vol.gridSeconds),
  VOL_HALF_LIFE_SECONDS: ranged("VOL_HALF_LIFE_SECONDS").default(D.vol.ewmaHalfLifeSeconds),
  VOL_WINDOW_SECONDS: ranged("VOL_WINDOW_SECONDS").default(D.vol.windowSeconds),
  VOL_MIN_SAMPLES: ranged("VOL_MIN_SAMPLES").default(D.vol.minSamples),
  MODEL_SIGMA_FLOOR: ranged("MODEL_SIGMA_FLOOR").default(D.model.sigmaFloor),
  MODEL_BASIS_VOL: ranged("MODEL_BASIS_VOL").default(D.model.basisVol),
  MODEL_BASIS_USD: ranged("MODEL_BASIS_USD").default(D.model.basisUsd),
  MODEL_SHRINK: ranged("MODEL_SHRINK").default(D.model.shrinkToHalf),
  /** Accept a private key file readable by group/others (a warning instead of a refusal). */
  ALLOW_OPEN_KEY_FILE: bool01.default(false),
  // Replay / paper
  STARTING_BALANCE_DOLLARS: ranged("STARTING_BALANCE_DOLLARS").default(D.risk.startingBalanceDollars),
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

/**
 * Parse an environment (pass `process.env`); unknown variables are ignored. An empty value counts as
 * unset, except for the EMPTY_IS_ERROR variables. Errors name the variable and never echo its value
 * (a pasted key or PEM line must not reach a terminal or a log).
 */
export function loadConfig(source: Record<string, string | undefined>, overrides?: EngineConfigOverrides): AppConfig {
  const picked: Record<string, string> = {};
  const problems: string[] = [];
  for (const name of ENV_NAMES) {
    const v = source[name];
    if (v === undefined) continue;
    if (v.trim() !== "") picked[name] = v.trim();
    else if (EMPTY_IS_ERROR.includes(name)) problems.push(`${name}: is set but empty (unset it to use the default)`);
  }
  const parsed = envObject.safeParse(picked);
  if (!parsed.success) {
    for (const i of parsed.error.issues) problems.push(`${String(i.path[0] ?? "?")}: ${i.message}`);
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
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
    // feeWaivers only when not the default, so configs (and their hashes) from before it stay the same.
    fees: { ...D.fees, slippageTicks: env.SLIPPAGE_TICKS, rounding: env.FEE_ROUNDING, ...(env.FEE_WAIVERS === "ignore" ? { feeWaivers: "ignore" as const } : {}) },
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
      restingTtlSeconds: env.RESTING_TTL_SECONDS,
      repriceEnabled: env.REPRICE_ENABLED,
      repriceKeepEv: env.REPRICE_KEEP_EV,
      repriceTicks: env.REPRICE_TICKS,
      exitsEnabled: env.EXITS_ENABLED,
      exitEvMin: env.EXIT_EV_MIN,
      sizing: env.SIZING,
      kellyFraction: env.KELLY_FRACTION,
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
      spikeRevertSteps: z.number().int().min(0).max(1000),
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
      feeWaivers: z.enum(["honor", "ignore"]),
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
      repriceEnabled: z.boolean(),
      repriceKeepEv: z.number().min(-1).max(1),
      repriceTicks: z.number().int().min(1),
      exitsEnabled: z.boolean(),
      exitEvMin: z.number().min(0).max(1),
      sizing: z.enum(["fixed", "kelly"]),
      kellyFraction: z.number().min(0).max(1),
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

/**
 * Checks of the files a trading runner uses, before anything starts. Throws a ConfigError (naming the
 * variable, never echoing a value) when the private key file is readable by group or others (unless
 * ALLOW_OPEN_KEY_FILE=1, which turns that into a returned warning), when it is missing, or when LOG_PATH
 * is a directory or cannot be appended to. Returns the warnings.
 */
export function checkRuntimeFiles(app: AppConfig, o: { key?: boolean; log?: boolean } = {}): string[] {
  const problems: string[] = [];
  const warnings: string[] = [];
  const keyPath = app.kalshi.privateKeyPath;
  if (o.key !== false && keyPath) {
    try {
      const st = statSync(keyPath);
      if (!st.isFile()) problems.push("KALSHI_PRIVATE_KEY_PATH: is not a regular file");
      const mode = st.mode & 0o777;
      if ((mode & 0o077) !== 0) {
        const text = `KALSHI_PRIVATE_KEY_PATH: the key file is readable or writable by group/others (mode ${mode.toString(8).padStart(3, "0")}); chmod 600 it`;
        if (app.env.ALLOW_OPEN_KEY_FILE) warnings.push(`${text} (accepted because ALLOW_OPEN_KEY_FILE=1)`);
        else problems.push(`${text}, or set ALLOW_OPEN_KEY_FILE=1 to accept it with a warning`);
      }
    } catch (e) {
      problems.push(`KALSHI_PRIVATE_KEY_PATH: cannot read the key file (${(e as NodeJS.ErrnoException).code ?? "error"})`);
    }
  }
  if (o.log !== false) {
    const logPath = app.env.LOG_PATH;
    let isDir = false;
    try {
      isDir = statSync(logPath).isDirectory();
    } catch {
      // absent: created below
    }
    if (isDir) problems.push("LOG_PATH: is a directory; it must name a file (e.g. ./logs/app.jsonl)");
    else {
      try {
        mkdirSync(dirname(logPath), { recursive: true });
        appendFileSync(logPath, "");
      } catch (e) {
        problems.push(`LOG_PATH: cannot be opened for append (${(e as NodeJS.ErrnoException).code ?? "error"})`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return warnings;
}
