/**
 * Event ⇄ row mapping of the events layer (see SCHEMA.md for the table).
 *
 * Hot kinds (spot_quote, spot_trade, index_value, book_delta, market_ticker, public_trade, timer) live
 * entirely in typed columns; rare, nested kinds keep their remainder in the `extra` JSON column.
 *
 * Encoding is row-wise (`encodeEvent`, used by the writer's journal). Decoding is columnar
 * (`decodeEventBatch`): the reader hands over typed arrays of one DuckDB chunk and gets event objects
 * back without per-value conversions. Numeric columns arrive as float64 with NaN for NULL; every
 * integer the model uses is a safe integer, so float64 holds it exactly.
 */
import { z } from "zod";
import type {
  BookLevel,
  EngineEvent,
  EventKind,
  FeeType,
  MarketResult,
  Source,
  StrikeType,
} from "../core/events.ts";
import type { TapeEvent } from "./types.ts";
import { EVENT_CELLS, EVENT_STRIDE, KIND_CODES, SIDE_CODES, SOURCES_BY_RANK, type SideValue } from "./schema.ts";

/** One row of the events layer, as written to the journal (absent = NULL). */
export interface EventRow {
  ts_recv: number;
  ts_exchange?: number | null;
  ord: number;
  kind: EventKind;
  market?: string | null;
  sid?: number | null;
  seq?: number | null;
  side?: SideValue | null;
  price?: number | null;
  price2?: number | null;
  price3?: number | null;
  qty?: number | null;
  qty2?: number | null;
  qty3?: number | null;
  qty4?: number | null;
  px?: number | null;
  px2?: number | null;
  px3?: number | null;
  px4?: number | null;
  px5?: number | null;
  ref?: string | null;
  extra?: string | null;
}

export class TapeCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TapeCodecError";
  }
}

// ---- encoding -------------------------------------------------------------------------------------

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

function int32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) throw new TapeCodecError(`${what} is not an int32: ${v}`);
  return v;
}

function int64(v: number, what: string): number {
  if (!Number.isSafeInteger(v)) throw new TapeCodecError(`${what} is not a safe integer: ${v}`);
  return v;
}

/** Float column: NaN is stored as NULL; infinities are refused (JSON and analysts both choke on them). */
function float(v: number, what: string): number | null {
  if (Number.isNaN(v)) return null;
  if (!Number.isFinite(v)) throw new TapeCodecError(`${what} is not finite: ${v}`);
  return v;
}

type MaybeWellFormed = string & { isWellFormed(): boolean };

/** False when `s` holds a lone UTF-16 surrogate: DuckDB refuses such a journal line, losing the segment. */
export function wellFormed(s: string): boolean {
  // String.prototype.isWellFormed: Node 20, not in the ES2023 lib typings.
  return (s as MaybeWellFormed).isWellFormed();
}

/** A string column: must be a string without lone surrogates (the reader reads anything else as ""). */
function str(v: unknown, what: string): string {
  if (typeof v !== "string" || !(v as MaybeWellFormed).isWellFormed()) throw new TapeCodecError(`${what} is not a well-formed string`);
  return v;
}

// The side values the reader decodes per kind: anything else would make the whole day unreadable.
function sideYesNo(v: unknown, what: string): "yes" | "no" {
  if (v !== "yes" && v !== "no") throw new TapeCodecError(`${what} ${JSON.stringify(v)} is not yes/no`);
  return v;
}
function sideBidAsk(v: unknown, what: string): "bid" | "ask" {
  if (v !== "bid" && v !== "ask") throw new TapeCodecError(`${what} ${JSON.stringify(v)} is not bid/ask`);
  return v;
}
function sideSpot(v: unknown, what: string): "buy" | "sell" | "unknown" {
  if (v !== "buy" && v !== "sell" && v !== "unknown") throw new TapeCodecError(`${what} ${JSON.stringify(v)} is not buy/sell/unknown`);
  return v;
}

/** Float inside extra JSON: NaN → null, as JSON.stringify would do, but refusing infinities. */
function jsonFloat(v: number, what: string): number | null {
  return float(v, what);
}

/** Map an event to its row. Throws TapeCodecError on values the format cannot hold exactly. */
export function encodeEvent(e: EngineEvent, ord: number): EventRow {
  const row: EventRow = { ts_recv: int64(e.tsRecv, "tsRecv"), ord: int64(ord, "ord"), kind: e.kind };
  if (e.tsExchange !== null) row.ts_exchange = int64(e.tsExchange, "tsExchange");
  // extra needs no surrogate check: JSON.stringify escapes a lone surrogate (\udXXX), which round-trips.
  switch (e.kind) {
    case "spot_quote":
      row.market = str(e.productId, "productId");
      row.px = float(e.bid, "bid");
      row.px2 = float(e.ask, "ask");
      row.px3 = float(e.bidSize, "bidSize");
      row.px4 = float(e.askSize, "askSize");
      row.px5 = float(e.last, "last");
      row.seq = int64(e.seq, "seq");
      break;
    case "spot_trade":
      row.market = str(e.productId, "productId");
      row.px = float(e.price, "price");
      row.px2 = float(e.size, "size");
      row.side = sideSpot(e.takerSide, "takerSide");
      row.ref = str(e.tradeId, "tradeId");
      break;
    case "index_value":
      row.market = str(e.indexId, "indexId");
      row.px = float(e.value, "value");
      row.px2 = float(e.avg60s, "avg60s");
      row.px3 = float(e.quarterAvg, "quarterAvg");
      row.px4 = float(e.quarterTicks > 0 ? e.quarterTicks : Number.NaN, "quarterTicks");
      row.sid = int32(e.sid, "sid");
      row.seq = int64(e.seq, "seq");
      break;
    case "book_delta":
      row.market = str(e.market, "market");
      row.sid = int32(e.sid, "sid");
      row.seq = int64(e.seq, "seq");
      row.side = sideYesNo(e.side, "side");
      row.price = int32(e.price, "price");
      row.qty = int64(e.delta, "delta");
      if (e.clientOrderId !== null) row.ref = str(e.clientOrderId, "clientOrderId");
      break;
    case "market_ticker":
      row.market = str(e.market, "market");
      row.price = int32(e.lastPrice, "lastPrice");
      row.price2 = int32(e.yesBid, "yesBid");
      row.price3 = int32(e.yesAsk, "yesAsk");
      row.qty = int64(e.yesBidSize, "yesBidSize");
      row.qty2 = int64(e.yesAskSize, "yesAskSize");
      row.qty3 = int64(e.volume, "volume");
      row.qty4 = int64(e.openInterest, "openInterest");
      break;
    case "public_trade":
      row.market = str(e.market, "market");
      row.ref = str(e.tradeId, "tradeId");
      row.price = int32(e.yesPrice, "yesPrice");
      row.qty = int64(e.count, "count");
      row.side = sideYesNo(e.takerSide, "takerSide");
      row.sid = int32(e.sid, "sid");
      row.seq = int64(e.seq, "seq");
      if (e.blockTrade === true) row.qty2 = 1;
      break;
    case "timer":
      break;
    case "book_snapshot":
      row.market = str(e.market, "market");
      row.sid = int32(e.sid, "sid");
      row.seq = int64(e.seq, "seq");
      row.extra = JSON.stringify({ yes: levels(e.yesBids, "yesBids"), no: levels(e.noBids, "noBids") });
      break;
    case "market_info":
      row.market = str(e.market, "market");
      row.extra = JSON.stringify({
        eventTicker: e.eventTicker,
        seriesTicker: e.seriesTicker,
        strikeType: e.strikeType,
        floorStrike: jsonFloat(e.floorStrike, "floorStrike"),
        capStrike: jsonFloat(e.capStrike, "capStrike"),
        openTime: int64(e.openTime, "openTime"),
        closeTime: int64(e.closeTime, "closeTime"),
        settleTime: int64(e.settleTime, "settleTime"),
        priceRanges: e.priceRanges.map((r) => [int32(r.start, "start"), int32(r.end, "end"), int32(r.step, "step")]),
        feeType: e.feeType,
        feeMultiplier: jsonFloat(e.feeMultiplier, "feeMultiplier"),
        status: e.status,
        // Only when known, so records without it (and older tapes) keep their bytes.
        ...(e.feeWaiverUntil !== undefined ? { feeWaiverUntil: int64(e.feeWaiverUntil, "feeWaiverUntil") } : {}),
      });
      break;
    case "market_lifecycle":
      row.market = str(e.market, "market");
      row.sid = int32(e.sid, "sid");
      row.seq = int64(e.seq, "seq");
      row.price = int32(e.settlementValue, "settlementValue");
      row.extra = JSON.stringify({
        phase: e.phase,
        result: e.result,
        expirationValue: jsonFloat(e.expirationValue, "expirationValue"),
        closeTime: int64(e.closeTime, "closeTime"),
      });
      break;
    case "order_update":
      row.market = str(e.market, "market");
      row.ref = str(e.orderId, "orderId");
      row.side = sideBidAsk(e.bookSide, "bookSide");
      row.price = int32(e.yesPrice, "yesPrice");
      row.qty = int64(e.filled, "filled");
      row.qty2 = int64(e.remaining, "remaining");
      row.extra = JSON.stringify({ clientOrderId: e.clientOrderId, status: e.status, reason: e.reason });
      break;
    case "fill":
      row.market = str(e.market, "market");
      row.ref = str(e.tradeId, "tradeId");
      row.side = sideBidAsk(e.bookSide, "bookSide");
      row.price = int32(e.yesPrice, "yesPrice");
      row.qty = int64(e.count, "count");
      row.qty2 = int64(e.fee, "fee");
      row.extra = JSON.stringify({
        orderId: e.orderId,
        clientOrderId: e.clientOrderId,
        outcomeSide: e.outcomeSide,
        isTaker: e.isTaker,
      });
      break;
    case "position_snapshot":
      row.qty = int64(e.balance, "balance");
      row.extra = JSON.stringify({
        positions: e.positions.map((p) => [p.market, int64(p.position, "position")]),
        restingOrders: e.restingOrders.map((o) =>
          o.filled === undefined
            ? [o.orderId, o.clientOrderId, o.market, int64(o.remaining, "remaining")]
            : [o.orderId, o.clientOrderId, o.market, int64(o.remaining, "remaining"), int64(o.filled, "filled")],
        ),
      });
      break;
    case "feed_health":
      row.sid = int32(e.sid, "sid");
      row.extra = JSON.stringify({ feed: e.feed, status: e.status, markets: e.markets, detail: e.detail });
      break;
    case "kill_switch":
      row.extra = JSON.stringify({ engaged: e.engaged, reason: e.reason });
      break;
    case "subscription_updated":
      row.sid = int32(e.sid, "sid");
      row.seq = int64(e.seq, "seq");
      row.extra = JSON.stringify({ markets: e.markets });
      break;
    default: {
      const never: never = e;
      throw new TapeCodecError(`unknown event kind ${JSON.stringify((never as { kind: unknown }).kind)}`);
    }
  }
  return row;
}

function levels(ls: readonly BookLevel[], what: string): [number, number][] {
  return ls.map(([p, q]) => [int32(p, `${what} price`), int64(q, `${what} size`)]);
}

// ---- decoding -------------------------------------------------------------------------------------

/**
 * One columnar batch of the events layer. `cells` is row-major: cell c of row i is at
 * `cells[i * EVENT_STRIDE + c]`, columns in EVENT_CELLS order, NaN where NULL. Code cells index the
 * tables in schema.ts (source → SOURCES_BY_RANK, kind → KIND_CODES, side → SIDE_CODES, market →
 * marketDict). The two per-row string columns are read lazily, only for kinds that use them.
 */
export interface EventBatch {
  readonly length: number;
  readonly cells: Float64Array;
  readonly marketDict: readonly string[];
  ref(i: number): string | null;
  extra(i: number): string | null;
}

const C = Object.fromEntries(EVENT_CELLS.map((c, i) => [c, i])) as Record<(typeof EVENT_CELLS)[number], number>;
const C_TS_RECV = C.ts_recv;
const C_TS_EXCHANGE = C.ts_exchange;
const C_KIND = C.kind;
const C_SOURCE = C.source;
const C_MARKET = C.market;
const C_SID = C.sid;
const C_SEQ = C.seq;
const C_SIDE = C.side;
const C_PRICE = C.price;
const C_PRICE2 = C.price2;
const C_PRICE3 = C.price3;
const C_QTY = C.qty;
const C_QTY2 = C.qty2;
const C_QTY3 = C.qty3;
const C_QTY4 = C.qty4;
const C_PX = C.px;
const C_PX2 = C.px2;
const C_PX3 = C.px3;
const C_PX4 = C.px4;
const C_PX5 = C.px5;
const C_HAS_REF = C.has_ref;

const K = Object.fromEntries(KIND_CODES.map((k, i) => [k, i])) as Record<EventKind, number>;
const K_SPOT_QUOTE = K.spot_quote;
const K_SPOT_TRADE = K.spot_trade;
const K_INDEX_VALUE = K.index_value;
const K_BOOK_SNAPSHOT = K.book_snapshot;
const K_BOOK_DELTA = K.book_delta;
const K_MARKET_TICKER = K.market_ticker;
const K_PUBLIC_TRADE = K.public_trade;
const K_MARKET_INFO = K.market_info;
const K_MARKET_LIFECYCLE = K.market_lifecycle;
const K_ORDER_UPDATE = K.order_update;
const K_FILL = K.fill;
const K_POSITION_SNAPSHOT = K.position_snapshot;
const K_TIMER = K.timer;
const K_FEED_HEALTH = K.feed_health;
const K_KILL_SWITCH = K.kill_switch;
const K_SUBSCRIPTION_UPDATED = K.subscription_updated;

const S_YES = SIDE_CODES.indexOf("yes");
const S_NO = SIDE_CODES.indexOf("no");
const S_BUY = SIDE_CODES.indexOf("buy");
const S_SELL = SIDE_CODES.indexOf("sell");
const S_UNKNOWN = SIDE_CODES.indexOf("unknown");
const S_BID = SIDE_CODES.indexOf("bid");
const S_ASK = SIDE_CODES.indexOf("ask");

// ---- extra JSON schemas (rare kinds; validated, since the file came from disk) ---------------------

const nanable = z.number().nullable().transform((v) => (v === null ? Number.NaN : v));
const int = z.number().int();
const level = z.tuple([int, int]).readonly();

const SnapshotExtra = z.object({ yes: z.array(level), no: z.array(level) });
const StrikeTypeZ = z.enum(["greater", "greater_or_equal", "less", "less_or_equal", "between"]);
const FeeTypeZ = z.enum(["quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees", "flat"]);
const MarketInfoExtra = z.object({
  eventTicker: z.string(),
  seriesTicker: z.string(),
  strikeType: StrikeTypeZ,
  floorStrike: nanable,
  capStrike: nanable,
  openTime: int,
  closeTime: int,
  settleTime: int,
  priceRanges: z.array(z.tuple([int, int, int])),
  feeType: FeeTypeZ,
  feeMultiplier: nanable,
  status: z.string(),
  feeWaiverUntil: int.optional(),
});
const LifecycleExtra = z.object({
  phase: z.enum(["created", "activated", "deactivated", "close_date_updated", "closed", "determined", "settled"]),
  result: z.enum(["yes", "no", "scalar", "void"]).nullable(),
  expirationValue: nanable,
  closeTime: int,
});
const OrderUpdateExtra = z.object({
  clientOrderId: z.string(),
  status: z.enum(["pending", "resting", "canceled", "executed", "rejected", "unknown"]),
  reason: z.string(),
});
const FillExtra = z.object({
  orderId: z.string(),
  clientOrderId: z.string().nullable(),
  outcomeSide: z.enum(["yes", "no"]),
  isTaker: z.boolean(),
});
const PositionExtra = z.object({
  positions: z.array(z.tuple([z.string(), int])),
  // [orderId, clientOrderId, market, remaining, filled?] (filled since the venue's count was kept).
  restingOrders: z.array(z.union([z.tuple([z.string(), z.string(), z.string(), int]), z.tuple([z.string(), z.string(), z.string(), int, int])])),
});
const FeedHealthExtra = z.object({
  feed: z.enum(["coinbase", "kalshi"]),
  status: z.enum(["connected", "disconnected", "gap", "resynced", "stale"]),
  markets: z.array(z.string()),
  detail: z.string(),
});
const KillSwitchExtra = z.object({ engaged: z.boolean(), reason: z.string() });
const SubscriptionExtra = z.object({ markets: z.array(z.string()) });

function parseExtra<T extends z.ZodType>(schema: T, text: string | null, kind: string): z.output<T> {
  if (text === null) throw new TapeCodecError(`${kind}: extra column is NULL`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TapeCodecError(`${kind}: extra column is not JSON`);
  }
  const r = schema.safeParse(json);
  if (!r.success) throw new TapeCodecError(`${kind}: bad extra column: ${r.error.message.slice(0, 300)}`);
  return r.data;
}

function need(v: number, kind: string, col: string): number {
  if (v !== v) throw new TapeCodecError(`${kind}: column ${col} is NULL`);
  return v;
}

function needStr(v: string | null, kind: string, col: string): string {
  if (v === null) throw new TapeCodecError(`${kind}: column ${col} is NULL`);
  return v;
}

function yesNo(code: number, kind: string): "yes" | "no" {
  if (code === S_YES) return "yes";
  if (code === S_NO) return "no";
  throw new TapeCodecError(`${kind}: side code ${code} is not yes/no`);
}

function bidAsk(code: number, kind: string): "bid" | "ask" {
  if (code === S_BID) return "bid";
  if (code === S_ASK) return "ask";
  throw new TapeCodecError(`${kind}: side code ${code} is not bid/ask`);
}

function takerSpot(code: number): "buy" | "sell" | "unknown" {
  if (code === S_BUY) return "buy";
  if (code === S_SELL) return "sell";
  if (code === S_UNKNOWN) return "unknown";
  throw new TapeCodecError(`spot_trade: side code ${code} is not buy/sell/unknown`);
}

function marketOf(b: EventBatch, r: number): string {
  const code = b.cells[r + C_MARKET]!;
  const m = b.marketDict[code];
  if (m === undefined) throw new TapeCodecError(`market code ${code} outside dictionary`);
  return m;
}

/**
 * Decode rows [0, b.length) of a batch into `out` (appended). Cells are read only for the kinds that
 * use them.
 */
export function decodeEventBatch(b: EventBatch, out: TapeEvent[]): void {
  const n = b.length;
  const v = b.cells;
  if (v.length < n * EVENT_STRIDE) throw new TapeCodecError("batch cells shorter than length × stride");
  for (let i = 0, r = 0; i < n; i++, r += EVENT_STRIDE) {
    const k = v[r + C_KIND]!;
    const te = v[r + C_TS_EXCHANGE]!;
    const tsR = v[r + C_TS_RECV]!;
    const tsX = te !== te ? null : te;
    let e: EngineEvent;
    switch (k) {
      case K_SPOT_QUOTE:
        e = {
          kind: "spot_quote",
          tsRecv: tsR,
          tsExchange: tsX,
          productId: marketOf(b, r),
          bid: v[r + C_PX]!,
          ask: v[r + C_PX2]!,
          bidSize: v[r + C_PX3]!,
          askSize: v[r + C_PX4]!,
          last: v[r + C_PX5]!,
          seq: need(v[r + C_SEQ]!, "spot_quote", "seq"),
        };
        break;
      case K_BOOK_DELTA:
        e = {
          kind: "book_delta",
          tsRecv: tsR,
          tsExchange: tsX,
          market: marketOf(b, r),
          sid: need(v[r + C_SID]!, "book_delta", "sid"),
          seq: need(v[r + C_SEQ]!, "book_delta", "seq"),
          side: yesNo(v[r + C_SIDE]!, "book_delta"),
          price: need(v[r + C_PRICE]!, "book_delta", "price"),
          delta: need(v[r + C_QTY]!, "book_delta", "qty"),
          clientOrderId: v[r + C_HAS_REF] === 1 ? b.ref(i) : null,
        };
        break;
      case K_INDEX_VALUE:
        e = {
          kind: "index_value",
          tsRecv: tsR,
          tsExchange: tsX,
          indexId: marketOf(b, r),
          value: v[r + C_PX]!,
          avg60s: v[r + C_PX2]!,
          quarterAvg: v[r + C_PX3]!,
          quarterTicks: v[r + C_PX4]! === v[r + C_PX4]! ? v[r + C_PX4]! : 0,
          sid: need(v[r + C_SID]!, "index_value", "sid"),
          seq: need(v[r + C_SEQ]!, "index_value", "seq"),
        };
        break;
      case K_SPOT_TRADE:
        e = {
          kind: "spot_trade",
          tsRecv: tsR,
          tsExchange: tsX,
          productId: marketOf(b, r),
          price: v[r + C_PX]!,
          size: v[r + C_PX2]!,
          takerSide: takerSpot(v[r + C_SIDE]!),
          tradeId: needStr(v[r + C_HAS_REF] === 1 ? b.ref(i) : null, "spot_trade", "ref"),
        };
        break;
      case K_PUBLIC_TRADE:
        e = {
          kind: "public_trade",
          tsRecv: tsR,
          tsExchange: tsX,
          market: marketOf(b, r),
          tradeId: needStr(v[r + C_HAS_REF] === 1 ? b.ref(i) : null, "public_trade", "ref"),
          yesPrice: need(v[r + C_PRICE]!, "public_trade", "price"),
          count: need(v[r + C_QTY]!, "public_trade", "qty"),
          takerSide: yesNo(v[r + C_SIDE]!, "public_trade"),
          sid: need(v[r + C_SID]!, "public_trade", "sid"),
          seq: need(v[r + C_SEQ]!, "public_trade", "seq"),
        };
        if (v[r + C_QTY2] === 1) (e as { blockTrade?: true }).blockTrade = true;
        break;
      case K_MARKET_TICKER:
        e = {
          kind: "market_ticker",
          tsRecv: tsR,
          tsExchange: tsX,
          market: marketOf(b, r),
          lastPrice: need(v[r + C_PRICE]!, "market_ticker", "price"),
          yesBid: need(v[r + C_PRICE2]!, "market_ticker", "price2"),
          yesAsk: need(v[r + C_PRICE3]!, "market_ticker", "price3"),
          yesBidSize: need(v[r + C_QTY]!, "market_ticker", "qty"),
          yesAskSize: need(v[r + C_QTY2]!, "market_ticker", "qty2"),
          volume: need(v[r + C_QTY3]!, "market_ticker", "qty3"),
          openInterest: need(v[r + C_QTY4]!, "market_ticker", "qty4"),
        };
        break;
      case K_TIMER:
        e = { kind: "timer", tsRecv: tsR, tsExchange: tsX };
        break;
      default:
        e = decodeRare(b, i, r, k, tsR, tsX);
    }
    const source = SOURCES_BY_RANK[v[r + C_SOURCE]!];
    if (source === undefined) throw new TapeCodecError(`source code ${v[r + C_SOURCE]} unknown`);
    out.push({ source, event: e });
  }
}

function decodeRare(
  b: EventBatch,
  i: number,
  r: number,
  k: number,
  tsRecv: number,
  tsExchange: number | null,
): EngineEvent {
  const v = b.cells;
  switch (k) {
    case K_BOOK_SNAPSHOT: {
      const x = parseExtra(SnapshotExtra, b.extra(i), "book_snapshot");
      return {
        kind: "book_snapshot",
        tsRecv,
        tsExchange,
        market: marketOf(b, r),
        sid: need(v[r + C_SID]!, "book_snapshot", "sid"),
        seq: need(v[r + C_SEQ]!, "book_snapshot", "seq"),
        yesBids: x.yes,
        noBids: x.no,
      };
    }
    case K_MARKET_INFO: {
      const x = parseExtra(MarketInfoExtra, b.extra(i), "market_info");
      return {
        kind: "market_info",
        tsRecv,
        tsExchange,
        market: marketOf(b, r),
        eventTicker: x.eventTicker,
        seriesTicker: x.seriesTicker,
        strikeType: x.strikeType satisfies StrikeType,
        floorStrike: x.floorStrike,
        capStrike: x.capStrike,
        openTime: x.openTime,
        closeTime: x.closeTime,
        settleTime: x.settleTime,
        priceRanges: x.priceRanges.map(([start, end, step]) => ({ start, end, step })),
        feeType: x.feeType satisfies FeeType,
        feeMultiplier: x.feeMultiplier,
        ...(x.feeWaiverUntil !== undefined ? { feeWaiverUntil: x.feeWaiverUntil } : {}),
        status: x.status,
      };
    }
    case K_MARKET_LIFECYCLE: {
      const x = parseExtra(LifecycleExtra, b.extra(i), "market_lifecycle");
      return {
        kind: "market_lifecycle",
        tsRecv,
        tsExchange,
        market: marketOf(b, r),
        phase: x.phase,
        result: x.result satisfies MarketResult | null,
        settlementValue: need(v[r + C_PRICE]!, "market_lifecycle", "price"),
        expirationValue: x.expirationValue,
        closeTime: x.closeTime,
        sid: need(v[r + C_SID]!, "market_lifecycle", "sid"),
        seq: need(v[r + C_SEQ]!, "market_lifecycle", "seq"),
      };
    }
    case K_ORDER_UPDATE: {
      const x = parseExtra(OrderUpdateExtra, b.extra(i), "order_update");
      return {
        kind: "order_update",
        tsRecv,
        tsExchange,
        orderId: needStr(v[r + C_HAS_REF] === 1 ? b.ref(i) : null, "order_update", "ref"),
        clientOrderId: x.clientOrderId,
        market: marketOf(b, r),
        status: x.status,
        bookSide: bidAsk(v[r + C_SIDE]!, "order_update"),
        yesPrice: need(v[r + C_PRICE]!, "order_update", "price"),
        filled: need(v[r + C_QTY]!, "order_update", "qty"),
        remaining: need(v[r + C_QTY2]!, "order_update", "qty2"),
        reason: x.reason,
      };
    }
    case K_FILL: {
      const x = parseExtra(FillExtra, b.extra(i), "fill");
      return {
        kind: "fill",
        tsRecv,
        tsExchange,
        tradeId: needStr(v[r + C_HAS_REF] === 1 ? b.ref(i) : null, "fill", "ref"),
        orderId: x.orderId,
        clientOrderId: x.clientOrderId,
        market: marketOf(b, r),
        bookSide: bidAsk(v[r + C_SIDE]!, "fill"),
        outcomeSide: x.outcomeSide,
        yesPrice: need(v[r + C_PRICE]!, "fill", "price"),
        count: need(v[r + C_QTY]!, "fill", "qty"),
        fee: need(v[r + C_QTY2]!, "fill", "qty2"),
        isTaker: x.isTaker,
      };
    }
    case K_POSITION_SNAPSHOT: {
      const x = parseExtra(PositionExtra, b.extra(i), "position_snapshot");
      return {
        kind: "position_snapshot",
        tsRecv,
        tsExchange,
        positions: x.positions.map(([market, position]) => ({ market, position })),
        restingOrders: x.restingOrders.map(([orderId, clientOrderId, market, remaining, filled]) =>
          filled === undefined ? { orderId, clientOrderId, market, remaining } : { orderId, clientOrderId, market, remaining, filled },
        ),
        balance: need(v[r + C_QTY]!, "position_snapshot", "qty"),
      };
    }
    case K_FEED_HEALTH: {
      const x = parseExtra(FeedHealthExtra, b.extra(i), "feed_health");
      return {
        kind: "feed_health",
        tsRecv,
        tsExchange,
        feed: x.feed,
        status: x.status,
        sid: need(v[r + C_SID]!, "feed_health", "sid"),
        markets: x.markets,
        detail: x.detail,
      };
    }
    case K_KILL_SWITCH: {
      const x = parseExtra(KillSwitchExtra, b.extra(i), "kill_switch");
      return { kind: "kill_switch", tsRecv, tsExchange, engaged: x.engaged, reason: x.reason };
    }
    case K_SUBSCRIPTION_UPDATED: {
      const x = parseExtra(SubscriptionExtra, b.extra(i), "subscription_updated");
      return {
        kind: "subscription_updated",
        tsRecv,
        tsExchange,
        sid: need(v[r + C_SID]!, "subscription_updated", "sid"),
        seq: need(v[r + C_SEQ]!, "subscription_updated", "seq"),
        markets: x.markets,
      };
    }
    default:
      throw new TapeCodecError(`unknown kind code ${k}`);
  }
}

/**
 * Decode row objects (the journal's shape) through the same columnar path. Used by tests and by
 * small tools; the reader never goes through row objects.
 */
export function decodeEventRows(rows: readonly EventRow[], sources: readonly Source[]): TapeEvent[] {
  const n = rows.length;
  if (sources.length !== n) throw new TapeCodecError("one source per row required");
  const marketDict: string[] = [""];
  const marketIdx = new Map<string, number>([["", 0]]);
  const code = <T extends string>(table: readonly T[], v: string, what: string): number => {
    const c = table.indexOf(v as T);
    if (c < 0) throw new TapeCodecError(`unknown ${what} ${JSON.stringify(v)}`);
    return c;
  };
  const cells = new Float64Array(n * EVENT_STRIDE).fill(Number.NaN);
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    const r = i * EVENT_STRIDE;
    for (const [c, name] of EVENT_CELLS.entries()) {
      let value: number;
      switch (name) {
        case "kind":
          value = code(KIND_CODES, row.kind, "kind");
          break;
        case "source":
          value = code(SOURCES_BY_RANK, sources[i]!, "source");
          break;
        case "side":
          value = code(SIDE_CODES, row.side ?? "", "side");
          break;
        case "has_ref":
          value = row.ref === null || row.ref === undefined ? 0 : 1;
          break;
        case "market": {
          const m = row.market ?? "";
          let mc = marketIdx.get(m);
          if (mc === undefined) {
            mc = marketDict.length;
            marketDict.push(m);
            marketIdx.set(m, mc);
          }
          value = mc;
          break;
        }
        default: {
          const x = row[name];
          value = typeof x === "number" ? x : Number.NaN;
        }
      }
      cells[r + c] = value;
    }
  }
  const out: TapeEvent[] = [];
  decodeEventBatch(
    { length: n, cells, marketDict, ref: (i) => rows[i]!.ref ?? null, extra: (i) => rows[i]!.extra ?? null },
    out,
  );
  return out;
}
