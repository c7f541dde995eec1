/**
 * Settlement for replays whose tape holds no venue result for a market: after a grace period past
 * the settle time, decide the result from Kalshi's own published average of the window when the tape
 * holds a complete one (`last_60s_windowed_average_15min` at a quarter-hour close), else from the
 * recorded BRTI 60-s average, or, without BRTI prints, from the spot-mid proxy — and say which. A
 * venue result seen at any time wins.
 */
import type { EngineEvent, MarketInfo, MarketLifecycle, MarketResult } from "../core/events.ts";
import { mergeMarketInfo, withMovedClose } from "../core/markets.ts";
import { MAX_STAMP_SKEW_US, observeSpotEvent } from "../core/features.ts";
import { IndexWindow, settlementAverage, settlementValueToCents } from "../core/settlement.ts";
import { US_PER_S, type TsUs } from "../core/units.ts";

interface Pending {
  info: MarketInfo;
  avg: number;
  source: "venue_avg60" | "brti_avg60" | "spot_proxy" | null;
  done: boolean;
}

/**
 * YES when the settlement average satisfies the market's strike rule; null when a strike the rule
 * needs is not known (no metadata_updated yet), so no result can be decided.
 */
export function resultFromAverage(info: MarketInfo, avg: number): MarketResult | null {
  const f = info.floorStrike;
  const c = info.capStrike;
  const yes = (known: boolean, holds: boolean): MarketResult | null => (!known ? null : holds ? "yes" : "no");
  switch (info.strikeType) {
    case "greater":
      return yes(Number.isFinite(f), avg > f);
    case "greater_or_equal":
      return yes(Number.isFinite(f), avg >= f);
    case "less":
      return yes(Number.isFinite(c), avg < c);
    case "less_or_equal":
      return yes(Number.isFinite(c), avg <= c);
    case "between":
      return yes(Number.isFinite(f) && Number.isFinite(c), avg >= f && avg <= c);
  }
}

/**
 * When the window's average is first read, after the settle time: a print of the window filed by its
 * CF stamp can arrive up to MAX_STAMP_SKEW_US after it (a later one is filed by receipt, outside), and
 * Kalshi's close-tick average with it.
 */
const FIRST_LOOK_US = MAX_STAMP_SKEW_US + US_PER_S;

export class SettlementFallback {
  private readonly window: IndexWindow;
  private readonly markets = new Map<string, Pending>();
  private readonly graceUs: number;
  /** Nothing can fall due before this time (keeps the per-event cost O(1)). */
  private nextCheck = Number.POSITIVE_INFINITY;
  /** Markets the venue determined before their market record came (nothing left to settle). */
  private readonly venueDoneEarly = new Set<string>();
  /** Markets settled by each source, for the summary. */
  readonly bySource = { venue: 0, venue_avg60: 0, brti_avg60: 0, spot_proxy: 0 };

  /** False when a sweep's owner moves the window (`sharedWindow`), once for every session. */
  private readonly ownsWindow: boolean;

  /**
   * `sharedWindow`: a window the caller feeds (observeSpotEvent) with every event before this
   * fallback sees it — made by `SettlementFallback.windowFor(windowSeconds)`.
   */
  constructor(graceSeconds = 900, windowSeconds = 60, sharedWindow?: IndexWindow) {
    this.graceUs = graceSeconds * US_PER_S;
    if (sharedWindow && sharedWindow.windowSeconds !== windowSeconds) {
      throw new Error(`shared settlement window of ${sharedWindow.windowSeconds} s, this fallback needs ${windowSeconds} s`);
    }
    this.window = sharedWindow ?? SettlementFallback.windowFor(windowSeconds);
    this.ownsWindow = sharedWindow === undefined;
  }

  /**
   * The window a fallback keeps: an hour of past seconds (≈ 115 KB), so a close moved earlier and
   * reported up to ~59 min late can still be averaged on its own window.
   */
  static windowFor(windowSeconds: number): IndexWindow {
    return new IndexWindow(windowSeconds, 3600);
  }

  /** The earliest time onEvent may settle something (∞: nothing pending). */
  nextCheckAt(): TsUs {
    return this.nextCheck;
  }

  /** onEvent would settle nothing at ts for an event it does not track (tickers, deltas, prints). */
  isIdleAt(ts: TsUs): boolean {
    return ts < this.nextCheck;
  }

  /** onEvent would do nothing for a spot quote or index print at ts: nothing due, and the owner moves the window. */
  isIdleForSpotAt(ts: TsUs): boolean {
    return ts < this.nextCheck && !this.ownsWindow;
  }

  /** Observe a recorded event; returns fallback results that fell due at its time. */
  onEvent(e: EngineEvent): MarketLifecycle[] {
    switch (e.kind) {
      case "index_value":
      case "spot_quote":
        if (this.ownsWindow) observeSpotEvent(this.window, e);
        break;
      case "market_info": {
        // A partial update (metadata_updated) is merged: the settle time stays the known one.
        const p = this.markets.get(e.market);
        if (p) {
          const before = p.info.settleTime;
          p.info = mergeMarketInfo(p.info, e);
          // A refreshed record can move the settle time too: an average of the old window no longer applies.
          if (p.info.settleTime !== before) this.windowMoved(p, e.tsRecv);
        } else {
          const early = this.venueDoneEarly.delete(e.market);
          if (early) this.bySource.venue++;
          this.markets.set(e.market, { info: e, avg: Number.NaN, source: null, done: early });
        }
        const settle = this.markets.get(e.market)!.info.settleTime;
        if (settle >= 0) this.nextCheck = Math.min(this.nextCheck, settle + FIRST_LOOK_US);
        break;
      }
      case "market_lifecycle":
        if (e.phase === "close_date_updated" && e.closeTime >= 0) {
          // The close (and with it the settle time and its window) moved, as the engine sees it.
          const p = this.markets.get(e.market);
          if (p && !p.done && (this.readable(e.closeTime, e.tsRecv) || Number.isNaN(p.avg))) {
            p.info = withMovedClose(p.info, e.closeTime);
            this.windowMoved(p, e.tsRecv);
          }
        } else if ((e.phase === "determined" || e.phase === "settled") && e.result) {
          const p = this.markets.get(e.market);
          if (p && !p.done) {
            p.done = true;
            if ((e.resultSource ?? "venue") === "venue") this.bySource.venue++;
          } else if (!p && (e.resultSource ?? "venue") === "venue") this.venueDoneEarly.add(e.market);
        }
        break;
      default:
        break;
    }
    return this.due(e.tsRecv, false);
  }

  /** Whether the seconds of a window closing at `close` are still kept at `now`. */
  private readable(close: TsUs, now: TsUs): boolean {
    return now - close <= (this.window.keepSeconds - this.window.windowSeconds) * US_PER_S;
  }

  /**
   * The market's settle time moved: forget an average taken of the old window, unless the new
   * window is too old to read (then the average taken so far stands).
   */
  private windowMoved(p: Pending, now: TsUs): void {
    if (p.done || (!this.readable(p.info.settleTime, now) && !Number.isNaN(p.avg))) return;
    p.avg = Number.NaN;
    p.source = null;
    if (p.info.settleTime >= 0) this.nextCheck = Math.min(this.nextCheck, p.info.settleTime + FIRST_LOOK_US);
  }

  /** End of the tape: settle every market whose settle time has passed. */
  finish(lastTs: TsUs): MarketLifecycle[] {
    return this.due(lastTs, true);
  }

  private due(ts: TsUs, final: boolean): MarketLifecycle[] {
    if (!final && ts < this.nextCheck) return NONE;
    let out: MarketLifecycle[] | null = null;
    let next = Number.POSITIVE_INFINITY;
    for (const p of this.markets.values()) {
      if (p.done) continue;
      const settle = p.info.settleTime;
      // At the end of the tape, a settle time a second past is settled on what was recorded.
      if (ts < settle + (final ? US_PER_S : FIRST_LOOK_US)) {
        next = Math.min(next, settle + FIRST_LOOK_US);
        continue;
      }
      if (p.source === null && Number.isNaN(p.avg) && !this.takeVenueAverage(p, settle)) {
        const w = this.window.observed(settle, settle);
        p.avg = w.count > 0 ? settlementAverage(w.sum, w.count) : Number.POSITIVE_INFINITY; // ∞ marks "no data"
        if (w.count > 0) p.source = w.source === "brti" ? "brti_avg60" : "spot_proxy";
      }
      if (ts < settle + this.graceUs && !final) {
        next = Math.min(next, settle + this.graceUs);
        continue;
      }
      // The strike never came (no metadata_updated yet): no result to decide. It stays pending, so a
      // strike recorded later still settles it (a new market record asks for a check).
      if (resultFromAverage(p.info, p.avg) === null) continue;
      p.done = true;
      // Kalshi's complete average may have come in after the first look (a late close tick).
      if (p.source !== "venue_avg60") this.takeVenueAverage(p, settle);
      if (p.source === null) continue; // nothing recorded to settle from
      this.bySource[p.source]++;
      const result = resultFromAverage(p.info, p.avg)!;
      (out ??= []).push({
        kind: "market_lifecycle",
        tsRecv: ts,
        tsExchange: null,
        market: p.info.market,
        phase: "determined",
        result,
        settlementValue: result === "yes" ? 10_000 : 0,
        expirationValue: p.avg,
        closeTime: -1,
        sid: -1,
        seq: -1,
        resultSource: p.source,
      });
    }
    this.nextCheck = next;
    return out ?? NONE;
  }

  /** Settle on Kalshi's own average of the window when the tape holds a complete one; true if it did. */
  private takeVenueAverage(p: Pending, settle: TsUs): boolean {
    const venue = this.window.venueAverage(settle);
    if (venue === null) return false;
    p.avg = settlementValueToCents(venue.value);
    p.source = "venue_avg60";
    return true;
  }
}

const NONE: MarketLifecycle[] = [];
