/**
 * encodeEvent refuses what the reader could not decode — a side outside the kind's values, a
 * missing/non-string market or ref — with TapeCodecError, which the writer counts as rejected.
 */
import { describe, expect, it } from "vitest";
import type { EngineEvent } from "../../lib/core/events.ts";
import { encodeEvent, TapeCodecError } from "../../lib/tape/codec.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";
import { readAll, tempDirs } from "./helpers.ts";

const freshDir = tempDirs("tape-cval-");
const T = Date.UTC(2026, 1, 12, 10) * 1000;
const base = { tsRecv: T, tsExchange: null };
const GOOD: Record<string, EngineEvent> = {
  book_delta: { ...base, kind: "book_delta", market: "M", sid: 1, seq: 1, side: "yes", price: 5000, delta: 100, clientOrderId: null },
  spot_trade: { ...base, kind: "spot_trade", productId: "BTC-USD", price: 1, size: 2, takerSide: "buy", tradeId: "t" },
  public_trade: { ...base, kind: "public_trade", market: "M", tradeId: "t", yesPrice: 5000, count: 100, takerSide: "no", sid: 1, seq: 1 },
  order_update: { ...base, kind: "order_update", orderId: "o", clientOrderId: "c", market: "M", status: "resting", bookSide: "bid", yesPrice: 5000, filled: 0, remaining: 100, reason: "" },
  fill: { ...base, kind: "fill", tradeId: "t", orderId: "o", clientOrderId: null, market: "M", bookSide: "ask", outcomeSide: "yes", yesPrice: 5000, count: 100, fee: 7, isTaker: true },
  spot_quote: { ...base, kind: "spot_quote", productId: "BTC-USD", bid: 1, ask: 2, bidSize: 3, askSize: 4, last: 5, seq: 1 },
  market_ticker: { ...base, kind: "market_ticker", market: "M", lastPrice: 1, yesBid: 1, yesAsk: 2, yesBidSize: 1, yesAskSize: 1, volume: 1, openInterest: 1 },
} as Record<string, EngineEvent>;

const BAD: [string, Record<string, unknown>][] = [
  ["book_delta", { side: "YES" }],
  ["book_delta", { side: "bid" }],
  ["book_delta", { side: undefined }],
  ["book_delta", { market: undefined }],
  ["book_delta", { market: 7 }],
  ["book_delta", { clientOrderId: 7 }],
  ["spot_trade", { takerSide: "yes" }],
  ["spot_trade", { productId: null }],
  ["spot_trade", { tradeId: undefined }],
  ["public_trade", { takerSide: "buy" }],
  ["public_trade", { tradeId: 12 }],
  ["order_update", { bookSide: "yes" }],
  ["order_update", { orderId: undefined }],
  ["fill", { bookSide: "no" }],
  ["fill", { market: undefined }],
  ["spot_quote", { productId: undefined }],
  ["market_ticker", { market: {} }],
];

describe("encodeEvent validation", () => {
  it("accepts the good events", () => {
    for (const e of Object.values(GOOD)) expect(() => encodeEvent(e, 0)).not.toThrow();
  });
  for (const [kind, patch] of BAD) {
    it(`refuses ${kind} with ${JSON.stringify(patch)}`, () => {
      expect(() => encodeEvent({ ...GOOD[kind]!, ...patch } as EngineEvent, 0)).toThrow(TapeCodecError);
    });
  }

  it("the writer counts them as rejected and the day stays readable", async () => {
    const dir = freshDir();
    const w = await openTapeWriter({ dir });
    const good = Object.values(GOOD).map((e, i) => ({ ...e, tsRecv: T + i }) as EngineEvent);
    for (const e of good) w.event(e, "kalshi");
    for (const [kind, patch] of BAD) w.event({ ...GOOD[kind]!, ...patch, tsRecv: T + 100 } as EngineEvent, "kalshi");
    await w.close();
    expect(w.stats()).toMatchObject({ rejected: BAD.length, events: good.length });
    expect((await readAll(dir)).map((x) => x.event)).toEqual(good);
  });
});
