/**
 * Engine configuration: every knob of the deterministic core, with its default. Env vars and
 * `--config FILE` are parsed into this shape by lib/config.ts (zod); the core only ever sees the
 * validated object.
 */

export interface VolConfig {
  /** "ewma" or "window" (fixed rolling window). */
  readonly method: "ewma" | "window";
  /** Sampling grid of the spot mid in event time. Bursts of ticks inside one cell count once. */
  readonly gridSeconds: number;
  /** EWMA half-life. */
  readonly ewmaHalfLifeSeconds: number;
  /** Fixed-window length. */
  readonly windowSeconds: number;
  /** Grid returns needed before any estimate is given. */
  readonly minSamples: number;
  /** A gap longer than this restarts the return chain (no return is taken across it). */
  readonly maxGapSeconds: number;
  /**
   * A return beyond this many current sigmas is held back for `spikeRevertSteps` grid steps: if the
   * price comes back it was a bad tick (only the net move counts), else a real jump (used unclipped).
   * A return beyond MAX_GRID_RETURN (volatility.ts) is held whatever the sigma, even before the
   * estimator is warm. spikeRevertSteps 0 turns the filter off.
   */
  readonly outlierSigmas: number;
  readonly spikeRevertSteps: number;
  /** Annualized floor and cap applied to the estimate. */
  readonly sigmaFloor: number;
  readonly sigmaCap: number;
}

export interface ModelConfig {
  /** Annualized extra volatility for spot-source vs BRTI basis, added in variance. */
  readonly basisVol: number;
  /** Absolute USD basis standard deviation added in variance (spot proxy vs index), per settlement. */
  readonly basisUsd: number;
  /** Annualized sigma floor inside the model. */
  readonly sigmaFloor: number;
  /** p ← 0.5 + (1 − shrink)(p − 0.5). */
  readonly shrinkToHalf: number;
  /** Length of the settlement averaging window. */
  readonly settlementWindowSeconds: number;
  /**
   * Probability model the engine trades on, by registry name (lib/core/models.ts); "diffusion" when
   * absent. The default is the one chosen by the spot study's tournament (EDGE_VALIDATION.md §6).
   */
  readonly name?: string;
  /** Parameters of that model, e.g. { nu: 5 } for "student-t". */
  readonly params?: Readonly<Record<string, number>>;
}

export interface FeeConfig {
  /** Taker coefficient (0.07) and maker coefficient (0.0175), before the series' fee multiplier. */
  readonly takerCoefficient: number;
  readonly makerCoefficient: number;
  /** Maker coefficient of fee_type quadratic_with_combo_maker_fees; default ½ × taker (UNCERTAIN, see fees.ts). */
  readonly comboMakerCoefficient?: number;
  /** "order_cent": ceil to the cent per order; "fill_centicent": ceil to $0.0001 per fill (reference §6). */
  readonly rounding: "order_cent" | "fill_centicent";
  /** Extra cost buffer per contract, in ticks of the market's grid. */
  readonly slippageTicks: number;
  /**
   * A market's REST `fee_waiver_expiration_time`: "honor" (absent = honor) charges no fee on a trade
   * before it; "ignore" charges the schedule anyway (the conservative reading, should the waiver turn
   * out narrower than "no trading fees until then" — the reference does not spell it out).
   */
  readonly feeWaivers?: "honor" | "ignore";
}

export interface StrategyConfig {
  readonly tauMaxMinutes: number;
  readonly evMin: number;
  readonly spreadMaxTicks: number;
  readonly noNewEntriesLastSeconds: number;
  /** A market is evaluated at most once per this interval of event time. */
  readonly evalIntervalSeconds: number;
  readonly spotStaleSeconds: number;
  readonly bookStaleSeconds: number;
  /** Contracts per entry order (before risk caps). */
  readonly orderContracts: number;
  /** Taker (cross the spread, IOC) or maker (rest at the bid, post-only). */
  readonly execution: "taker" | "maker";
  /** Resting orders older than this are cancelled (maker mode). */
  readonly restingTtlSeconds: number;
  /**
   * Order management (issue 10). A resting entry whose EV at its own price falls below `repriceKeepEv`,
   * or whose price is `repriceTicks` or more from the current best bid of its outcome, is moved to
   * that bid (V2 amend) when the EV there clears `evMin`, else cancelled. `repriceEnabled` false
   * leaves resting orders to their TTL.
   */
  readonly repriceEnabled: boolean;
  readonly repriceKeepEv: number;
  readonly repriceTicks: number;
  /**
   * Exits, the mirror of the entry rule: sell a held position (reduce-only IOC at the bid) when
   * bid − (model value + fee/contract + slippage) ≥ `exitEvMin`.
   */
  readonly exitsEnabled: boolean;
  readonly exitEvMin: number;
  /**
   * Entry size: "fixed" = `orderContracts`; "kelly" = `kellyFraction` × the Kelly fraction of the
   * balance for a binary bought at its all-in cost c with model probability q, f* = (q − c)/(1 − c),
   * in whole contracts. Both are then capped by the risk limits, and the EV fee is computed at the
   * capped size.
   */
  readonly sizing: "fixed" | "kelly";
  readonly kellyFraction: number;
  /** Series we trade (empty = all BTC threshold series seen). */
  readonly series: readonly string[];
}

export interface RiskConfig {
  readonly maxPositionPct: number;
  readonly maxOpenPositions: number;
  readonly maxDailyLossPct: number;
  /** Total cost at risk across all markets, as a fraction of balance. */
  readonly maxExposurePct: number;
  /** Starting cash in dollars for replay/paper (live uses the venue's balance). */
  readonly startingBalanceDollars: number;
  /** Reconciliation older than this blocks new orders (seconds; 0 disables, as in replay). */
  readonly reconcileMaxAgeSeconds: number;
}

export interface OrderConfig {
  /** Write bucket refill (tokens/s) and capacity; Kalshi Basic tier = 100 tokens/s, 1 s capacity. */
  readonly writeTokensPerSecond: number;
  readonly writeBucketCapacity: number;
  readonly createCost: number;
  readonly cancelCost: number;
  readonly amendCost: number;
  readonly postOnly: boolean;
  /** Prefix of every client_order_id (the run id), so ids never collide across runs. */
  readonly clientOrderIdPrefix: string;
}

export interface EngineConfig {
  readonly vol: VolConfig;
  readonly model: ModelConfig;
  readonly fees: FeeConfig;
  readonly strategy: StrategyConfig;
  readonly risk: RiskConfig;
  readonly orders: OrderConfig;
}

export const DEFAULT_ENGINE_CONFIG: EngineConfig = {
  vol: {
    method: "ewma",
    gridSeconds: 1,
    ewmaHalfLifeSeconds: 900,
    windowSeconds: 1800,
    minSamples: 300,
    maxGapSeconds: 30,
    outlierSigmas: 8,
    spikeRevertSteps: 3,
    sigmaFloor: 0.1,
    sigmaCap: 5,
  },
  model: {
    basisVol: 0.05,
    basisUsd: 5,
    sigmaFloor: 0.2,
    shrinkToHalf: 0.02,
    settlementWindowSeconds: 60,
    name: "student-t",
    params: { nu: 5 },
  },
  fees: {
    takerCoefficient: 0.07,
    makerCoefficient: 0.0175,
    rounding: "order_cent",
    slippageTicks: 1,
  },
  strategy: {
    tauMaxMinutes: 60,
    evMin: 0.03,
    spreadMaxTicks: 6,
    noNewEntriesLastSeconds: 120,
    evalIntervalSeconds: 5,
    spotStaleSeconds: 10,
    bookStaleSeconds: 60,
    orderContracts: 10,
    execution: "taker",
    restingTtlSeconds: 30,
    repriceEnabled: true,
    repriceKeepEv: 0.01,
    repriceTicks: 2,
    exitsEnabled: true,
    exitEvMin: 0.03,
    sizing: "fixed",
    kellyFraction: 0.25,
    series: [],
  },
  risk: {
    maxPositionPct: 0.02,
    maxOpenPositions: 1,
    maxDailyLossPct: 0.03,
    maxExposurePct: 0.1,
    startingBalanceDollars: 1000,
    reconcileMaxAgeSeconds: 0,
  },
  orders: {
    writeTokensPerSecond: 100,
    writeBucketCapacity: 100,
    createCost: 10,
    cancelCost: 2,
    amendCost: 10,
    postOnly: false,
    clientOrderIdPrefix: "run",
  },
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type EngineConfigOverrides = DeepPartial<EngineConfig>;

/** Defaults overlaid with overrides, section by section. Pure. */
export function mergeEngineConfig(base: EngineConfig, o: EngineConfigOverrides | undefined): EngineConfig {
  if (!o) return base;
  return {
    vol: { ...base.vol, ...o.vol },
    model: { ...base.model, ...o.model },
    fees: { ...base.fees, ...o.fees },
    strategy: { ...base.strategy, ...o.strategy } as StrategyConfig,
    risk: { ...base.risk, ...o.risk },
    orders: { ...base.orders, ...o.orders },
  };
}

/**
 * A string equal for two settings exactly when they are equal — the key of what sweeps share
 * between configs. Plain JSON would print NaN, Infinity and -Infinity all as `null`, so non-finite
 * numbers are spelled out (settings built in code may hold them; JSON files cannot).
 */
export function settingsKey(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? { nonFinite: String(v) } : v));
}
