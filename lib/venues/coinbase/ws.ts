/**
 * Coinbase Advanced Trade market-data WebSocket client (coinbase-brti.md Part A).
 *
 * Subscribes, one channel per message, to `heartbeats` (keeps quiet connections open), `ticker` and
 * optionally `level2` for one product. `sequence_num` is a per-connection counter over all frames:
 * a jump is a gap (FeedHealth "gap"; tickers are full state so the next one heals it), a smaller
 * number is ignored as out of order. No frame for `staleAfterMs` → FeedHealth "stale" and reconnect
 * with jittered exponential backoff. Frames go to `onFrame` first, then through `parseCoinbaseFrame`.
 */
import WebSocket from "ws";
import { closeSocket } from "../socket.ts";
import type { EngineEvent, FeedHealth } from "../../core/events.ts";
import type { TsUs } from "../../core/units.ts";
import type { RawFrame } from "../../tape/types.ts";
import { nowUs } from "../../live/clock.ts";
import { silentLogger, type Logger } from "../../live/logger.ts";
import { parseCoinbaseFrame } from "./parse.ts";

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
}

export class CoinbaseWsClient {
  /** A sequence gap has not yet been healed by a fresh ticker. */
  private gapOpen = false;
  readonly stats: CoinbaseWsStats = { connects: 0, disconnects: 0, framesIn: 0, events: 0, rejected: 0, refusedEntries: 0, gaps: 0, outOfOrder: 0, stale: 0, venueErrors: 0 };
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

  constructor(private readonly opts: CoinbaseWsOptions = {}) {
    this.log = (opts.logger ?? silentLogger).child({ component: "coinbase-ws" });
    this.clock = opts.clock ?? nowUs;
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
    const stale = this.staleAfterMs();
    this.watchdog = setInterval(() => this.checkLiveness(), Math.max(50, Math.min(1000, stale / 4)));
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.reconnectTimer = this.watchdog = null;
    await closeSocket(this.ws);
  }

  private staleAfterMs(): number {
    return this.opts.staleAfterMs ?? 10_000;
  }

  private connect(): void {
    if (this.closing) return;
    this.connId = `coinbase-${++this.connCounter}-${Date.now().toString(36)}`;
    this.lastSeq = -1;
    // A BTC-USD level2 snapshot is one ~5 MB frame: allow large payloads explicitly.
    const ws = new WebSocket(this.opts.wsUrl ?? COINBASE_WS_URL, { maxPayload: 64 * 1024 * 1024, handshakeTimeout: 10_000 });
    this.ws = ws;
    this.lastActivityMs = Date.now();
    ws.on("open", () => {
      if (ws !== this.ws) return;
      this.isOpen = true;
      this.stats.connects++;
      this.lastActivityMs = Date.now();
      this.log.info("connected", { connId: this.connId, product: this.productId });
      this.health("connected", `connection ${this.connId}`);
      // Coinbase closes a connection that does not subscribe within 5 s: subscribe at once.
      this.sendSub("heartbeats");
      this.sendSub("ticker");
      if (this.opts.level2) this.sendSub("level2");
      if (this.opts.marketTrades) this.sendSub("market_trades");
    });
    ws.on("message", (data) => {
      if (ws !== this.ws) return;
      this.lastActivityMs = Date.now();
      this.onMessage(data.toString());
    });
    ws.on("error", (err) => this.log.warn("connection error", { connId: this.connId, reason: String(err?.message ?? "error").slice(0, 120) }));
    ws.on("close", (code) => {
      if (ws !== this.ws) return;
      const wasOpen = this.isOpen;
      this.isOpen = false;
      this.ws = null;
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

  private sendSub(channel: string): void {
    const msg: Record<string, unknown> = { type: "subscribe", channel };
    if (channel !== "heartbeats") msg.product_ids = [this.productId];
    const text = JSON.stringify(msg);
    this.opts.onFrame?.({ source: "coinbase", connId: this.connId, tsRecv: this.clock(), dir: "send", text });
    this.ws?.send(text);
  }

  private checkLiveness(): void {
    if (!this.isOpen || !this.ws) return;
    const idle = Date.now() - this.lastActivityMs;
    if (idle <= this.staleAfterMs()) return;
    this.stats.stale++;
    this.log.warn("no frame, reconnecting", { connId: this.connId, idleMs: idle });
    this.health("stale", `no frame for ${idle} ms`);
    this.ws.terminate();
  }

  /** Continuity of sequence_num; false for a frame older than the last one (Coinbase: ignore it). */
  private observeSeq(seq: number, tsRecv: TsUs): boolean {
    if (this.lastSeq >= 0 && seq <= this.lastSeq) {
      this.stats.outOfOrder++;
      return false;
    }
    if (this.lastSeq >= 0 && seq !== this.lastSeq + 1) {
      this.stats.gaps++;
      this.log.warn("sequence gap", { connId: this.connId, expected: this.lastSeq + 1, got: seq });
      this.health("gap", `sequence_num expected ${this.lastSeq + 1}, got ${seq}`, tsRecv);
      this.gapOpen = true;
    }
    this.lastSeq = seq;
    return true;
  }

  private onMessage(text: string): void {
    const tsRecv = this.clock();
    this.stats.framesIn++;
    this.opts.onFrame?.({ source: "coinbase", connId: this.connId, tsRecv, dir: "recv", text });
    const r = parseCoinbaseFrame(text, tsRecv);
    if (!r.ok) {
      if (/^\s*\{\s*"type"\s*:\s*"error"/.test(text)) this.stats.venueErrors++;
      else this.stats.rejected++;
      if (this.stats.rejected + this.stats.venueErrors <= 20 || this.stats.rejected % 100 === 0) {
        this.log.warn("frame rejected", { connId: this.connId, reason: r.error.slice(0, 160) });
      }
      // A frame we could not read still consumed its number, or the next one would look like a gap. Only
      // the very next number is taken from it: a bad frame's number cannot move the count anywhere else.
      if (r.sequenceNum !== undefined && this.lastSeq >= 0 && r.sequenceNum === this.lastSeq + 1) this.lastSeq = r.sequenceNum;
      return;
    }
    this.attempt = 0;
    for (const reason of r.refused) {
      this.stats.refusedEntries++;
      if (this.stats.refusedEntries <= 20 || this.stats.refusedEntries % 100 === 0) {
        this.log.warn("entry refused", { connId: this.connId, reason: reason.slice(0, 160), refusedEntries: this.stats.refusedEntries });
      }
    }
    if (!this.observeSeq(r.sequenceNum, tsRecv)) return;
    let quoted = false;
    for (const e of r.events) {
      this.stats.events++;
      if (e.kind === "spot_quote") quoted = true;
      this.opts.onEvent?.(e);
    }
    // Tickers carry full state: the first quote after a gap heals the feed.
    if (this.gapOpen && quoted) {
      this.gapOpen = false;
      this.health("resynced", "ticker after gap (full state)", tsRecv);
    }
  }

  private health(status: FeedHealth["status"], detail: string, tsRecv: TsUs = this.clock()): void {
    const e: FeedHealth = { kind: "feed_health", tsRecv, tsExchange: null, feed: "coinbase", status, sid: -1, markets: [], detail };
    this.stats.events++;
    this.opts.onEvent?.(e);
  }
}
