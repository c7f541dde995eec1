/**
 * Coinbase Advanced Trade market-data WebSocket client (coinbase-brti.md Part A).
 *
 * Subscribes, one channel per message, to `heartbeats` (keeps quiet connections open), `ticker` and
 * optionally `level2` for one product. `sequence_num` is a per-connection counter over all frames from
 * 0 (A.5): a jump, or a first frame above 0, is a gap (FeedHealth "gap"; tickers are full state so the
 * next usable quote of our product heals it; with level2 on, level2 is resubscribed for a fresh
 * snapshot), a smaller number is ignored as out of order, and a long run of those means the count was
 * poisoned: reconnect. Only in-order frames count as liveness: none for `staleAfterMs` → FeedHealth
 * "stale" and reconnect with jittered exponential backoff, whose attempt count resets only once a
 * connection proved itself (a usable quote, or `reconnectResetAfterMs` up). A subscribe answered by a
 * venue error, or not acked within `subscribeTimeoutMs`, is sent again with back-off, then the
 * connection is given up. Entries for products we did not subscribe are dropped and counted. Frames go
 * to `onFrame` first, then through `parseCoinbaseFrame`.
 */
import WebSocket from "ws";
import { closeSocket } from "../socket.ts";
import type { EngineEvent, FeedHealth } from "../../core/events.ts";
import type { TsUs } from "../../core/units.ts";
import type { RawFrame } from "../../tape/types.ts";
import { nowUs } from "../../live/clock.ts";
import { silentLogger, type Logger } from "../../live/logger.ts";
import { coinbaseProductsFor, coinbaseSeqStep, parseCoinbaseFrame, type CoinbaseFrameResult } from "./parse.ts";

export const COINBASE_WS_URL = "wss://advanced-trade-ws.coinbase.com";

export interface CoinbaseWsOptions {
  readonly wsUrl?: string;
  readonly productId?: string;
  /** Also subscribe level2 (raw frames only: the parser yields no events for it). */
  readonly level2?: boolean;
  /** Also subscribe market_trades. */
  readonly marketTrades?: boolean;
  readonly onFrame?: (frame: RawFrame) => void;
  readonly onEvent?: (event: EngineEvent) => void;
  readonly logger?: Logger;
  /** COINBASE_STALE_SECONDS × 1000. Default 10 000. */
  readonly staleAfterMs?: number;
  readonly reconnectBaseMs?: number;
  readonly reconnectMaxMs?: number;
  /** A connection up this long (or one that gave a usable quote) resets the reconnect back-off. Default 30 000. */
  readonly reconnectResetAfterMs?: number;
  /** This many out-of-order frames in a row: the sequence count is poisoned, reconnect. Default 50. */
  readonly outOfOrderLimit?: number;
  /** A subscribe neither acked nor answered by data this long is sent again. Default 5 000. */
  readonly subscribeTimeoutMs?: number;
  /** First resubscribe delay after a refused subscribe, doubled per try. Default 1 000. */
  readonly resubscribeBaseMs?: number;
  readonly clock?: () => TsUs;
}

export interface CoinbaseWsStats {
  connects: number;
  disconnects: number;
  framesIn: number;
  events: number;
  /** Frames refused whole. */
  rejected: number;
  /** Entries (one ticker, one trade) refused inside frames that were otherwise read. */
  refusedEntries: number;
  gaps: number;
  outOfOrder: number;
  stale: number;
  venueErrors: number;
  /** Entries dropped because they name a product we did not subscribe. */
  foreignProducts: number;
  /** Subscribes sent again after a refusal or a missing ack. */
  resubscribes: number;
}

/** Subscribe tries on one connection before it is given up for a new one. */
const SUBSCRIBE_TRIES = 3;
/** At most one level2 resubscribe (two messages) per second: Coinbase allows 8 client messages/s/IP. */
const LEVEL2_RESYNC_MIN_MS = 1000;
/** Data channel → the subscribe name that asked for it (A.3: they differ for level2). */
const SUBSCRIBE_NAME: Record<string, string> = { heartbeats: "heartbeats", ticker: "ticker", l2_data: "level2", market_trades: "market_trades" };


interface PendingSub {
  sentAtMs: number;
}

export class CoinbaseWsClient {
  /** A sequence gap has not yet been healed by a fresh ticker. */
  private gapOpen = false;
  /** A gap found in the frame being read, reported once its events are out. */
  private gapDetail: string | null = null;
  readonly stats: CoinbaseWsStats = { connects: 0, disconnects: 0, framesIn: 0, events: 0, rejected: 0, refusedEntries: 0, gaps: 0, outOfOrder: 0, stale: 0, venueErrors: 0, foreignProducts: 0, resubscribes: 0 };
  private readonly log: Logger;
  private readonly clock: () => TsUs;
  private ws: WebSocket | null = null;
  private connId = "";
  private connCounter = 0;
  private lastSeq = -1;
  private lastActivityMs = 0;
  private attempt = 0;
  private isOpen = false;
  private closing = false;
  private started = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private readonly ourProducts: ReadonlySet<string>;
  private readonly foreignLogged = new Set<string>();
  // Per connection:
  private openedAtMs = 0;
  /** The connection gave a usable quote of our product. */
  private proven = false;
  /** The connection is being given up: its remaining frames are ignored. */
  private dropping = false;
  private outOfOrderRun = 0;
  /** Subscribes sent and neither acked nor answered by data yet, by subscribe name. */
  private readonly pendingSubs = new Map<string, PendingSub>();
  private subscribeTries = 0;
  private resubTimer: NodeJS.Timeout | null = null;
  private level2ResyncDue = false;
  private lastLevel2ResyncMs = 0;

  constructor(private readonly opts: CoinbaseWsOptions = {}) {
    this.log = (opts.logger ?? silentLogger).child({ component: "coinbase-ws" });
    this.clock = opts.clock ?? nowUs;
    this.ourProducts = coinbaseProductsFor(this.productId);
  }

  get productId(): string {
    return this.opts.productId ?? "BTC-USD";
  }

  get connected(): boolean {
    return this.isOpen;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.connect();
    const period = Math.min(1000, this.staleAfterMs() / 4, this.subscribeTimeoutMs() / 2);
    this.watchdog = setInterval(() => this.tick(), Math.max(50, period));
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.clearResub();
    this.reconnectTimer = this.watchdog = null;
    await closeSocket(this.ws);
  }

  private staleAfterMs(): number {
    return this.opts.staleAfterMs ?? 10_000;
  }

  private subscribeTimeoutMs(): number {
    return this.opts.subscribeTimeoutMs ?? 5000;
  }

  private clearResub(): void {
    if (this.resubTimer) clearTimeout(this.resubTimer);
    this.resubTimer = null;
  }

  private connect(): void {
    if (this.closing) return;
    this.connId = `coinbase-${++this.connCounter}-${Date.now().toString(36)}`;
    this.lastSeq = -1;
    this.proven = this.dropping = this.level2ResyncDue = false;
    this.outOfOrderRun = this.subscribeTries = 0;
    this.pendingSubs.clear();
    this.clearResub();
    // A BTC-USD level2 snapshot is one ~5 MB frame: allow large payloads explicitly.
    const ws = new WebSocket(this.opts.wsUrl ?? COINBASE_WS_URL, { maxPayload: 64 * 1024 * 1024, handshakeTimeout: 10_000 });
    this.ws = ws;
    this.lastActivityMs = Date.now();
    ws.on("open", () => {
      if (ws !== this.ws) return;
      this.isOpen = true;
      this.stats.connects++;
      this.lastActivityMs = this.openedAtMs = Date.now();
      this.log.info("connected", { connId: this.connId, product: this.productId });
      this.health("connected", `connection ${this.connId}`);
      // Coinbase closes a connection that does not subscribe within 5 s: subscribe at once.
      this.sendSub("heartbeats");
      this.sendSub("ticker");
      if (this.opts.level2) this.sendSub("level2");
      if (this.opts.marketTrades) this.sendSub("market_trades");
    });
    ws.on("message", (data) => {
      if (ws !== this.ws || this.dropping) return;
      this.onMessage(data.toString());
    });
    ws.on("error", (err) => this.log.warn("connection error", { connId: this.connId, reason: String(err?.message ?? "error").slice(0, 120) }));
    ws.on("close", (code) => {
      if (ws !== this.ws) return;
      const wasOpen = this.isOpen;
      this.isOpen = false;
      this.ws = null;
      this.clearResub();
      // Back-off restarts only after a connection that proved itself: a venue that acks then closes
      // must not be redialled at the base delay forever (A.4: 8 connections/s/IP).
      if (wasOpen && (this.proven || Date.now() - this.openedAtMs >= (this.opts.reconnectResetAfterMs ?? 30_000))) this.attempt = 0;
      if (wasOpen) {
        this.stats.disconnects++;
        this.health("disconnected", `close code ${code}`);
      }
      if (this.closing) return;
      const base = this.opts.reconnectBaseMs ?? 250;
      const exp = Math.min(this.opts.reconnectMaxMs ?? 30_000, base * 2 ** this.attempt);
      this.attempt = Math.min(this.attempt + 1, 30);
      const delay = exp / 2 + Math.random() * (exp / 2);
      this.log.warn("disconnected, reconnecting", { connId: this.connId, code, delayMs: Math.round(delay) });
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        this.connect();
      }, delay);
    });
  }

  private sendSub(channel: string, type: "subscribe" | "unsubscribe" = "subscribe"): void {
    const msg: Record<string, unknown> = { type, channel };
    if (channel !== "heartbeats") msg.product_ids = [this.productId];
    const text = JSON.stringify(msg);
    this.opts.onFrame?.({ source: "coinbase", connId: this.connId, tsRecv: this.clock(), dir: "send", text });
    if (type === "subscribe") this.pendingSubs.set(channel, { sentAtMs: Date.now() });
    this.ws?.send(text);
  }

  /** Give the connection up; the close handler reconnects with back-off. */
  private drop(): void {
    this.dropping = true;
    this.clearResub();
    this.ws?.terminate();
  }

  private tick(): void {
    if (!this.isOpen || !this.ws || this.dropping) return;
    const now = Date.now();
    const idle = now - this.lastActivityMs;
    if (idle > this.staleAfterMs()) {
      this.stats.stale++;
      this.log.warn("no frame in sequence, reconnecting", { connId: this.connId, idleMs: idle });
      this.health("stale", `no frame in sequence for ${idle} ms`);
      this.drop();
      return;
    }
    if (this.level2ResyncDue) this.resyncLevel2();
    if (this.resubTimer) return;
    for (const [channel, p] of this.pendingSubs) {
      if (now - p.sentAtMs > this.subscribeTimeoutMs()) {
        this.subscribeRefused(`${channel} not acked within ${this.subscribeTimeoutMs()} ms`);
        return;
      }
    }
  }

  /**
   * A subscribe still unanswered was refused (a venue error names no channel, so every unanswered one
   * is sent again), or not acked in time: resend with back-off, then give the connection up.
   */
  private subscribeRefused(reason: string): void {
    if (this.pendingSubs.size === 0 || this.resubTimer || this.dropping) return;
    const channels = [...this.pendingSubs.keys()];
    this.subscribeTries++;
    if (this.subscribeTries >= SUBSCRIBE_TRIES) {
      this.log.warn("subscribe refused, reconnecting", { connId: this.connId, channels, reason: reason.slice(0, 120), tries: this.subscribeTries });
      this.drop();
      return;
    }
    const exp = (this.opts.resubscribeBaseMs ?? 1000) * 2 ** (this.subscribeTries - 1);
    const delay = exp / 2 + Math.random() * (exp / 2);
    this.log.warn("subscribe refused, resubscribing", { connId: this.connId, channels, reason: reason.slice(0, 120), delayMs: Math.round(delay) });
    this.resubTimer = setTimeout(() => {
      this.resubTimer = null;
      if (!this.isOpen || this.dropping) return;
      for (const channel of this.pendingSubs.keys()) {
        this.stats.resubscribes++;
        this.sendSub(channel);
      }
    }, delay);
  }

  /** An ack lists the cumulative subscriptions: every pending one it names for our product is done. */
  private acked(subscriptions: Record<string, string[]>): void {
    for (const channel of [...this.pendingSubs.keys()]) {
      const products = subscriptions[channel] ?? [];
      if (channel === "heartbeats" ? products.length > 0 : products.some((p) => this.ourProducts.has(p))) this.subscribed(channel);
    }
  }

  private subscribed(channel: string): void {
    if (!this.pendingSubs.delete(channel)) return;
    if (this.pendingSubs.size === 0) this.subscribeTries = 0;
  }

  /** A level2 gap leaves the raw book untrustworthy: a fresh subscription starts with a new snapshot (A.5). */
  private resyncLevel2(): void {
    const now = Date.now();
    if (now - this.lastLevel2ResyncMs < LEVEL2_RESYNC_MIN_MS) return;
    this.level2ResyncDue = false;
    this.lastLevel2ResyncMs = now;
    this.log.warn("level2 resubscribe after gap", { connId: this.connId });
    this.sendSub("level2", "unsubscribe");
    this.sendSub("level2");
  }

  /** Continuity of sequence_num, which starts at 0 on every connection; false for an out-of-order frame. */
  private observeSeq(r: Extract<CoinbaseFrameResult, { ok: true }>, tsRecv: TsUs): boolean {
    const seq = r.sequenceNum;
    const step = coinbaseSeqStep(this.lastSeq, r);
    if (!step.inOrder) {
      this.stats.outOfOrder++;
      // A long run means one bogus huge number poisoned the count (the watchdog catches a slow run).
      if (++this.outOfOrderRun >= (this.opts.outOfOrderLimit ?? 50)) {
        this.log.warn("sequence_num poisoned, reconnecting", { connId: this.connId, lastSeq: this.lastSeq, got: seq, run: this.outOfOrderRun });
        this.health("gap", `${this.outOfOrderRun} frames out of order after sequence_num ${this.lastSeq}, reconnecting`, tsRecv);
        this.gapOpen = true;
        this.drop();
      }
      return false;
    }
    this.outOfOrderRun = 0;
    if (step.gap) {
      this.stats.gaps++;
      this.log.warn("sequence gap", { connId: this.connId, expected: this.lastSeq + 1, got: seq });
      // Reported after the frame's own events (onMessage): the raw layer re-parses the frame first and
      // finds this report after it, so a replay from raw sees the same order.
      this.gapDetail = `sequence_num expected ${this.lastSeq + 1}, got ${seq}`;
      this.gapOpen = true;
      if (this.opts.level2) {
        this.level2ResyncDue = true;
        this.resyncLevel2();
      }
    }
    this.lastSeq = step.last;
    return true;
  }

  private onMessage(text: string): void {
    const tsRecv = this.clock();
    this.stats.framesIn++;
    this.opts.onFrame?.({ source: "coinbase", connId: this.connId, tsRecv, dir: "recv", text });
    const r = parseCoinbaseFrame(text, tsRecv);
    if (!r.ok) {
      if (r.venueError) this.stats.venueErrors++;
      else this.stats.rejected++;
      if (this.stats.rejected + this.stats.venueErrors <= 20 || this.stats.rejected % 100 === 0) {
        this.log.warn(r.venueError ? "venue error" : "frame rejected", { connId: this.connId, reason: r.error.slice(0, 160) });
      }
      if (r.venueError) this.subscribeRefused(r.error);
      // A frame we could not read still consumed its number, or the next one would look like a gap.
      const step = coinbaseSeqStep(this.lastSeq, r);
      if (step.last !== this.lastSeq) {
        this.lastSeq = step.last;
        this.outOfOrderRun = 0;
      }
      return;
    }
    for (const reason of r.refused) {
      this.stats.refusedEntries++;
      if (this.stats.refusedEntries <= 20 || this.stats.refusedEntries % 100 === 0) {
        this.log.warn("entry refused", { connId: this.connId, reason: reason.slice(0, 160), refusedEntries: this.stats.refusedEntries });
      }
    }
    if (!this.observeSeq(r, tsRecv)) return;
    // Only frames in sequence prove the feed alive: out-of-order ones must not feed the watchdog.
    this.lastActivityMs = Date.now();
    if (r.subscriptions) this.acked(r.subscriptions);
    let quoted = false;
    let ours = false;
    for (const e of r.events) {
      if (e.kind === "spot_quote" || e.kind === "spot_trade") {
        if (!this.ourProducts.has(e.productId)) {
          this.foreignProduct(e.productId);
          continue;
        }
        ours = true;
        if (e.kind === "spot_quote" && e.bid > 0 && e.ask > e.bid) quoted = true;
      }
      this.stats.events++;
      this.opts.onEvent?.(e);
    }
    // Data of ours on a channel answers its subscribe as well as an ack would (heartbeats name no product).
    const sub = SUBSCRIBE_NAME[r.channel];
    if (sub !== undefined && (ours || (sub !== "ticker" && sub !== "market_trades"))) this.subscribed(sub);
    if (quoted && !this.proven) {
      this.proven = true;
      this.attempt = 0;
    }
    if (this.gapDetail !== null) {
      this.health("gap", this.gapDetail, tsRecv);
      this.gapDetail = null;
    }
    // Tickers carry full state: the first usable quote of our product after a gap heals the feed.
    if (this.gapOpen && quoted) {
      this.gapOpen = false;
      this.health("resynced", "ticker after gap (full state)", tsRecv);
    }
  }

  private foreignProduct(productId: string): void {
    this.stats.foreignProducts++;
    if (this.foreignLogged.size < 10 && !this.foreignLogged.has(productId)) {
      this.foreignLogged.add(productId);
      this.log.warn("entry for a product not subscribed, dropped", { connId: this.connId, product: productId.slice(0, 24), subscribed: this.productId });
    }
  }

  private health(status: FeedHealth["status"], detail: string, tsRecv: TsUs = this.clock()): void {
    const e: FeedHealth = { kind: "feed_health", tsRecv, tsExchange: null, feed: "coinbase", status, sid: -1, markets: [], detail };
    this.stats.events++;
    this.opts.onEvent?.(e);
  }
}
