import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { EVENT_KINDS, type EngineEvent } from "../../lib/core/events.ts";
import { decodeEventRows, encodeEvent, TapeCodecError, type EventRow } from "../../lib/tape/codec.ts";
import { anySource, eventOf } from "./arbitraries.ts";

const HOT_KINDS = new Set(["spot_quote", "spot_trade", "index_value", "book_delta", "public_trade", "market_ticker", "timer"]);

/** What the journal does to a row: JSON text and back. */
function viaJson(row: EventRow): EventRow {
  return JSON.parse(JSON.stringify(row)) as EventRow;
}

describe("event codec", () => {
  for (const kind of EVENT_KINDS) {
    it(`round-trips every ${kind} exactly (property)`, () => {
      fc.assert(
        fc.property(fc.array(fc.tuple(eventOf(kind), anySource), { minLength: 1, maxLength: 20 }), (pairs) => {
          const rows = pairs.map(([e], i) => viaJson(encodeEvent(e, i)));
          const back = decodeEventRows(
            rows,
            pairs.map(([, s]) => s),
          );
          expect(back).toEqual(pairs.map(([event, source]) => ({ source, event })));
        }),
        { numRuns: 60 },
      );
    });
  }

  it("keeps hot kinds out of the extra JSON column, and rare kinds in it", () => {
    for (const kind of EVENT_KINDS) {
      const [e] = fc.sample(eventOf(kind), { numRuns: 1, seed: 3 });
      const row = encodeEvent(e!, 0);
      if (HOT_KINDS.has(kind)) expect(row.extra, kind).toBeUndefined();
      else expect(typeof row.extra, kind).toBe("string");
    }
  });

  it("maps a book delta to the documented columns", () => {
    // The Kalshi docs' delta example: YES side, $0.42, −35.50 contracts, caused by our order "my-order-17".
    const e: EngineEvent = {
      kind: "book_delta",
      tsRecv: 1_790_715_601_240_000,
      tsExchange: 1_790_715_601_234_000,
      market: "KXBTCD-26SEP2917-T109999.99",
      sid: 2,
      seq: 3,
      side: "yes",
      price: 4200,
      delta: -3550,
      clientOrderId: "my-order-17",
    };
    expect(encodeEvent(e, 17)).toEqual({
      ts_recv: 1_790_715_601_240_000,
      ts_exchange: 1_790_715_601_234_000,
      ord: 17,
      kind: "book_delta",
      market: "KXBTCD-26SEP2917-T109999.99",
      sid: 2,
      seq: 3,
      side: "yes",
      price: 4200,
      qty: -3550,
      ref: "my-order-17",
    });
  });

  it("stores NaN floats as NULL and reads them back as NaN", () => {
    const q: EngineEvent = {
      kind: "spot_quote",
      tsRecv: 1,
      tsExchange: null,
      productId: "BTC-USD",
      bid: 1,
      ask: 2,
      bidSize: 3,
      askSize: 4,
      last: Number.NaN,
      seq: -1,
    };
    const row = encodeEvent(q, 0);
    expect(row.px5).toBeNull();
    expect(row.ts_exchange).toBeUndefined();
    const [back] = decodeEventRows([viaJson(row)], ["coinbase"]);
    expect(Number.isNaN((back!.event as typeof q).last)).toBe(true);
    expect(back!.event.tsExchange).toBeNull();
  });

  it("refuses values the format cannot hold exactly", () => {
    const base = {
      kind: "book_delta" as const,
      tsRecv: 1,
      tsExchange: null,
      market: "M",
      sid: 1,
      seq: 1,
      side: "no" as const,
      price: 100,
      delta: 100,
      clientOrderId: null,
    };
    expect(() => encodeEvent({ ...base, price: 1.5 }, 0)).toThrow(TapeCodecError);
    expect(() => encodeEvent({ ...base, delta: 2 ** 60 }, 0)).toThrow(TapeCodecError);
    expect(() => encodeEvent({ ...base, sid: 2 ** 31 }, 0)).toThrow(TapeCodecError);
    expect(() =>
      encodeEvent(
        { kind: "index_value", tsRecv: 1, tsExchange: null, indexId: "BRTI", value: Infinity, avg60s: 1, quarterAvg: Number.NaN, quarterTicks: 0, sid: 1, seq: 1 },
        0,
      ),
    ).toThrow(TapeCodecError);
  });

  it("rejects a malformed extra column with a clear error", () => {
    const row: EventRow = { ts_recv: 1, ord: 0, kind: "kill_switch", extra: '{"engaged":"yes"}' };
    expect(() => decodeEventRows([row], ["control"])).toThrow(/kill_switch: bad extra/);
    expect(() => decodeEventRows([{ ...row, extra: null }], ["control"])).toThrow(/extra column is NULL/);
  });
});
