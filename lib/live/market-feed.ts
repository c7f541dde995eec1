/**
 * Kalshi market data for markets that roll — the one piece of code the collector, paper and live
 * runners use to follow the configured series for days.
 *
 *   REST discovery (start + every KALSHI_DISCOVERY_SECONDS, every cursor) ─┐
 *   market_lifecycle_v2 created / metadata_updated / … / event frames ────┼─► MarketDirectory ─► onEvent
 *   orderbook_delta / ticker / trade / BRTI ───────────────────────────────┘        (merged MarketInfo)
 *
 * - A market of a followed series is subscribed (update_subscription add_markets on the book, ticker
 *   and trade subscriptions) as soon as we learn of it: a lifecycle `created` frame, a REST listing.
 * - A market is released `closeGraceMs` after its close time, or at once when it is determined or
 *   settled: delete_markets, its book dropped, and never subscribed again (not even after a reconnect).
 * - Market info is ONE merged record per market (lib/core/markets.ts). Every change — REST, each
 *   lifecycle variant, series fees, event fee overrides — is emitted as the full record, so the
 *   engine, the simulated venue, the store (a kalshi_markets row per change) and the tape all see the
 *   same thing, and replay sees exactly what live saw. The parser's own partial MarketInfo for
 *   metadata_updated never leaves this module.
 * - Lifecycle frames cover the whole exchange: only markets of the selection reach `onEvent`.
 */
import type { EngineEvent, MarketInfo } from "../core/events.ts";
import { MarketDirectory, type EventPatch, type MarketPatch } from "../core/markets.ts";
import type { TsUs } from "../core/units.ts";
import { US_PER_S } from "../core/units.ts";
import { eventTickerOf, seriesTickerOf } from "../venues/kalshi/parse.ts";
import type { KalshiRestClient } from "../venues/kalshi/rest.ts";
import { KalshiWsClient, type KalshiWsOptions } from "../venues/kalshi/ws.ts";
import { nowUs } from "./clock.ts";
import { silentLogger, type Logger } from "./logger.ts";

export interface MarketSelection {
  /** Explicit markets: followed as given, no series discovery. */
  readonly tickers?: readonly string[];
  /** One event instead of whole series. */
  readonly eventTicker?: string;
  /** Series to follow (KALSHI_SERIES, or the one KALSHI_SERIES_TICKER). */
  readonly series: readonly string[];
  /** REST status filter for discovery (default open). */
  readonly status?: string;
  readonly limit?: number;
  readonly maxPages?: number;
}

/** The selection the environment asks for: explicit tickers, else one event, else the series. */
export function marketSelection(env: {
  readonly KALSHI_MARKET_TICKERS: readonly string[];
  readonly KALSHI_EVENT_TICKER?: string | undefined;
  readonly KALSHI_SERIES_TICKER?: string | undefined;
  readonly KALSHI_SERIES: readonly string[];
  readonly KALSHI_MARKET_STATUS: string;
  readonly KALSHI_MARKET_LIMIT: number;
  readonly KALSHI_MARKET_MAX_PAGES: number;
}): MarketSelection {
  return {
    ...(env.KALSHI_MARKET_TICKERS.length > 0 ? { tickers: env.KALSHI_MARKET_TICKERS } : {}),
    ...(env.KALSHI_EVENT_TICKER ? { eventTicker: env.KALSHI_EVENT_TICKER } : {}),
    series: env.KALSHI_SERIES_TICKER ? [env.KALSHI_SERIES_TICKER] : env.KALSHI_SERIES,
    status: env.KALSHI_MARKET_STATUS,
    limit: env.KALSHI_MARKET_LIMIT,
    maxPages: env.KALSHI_MARKET_MAX_PAGES,
  };
}

export interface KalshiMarketFeedOptions {
  readonly rest: KalshiRestClient;
  /** WebSocket settings; markets and callbacks are the feed's. */
  readonly ws: Omit<KalshiWsOptions, "markets" | "onEvent" | "onPatch" | "onMarketAbandoned" | "onSubscribed" | "onChannelGap">;
  readonly selection: MarketSelection;
  /** REST re-discovery period (KALSHI_DISCOVERY_SECONDS); 0 = start-up only. */
  readonly discoverySeconds: number;
  /** Connect the WebSocket (default true; false = REST discovery only, e.g. tests without a Kalshi feed). */
  readonly withWebSocket?: boolean;
  /** A market is released this long after its close time (default 1000 ms: its last frames land first). */
  readonly closeGraceMs?: number;
  /** Every event, in the order the feed saw it (market info merged). */
  readonly onEvent: (e: EngineEvent) => void;
  readonly logger?: Logger;
  readonly clock?: () => TsUs;
}

export interface MarketFeedStats {
  /** Markets of the selection we learned of (REST or lifecycle). */
  marketsSeen: number;
  /** Learned of first through a lifecycle `created` frame. */
  createdFrames: number;
  /** Markets added to the live subscriptions (start-up set included). */
  subscribed: number;
  /** Markets released after close / determination. */
  released: number;
  /** Markets the WS client gave up on (no snapshot). */
  abandoned: number;
  rediscoveries: number;
  rediscoveryFailures: number;
  /** MarketInfo records emitted (one per change). */
  infoRecords: number;
}

export class KalshiMarketFeed {
  readonly directory = new MarketDirectory();
  readonly stats: MarketFeedStats = { marketsSeen: 0, createdFrames: 0, subscribed: 0, released: 0, abandoned: 0, rediscoveries: 0, rediscoveryFailures: 0, infoRecords: 0 };
  private ws: KalshiWsClient | null = null;
  private readonly log: Logger;
  private readonly clock: () => TsUs;
  private readonly followed = new Set<string>();
  /** Released markets: never subscribed again. */
  private readonly released = new Set<string>();
  private readonly seen = new Set<string>();
  private readonly seriesSet: ReadonlySet<string>;
  private readonly tickerSet: ReadonlySet<string> | null;
  private readonly seriesFeeAsked = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  private discovering = false;
  /** The re-discovery in flight, which close() waits for (its answer must not outlive the feed's sinks). */
  private discovery: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly opts: KalshiMarketFeedOptions) {
    this.log = (opts.logger ?? silentLogger).child({ component: "market-feed" });
    this.clock = opts.clock ?? nowUs;
    const sel = opts.selection;
    this.tickerSet = sel.tickers && sel.tickers.length > 0 ? new Set(sel.tickers) : null;
    this.seriesSet = new Set(sel.series);
  }

  /** The WebSocket client (null before start). */
  get client(): KalshiWsClient | null {
    return this.ws;
  }

  /** Markets currently followed (subscribed), sorted. */
  followedMarkets(): MarketInfo[] {
    return [...this.followed].sort().map((m) => this.directory.get(m)).filter((m): m is MarketInfo => m !== undefined);
  }

  isFollowed(market: string): boolean {
    return this.followed.has(market);
  }

  /** The shard most followed markets live on (for the balance that sizes orders), or -1. */
  primaryShard(): number {
    const count = new Map<number, number>();
    for (const m of this.followed) {
      const s = this.directory.shardOf(m);
      if (s >= 0) count.set(s, (count.get(s) ?? 0) + 1);
    }
    let best = -1;
    let n = 0;
    for (const [s, c] of count) if (c > n) [best, n] = [s, c];
    return best;
  }

  /**
   * Discover (REST, series fees), connect the WebSocket with the open markets, start the timers.
   * Throws when the first discovery fails (the caller decides whether that is fatal).
   */
  async start(): Promise<MarketInfo[]> {
    await this.loadSeriesFees([...this.seriesSet]);
    let firstError: unknown = null;
    try {
      await this.discover();
    } catch (e) {
      firstError = e;
    }
    if (this.opts.withWebSocket !== false) this.ws = new KalshiWsClient({
      ...this.opts.ws,
      markets: [...this.followed].sort(),
      onEvent: (e) => this.onWsEvent(e),
      onPatch: (p, ep) => this.onPatch(p, ep),
      // Lifecycle frames sent before we were subscribed (start-up, a reconnect) are lost: catch up over REST.
      onSubscribed: (channel) => {
        if (channel === "market_lifecycle_v2") void this.rediscover();
      },
      // Lifecycle frames lost in a seq gap: catch up over REST — new markets through the usual
      // listing, and what happened to the followed ones (a pause, a close, a result) by asking for
      // them by ticker, with no status filter (an open-markets listing leaves those out).
      onChannelGap: (channel) => {
        if (channel !== "market_lifecycle_v2") return;
        void this.rediscover();
        void this.catchUpFollowed();
      },
      onMarketAbandoned: (m, why) => {
        this.stats.abandoned++;
        this.followed.delete(m);
        this.released.add(m);
        this.log.warn("market abandoned (no book)", { market: m, reason: why });
      },
    });
    this.ws?.start();
    if (this.opts.discoverySeconds > 0) {
      const t = setInterval(() => void this.rediscover(), this.opts.discoverySeconds * 1000);
      t.unref();
      this.timers.push(t);
    }
    const c = setInterval(() => this.releaseClosed(), 200);
    c.unref();
    this.timers.push(c);
    if (firstError) throw firstError;
    return this.followedMarkets();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.all([this.ws?.close(), this.discovery]);
  }

  // ---- discovery -----------------------------------------------------------------------------------

  private async discover(): Promise<void> {
    const sel = this.opts.selection;
    const r = await this.opts.rest.discover({
      ...(this.tickerSet ? { tickers: [...this.tickerSet] } : {}),
      ...(sel.eventTicker ? { eventTicker: sel.eventTicker } : {}),
      seriesTickers: [...this.seriesSet],
      ...(sel.status ? { status: sel.status } : {}),
      ...(sel.limit !== undefined ? { limit: sel.limit } : {}),
      ...(sel.maxPages !== undefined ? { maxPages: sel.maxPages } : {}),
      // Fees come from the directory's series schedules (fetched once per series).
      withSeriesFees: false,
    });
    for (const m of r.markets) this.onInfo(m, r.shards.get(m.market) ?? -1, "rest");
  }

  private rediscover(): Promise<void> {
    if (this.discovering || this.closed) return Promise.resolve();
    this.discovering = true;
    this.discovery = (async () => {
      try {
        await this.discover();
        this.stats.rediscoveries++;
      } catch (e) {
        this.stats.rediscoveryFailures++;
        this.log.warn("re-discovery failed; will retry", { reason: (e as Error).message });
      } finally {
        this.discovering = false;
        this.discovery = null;
      }
    })();
    return this.discovery;
  }

  /** The followed markets' records as the venue has them now (after lost lifecycle frames). */
  private async catchUpFollowed(): Promise<void> {
    const tickers = [...this.followed].sort();
    if (tickers.length === 0 || this.closed) return;
    try {
      const r = await this.opts.rest.discover({ tickers, seriesTickers: [], withSeriesFees: false });
      for (const m of r.markets) this.onInfo(m, r.shards.get(m.market) ?? -1, "rest");
      this.stats.rediscoveries++;
    } catch (e) {
      this.stats.rediscoveryFailures++;
      this.log.warn("catch-up of followed markets failed", { reason: (e as Error).message });
    }
  }

  private async loadSeriesFees(series: readonly string[]): Promise<void> {
    for (const s of series) {
      if (this.seriesFeeAsked.has(s) || !s) continue;
      this.seriesFeeAsked.add(s);
      try {
        const info = await this.opts.rest.getSeries(s);
        for (const m of this.directory.seriesFee(s, { feeType: info.feeType, feeMultiplier: info.feeMultiplier }, this.clock())) this.emitInfo(m);
      } catch (e) {
        this.log.warn("series fees unavailable (markets keep the venue default)", { series: s, reason: (e as Error).message });
      }
    }
  }

  // ---- selection --------------------------------------------------------------------------------------

  private selected(market: string, eventTicker?: string, seriesTicker?: string): boolean {
    if (this.tickerSet) return this.tickerSet.has(market);
    const ev = eventTicker || eventTickerOf(market);
    if (this.opts.selection.eventTicker) return ev === this.opts.selection.eventTicker;
    return this.seriesSet.has(seriesTicker || seriesTickerOf(ev));
  }

  // ---- the merged record -----------------------------------------------------------------------------

  private emitInfo(m: MarketInfo): void {
    this.stats.infoRecords++;
    this.opts.onEvent(m);
  }

  private onInfo(info: MarketInfo, shard: number, via: "rest" | "ws"): void {
    if (!this.selected(info.market, info.eventTicker, info.seriesTicker)) return;
    if (!this.seen.has(info.market)) {
      this.seen.add(info.market);
      this.stats.marketsSeen++;
      if (via === "ws") this.stats.createdFrames++;
    }
    // Refused (null) when stale: a settled market's tombstone, or an open listing past its close.
    const changed = this.directory.upsert(info, shard);
    if (changed) this.emitInfo(changed);
    if (info.seriesTicker && !this.directory.hasSeriesFee(info.seriesTicker)) void this.loadSeriesFees([info.seriesTicker]);
    this.maybeFollow(info.market);
  }

  private onPatch(p: MarketPatch | null, ep: EventPatch | null): void {
    if (p && this.selected(p.market)) {
      const changed = this.directory.patch(p);
      if (changed) this.emitInfo(changed);
    }
    if (ep && this.selected(`${ep.eventTicker}-x`, ep.eventTicker, ep.seriesTicker)) {
      for (const m of this.directory.event(ep)) this.emitInfo(m);
    }
  }

  private onWsEvent(e: EngineEvent): void {
    if (this.closed) return;
    switch (e.kind) {
      case "market_info":
        this.onInfo(e, -1, "ws");
        return;
      case "market_lifecycle": {
        if (!this.selected(e.market)) return;
        this.opts.onEvent(e);
        const changed = this.directory.lifecycle(e);
        if (changed) this.emitInfo(changed);
        if (e.phase === "determined" || e.phase === "settled") this.release(e.market, e.phase);
        else if (e.phase === "created") this.maybeFollow(e.market);
        // Settled: nothing more will change; the record is dropped so a run of many days stays flat.
        // The directory keeps a bounded tombstone, so a stale open listing cannot make it anew.
        if (e.phase === "settled") this.directory.forget(e.market, e.tsRecv);
        return;
      }
      default:
        this.opts.onEvent(e);
    }
  }

  // ---- subscriptions --------------------------------------------------------------------------------

  private isOpen(m: MarketInfo, nowUsValue: TsUs): boolean {
    if (m.status === "closed" || m.status === "determined" || m.status === "finalized" || m.status === "disputed" || m.status === "amended") return false;
    return m.closeTime < 0 || nowUsValue < m.closeTime;
  }

  private maybeFollow(market: string): void {
    if (this.followed.has(market) || this.released.has(market)) return;
    const rec = this.directory.get(market);
    if (!rec || !this.isOpen(rec, this.clock())) return;
    this.followed.add(market);
    this.stats.subscribed++;
    this.log.info("following market", { market, closeTime: rec.closeTime });
    this.ws?.addMarkets([market]);
  }

  private release(market: string, why: string): void {
    if (this.released.has(market)) return;
    this.released.add(market);
    if (this.followed.delete(market)) {
      this.stats.released++;
      this.ws?.removeMarkets([market]);
      this.log.info("market released", { market, why });
    }
  }

  /** Markets past close + grace: delete_markets and forget their books. */
  private releaseClosed(): void {
    const now = this.clock();
    const grace = (this.opts.closeGraceMs ?? 1000) * (US_PER_S / 1000);
    for (const m of [...this.followed]) {
      const rec = this.directory.get(m);
      if (rec && rec.closeTime >= 0 && now >= rec.closeTime + grace) this.release(m, "closed");
    }
  }
}
