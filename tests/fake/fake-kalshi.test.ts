/**
 * The fake Kalshi speaks the documented protocol: every message type it emits carries the fields the
 * official AsyncAPI spec marks required (lists copied from reference/kalshi-asyncapi.yaml), and its
 * matching model gives the hand-derived results documented in kalshi-state.ts.
 */
import WebSocket from "ws";
import { afterEach, describe, expect, it } from "vitest";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { startFakeKalshi, FakeKalshiState, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { waitFor } from "../venues/helpers.ts";

let fake: FakeKalshi | null = null;
afterEach(async () => {
  await fake?.close();
  fake = null;
});

/** `required` lists of the AsyncAPI payload schemas (msg level unless noted). */
const REQUIRED_MSG: Record<string, string[]> = {
  orderbook_snapshot: ["market_ticker", "market_id"],
  orderbook_delta: ["market_ticker", "market_id", "price_dollars", "delta_fp", "side"],
  ticker: ["market_ticker", "market_id", "price_dollars", "yes_bid_dollars", "yes_ask_dollars", "yes_bid_size_fp", "yes_ask_size_fp", "last_trade_size_fp", "volume_fp", "open_interest_fp", "dollar_volume", "dollar_open_interest", "ts", "ts_ms", "time"],
  trade: ["trade_id", "market_ticker", "yes_price_dollars", "no_price_dollars", "count_fp", "taker_side", "taker_outcome_side", "taker_book_side", "is_block_trade", "ts", "ts_ms"],
  fill: ["trade_id", "order_id", "market_ticker", "exchange_index", "is_taker", "side", "yes_price_dollars", "count_fp", "fee_cost", "action", "outcome_side", "book_side", "ts", "ts_ms", "post_position_fp", "purchased_side"],
  user_order: ["order_id", "user_id", "ticker", "status", "side", "is_yes", "outcome_side", "book_side", "yes_price_dollars", "fill_count_fp", "remaining_count_fp", "initial_count_fp", "taker_fill_cost_dollars", "maker_fill_cost_dollars", "taker_fees_dollars", "maker_fees_dollars", "client_order_id", "created_time", "created_ts_ms"],
  market_position: ["user_id", "market_ticker", "position_fp", "position_cost_dollars", "realized_pnl_dollars", "fees_paid_dollars", "position_fee_cost_dollars", "volume_fp"],
  market_lifecycle_v2: ["event_type", "market_ticker"],
  cfbenchmarks_value: ["index_id", "received_at", "data", "avg_60s_data"],
};
/** Envelope-level required keys. */
const REQUIRED_ENV: Record<string, string[]> = {
  orderbook_snapshot: ["type", "sid", "seq", "msg"],
  orderbook_delta: ["type", "sid", "seq", "msg"],
  cfbenchmarks_value: ["type", "sid", "seq", "msg"],
  subscribed: ["type", "msg"],
  unsubscribed: ["sid", "seq", "type"],
  ok: ["type"],
  error: ["type", "msg"],
};

describe("fake Kalshi WS conformance", () => {
  it("emits every message type with the spec's required fields", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 50, tickerIntervalMs: 50 });
    const f = fake;
    const signer = KalshiSigner.fromFile(f.keyId, f.privateKeyPath);
    const ws = new WebSocket(f.wsUrl, { headers: signer.wsAuth(f.wsUrl).headers });
    const frames: Record<string, unknown>[] = [];
    ws.on("message", (d) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
    await new Promise((r) => ws.once("open", r));
    const t = f.state.tickers()[0]!;
    ws.send(JSON.stringify({ id: 1, cmd: "subscribe", params: { channels: ["orderbook_delta", "ticker", "trade"], market_tickers: [t], use_yes_price: false } }));
    ws.send(JSON.stringify({ id: 2, cmd: "subscribe", params: { channels: ["market_lifecycle_v2", "fill", "user_orders", "market_positions"] } }));
    ws.send(JSON.stringify({ id: 3, cmd: "subscribe", params: { channels: ["cfbenchmarks_value"], index_ids: ["BRTI"] } }));
    ws.send(JSON.stringify({ id: 4, cmd: "subscribe", params: { channels: ["nope"] } }));
    await waitFor(() => frames.filter((x) => x.type === "subscribed").length === 8, 3000, "8 subscriptions");
    f.state.randomDelta(t);
    f.state.takerTrade(t, "bid", 100);
    // One order of ours that trades: user_order + fill + market_position.
    const best = f.state.bestBid(t, "no")!;
    f.state.createOrder({ ticker: t, side: "bid", count: 100, price: 10_000 - best.price, tif: "immediate_or_cancel", postOnly: false, reduceOnly: false, clientOrderId: "conf-1" });
    f.state.settle(f.state.tickers()[1]!, "yes");
    ws.send(JSON.stringify({ id: 5, cmd: "unsubscribe", params: { sids: [3] } }));
    ws.send(JSON.stringify({ id: 6, cmd: "update_subscription", params: { sid: 1, action: "add_markets", market_tickers: [f.state.tickers()[2]] } }));
    const want = [...Object.keys(REQUIRED_MSG), "unsubscribed", "ok", "error"];
    await waitFor(() => want.every((k) => frames.some((x) => x.type === k)), 4000, "all message types");
    ws.close();
    for (const type of want) {
      for (const fr of frames.filter((x) => x.type === type)) {
        for (const k of REQUIRED_ENV[type] ?? ["type", "sid", "msg"]) expect(fr, `${type}.${k}`).toHaveProperty(k);
        for (const k of REQUIRED_MSG[type] ?? []) expect(fr.msg, `${type}.msg.${k}`).toHaveProperty(k);
      }
    }
    // Unknown channel → error code 8 with the command id.
    expect(frames.find((x) => x.type === "error")).toEqual({ type: "error", id: 4, msg: { code: 8, msg: "Unknown channel name" } });
    // One seq stream per sid: consecutive from 1 on the orderbook sid (snapshots, deltas and the ok of add_markets).
    const seqs = frames.filter((x) => x.sid === 1 && typeof x.seq === "number").map((x) => x.seq as number);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    // The cfbenchmarks `data` field is itself JSON text.
    const cfb = frames.find((x) => x.type === "cfbenchmarks_value")!.msg as { data: string };
    expect(JSON.parse(cfb.data)).toMatchObject({ id: "BRTI", type: "value" });
  });

  it("snapshots omit an empty side and honour use_yes_price on the NO side", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0 });
    const f = fake;
    const t = f.state.tickers()[0]!;
    for (const [p, s] of f.state.book(t).yes) f.state.changeLevel(t, "yes", p, -s);
    for (const [p, s] of f.state.book(t).no) f.state.changeLevel(t, "no", p, -s);
    f.state.changeLevel(t, "no", 3000, 500); // NO bid 0.30 ≡ YES ask 0.70
    const signer = KalshiSigner.fromFile(f.keyId, f.privateKeyPath);
    const got: Record<string, unknown>[] = [];
    for (const useYes of [false, true]) {
      const ws = new WebSocket(f.wsUrl, { headers: signer.wsAuth(f.wsUrl).headers });
      ws.on("message", (d) => got.push(JSON.parse(d.toString()) as Record<string, unknown>));
      await new Promise((r) => ws.once("open", r));
      ws.send(JSON.stringify({ id: 1, cmd: "subscribe", params: { channels: ["orderbook_delta"], market_tickers: [t], use_yes_price: useYes } }));
      await waitFor(() => got.filter((x) => x.type === "orderbook_snapshot").length === (useYes ? 2 : 1), 3000, "snapshot");
      ws.close();
    }
    const [plain, yes] = got.filter((x) => x.type === "orderbook_snapshot").map((x) => x.msg as Record<string, unknown>);
    expect(plain).not.toHaveProperty("yes_dollars_fp");
    expect(plain!.no_dollars_fp).toEqual([["0.3000", "5.00"]]);
    expect(yes!.no_dollars_fp).toEqual([["0.7000", "5.00"]]);
  });
});

describe("fake matching model (hand-derived)", () => {
  function bareState(): FakeKalshiState {
    const s = new FakeKalshiState({ seed: 1, nowMs: Date.UTC(2026, 8, 29, 20, 0, 0) });
    const t = s.tickers()[0]!;
    for (const [p, z] of s.book(t).yes) s.changeLevel(t, "yes", p, -z);
    for (const [p, z] of s.book(t).no) s.changeLevel(t, "no", p, -z);
    return s;
  }

  it("a bid sweeps NO levels best first at the makers' prices, then rests", () => {
    const s = bareState();
    const t = s.tickers()[0]!;
    s.changeLevel(t, "no", 6000, 200); // YES ask 0.40 × 2
    s.changeLevel(t, "no", 5800, 300); // YES ask 0.42 × 3
    const cash0 = s.cash;
    const r = s.createOrder({ ticker: t, side: "bid", count: 600, price: 4200, tif: "good_till_canceled", postOnly: false, reduceOnly: false, clientOrderId: "a" });
    // Fills: 2 @ 0.40 and 3 @ 0.42; 1 rests as a YES bid at 0.42.
    expect(s.fills().map((f) => [f.yesPrice, f.count])).toEqual([[4000, 200], [4200, 300]]);
    // Fees: ceil_cent(0.07×2×0.4×0.6 = 0.0336) = 0.04; ceil_cent(0.07×3×0.42×0.58 = 0.051156) = 0.06.
    expect(s.fills().map((f) => f.fee)).toEqual([40_000, 60_000]);
    expect(r.order).toMatchObject({ status: "resting", filled: 500, remaining: 100 });
    expect(s.book(t)).toEqual({ yes: [[4200, 100]], no: [] });
    // Cash: −(0.80 + 1.26 + 0.10) = −2.16.
    expect(cash0 - s.cash).toBe(2_160_000);
    expect(s.position(t)).toBe(500);
  });

  it("an outside taker fills other participants first, then our resting order; YES/NO netting returns $1 per pair", () => {
    const s = bareState();
    const t = s.tickers()[0]!;
    s.changeLevel(t, "yes", 3000, 100); // someone's YES bid 0.30 × 1
    const o = s.createOrder({ ticker: t, side: "bid", count: 200, price: 3000, tif: "good_till_canceled", postOnly: false, reduceOnly: false, clientOrderId: "m" }).order;
    expect(s.book(t).yes).toEqual([[3000, 300]]);
    expect(s.takerTrade(t, "ask", 250)).toBe(250); // sells YES into 0.30: 1 other, then 1.5 of ours
    expect(o).toMatchObject({ filled: 150, remaining: 50, status: "resting" });
    expect(s.fills().at(-1)).toMatchObject({ isTaker: false, fee: 0, yesPrice: 3000, count: 150 });
    const cashBefore = s.cash;
    s.changeLevel(t, "yes", 2000, 1000);
    // Sell 1.5 YES at 0.20 (ask): buys NO at 0.80 (−1.20), nets 1.5 pairs (+1.50); taker fee ceil_cent(0.07×1.5×0.2×0.8=0.0168)=0.02.
    s.createOrder({ ticker: t, side: "ask", count: 150, price: 2000, tif: "immediate_or_cancel", postOnly: false, reduceOnly: true, clientOrderId: "x" });
    expect(s.position(t)).toBe(0);
    expect(s.cash - cashBefore).toBe(1_500_000 - 1_200_000 - 20_000);
  });

  it("post-only that would cross and FOK that cannot fill do nothing to the book", () => {
    const s = bareState();
    const t = s.tickers()[0]!;
    s.changeLevel(t, "no", 6000, 100);
    const p = s.createOrder({ ticker: t, side: "bid", count: 100, price: 4000, tif: "good_till_canceled", postOnly: true, reduceOnly: false, clientOrderId: "p" });
    expect(p.order).toMatchObject({ status: "canceled", lastUpdateReason: "PostOnlyCrossCancel" });
    const k = s.createOrder({ ticker: t, side: "bid", count: 200, price: 4000, tif: "fill_or_kill", postOnly: false, reduceOnly: false, clientOrderId: "k" });
    expect(k.order.status).toBe("canceled");
    expect(s.book(t)).toEqual({ yes: [], no: [[6000, 100]] });
    expect(s.fills()).toEqual([]);
  });
});
