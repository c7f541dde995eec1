/**
 * Signed Kalshi REST client (reference §4, §5).
 *
 * Rate limiting: one token bucket for reads and one for writes, shared by every call made through
 * this client (budgets configurable; Basic tier defaults: 200 / 100 tokens/s, default cost 10, V2
 * cancel 2). Reads that hit 429, 5xx or a timeout are retried with jittered exponential backoff.
 * Writes are NEVER retried: when the outcome is not known (timeout, 5xx, 429, 409, unreadable body)
 * they throw `UnknownOutcomeError` and the order manager reconciles by client_order_id. A clean 4xx
 * rejection throws `KalshiHttpError` (the venue definitely did not act).
 */
import type { MarketInfo } from "../../core/events.ts";
import type { PlaceOrder } from "../../core/records.ts";
import { formatCountFp, formatPriceDollars, type CountE2, type PriceE4 } from "../../core/units.ts";
import { toCreateOrderV2 } from "../../core/orders.ts";
import { nowUs, sleep } from "../../live/clock.ts";
import { redactString, silentLogger, type Logger } from "../../live/logger.ts";
import { KalshiSigner } from "./auth.ts";
import {
  errorSummary,
  parseAccountLimits,
  parseAmendOrderResult,
  parseBalance,
  parseBatchCancelResult,
  parseBatchCreateResult,
  parseCancelOrderResult,
  parseCreateOrderResult,
  parseDecreaseOrderResult,
  parseFillsPage,
  parseMarketResponse,
  parseMarketsPage,
  parseOrderbook,
  parseOrderResponse,
  parseOrdersPage,
  parsePositionsPage,
  parseSeries,
  parseSettlementsPage,
  toMarketInfo,
  RestParseError,
  type AccountLimits,
  type AmendOrderResult,
  type BatchItem,
  type CancelOrderResult,
  type CreateOrderResult,
  type RestFill,
  type RestOrder,
  type RestOrderbook,
  type RestPosition,
  type RestSettlement,
  type SeriesInfo,
} from "./rest-parse.ts";

// ---- Token bucket ------------------------------------------------------------------------------

export interface BucketOptions {
  /** Tokens added per second. */
  readonly refillPerSecond: number;
  /** Maximum tokens held (burst). Defaults to one second of budget. */
  readonly capacity?: number;
}

/**
 * A token bucket shared by all callers: `take(cost)` resolves once the tokens are available. Waiters
 * are served in FIFO order so a stream of cheap calls cannot starve an expensive one.
 */
export class RestTokenBucket {
  readonly capacity: number;
  private tokens: number;
  private last = performance.now();
  private queue: { cost: number; resolve: () => void }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: BucketOptions) {
    if (!(opts.refillPerSecond > 0)) throw new Error("token bucket refill rate must be > 0");
    this.capacity = opts.capacity ?? opts.refillPerSecond;
    this.tokens = this.capacity;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.opts.refillPerSecond);
    this.last = now;
  }

  available(): number {
    this.refill();
    return this.tokens;
  }

  take(cost: number): Promise<void> {
    const c = Math.min(cost, this.capacity);
    return new Promise((resolve) => {
      this.queue.push({ cost: c, resolve });
      this.drain();
    });
  }

  private drain(): void {
    if (this.timer) return;
    this.refill();
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (this.tokens < head.cost) break;
      this.tokens -= head.cost;
      this.queue.shift();
      head.resolve();
    }
    if (this.queue.length > 0) {
      const need = this.queue[0]!.cost - this.tokens;
      const waitMs = Math.max(1, Math.ceil((need / this.opts.refillPerSecond) * 1000));
      this.timer = setTimeout(() => {
        this.timer = null;
        this.drain();
      }, waitMs);
    }
  }

  /** Release pending timers (waiters are resolved so nothing hangs on shutdown). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const w of this.queue.splice(0)) w.resolve();
  }
}

// ---- Errors --------------------------------------------------------------------------------------

/** The venue answered with a definite error (4xx other than 429/409, or a read that ran out of retries). */
export class KalshiHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly route: string,
    message: string,
  ) {
    super(`${route} → HTTP ${status} ${code}${message ? `: ${message}` : ""}`);
    this.name = "KalshiHttpError";
  }
}

/**
 * A write whose effect on the venue is unknown. The order may or may not exist: reconcile by
 * client_order_id (GET /portfolio/orders, user_orders, fills) before doing anything else.
 */
export class UnknownOutcomeError extends Error {
  constructor(
    readonly route: string,
    readonly reason: "timeout" | "network" | "server_error" | "rate_limited" | "conflict" | "unparseable",
    readonly status: number | null,
    readonly clientOrderId: string | null,
  ) {
    super(`${route}: outcome unknown (${reason}${status !== null ? ` ${status}` : ""})`);
    this.name = "UnknownOutcomeError";
  }
}

// ---- Client ----------------------------------------------------------------------------------------

export interface KalshiRestOptions {
  /** Base URL including /trade-api/v2 (e.g. KALSHI_HOSTS.demo.restUrl or a fake venue's). */
  readonly restUrl: string;
  /** Signs every request (public market endpoints too: harmless, and the fake requires it). */
  readonly signer: KalshiSigner;
  readonly logger?: Logger;
  /** Read budget in tokens/s (Basic 200) and bucket capacity (Basic: 2 s of budget). */
  readonly readTokensPerSecond?: number;
  readonly readBucketCapacity?: number;
  /** Write budget in tokens/s (Basic 100), capacity (Basic: 1 s). */
  readonly writeTokensPerSecond?: number;
  readonly writeBucketCapacity?: number;
  /** Token cost of an ordinary request (10) and of a V2 cancel (2). */
  readonly defaultCost?: number;
  readonly cancelCost?: number;
  /** Per-request timeout. */
  readonly timeoutMs?: number;
  /** Read retries after the first attempt (429 / 5xx / timeout / network). */
  readonly maxReadRetries?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Subaccount/shard routing on writes; omitted by default (Kalshi auto-routes by ticker). */
  readonly exchangeIndex?: number;
  /**
   * Every 2xx answer (reads and writes) as received: route, path and parsed body. The runtime records
   * them in the tape's raw layer, so a capture holds the REST answers the run used.
   */
  readonly onAnswer?: (a: { readonly method: string; readonly route: string; readonly path: string; readonly body: unknown }) => void;
}

export const BTC_SERIES: readonly string[] = ["KXBTCD", "KXBTC", "KXBTC15M"];

export interface DiscoverOptions {
  /** Explicit tickers: fetched directly (other filters ignored). */
  readonly tickers?: readonly string[];
  /** Market status filter (`open` by default; unopened|open|paused|closed|settled). */
  readonly status?: string;
  /** Series to scan (default the BTC series) — ignored when eventTicker is given. */
  readonly seriesTickers?: readonly string[];
  readonly eventTicker?: string;
  /** Page size (`limit`, ≤ 1000) and pages per query: at most limit × maxPages markets per query. */
  readonly limit?: number;
  readonly maxPages?: number;
  /** Fill feeType/feeMultiplier from GET /series/{ticker} (default true). */
  readonly withSeriesFees?: boolean;
}

export interface RestCounters {
  requests: number;
  reads: number;
  writes: number;
  retries: number;
  http429: number;
  http5xx: number;
  timeouts: number;
  unknownOutcomes: number;
  parseErrors: number;
  /** Discovery scans that stopped at limit × maxPages with a cursor left (markets may be missing). */
  discoveryCapHits: number;
}

/** Body of DELETE/POST V2 endpoints that take the market for routing. */
export interface AmendOrderParams {
  readonly market: string;
  readonly bookSide: "bid" | "ask";
  /** New YES price. */
  readonly yesPrice: PriceE4;
  /** Total max fillable: already filled + desired remaining (reference §4.4). */
  readonly totalCount: CountE2;
  readonly clientOrderId?: string;
  readonly updatedClientOrderId?: string;
}

type Kind = "read" | "write";

interface RawResponse {
  status: number;
  body: unknown;
}

/** The venue's error code and message with every registered secret (the key id) cut out. */
function venueError(body: unknown): { code: string; message: string } {
  const e = errorSummary(body);
  return { code: redactString(e.code), message: redactString(e.message) };
}

export class KalshiRestClient {
  readonly counters: RestCounters = {
    requests: 0,
    reads: 0,
    writes: 0,
    retries: 0,
    http429: 0,
    http5xx: 0,
    timeouts: 0,
    unknownOutcomes: 0,
    parseErrors: 0,
    discoveryCapHits: 0,
  };
  private readonly base: string;
  private readonly log: Logger;
  readonly readBucket: RestTokenBucket;
  readonly writeBucket: RestTokenBucket;
  private readonly defaultCost: number;
  private readonly cancelCost: number;
  private readonly timeoutMs: number;
  private readonly maxReadRetries: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;

  constructor(private readonly opts: KalshiRestOptions) {
    this.base = opts.restUrl.replace(/\/+$/, "");
    this.log = (opts.logger ?? silentLogger).child({ component: "kalshi-rest" });
    const readRate = opts.readTokensPerSecond ?? 200;
    const writeRate = opts.writeTokensPerSecond ?? 100;
    this.readBucket = new RestTokenBucket({ refillPerSecond: readRate, capacity: opts.readBucketCapacity ?? readRate * 2 });
    this.writeBucket = new RestTokenBucket({ refillPerSecond: writeRate, capacity: opts.writeBucketCapacity ?? writeRate });
    this.defaultCost = opts.defaultCost ?? 10;
    this.cancelCost = opts.cancelCost ?? 2;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxReadRetries = opts.maxReadRetries ?? 5;
    this.backoffBaseMs = opts.backoffBaseMs ?? 100;
    this.backoffMaxMs = opts.backoffMaxMs ?? 5_000;
  }

  close(): void {
    this.readBucket.dispose();
    this.writeBucket.dispose();
  }

  // ---- transport ----

  private async once(method: string, path: string, body: unknown, kind: Kind, cost: number): Promise<RawResponse> {
    await (kind === "read" ? this.readBucket : this.writeBucket).take(cost);
    const url = this.base + path;
    const headers: Record<string, string> = { ...this.opts.signer.headers(method, url), accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    this.counters.requests++;
    if (kind === "read") this.counters.reads++;
    else this.counters.writes++;
    const res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    return { status: res.status, body: parsed === undefined && text.length > 0 ? { __unparseable: true } : parsed };
  }

  private answered(method: string, route: string, path: string, body: unknown): void {
    if (!this.opts.onAnswer) return;
    try {
      this.opts.onAnswer({ method, route, path, body });
    } catch (e) {
      this.log.error("REST answer hook failed", { route, error: e });
    }
  }

  private backoff(attempt: number): number {
    const exp = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** attempt);
    // Full jitter in [exp/2, exp): many clients backing off together do not retry in lockstep.
    return exp / 2 + Math.random() * (exp / 2);
  }

  /** GET with retries; returns the parsed JSON body of a 2xx. */
  private async read(route: string, path: string, cost = this.defaultCost): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      let res: RawResponse;
      try {
        res = await this.once("GET", path, undefined, "read", cost);
      } catch (e) {
        const timeout = isTimeout(e);
        if (timeout) this.counters.timeouts++;
        if (attempt >= this.maxReadRetries) {
          throw new KalshiHttpError(0, timeout ? "timeout" : "network", route, "no response after retries");
        }
        this.counters.retries++;
        const wait = this.backoff(attempt);
        this.log.warn("read failed, retrying", { route, reason: timeout ? "timeout" : "network", attempt, waitMs: Math.round(wait) });
        await sleep(wait);
        continue;
      }
      if (res.status >= 200 && res.status < 300) {
        if (res.body && typeof res.body === "object" && "__unparseable" in res.body) {
          this.counters.parseErrors++;
          throw new RestParseError(route, "body is not JSON");
        }
        this.answered("GET", route, path, res.body);
        return res.body;
      }
      const retryable = res.status === 429 || res.status >= 500;
      if (res.status === 429) this.counters.http429++;
      if (res.status >= 500) this.counters.http5xx++;
      const err = venueError(res.body);
      if (!retryable || attempt >= this.maxReadRetries) {
        throw new KalshiHttpError(res.status, err.code, route, err.message);
      }
      this.counters.retries++;
      const wait = this.backoff(attempt);
      this.log.warn("read rejected, backing off", { route, status: res.status, attempt, waitMs: Math.round(wait) });
      await sleep(wait);
    }
  }

  /** One write attempt; classifies the result into success / definite rejection / unknown outcome. */
  private async write(route: string, method: string, path: string, body: unknown, cost: number, clientOrderId: string | null): Promise<unknown> {
    let res: RawResponse;
    try {
      res = await this.once(method, path, body, "write", cost);
    } catch (e) {
      const timeout = isTimeout(e);
      if (timeout) this.counters.timeouts++;
      this.counters.unknownOutcomes++;
      this.log.warn("write outcome unknown", { route, reason: timeout ? "timeout" : "network", clientOrderId });
      throw new UnknownOutcomeError(route, timeout ? "timeout" : "network", null, clientOrderId);
    }
    const unknown = (reason: UnknownOutcomeError["reason"]): never => {
      this.counters.unknownOutcomes++;
      this.log.warn("write outcome unknown", { route, reason, status: res.status, clientOrderId });
      throw new UnknownOutcomeError(route, reason, res.status, clientOrderId);
    };
    if (res.status >= 200 && res.status < 300) {
      if (res.body && typeof res.body === "object" && "__unparseable" in res.body) return unknown("unparseable");
      this.answered(method, route, path, res.body);
      return res.body;
    }
    if (res.status === 429) {
      this.counters.http429++;
      return unknown("rate_limited");
    }
    if (res.status >= 500) {
      this.counters.http5xx++;
      return unknown("server_error");
    }
    if (res.status === 409) return unknown("conflict");
    const err = venueError(res.body);
    this.log.info("write rejected", { route, status: res.status, code: err.code, clientOrderId });
    throw new KalshiHttpError(res.status, err.code, route, err.message);
  }

  /** Parse a 2xx write body; an unreadable success is an unknown outcome, not a rejection. */
  private parseWrite<T>(route: string, clientOrderId: string | null, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof RestParseError) {
        this.counters.parseErrors++;
        this.counters.unknownOutcomes++;
        this.log.warn("write response unreadable", { route, reason: e.message, clientOrderId });
        throw new UnknownOutcomeError(route, "unparseable", null, clientOrderId);
      }
      throw e;
    }
  }

  private parseRead<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof RestParseError) this.counters.parseErrors++;
      throw e;
    }
  }

  // ---- market data ----

  async getMarketsPage(params: {
    limit?: number;
    cursor?: string | null;
    status?: string;
    seriesTicker?: string;
    eventTicker?: string;
    tickers?: readonly string[];
  }): Promise<{ markets: MarketInfo[]; cursor: string | null; rejected: number; shards: Map<string, number> }> {
    const q = new URLSearchParams();
    if (params.limit) q.set("limit", String(params.limit));
    if (params.cursor) q.set("cursor", params.cursor);
    if (params.status) q.set("status", params.status);
    if (params.seriesTicker) q.set("series_ticker", params.seriesTicker);
    if (params.eventTicker) q.set("event_ticker", params.eventTicker);
    if (params.tickers && params.tickers.length > 0) q.set("tickers", params.tickers.join(","));
    const body = await this.read("GET /markets", `/markets?${q.toString()}`);
    const page = this.parseRead(() => parseMarketsPage(body));
    const tsRecv = nowUs();
    const markets: MarketInfo[] = [];
    const shards = new Map<string, number>();
    let rejected = 0;
    for (const raw of page.rawMarkets) {
      try {
        const info = toMarketInfo(raw, tsRecv);
        markets.push(info);
        // The shard is authoritative on the Market object (reference §4.7); collateral is per shard.
        if (typeof raw.exchange_index === "number" && Number.isInteger(raw.exchange_index)) shards.set(info.market, raw.exchange_index);
      } catch (e) {
        // One odd market (custom strike, combo) must not sink discovery of the others.
        rejected++;
        this.counters.parseErrors++;
        this.log.warn("market skipped", { ticker: typeof raw.ticker === "string" ? raw.ticker : "?", reason: (e as Error).message });
      }
    }
    return { markets, cursor: page.cursor, rejected, shards };
  }

  /**
   * Market discovery. Explicit tickers are fetched as given; otherwise each series (or the one event)
   * is paged with `limit` per page for at most `maxPages` pages. Results are de-duplicated by ticker
   * and, by default, carry their series' fee type and multiplier.
   */
  async discoverMarkets(o: DiscoverOptions = {}): Promise<MarketInfo[]> {
    return (await this.discover(o)).markets;
  }

  /** Discovery with the shard of each market and whether a scan hit its page cap. */
  async discover(o: DiscoverOptions = {}): Promise<{ markets: MarketInfo[]; shards: Map<string, number>; capHit: boolean }> {
    const limit = Math.max(1, Math.min(1000, o.limit ?? 100));
    const maxPages = Math.max(1, o.maxPages ?? 1);
    const found = new Map<string, MarketInfo>();
    const shards = new Map<string, number>();
    let capHit = false;
    const scan = async (filter: { status?: string; seriesTicker?: string; eventTicker?: string; tickers?: readonly string[] }) => {
      let cursor: string | null = null;
      for (let page = 0; page < maxPages; page++) {
        const r = await this.getMarketsPage({ ...filter, limit, cursor });
        for (const m of r.markets) if (!found.has(m.market)) found.set(m.market, m);
        for (const [k, v] of r.shards) shards.set(k, v);
        cursor = r.cursor;
        if (!cursor) break;
      }
      if (cursor) {
        // The venue has more: markets beyond the cap are silently unfollowed unless someone is told.
        capHit = true;
        this.counters.discoveryCapHits++;
        this.log.warn("discovery stopped at the page cap (KALSHI_MARKET_LIMIT × KALSHI_MARKET_MAX_PAGES); more markets exist", {
          series: filter.seriesTicker ?? null,
          event: filter.eventTicker ?? null,
          status: filter.status ?? null,
          limit,
          maxPages,
          found: found.size,
        });
      }
    };
    if (o.tickers && o.tickers.length > 0) {
      // `tickers` is a comma list; chunk so the URL stays short.
      for (let i = 0; i < o.tickers.length; i += 100) {
        await scan({ tickers: o.tickers.slice(i, i + 100) });
      }
    } else if (o.eventTicker) {
      await scan({ eventTicker: o.eventTicker, status: o.status ?? "open" });
    } else {
      for (const s of o.seriesTickers ?? BTC_SERIES) await scan({ seriesTicker: s, status: o.status ?? "open" });
    }
    let markets = [...found.values()];
    if (o.withSeriesFees !== false) markets = await this.withSeriesFees(markets);
    this.log.info("markets discovered", { count: markets.length });
    return { markets, shards, capHit };
  }

  /** Overlay each market's series fee schedule (GET /series/{ticker}, once per series). */
  async withSeriesFees(markets: readonly MarketInfo[]): Promise<MarketInfo[]> {
    const bySeries = new Map<string, SeriesInfo | null>();
    for (const m of markets) {
      if (bySeries.has(m.seriesTicker) || !m.seriesTicker) continue;
      try {
        bySeries.set(m.seriesTicker, await this.getSeries(m.seriesTicker));
      } catch (e) {
        bySeries.set(m.seriesTicker, null);
        this.log.warn("series fees unavailable", { series: m.seriesTicker, reason: (e as Error).message });
      }
    }
    return markets.map((m) => {
      const s = bySeries.get(m.seriesTicker);
      return s ? { ...m, feeType: s.feeType, feeMultiplier: s.feeMultiplier } : m;
    });
  }

  async getMarket(ticker: string): Promise<MarketInfo> {
    const body = await this.read("GET /markets/{ticker}", `/markets/${encodeURIComponent(ticker)}`);
    const raw = this.parseRead(() => parseMarketResponse(body));
    return this.parseRead(() => toMarketInfo(raw, nowUs()));
  }

  async getSeries(seriesTicker: string): Promise<SeriesInfo> {
    const body = await this.read("GET /series/{ticker}", `/series/${encodeURIComponent(seriesTicker)}`);
    return this.parseRead(() => parseSeries(body));
  }

  async getOrderbook(ticker: string, depth = 0): Promise<RestOrderbook> {
    const q = depth > 0 ? `?depth=${depth}` : "";
    const body = await this.read("GET /markets/{ticker}/orderbook", `/markets/${encodeURIComponent(ticker)}/orderbook${q}`);
    return this.parseRead(() => parseOrderbook(body));
  }

  // ---- portfolio reads ----

  /** All-shard cash, or with `exchangeIndex` ≥ 0 the collateral of that shard (what orders there can use). */
  async getBalance(exchangeIndex?: number): Promise<number> {
    const shard = exchangeIndex !== undefined && exchangeIndex >= 0 ? exchangeIndex : undefined;
    const path = shard !== undefined ? `/portfolio/balance?exchange_index=${shard}` : "/portfolio/balance";
    const body = await this.read("GET /portfolio/balance", path);
    return this.parseRead(() => parseBalance(body, shard));
  }

  private async paged<T>(route: string, path: string, q: URLSearchParams, parse: (b: unknown) => { items: T[]; cursor: string | null }, maxPages: number): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < maxPages; page++) {
      if (cursor) q.set("cursor", cursor);
      const body = await this.read(route, `${path}?${q.toString()}`);
      const r = this.parseRead(() => parse(body));
      out.push(...r.items);
      cursor = r.cursor;
      if (!cursor) break;
    }
    return out;
  }

  async getPositions(o: { ticker?: string; maxPages?: number } = {}): Promise<RestPosition[]> {
    const q = new URLSearchParams({ limit: "1000", count_filter: "position" });
    if (o.ticker) q.set("ticker", o.ticker);
    return this.paged("GET /portfolio/positions", "/portfolio/positions", q, (b) => {
      const r = parsePositionsPage(b);
      return { items: r.positions, cursor: r.cursor };
    }, o.maxPages ?? 10);
  }

  async getOrders(o: { status?: "resting" | "canceled" | "executed"; ticker?: string; maxPages?: number } = {}): Promise<RestOrder[]> {
    const q = new URLSearchParams({ limit: "1000" });
    if (o.status) q.set("status", o.status);
    if (o.ticker) q.set("ticker", o.ticker);
    return this.paged("GET /portfolio/orders", "/portfolio/orders", q, (b) => {
      const r = parseOrdersPage(b);
      return { items: r.orders, cursor: r.cursor };
    }, o.maxPages ?? 10);
  }

  async getRestingOrders(ticker?: string): Promise<RestOrder[]> {
    return this.getOrders(ticker ? { status: "resting", ticker } : { status: "resting" });
  }

  /** Reconciliation by our own id: the order with this client_order_id, or null. */
  async findOrderByClientId(clientOrderId: string, ticker?: string): Promise<RestOrder | null> {
    const all = await this.getOrders(ticker ? { ticker } : {});
    return all.find((o) => o.clientOrderId === clientOrderId) ?? null;
  }

  async getOrder(orderId: string): Promise<RestOrder> {
    const body = await this.read("GET /portfolio/orders/{id}", `/portfolio/orders/${encodeURIComponent(orderId)}`);
    return this.parseRead(() => parseOrderResponse(body));
  }

  async getFills(o: { ticker?: string; orderId?: string; minTsSeconds?: number; maxPages?: number } = {}): Promise<RestFill[]> {
    const q = new URLSearchParams({ limit: "1000" });
    if (o.ticker) q.set("ticker", o.ticker);
    if (o.orderId) q.set("order_id", o.orderId);
    if (o.minTsSeconds !== undefined) q.set("min_ts", String(Math.floor(o.minTsSeconds)));
    return this.paged("GET /portfolio/fills", "/portfolio/fills", q, (b) => {
      const r = parseFillsPage(b);
      return { items: r.fills, cursor: r.cursor };
    }, o.maxPages ?? 10);
  }

  async getSettlements(o: { ticker?: string; maxPages?: number } = {}): Promise<RestSettlement[]> {
    const q = new URLSearchParams({ limit: "1000" });
    if (o.ticker) q.set("ticker", o.ticker);
    return this.paged("GET /portfolio/settlements", "/portfolio/settlements", q, (b) => {
      const r = parseSettlementsPage(b);
      return { items: r.settlements, cursor: r.cursor };
    }, o.maxPages ?? 10);
  }

  async getAccountLimits(): Promise<AccountLimits> {
    const body = await this.read("GET /account/limits", "/account/limits");
    return this.parseRead(() => parseAccountLimits(body));
  }

  // ---- V2 writes ----

  private withShard<T extends Record<string, unknown>>(body: T): T {
    return this.opts.exchangeIndex !== undefined ? { ...body, exchange_index: this.opts.exchangeIndex } : body;
  }

  /**
   * POST /portfolio/events/orders with a ready CreateOrderV2Request body. Never retried.
   * @throws UnknownOutcomeError, KalshiHttpError
   */
  async createOrderV2(body: Record<string, unknown>): Promise<CreateOrderResult> {
    const route = "POST /portfolio/events/orders";
    const cid = typeof body.client_order_id === "string" ? body.client_order_id : null;
    const res = await this.write(route, "POST", "/portfolio/events/orders", this.withShard(body), this.defaultCost, cid);
    return this.parseWrite(route, cid, () => parseCreateOrderResult(res));
  }

  /** Place an engine intent: the V2 body comes from lib/core/orders.ts (the one mapping). */
  async placeOrder(intent: PlaceOrder): Promise<CreateOrderResult> {
    return this.createOrderV2(toCreateOrderV2(intent, this.opts.exchangeIndex !== undefined ? { exchangeIndex: this.opts.exchangeIndex } : undefined));
  }

  async cancelOrderV2(orderId: string, o: { market?: string; clientOrderId?: string } = {}): Promise<CancelOrderResult> {
    const route = "DELETE /portfolio/events/orders/{id}";
    const q = new URLSearchParams();
    if (o.market) q.set("market_ticker", o.market);
    if (this.opts.exchangeIndex !== undefined) q.set("exchange_index", String(this.opts.exchangeIndex));
    const qs = q.toString();
    const path = `/portfolio/events/orders/${encodeURIComponent(orderId)}${qs ? `?${qs}` : ""}`;
    const res = await this.write(route, "DELETE", path, undefined, this.cancelCost, o.clientOrderId ?? null);
    return this.parseWrite(route, o.clientOrderId ?? null, () => parseCancelOrderResult(res));
  }

  async amendOrderV2(orderId: string, p: AmendOrderParams): Promise<AmendOrderResult> {
    const route = "POST /portfolio/events/orders/{id}/amend";
    const body: Record<string, unknown> = {
      ticker: p.market,
      side: p.bookSide,
      price: formatPriceDollars(p.yesPrice),
      count: formatCountFp(p.totalCount),
    };
    if (p.clientOrderId) body.client_order_id = p.clientOrderId;
    if (p.updatedClientOrderId) body.updated_client_order_id = p.updatedClientOrderId;
    const cid = p.updatedClientOrderId ?? p.clientOrderId ?? null;
    const res = await this.write(route, "POST", `/portfolio/events/orders/${encodeURIComponent(orderId)}/amend`, this.withShard(body), this.defaultCost, cid);
    return this.parseWrite(route, cid, () => parseAmendOrderResult(res));
  }

  /** Exactly one of reduceBy / reduceTo. */
  async decreaseOrderV2(orderId: string, p: { market?: string; reduceBy?: CountE2; reduceTo?: CountE2; clientOrderId?: string }): Promise<AmendOrderResult> {
    const route = "POST /portfolio/events/orders/{id}/decrease";
    if ((p.reduceBy === undefined) === (p.reduceTo === undefined)) throw new Error("decrease needs exactly one of reduceBy / reduceTo");
    const body: Record<string, unknown> = {};
    if (p.reduceBy !== undefined) body.reduce_by = formatCountFp(p.reduceBy);
    if (p.reduceTo !== undefined) body.reduce_to = formatCountFp(p.reduceTo);
    if (p.market) body.market_ticker = p.market;
    const res = await this.write(route, "POST", `/portfolio/events/orders/${encodeURIComponent(orderId)}/decrease`, this.withShard(body), this.defaultCost, p.clientOrderId ?? null);
    return this.parseWrite(route, p.clientOrderId ?? null, () => parseDecreaseOrderResult(res));
  }

  /** The whole batch must fit the write bucket: cost 10 per order. */
  async batchCreateOrdersV2(bodies: readonly Record<string, unknown>[]): Promise<BatchItem<CreateOrderResult>[]> {
    const route = "POST /portfolio/events/orders/batched";
    const res = await this.write(route, "POST", "/portfolio/events/orders/batched", { orders: bodies.map((b) => this.withShard(b)) }, this.defaultCost * bodies.length, null);
    return this.parseWrite(route, null, () => parseBatchCreateResult(res));
  }

  async batchCancelOrdersV2(orders: readonly { orderId: string; market?: string }[]): Promise<BatchItem<CancelOrderResult>[]> {
    const route = "DELETE /portfolio/events/orders/batched";
    const body = {
      orders: orders.map((o) => this.withShard({ order_id: o.orderId, ...(o.market ? { market_ticker: o.market } : {}) })),
    };
    const res = await this.write(route, "DELETE", "/portfolio/events/orders/batched", body, this.cancelCost * orders.length, null);
    return this.parseWrite(route, null, () => parseBatchCancelResult(res));
  }
}

function isTimeout(e: unknown): boolean {
  const name = (e as { name?: string })?.name;
  return name === "TimeoutError" || name === "AbortError";
}
