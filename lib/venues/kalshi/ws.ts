/**
 * Kalshi WebSocket v2 client (reference §3): one signed connection, commands with incrementing ids,
 * per-sid sequence checking, book resync, reconnect and a liveness watchdog.
 *
 * Every received frame goes to `onFrame` first (the tape keeps what the venue said, even when we
 * cannot parse it), then through `parseKalshiFrame`; events go to `onEvent`. A frame that does not
 * parse is counted and logged with a short reason; the loop never stops for one.
 *
 * Gap procedure (reference §3.5, "Sequence numbers and gap handling"): any message on a sid whose
 * seq is not last+1 is a gap → FeedHealth "gap" for the sid's markets, `get_snapshot` for all of
 * them; if the snapshots do not all arrive within `snapshotTimeoutMs` (or the channel reports a
 * terminal error 10/17/25) the subscription is dropped and made anew. A refused frame on the book sid,
 * or a delta the book cannot take (a level below zero, a crossed book: §3.6), is handled the same way
 * for the books it touches. When every book is fresh again, FeedHealth "resynced". A reconnect starts
 * from nothing: new sids, fresh snapshots only.
 *
 * `books` is a BookRegistry the client keeps from its own events (used by the collector's REST check
 * and by tests); consumers may keep their own from `onEvent`.
 */
import WebSocket from "ws";
import { closeSocket } from "../socket.ts";
import { BookRegistry } from "../../core/book.ts";
import { SeqTracker } from "../../core/seq.ts";
import type { EventPatch, MarketPatch } from "../../core/markets.ts";
import type { EngineEvent, FeedHealth } from "../../core/events.ts";
import type { TsUs } from "../../core/units.ts";
import type { RawFrame } from "../../tape/types.ts";
import { nowUs } from "../../live/clock.ts";
import { silentLogger, type Logger } from "../../live/logger.ts";
import { DEFAULT_WS_QUERY_NAMES, type KalshiSigner, type WsAuthMode, type WsQueryNames } from "./auth.ts";
import { parseKalshiFrame, type KalshiPositionUpdate } from "./parse.ts";

export type KalshiChannel =
  | "orderbook_delta"
  | "ticker"
  | "trade"
  | "market_lifecycle_v2"
  | "cfbenchmarks_value"
  | "fill"
  | "user_orders"
  | "market_positions";

/** Channels subscribed with the market list; the others cover all markets (or indices). */
const MARKET_SCOPED: ReadonlySet<KalshiChannel> = new Set(["orderbook_delta", "ticker", "trade"]);

export const PUBLIC_CHANNELS: readonly KalshiChannel[] = ["orderbook_delta", "ticker", "trade", "market_lifecycle_v2", "cfbenchmarks_value"];
export const PRIVATE_CHANNELS: readonly KalshiChannel[] = ["fill", "user_orders", "market_positions"];

/** Channel errors after which the subscription must be made anew (asyncapi "Terminal Errors"). */
const TERMINAL_ERRORS: ReadonlySet<number> = new Set([10, 17, 25]);

/** The channel each sid-carrying message type arrives on (kalshi-api.md §4), to learn a sid from its frames. */
const CHANNEL_OF_TYPE: ReadonlyMap<string, KalshiChannel> = new Map<string, KalshiChannel>([
  ["orderbook_snapshot", "orderbook_delta"],
  ["orderbook_delta", "orderbook_delta"],
  ["ticker", "ticker"],
  ["trade", "trade"],
  ["market_lifecycle_v2", "market_lifecycle_v2"],
  ["event_lifecycle", "market_lifecycle_v2"],
  ["event_fee_update", "market_lifecycle_v2"],
  ["cfbenchmarks_value", "cfbenchmarks_value"],
  ["fill", "fill"],
  ["user_order", "user_orders"],
  ["market_position", "market_positions"],
]);

export interface KalshiWsOptions {
  readonly wsUrl: string;
  readonly signer: KalshiSigner;
  readonly authMode?: WsAuthMode;
  readonly queryNames?: WsQueryNames;
  /** Markets for orderbook_delta / ticker / trade. */
  readonly markets: readonly string[];
  /** Default: the public channels (book, ticker, trade, lifecycle, BRTI). */
  readonly channels?: readonly KalshiChannel[];
  /** Sent explicitly on every orderbook subscribe (Kalshi will flip the default). Default false. */
  readonly useYesPrice?: boolean;
  /** cfbenchmarks_value index ids. Default ["BRTI"]. */
  readonly indexIds?: readonly string[];
  readonly onFrame?: (frame: RawFrame) => void;
  readonly onEvent?: (event: EngineEvent) => void;
  /** `market_position` pushes (not engine events, see parse.ts). */
  readonly onPosition?: (p: KalshiPositionUpdate) => void;
  /** Lifecycle pieces that are not events (grid change, shard, event fee override): for MarketDirectory. */
  readonly onPatch?: (patch: MarketPatch | null, eventPatch: EventPatch | null) => void;
  readonly logger?: Logger;
  /** Wait for requested snapshots before asking again. Default 5000. */
  readonly snapshotTimeoutMs?: number;
  /** Timeouts without a snapshot after which the client gives up on that one market. Default 2. */
  readonly maxSnapshotMisses?: number;
  /** A subscription was confirmed (after every connect too): e.g. catch up on what was missed meanwhile. */
  readonly onSubscribed?: (channel: string, sid: number) => void;
  /**
   * A seq gap on a channel other than the order book (lifecycle, trades, index): no book is lost,
   * but frames are. Lifecycle frames missed are caught up over REST by the caller.
   */
  readonly onChannelGap?: (channel: string, sid: number) => void;
  /** A market given up on (snapshot never came, or the venue said it does not exist). */
  readonly onMarketAbandoned?: (market: string, reason: string) => void;
  /** No frame and no ping for this long → stale, reconnect. Default 30 000 (Kalshi pings every 10 s). */
  readonly staleAfterMs?: number;
  readonly reconnectBaseMs?: number;
  readonly reconnectMaxMs?: number;
  readonly handshakeTimeoutMs?: number;
  /** Receipt clock (µs); injectable for tests. */
  readonly clock?: () => TsUs;
}

export interface KalshiWsStats {
  connects: number;
  disconnects: number;
  framesIn: number;
  framesOut: number;
  events: number;
  rejected: number;
  gaps: number;
  resyncs: number;
  resubscribes: number;
  stale: number;
  venueErrors: number;
  authFailures: number;
  droppedStaleSid: number;
  abandoned: number;
  /** Frames of a type the parser does not know (a new channel, a new lifecycle event), by name. */
  ignored: number;
  ignoredTypes: Record<string, number>;
  /**
   * Top-level fields of known messages that no protocol version we know documents, counted as
   * "type.field" (the message itself was read as usual): the first sign the venue added a field.
   */
  unknownFields: Record<string, number>;
}

interface SidInfo {
  readonly channel: string;
  readonly tickers: Set<string>;
}

type Pending =
  | { cmd: "subscribe"; channel: KalshiChannel; tickers: readonly string[] }
  | { cmd: "unsubscribe"; sids: number[] }
  | { cmd: "update_subscription"; sid: number; action: string; tickers?: readonly string[] };

export class KalshiWsClient {
  readonly books = new BookRegistry();
  readonly stats: KalshiWsStats = {
    connects: 0,
    disconnects: 0,
    framesIn: 0,
    framesOut: 0,
    events: 0,
    rejected: 0,
    gaps: 0,
    resyncs: 0,
    resubscribes: 0,
    stale: 0,
    venueErrors: 0,
    authFailures: 0,
    droppedStaleSid: 0,
    abandoned: 0,
    ignored: 0,
    ignoredTypes: Object.create(null) as Record<string, number>,
    unknownFields: Object.create(null) as Record<string, number>,
  };
  private readonly log: Logger;
  private readonly clock: () => TsUs;
  private readonly channels: readonly KalshiChannel[];
  private readonly markets = new Set<string>();
  private ws: WebSocket | null = null;
  private connId = "";
  private connCounter = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /**
   * Subscribe command ids of this connection → channel, kept after the ack: a terminal error in the
   * spec's shape (errorResponsePayload has no sid) names the subscription only by the command that
   * made it. null: a subscribe since replaced (an error citing it is about a subscription gone).
   */
  private readonly subscribeIds = new Map<number, KalshiChannel | null>();
  private readonly sids = new Map<number, SidInfo>();
  private readonly channelSid = new Map<string, number>();
  /**
   * Channels an older server confirmed without a sid (`subscribed` without msg), with the tickers the
   * subscribe named: the sid is learnt from the channel's first frame on an unknown sid.
   */
  private readonly sidless = new Map<string, readonly string[]>();
  /** Sids this connection dropped: their late frames are never taken for a sidless channel's. */
  private readonly retiredSids = new Set<number>();
  /** The seq rule (lib/core/seq.ts): one count per subscription, every sequenced frame included. */
  private readonly seq = new SeqTracker();
  /** Markets whose book awaits a fresh snapshot, and why. */
  private readonly awaiting = new Set<string>();
  private resyncReason = "";
  private snapshotTimer: NodeJS.Timeout | null = null;
  /** Timeouts each awaited market has gone through without its snapshot. */
  private readonly snapshotMisses = new Map<string, number>();
  /** Snapshots received since the snapshot timer was armed. */
  private snapshotsSinceArm = 0;
  /** Timeouts in a row in which no snapshot at all arrived (backs the next wait off; reset by any snapshot). */
  private silentTimeouts = 0;
  /** Markets given up on: never subscribed again by this client. */
  private readonly abandoned = new Set<string>();
  private reconnectTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private attempt = 0;
  private lastActivityMs = 0;
  private closing = false;
  private started = false;
  private isOpen = false;

  constructor(private readonly opts: KalshiWsOptions) {
    this.log = (opts.logger ?? silentLogger).child({ component: "kalshi-ws" });
    this.clock = opts.clock ?? nowUs;
    this.channels = opts.channels ?? PUBLIC_CHANNELS;
    for (const m of opts.markets) this.markets.add(m);
  }

  /** Start connecting (returns at once; progress arrives as FeedHealth events). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.connect();
    const staleMs = this.staleAfterMs();
    this.watchdog = setInterval(() => this.checkLiveness(), Math.max(50, Math.min(1000, staleMs / 4)));
  }

  get connected(): boolean {
    return this.isOpen;
  }

  /** Markets whose books are not (yet) backed by a fresh snapshot. */
  awaitingSnapshots(): string[] {
    return [...this.awaiting].sort();
  }

  subscribedMarkets(): string[] {
    return [...this.markets].sort();
  }

  /** Markets the client gave up on (their snapshot never came); not subscribed again. */
  abandonedMarkets(): string[] {
    return [...this.abandoned].sort();
  }

  /** Follow more markets on the market-scoped subscriptions (books arrive as snapshots). */
  addMarkets(tickers: readonly string[]): void {
    const fresh = tickers.filter((t) => !this.markets.has(t) && !this.abandoned.has(t));
    if (fresh.length === 0) return;
    for (const t of fresh) this.markets.add(t);
    if (!this.isOpen) return;
    for (const ch of this.channels) {
      if (!MARKET_SCOPED.has(ch)) continue;
      const sid = this.channelSid.get(ch);
      if (ch === "orderbook_delta") for (const t of fresh) this.awaiting.add(t);
      if (sid === undefined) {
        // No subscription yet (we started with no market): make one; while one is on its way, the
        // markets it lacks are added when it is confirmed.
        if (!this.subscribePending(ch)) this.subscribe(ch);
        continue;
      }
      this.send({ id: this.takeId({ cmd: "update_subscription", sid, action: "add_markets", tickers: fresh }), cmd: "update_subscription", params: { sid, action: "add_markets", market_tickers: fresh } });
    }
    if (this.awaiting.size > 0) this.armSnapshotTimer();
  }

  removeMarkets(tickers: readonly string[]): void {
    const gone = tickers.filter((t) => this.markets.has(t));
    if (gone.length === 0) return;
    for (const t of gone) {
      this.markets.delete(t);
      this.awaiting.delete(t);
      this.snapshotMisses.delete(t);
      // Its book is released: nothing trades there any more.
      this.books.remove(t);
    }
    if (!this.isOpen) return;
    for (const ch of this.channels) {
      if (!MARKET_SCOPED.has(ch)) continue;
      const sid = this.channelSid.get(ch);
      if (sid === undefined) continue;
      this.send({ id: this.takeId({ cmd: "update_subscription", sid, action: "delete_markets" }), cmd: "update_subscription", params: { sid, action: "delete_markets", market_tickers: gone } });
    }
  }

  /** Close cleanly: no reconnect, timers released. */
  async close(): Promise<void> {
    this.closing = true;
    for (const t of [this.reconnectTimer, this.snapshotTimer]) if (t) clearTimeout(t);
    if (this.watchdog) clearInterval(this.watchdog);
    this.reconnectTimer = this.snapshotTimer = this.watchdog = null;
    await closeSocket(this.ws);
  }

  // ---- connection ------------------------------------------------------------------------------

  private staleAfterMs(): number {
    return this.opts.staleAfterMs ?? 30_000;
  }

  private connect(): void {
    if (this.closing) return;
    this.connId = `kalshi-${++this.connCounter}-${Date.now().toString(36)}`;
    const auth = this.opts.signer.wsAuth(this.opts.wsUrl, this.opts.authMode ?? "header", this.opts.queryNames ?? DEFAULT_WS_QUERY_NAMES);
    const ws = new WebSocket(auth.url, {
      headers: auth.headers,
      handshakeTimeout: this.opts.handshakeTimeoutMs ?? 10_000,
      maxPayload: 64 * 1024 * 1024,
    });
    this.ws = ws;
    this.lastActivityMs = Date.now();
    ws.on("open", () => this.onOpen(ws));
    ws.on("message", (data, isBinary) => {
      if (ws !== this.ws) return;
      this.lastActivityMs = Date.now();
      this.onMessage(isBinary ? Buffer.from(data as Buffer).toString("utf8") : data.toString());
    });
    ws.on("ping", () => {
      if (ws === this.ws) this.lastActivityMs = Date.now();
    });
    ws.on("error", (err) => {
      // ws error texts carry no headers ("Unexpected server response: 401"); keep only the message.
      // With query auth the URL carries a signature: never echo a query string.
      const msg = String(err?.message ?? "error").replace(/\?\S*/g, "?[REDACTED]").slice(0, 120);
      if (/\b401\b|\b403\b/.test(msg)) this.stats.authFailures++;
      this.log.warn("connection error", { connId: this.connId, reason: msg });
    });
    ws.on("close", (code) => {
      if (ws !== this.ws) return;
      this.onClose(code);
    });
  }

  private onOpen(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.isOpen = true;
    this.stats.connects++;
    this.lastActivityMs = Date.now();
    this.log.info("connected", { connId: this.connId, markets: this.markets.size });
    this.health("connected", -1, [], `connection ${this.connId}`);
    // Every book starts stale on a new connection: only fresh snapshots rebuild them.
    this.awaiting.clear();
    if (this.channels.includes("orderbook_delta")) for (const m of this.markets) this.awaiting.add(m);
    this.resyncReason = this.stats.connects > 1 ? "reconnect" : "initial";
    for (const ch of this.channels) this.subscribe(ch);
    if (this.awaiting.size > 0) this.armSnapshotTimer();
  }

  private onClose(code: number): void {
    const wasOpen = this.isOpen;
    this.isOpen = false;
    this.ws = null;
    this.sids.clear();
    this.channelSid.clear();
    this.sidless.clear();
    this.retiredSids.clear();
    this.seq.reset();
    this.pending.clear();
    this.subscribeIds.clear();
    this.books.resetAll();
    // A new connection starts every market's count of unanswered snapshot requests afresh.
    this.snapshotMisses.clear();
    this.silentTimeouts = 0;
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    if (wasOpen) {
      this.stats.disconnects++;
      this.health("disconnected", -1, [], `close code ${code}`);
    }
    if (this.closing) return;
    const delay = this.backoffMs();
    this.log.warn("disconnected, reconnecting", { connId: this.connId, code, attempt: this.attempt, delayMs: Math.round(delay) });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private backoffMs(): number {
    const base = this.opts.reconnectBaseMs ?? 250;
    const max = this.opts.reconnectMaxMs ?? 30_000;
    const exp = Math.min(max, base * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return exp / 2 + Math.random() * (exp / 2);
  }

  private checkLiveness(): void {
    if (!this.isOpen || !this.ws) return;
    const idle = Date.now() - this.lastActivityMs;
    if (idle <= this.staleAfterMs()) return;
    this.stats.stale++;
    this.log.warn("no frame or ping, reconnecting", { connId: this.connId, idleMs: idle });
    this.health("stale", -1, [...this.markets].sort(), `no frame or ping for ${idle} ms`);
    this.ws.terminate();
  }

  // ---- commands --------------------------------------------------------------------------------

  private takeId(p: Pending): number {
    const id = this.nextId++;
    this.pending.set(id, p);
    return id;
  }

  private send(cmd: Record<string, unknown>): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify(cmd);
    this.stats.framesOut++;
    this.opts.onFrame?.({ source: "kalshi", connId: this.connId, tsRecv: this.clock(), dir: "send", text });
    ws.send(text);
  }

  private subscribe(channel: KalshiChannel, tickers: readonly string[] = [...this.markets].sort()): void {
    const params: Record<string, unknown> = { channels: [channel] };
    if (MARKET_SCOPED.has(channel)) {
      if (tickers.length === 0) return; // nothing to follow; Kalshi would answer error 14
      params.market_tickers = tickers;
    }
    if (channel === "orderbook_delta") params.use_yes_price = this.opts.useYesPrice ?? false;
    // Current state for each market now, instead of waiting for its next change.
    if (channel === "ticker") params.send_initial_snapshot = true;
    if (channel === "cfbenchmarks_value") params.index_ids = [...(this.opts.indexIds ?? ["BRTI"])];
    const id = this.takeId({ cmd: "subscribe", channel, tickers: MARKET_SCOPED.has(channel) ? [...tickers] : [] });
    // Only the newest subscribe of a channel names it; a few hundred replaced ones are remembered.
    for (const [old, ch] of this.subscribeIds) if (ch === channel) this.subscribeIds.set(old, null);
    this.subscribeIds.set(id, channel);
    if (this.subscribeIds.size > 256) {
      for (const [old, ch] of this.subscribeIds) {
        if (ch !== null) continue;
        this.subscribeIds.delete(old);
        break;
      }
    }
    this.send({ id, cmd: "subscribe", params });
  }

  /** A subscribe for this channel sent and not answered yet. */
  private subscribePending(channel: KalshiChannel): boolean {
    if (this.sidless.has(channel)) return true; // confirmed; its sid comes with its first frame
    for (const p of this.pending.values()) if (p.cmd === "subscribe" && p.channel === channel) return true;
    return false;
  }

  /** Drop a subscription and make it anew (new sid, fresh snapshots for books). */
  /** `quiet`: a resubscribe in a run of silent timeouts (the books were already reported unknown). */
  private resubscribe(channel: KalshiChannel, why: string, quiet = false): void {
    this.stats.resubscribes++;
    if (this.sidless.has(channel)) {
      // Confirmed without a sid and no frame of it yet: it cannot be unsubscribed, and a second
      // subscribe would leave it live beside the new one (and its late frames could be taken for the
      // new sid). A new connection is the only clean way to drop it.
      this.log.warn("resubscribing a channel whose sid is unknown: reconnecting", { connId: this.connId, channel, why });
      this.ws?.terminate();
      return;
    }
    const old = this.channelSid.get(channel);
    this.log.warn("resubscribing", { connId: this.connId, channel, sid: old ?? -1, why });
    if (old !== undefined) {
      this.send({ id: this.takeId({ cmd: "unsubscribe", sids: [old] }), cmd: "unsubscribe", params: { sids: [old] } });
      this.sids.delete(old);
      this.retiredSids.add(old);
      this.channelSid.delete(channel);
      this.seq.forget(old);
    }
    if (channel === "orderbook_delta") {
      // The old sid's frames are dropped from now on: the books are unknown until the new
      // subscription's snapshots, and the engine must know that too.
      if (!quiet) this.health("gap", old ?? -1, [...this.markets].sort(), `resubscribing: ${why}`);
      for (const m of this.markets) this.awaiting.add(m);
      this.armSnapshotTimer();
    }
    this.subscribe(channel);
  }

  private requestSnapshots(sid: number, tickers: readonly string[]): void {
    if (tickers.length === 0) return;
    this.send({
      id: this.takeId({ cmd: "update_subscription", sid, action: "get_snapshot" }),
      cmd: "update_subscription",
      params: { sid, action: "get_snapshot", market_tickers: [...tickers] },
    });
  }

  private armSnapshotTimer(): void {
    if (this.snapshotTimer) return;
    this.snapshotsSinceArm = 0;
    // After silent timeouts the wait doubles (up to 64 ×): a venue that answers nobody, or the one
    // market we follow never answering, is asked again less and less often, not every timeout for ever.
    const backoff = 2 ** Math.min(this.silentTimeouts, 6);
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = null;
      if (this.awaiting.size === 0 || !this.isOpen) return;
      this.onSnapshotTimeout();
    }, (this.opts.snapshotTimeoutMs ?? 5000) * backoff);
  }

  /**
   * Snapshots still missing after the timeout. A market is blamed for a miss only once it has been
   * silent while others answered: when NOTHING arrived, the venue likely lost our request (or is slow
   * for everyone), so the book subscription is made anew and only markets already silent before are
   * counted again. A market with `maxSnapshotMisses` misses is given up on (a closed or unknown market
   * never answers) — one bad ticker must not reset the good books over and over.
   */
  private onSnapshotTimeout(): void {
    const missing = [...this.awaiting].sort();
    const maxMisses = Math.max(1, this.opts.maxSnapshotMisses ?? 2);
    const giveUp: string[] = [];
    const othersAnswered = this.snapshotsSinceArm > 0;
    this.silentTimeouts = othersAnswered ? 0 : this.silentTimeouts + 1;
    for (const m of missing) {
      const prior = this.snapshotMisses.get(m) ?? 0;
      if (!othersAnswered && prior === 0) continue;
      const n = prior + 1;
      this.snapshotMisses.set(m, n);
      if (n >= maxMisses) giveUp.push(m);
    }
    const timeoutMs = this.opts.snapshotTimeoutMs ?? 5000;
    for (const m of giveUp) this.abandon(m, `no snapshot after ${maxMisses} waits of ${timeoutMs} ms`);
    const still = missing.filter((m) => this.awaiting.has(m));
    if (still.length === 0) {
      if (this.awaiting.size === 0) this.onAllFresh(this.channelSid.get("orderbook_delta") ?? -1, this.clock());
      return;
    }
    const sid = this.channelSid.get("orderbook_delta");
    if (this.snapshotsSinceArm === 0 || sid === undefined) {
      this.resubscribe("orderbook_delta", `no snapshot within ${timeoutMs} ms for ${still.length} markets`, this.silentTimeouts > 1);
      return;
    }
    this.requestSnapshots(sid, still);
    this.armSnapshotTimer();
  }

  /** Stop following one market for good: unsubscribe it everywhere, release its book, tell the owner. */
  private abandon(market: string, reason: string): void {
    if (this.abandoned.has(market)) return;
    this.abandoned.add(market);
    this.stats.abandoned++;
    this.log.warn("market given up", { connId: this.connId, market, reason });
    this.removeMarkets([market]);
    this.books.remove(market);
    this.opts.onMarketAbandoned?.(market, reason);
  }

  // ---- frames ----------------------------------------------------------------------------------

  private onMessage(text: string): void {
    const tsRecv = this.clock();
    this.stats.framesIn++;
    this.opts.onFrame?.({ source: "kalshi", connId: this.connId, tsRecv, dir: "recv", text });
    const r = parseKalshiFrame(text, tsRecv, { useYesPrice: this.opts.useYesPrice ?? false });
    if (!r.ok) {
      this.stats.rejected++;
      if (this.stats.rejected <= 20 || this.stats.rejected % 100 === 0) {
        this.log.warn("frame rejected", { connId: this.connId, reason: r.error.slice(0, 160), type: r.type ?? "", sid: r.sid ?? -1, seq: r.seq ?? -1, rejected: this.stats.rejected });
      }
      this.onRefusedSequenced(r.sid ?? -1, r.seq ?? -1, tsRecv);
      return;
    }
    if (r.ignored !== undefined) {
      this.stats.ignored++;
      const n = countByName(this.stats.ignoredTypes, r.ignored.slice(0, 80));
      if (n === 1) this.log.warn("frame of an unknown type ignored (kept on the tape; counted in stats.ignoredTypes)", { connId: this.connId, type: r.ignored });
    }
    if (r.unknownFields !== undefined) {
      for (const f of r.unknownFields) {
        const key = `${r.type.slice(0, 40)}.${f.slice(0, 40)}`;
        if (countByName(this.stats.unknownFields, key) === 1) this.log.warn("undocumented field in a known message (read as usual; counted in stats.unknownFields)", { connId: this.connId, field: key });
      }
    }
    const c = r.control;
    if (c) {
      this.onControl(c, tsRecv);
    }
    if (r.sid >= 0 && this.sidless.size > 0 && !this.sids.has(r.sid)) this.learnSid(r.type, r.sid);
    // Sequence continuity per sid (lib/core/seq.ts): every sequenced frame counts, errors included.
    if (r.sid >= 0 && r.seq >= 0 && this.sids.has(r.sid)) {
      const gap = this.seq.observe(r.sid, r.seq);
      if (gap) this.onGap(r.sid, gap.expected, gap.got, tsRecv);
    }
    if (r.position) this.opts.onPosition?.(r.position);
    if (r.patch || r.eventPatch) this.opts.onPatch?.(r.patch ?? null, r.eventPatch ?? null);
    for (const e of r.events) {
      if ((e.kind === "book_delta" || e.kind === "book_snapshot") && !this.sids.has(e.sid)) {
        // A late frame of a subscription we already dropped: applying it could corrupt a fresh book.
        this.stats.droppedStaleSid++;
        continue;
      }
      if (e.kind === "book_snapshot") {
        const r = this.books.applySnapshot(e);
        // The registry saw a hole this client did not (its count and ours must agree, the engine's too).
        if (r.gap) this.resyncBooks(e.sid, r.gap.markets.filter((m) => m !== e.market), `book registry: seq ${r.gap.expected} expected, got ${r.gap.got}`, tsRecv);
        const info = this.sids.get(e.sid);
        info?.tickers.add(e.market);
        this.snapshotsSinceArm++;
        this.silentTimeouts = 0;
        this.snapshotMisses.delete(e.market);
        if (this.awaiting.delete(e.market) && this.awaiting.size === 0) this.onAllFresh(e.sid, tsRecv);
      } else if (e.kind === "book_delta") {
        const r = this.books.applyDelta(e);
        if (r.gap) this.resyncBooks(e.sid, r.gap.markets, `book registry: seq ${r.gap.expected} expected, got ${r.gap.got}`, tsRecv);
        // A level below zero or a crossed book: ours is no longer the venue's (§3.6 "else resync").
        // The registry marked it stale; only its snapshot heals it.
        const issue = r.issues[0];
        if (issue) this.resyncBooks(e.sid, [e.market], `${issue.kind} after delta at seq ${e.seq}`, tsRecv);
      } else if (e.kind === "subscription_updated") {
        this.books.countSeq(e.sid, e.seq);
      }
      this.stats.events++;
      this.opts.onEvent?.(e);
    }
  }

  /** A confirmed subscription: its sid, its markets, and the markets added or released meanwhile. */
  private registerSid(channel: string, sid: number, sent: readonly string[]): void {
    const scoped = MARKET_SCOPED.has(channel as KalshiChannel);
    this.sids.set(sid, { channel, tickers: new Set(scoped ? sent : []) });
    this.channelSid.set(channel, sid);
    this.log.debug("subscribed", { connId: this.connId, channel, sid });
    if (scoped) {
      // Markets added while the subscribe was on its way.
      const have = new Set(sent);
      const missing = [...this.markets].filter((m) => !have.has(m)).sort();
      if (missing.length > 0) {
        this.send({ id: this.takeId({ cmd: "update_subscription", sid, action: "add_markets", tickers: missing }), cmd: "update_subscription", params: { sid, action: "add_markets", market_tickers: missing } });
      }
      // …and markets released meanwhile (e.g. closed during a reconnect's subscribe).
      const gone = sent.filter((m) => !this.markets.has(m));
      if (gone.length > 0) {
        for (const m of gone) this.sids.get(sid)!.tickers.delete(m);
        this.send({ id: this.takeId({ cmd: "update_subscription", sid, action: "delete_markets" }), cmd: "update_subscription", params: { sid, action: "delete_markets", market_tickers: gone } });
      }
    }
    this.opts.onSubscribed?.(channel, sid);
  }

  /** A frame on a sid we do not know, of a channel confirmed without one: that is the channel's sid. */
  private learnSid(type: string, sid: number): void {
    const channel = CHANNEL_OF_TYPE.get(type);
    if (channel === undefined || this.retiredSids.has(sid)) return;
    const sent = this.sidless.get(channel);
    if (sent === undefined) return;
    this.sidless.delete(channel);
    this.log.info("sid learnt from the channel's first frame (the venue's subscribed ack named none)", { connId: this.connId, channel, sid });
    this.registerSid(channel, sid, sent);
  }

  private onControl(c: NonNullable<Extract<ReturnType<typeof parseKalshiFrame>, { ok: true }>["control"]>, tsRecv: TsUs): void {
    const pending = c.id > 0 ? this.pending.get(c.id) : undefined;
    switch (c.type) {
      case "subscribed": {
        if (pending?.cmd === "subscribe") this.pending.delete(c.id);
        const channel = pending?.cmd === "subscribe" ? pending.channel : c.channel;
        const sent = pending?.cmd === "subscribe" ? pending.tickers : [...this.markets];
        this.attempt = 0; // the venue accepted us: next disconnect starts backoff afresh
        if (c.sid < 0) {
          // An older server's ack without msg names no sid: the channel's first frame on a sid we
          // do not know gives it (learnSid). An ack for no command of ours names no channel either.
          if (channel !== "") this.sidless.set(channel, sent);
          this.log.debug("subscribed without a sid", { connId: this.connId, channel });
          return;
        }
        this.registerSid(channel, c.sid, sent);
        return;
      }
      case "unsubscribed":
        if (pending) this.pending.delete(c.id);
        this.sids.delete(c.sid);
        if (c.sid >= 0) this.retiredSids.add(c.sid);
        return;
      case "ok":
        if (pending) this.pending.delete(c.id);
        if (c.sid >= 0 && c.marketTickers.length > 0) {
          const info = this.sids.get(c.sid);
          if (info) {
            info.tickers.clear();
            for (const t of c.marketTickers) info.tickers.add(t);
          }
        }
        return;
      case "error": {
        if (pending) this.pending.delete(c.id);
        this.stats.venueErrors++;
        this.log.warn("venue error", { connId: this.connId, code: c.code, message: c.message.slice(0, 120), id: c.id, sid: c.sid, market: c.market });
        // "Market not found": waiting for its snapshot is pointless. The error may name the market(s),
        // or only answer our command (the AsyncAPI example has no ticker): a command for one market
        // then names it.
        if (c.code === 16) {
          const named = c.markets.length > 0 ? c.markets : pending && "tickers" in pending && pending.tickers?.length === 1 ? [...pending.tickers] : [];
          const ours = named.filter((m) => this.markets.has(m));
          if (ours.length > 0) {
            for (const m of ours) this.abandon(m, "venue: market not found");
            if (this.awaiting.size === 0 && this.snapshotTimer) this.onAllFresh(c.sid, tsRecv);
            return;
          }
        }
        if (!TERMINAL_ERRORS.has(c.code)) return;
        const channel = this.channelOfError(c.sid, c.id, pending);
        if (channel === null) {
          // A terminal error naming no subscription of ours (the spec's shape carries no sid): one of
          // them is dead and we cannot tell which. A new connection remakes them all.
          this.log.warn("terminal error naming no subscription: reconnecting", { connId: this.connId, code: c.code });
          this.ws?.terminate();
          return;
        }
        if (channel && (this.channels as readonly string[]).includes(channel)) {
          this.resubscribe(channel as KalshiChannel, `channel error ${c.code}`);
        }
        return;
      }
    }
  }

  /**
   * The channel an error is about: by its sid, else by the command id it answers (a pending command,
   * or the subscribe that made a live subscription). undefined: about a subscription already dropped
   * (nothing to do); null: it names nothing we can place.
   */
  private channelOfError(sid: number, id: number, pending: Pending | undefined): string | undefined | null {
    if (sid >= 0) {
      const info = this.sids.get(sid);
      if (info) return info.channel;
      // An unknown sid may be a channel confirmed without one; a retired one is gone already.
      return this.retiredSids.has(sid) || this.sidless.size === 0 ? undefined : null;
    }
    if (pending?.cmd === "subscribe") return pending.channel;
    if (pending?.cmd === "update_subscription") return this.sids.get(pending.sid)?.channel;
    if (pending?.cmd === "unsubscribe") return undefined;
    if (id > 0 && this.subscribeIds.has(id)) return this.subscribeIds.get(id) ?? undefined;
    return null;
  }

  /**
   * A frame of one of our subscriptions whose message we refused still used up its seq: count it,
   * so the next frame is not taken for a gap. On the book sid we no longer know the books: every one
   * on the sid is resynced at once (the frame never reached the book registry, whose count now has a
   * hole), also while other snapshots are awaited. Elsewhere (lifecycle, trades, index) the frame is
   * skipped, as an ignored one is.
   */
  private onRefusedSequenced(sid: number, seq: number, tsRecv: TsUs): void {
    if (sid < 0 || seq < 0 || !this.sids.has(sid)) return;
    const gap = this.seq.observe(sid, seq);
    if (gap) {
      this.onGap(sid, gap.expected, gap.got, tsRecv);
      return;
    }
    const info = this.sids.get(sid)!;
    if (info.channel === "orderbook_delta") this.resyncBooks(sid, [...info.tickers], `${info.channel} refused frame at seq ${seq}`, tsRecv);
  }

  /**
   * Books of the sid we can no longer vouch for outside a seq gap (a refused frame, a delta the book
   * could not take, a hole only the registry saw): stale until their snapshot. One resync at a time
   * per market: one already awaiting a snapshot has its request out (the timeout asks again, paced),
   * so a burst of bad frames — or a bad snapshot answering our request — asks nothing more.
   */
  private resyncBooks(sid: number, markets: readonly string[], why: string, tsRecv: TsUs): void {
    const stale = markets.filter((m) => this.markets.has(m) && !this.awaiting.has(m)).sort();
    if (stale.length === 0 || this.channelSid.get("orderbook_delta") !== sid) return;
    this.stats.gaps++;
    this.log.warn("books resync", { connId: this.connId, sid, markets: stale.length, why });
    this.health("gap", sid, stale, why, tsRecv);
    for (const m of stale) this.awaiting.add(m);
    this.resyncReason = "gap";
    this.requestSnapshots(sid, stale);
    this.armSnapshotTimer();
  }

  private onGap(sid: number, expected: number, got: number, tsRecv: TsUs, why = ""): void {
    this.stats.gaps++;
    const info = this.sids.get(sid);
    const isBook = info?.channel === "orderbook_delta";
    const markets = isBook ? [...info.tickers].sort() : [];
    this.log.warn("sequence gap", { connId: this.connId, sid, channel: info?.channel ?? "?", expected, got, why });
    // A gap off the book (lifecycle, trades, index) names no market: the engine records it and
    // keeps trading, since no book is lost; the caller catches up what the channel missed.
    this.health("gap", sid, markets, why ? `${info?.channel ?? "?"} ${why}` : `${info?.channel ?? "?"} expected seq ${expected}, got ${got}`, tsRecv);
    if (!isBook) {
      if (info) this.opts.onChannelGap?.(info.channel, sid);
      return;
    }
    for (const m of markets) this.awaiting.add(m);
    this.resyncReason = "gap";
    this.requestSnapshots(sid, markets);
    this.armSnapshotTimer();
  }

  private onAllFresh(sid: number, tsRecv: TsUs): void {
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    this.stats.resyncs++;
    this.health("resynced", sid, [...this.markets].sort(), `books fresh (${this.resyncReason || "snapshot"})`, tsRecv);
  }

  private health(status: FeedHealth["status"], sid: number, markets: readonly string[], detail: string, tsRecv: TsUs = this.clock()): void {
    const e: FeedHealth = { kind: "feed_health", tsRecv, tsExchange: null, feed: "kalshi", status, sid, markets, detail };
    this.stats.events++;
    this.opts.onEvent?.(e);
  }
}

/**
 * Count one more of a name the venue chose, in a prototype-free map of at most 64 names (later ones
 * are counted together as "(other)"); returns the name's new count.
 */
function countByName(counts: Record<string, number>, key: string): number {
  const name = key in counts || Object.keys(counts).length < 64 ? key : "(other)";
  return (counts[name] = (counts[name] ?? 0) + 1);
}
