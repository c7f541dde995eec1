import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { EngineEvent, MarketInfo } from "../../lib/core/events.ts";
import {
  mergeMarketInfo,
  parseKalshiFrame,
  parseKalshiMarket,
  type KalshiFrameResult,
} from "../../lib/venues/kalshi/parse.ts";

const FIX = new URL("../../fixtures/frames/", import.meta.url);
const lines = (name: string): string[] => readFileSync(new URL(name, FIX), "utf8").trim().split("\n");
const NO_YES = { useYesPrice: false };
const YES = { useYesPrice: true };
const TS = 1_790_000_000_000_000;

function okEvents(r: KalshiFrameResult): EngineEvent[] {
  if (!r.ok) throw new Error(`expected ok, got: ${r.error}`);
  return r.events;
}

function only<K extends EngineEvent["kind"]>(r: KalshiFrameResult, kind: K): Extract<EngineEvent, { kind: K }> {
  const ev = okEvents(r);
  expect(ev).toHaveLength(1);
  expect(ev[0]!.kind).toBe(kind);
  return ev[0] as Extract<EngineEvent, { kind: K }>;
}

const byType = (file: string, type: string): string[] => lines(file).filter((l) => JSON.parse(l).type === type);

describe("Feb-2026 real frames (integer cents alongside *_dollars)", () => {
  const feb = lines("kalshi_ws_2026-02.jsonl");

  it("has the 20 captured lines and every one parses", () => {
    expect(feb).toHaveLength(20);
    for (const l of feb) expect(parseKalshiFrame(l, TS, NO_YES).ok).toBe(true);
  });

  it("ticker prices agree with the legacy integer-cent fields (independent oracle)", () => {
    for (const l of feb.filter((x) => JSON.parse(x).type === "ticker")) {
      const m = JSON.parse(l).msg;
      const t = only(parseKalshiFrame(l, TS, NO_YES), "market_ticker");
      // cents × 100 = PriceE4; contracts × 100 = CountE2
      expect(t.yesBid).toBe(m.yes_bid * 100);
      expect(t.yesAsk).toBe(m.yes_ask * 100);
      expect(t.lastPrice).toBe(m.price * 100);
      expect(t.volume).toBe(m.volume * 100);
      expect(t.openInterest).toBe(m.open_interest * 100);
      expect(t.tsExchange).toBe(m.ts * 1_000_000);
      expect(t.market).toBe(m.market_ticker);
      expect(t.tsRecv).toBe(TS);
    }
  });

  it("reads the first ticker exactly", () => {
    // yes_bid_dollars "0.0400" → 400, yes_ask_dollars "0.9500" → 9500, yes_bid_size_fp "14.00" → 1400,
    // yes_ask_size_fp "84.00" → 8400, volume_fp "13446.00" → 1344600.
    const t = only(parseKalshiFrame(feb[0]!, TS, NO_YES), "market_ticker");
    expect(t).toMatchObject({
      market: "KXXRP-26FEB1317-B1.3899500",
      yesBid: 400,
      yesAsk: 9500,
      yesBidSize: 1400,
      yesAskSize: 8400,
      volume: 1_344_600,
      lastPrice: 1400,
    });
  });

  it("trades agree with the cent fields and keep the per-sid seq", () => {
    for (const l of feb.filter((x) => JSON.parse(x).type === "trade")) {
      const o = JSON.parse(l);
      const r = parseKalshiFrame(l, TS, NO_YES);
      const t = only(r, "public_trade");
      expect(t.yesPrice).toBe(o.msg.yes_price * 100);
      expect(t.count).toBe(o.msg.count * 100);
      expect(t.takerSide).toBe(o.msg.taker_side);
      expect(t.seq).toBe(o.seq);
      expect(r.ok && r.seq).toBe(o.seq);
      expect(t.sid).toBe(2);
    }
  });

  it("falls back to the cent/integer fields when the fixed-point ones are absent", () => {
    for (const l of feb) {
      const o = JSON.parse(l);
      const stripped = { ...o, msg: Object.fromEntries(Object.entries(o.msg).filter(([k]) => !/_dollars$|_fp$/.test(k))) };
      const a = okEvents(parseKalshiFrame(l, TS, NO_YES))[0]! as unknown as Record<string, unknown>;
      const b = okEvents(parseKalshiFrame(JSON.stringify(stripped), TS, NO_YES))[0]! as unknown as Record<string, unknown>;
      if (o.type === "ticker") {
        // sizes only exist as *_fp: absent → -1 (unknown), never 0 (an empty best level)
        expect({ ...b, yesBidSize: a["yesBidSize"], yesAskSize: a["yesAskSize"] }).toEqual(a);
        expect(b["yesBidSize"]).toBe(-1);
        expect(b["yesAskSize"]).toBe(-1);
      } else expect(b).toEqual(a);
    }
  });

  it("prefers *_dollars over the cent field when they disagree", () => {
    const f = '{"type":"trade","sid":2,"seq":3,"msg":{"trade_id":"x","market_ticker":"M-1","yes_price":57,"yes_price_dollars":"0.5650","count":1,"count_fp":"1.25","taker_side":"yes","ts":1}}';
    const t = only(parseKalshiFrame(f, TS, NO_YES), "public_trade");
    expect(t.yesPrice).toBe(5650);
    expect(t.count).toBe(125);
  });
});

describe("current shapes (AsyncAPI examples)", () => {
  const cur = "kalshi_ws_current.jsonl";
  const ref = "kalshi_ws_refdoc.jsonl";

  it("every example parses", () => {
    for (const f of [cur, ref]) for (const l of lines(f)) expect(parseKalshiFrame(l, TS, NO_YES)).toMatchObject({ ok: true });
  });

  it("orderbook_snapshot, use_yes_price=false: both sides are own-leg bids as sent", () => {
    const s = only(parseKalshiFrame(byType(cur, "orderbook_snapshot")[0]!, TS, NO_YES), "book_snapshot");
    expect(s.market).toBe("FED-23DEC-T3.00");
    expect(s.sid).toBe(2);
    expect(s.seq).toBe(2);
    expect(s.tsExchange).toBeNull();
    expect(s.yesBids).toEqual([
      [800, 30_000],
      [2200, 33_300],
    ]);
    expect(s.noBids).toEqual([
      [5400, 2000],
      [5600, 14_600],
    ]);
  });

  it("null in an optional field is read as absent, not as a bad frame (our own fill must not be lost)", () => {
    const fill =
      '{"type":"fill","sid":9,"msg":{"trade_id":"t1","order_id":"o1","client_order_id":null,"market_ticker":"M-1","is_taker":true,' +
      '"yes_price_dollars":"0.7500","count_fp":"2.00","outcome_side":"yes","book_side":"bid","action":"buy","fee_cost":null,"ts":1700000000}}';
    expect(only(parseKalshiFrame(fill, TS, NO_YES), "fill")).toMatchObject({ clientOrderId: null, orderId: "o1", count: 200, yesPrice: 7500, fee: 0 });
    const snap = '{"type":"orderbook_snapshot","sid":2,"seq":2,"msg":{"market_ticker":"M-1","yes_dollars_fp":[["0.4200","3.00"]],"no_dollars_fp":null}}';
    expect(only(parseKalshiFrame(snap, TS, NO_YES), "book_snapshot")).toMatchObject({ yesBids: [[4200, 300]], noBids: [] });
    // where null means something it is kept: a fee override set to null is cleared
    const cleared = parseKalshiFrame('{"type":"event_fee_update","sid":5,"seq":3,"msg":{"event_ticker":"E-1","fee_type_override":null,"fee_multiplier_override":null}}', TS, NO_YES);
    expect(cleared.ok && cleared.eventPatch?.feeOverride).toEqual({ feeType: null, feeMultiplier: null });
    // a null inside a level is still a bad level
    expect(parseKalshiFrame('{"type":"orderbook_snapshot","sid":2,"seq":3,"msg":{"market_ticker":"M-1","yes_dollars_fp":[["0.4200",null]]}}', TS, NO_YES).ok).toBe(false);
    // the envelope's null is not "absent": a delta with seq null would pass as unsequenced and leave the
    // books counting a gap the client never sees, so the frame is refused as before
    expect(parseKalshiFrame('{"type":"orderbook_delta","sid":2,"seq":null,"msg":{"market_ticker":"M-1","price_dollars":"0.4200","delta_fp":"1.00","side":"yes"}}', TS, NO_YES).ok).toBe(false);
    // a "__proto__" key in a frame with a null is data, never the copy's prototype
    const proto =
      '{"type":"fill","sid":9,"msg":{"__proto__":{"client_order_id":"injected"},"trade_id":"t1","order_id":"o1","client_order_id":null,"market_ticker":"M-1",' +
      '"is_taker":true,"yes_price_dollars":"0.7500","count_fp":"2.00","outcome_side":"yes","book_side":"bid","action":"buy","ts":1700000000}}';
    expect(only(parseKalshiFrame(proto, TS, NO_YES), "fill").clientOrderId).toBeNull();
  });

  it("fields read only to refine an event do not cost the frame when they are malformed", () => {
    const order =
      '{"type":"user_order","sid":4,"msg":{"order_id":"o1","ticker":"M-1","status":"resting","book_side":"bid","action":"Buy","yes_price_dollars":"0.3500","fill_count_fp":"0.00","remaining_count_fp":"10.00"}}';
    expect(only(parseKalshiFrame(order, TS, NO_YES), "order_update").bookSide).toBe("bid");
    const trade = '{"type":"trade","sid":12,"seq":2,"msg":{"trade_id":"t","market_ticker":"M-1","yes_price_dollars":"0.3600","count_fp":"1.00","taker_outcome_side":"yes","is_block_trade":"false"}}';
    expect(only(parseKalshiFrame(trade, TS, NO_YES), "public_trade")).not.toHaveProperty("blockTrade");
    const created =
      '{"type":"market_lifecycle_v2","sid":13,"seq":2,"msg":{"market_ticker":"M-1","event_type":"created","open_ts":1,"close_ts":2,"price_level_structure":1,' +
      '"additional_metadata":{"event_ticker":"E-1","strike_type":"greater","floor_strike":5}}}';
    expect(parseKalshiFrame(created, TS, NO_YES).ok).toBe(true);
  });

  it("orderbook_snapshot, use_yes_price=true: the no side arrives as YES prices and becomes NO bids 1 − p", () => {
    const s = only(parseKalshiFrame(byType(cur, "orderbook_snapshot")[0]!, TS, YES), "book_snapshot");
    // YES 0.54 ≡ NO bid 0.46 (size 20.00); YES 0.56 ≡ NO bid 0.44 (146.00); sorted ascending.
    expect(s.noBids).toEqual([
      [4400, 14_600],
      [4600, 2000],
    ]);
    expect(s.yesBids).toEqual([
      [800, 30_000],
      [2200, 33_300],
    ]);
  });

  it("reads fractional counts exactly: \"35.50\" → 3550", () => {
    const s = only(parseKalshiFrame(byType(ref, "orderbook_snapshot")[0]!, TS, NO_YES), "book_snapshot");
    expect(s.yesBids).toEqual([
      [4100, 12_000],
      [4200, 3550],
    ]);
  });

  it("a missing side is an empty side; unsorted and duplicate levels are normalized", () => {
    const f = '{"type":"orderbook_snapshot","sid":9,"seq":4,"msg":{"market_ticker":"M-1","market_id":"u","yes_dollars_fp":[["0.5000","1.00"],["0.1000","2.00"],["0.5000","0.50"],["0.2000","0.00"]]}}';
    const s = only(parseKalshiFrame(f, TS, NO_YES), "book_snapshot");
    expect(s.noBids).toEqual([]);
    expect(s.yesBids).toEqual([
      [1000, 200],
      [5000, 150],
    ]);
  });

  it("orderbook_delta: signed fixed-point delta, ts_ms → µs", () => {
    const d = only(parseKalshiFrame(byType(cur, "orderbook_delta")[0]!, TS, NO_YES), "book_delta");
    // "0.960" → 9600, "-54.00" → -5400, ts_ms 1669149841000 → 1669149841000000 µs
    expect(d).toMatchObject({ market: "FED-23DEC-T3.00", side: "yes", price: 9600, delta: -5400, sid: 2, seq: 3, clientOrderId: null });
    expect(d.tsExchange).toBe(1_669_149_841_000_000);
    const own = only(parseKalshiFrame(byType(ref, "orderbook_delta")[0]!, TS, NO_YES), "book_delta");
    expect(own.clientOrderId).toBe("my-order-17");
    expect(own.delta).toBe(-3550);
  });

  it("orderbook_delta no side converts only when use_yes_price was sent", () => {
    const f = '{"type":"orderbook_delta","sid":2,"seq":9,"msg":{"market_ticker":"M-1","market_id":"u","price_dollars":"0.3000","delta_fp":"5.00","side":"no"}}';
    expect(only(parseKalshiFrame(f, TS, NO_YES), "book_delta").price).toBe(3000);
    expect(only(parseKalshiFrame(f, TS, YES), "book_delta").price).toBe(7000);
    const y = f.replace('"side":"no"', '"side":"yes"');
    expect(only(parseKalshiFrame(y, TS, YES), "book_delta").price).toBe(3000);
  });

  it("accepts JSON numbers where strings are documented", () => {
    const f = '{"type":"orderbook_delta","sid":2,"seq":9,"msg":{"market_ticker":"M-1","market_id":"u","price_dollars":0.42,"delta_fp":-35.5,"side":"yes"}}';
    const d = only(parseKalshiFrame(f, TS, NO_YES), "book_delta");
    expect(d.price).toBe(4200);
    expect(d.delta).toBe(-3550);
  });

  it("timestamps: ts_ms, else RFC 3339 ts, else null", () => {
    const base = { type: "orderbook_delta", sid: 2, seq: 9, msg: { market_ticker: "M-1", market_id: "u", price_dollars: "0.3000", delta_fp: "1.00", side: "yes" } };
    const iso = { ...base, msg: { ...base.msg, ts: "2022-11-22T20:44:01.5Z" } };
    expect(only(parseKalshiFrame(JSON.stringify(iso), TS, NO_YES), "book_delta").tsExchange).toBe(Date.UTC(2022, 10, 22, 20, 44, 1) * 1000 + 500_000);
    expect(only(parseKalshiFrame(JSON.stringify(base), TS, NO_YES), "book_delta").tsExchange).toBeNull();
  });

  it("ticker", () => {
    const t = only(parseKalshiFrame(byType(cur, "ticker")[0]!, TS, NO_YES), "market_ticker");
    expect(t).toMatchObject({ lastPrice: 4800, yesBid: 4500, yesAsk: 5300, yesBidSize: 30_000, yesAskSize: 15_000, volume: 3_389_600, openInterest: 2_042_200 });
    expect(t.tsExchange).toBe(1_669_149_841_000_000);
    const r = parseKalshiFrame(byType(cur, "ticker")[0]!, TS, NO_YES);
    expect(r.ok && r.seq).toBe(-1);
  });

  it("trade: taker_outcome_side wins, then taker_book_side, then deprecated taker_side", () => {
    const old = only(parseKalshiFrame(byType(cur, "trade")[0]!, TS, NO_YES), "public_trade");
    expect(old).toMatchObject({ yesPrice: 3600, count: 13_600, takerSide: "no", seq: -1, tradeId: "d91bc706-ee49-470d-82d8-11418bda6fed" });
    const both = '{"type":"trade","sid":12,"seq":2,"msg":{"trade_id":"t","market_ticker":"M-1","yes_price_dollars":"0.3600","count_fp":"1.00","taker_outcome_side":"yes","taker_side":"no"}}';
    expect(only(parseKalshiFrame(both, TS, NO_YES), "public_trade").takerSide).toBe("yes");
    const book = '{"type":"trade","sid":12,"seq":2,"msg":{"trade_id":"t","market_ticker":"M-1","yes_price_dollars":"0.3600","count_fp":"1.00","taker_book_side":"ask","taker_side":"yes"}}';
    expect(only(parseKalshiFrame(book, TS, NO_YES), "public_trade").takerSide).toBe("no");
    const none = '{"type":"trade","sid":12,"seq":2,"msg":{"trade_id":"t","market_ticker":"M-1","yes_price_dollars":"0.3600","count_fp":"1.00"}}';
    expect(parseKalshiFrame(none, TS, NO_YES).ok).toBe(false);
  });

  it("trade: a block trade (matched off book) is marked as such; a book trade carries no mark", () => {
    const frame = (flag: string) =>
      `{"type":"trade","sid":12,"seq":2,"msg":{"trade_id":"t","market_ticker":"M-1","yes_price_dollars":"0.3600","count_fp":"5000.00","taker_outcome_side":"yes"${flag}}}`;
    expect(only(parseKalshiFrame(frame(',"is_block_trade":true'), TS, NO_YES), "public_trade")).toMatchObject({ blockTrade: true, count: 500_000 });
    expect(only(parseKalshiFrame(frame(',"is_block_trade":false'), TS, NO_YES), "public_trade")).not.toHaveProperty("blockTrade");
    expect(only(parseKalshiFrame(frame(""), TS, NO_YES), "public_trade")).not.toHaveProperty("blockTrade");
  });

  it("fill: current direction fields, fee in micros; deprecated side+action fallback", () => {
    const f = only(parseKalshiFrame(byType(ref, "fill")[0]!, TS, NO_YES), "fill");
    // fee_cost "0.010000" → 10 000 µ$; count "278.00" → 27 800; price "0.7500" → 7500
    expect(f).toMatchObject({ fee: 10_000, count: 27_800, yesPrice: 7500, outcomeSide: "yes", bookSide: "bid", isTaker: true, clientOrderId: "my-order-17" });
    const old = only(parseKalshiFrame(byType(cur, "fill")[0]!, TS, NO_YES), "fill");
    expect(old).toMatchObject({ outcomeSide: "yes", bookSide: "bid", fee: 0, clientOrderId: null, yesPrice: 7500 });
    const sell = byType(cur, "fill")[0]!.replace('"action":"buy"', '"action":"sell"');
    // Selling YES positions toward NO: outcome "no", book side "ask".
    expect(only(parseKalshiFrame(sell, TS, NO_YES), "fill")).toMatchObject({ outcomeSide: "no", bookSide: "ask" });
  });

  it("user_order → OrderUpdate", () => {
    const o = only(parseKalshiFrame(byType(ref, "user_order")[0]!, TS, NO_YES), "order_update");
    expect(o).toMatchObject({ status: "resting", bookSide: "bid", yesPrice: 3500, filled: 0, remaining: 1000, reason: "Amend", clientOrderId: "my-order-17", market: "KXBTCD-26SEP2917-T109999.99" });
    expect(o.tsExchange).toBe(1_790_715_600_000_000);
    const weird = byType(ref, "user_order")[0]!.replace('"status":"resting"', '"status":"halted"');
    expect(only(parseKalshiFrame(weird, TS, NO_YES), "order_update").status).toBe("unknown");
    const legacy = only(parseKalshiFrame(byType(cur, "user_order")[0]!, TS, NO_YES), "order_update");
    expect(legacy.bookSide).toBe("bid");
  });

  it("user_order without book_side: a sell of a side rests on the other side of the YES book; 'cancelled' is canceled", () => {
    const frame = (fields: string) =>
      `{"type":"user_order","sid":4,"msg":{"order_id":"o1","ticker":"M-1","status":"resting","yes_price_dollars":"0.3500","fill_count_fp":"0.00","remaining_count_fp":"10.00",${fields}}}`;
    const side = (fields: string) => only(parseKalshiFrame(frame(fields), TS, NO_YES), "order_update").bookSide;
    expect(side('"side":"yes","action":"buy"')).toBe("bid");
    expect(side('"side":"yes","action":"sell"')).toBe("ask"); // selling YES offers on the YES book
    expect(side('"side":"no","action":"buy"')).toBe("ask");
    expect(side('"side":"no","action":"sell"')).toBe("bid"); // selling NO = buying YES
    expect(side('"outcome_side":"no","action":"sell"')).toBe("ask"); // outcome_side is the direction already
    expect(side('"is_yes":true,"action":"sell"')).toBe("ask");
    expect(side('"book_side":"bid","side":"yes","action":"sell"')).toBe("bid"); // book_side wins
    const c = only(parseKalshiFrame(frame('"side":"yes"').replace('"status":"resting"', '"status":"cancelled"'), TS, NO_YES), "order_update");
    expect(c.status).toBe("canceled");
  });

  it("market_position → no engine event, a typed position update instead", () => {
    const r = parseKalshiFrame(byType(ref, "market_position")[0]!, TS, NO_YES);
    expect(r.ok && r.events).toEqual([]);
    expect(r.ok && r.position).toEqual({
      market: "KXBTCD-26SEP2917-T109999.99",
      position: 10_000,
      positionCost: 50_000_000,
      realizedPnl: 10_000_000,
      feesPaid: 1_000_000,
      volume: 1500,
      tsRecv: TS,
    });
  });

  it("market_lifecycle_v2 created → MarketInfo + MarketLifecycle", () => {
    const ev = okEvents(parseKalshiFrame(byType(ref, "market_lifecycle_v2")[0]!, 1, NO_YES));
    expect(ev.map((e) => e.kind)).toEqual(["market_info", "market_lifecycle"]);
    const info = ev[0] as MarketInfo;
    expect(info).toMatchObject({
      market: "KXBTCD-26SEP2917-T109999.99",
      eventTicker: "KXBTCD-26SEP2917",
      seriesTicker: "KXBTCD",
      strikeType: "greater",
      floorStrike: 109_999.99,
      openTime: 1_790_629_200_000_000,
      closeTime: 1_790_715_600_000_000,
      settleTime: 1_790_715_600_000_000,
      priceRanges: [{ start: 0, end: 10_000, step: 100 }],
      feeType: "quadratic",
      feeMultiplier: 1,
      status: "initialized",
    });
    expect(info.capStrike).toBeNaN();
    expect(ev[1]).toMatchObject({ phase: "created", sid: 13, seq: 3, result: null, settlementValue: -1 });
    // After open_time the same frame reads as active.
    const late = okEvents(parseKalshiFrame(byType(ref, "market_lifecycle_v2")[0]!, 1_790_629_200_000_001, NO_YES))[0] as MarketInfo;
    expect(late.status).toBe("active");
  });

  it("created without price_ranges defaults to the linear cent grid", () => {
    const info = okEvents(parseKalshiFrame(byType(cur, "market_lifecycle_v2")[0]!, 1, NO_YES))[0] as MarketInfo;
    expect(info.priceRanges).toEqual([{ start: 0, end: 10_000, step: 100 }]);
    expect(info.floorStrike).toBe(4487);
    expect(info.seriesTicker).toBe("INXD");
  });

  it("metadata_updated → partial MarketInfo that mergeMarketInfo applies over the prior one", () => {
    const prior = okEvents(parseKalshiFrame(byType(ref, "market_lifecycle_v2")[0]!, 1, NO_YES))[0] as MarketInfo;
    const upd = okEvents(parseKalshiFrame(byType(cur, "market_lifecycle_v2")[2]!, 2, NO_YES))[0] as MarketInfo;
    expect(upd).toMatchObject({ strikeType: "between", floorStrike: 95_000, capStrike: 95_250, openTime: -1, closeTime: -1, priceRanges: [], status: "" });
    const merged = mergeMarketInfo(prior, upd);
    expect(merged).toMatchObject({ strikeType: "between", floorStrike: 95_000, capStrike: 95_250, closeTime: prior.closeTime, openTime: prior.openTime, status: prior.status, tsRecv: 2 });
    expect(merged.priceRanges).toEqual(prior.priceRanges);
    // subtitle-only update: no event
    expect(okEvents(parseKalshiFrame(byType(cur, "market_lifecycle_v2")[3]!, 2, NO_YES))).toEqual([]);
  });

  it("determined / settled / close_date_updated / deactivated", () => {
    const det = '{"type":"market_lifecycle_v2","sid":13,"seq":40,"msg":{"market_ticker":"KXBTCD-26SEP2917-T109999.99","event_type":"determined","result":"yes","settlement_value":"1.0000","determination_ts":1790715660}}';
    expect(only(parseKalshiFrame(det, TS, NO_YES), "market_lifecycle")).toMatchObject({
      phase: "determined",
      result: "yes",
      settlementValue: 10_000,
      tsExchange: 1_790_715_660_000_000,
      closeTime: -1,
      seq: 40,
    });
    const settled = '{"type":"market_lifecycle_v2","sid":13,"seq":41,"msg":{"market_ticker":"M-1","event_type":"settled","settled_ts":1790715720}}';
    expect(only(parseKalshiFrame(settled, TS, NO_YES), "market_lifecycle")).toMatchObject({ phase: "settled", result: null, settlementValue: -1, tsExchange: 1_790_715_720_000_000 });
    const moved = '{"type":"market_lifecycle_v2","sid":13,"seq":42,"msg":{"market_ticker":"M-1","event_type":"close_date_updated","close_ts":1790719200}}';
    expect(only(parseKalshiFrame(moved, TS, NO_YES), "market_lifecycle")).toMatchObject({ phase: "close_date_updated", closeTime: 1_790_719_200_000_000 });
    const paused = '{"type":"market_lifecycle_v2","sid":13,"seq":43,"msg":{"market_ticker":"M-1","event_type":"deactivated","is_deactivated":true}}';
    expect(only(parseKalshiFrame(paused, TS, NO_YES), "market_lifecycle").phase).toBe("deactivated");
    const badSettle = det.replace('"1.0000"', '"1.5000"');
    expect(parseKalshiFrame(badSettle, TS, NO_YES).ok).toBe(false);
  });

  it("cfbenchmarks_value: data is a JSON string parsed again", () => {
    const v = only(parseKalshiFrame(byType(ref, "cfbenchmarks_value")[0]!, TS, NO_YES), "index_value");
    expect(v).toMatchObject({ indexId: "BRTI", value: 109_850.12, avg60s: 109_843.55, sid: 1, seq: 42 });
    expect(v.tsExchange).toBe(1_790_715_600_123_000);
    const broken = byType(ref, "cfbenchmarks_value")[0]!.replace('"data":"{', '"data":"{{');
    expect(parseKalshiFrame(broken, TS, NO_YES)).toMatchObject({ ok: false });
    // Outside the final minute before a quarter-hour close the venue sends no quarter average.
    expect(v).toMatchObject({ quarterTicks: 0 });
    expect(v.quarterAvg).toBeNaN();
  });

  it("cfbenchmarks_value in the final minute: last_60s_windowed_average_15min (the AsyncAPI spec's own example)", () => {
    const frame =
      '{"type":"cfbenchmarks_value","sid":1,"seq":42,"msg":{"index_id":"BRTI","received_at":1710000000123,' +
      '"data":"{\\"type\\":\\"value\\",\\"id\\":\\"BRTI\\",\\"time\\":1710000000123,\\"value\\":\\"68000.12\\"}",' +
      '"avg_60s_data":{"value":"68000.12000000","window_size":3,"window_start_ts_ms":1709999940123,"window_end_ts_exclusive":1710000000123},' +
      '"last_60s_windowed_average_15min":{"value":"68000.23000000","window_size":14,"window_start_ts_ms":1709999980000,"window_end_ts_exclusive":1710000000123}}}';
    const r = parseKalshiFrame(frame, TS, NO_YES);
    expect(r.ok).toBe(true);
    expect(only(r, "index_value")).toMatchObject({ value: 68_000.12, avg60s: 68_000.12, quarterAvg: 68_000.23, quarterTicks: 14 });
    // A broken quarter average refuses the frame (it is the settlement number), it is not dropped silently.
    expect(parseKalshiFrame(frame.replace('"68000.23000000"', '"-1"'), TS, NO_YES)).toMatchObject({ ok: false });
    expect(parseKalshiFrame(frame.replace('"window_size":14', '"window_size":-2'), TS, NO_YES)).toMatchObject({ ok: false });
  });

  it("control responses", () => {
    // Replies that carry a seq (ok to update_subscription, unsubscribed) also yield one
    // subscription_updated event so downstream seq checks stay exact; the others yield none.
    const c = (l: string) => {
      const r = parseKalshiFrame(l, TS, NO_YES);
      if (!r.ok) throw new Error(r.error);
      if (r.seq >= 0 && r.sid >= 0 && (r.control?.type === "ok" || r.control?.type === "unsubscribed")) {
        expect(r.events).toEqual([
          { kind: "subscription_updated", tsRecv: TS, tsExchange: null, sid: r.sid, seq: r.seq, markets: r.control.type === "ok" ? r.control.marketTickers : [] },
        ]);
      } else expect(r.events).toEqual([]);
      return r;
    };
    expect(c(byType(cur, "subscribed")[0]!).control).toEqual({ type: "subscribed", id: 1, sid: 1, channel: "orderbook_delta" });
    expect(c(byType(cur, "subscribed")[0]!).sid).toBe(1);
    expect(c(byType(cur, "unsubscribed")[0]!).control).toEqual({ type: "unsubscribed", id: 102, sid: 2, seq: 7 });
    const okUpd = c(byType(cur, "ok")[0]!);
    expect(okUpd.control).toEqual({ type: "ok", id: 123, sid: 456, seq: 222, marketTickers: ["MARKET-1", "MARKET-2", "MARKET-3"] });
    expect(okUpd.seq).toBe(222);
    const list = c(byType(cur, "ok")[1]!).control;
    expect(list?.type === "ok" && list.subscriptions).toEqual([
      { channel: "orderbook_delta", sid: 1 },
      { channel: "ticker", sid: 2 },
      { channel: "fill", sid: 3 },
    ]);
    const errs = byType(cur, "error").map((l) => c(l).control);
    expect(errs).toContainEqual({ type: "error", id: 127, sid: -1, code: 16, message: "Market not found", market: "INVALID-MARKET", markets: ["INVALID-MARKET"] });
    expect(errs).toHaveLength(5);
    // Older servers: subscribed without msg, ok with top-level market_tickers.
    expect(c('{"type":"subscribed","id":4}').control).toEqual({ type: "subscribed", id: 4, sid: -1, channel: "" });
    expect(c('{"type":"ok","id":5,"sid":3,"seq":9,"market_tickers":["A-1"]}').control).toMatchObject({ marketTickers: ["A-1"], seq: 9 });
  });

  it("event-level and unknown types carry no market data; a seq they consumed becomes subscription_updated", () => {
    for (const t of ["event_lifecycle", "event_fee_update"]) {
      for (const l of byType(cur, t)) {
        const r = parseKalshiFrame(l, TS, NO_YES);
        expect(okEvents(r).filter((e) => e.kind !== "subscription_updated")).toEqual([]);
      }
    }
    const og = parseKalshiFrame(byType(cur, "order_group_updates")[0]!, TS, NO_YES);
    expect(og).toMatchObject({ ok: true, type: "order_group_updates", sid: 21, seq: 7 });
    expect(okEvents(og)).toEqual([{ kind: "subscription_updated", tsRecv: TS, tsExchange: null, sid: 21, seq: 7, markets: [] }]);
    expect(parseKalshiFrame('{"type":"brand_new_thing","sid":3,"msg":{}}', TS, NO_YES)).toMatchObject({ ok: true, events: [], type: "brand_new_thing", seq: -1 });
  });
});

describe("malformed frames → ok:false with a short reason, never a throw", () => {
  const cases: [string, string][] = [
    ["not json", "{type:"],
    ["array", "[1,2]"],
    ["null", "null"],
    ["no type", '{"sid":1}'],
    ["price > $1", '{"type":"orderbook_delta","sid":2,"seq":3,"msg":{"market_ticker":"M","price_dollars":"1.0100","delta_fp":"1.00","side":"yes"}}'],
    ["bad side", '{"type":"orderbook_delta","sid":2,"seq":3,"msg":{"market_ticker":"M","price_dollars":"0.1000","delta_fp":"1.00","side":"maybe"}}'],
    ["no delta", '{"type":"orderbook_delta","sid":2,"seq":3,"msg":{"market_ticker":"M","price_dollars":"0.1000","side":"yes"}}'],
    ["sub-tick count", '{"type":"orderbook_delta","sid":2,"seq":3,"msg":{"market_ticker":"M","price_dollars":"0.1000","delta_fp":"1.001","side":"yes"}}'],
    ["text level", '{"type":"orderbook_snapshot","sid":2,"seq":3,"msg":{"market_ticker":"M","yes_dollars_fp":[["abc","1.00"]]}}'],
    ["negative level", '{"type":"orderbook_snapshot","sid":2,"seq":3,"msg":{"market_ticker":"M","yes_dollars_fp":[["0.1000","-1.00"]]}}'],
    ["string seq", '{"type":"trade","sid":2,"seq":"3","msg":{}}'],
    ["negative seq", '{"type":"ticker","sid":2,"seq":-3,"msg":{}}'],
    ["ticker without prices", '{"type":"ticker","sid":2,"msg":{"market_ticker":"M"}}'],
    ["huge ts_ms", '{"type":"orderbook_delta","sid":2,"seq":3,"msg":{"market_ticker":"M","price_dollars":"0.1000","delta_fp":"1.00","side":"yes","ts_ms":1e300}}'],
    ["cfb value text", '{"type":"cfbenchmarks_value","sid":1,"seq":1,"msg":{"index_id":"BRTI","data":"{\\"value\\":\\"abc\\"}"}}'],
    ["error without code", '{"type":"error","msg":{"msg":"x"}}'],
  ];
  for (const [name, text] of cases) {
    it(name, () => {
      const r = parseKalshiFrame(text, TS, NO_YES);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(typeof r.error).toBe("string");
        expect(r.error.length).toBeGreaterThan(0);
        expect(r.error.length).toBeLessThan(200);
      }
    });
  }
});

describe("parseKalshiMarket (REST Market object)", () => {
  const market = {
    ticker: "KXBTCD-26SEP2917-T109999.99",
    event_ticker: "KXBTCD-26SEP2917",
    market_type: "binary",
    open_time: "2026-09-28T20:00:00Z",
    close_time: "2026-09-29T21:00:00Z",
    status: "active",
    strike_type: "greater",
    floor_strike: 109_999.99,
    cap_strike: null,
    price_ranges: [{ start: "0.0000", end: "1.0000", step: "0.0100" }],
  };

  it("maps the documented example", () => {
    const m = parseKalshiMarket(market, 5);
    expect(m).toMatchObject({
      kind: "market_info",
      tsRecv: 5,
      market: "KXBTCD-26SEP2917-T109999.99",
      eventTicker: "KXBTCD-26SEP2917",
      seriesTicker: "KXBTCD",
      strikeType: "greater",
      floorStrike: 109_999.99,
      openTime: Date.UTC(2026, 8, 28, 20) * 1000,
      closeTime: Date.UTC(2026, 8, 29, 21) * 1000,
      settleTime: Date.UTC(2026, 8, 29, 21) * 1000,
      status: "active",
      priceRanges: [{ start: 0, end: 10_000, step: 100 }],
    });
    expect(m.capStrike).toBeNaN();
  });

  it("accepts strikes as strings and sub-cent price ranges", () => {
    const m = parseKalshiMarket(
      {
        ...market,
        floor_strike: "109999.99",
        price_ranges: [
          { start: "0.0000", end: "0.1000", step: "0.0010" },
          { start: "0.1000", end: "0.9000", step: "0.0100" },
        ],
      },
      5,
    );
    expect(m.floorStrike).toBe(109_999.99);
    expect(m.priceRanges).toEqual([
      { start: 0, end: 1000, step: 10 },
      { start: 1000, end: 9000, step: 100 },
    ]);
  });

  it("throws a clear error on unsupported or malformed objects", () => {
    expect(() => parseKalshiMarket({ ...market, strike_type: "custom" }, 5)).toThrow(/unsupported strike_type custom/);
    expect(() => parseKalshiMarket({ ...market, close_time: 17 }, 5)).toThrow(/close_time/);
    expect(() => parseKalshiMarket(null, 5)).toThrow();
  });
});

describe("fields the protocol does not document", () => {
  it("real and reference frames carry none (every field they hold is documented or a known legacy one)", () => {
    const seen: string[] = [];
    for (const name of ["kalshi_ws_2026-02.jsonl", "kalshi_ws_current.jsonl", "kalshi_ws_refdoc.jsonl"]) {
      for (const text of lines(name)) {
        const r = parseKalshiFrame(text, TS, NO_YES);
        if (r.ok && r.unknownFields) seen.push(...r.unknownFields.map((f) => `${r.type}.${f}`));
      }
    }
    expect([...new Set(seen)]).toEqual([]);
  });

  it("a new top-level field of a known message is named; documented ones are not", () => {
    const delta = (extra: Record<string, unknown>) =>
      JSON.stringify({ type: "orderbook_delta", sid: 1, seq: 2, msg: { market_ticker: "M-1", market_id: "u", price_dollars: "0.4500", delta_fp: "10.00", side: "yes", ts_ms: 1, ...extra } });
    const clean = parseKalshiFrame(delta({ subaccount: 0, client_order_id: "c" }), TS, NO_YES);
    expect(clean.ok && clean.unknownFields).toBeUndefined();
    const novel = parseKalshiFrame(delta({ queue_hint: 3, zz: null, aa: [1] }), TS, NO_YES);
    expect(novel.ok).toBe(true);
    if (!novel.ok) return;
    // A null field is a field too; names come sorted, and the events are the clean frame's.
    expect(novel.unknownFields).toEqual(["aa", "queue_hint", "zz"]);
    expect(novel.events).toEqual(clean.ok ? clean.events.map((e) => ({ ...e, clientOrderId: null })) : []);
  });

  it("a message type the parser ignores reports no fields (it is counted by type instead)", () => {
    const r = parseKalshiFrame(JSON.stringify({ type: "ticker_v3", sid: 9, msg: { a: 1 } }), TS, NO_YES);
    expect(r.ok && r.ignored).toBe("ticker_v3");
    expect(r.ok && r.unknownFields).toBeUndefined();
  });
});
