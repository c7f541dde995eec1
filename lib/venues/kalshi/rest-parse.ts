/**
 * zod schemas for Kalshi REST responses (reference §4) and their conversion to exact fixed point.
 *
 * Every response body passes through one of these before the client returns anything; a body that
 * does not fit throws `RestParseError` (short reason, no payload dump beyond a prefix). Prices become
 * PriceE4, counts CountE2, money Micros, times TsUs, via lib/core/units.ts only.
 */
import { z } from "zod";
import type {
  BookLevel,
  BookSide,
  MarketInfo,
  OrderStatus,
  OrderUpdate,
  OwnFill,
  PositionSnapshot,
  FeeType,
} from "../../core/events.ts";
import {
  centsToMicros,
  parseCountFp,
  parseIsoToUs,
  parseMoneyDollars,
  parsePriceDollars,
  msToUs,
  secondsToUs,
  type CountE2,
  type Micros,
  type PriceE4,
  type TsUs,
} from "../../core/units.ts";
import { parseKalshiMarket } from "./parse.ts";

export class RestParseError extends Error {
  constructor(
    readonly what: string,
    readonly detail: string,
  ) {
    super(`unexpected ${what} response: ${detail.slice(0, 200)}`);
    this.name = "RestParseError";
  }
}

const decimal = z.union([z.string(), z.number()]);
const optDecimal = decimal.nullish();

/** Parse with a schema; wrap both zod and unit errors into RestParseError. */
function parseWith<T>(what: string, schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new RestParseError(what, issue ? `${issue.path.join(".")}: ${issue.message}` : "invalid");
  }
  return r.data;
}

function convert<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RestParseError) throw e;
    throw new RestParseError(what, e instanceof Error ? e.message : String(e));
  }
}

// ---- Markets -----------------------------------------------------------------------------------

const MarketsPageSchema = z.object({
  markets: z.array(z.record(z.string(), z.unknown())),
  cursor: z.string().nullish(),
});

export interface MarketsPage {
  /** Raw market objects, already shape-checked as objects (converted by the caller). */
  readonly rawMarkets: readonly Record<string, unknown>[];
  readonly cursor: string | null;
}

export function parseMarketsPage(body: unknown): MarketsPage {
  const p = parseWith("markets page", MarketsPageSchema, body);
  return { rawMarkets: p.markets, cursor: p.cursor ? p.cursor : null };
}

const MarketResponseSchema = z.object({ market: z.record(z.string(), z.unknown()) });

export function parseMarketResponse(body: unknown): Record<string, unknown> {
  return parseWith("market", MarketResponseSchema, body).market;
}

/** One market object → MarketInfo (via the shared WS/REST market parser). */
export function toMarketInfo(raw: Record<string, unknown>, tsRecv: TsUs): MarketInfo {
  return convert("market", () => parseKalshiMarket(raw, tsRecv));
}

// ---- Series (fees) -------------------------------------------------------------------------------

const FEE_TYPES = ["quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees", "flat"] as const;

const SeriesSchema = z.object({
  series: z.object({
    ticker: z.string(),
    fee_type: z.string(),
    fee_multiplier: z.union([z.number(), z.string()]),
    frequency: z.string().nullish(),
    title: z.string().nullish(),
  }),
});

export interface SeriesInfo {
  readonly ticker: string;
  readonly feeType: FeeType;
  readonly feeMultiplier: number;
  readonly frequency: string | null;
}

export function parseSeries(body: unknown): SeriesInfo {
  const s = parseWith("series", SeriesSchema, body).series;
  if (!(FEE_TYPES as readonly string[]).includes(s.fee_type)) {
    throw new RestParseError("series", `unknown fee_type ${s.fee_type}`);
  }
  const mult = typeof s.fee_multiplier === "number" ? s.fee_multiplier : Number(s.fee_multiplier);
  if (!Number.isFinite(mult) || mult < 0) throw new RestParseError("series", "bad fee_multiplier");
  return { ticker: s.ticker, feeType: s.fee_type as FeeType, feeMultiplier: mult, frequency: s.frequency ?? null };
}

// ---- Order book ----------------------------------------------------------------------------------

const LevelSchema = z.tuple([decimal, decimal]);
const OrderbookSchema = z.object({
  orderbook_fp: z.object({
    yes_dollars: z.array(LevelSchema).nullish(),
    no_dollars: z.array(LevelSchema).nullish(),
  }),
});

export interface RestOrderbook {
  /** Own-leg bids, ascending by price (best last), as Kalshi returns them; re-sorted defensively. */
  readonly yesBids: readonly BookLevel[];
  readonly noBids: readonly BookLevel[];
}

function toLevels(levels: readonly (readonly [string | number, string | number])[] | null | undefined): BookLevel[] {
  const out: BookLevel[] = (levels ?? []).map(([p, c]) => [parsePriceDollars(p), parseCountFp(c)] as const);
  out.sort((a, b) => a[0] - b[0]);
  return out;
}

export function parseOrderbook(body: unknown): RestOrderbook {
  const ob = parseWith("orderbook", OrderbookSchema, body).orderbook_fp;
  return convert("orderbook", () => ({ yesBids: toLevels(ob.yes_dollars), noBids: toLevels(ob.no_dollars) }));
}

// ---- Portfolio -------------------------------------------------------------------------------------

const BalanceSchema = z.object({
  balance: z.number().int(),
  balance_dollars: z.string().nullish(),
  portfolio_value: z.number().nullish(),
  balance_breakdown: z.array(z.object({ exchange_index: z.number().int(), balance: decimal })).nullish(),
});

/**
 * Cash balance in Micros; `balance_dollars` preferred over the legacy cents integer. With `shard`, the
 * collateral of that exchange shard (reference §4.7: collateral checks run per shard): its
 * `balance_breakdown` entry when present, else the (shard-filtered) totals.
 */
export function parseBalance(body: unknown, shard?: number): Micros {
  const b = parseWith("balance", BalanceSchema, body);
  return convert("balance", () => {
    if (shard !== undefined && shard >= 0 && b.balance_breakdown) {
      const entry = b.balance_breakdown.find((x) => x.exchange_index === shard);
      return entry ? parseMoneyDollars(entry.balance) : 0;
    }
    return b.balance_dollars ? parseMoneyDollars(b.balance_dollars) : centsToMicros(b.balance);
  });
}

const PositionSchema = z.object({
  ticker: z.string(),
  position_fp: decimal,
  market_exposure_dollars: optDecimal,
  realized_pnl_dollars: optDecimal,
  fees_paid_dollars: optDecimal,
  total_traded_dollars: optDecimal,
  last_updated_ts: z.union([z.string(), z.number()]).nullish(),
});
const PositionsSchema = z.object({
  market_positions: z.array(PositionSchema).nullish(),
  cursor: z.string().nullish(),
});

export interface RestPosition {
  readonly market: string;
  /** Signed: + YES contracts, − NO contracts. */
  readonly position: CountE2;
  readonly exposure: Micros;
  readonly realizedPnl: Micros;
  readonly feesPaid: Micros;
}

export function parsePositionsPage(body: unknown): { positions: RestPosition[]; cursor: string | null } {
  const p = parseWith("positions", PositionsSchema, body);
  const positions = convert("positions", () =>
    (p.market_positions ?? []).map((m) => ({
      market: m.ticker,
      position: parseCountFp(m.position_fp),
      exposure: m.market_exposure_dollars != null ? parseMoneyDollars(m.market_exposure_dollars) : 0,
      realizedPnl: m.realized_pnl_dollars != null ? parseMoneyDollars(m.realized_pnl_dollars) : 0,
      feesPaid: m.fees_paid_dollars != null ? parseMoneyDollars(m.fees_paid_dollars) : 0,
    })),
  );
  return { positions, cursor: p.cursor ? p.cursor : null };
}

const OrderSchema = z.object({
  order_id: z.string(),
  client_order_id: z.string().nullish(),
  ticker: z.string(),
  status: z.string(),
  book_side: z.enum(["bid", "ask"]).nullish(),
  outcome_side: z.enum(["yes", "no"]).nullish(),
  side: z.enum(["yes", "no"]).nullish(),
  action: z.enum(["buy", "sell"]).nullish(),
  yes_price_dollars: decimal,
  fill_count_fp: decimal,
  remaining_count_fp: decimal,
  initial_count_fp: optDecimal,
  taker_fees_dollars: optDecimal,
  maker_fees_dollars: optDecimal,
  created_time: z.string().nullish(),
  last_update_time: z.string().nullish(),
});
const OrdersSchema = z.object({ orders: z.array(OrderSchema).nullish(), cursor: z.string().nullish() });

export interface RestOrder {
  readonly orderId: string;
  readonly clientOrderId: string;
  readonly market: string;
  readonly status: OrderStatus;
  readonly bookSide: BookSide;
  readonly yesPrice: PriceE4;
  readonly filled: CountE2;
  readonly remaining: CountE2;
  readonly initial: CountE2;
  readonly fees: Micros;
  /** Creation time, -1 when absent. */
  readonly createdTs: TsUs;
}

export function toOrderStatus(s: string): OrderStatus {
  switch (s) {
    case "resting":
    case "canceled":
    case "executed":
    case "pending":
      return s;
    case "cancelled":
      return "canceled";
    default:
      return "unknown";
  }
}

/** V2 book side from the canonical field, or the deprecated (side, action) pair. */
function bookSideOf(o: { book_side?: BookSide | null; outcome_side?: "yes" | "no" | null; side?: "yes" | "no" | null; action?: "buy" | "sell" | null }): BookSide {
  if (o.book_side) return o.book_side;
  if (o.outcome_side) return o.outcome_side === "yes" ? "bid" : "ask";
  // Legacy: buy yes / sell no are bids.
  const yes = o.side === "yes";
  const buy = (o.action ?? "buy") === "buy";
  return yes === buy ? "bid" : "ask";
}

function toRestOrder(o: z.infer<typeof OrderSchema>): RestOrder {
  const filled = parseCountFp(o.fill_count_fp);
  const remaining = parseCountFp(o.remaining_count_fp);
  return {
    orderId: o.order_id,
    clientOrderId: o.client_order_id ?? "",
    market: o.ticker,
    status: toOrderStatus(o.status),
    bookSide: bookSideOf(o),
    yesPrice: parsePriceDollars(o.yes_price_dollars),
    filled,
    remaining,
    initial: o.initial_count_fp != null ? parseCountFp(o.initial_count_fp) : filled + remaining,
    fees:
      (o.taker_fees_dollars != null ? parseMoneyDollars(o.taker_fees_dollars) : 0) +
      (o.maker_fees_dollars != null ? parseMoneyDollars(o.maker_fees_dollars) : 0),
    createdTs: o.created_time ? parseIsoToUs(o.created_time) : -1,
  };
}

export function parseOrdersPage(body: unknown): { orders: RestOrder[]; cursor: string | null } {
  const p = parseWith("orders", OrdersSchema, body);
  return { orders: convert("orders", () => (p.orders ?? []).map(toRestOrder)), cursor: p.cursor ? p.cursor : null };
}

export function parseOrderResponse(body: unknown): RestOrder {
  const p = parseWith("order", z.object({ order: OrderSchema }), body);
  return convert("order", () => toRestOrder(p.order));
}

const FillSchema = z.object({
  fill_id: z.string().nullish(),
  trade_id: z.string().nullish(),
  order_id: z.string(),
  ticker: z.string().nullish(),
  market_ticker: z.string().nullish(),
  book_side: z.enum(["bid", "ask"]).nullish(),
  outcome_side: z.enum(["yes", "no"]).nullish(),
  side: z.enum(["yes", "no"]).nullish(),
  action: z.enum(["buy", "sell"]).nullish(),
  count_fp: decimal,
  yes_price_dollars: decimal,
  is_taker: z.boolean(),
  fee_cost: optDecimal,
  created_time: z.string().nullish(),
  ts: z.number().nullish(),
});
const FillsSchema = z.object({ fills: z.array(FillSchema).nullish(), cursor: z.string().nullish() });

export interface RestFill {
  readonly tradeId: string;
  readonly orderId: string;
  readonly market: string;
  readonly bookSide: BookSide;
  readonly yesPrice: PriceE4;
  readonly count: CountE2;
  readonly fee: Micros;
  readonly isTaker: boolean;
  /** Venue time, -1 when absent. */
  readonly ts: TsUs;
}

export function parseFillsPage(body: unknown): { fills: RestFill[]; cursor: string | null } {
  const p = parseWith("fills", FillsSchema, body);
  const fills = convert("fills", () =>
    (p.fills ?? []).map((f) => {
      const tradeId = f.fill_id ?? f.trade_id;
      const market = f.ticker ?? f.market_ticker;
      if (!tradeId || !market) throw new RestParseError("fills", "fill without id or ticker");
      return {
        tradeId,
        orderId: f.order_id,
        market,
        bookSide: bookSideOf(f),
        yesPrice: parsePriceDollars(f.yes_price_dollars),
        count: parseCountFp(f.count_fp),
        fee: f.fee_cost != null ? parseMoneyDollars(f.fee_cost) : 0,
        isTaker: f.is_taker,
        ts: f.created_time ? parseIsoToUs(f.created_time) : f.ts != null ? secondsToUs(f.ts) : -1,
      };
    }),
  );
  return { fills, cursor: p.cursor ? p.cursor : null };
}

const SettlementSchema = z.object({
  ticker: z.string(),
  event_ticker: z.string().nullish(),
  market_result: z.string(),
  yes_count_fp: optDecimal,
  no_count_fp: optDecimal,
  yes_total_cost_dollars: optDecimal,
  no_total_cost_dollars: optDecimal,
  revenue: z.number().int(),
  fee_cost: optDecimal,
  value: z.number().nullish(),
  settled_time: z.string().nullish(),
});
const SettlementsSchema = z.object({ settlements: z.array(SettlementSchema).nullish(), cursor: z.string().nullish() });

export interface RestSettlement {
  readonly market: string;
  readonly result: string;
  readonly yesCount: CountE2;
  readonly noCount: CountE2;
  readonly revenue: Micros;
  readonly fee: Micros;
  readonly settledTs: TsUs;
}

export function parseSettlementsPage(body: unknown): { settlements: RestSettlement[]; cursor: string | null } {
  const p = parseWith("settlements", SettlementsSchema, body);
  const settlements = convert("settlements", () =>
    (p.settlements ?? []).map((s) => ({
      market: s.ticker,
      result: s.market_result,
      yesCount: s.yes_count_fp != null ? parseCountFp(s.yes_count_fp) : 0,
      noCount: s.no_count_fp != null ? parseCountFp(s.no_count_fp) : 0,
      revenue: centsToMicros(s.revenue),
      fee: s.fee_cost != null ? parseMoneyDollars(s.fee_cost) : 0,
      settledTs: s.settled_time ? parseIsoToUs(s.settled_time) : -1,
    })),
  );
  return { settlements, cursor: p.cursor ? p.cursor : null };
}

const BucketSchema = z.object({ refill_rate: z.number(), bucket_capacity: z.number() });
const LimitsSchema = z.object({ usage_tier: z.string().nullish(), read: BucketSchema, write: BucketSchema });

export interface AccountLimits {
  readonly tier: string;
  readonly read: { readonly refillRate: number; readonly bucketCapacity: number };
  readonly write: { readonly refillRate: number; readonly bucketCapacity: number };
}

export function parseAccountLimits(body: unknown): AccountLimits {
  const l = parseWith("account limits", LimitsSchema, body);
  return {
    tier: l.usage_tier ?? "unknown",
    read: { refillRate: l.read.refill_rate, bucketCapacity: l.read.bucket_capacity },
    write: { refillRate: l.write.refill_rate, bucketCapacity: l.write.bucket_capacity },
  };
}

// ---- V2 order writes -----------------------------------------------------------------------------

const CreateResultSchema = z.object({
  order_id: z.string().min(1),
  client_order_id: z.string().nullish(),
  fill_count: decimal,
  remaining_count: decimal,
  average_fill_price: optDecimal,
  average_fee_paid: optDecimal,
  ts_ms: z.number().nullish(),
});

export interface CreateOrderResult {
  readonly orderId: string;
  readonly clientOrderId: string | null;
  readonly filled: CountE2;
  readonly remaining: CountE2;
  /**
   * Average YES fill price per contract in MICROS of a dollar (0.456667 → 456 667), -1 when nothing
   * filled. An average over fills at several prices is not a grid price: the venue sends up to 6
   * decimals, so it is kept exactly in the money unit rather than rounded into a PriceE4.
   */
  readonly averageFillPriceMicros: Micros;
  /** Average fee per contract (Micros), -1 when absent. */
  readonly averageFeePaid: Micros;
  readonly tsExchange: TsUs | null;
}

function toCreateResult(r: z.infer<typeof CreateResultSchema>): CreateOrderResult {
  return {
    orderId: r.order_id,
    clientOrderId: r.client_order_id ?? null,
    filled: parseCountFp(r.fill_count),
    remaining: parseCountFp(r.remaining_count),
    averageFillPriceMicros: r.average_fill_price != null && r.average_fill_price !== "" ? parseMoneyDollars(r.average_fill_price) : -1,
    averageFeePaid: r.average_fee_paid != null && r.average_fee_paid !== "" ? parseMoneyDollars(r.average_fee_paid) : -1,
    tsExchange: r.ts_ms != null ? msToUs(r.ts_ms) : null,
  };
}

/** A 2xx create without an order_id is a rejection in disguise (reference §8 gotcha 3): it throws. */
export function parseCreateOrderResult(body: unknown): CreateOrderResult {
  const r = parseWith("create order", CreateResultSchema, body);
  return convert("create order", () => toCreateResult(r));
}

const CancelResultSchema = z.object({
  order_id: z.string(),
  client_order_id: z.string().nullish(),
  reduced_by: decimal,
  ts_ms: z.number().nullish(),
});

export interface CancelOrderResult {
  readonly orderId: string;
  readonly clientOrderId: string | null;
  readonly reducedBy: CountE2;
  readonly tsExchange: TsUs | null;
}

export function parseCancelOrderResult(body: unknown): CancelOrderResult {
  const r = parseWith("cancel order", CancelResultSchema, body);
  return convert("cancel order", () => ({
    orderId: r.order_id,
    clientOrderId: r.client_order_id ?? null,
    reducedBy: parseCountFp(r.reduced_by),
    tsExchange: r.ts_ms != null ? msToUs(r.ts_ms) : null,
  }));
}

const AmendResultSchema = z.object({
  order_id: z.string(),
  client_order_id: z.string().nullish(),
  remaining_count: optDecimal,
  fill_count: optDecimal,
  ts_ms: z.number().nullish(),
});

export interface AmendOrderResult {
  readonly orderId: string;
  readonly clientOrderId: string | null;
  /** -1 when the venue did not say. */
  readonly remaining: CountE2;
  readonly filled: CountE2;
  readonly tsExchange: TsUs | null;
}

export function parseAmendOrderResult(body: unknown): AmendOrderResult {
  const r = parseWith("amend order", AmendResultSchema, body);
  return convert("amend order", () => ({
    orderId: r.order_id,
    clientOrderId: r.client_order_id ?? null,
    remaining: r.remaining_count != null ? parseCountFp(r.remaining_count) : -1,
    filled: r.fill_count != null ? parseCountFp(r.fill_count) : -1,
    tsExchange: r.ts_ms != null ? msToUs(r.ts_ms) : null,
  }));
}

/** Decrease answers `{order_id, client_order_id?, remaining_count, ts_ms}`. */
export function parseDecreaseOrderResult(body: unknown): AmendOrderResult {
  const r = parseWith("decrease order", AmendResultSchema.extend({ remaining_count: decimal }), body);
  return convert("decrease order", () => ({
    orderId: r.order_id,
    clientOrderId: r.client_order_id ?? null,
    remaining: parseCountFp(r.remaining_count),
    filled: -1,
    tsExchange: r.ts_ms != null ? msToUs(r.ts_ms) : null,
  }));
}

const ItemErrorSchema = z.object({ code: z.string().nullish(), message: z.string().nullish() }).nullish();

export type BatchItem<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: string; readonly message: string; readonly clientOrderId: string | null };

const BatchCreateSchema = z.object({
  orders: z.array(
    z.object({
      order_id: z.string().nullish(),
      client_order_id: z.string().nullish(),
      fill_count: optDecimal,
      remaining_count: optDecimal,
      average_fill_price: optDecimal,
      average_fee_paid: optDecimal,
      ts_ms: z.number().nullish(),
      error: ItemErrorSchema,
    }),
  ),
});

export function parseBatchCreateResult(body: unknown): BatchItem<CreateOrderResult>[] {
  const r = parseWith("batch create", BatchCreateSchema, body);
  return r.orders.map((o) => {
    if (o.error || !o.order_id || o.fill_count == null || o.remaining_count == null) {
      return { ok: false, code: o.error?.code ?? "no_order_id", message: o.error?.message ?? "", clientOrderId: o.client_order_id ?? null };
    }
    const order_id = o.order_id;
    const fill_count = o.fill_count;
    const remaining_count = o.remaining_count;
    return { ok: true, value: convert("batch create", () => toCreateResult({ ...o, order_id, fill_count, remaining_count })) };
  });
}

const BatchCancelSchema = z.object({
  orders: z.array(
    z.object({
      order_id: z.string(),
      client_order_id: z.string().nullish(),
      reduced_by: optDecimal,
      ts_ms: z.number().nullish(),
      error: ItemErrorSchema,
    }),
  ),
});

export function parseBatchCancelResult(body: unknown): BatchItem<CancelOrderResult>[] {
  const r = parseWith("batch cancel", BatchCancelSchema, body);
  return r.orders.map((o) => {
    if (o.error || o.reduced_by == null) {
      return { ok: false, code: o.error?.code ?? "error", message: o.error?.message ?? "", clientOrderId: o.client_order_id ?? null };
    }
    const reducedBy = o.reduced_by;
    return {
      ok: true,
      value: convert("batch cancel", () => ({
        orderId: o.order_id,
        clientOrderId: o.client_order_id ?? null,
        reducedBy: parseCountFp(reducedBy),
        tsExchange: o.ts_ms != null ? msToUs(o.ts_ms) : null,
      })),
    };
  });
}

/** `{"error":{"code","message"}}` or `{"error":"too many requests"}` → short text. */
/**
 * An error body's text is the venue's (or a proxy's) echo: it may quote what we sent, signature
 * included. Runs of 24+ base64 characters are cut (no code or message Kalshi documents has one; a
 * signature is 344) and the text is bounded; the caller also removes registered secrets (key id).
 */
function venueText(s: string, max: number): string {
  return s.slice(0, 4 * max).replace(/[A-Za-z0-9+/]{24,}={0,2}/g, "[REDACTED]").slice(0, max);
}

export function errorSummary(body: unknown): { code: string; message: string } {
  if (body && typeof body === "object" && "error" in body) {
    const e = (body as { error: unknown }).error;
    if (typeof e === "string") return { code: venueText(e, 64), message: venueText(e, 200) };
    if (e && typeof e === "object") {
      const code = (e as { code?: unknown }).code;
      const message = (e as { message?: unknown }).message;
      return { code: typeof code === "string" ? venueText(code, 64) : "error", message: typeof message === "string" ? venueText(message, 200) : "" };
    }
  }
  return { code: "unknown", message: "" };
}

// ---- Conversion to engine events (REST reconciliation) ----------------------------------------------

export function restOrderToUpdate(o: RestOrder, tsRecv: TsUs, reason = "Reconcile"): OrderUpdate {
  return {
    kind: "order_update",
    tsRecv,
    tsExchange: null,
    orderId: o.orderId,
    clientOrderId: o.clientOrderId,
    market: o.market,
    status: o.status,
    bookSide: o.bookSide,
    yesPrice: o.yesPrice,
    filled: o.filled,
    remaining: o.remaining,
    reason,
  };
}

/** REST fills no longer carry client_order_id (reference §4.3): map by order id when the caller knows it. */
export function restFillToOwnFill(f: RestFill, tsRecv: TsUs, clientOrderId: string | null = null): OwnFill {
  return {
    kind: "fill",
    tsRecv,
    tsExchange: f.ts >= 0 ? f.ts : null,
    tradeId: f.tradeId,
    orderId: f.orderId,
    clientOrderId,
    market: f.market,
    bookSide: f.bookSide,
    outcomeSide: f.bookSide === "bid" ? "yes" : "no",
    yesPrice: f.yesPrice,
    count: f.count,
    fee: f.fee,
    isTaker: f.isTaker,
  };
}

export function toPositionSnapshot(
  positions: readonly RestPosition[],
  resting: readonly RestOrder[],
  balance: Micros,
  tsRecv: TsUs,
): PositionSnapshot {
  return {
    kind: "position_snapshot",
    tsRecv,
    tsExchange: null,
    positions: positions.filter((p) => p.position !== 0).map((p) => ({ market: p.market, position: p.position })),
    restingOrders: resting
      .filter((o) => o.status === "resting")
      .map((o) => ({ orderId: o.orderId, clientOrderId: o.clientOrderId, market: o.market, remaining: o.remaining, filled: o.filled })),
    balance,
  };
}
