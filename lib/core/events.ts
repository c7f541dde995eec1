/**
 * The normalized event model. Every input the engine sees — market data, own order/fill reports,
 * reconciliation snapshots, timers, feed health and control — is one of these immutable records.
 *
 * Each carries `tsRecv` (when we received it; the ordering key of replay) and `tsExchange` (the
 * venue's own timestamp when it sent one, else null). Both are integer microseconds since the epoch.
 * Prices are PriceE4, counts CountE2, money Micros (see units.ts). Spot/index prices are USD floats.
 */
import type { CountE2, Micros, PriceE4, TsUs } from "./units.ts";

export type Source = "coinbase" | "kalshi" | "sim" | "control";

interface EventBase {
  readonly tsRecv: TsUs;
  readonly tsExchange: TsUs | null;
}

// ---- Spot and index ----------------------------------------------------------------------------

/** Best bid/ask of the spot venue (Coinbase `ticker`). */
export interface SpotQuote extends EventBase {
  readonly kind: "spot_quote";
  readonly productId: string;
  readonly bid: number;
  readonly ask: number;
  readonly bidSize: number;
  readonly askSize: number;
  /** Last trade price carried by the ticker, NaN when absent. */
  readonly last: number;
  /** Coinbase connection-scoped sequence_num, -1 when unknown. */
  readonly seq: number;
}

export interface SpotTrade extends EventBase {
  readonly kind: "spot_trade";
  readonly productId: string;
  readonly price: number;
  readonly size: number;
  readonly takerSide: "buy" | "sell" | "unknown";
  readonly tradeId: string;
}

/** A CF Benchmarks index print (BRTI, ~1/s), in-band from Kalshi's `cfbenchmarks_value` channel. */
export interface IndexValue extends EventBase {
  readonly kind: "index_value";
  readonly indexId: string;
  readonly value: number;
  /** Trailing 60-s average the venue computed, NaN when absent. */
  readonly avg60s: number;
  /**
   * Kalshi's running settlement average of the quarter hour (`last_60s_windowed_average_15min`):
   * BRTI over (close − 60 s, close] for the next :00/:15/:30/:45 close, sent only in the final
   * minute before it. NaN when absent.
   */
  readonly quarterAvg: number;
  /** Ticks in `quarterAvg` (its `window_size`: 60 once the close tick is in), 0 when absent. */
  readonly quarterTicks: number;
  readonly sid: number;
  readonly seq: number;
}

// ---- Kalshi order book -------------------------------------------------------------------------

/** [price, size]: price in the side's own leg (a NO bid at 0.30 is 3000), size CountE2. */
export type BookLevel = readonly [PriceE4, CountE2];

/**
 * A full book for one market. Both sides are BIDS in their own leg's price, whatever `use_yes_price`
 * mode the feed used (the parser converts). Levels are sorted ascending by price.
 */
export interface BookSnapshot extends EventBase {
  readonly kind: "book_snapshot";
  readonly market: string;
  readonly sid: number;
  readonly seq: number;
  readonly yesBids: readonly BookLevel[];
  readonly noBids: readonly BookLevel[];
}

/** Signed change of resting size at one level (own-leg price). */
export interface BookDelta extends EventBase {
  readonly kind: "book_delta";
  readonly market: string;
  readonly sid: number;
  readonly seq: number;
  readonly side: "yes" | "no";
  readonly price: PriceE4;
  readonly delta: CountE2;
  /** Present only when our own order caused the change. */
  readonly clientOrderId: string | null;
}

export interface MarketTicker extends EventBase {
  readonly kind: "market_ticker";
  readonly market: string;
  /** Last trade price, -1 when unknown. */
  readonly lastPrice: PriceE4;
  readonly yesBid: PriceE4;
  readonly yesAsk: PriceE4;
  /** Sizes at the best prices, volume and open interest; -1 when the frame carried none. */
  readonly yesBidSize: CountE2;
  readonly yesAskSize: CountE2;
  readonly volume: CountE2;
  readonly openInterest: CountE2;
}

export interface PublicTrade extends EventBase {
  readonly kind: "public_trade";
  readonly market: string;
  readonly tradeId: string;
  readonly yesPrice: PriceE4;
  readonly count: CountE2;
  /** The outcome the taker bought: "yes" lifted YES asks (NO bids), "no" hit YES bids. */
  readonly takerSide: "yes" | "no";
  readonly sid: number;
  readonly seq: number;
  /**
   * Present (true) only for a block trade: matched off book, so it took no displayed liquidity and
   * no queue; the simulated venue fills nothing from it.
   */
  readonly blockTrade?: true;
}

// ---- Market reference data and lifecycle -------------------------------------------------------

export type StrikeType = "greater" | "greater_or_equal" | "less" | "less_or_equal" | "between";

export interface PriceRange {
  readonly start: PriceE4;
  readonly end: PriceE4;
  readonly step: PriceE4;
}

/** Series `fee_type` (and `event_fee_update` override) values, reference §6 and the AsyncAPI enum. */
export type FeeType = "quadratic" | "quadratic_with_maker_fees" | "quadratic_with_combo_maker_fees" | "flat";

export interface MarketInfo extends EventBase {
  readonly kind: "market_info";
  readonly market: string;
  readonly eventTicker: string;
  readonly seriesTicker: string;
  readonly strikeType: StrikeType;
  /** USD; NaN when the strike type does not use it. */
  readonly floorStrike: number;
  readonly capStrike: number;
  readonly openTime: TsUs;
  readonly closeTime: TsUs;
  /** The instant the settlement average ends (close time for BTC series). */
  readonly settleTime: TsUs;
  readonly priceRanges: readonly PriceRange[];
  readonly feeType: FeeType;
  readonly feeMultiplier: number;
  /**
   * Venue time (µs) until which the market's trading fees are waived (REST
   * `fee_waiver_expiration_time`); −1 when the venue says there is none. Absent when the source does
   * not carry the field (WS frames, older tapes): a merge then keeps the prior record's value.
   */
  readonly feeWaiverUntil?: TsUs;
  readonly status: string;
}

export type MarketResult = "yes" | "no" | "scalar" | "void";

export interface MarketLifecycle extends EventBase {
  readonly kind: "market_lifecycle";
  readonly market: string;
  readonly phase:
    | "created"
    | "activated"
    | "deactivated"
    | "close_date_updated"
    | "closed"
    | "determined"
    | "settled";
  /** For determined/settled. */
  readonly result: MarketResult | null;
  /** YES payout per contract (PriceE4), -1 when unknown. */
  readonly settlementValue: PriceE4;
  /** The index value the venue settled on (USD), NaN when unknown. */
  readonly expirationValue: number;
  /**
   * Who decided the result: the venue (default when absent), or the replayer's fallback from the
   * recorded BRTI 60-s average or the spot proxy when the tape holds no result.
   */
  readonly resultSource?: "venue" | "venue_avg60" | "brti_avg60" | "spot_proxy";
  /** New close time for close_date_updated, else -1. */
  readonly closeTime: TsUs;
  readonly sid: number;
  readonly seq: number;
}

// ---- Own orders, fills, positions ---------------------------------------------------------------

/** YES-book side of an order, as V2 uses it: bid = buy YES / sell NO; ask = sell YES / buy NO. */
export type BookSide = "bid" | "ask";
export type OrderStatus = "pending" | "resting" | "canceled" | "executed" | "rejected" | "unknown";

export interface OrderUpdate extends EventBase {
  readonly kind: "order_update";
  readonly orderId: string;
  readonly clientOrderId: string;
  readonly market: string;
  readonly status: OrderStatus;
  readonly bookSide: BookSide;
  readonly yesPrice: PriceE4;
  readonly filled: CountE2;
  readonly remaining: CountE2;
  /** Why it changed (venue text, e.g. "Trade", "CloseCancel", or our reject reason). */
  readonly reason: string;
}

export interface OwnFill extends EventBase {
  readonly kind: "fill";
  readonly tradeId: string;
  readonly orderId: string;
  readonly clientOrderId: string | null;
  readonly market: string;
  readonly bookSide: BookSide;
  /** The outcome bought (bid → yes, ask → no) — for a sell this is the side reduced. */
  readonly outcomeSide: "yes" | "no";
  readonly yesPrice: PriceE4;
  readonly count: CountE2;
  readonly fee: Micros;
  readonly isTaker: boolean;
}

export interface PositionEntry {
  readonly market: string;
  /** Signed: + YES contracts, − NO contracts. */
  readonly position: CountE2;
}

export interface RestingOrderEntry {
  readonly orderId: string;
  readonly clientOrderId: string;
  readonly market: string;
  readonly remaining: CountE2;
  /**
   * The venue's filled count when the snapshot carries it (REST orders do): with it, a fill still on
   * its way at snapshot time keeps its place in the order's size.
   */
  readonly filled?: CountE2;
}

/** What the venue says we hold (REST reconciliation). */
export interface PositionSnapshot extends EventBase {
  readonly kind: "position_snapshot";
  readonly positions: readonly PositionEntry[];
  readonly restingOrders: readonly RestingOrderEntry[];
  /** Cash balance, -1 when not known. */
  readonly balance: Micros;
}

// ---- Clock, health, control -------------------------------------------------------------------

/** A heartbeat of event time, so decisions and staleness checks happen even when feeds are quiet. */
export interface Timer extends EventBase {
  readonly kind: "timer";
}

export type Feed = "coinbase" | "kalshi";

export interface FeedHealth extends EventBase {
  readonly kind: "feed_health";
  readonly feed: Feed;
  readonly status: "connected" | "disconnected" | "gap" | "resynced" | "stale";
  /** Subscription id for Kalshi gaps/resyncs, -1 otherwise. */
  readonly sid: number;
  /**
   * Markets affected (empty = the whole feed). A Kalshi `gap` with a sid but no market is on a channel
   * that carries no book (lifecycle, trades, index): frames were lost, no book was.
   */
  readonly markets: readonly string[];
  readonly detail: string;
}

/**
 * A sequenced control reply on a Kalshi subscription (`ok` to update_subscription, `unsubscribed`).
 * It carries no market data but consumes a seq number, so it must reach the book registry or the
 * next delta would look like a gap.
 */
export interface SubscriptionUpdated extends EventBase {
  readonly kind: "subscription_updated";
  readonly sid: number;
  readonly seq: number;
  /** The subscription's full market list after the update (empty when not reported). */
  readonly markets: readonly string[];
}

export interface KillSwitch extends EventBase {
  readonly kind: "kill_switch";
  readonly engaged: boolean;
  readonly reason: string;
}

export type MarketEvent =
  | SpotQuote
  | SpotTrade
  | IndexValue
  | BookSnapshot
  | BookDelta
  | MarketTicker
  | PublicTrade
  | MarketInfo
  | MarketLifecycle;

export type AccountEvent = OrderUpdate | OwnFill | PositionSnapshot;
export type ControlEvent = Timer | FeedHealth | KillSwitch | SubscriptionUpdated;

export type EngineEvent = MarketEvent | AccountEvent | ControlEvent;
export type EventKind = EngineEvent["kind"];

export const EVENT_KINDS: readonly EventKind[] = [
  "spot_quote",
  "spot_trade",
  "index_value",
  "book_snapshot",
  "book_delta",
  "market_ticker",
  "public_trade",
  "market_info",
  "market_lifecycle",
  "order_update",
  "fill",
  "position_snapshot",
  "timer",
  "feed_health",
  "kill_switch",
  // Appended last: tape kind codes are positions in this list.
  "subscription_updated",
];

/** The market an event concerns, or null for feed-wide events. */
export function eventMarket(e: EngineEvent): string | null {
  return "market" in e ? e.market : null;
}
