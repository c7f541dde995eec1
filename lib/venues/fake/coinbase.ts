/**
 * A local fake of Coinbase's Advanced Trade market-data WebSocket (reference coinbase-brti.md Part A):
 * one channel per subscribe message, a cumulative `subscriptions` ack, `heartbeats` once per
 * second, `ticker` snapshot then updates, optional `level2` (`l2_data` snapshot + absolute-size
 * updates), and a per-connection `sequence_num` counting every frame from 0.
 *
 * Faults: drop connections, lose frames (sequence_num gap), stall (send nothing), malformed frames,
 * foreign products, a poisoned sequence_num, refused subscribes, flapping, a late first sequence_num,
 * a trade with a bad time, venue errors with their keys in either order.
 */
import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { Prng } from "./prng.ts";

export interface FakeCoinbaseOptions {
  readonly seed?: number;
  /** Ticker frame cadence (default 100 ms; 0 = off). */
  readonly tickerIntervalMs?: number;
  /** Heartbeat cadence (Coinbase: 1 s). */
  readonly heartbeatIntervalMs?: number;
  /** level2 update cadence (default 200 ms). */
  readonly level2IntervalMs?: number;
  readonly startPrice?: number;
}

export interface FakeCoinbaseFaults {
  dropConnections(): void;
  /** Lose the next `n` frames on every connection (sequence_num consumed, frames not sent). */
  skipSequence(n?: number): void;
  stall(ms: number): void;
  malformed(n?: number): void;
  /** Send `n` real, sequenced ticker frames a client must refuse (a ticker without best_bid). */
  refusedSequenced(n?: number): void;
  /**
   * Send `n` ticker frames holding one good entry (the product's current ticker, in the oracle) and
   * one bad entry (a ticker without best_bid) each: a client keeps the good one and refuses the bad.
   */
  partlyBadTickers(n?: number, product?: string): void;
  /** Send `n` sequenced ticker frames for a product nobody subscribed (default ETH-USD). */
  foreignTicker(n?: number, product?: string): void;
  /** One frame (a `status`, no events) whose sequence_num is `seq`; the real count goes on after it. */
  bogusSequence(seq?: number): void;
  /**
   * Answer the next `n` subscribes to `channel` with `{"type":"error","message":…}` ("error") or with an
   * ack that does not list it ("silent"), without subscribing it.
   */
  refuseSubscribes(channel: string, n?: number, mode?: "error" | "silent", message?: string): void;
  /** Each connection closes (1011) right after acking its first subscribe. */
  flap(on?: boolean): void;
  /** Connections opened from now on start their sequence_num at `seq` (frames lost before the first). */
  startSequenceAt(seq: number): void;
  /** One market_trades frame of three trades for `product`, the middle one with `time` = `badTime`. */
  tradesWithBadTime(badTime?: string, product?: string): void;
  /** A venue error frame; `typeFirst` false puts `message` before `type`. */
  venueError(message?: string, typeFirst?: boolean): void;
  clear(): void;
}

export interface FakeCoinbase {
  readonly wsUrl: string;
  readonly faults: FakeCoinbaseFaults;
  /** Subscribe messages received, for assertions. */
  readonly received: Record<string, unknown>[];
  readonly stats: { connections: number; framesSent: number };
  connectionCount(): number;
  /** Last ticker state per product (oracle). */
  lastTicker(productId: string): { bid: number; ask: number; price: number } | undefined;
  /** Trade ids of market_trades entries sent with a good time (oracle). */
  readonly sentGoodTrades: string[];
  /** Every ticker frame delivered, with the connection's sequence_num (oracle). */
  readonly sentTickers: { connection: number; seq: number; productId: string; bid: number; ask: number }[];
  close(): Promise<void>;
}

interface Conn {
  readonly ws: WebSocket;
  readonly n: number;
  seq: number;
  readonly subs: Map<string, Set<string>>;
  tickerSnapshotSent: Set<string>;
  lostFrames: number;
}

function nanoIso(ms: number): string {
  // Coinbase stamps envelopes with nanosecond precision.
  return new Date(ms).toISOString().replace("Z", "") + "000000Z";
}

export async function startFakeCoinbase(opts: FakeCoinbaseOptions = {}): Promise<FakeCoinbase> {
  const rng = new Prng(opts.seed ?? 777);
  const conns = new Set<Conn>();
  const received: Record<string, unknown>[] = [];
  const stats = { connections: 0, framesSent: 0 };
  let stalledUntil = 0;
  let refusals: { channel: string; left: number; mode: "error" | "silent"; message: string } | null = null;
  let flapping = false;
  let firstSeq = 0;
  let tradeId = 5_000_000;
  const sentGoodTrades: string[] = [];
  let heartbeatCounter = 41_000;
  const prices = new Map<string, { bid: number; ask: number; price: number }>();
  const stalled = () => Date.now() < stalledUntil;

  const priceOf = (product: string) => {
    let p = prices.get(product);
    if (!p) {
      const mid = opts.startPrice ?? 100_000;
      p = { bid: mid - 0.01, ask: mid + 0.01, price: mid };
      prices.set(product, p);
    }
    return p;
  };

  const sentTickers: FakeCoinbase["sentTickers"] = [];

  /** One frame with the connection's next sequence_num; `oracle` false keeps it out of sentTickers. */
  function send(c: Conn, channel: string, events: unknown[], oracle = true): void {
    if (stalled() || c.ws.readyState !== c.ws.OPEN) return;
    const seq = c.seq++;
    if (c.lostFrames > 0) {
      c.lostFrames--;
      return;
    }
    stats.framesSent++;
    if (channel === "ticker" && oracle) {
      for (const ev of events as { tickers: { product_id: string; best_bid: string; best_ask: string }[] }[]) {
        // An entry without best_bid is one a client must refuse: not part of the oracle.
        for (const t of ev.tickers) if (t.best_bid !== undefined) sentTickers.push({ connection: c.n, seq, productId: t.product_id, bid: Number(t.best_bid), ask: Number(t.best_ask) });
      }
    }
    c.ws.send(JSON.stringify({ channel, timestamp: nanoIso(Date.now()), sequence_num: seq, events }));
  }

  function tickerEvent(type: "snapshot" | "update", product: string) {
    const p = priceOf(product);
    return {
      type,
      tickers: [
        {
          type: "ticker",
          product_id: product,
          price: p.price.toFixed(2),
          volume_24_h: "2867.54532609",
          low_24_h: (p.price * 0.99).toFixed(2),
          high_24_h: (p.price * 1.01).toFixed(2),
          low_52_w: "57717.55",
          high_52_w: "126296",
          price_percent_chg_24_h: "0.09601107287722",
          best_bid: p.bid.toFixed(2),
          best_ask: p.ask.toFixed(2),
          best_bid_quantity: (rng.int(1, 100000) / 1e5).toFixed(8),
          best_ask_quantity: (rng.int(1, 100000) / 1e5).toFixed(8),
        },
      ],
    };
  }

  function l2Snapshot(product: string) {
    const p = priceOf(product);
    const updates: unknown[] = [];
    const t = new Date().toISOString();
    for (let i = 0; i < 10; i++) {
      updates.push({ side: "bid", event_time: t, price_level: (p.bid - i * 0.5).toFixed(2), new_quantity: (rng.int(1, 1000) / 1000).toFixed(8) });
      updates.push({ side: "offer", event_time: t, price_level: (p.ask + i * 0.5).toFixed(2), new_quantity: (rng.int(1, 1000) / 1000).toFixed(8) });
    }
    return { type: "snapshot", product_id: product, updates };
  }

  /** The cumulative `subscriptions` ack. */
  function sendAck(c: Conn): void {
    const acks: Record<string, string[]> = {};
    for (const [ch, ps] of c.subs) if (ps.size > 0) acks[ch] = [...ps];
    send(c, "subscriptions", [{ subscriptions: acks }]);
  }

  function onMessage(c: Conn, text: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(text) as Record<string, unknown>;
    } catch {
      c.ws.send(JSON.stringify({ type: "error", message: "failure to parse message" }));
      return;
    }
    received.push(m);
    const channel = m.channel;
    const products = Array.isArray(m.product_ids) ? m.product_ids.filter((x): x is string => typeof x === "string") : [];
    const known = ["heartbeats", "ticker", "level2", "market_trades"];
    if (typeof channel !== "string" || !known.includes(channel) || (m.type !== "subscribe" && m.type !== "unsubscribe")) {
      c.ws.send(JSON.stringify({ type: "error", message: "Failed to subscribe" }));
      return;
    }
    if (m.type === "subscribe" && refusals && refusals.channel === channel && refusals.left > 0) {
      refusals.left--;
      if (refusals.mode === "error") c.ws.send(JSON.stringify({ type: "error", message: refusals.message }));
      else sendAck(c);
      return;
    }
    const set = c.subs.get(channel) ?? new Set<string>();
    const list = channel === "heartbeats" ? ["heartbeats"] : products;
    for (const p of list) (m.type === "subscribe" ? set.add(p) : set.delete(p));
    c.subs.set(channel, set);
    sendAck(c);
    // Closing at once: the ack is the only frame this connection delivers (no ticker snapshot).
    if (flapping) c.ws.close(1011, "redeploy");
    if (m.type === "subscribe" && channel === "ticker") {
      for (const p of products) {
        if (!c.tickerSnapshotSent.has(p)) {
          c.tickerSnapshotSent.add(p);
          send(c, "ticker", [tickerEvent("snapshot", p)]);
        }
      }
    }
    if (m.type === "subscribe" && channel === "level2") for (const p of products) send(c, "l2_data", [l2Snapshot(p)]);
  }

  const http = createServer((_req, res) => {
    res.writeHead(426);
    res.end();
  });
  const sockets = new Set<Socket>();
  http.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (ws) => {
    const c: Conn = { ws, n: ++stats.connections, seq: firstSeq, subs: new Map(), tickerSnapshotSent: new Set(), lostFrames: 0 };
    conns.add(c);
    // Coinbase closes connections that do not subscribe within 5 s.
    const guard = setTimeout(() => {
      if (c.subs.size === 0) ws.close(1008, "no subscribe");
    }, 5000);
    guard.unref();
    ws.on("message", (d) => onMessage(c, d.toString()));
    ws.on("close", () => {
      clearTimeout(guard);
      conns.delete(c);
    });
    ws.on("error", () => conns.delete(c));
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as AddressInfo).port;

  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, f: () => void) => {
    if (ms > 0) {
      const t = setInterval(f, ms);
      t.unref();
      timers.push(t);
    }
  };
  every(opts.tickerIntervalMs ?? 100, () => {
    for (const [product, p] of prices) {
      const mid = Math.round(((p.bid + p.ask) / 2 + (rng.next() - 0.5) * 20) * 100) / 100;
      const half = rng.int(1, 5) / 100;
      p.bid = Math.round((mid - half) * 100) / 100;
      p.ask = Math.round((mid + half) * 100) / 100;
      p.price = rng.chance(0.5) ? p.bid : p.ask;
      for (const c of conns) if (c.subs.get("ticker")?.has(product)) send(c, "ticker", [tickerEvent("update", product)]);
    }
  });
  every(opts.heartbeatIntervalMs ?? 1000, () => {
    heartbeatCounter++;
    for (const c of conns) {
      if (!c.subs.get("heartbeats")?.size) continue;
      send(c, "heartbeats", [{ current_time: `${new Date().toISOString().replace("T", " ").replace("Z", "")} +0000 UTC m=+${heartbeatCounter}.000000001`, heartbeat_counter: heartbeatCounter }]);
    }
  });
  every(opts.level2IntervalMs ?? 200, () => {
    for (const [product, p] of prices) {
      for (const c of conns) {
        if (!c.subs.get("level2")?.has(product)) continue;
        send(c, "l2_data", [
          {
            type: "update",
            product_id: product,
            updates: [{ side: rng.chance(0.5) ? "bid" : "offer", event_time: new Date().toISOString(), price_level: (p.bid - rng.int(0, 9) * 0.5).toFixed(2), new_quantity: rng.chance(0.2) ? "0" : (rng.int(1, 1000) / 1000).toFixed(8) }],
          },
        ]);
      }
    }
  });

  const faults: FakeCoinbaseFaults = {
    dropConnections() {
      for (const c of conns) c.ws.terminate();
    },
    skipSequence(n = 1) {
      for (const c of conns) c.lostFrames += n;
    },
    stall(ms: number) {
      stalledUntil = Date.now() + ms;
    },
    malformed(n = 1) {
      const bad = ["{oops", JSON.stringify({ channel: "ticker", sequence_num: "x", events: 5 }), JSON.stringify({ channel: "ticker", timestamp: "t", sequence_num: 1, events: [{ type: "update", tickers: [{ product_id: 7 }] }] })];
      // Malformed frames are not real messages: they do not consume sequence numbers.
      for (const c of conns) for (let i = 0; i < n; i++) if (c.ws.readyState === c.ws.OPEN) c.ws.send(bad[i % bad.length]!);
    },
    refusedSequenced(n = 1) {
      // Through send(): each consumes a sequence_num like any frame the venue sends.
      for (const c of conns) for (let i = 0; i < n; i++) send(c, "ticker", [{ type: "update", tickers: [{ type: "ticker", product_id: "BTC-USD", price: "1", best_ask: "2" }] }], false);
    },
    partlyBadTickers(n = 1, product = "BTC-USD") {
      for (const c of conns) {
        for (let i = 0; i < n; i++) {
          const ev = tickerEvent("update", product);
          send(c, "ticker", [{ ...ev, tickers: [...ev.tickers, { type: "ticker", product_id: product, best_ask: "2" }] }]);
        }
      }
    },
    foreignTicker(n = 1, product = "ETH-USD") {
      for (const c of conns) for (let i = 0; i < n; i++) send(c, "ticker", [tickerEvent("update", product)], false);
    },
    bogusSequence(seq = 1e12) {
      for (const c of conns) if (c.ws.readyState === c.ws.OPEN) c.ws.send(JSON.stringify({ channel: "status", timestamp: nanoIso(Date.now()), sequence_num: seq, events: [] }));
    },
    refuseSubscribes(channel, n = 1, mode = "error", message = "rate limit exceeded") {
      refusals = { channel, left: n, mode, message };
    },
    flap(on = true) {
      flapping = on;
    },
    startSequenceAt(seq: number) {
      firstSeq = seq;
    },
    tradesWithBadTime(badTime = "not-a-time", product = "BTC-USD") {
      const p = priceOf(product);
      const trade = (time: string) => ({ product_id: product, trade_id: String(++tradeId), price: p.price.toFixed(2), size: "0.01", time, side: "SELL" });
      const ok = new Date().toISOString();
      const trades = [trade(ok), trade(badTime), trade(ok)];
      for (const c of conns) {
        if (c.ws.readyState !== c.ws.OPEN) continue;
        sentGoodTrades.push(trades[0]!.trade_id, trades[2]!.trade_id);
        send(c, "market_trades", [{ type: "update", trades }]);
      }
    },
    venueError(message = "rate limit exceeded", typeFirst = true) {
      const text = typeFirst ? JSON.stringify({ type: "error", message }) : JSON.stringify({ message, type: "error" });
      for (const c of conns) if (c.ws.readyState === c.ws.OPEN) c.ws.send(text);
    },
    clear() {
      stalledUntil = 0;
      refusals = null;
      flapping = false;
      firstSeq = 0;
      for (const c of conns) c.lostFrames = 0;
    },
  };

  let closed = false;
  return {
    wsUrl: `ws://127.0.0.1:${port}`,
    faults,
    received,
    sentTickers,
    sentGoodTrades,
    stats,
    connectionCount: () => conns.size,
    lastTicker: (p) => {
      const v = prices.get(p);
      return v ? { ...v } : undefined;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearInterval(t);
      for (const c of conns) c.ws.terminate();
      wss.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
