/** fast-check generators for every EngineEvent kind (shared by the tape tests). */
import fc from "fast-check";
import type { EngineEvent, EventKind, Source } from "../../lib/core/events.ts";
import { EVENT_KINDS } from "../../lib/core/events.ts";

// Receipt times between 2020 and 2030, in µs.
const ts = fc.integer({ min: 1_577_836_800_000_000, max: 1_893_456_000_000_000 });
const tsX = fc.option(ts, { nil: null });
const price = fc.integer({ min: 0, max: 10_000 });
const priceOrUnknown = fc.integer({ min: -1, max: 10_000 });
const count = fc.integer({ min: 0, max: 1e12 });
const signedCount = fc.integer({ min: -1e12, max: 1e12 });
const sid = fc.integer({ min: -1, max: 2_000_000 });
const seq = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const str = fc.string({ maxLength: 40 });
const market = fc.constantFrom("KXBTCD-26FEB1217-T72749.99", "KXBTCD-26FEB1217-T67749.99", "KXBTC15M-26FEB012145-45", "");
// Finite floats (no -0: a float column does not promise to keep the sign of zero).
const fl = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x));
const flOrNaN = fc.oneof(fl, fc.constant(Number.NaN));
const level = fc.tuple(price, count);

const base = { tsRecv: ts, tsExchange: tsX };

const byKind: { [K in EventKind]: fc.Arbitrary<Extract<EngineEvent, { kind: K }>> } = {
  spot_quote: fc.record({
    kind: fc.constant("spot_quote"),
    ...base,
    productId: fc.constantFrom("BTC-USD", "ETH-USD"),
    bid: fl,
    ask: fl,
    bidSize: fl,
    askSize: fl,
    last: flOrNaN,
    seq: fc.integer({ min: -1, max: 1e12 }),
  }),
  spot_trade: fc.record({
    kind: fc.constant("spot_trade"),
    ...base,
    productId: fc.constantFrom("BTC-USD", "ETH-USD"),
    price: fl,
    size: fl,
    takerSide: fc.constantFrom("buy", "sell", "unknown"),
    tradeId: str,
  }),
  index_value: fc.record({
    kind: fc.constant("index_value"),
    ...base,
    indexId: fc.constantFrom("BRTI", "ETHUSD_RTI"),
    value: fl,
    avg60s: flOrNaN,
    quarterAvg: flOrNaN,
    quarterTicks: fc.integer({ min: 0, max: 60 }),
    sid,
    seq,
  }),
  book_snapshot: fc.record({
    kind: fc.constant("book_snapshot"),
    ...base,
    market,
    sid,
    seq,
    yesBids: fc.array(level, { maxLength: 5 }),
    noBids: fc.array(level, { maxLength: 5 }),
  }),
  book_delta: fc.record({
    kind: fc.constant("book_delta"),
    ...base,
    market,
    sid,
    seq,
    side: fc.constantFrom("yes", "no"),
    price,
    delta: signedCount,
    clientOrderId: fc.option(str, { nil: null }),
  }),
  market_ticker: fc.record({
    kind: fc.constant("market_ticker"),
    ...base,
    market,
    lastPrice: priceOrUnknown,
    yesBid: price,
    yesAsk: price,
    yesBidSize: count,
    yesAskSize: count,
    volume: count,
    openInterest: count,
  }),
  public_trade: fc
    .tuple(
      fc.record({
        kind: fc.constant("public_trade"),
        ...base,
        market,
        tradeId: str,
        yesPrice: price,
        count,
        takerSide: fc.constantFrom("yes", "no"),
        sid,
        seq,
      }),
      fc.boolean(),
    )
    // the block-trade mark is present only when true
    .map(([t, block]) => (block ? { ...t, blockTrade: true as const } : t)),
  market_info: fc.record({
    kind: fc.constant("market_info"),
    ...base,
    market,
    eventTicker: str,
    seriesTicker: str,
    strikeType: fc.constantFrom("greater", "greater_or_equal", "less", "less_or_equal", "between"),
    floorStrike: flOrNaN,
    capStrike: flOrNaN,
    openTime: ts,
    closeTime: ts,
    settleTime: ts,
    priceRanges: fc.array(fc.record({ start: price, end: price, step: price }), { maxLength: 3 }),
    feeType: fc.constantFrom("quadratic", "quadratic_with_maker_fees", "flat"),
    feeMultiplier: flOrNaN,
    status: str,
  }),
  market_lifecycle: fc.record({
    kind: fc.constant("market_lifecycle"),
    ...base,
    market,
    phase: fc.constantFrom(
      "created",
      "activated",
      "deactivated",
      "close_date_updated",
      "closed",
      "determined",
      "settled",
    ),
    result: fc.constantFrom("yes", "no", "scalar", "void", null),
    settlementValue: priceOrUnknown,
    expirationValue: flOrNaN,
    closeTime: fc.oneof(ts, fc.constant(-1)),
    sid,
    seq,
  }),
  order_update: fc.record({
    kind: fc.constant("order_update"),
    ...base,
    orderId: str,
    clientOrderId: str,
    market,
    status: fc.constantFrom("pending", "resting", "canceled", "executed", "rejected", "unknown"),
    bookSide: fc.constantFrom("bid", "ask"),
    yesPrice: price,
    filled: count,
    remaining: count,
    reason: str,
  }),
  fill: fc.record({
    kind: fc.constant("fill"),
    ...base,
    tradeId: str,
    orderId: str,
    clientOrderId: fc.option(str, { nil: null }),
    market,
    bookSide: fc.constantFrom("bid", "ask"),
    outcomeSide: fc.constantFrom("yes", "no"),
    yesPrice: price,
    count,
    fee: fc.integer({ min: 0, max: 1e12 }),
    isTaker: fc.boolean(),
  }),
  position_snapshot: fc.record({
    kind: fc.constant("position_snapshot"),
    ...base,
    positions: fc.array(fc.record({ market, position: signedCount }), { maxLength: 3 }),
    restingOrders: fc.array(fc.oneof(fc.record({ orderId: str, clientOrderId: str, market, remaining: count }), fc.record({ orderId: str, clientOrderId: str, market, remaining: count, filled: count })), {
      maxLength: 3,
    }),
    balance: fc.integer({ min: -1, max: 1e14 }),
  }),
  timer: fc.record({ kind: fc.constant("timer"), ...base }),
  feed_health: fc.record({
    kind: fc.constant("feed_health"),
    ...base,
    feed: fc.constantFrom("coinbase", "kalshi"),
    status: fc.constantFrom("connected", "disconnected", "gap", "resynced", "stale"),
    sid,
    markets: fc.array(market, { maxLength: 3 }),
    detail: str,
  }),
  kill_switch: fc.record({ kind: fc.constant("kill_switch"), ...base, engaged: fc.boolean(), reason: str }),
  subscription_updated: fc.record({
    kind: fc.constant("subscription_updated"),
    ...base,
    sid,
    seq: fc.integer({ min: 1, max: 2 ** 40 }),
    markets: fc.array(market, { maxLength: 3 }),
  }),
};

export function eventOf(kind: EventKind): fc.Arbitrary<EngineEvent> {
  return byKind[kind] as fc.Arbitrary<EngineEvent>;
}

export const anyEvent: fc.Arbitrary<EngineEvent> = fc.oneof(...EVENT_KINDS.map(eventOf));

export const anySource: fc.Arbitrary<Source> = fc.constantFrom("coinbase", "kalshi", "sim", "control");

/** One instance of every kind (deterministic seed), for quick table-style checks. */
export function oneOfEachKind(seed = 7): EngineEvent[] {
  return EVENT_KINDS.map((k) => fc.sample(eventOf(k), { numRuns: 1, seed })[0]!);
}
