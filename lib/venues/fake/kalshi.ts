/**
 * A local fake of Kalshi's Trade API v2 (REST + WebSocket) on 127.0.0.1, speaking the documented
 * shapes (reference §3–§4, kalshi-asyncapi.yaml). It verifies RSA-PSS signatures with the public
 * half of a throwaway key pair generated at start (written to a temp dir, removed on close), so the
 * real signing code is exercised end to end.
 *
 * Scriptable faults (`faults`): drop connections, lose a sequenced book message (seq gap), stall
 * (send nothing, pings included), malformed frames, ignore get_snapshot, channel errors, and REST
 * faults (429 / 5xx / timeout) on the next N calls of a route — optionally AFTER applying the
 * request, to test unknown-outcome reconciliation.
 */
import { createPublicKey, generateKeyPairSync, verify, constants, randomUUID, type KeyObject } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocketServer, type WebSocket } from "ws";
import { PRICE_ONE, type CountE2, type PriceE4 } from "../../core/units.ts";
import { DEFAULT_WS_QUERY_NAMES, HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, signingMessage, type WsQueryNames } from "../kalshi/auth.ts";
import {
  FakeKalshiState,
  FakeRejection,
  fmtCount,
  fmtMoney,
  fmtPrice,
  parseCountFp,
  parsePriceDollars,
  type FakeFill,
  type FakeMarket,
  type FakeOrder,
  type FakePublicTrade,
  type FakeStateOptions,
  type Leg,
} from "./kalshi-state.ts";

export interface FakeKalshiOptions extends FakeStateOptions {
  /**
   * Answer an add_markets naming a ticker this venue does not list with the AsyncAPI's own
   * `marketNotFound` error ({code: 16, msg: "Market not found"}: the command's id, no ticker).
   * Default false: unknown tickers are silently left out (no snapshot ever comes).
   */
  readonly answerUnknownTickers?: boolean;
  /**
   * Answer a subscribe as older servers did, `{"id":1,"type":"subscribed"}` without `msg` (kalshi-api.md
   * §3.3, UNCERTAIN whether still emitted): the client learns the sid from the channel's frames.
   */
  readonly legacySubscribedAcks?: boolean;
  /** Random book activity: one step every N ms (0 = off; drive it with `state.randomDelta()`). */
  readonly flowIntervalMs?: number;
  /** Book changes per flow tick (default 1): with flowIntervalMs 1, a load generator (soak/bench). */
  readonly flowPerTick?: number;
  /**
   * Load generator: book changes per second, whatever the timer resolution (each tick sends what the
   * elapsed time owes; ticks missed under load are made up, at most a tenth of a second at once).
   * Overrides flowPerTick.
   */
  readonly flowPerSecond?: number;
  /** Share of flow steps that are public trades instead of resting-size changes. */
  readonly tradeShare?: number;
  /** BRTI cfbenchmarks_value cadence (default 1000; 0 = off). */
  readonly brtiIntervalMs?: number;
  /** Ticker channel cadence (default 500; 0 = off). */
  readonly tickerIntervalMs?: number;
  /** WS ping cadence (Kalshi: 10 s with body "heartbeat"). */
  readonly pingIntervalMs?: number;
  /** Accepted clock skew of KALSHI-ACCESS-TIMESTAMP. */
  readonly timestampToleranceMs?: number;
  /** Query-string auth parameter names accepted on the WS upgrade (header auth always works). */
  readonly wsQueryNames?: WsQueryNames;
  /** Key type written for the client: PKCS#8 ("pkcs8", default) or PKCS#1 ("pkcs1"). */
  readonly keyFormat?: "pkcs8" | "pkcs1";
  /** Rolling mode: how often the schedule is advanced (default 20 ms). */
  readonly rollingTickMs?: number;
}

export type RestFaultKind = 429 | 500 | 502 | 503 | "timeout" | "garbage" | "delay";

export interface RestFault {
  readonly kind: RestFaultKind;
  /** Calls affected (default 1). */
  count?: number;
  /** Perform the request first, then answer with the fault (unknown outcome). */
  readonly apply?: boolean;
  /** kind "delay": hold the request this long, then handle it normally (default 1000). */
  readonly ms?: number;
}

interface Sub {
  readonly sid: number;
  readonly channel: string;
  /** null = all markets. */
  tickers: Set<string> | null;
  seq: number;
  readonly useYesPrice: boolean;
  readonly indexIds: Set<string>;
  /** The id of the subscribe command that made it (a spec-shaped channel error names only that). */
  readonly cmdId: number | null;
}

interface Conn {
  readonly ws: WebSocket;
  readonly subs: Map<number, Sub>;
  nextSid: number;
}

export interface FakeKalshiFaults {
  /** Terminate every WS connection (no close frame). */
  dropConnections(): void;
  /** Lose the next `n` orderbook messages (their seq is consumed, the frames never sent). */
  skipSeq(n?: number): void;
  /** Lose the next `n` market_lifecycle_v2 channel messages the same way. */
  skipLifecycleSeq(n?: number): void;
  /**
   * The next `n` messages of the channel keep their sid and seq but carry a value the protocol does
   * not allow (a price of 5 decimals; a market ticker that is a number): a frame a client refuses.
   */
  corruptSeq(channel: "orderbook_delta" | "market_lifecycle_v2", n?: number): void;
  /** Send nothing at all (no frames, no pings) for `ms`. */
  stall(ms: number): void;
  /** Send `n` malformed frames on every connection now. */
  malformed(n?: number): void;
  /** Send `n` well-formed frames of types a client may not know yet (unsequenced) on every connection. */
  unknownFrames(n?: number): void;
  /**
   * The next `n` orderbook_delta messages carry fields no version of the protocol documents
   * (`queue_position_hint`, `venue_flags`), as a venue that adds fields would send them.
   */
  novelFields(n?: number): void;
  /** Do not answer the next `n` get_snapshot commands. */
  ignoreSnapshots(n?: number): void;
  /** Send no book snapshot of any kind (subscribe, get_snapshot, add_markets) for `ms`: a venue slow for everyone. */
  withholdSnapshots(ms: number): void;
  /**
   * Send a terminal channel error for every orderbook subscription. Default: code 10 carrying the sid.
   * `shape` "id" is the AsyncAPI errorResponsePayload (id, type, msg — no sid): the id of the subscribe
   * command that made the subscription; "bare" names neither id nor sid (one per connection). `drop`:
   * the venue ends the subscription too (its frames stop, its sid is unknown from then on).
   */
  channelError(opts?: { code?: 10 | 17 | 25; shape?: "sid" | "id" | "bare"; drop?: boolean }): void;
  /** Answer the next add_markets (its ok and the new markets' snapshots) only after `ms`; the other books trade on meanwhile. */
  delayAddMarkets(ms: number): void;
  /**
   * Send one orderbook_delta on `ticker` (default: the first market) that the venue's book does not back
   * (the state is unchanged): "negative" takes 1 contract more than rests at the best YES bid;
   * "crossed" adds a YES bid at 1 − the best NO bid. Only a fresh snapshot makes a client agree again.
   */
  inconsistentDelta(kind: "negative" | "crossed", ticker?: string): void;
  /**
   * Send a non-terminal, subscription-scoped error that carries `sid` and consumes a `seq` on every
   * orderbook subscription (AsyncAPI errorResponsePayload allows both), e.g. code 27 "Too many requests".
   */
  sequencedError(code?: number): void;
  /** Fault the next calls of a route, e.g. "POST /portfolio/events/orders" or "GET /markets". */
  rest(route: string, fault: RestFault): void;
  /** Reject the next `n` WS upgrades with 401 regardless of signature. */
  rejectUpgrades(n?: number): void;
  clear(): void;
}

export interface FakeKalshi {
  readonly restUrl: string;
  readonly wsUrl: string;
  readonly keyId: string;
  readonly privateKeyPath: string;
  readonly publicKeyPem: string;
  /** The KALSHI_* settings that point a client (a runner, a child process) at this fake. */
  readonly clientEnv: Readonly<Record<"KALSHI_REST_URL" | "KALSHI_WS_URL" | "KALSHI_API_KEY_ID" | "KALSHI_PRIVATE_KEY_PATH", string>>;
  readonly state: FakeKalshiState;
  readonly faults: FakeKalshiFaults;
  /** Request log (route keys, in arrival order) and WS commands received, for assertions. */
  readonly requests: string[];
  readonly wsCommands: Record<string, unknown>[];
  /** Wall-clock receipt time (ms) of each entry of `wsCommands`. */
  readonly wsCommandTimes: number[];
  readonly stats: { upgrades: number; rejectedUpgrades: number; rejectedRest: number; connections: number };
  /** Currently open WS connections. */
  connectionCount(): number;
  /** Active subscriptions on all connections (channel, sid, tickers). */
  subscriptions(): { channel: string; sid: number; tickers: string[] | null }[];
  close(): Promise<void>;
}

const REST_PREFIX = "/trade-api/v2";

/** Throwaway key directories still on disk; removed on close, or at process exit as a fallback. */
const liveKeyDirs = new Set<string>();
let exitHookInstalled = false;
function trackKeyDir(dir: string): void {
  liveKeyDirs.add(dir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const d of liveKeyDirs) rmSync(d, { recursive: true, force: true });
  });
}
const WS_PATH = "/trade-api/ws/v2";

export async function startFakeKalshi(opts: FakeKalshiOptions = {}): Promise<FakeKalshi> {
  const state = new FakeKalshiState(opts);
  const keyDir = mkdtempSync(join(tmpdir(), "fake-kalshi-"));
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privateKeyPath = join(keyDir, "throwaway-key.pem");
  const pem =
    opts.keyFormat === "pkcs1"
      ? privateKey.export({ type: "pkcs1", format: "pem" }).toString()
      : privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  writeFileSync(privateKeyPath, pem, { mode: 0o600 });
  trackKeyDir(keyDir);
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const verifyKey: KeyObject = createPublicKey(publicKeyPem);
  const keyId = randomUUID();
  const tolerance = opts.timestampToleranceMs ?? 30_000;
  const queryNames = opts.wsQueryNames ?? DEFAULT_WS_QUERY_NAMES;

  const requests: string[] = [];
  const wsCommands: Record<string, unknown>[] = [];
  const wsCommandTimes: number[] = [];
  const stats = { upgrades: 0, rejectedUpgrades: 0, rejectedRest: 0, connections: 0 };
  const restFaults = new Map<string, RestFault>();
  let skipSeqCount = 0;
  let skipLifecycleCount = 0;
  const corruptCount = { orderbook_delta: 0, market_lifecycle_v2: 0 };
  let stalledUntil = 0;
  let ignoreSnapshotCount = 0;
  let withholdSnapshotsUntil = 0;
  let novelFieldCount = 0;
  let rejectUpgradeCount = 0;
  let delayAddMarketsMs = 0;
  const conns = new Set<Conn>();
  const pendingTimeouts = new Set<ServerResponse>();

  function checkAuth(method: string, path: string, key: unknown, ts: unknown, sig: unknown): string | null {
    if (typeof key !== "string" || typeof ts !== "string" || typeof sig !== "string") return "missing auth headers";
    if (key !== keyId) return "unknown key";
    if (!/^\d{13}$/.test(ts)) return "bad timestamp";
    if (Math.abs(Date.now() - Number(ts)) > tolerance) return "timestamp outside window";
    let ok = false;
    try {
      ok = verify("sha256", Buffer.from(signingMessage(ts, method, path)), {
        key: verifyKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      }, Buffer.from(sig, "base64"));
    } catch {
      ok = false;
    }
    return ok ? null : "bad signature";
  }

  // ---- WS fan-out ------------------------------------------------------------------------------

  const stalled = () => Date.now() < stalledUntil;

  function send(c: Conn, obj: unknown): void {
    if (stalled() || c.ws.readyState !== c.ws.OPEN) return;
    c.ws.send(JSON.stringify(obj));
  }

  function subsFor(channel: string, ticker: string | null): [Conn, Sub][] {
    const out: [Conn, Sub][] = [];
    for (const c of conns) {
      for (const s of c.subs.values()) {
        if (s.channel !== channel) continue;
        if (ticker !== null && s.tickers !== null && !s.tickers.has(ticker)) continue;
        out.push([c, s]);
      }
    }
    return out;
  }

  /** Send a book snapshot unless the venue is withholding them (the seq is still used up). */
  function sendSnapshot(c: Conn, s: Sub, ticker: string, id?: number): void {
    const frame = bookSnapshotMsg(s, ticker, id);
    if (Date.now() >= withholdSnapshotsUntil) send(c, frame);
  }

  function bookSnapshotMsg(s: Sub, ticker: string, id?: number): Record<string, unknown> {
    const m = state.markets.get(ticker)!;
    const b = state.book(ticker);
    const msg: Record<string, unknown> = { market_ticker: ticker, market_id: m.id };
    if (b.yes.length > 0) msg.yes_dollars_fp = b.yes.map(([p, c]) => [fmtPrice(p), fmtCount(c)]);
    if (b.no.length > 0) {
      const levels = s.useYesPrice ? b.no.map(([q, c]) => [PRICE_ONE - q, c] as const).sort((x, y) => x[0] - y[0]) : b.no;
      msg.no_dollars_fp = levels.map(([p, c]) => [fmtPrice(p), fmtCount(c)]);
    }
    const frame: Record<string, unknown> = { type: "orderbook_snapshot", sid: s.sid, seq: ++s.seq, msg };
    if (id !== undefined) frame.id = id;
    return frame;
  }

  function sendSequenced(c: Conn, s: Sub, frame: Record<string, unknown>): void {
    if (s.channel === "orderbook_delta" && skipSeqCount > 0 && frame.type === "orderbook_delta") {
      // The frame is lost on the way: its seq number is consumed but nothing is delivered.
      skipSeqCount--;
      return;
    }
    if (s.channel === "orderbook_delta" && corruptCount.orderbook_delta > 0 && frame.type === "orderbook_delta") {
      corruptCount.orderbook_delta--;
      send(c, { ...frame, msg: { ...(frame.msg as Record<string, unknown>), price_dollars: "0.40001" } });
      return;
    }
    send(c, frame);
  }

  function tickerMsg(s: Sub, m: FakeMarket): Record<string, unknown> {
    const yb = state.bestBid(m.ticker, "yes");
    const nb = state.bestBid(m.ticker, "no");
    const last = state.publicTrades.findLast((t) => t.ticker === m.ticker);
    const nowMs = Date.now();
    const vol = state.publicVolume.get(m.ticker) ?? 0;
    return {
      type: "ticker",
      sid: s.sid,
      msg: {
        market_ticker: m.ticker,
        market_id: m.id,
        price_dollars: fmtPrice(last?.yesPrice ?? 0),
        yes_bid_dollars: fmtPrice(yb?.price ?? 0),
        yes_ask_dollars: fmtPrice(nb ? PRICE_ONE - nb.price : PRICE_ONE),
        yes_bid_size_fp: fmtCount(yb?.size ?? 0),
        yes_ask_size_fp: fmtCount(nb?.size ?? 0),
        last_trade_size_fp: fmtCount(last?.count ?? 0),
        volume_fp: fmtCount(vol),
        open_interest_fp: fmtCount(0),
        dollar_volume: Math.floor(vol / 100),
        dollar_open_interest: 0,
        ts: Math.floor(nowMs / 1000),
        ts_ms: nowMs,
        time: new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, "Z"),
      },
    };
  }

  state.addListener({
    bookDelta(ticker: string, side: Leg, price: PriceE4, delta: CountE2, clientOrderId: string | null, tsMs: number) {
      const m = state.markets.get(ticker)!;
      for (const [c, s] of subsFor("orderbook_delta", ticker)) {
        const px = side === "no" && s.useYesPrice ? PRICE_ONE - price : price;
        const msg: Record<string, unknown> = {
          market_ticker: ticker,
          market_id: m.id,
          price_dollars: fmtPrice(px),
          delta_fp: fmtCount(delta),
          side,
          ts_ms: tsMs,
        };
        if (clientOrderId) msg.client_order_id = clientOrderId;
        if (novelFieldCount > 0) {
          novelFieldCount--;
          msg.queue_position_hint = 3;
          msg.venue_flags = { maker_only: false };
        }
        sendSequenced(c, s, { type: "orderbook_delta", sid: s.sid, seq: ++s.seq, msg });
      }
    },
    publicTrade(t: FakePublicTrade) {
      for (const [c, s] of subsFor("trade", t.ticker)) {
        send(c, {
          type: "trade",
          sid: s.sid,
          seq: ++s.seq,
          msg: {
            trade_id: t.tradeId,
            market_ticker: t.ticker,
            yes_price_dollars: fmtPrice(t.yesPrice),
            no_price_dollars: fmtPrice(PRICE_ONE - t.yesPrice),
            count_fp: fmtCount(t.count),
            taker_side: t.takerOutcome,
            taker_outcome_side: t.takerOutcome,
            taker_book_side: t.takerOutcome === "yes" ? "bid" : "ask",
            is_block_trade: false,
            ts: Math.floor(t.tsMs / 1000),
            ts_ms: t.tsMs,
          },
        });
      }
    },
    userOrder(o: FakeOrder) {
      for (const [c, s] of subsFor("user_orders", o.ticker)) send(c, { type: "user_order", sid: s.sid, msg: userOrderJson(o) });
    },
    fill(f: FakeFill) {
      for (const [c, s] of subsFor("fill", f.ticker)) {
        const outcome = f.bookSide === "bid" ? "yes" : "no";
        send(c, {
          type: "fill",
          sid: s.sid,
          msg: {
            trade_id: f.tradeId,
            order_id: f.orderId,
            client_order_id: f.clientOrderId,
            market_ticker: f.ticker,
            exchange_index: 2,
            is_taker: f.isTaker,
            side: outcome,
            action: "buy",
            purchased_side: outcome,
            outcome_side: outcome,
            book_side: f.bookSide,
            yes_price_dollars: fmtPrice(f.yesPrice),
            count_fp: fmtCount(f.count),
            fee_cost: fmtMoney(f.fee),
            post_position_fp: fmtCount(f.postPosition),
            ts: Math.floor(f.tsMs / 1000),
            ts_ms: f.tsMs,
          },
        });
      }
    },
    position(ticker: string) {
      for (const [c, s] of subsFor("market_positions", ticker)) {
        send(c, {
          type: "market_position",
          sid: s.sid,
          msg: {
            user_id: "fake-user",
            market_ticker: ticker,
            position_fp: fmtCount(state.position(ticker)),
            position_cost_dollars: "0.0000",
            realized_pnl_dollars: "0.0000",
            fees_paid_dollars: fmtMoney(state.feesPaid(ticker), 4),
            position_fee_cost_dollars: "0.0000",
            volume_fp: fmtCount(state.volume(ticker)),
          },
        });
      }
    },
    lifecycle(msg: Record<string, unknown>, type = "market_lifecycle_v2") {
      const lost = skipLifecycleCount > 0;
      if (lost) skipLifecycleCount--;
      const corrupt = !lost && corruptCount.market_lifecycle_v2 > 0;
      if (corrupt) corruptCount.market_lifecycle_v2--;
      for (const [c, s] of subsFor("market_lifecycle_v2", null)) {
        const frame = { type, sid: s.sid, seq: ++s.seq, msg: corrupt ? { ...msg, market_ticker: 42 } : msg };
        if (!lost) send(c, frame); // a lost frame still uses up its seq
      }
    },
  });

  /** Price, counts, costs and fees of an order, as both the WS user_order and the REST order carry them. */
  function orderAmounts(o: FakeOrder): Record<string, unknown> {
    return {
      yes_price_dollars: fmtPrice(o.yesPrice),
      fill_count_fp: fmtCount(o.filled),
      remaining_count_fp: fmtCount(o.remaining),
      initial_count_fp: fmtCount(o.initial),
      taker_fill_cost_dollars: fmtMoney(o.takerFillCost),
      maker_fill_cost_dollars: fmtMoney(o.makerFillCost),
      taker_fees_dollars: fmtMoney(o.takerFees),
      maker_fees_dollars: fmtMoney(o.makerFees),
    };
  }

  function userOrderJson(o: FakeOrder): Record<string, unknown> {
    const outcome = o.bookSide === "bid" ? "yes" : "no";
    return {
      order_id: o.orderId,
      user_id: "fake-user",
      ticker: o.ticker,
      exchange_index: 2,
      status: o.status,
      outcome_side: outcome,
      book_side: o.bookSide,
      side: outcome,
      is_yes: outcome === "yes",
      ...orderAmounts(o),
      client_order_id: o.clientOrderId,
      self_trade_prevention_type: "taker_at_cross",
      created_time: new Date(o.createdMs).toISOString(),
      created_ts_ms: o.createdMs,
      last_update_time: new Date(o.lastUpdateMs).toISOString(),
      last_updated_ts_ms: o.lastUpdateMs,
      last_update_reason: o.lastUpdateReason || undefined,
      subaccount_number: 0,
    };
  }

  // ---- WS commands -----------------------------------------------------------------------------

  const MARKET_CHANNELS = new Set(["orderbook_delta", "ticker", "trade", "fill", "user_orders", "market_positions"]);
  const KNOWN_CHANNELS = new Set([...MARKET_CHANNELS, "market_lifecycle_v2", "cfbenchmarks_value"]);

  function error(c: Conn, id: unknown, code: number, msg: string, sid?: number): void {
    const frame: Record<string, unknown> = { type: "error", msg: { code, msg } };
    if (typeof id === "number") frame.id = id;
    if (sid !== undefined) frame.sid = sid;
    send(c, frame);
  }

  function updateMarkets(c: Conn, id: unknown, s: Sub, action: "add_markets" | "delete_markets", tickers: readonly string[]): void {
    const added: string[] = [];
    for (const t of tickers) {
      if (action === "add_markets" && !s.tickers!.has(t)) {
        s.tickers!.add(t);
        added.push(t);
      }
      if (action === "delete_markets") s.tickers!.delete(t);
    }
    send(c, { id, sid: s.sid, seq: ++s.seq, type: "ok", msg: { market_tickers: [...s.tickers!].sort() } });
    if (s.channel === "orderbook_delta") for (const t of added.sort()) sendSnapshot(c, s, t);
  }

  function tickerList(params: Record<string, unknown>): string[] | null {
    if (typeof params.market_ticker === "string") return [params.market_ticker];
    if (Array.isArray(params.market_tickers)) return params.market_tickers.filter((t): t is string => typeof t === "string");
    return null;
  }

  function onCommand(c: Conn, text: string): void {
    let cmd: Record<string, unknown>;
    try {
      cmd = JSON.parse(text) as Record<string, unknown>;
      if (!cmd || typeof cmd !== "object") throw new Error("not an object");
    } catch {
      error(c, undefined, 1, "Unable to process message");
      return;
    }
    wsCommands.push(cmd);
    wsCommandTimes.push(Date.now());
    const id = cmd.id;
    const params = (cmd.params ?? null) as Record<string, unknown> | null;
    switch (cmd.cmd) {
      case "subscribe": {
        if (!params) return error(c, id, 2, "Params required");
        const channels = params.channels;
        if (!Array.isArray(channels) || channels.length === 0) return error(c, id, 3, "Channels required");
        const tickers = tickerList(params);
        for (const ch of channels) {
          if (typeof ch !== "string" || !KNOWN_CHANNELS.has(ch)) {
            error(c, id, 8, "Unknown channel name");
            continue;
          }
          if (ch === "orderbook_delta" && !tickers) {
            error(c, id, 14, "Market Ticker required");
            continue;
          }
          const known = tickers ? tickers.filter((t) => state.markets.has(t)) : null;
          const existing = [...c.subs.values()].find((s) => s.channel === ch && ch !== "orderbook_delta");
          if (existing && existing.tickers && known) {
            // Subscribe is idempotent: new tickers join the existing subscription.
            for (const t of known) existing.tickers.add(t);
            send(c, opts.legacySubscribedAcks ? { id, type: "subscribed" } : { id, type: "subscribed", msg: { channel: ch, sid: existing.sid } });
            continue;
          }
          const sub: Sub = {
            sid: c.nextSid++,
            channel: ch,
            tickers: MARKET_CHANNELS.has(ch) && known ? new Set(known) : null,
            seq: 0,
            useYesPrice: ch === "orderbook_delta" && params.use_yes_price === true,
            indexIds: new Set(Array.isArray(params.index_ids) ? params.index_ids.filter((x): x is string => typeof x === "string") : []),
            cmdId: typeof id === "number" ? id : null,
          };
          c.subs.set(sub.sid, sub);
          send(c, opts.legacySubscribedAcks ? { id, type: "subscribed" } : { id, type: "subscribed", msg: { channel: ch, sid: sub.sid } });
          if (ch === "orderbook_delta") for (const t of [...(sub.tickers ?? [])].sort()) sendSnapshot(c, sub, t);
          if (ch === "ticker" && params.send_initial_snapshot === true) {
            for (const t of [...(sub.tickers ?? state.markets.keys())]) send(c, tickerMsg(sub, state.markets.get(t)!));
          }
        }
        return;
      }
      case "unsubscribe": {
        if (!params) return error(c, id, 2, "Params required");
        const sids = params.sids;
        if (!Array.isArray(sids) || sids.length === 0) return error(c, id, 4, "Subscription IDs required");
        for (const sid of sids) {
          const s = typeof sid === "number" ? c.subs.get(sid) : undefined;
          if (!s) {
            error(c, id, 7, "Unknown subscription ID");
            continue;
          }
          c.subs.delete(s.sid);
          send(c, { id, sid: s.sid, seq: ++s.seq, type: "unsubscribed" });
        }
        return;
      }
      case "update_subscription": {
        if (!params) return error(c, id, 2, "Params required");
        const sidList = typeof params.sid === "number" ? [params.sid] : Array.isArray(params.sids) ? params.sids : [];
        if (sidList.length !== 1) return error(c, id, 12, "Exactly one subscription ID is required");
        const s = c.subs.get(sidList[0] as number);
        if (!s) return error(c, id, 7, "Unknown subscription ID");
        const action = params.action;
        if (typeof action !== "string") return error(c, id, 15, "Action required");
        const tickers = (tickerList(params) ?? []).filter((t) => state.markets.has(t));
        if (action === "get_snapshot") {
          if (s.channel !== "orderbook_delta") return error(c, id, 13, "Unsupported action");
          if (ignoreSnapshotCount > 0) {
            ignoreSnapshotCount--;
            return;
          }
          for (const t of tickers) if (!s.tickers || s.tickers.has(t)) sendSnapshot(c, s, t, id as number);
          return;
        }
        if (action === "add_markets" || action === "delete_markets") {
          if (!s.tickers) return error(c, id, 13, "Unsupported action");
          if (action === "add_markets" && opts.answerUnknownTickers && (tickerList(params) ?? []).some((t) => !state.markets.has(t))) {
            error(c, id, 16, "Market not found");
          }
          if (action === "add_markets" && delayAddMarketsMs > 0) {
            const ms = delayAddMarketsMs;
            delayAddMarketsMs = 0;
            setTimeout(() => c.subs.get(s.sid) === s && updateMarkets(c, id, s, action, tickers), ms).unref();
            return;
          }
          updateMarkets(c, id, s, action, tickers);
          return;
        }
        return error(c, id, 13, "Unsupported action");
      }
      case "list_subscriptions":
        send(c, { id, type: "ok", msg: [...c.subs.values()].map((s) => ({ channel: s.channel, sid: s.sid })) });
        return;
      default:
        error(c, id, 5, "Unknown command");
    }
  }

  // ---- REST ---------------------------------------------------------------------------------------

  function json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }

  function reject(res: ServerResponse, e: FakeRejection): void {
    json(res, e.status, { error: { code: e.code, message: e.message } });
  }

  function marketJson(m: FakeMarket): Record<string, unknown> {
    const yb = state.bestBid(m.ticker, "yes");
    const nb = state.bestBid(m.ticker, "no");
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
    return {
      ticker: m.ticker,
      event_ticker: m.eventTicker,
      market_type: "binary",
      yes_sub_title: m.strikeType === "between" ? `$${m.floorStrike} to ${m.capStrike}` : `$${Math.round(m.floorStrike ?? 0)} or above`,
      no_sub_title: "",
      title: "",
      subtitle: "",
      created_time: iso(m.openMs - 3_600_000),
      updated_time: iso(m.updatedMs ?? m.openMs),
      open_time: iso(m.openMs),
      close_time: iso(m.closeMs),
      expected_expiration_time: iso(m.closeMs + 300_000),
      latest_expiration_time: iso(m.closeMs + 7 * 86_400_000),
      settlement_timer_seconds: 60,
      status: m.status,
      yes_bid_dollars: fmtPrice(yb?.price ?? 0),
      yes_bid_size_fp: fmtCount(yb?.size ?? 0),
      yes_ask_dollars: fmtPrice(nb ? PRICE_ONE - nb.price : PRICE_ONE),
      yes_ask_size_fp: fmtCount(nb?.size ?? 0),
      no_bid_dollars: fmtPrice(nb?.price ?? 0),
      no_ask_dollars: fmtPrice(yb ? PRICE_ONE - yb.price : PRICE_ONE),
      last_price_dollars: "0.0000",
      volume_fp: "0.00",
      volume_24h_fp: "0.00",
      open_interest_fp: "0.00",
      notional_value_dollars: "1.0000",
      liquidity_dollars: "0.0000",
      result: m.result,
      can_close_early: false,
      expiration_value: "",
      settlement_value_dollars: m.result === "" ? null : m.result === "yes" ? "1.0000" : "0.0000",
      strike_type: m.strikeType,
      floor_strike: m.floorStrike,
      cap_strike: m.capStrike,
      functional_strike: null,
      custom_strike: null,
      rules_primary: `If the simple average of the sixty seconds of CF Benchmarks' BRTI before close is ${m.strikeType === "between" ? "between" : "above"} ${m.floorStrike} …`,
      rules_secondary: "",
      price_level_structure: "linear_cent",
      price_ranges: [{ start: "0.0000", end: "1.0000", step: "0.0100" }],
      is_provisional: false,
      exchange_index: 2,
    };
  }

  function statusMatches(m: FakeMarket, status: string | null): boolean {
    if (!status) return true;
    const map: Record<string, string[]> = {
      unopened: ["initialized"],
      open: ["active"],
      paused: ["inactive"],
      closed: ["closed", "determined"],
      settled: ["finalized"],
    };
    return (map[status] ?? []).includes(m.status);
  }

  function page<T>(items: T[], q: URLSearchParams): { slice: T[]; cursor: string } {
    const limit = Math.max(1, Math.min(1000, Number(q.get("limit") ?? 100) || 100));
    const cursor = q.get("cursor");
    const start = cursor ? Number(Buffer.from(cursor, "base64url").toString()) || 0 : 0;
    const slice = items.slice(start, start + limit);
    const next = start + limit < items.length ? Buffer.from(String(start + limit)).toString("base64url") : "";
    return { slice, cursor: next };
  }

  function orderJson(o: FakeOrder): Record<string, unknown> {
    const outcome = o.bookSide === "bid" ? "yes" : "no";
    return {
      order_id: o.orderId,
      user_id: "fake-user",
      client_order_id: o.clientOrderId,
      ticker: o.ticker,
      outcome_side: outcome,
      book_side: o.bookSide,
      side: outcome,
      action: "buy",
      type: "limit",
      status: o.status,
      ...orderAmounts(o),
      no_price_dollars: fmtPrice(PRICE_ONE - o.yesPrice),
      expiration_time: null,
      created_time: new Date(o.createdMs).toISOString(),
      last_update_time: new Date(o.lastUpdateMs).toISOString(),
      self_trade_prevention_type: "taker_at_cross",
      order_group_id: null,
      cancel_order_on_pause: false,
      subaccount_number: 0,
      exchange_index: 2,
    };
  }

  function parseCreate(b: Record<string, unknown>) {
    const side = b.side;
    const tif = b.time_in_force;
    if (typeof b.ticker !== "string" || (side !== "bid" && side !== "ask")) throw new FakeRejection(400, "invalid_parameters", "ticker and side required");
    if (tif !== "good_till_canceled" && tif !== "immediate_or_cancel" && tif !== "fill_or_kill") throw new FakeRejection(400, "invalid_parameters", "time_in_force");
    if (b.self_trade_prevention_type !== "taker_at_cross" && b.self_trade_prevention_type !== "maker") {
      throw new FakeRejection(400, "invalid_parameters", "self_trade_prevention_type required");
    }
    if (typeof b.count !== "string" || typeof b.price !== "string") throw new FakeRejection(400, "invalid_parameters", "count and price are fixed-point strings");
    let count: CountE2;
    let price: PriceE4;
    try {
      count = parseCountFp(b.count);
      price = parsePriceDollars(b.price);
    } catch {
      throw new FakeRejection(400, "invalid_parameters", "bad count or price");
    }
    return {
      ticker: b.ticker,
      side: side as "bid" | "ask",
      count,
      price,
      tif: tif as "good_till_canceled" | "immediate_or_cancel" | "fill_or_kill",
      postOnly: b.post_only === true,
      reduceOnly: b.reduce_only === true,
      clientOrderId: typeof b.client_order_id === "string" ? b.client_order_id : "",
    };
  }

  function createResult(o: FakeOrder, filledNow: CountE2, fillCost: number, fees: number): Record<string, unknown> {
    const r: Record<string, unknown> = {
      order_id: o.orderId,
      client_order_id: o.clientOrderId || undefined,
      fill_count: fmtCount(o.filled),
      remaining_count: fmtCount(o.remaining),
      ts_ms: o.lastUpdateMs,
    };
    if (filledNow > 0) {
      // Average YES price per contract and fee per contract, both with 6 decimals (as the venue sends them).
      const yesCost = o.bookSide === "bid" ? fillCost : PRICE_ONE * filledNow - fillCost;
      r.average_fill_price = fmtMoney(Math.round((yesCost * 100) / filledNow));
      r.average_fee_paid = fmtMoney(Math.round((fees * 100) / filledNow));
    }
    return r;
  }

  type Handler = (m: RegExpMatchArray, q: URLSearchParams, body: Record<string, unknown>) => { status: number; body: unknown };

  const routes: { method: string; re: RegExp; key: string; handler: Handler }[] = [];
  const route = (method: string, pattern: string, handler: Handler) => {
    const re = new RegExp("^" + pattern.replace(/\{[a-z_]+\}/g, "([^/]+)") + "$");
    routes.push({ method, re, key: `${method} ${pattern.replace(/\{ticker\}|\{series\}/, "{ticker}").replace(/\{order_id\}/, "{id}")}`, handler });
  };

  route("GET", "/markets", (_m, q) => {
    const series = q.get("series_ticker");
    const event = q.get("event_ticker");
    const tickers = q.get("tickers")?.split(",").filter(Boolean) ?? null;
    const status = q.get("status");
    const items = state.tickers()
      .map((t) => state.markets.get(t)!)
      .filter((m) => (!series || m.seriesTicker === series) && (!event || m.eventTicker === event) && (!tickers || tickers.includes(m.ticker)) && statusMatches(m, status));
    const p = page(items, q);
    return { status: 200, body: { markets: p.slice.map(marketJson), cursor: p.cursor } };
  });
  route("GET", "/markets/{ticker}", (m) => {
    const mk = state.markets.get(decodeURIComponent(m[1]!));
    if (!mk) throw new FakeRejection(404, "not_found", "market not found");
    return { status: 200, body: { market: marketJson(mk) } };
  });
  route("GET", "/markets/{ticker}/orderbook", (m) => {
    const b = state.book(decodeURIComponent(m[1]!));
    const fmt = (ls: [number, number][]) => ls.map(([p, c]) => [fmtPrice(p), fmtCount(c)]);
    return { status: 200, body: { orderbook_fp: { yes_dollars: fmt(b.yes), no_dollars: fmt(b.no) } } };
  });
  route("GET", "/series/{series}", (m) => {
    const t = decodeURIComponent(m[1]!);
    if (!["KXBTCD", "KXBTC", "KXBTC15M", state.rolling?.series ?? "KXBTC15M"].includes(t)) throw new FakeRejection(404, "not_found", "series not found");
    return {
      status: 200,
      body: { series: { ticker: t, frequency: t === "KXBTC15M" ? "fifteen_min" : "hourly", title: t, category: "Crypto", tags: [], settlement_sources: [], fee_type: state.seriesFeeType, fee_multiplier: state.feeMultiplier, exchange_index: 2 } },
    };
  });
  route("GET", "/portfolio/balance", (_m, q) => {
    // Collateral is per shard (reference §4.7); without exchange_index the totals cover every shard.
    const shards = new Map<number, number>([[2, state.cash], ...state.otherShards]);
    const idx = q.get("exchange_index");
    const amount = idx !== null ? (shards.get(Number(idx)) ?? 0) : [...shards.values()].reduce((a, b) => a + b, 0);
    const breakdown = [...shards.entries()].sort((a, b) => a[0] - b[0]).map(([i, v]) => ({ exchange_index: i, balance: fmtMoney(v, 4) }));
    return {
      status: 200,
      body: { balance: Math.floor(amount / 10_000), balance_dollars: fmtMoney(amount, 4), portfolio_value: 0, updated_ts: Math.floor(Date.now() / 1000), balance_breakdown: breakdown },
    };
  });
  route("GET", "/portfolio/positions", (_m, q) => {
    const t = q.get("ticker");
    const items = [...state.positions().entries()]
      .filter(([k]) => !t || k === t)
      .map(([k, pos]) => ({
        ticker: k,
        exchange_index: 2,
        position_fp: fmtCount(pos),
        market_exposure_dollars: "0.0000",
        total_traded_dollars: "0.0000",
        realized_pnl_dollars: "0.0000",
        fees_paid_dollars: fmtMoney(state.feesPaid(k), 4),
        last_updated_ts: new Date().toISOString(),
      }));
    const p = page(items, q);
    return { status: 200, body: { market_positions: p.slice, event_positions: [], cursor: p.cursor } };
  });
  route("GET", "/portfolio/orders", (_m, q) => {
    const status = q.get("status");
    const t = q.get("ticker");
    const items = state.orders().filter((o) => (!status || o.status === status) && (!t || o.ticker === t)).map(orderJson);
    const p = page(items, q);
    return { status: 200, body: { orders: p.slice, cursor: p.cursor } };
  });
  route("GET", "/portfolio/orders/{order_id}", (m) => {
    const o = state.order(decodeURIComponent(m[1]!));
    if (!o) throw new FakeRejection(404, "not_found", "order not found");
    return { status: 200, body: { order: orderJson(o) } };
  });
  route("GET", "/portfolio/fills", (_m, q) => {
    const t = q.get("ticker");
    const oid = q.get("order_id");
    const items = state
      .fills()
      .filter((f) => (!t || f.ticker === t) && (!oid || f.orderId === oid))
      .map((f) => {
        const outcome = f.bookSide === "bid" ? "yes" : "no";
        return {
          fill_id: f.tradeId,
          trade_id: f.tradeId,
          order_id: f.orderId,
          ticker: f.ticker,
          market_ticker: f.ticker,
          outcome_side: outcome,
          book_side: f.bookSide,
          side: outcome,
          action: "buy",
          count_fp: fmtCount(f.count),
          yes_price_dollars: fmtPrice(f.yesPrice),
          no_price_dollars: fmtPrice(PRICE_ONE - f.yesPrice),
          is_taker: f.isTaker,
          created_time: new Date(f.tsMs).toISOString(),
          fee_cost: fmtMoney(f.fee),
          subaccount_number: 0,
          exchange_index: 2,
          ts: Math.floor(f.tsMs / 1000),
        };
      });
    const p = page(items, q);
    return { status: 200, body: { fills: p.slice, cursor: p.cursor } };
  });
  route("GET", "/portfolio/settlements", (_m, q) => {
    const items = state.settlements().map((s) => ({
      ticker: s.ticker,
      event_ticker: s.eventTicker,
      exchange_index: 2,
      market_result: s.result,
      yes_count_fp: fmtCount(s.yesCount),
      no_count_fp: fmtCount(s.noCount),
      yes_total_cost_dollars: "0.0000",
      no_total_cost_dollars: "0.0000",
      revenue: Math.round(s.revenue / 10_000),
      settled_time: new Date(s.tsMs).toISOString(),
      fee_cost: "0.000000",
      value: s.result === "yes" ? 100 : 0,
    }));
    const p = page(items, q);
    return { status: 200, body: { settlements: p.slice, cursor: p.cursor } };
  });
  route("GET", "/account/limits", () => ({
    status: 200,
    body: { usage_tier: "basic", read: { refill_rate: 200, bucket_capacity: 400 }, write: { refill_rate: 100, bucket_capacity: 100 }, grants: [] },
  }));
  route("POST", "/portfolio/events/orders", (_m, _q, b) => {
    const r = state.createOrder(parseCreate(b));
    return { status: 201, body: createResult(r.order, r.filledNow, r.fillCost, r.fees) };
  });
  route("POST", "/portfolio/events/orders/batched", (_m, _q, b) => {
    const list = Array.isArray(b.orders) ? (b.orders as Record<string, unknown>[]) : null;
    if (!list) throw new FakeRejection(400, "invalid_parameters", "orders required");
    const out = list.map((o) => {
      try {
        const r = state.createOrder(parseCreate(o));
        return createResult(r.order, r.filledNow, r.fillCost, r.fees);
      } catch (e) {
        if (!(e instanceof FakeRejection)) throw e;
        return { client_order_id: o.client_order_id, error: { code: e.code, message: e.message } };
      }
    });
    return { status: 201, body: { orders: out } };
  });
  route("DELETE", "/portfolio/events/orders/batched", (_m, _q, b) => {
    const list = Array.isArray(b.orders) ? (b.orders as Record<string, unknown>[]) : null;
    if (!list) throw new FakeRejection(400, "invalid_parameters", "orders required");
    const out = list.map((o) => {
      const id = String(o.order_id ?? "");
      try {
        const r = state.cancelOrder(id);
        return { order_id: id, client_order_id: r.order.clientOrderId, reduced_by: fmtCount(r.reducedBy), ts_ms: Date.now() };
      } catch (e) {
        if (!(e instanceof FakeRejection)) throw e;
        return { order_id: id, error: { code: e.code, message: e.message } };
      }
    });
    return { status: 200, body: { orders: out } };
  });
  route("DELETE", "/portfolio/events/orders/{order_id}", (m) => {
    const r = state.cancelOrder(decodeURIComponent(m[1]!));
    return { status: 200, body: { order_id: r.order.orderId, client_order_id: r.order.clientOrderId, reduced_by: fmtCount(r.reducedBy), ts_ms: Date.now() } };
  });
  route("POST", "/portfolio/events/orders/{order_id}/amend", (m, _q, b) => {
    if (typeof b.ticker !== "string" || (b.side !== "bid" && b.side !== "ask") || typeof b.price !== "string" || typeof b.count !== "string") {
      throw new FakeRejection(400, "invalid_parameters", "ticker, side, price, count required");
    }
    const o = state.amendOrder(decodeURIComponent(m[1]!), {
      ticker: b.ticker,
      side: b.side,
      price: parsePriceDollars(b.price),
      count: parseCountFp(b.count),
      ...(typeof b.updated_client_order_id === "string" ? { updatedClientOrderId: b.updated_client_order_id } : {}),
    });
    return { status: 200, body: { order_id: o.orderId, client_order_id: o.clientOrderId, remaining_count: fmtCount(o.remaining), fill_count: fmtCount(o.filled), ts_ms: Date.now() } };
  });
  route("POST", "/portfolio/events/orders/{order_id}/decrease", (m, _q, b) => {
    const o = state.decreaseOrder(decodeURIComponent(m[1]!), {
      ...(b.reduce_by !== undefined ? { reduceBy: parseCountFp(b.reduce_by) } : {}),
      ...(b.reduce_to !== undefined ? { reduceTo: parseCountFp(b.reduce_to) } : {}),
    });
    return { status: 200, body: { order_id: o.orderId, client_order_id: o.clientOrderId, remaining_count: fmtCount(o.remaining), ts_ms: Date.now() } };
  });

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const method = (req.method ?? "GET").toUpperCase();
    const text = await readBody(req);
    if (!url.pathname.startsWith(REST_PREFIX + "/")) return json(res, 404, { error: { code: "not_found", message: "no such path" } });
    const authErr = checkAuth(method, url.pathname, req.headers[HEADER_KEY.toLowerCase()], req.headers[HEADER_TIMESTAMP.toLowerCase()], req.headers[HEADER_SIGNATURE.toLowerCase()]);
    if (authErr) {
      stats.rejectedRest++;
      return json(res, 401, { error: { code: "authentication_error", message: authErr } });
    }
    const path = url.pathname.slice(REST_PREFIX.length);
    const r = routes.find((x) => x.method === method && x.re.test(path));
    if (!r) return json(res, 404, { error: { code: "not_found", message: "no such route" } });
    requests.push(r.key);
    let body: Record<string, unknown> = {};
    if (text.length > 0) {
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return json(res, 400, { error: { code: "invalid_parameters", message: "body is not JSON" } });
      }
    }
    let fault = restFaults.get(r.key);
    if (fault && (fault.count ?? 1) > 0) {
      fault.count = (fault.count ?? 1) - 1;
      if (fault.count <= 0) restFaults.delete(r.key);
    } else fault = undefined;
    if (fault?.kind === "delay") {
      await new Promise((resolve) => setTimeout(resolve, fault!.ms ?? 1000));
      fault = undefined;
    }
    if (fault) {
      if (fault.apply) {
        try {
          r.handler(path.match(r.re)!, url.searchParams, body);
        } catch {
          // The fault answer below is what the client sees either way.
        }
      }
      if (fault.kind === "timeout") {
        pendingTimeouts.add(res);
        return; // never answered; released on close
      }
      if (fault.kind === "garbage") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("<html>gateway</html>");
        return;
      }
      if (fault.kind === 429) return json(res, 429, { error: "too many requests" });
      return json(res, fault.kind as number, { error: { code: "internal_server_error", message: "fake fault" } });
    }
    try {
      const out = r.handler(path.match(r.re)!, url.searchParams, body);
      json(res, out.status, out.body);
    } catch (e) {
      if (e instanceof FakeRejection) return reject(res, e);
      json(res, 500, { error: { code: "internal_server_error", message: "fake venue error" } });
    }
  }

  // ---- servers ------------------------------------------------------------------------------------

  const http = createServer((req, res) => {
    onRequest(req, res).catch(() => {
      if (!res.headersSent) json(res, 500, { error: { code: "internal_server_error", message: "fake venue error" } });
    });
  });
  const sockets = new Set<Socket>();
  http.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ noServer: true });

  http.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const deny = (code: number, text: string) => {
      stats.rejectedUpgrades++;
      socket.write(`HTTP/1.1 ${code} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    };
    if (url.pathname !== WS_PATH) return deny(404, "Not Found");
    if (rejectUpgradeCount > 0) {
      rejectUpgradeCount--;
      return deny(401, "Unauthorized");
    }
    const h = req.headers;
    const fromQuery = url.searchParams.has(queryNames.signature);
    const err = fromQuery
      ? checkAuth("GET", url.pathname, url.searchParams.get(queryNames.key), url.searchParams.get(queryNames.timestamp), url.searchParams.get(queryNames.signature))
      : checkAuth("GET", url.pathname, h[HEADER_KEY.toLowerCase()], h[HEADER_TIMESTAMP.toLowerCase()], h[HEADER_SIGNATURE.toLowerCase()]);
    if (err) return deny(401, "Unauthorized");
    stats.upgrades++;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const c: Conn = { ws, subs: new Map(), nextSid: 1 };
      conns.add(c);
      stats.connections++;
      ws.on("message", (data) => onCommand(c, data.toString()));
      ws.on("close", () => conns.delete(c));
      ws.on("error", () => conns.delete(c));
    });
  });

  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as AddressInfo).port;

  // ---- timers -------------------------------------------------------------------------------------

  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number | undefined, f: () => void) => {
    if (ms && ms > 0) {
      const t = setInterval(() => {
        try {
          f();
        } catch {
          // A fake's background activity must never crash the test process.
        }
      }, ms);
      t.unref();
      timers.push(t);
    }
  };
  const tradeShare = opts.tradeShare ?? 0.1;
  const flowStartMs = performance.now();
  let flowSent = 0;
  const flowSteps = (): number => {
    const rate = opts.flowPerSecond;
    if (rate === undefined) return opts.flowPerTick ?? 1;
    const owed = Math.floor(((performance.now() - flowStartMs) / 1000) * rate) - flowSent;
    const n = Math.max(0, Math.min(owed, Math.ceil(rate / 10)));
    flowSent += owed > n ? owed : n; // a backlog beyond the cap is dropped, not sent later as a burst
    return n;
  };
  every(opts.flowIntervalMs ?? 50, () => {
    for (let k = flowSteps(); k > 0; k--) {
      if (state.rng.chance(tradeShare)) {
        const active = state.activeTickers();
        if (active.length === 0) return;
        const t = state.rng.pick(active);
        state.takerTrade(t, state.rng.chance(0.5) ? "bid" : "ask", state.rng.int(1, 5) * 100);
      } else state.randomDelta();
    }
  });
  // Rolling mode: the market schedule (open, strike, close, determination, settlement).
  if (state.rolling) {
    state.tickRolling();
    every(opts.rollingTickMs ?? 20, () => state.tickRolling());
  }
  let brti = opts.spot ?? 100_000;
  const brtiHistory: { ms: number; v: number }[] = [];
  every(opts.brtiIntervalMs ?? 1000, () => {
    brti = Math.round((brti + (state.rng.next() - 0.5) * 40) * 100) / 100;
    state.indexValue = brti;
    const nowMs = Date.now();
    const prior = brtiHistory.filter((h) => h.ms >= nowMs - 60_000);
    const avg = prior.length > 0 ? prior.reduce((a, h) => a + h.v, 0) / prior.length : brti;
    brtiHistory.push({ ms: nowMs, v: brti });
    while (brtiHistory.length > 0 && brtiHistory[0]!.ms < nowMs - 61_000) brtiHistory.shift();
    // Final minute before a quarter-hour close C: the running settlement average over (C − 60 s, C].
    const closeMs = Math.ceil(nowMs / 900_000) * 900_000;
    let quarter: Record<string, unknown> | undefined;
    if (nowMs > closeMs - 60_000) {
      const inWindow = brtiHistory.filter((h) => h.ms > closeMs - 60_000 && h.ms <= closeMs);
      const qAvg = inWindow.reduce((a, h) => a + h.v, 0) / inWindow.length;
      quarter = { value: qAvg.toFixed(8), window_size: inWindow.length, window_start_ts_ms: closeMs - 60_000, window_end_ts_exclusive: nowMs + 1 };
    }
    for (const [c, s] of subsFor("cfbenchmarks_value", null)) {
      if (!s.indexIds.has("BRTI") && !s.indexIds.has("all")) continue;
      send(c, {
        type: "cfbenchmarks_value",
        sid: s.sid,
        seq: ++s.seq,
        msg: {
          index_id: "BRTI",
          received_at: nowMs,
          data: JSON.stringify({ type: "value", id: "BRTI", time: nowMs, value: brti.toFixed(2) }),
          avg_60s_data: { value: avg.toFixed(8), window_size: prior.length, window_start_ts_ms: nowMs - 60_000, window_end_ts_exclusive: nowMs },
          ...(quarter ? { last_60s_windowed_average_15min: quarter } : {}),
        },
      });
    }
  });
  every(opts.tickerIntervalMs ?? 500, () => {
    for (const c of conns) {
      for (const s of c.subs.values()) {
        if (s.channel !== "ticker") continue;
        for (const t of s.tickers ?? state.markets.keys()) {
          const m = state.markets.get(t);
          if (m) send(c, tickerMsg(s, m));
        }
      }
    }
  });
  every(opts.pingIntervalMs ?? 10_000, () => {
    if (stalled()) return;
    for (const c of conns) if (c.ws.readyState === c.ws.OPEN) c.ws.ping("heartbeat");
  });

  // ---- faults -------------------------------------------------------------------------------------

  const faults: FakeKalshiFaults = {
    dropConnections() {
      for (const c of conns) c.ws.terminate();
    },
    skipSeq(n = 1) {
      skipSeqCount += n;
    },
    skipLifecycleSeq(n = 1) {
      skipLifecycleCount += n;
    },
    corruptSeq(channel, n = 1) {
      corruptCount[channel] += n;
    },
    stall(ms: number) {
      stalledUntil = Date.now() + ms;
    },
    malformed(n = 1) {
      const bad = [
        "{not json",
        JSON.stringify({ type: "orderbook_delta", sid: 1, msg: { market_ticker: "X" } }),
        JSON.stringify({ type: "ticker", sid: 2, msg: { market_ticker: 42 } }),
        JSON.stringify([1, 2, 3]),
        JSON.stringify({ type: "orderbook_snapshot", msg: null }),
      ];
      for (const c of conns) for (let i = 0; i < n; i++) if (c.ws.readyState === c.ws.OPEN && !stalled()) c.ws.send(bad[i % bad.length]!);
    },
    unknownFrames(n = 1) {
      const frames = [
        JSON.stringify({ type: "ticker_v3", sid: 99, msg: { market_ticker: "X", price_dollars: "0.5000" } }),
        JSON.stringify({ type: "multivariate_market_lifecycle", sid: 98, msg: { market_ticker: "X", event_type: "created" } }),
        JSON.stringify({ type: "market_lifecycle_v2", sid: 97, msg: { market_ticker: "X", event_type: "paused" } }),
      ];
      for (const c of conns) for (let i = 0; i < n; i++) if (c.ws.readyState === c.ws.OPEN && !stalled()) c.ws.send(frames[i % frames.length]!);
    },
    novelFields(n = 1) {
      novelFieldCount += n;
    },
    ignoreSnapshots(n = 1) {
      ignoreSnapshotCount += n;
    },
    withholdSnapshots(ms: number) {
      withholdSnapshotsUntil = Date.now() + ms;
    },
    channelError(o = {}) {
      const code = o.code ?? 10;
      const text = code === 25 ? "Subscription buffer overflow" : code === 17 ? "Internal error" : "Channel error";
      const shape = o.shape ?? "sid";
      for (const c of conns) {
        const books = [...c.subs.values()].filter((s) => s.channel === "orderbook_delta");
        if (shape === "bare" && books.length > 0) error(c, undefined, code, text);
        for (const s of books) {
          if (shape === "sid") error(c, 0, code, text, s.sid);
          else if (shape === "id") error(c, s.cmdId ?? undefined, code, text);
          if (o.drop) c.subs.delete(s.sid);
        }
      }
    },
    delayAddMarkets(ms: number) {
      delayAddMarketsMs = ms;
    },
    inconsistentDelta(kind, ticker) {
      const t = ticker ?? state.tickers()[0]!;
      const m = state.markets.get(t)!;
      const yes = state.bestBid(t, "yes");
      const no = state.bestBid(t, "no");
      const [price, delta] = kind === "negative" ? [yes?.price ?? 100, -((yes?.size ?? 0) + 100)] : [PRICE_ONE - (no?.price ?? 100), 100];
      for (const [c, s] of subsFor("orderbook_delta", t)) {
        send(c, { type: "orderbook_delta", sid: s.sid, seq: ++s.seq, msg: { market_ticker: t, market_id: m.id, price_dollars: fmtPrice(price), delta_fp: fmtCount(delta), side: "yes", ts_ms: Date.now() } });
      }
    },
    sequencedError(code = 27) {
      for (const c of conns) {
        for (const s of c.subs.values()) {
          if (s.channel === "orderbook_delta") send(c, { type: "error", sid: s.sid, seq: ++s.seq, msg: { code, msg: "Too many requests" } });
        }
      }
    },
    rest(routeKey: string, fault: RestFault) {
      restFaults.set(routeKey, { ...fault, count: fault.count ?? 1 });
    },
    rejectUpgrades(n = 1) {
      rejectUpgradeCount += n;
    },
    clear() {
      skipSeqCount = 0;
      skipLifecycleCount = 0;
      corruptCount.orderbook_delta = 0;
      corruptCount.market_lifecycle_v2 = 0;
      stalledUntil = 0;
      ignoreSnapshotCount = 0;
      withholdSnapshotsUntil = 0;
      novelFieldCount = 0;
      rejectUpgradeCount = 0;
      delayAddMarketsMs = 0;
      restFaults.clear();
    },
  };

  let closed = false;
  const restUrl = `http://127.0.0.1:${port}${REST_PREFIX}`;
  const wsUrl = `ws://127.0.0.1:${port}${WS_PATH}`;
  return {
    restUrl,
    wsUrl,
    keyId,
    privateKeyPath,
    publicKeyPem,
    clientEnv: { KALSHI_REST_URL: restUrl, KALSHI_WS_URL: wsUrl, KALSHI_API_KEY_ID: keyId, KALSHI_PRIVATE_KEY_PATH: privateKeyPath },
    state,
    faults,
    requests,
    wsCommands,
    wsCommandTimes,
    stats,
    connectionCount: () => conns.size,
    subscriptions: () =>
      [...conns].flatMap((c) => [...c.subs.values()].map((s) => ({ channel: s.channel, sid: s.sid, tickers: s.tickers ? [...s.tickers].sort() : null }))),
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearInterval(t);
      for (const res of pendingTimeouts) res.destroy();
      for (const c of conns) c.ws.terminate();
      wss.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      rmSync(keyDir, { recursive: true, force: true });
      liveKeyDirs.delete(keyDir);
    },
  };
}
