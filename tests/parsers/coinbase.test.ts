import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { SpotQuote, SpotTrade } from "../../lib/core/events.ts";
import { parseCoinbaseFrame } from "../../lib/venues/coinbase/parse.ts";

/** cryptofeed envelope lines: `ts` = local receive time (s), `data` = the payload text as received. */
interface Line {
  t: string;
  conn: string;
  ts: number;
  data: string;
}
const lines: Line[] = readFileSync(new URL("../../fixtures/frames/coinbase_ws_2026-08-09.jsonl", import.meta.url), "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l) as Line);
const tsOf = (l: Line) => Math.round(l.ts * 1e6);
const channelOf = (l: Line): string => JSON.parse(l.data).channel;

describe("real capture 2026-08-09", () => {
  const results = lines.map((l) => ({ line: l, r: parseCoinbaseFrame(l.data, tsOf(l)) }));

  it("every recv payload parses", () => {
    expect(lines.length).toBe(295);
    for (const { r } of results) expect(r).toMatchObject({ ok: true });
  });

  it("ticker counts match the data README (BTC-USD 1+72, ETH-USD 1+86)", () => {
    const quotes = results.flatMap(({ r }) => (r.ok ? r.events : [])).filter((e): e is SpotQuote => e.kind === "spot_quote");
    expect(quotes.filter((q) => q.productId === "BTC-USD")).toHaveLength(73);
    expect(quotes.filter((q) => q.productId === "ETH-USD")).toHaveLength(87);
  });

  it("every quote has bid < ask, and matches its own text", () => {
    for (const { line, r } of results) {
      if (!r.ok || channelOf(line) !== "ticker") continue;
      const raw = JSON.parse(line.data);
      const tick = raw.events[0].tickers[0];
      const q = r.events[0] as SpotQuote;
      expect(q.bid).toBeLessThan(q.ask);
      expect(q.bid).toBe(Number(tick.best_bid));
      expect(q.ask).toBe(Number(tick.best_ask));
      expect(q.seq).toBe(raw.sequence_num);
      expect(r.sequenceNum).toBe(raw.sequence_num);
      expect(q.tsRecv).toBe(tsOf(line));
    }
  });

  it("reads the first BTC ticker exactly, with the nanosecond timestamp kept to µs", () => {
    const first = results.find(({ line, r }) => r.ok && channelOf(line) === "ticker" && (r.events[0] as SpotQuote).productId === "BTC-USD")!;
    const q = (first.r.ok ? first.r.events[0] : undefined) as SpotQuote;
    // "timestamp":"2026-08-09T21:05:48.229198328Z" → whole seconds + 229198 µs (the ns tail is dropped)
    expect(q.tsExchange).toBe(Date.UTC(2026, 7, 9, 21, 5, 48) * 1000 + 229_198);
    expect(q).toMatchObject({ bid: 65_083.66, ask: 65_083.67, bidSize: 0.20371215, askSize: 0.24290402, last: 65_086.18, seq: 6 });
  });

  it("market_trades: one SpotTrade per trade, taker side = opposite of the maker side on the wire", () => {
    let trades = 0;
    for (const { line, r } of results) {
      if (!r.ok || channelOf(line) !== "market_trades") continue;
      const raw = JSON.parse(line.data);
      const wire = raw.events.flatMap((e: { trades: unknown[] }) => e.trades) as { trade_id: string; side: string; price: string; time: string }[];
      expect(r.events).toHaveLength(wire.length);
      wire.forEach((w, i) => {
        const t = r.events[i] as SpotTrade;
        expect(t.kind).toBe("spot_trade");
        expect(t.tradeId).toBe(w.trade_id);
        expect(t.price).toBe(Number(w.price));
        expect(t.takerSide).toBe(w.side === "SELL" ? "buy" : "sell");
        // The trade's own match time (µs kept); the recorder's clock may be skewed, so no bound vs tsRecv.
        expect(Math.floor(t.tsExchange! / 1000)).toBe(Date.parse(w.time));
      });
      trades += wire.length;
    }
    expect(trades).toBeGreaterThan(100);
  });

  it("l2_data, candles, heartbeats and subscriptions carry no events", () => {
    const seen = new Set<string>();
    for (const { line, r } of results) {
      const ch = channelOf(line);
      if (["l2_data", "candles", "heartbeats", "subscriptions"].includes(ch)) {
        expect(r).toMatchObject({ ok: true, events: [], channel: ch });
        seen.add(ch);
      }
    }
    expect(seen.size).toBe(4);
  });
});

describe("errors and malformed frames", () => {
  it("a venue error message is ok:false with its text", () => {
    const r = parseCoinbaseFrame('{"type":"error","message":"too many L2 streams requested in a single session"}', 1);
    expect(r).toEqual({ ok: false, venueError: true, error: "coinbase error: too many L2 streams requested in a single session" });
  });

  it("a venue error is one whatever its key order", () => {
    expect(parseCoinbaseFrame('{"message":"rate limit exceeded","type":"error"}', 1)).toEqual({ ok: false, venueError: true, error: "coinbase error: rate limit exceeded" });
  });

  it("a subscriptions ack reports what the connection is subscribed to", () => {
    const ack = '{"channel":"subscriptions","timestamp":"2026-08-09T21:05:48.629706932Z","sequence_num":26,"events":[{"subscriptions":{"heartbeats":["heartbeats"],"ticker":["BTC-USD","ETH-USD"]}}]}';
    expect(parseCoinbaseFrame(ack, 1)).toMatchObject({ ok: true, events: [], subscriptions: { heartbeats: ["heartbeats"], ticker: ["BTC-USD", "ETH-USD"] } });
  });

  it("one trade with an unreadable time is refused alone", () => {
    const tr = (id: string, time: string) => ({ product_id: "BTC-USD", trade_id: id, price: "65083.67", size: "0.01", time, side: "SELL" });
    const text = JSON.stringify({ channel: "market_trades", timestamp: "2026-08-09T21:05:48.251397169Z", sequence_num: 9, events: [{ type: "update", trades: [tr("1", "2026-08-09T21:05:48.167634Z"), tr("2", "not-a-time"), tr("3", "2026-08-09T21:05:48.167635Z")] }] });
    const r = parseCoinbaseFrame(text, 1);
    expect(r.ok && r.events.map((e) => (e as SpotTrade).tradeId)).toEqual(["1", "3"]);
    expect(r.ok && r.refused).toEqual([expect.stringMatching(/^trade 2 BTC-USD: bad timestamp/)]);
  });

  const ticker = (tick: Record<string, unknown>) =>
    JSON.stringify({ channel: "ticker", timestamp: "2026-08-09T21:05:48.229198328Z", sequence_num: 6, events: [{ type: "update", tickers: [{ type: "ticker", product_id: "BTC-USD", ...tick }] }] });

  const cases: [string, string][] = [
    ["not json", '{"channel":'],
    ["array", "[]"],
    ["missing sequence_num", '{"channel":"ticker","timestamp":"2026-08-09T21:05:48Z","events":[]}'],
    ["bad timestamp", '{"channel":"heartbeats","timestamp":"yesterday","sequence_num":1,"events":[]}'],
    ["ticker without best_bid", ticker({ best_ask: "1.00" })],
    ["non-numeric bid", ticker({ best_bid: "65k", best_ask: "65001.00" })],
    ["negative ask", ticker({ best_bid: "1.00", best_ask: "-2" })],
    ["trade without price", '{"channel":"market_trades","timestamp":"2026-08-09T21:05:48Z","sequence_num":1,"events":[{"type":"update","trades":[{"product_id":"BTC-USD","trade_id":"1","size":"1","side":"BUY"}]}]}'],
  ];
  for (const [name, text] of cases) {
    it(name, () => {
      const r = parseCoinbaseFrame(text, 1);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.length).toBeGreaterThan(0);
    });
  }

  it("one bad ticker entry is refused alone: the frame's good entries still arrive, the bad one is named", () => {
    const text = JSON.stringify({
      channel: "ticker",
      timestamp: "2026-08-09T21:05:48.229198328Z",
      sequence_num: 7,
      events: [
        {
          type: "update",
          tickers: [
            { type: "ticker", product_id: "BTC-USD", best_bid: "65k", best_ask: "65001.00" },
            { type: "ticker", product_id: "ETH-USD", best_bid: "3000.10", best_ask: "3000.20", best_bid_quantity: "1.5" },
          ],
        },
        { type: "update", tickers: [{ product_id: "SOL-USD" }] },
      ],
    });
    const r = parseCoinbaseFrame(text, 5);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.sequenceNum).toBe(7);
    expect(r.events).toEqual([
      { kind: "spot_quote", tsRecv: 5, tsExchange: Date.UTC(2026, 7, 9, 21, 5, 48) * 1000 + 229198, productId: "ETH-USD", bid: 3000.1, ask: 3000.2, bidSize: 1.5, askSize: 0, last: Number.NaN, seq: 7 },
    ]);
    expect(r.refused).toHaveLength(2);
    expect(r.refused[0]).toMatch(/BTC-USD.*best_bid/);
    expect(r.refused[1]).toMatch(/ticker/);
  });

  it("one bad trade is refused alone, the others arrive", () => {
    const text = JSON.stringify({
      channel: "market_trades",
      timestamp: "2026-08-09T21:05:48Z",
      sequence_num: 2,
      events: [
        {
          type: "update",
          trades: [
            { product_id: "BTC-USD", trade_id: "1", price: "65000.5", size: "0.1", side: "BUY" },
            { product_id: "BTC-USD", trade_id: "2", price: "oops", size: "0.1", side: "BUY" },
          ],
        },
      ],
    });
    const r = parseCoinbaseFrame(text, 5);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.events.map((e) => (e as SpotTrade).tradeId)).toEqual(["1"]);
    expect(r.refused).toEqual([expect.stringMatching(/trade 2.*price/)]);
  });

  it("a clean frame refuses nothing", () => {
    const r = parseCoinbaseFrame(ticker({ best_bid: "1.00", best_ask: "1.01" }), 1);
    expect(r).toMatchObject({ ok: true, refused: [] });
  });

  it("an unknown channel is ok with no events", () => {
    expect(parseCoinbaseFrame('{"channel":"status","timestamp":"2026-08-09T21:05:48Z","sequence_num":3,"events":[{"type":"snapshot","products":[]}]}', 1)).toEqual({
      ok: true,
      events: [],
      channel: "status",
      sequenceNum: 3,
      refused: [],
    });
  });
});
