/**
 * The spot features every evaluation reads: the realized-vol estimator and the one-second samples
 * of the settlement window (BRTI prints, Coinbase mids). They depend on nothing but the spot and
 * index stream and on `cfg.vol` + `cfg.model.settlementWindowSeconds`, so the engines of a
 * parameter sweep with the same settings would each compute the very same numbers: a sweep builds
 * one `SpotFeatures` per distinct setting, moves it once per event, and hands it to every engine
 * (`EngineShared.features`). An engine given none owns its own and moves it itself.
 */
import { settingsKey, type EngineConfig } from "./config.ts";
import type { EngineEvent, IndexValue, SpotQuote } from "./events.ts";
import { IndexWindow } from "./settlement.ts";
import { SpotMidGuard } from "./spot-guard.ts";
import { US_PER_S, type TsUs } from "./units.ts";
import { createVolEstimator, type VolEstimator } from "./volatility.ts";

/** The Coinbase mid a quote gives the features, or NaN for a quote that gives none (empty or crossed side). */
export function quoteMid(e: SpotQuote): number {
  return e.bid > 0 && e.ask > 0 && e.ask >= e.bid ? (e.bid + e.ask) / 2 : Number.NaN;
}

/**
 * Move a settlement window by one event: a usable quote's mid, or an index print. The one place
 * every settlement window is fed from (the engine's, a sweep's shared ones, the simulated venue's
 * fallback).
 */
export function observeSpotEvent(w: IndexWindow, e: EngineEvent): void {
  if (e.kind === "spot_quote") {
    const mid = quoteMid(e);
    if (mid === mid) w.onSpotMid(e.tsRecv, mid);
  } else if (e.kind === "index_value") {
    const t = indexStamp(e);
    w.onIndex(t, e.value);
    // Kalshi's quarter average is of the quarter its own tick's stamp is in, however late we got it
    // (filed by receipt, a close tick received late would count for the next quarter).
    if (e.quarterTicks > 0) w.onVenueQuarterAverage(e.tsExchange ?? e.tsRecv, e.quarterAvg, e.quarterTicks);
  }
}

/** A print's stamp further than this from its receipt is not trusted (a venue clock gone wrong). */
export const MAX_STAMP_SKEW_US = 5 * US_PER_S;

/**
 * The time an index print belongs to in the settlement window: CF Benchmarks' own stamp. Kalshi
 * averages the ticks stamped in (close − 60 s, close]; filing them by receipt would move every print
 * that arrives a moment late one second later, and the window one print early. Receipt time when the
 * print has no stamp or one too far from it.
 */
export function indexStamp(e: IndexValue): TsUs {
  return trustedStamp(e) ?? e.tsRecv;
}

/** An event's venue stamp when it is within MAX_STAMP_SKEW_US of its receipt, else null (not trusted). */
export function trustedStamp(e: { readonly tsExchange: TsUs | null; readonly tsRecv: TsUs }): TsUs | null {
  const x = e.tsExchange;
  return x !== null && Math.abs(x - e.tsRecv) <= MAX_STAMP_SKEW_US ? x : null;
}

export class SpotFeatures {
  readonly vol: VolEstimator;
  readonly index: IndexWindow;
  /** Stray prints are not the spot (spot-guard.ts); the engines of a sweep share the decision. */
  private readonly spotGuard = new SpotMidGuard();
  /** The last quote whose mid was taken as the spot (the engine prices from it). */
  acceptedQuote: SpotQuote | null = null;
  /** Engines may share this object only when their config gives the same key. */
  readonly key: string;

  constructor(cfg: Pick<EngineConfig, "vol" | "model">) {
    this.key = SpotFeatures.keyOf(cfg);
    this.vol = createVolEstimator(cfg.vol);
    this.index = new IndexWindow(cfg.model.settlementWindowSeconds);
  }

  /** A far print awaits confirmation (spot-guard.ts): the spot is not known. */
  spotInDoubt(): boolean {
    return this.spotGuard.inDoubt();
  }

  static keyOf(cfg: Pick<EngineConfig, "vol" | "model">): string {
    return settingsKey([cfg.vol, cfg.model.settlementWindowSeconds]);
  }

  /** Observe one event (only spot quotes and index prints move anything). */
  onEvent(e: EngineEvent): void {
    if (e.kind === "spot_quote") {
      const mid = quoteMid(e);
      if (mid === mid) {
        // The vol estimator sees every mid: its own filter holds a spike back until it reverts.
        this.vol.onMid(e.tsRecv, mid);
        if (this.spotGuard.accept(e.tsRecv, mid)) this.acceptedQuote = e;
      }
    }
    observeSpotEvent(this.index, e);
  }
}
