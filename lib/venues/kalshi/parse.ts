/**
 * Kalshi WebSocket v2 frames → normalized engine events. PURE: no IO, no clock; the receipt time is
 * an argument. Never throws: a frame that cannot be understood comes back as `{ ok: false, error }`.
 *
 * Shapes follow the official AsyncAPI spec (late 2026: `*_dollars` price strings, `*_fp` counts,
 * `ts_ms`) and tolerate the Feb-2026 captures (integer cents `yes_bid`, integer `count`, `ts` seconds).
 * When both forms are present the fixed-point form wins. Numbers may arrive as JSON numbers or strings.
 *
 * Decisions documented here (the spec leaves them open):
 *  - `market_position` yields NO engine event. A PositionSnapshot means "everything we hold"; a
 *    one-market update in that shape would read as "flat everywhere else". The update is returned
 *    typed in `position` on the ok result instead, for the live runner to use as it sees fit.
 *  - `market_lifecycle_v2 metadata_updated` yields a *partial* MarketInfo: fields the frame does not
 *    carry hold sentinels (times −1, strikes NaN, priceRanges [], status ""). Apply it over the prior
 *    info with `mergeMarketInfo`. Frames without a usable `strike_type` (e.g. a subtitle-only update)
 *    yield no event.
 *  - `created` for a strike type outside the five we model (functional/custom/structured) yields the
 *    MarketLifecycle only, no MarketInfo. `price_level_structure_updated` yields a `patch` (new grid),
 *    `event_lifecycle` / `event_fee_update` an `eventPatch` (series, shard, fee override): pieces for
 *    MarketDirectory (lib/core/markets.ts), which merges them into the one record per market.
 *  - A frame with sid+seq whose events carry no seq (event frames, errors, unknown types) yields a
 *    `subscription_updated`, so every seq check sees the number (the rule in lib/core/seq.ts).
 */
import { parseJsonObject } from "../json.ts";
import { sequenceOf } from "../../core/seq.ts";
import type { EventPatch, MarketPatch } from "../../core/markets.ts";
import { z } from "zod";
import type {
  BookLevel,
  EngineEvent,
  FeeType,
  MarketInfo,
  MarketLifecycle,
  MarketResult,
  OrderStatus,
  PriceRange,
  StrikeType,
} from "../../core/events.ts";
import {
  complementPrice,
  msToUs,
  parseCountFp,
  parseCountInt,
  parseIsoToUs,
  parseMoneyDollars,
  parsePriceCents,
  parsePriceDollars,
  secondsToUs,
  type CountE2,
  type Micros,
  type PriceE4,
  type TsUs,
} from "../../core/units.ts";

export interface KalshiParseOptions {
  /** The use_yes_price value we SENT in the orderbook subscribe (the no side then arrives in YES prices). */
  readonly useYesPrice: boolean;
}

export type KalshiControl =
  | { type: "subscribed"; id: number; sid: number; channel: string }
  | {
      type: "ok";
      id: number;
      sid: number;
      seq: number;
      marketTickers: string[];
      /** Present only for a `list_subscriptions` answer (msg is an array of {channel, sid}). */
      subscriptions?: { channel: string; sid: number }[];
    }
  | { type: "unsubscribed"; id: number; sid: number; seq: number }
  | {
      type: "error";
      id: number;
      sid: number;
      code: number;
      message: string;
      market: string | null;
      /** The markets it names (`market_ticker`, or `market_tickers`); empty when it names none. */
      markets: string[];
    };

/** A `market_position` push (own position in one market). Not an EngineEvent — see the module note. */
export interface KalshiPositionUpdate {
  readonly market: string;
  /** Signed: + YES, − NO. */
  readonly position: CountE2;
  readonly positionCost: Micros;
  readonly realizedPnl: Micros;
  readonly feesPaid: Micros;
  readonly volume: CountE2;
  readonly tsRecv: TsUs;
}

export type KalshiFrameResult =
  | {
      ok: true;
      events: EngineEvent[];
      control: KalshiControl | null;
      type: string;
      sid: number;
      /** -1 when the message type is unsequenced. */
      seq: number;
      /** Only for `market_position`. */
      position?: KalshiPositionUpdate;
      /** A piece of one market's record that is not a MarketInfo (grid change, shard): for MarketDirectory. */
      patch?: MarketPatch;
      /** An event-level frame (event_lifecycle, event_fee_update): for MarketDirectory. */
      eventPatch?: EventPatch;
      /**
       * A message of a type (or lifecycle event_type) this parser does not know, e.g. a new channel:
       * accepted (its seq still counts) but nothing read from it; the client counts these by name.
       */
      ignored?: string;
      /**
       * Top-level fields of the message that no protocol version we know documents, sorted (absent
       * when none): the frame was read as usual; the client counts them by type and name.
       */
      unknownFields?: string[];
    }
  | {
      ok: false;
      error: string;
      /**
       * What the envelope said, when it could be read although the message could not: a refused
       * frame on a subscription still used up its seq (lib/core/seq.ts), and on a book sid the book
       * is now unknown. −1 / "" when not readable.
       */
      sid?: number;
      seq?: number;
      type?: string;
    };

/** Thrown inside the parser for a bad field; turned into `{ ok: false }` at the top. */
class FrameError extends Error {}

function fail(reason: string): never {
  throw new FrameError(reason);
}

// ---- zod building blocks ---------------------------------------------------------------------

/** A fixed-point value that may arrive as a string or a JSON number. */
const fixed = z.union([z.string(), z.number()]);
const int = z.number().int();
const optInt = int.optional();
const side = z.enum(["yes", "no"]);
const bookSide = z.enum(["bid", "ask"]);
/** A level as sent: [price, size]; either element string or number. */
const level = z.tuple([fixed, fixed]).rest(z.unknown());

const envelope = z.object({
  type: z.string().min(1),
  id: z.number().int().nonnegative().optional(),
  sid: z.number().int().optional(),
  seq: z.number().int().optional(),
  msg: z.unknown().optional(),
});
type Envelope = z.infer<typeof envelope>;

const subscribedMsg = z.object({ channel: z.string(), sid: int });
const okMsg = z.object({ market_tickers: z.array(z.string()).optional() });
const listMsg = z.array(z.object({ channel: z.string(), sid: int }));
const errorMsg = z.object({
  code: int,
  msg: z.string().optional(),
  message: z.string().optional(),
  market_ticker: z.string().optional(),
  market_tickers: z.array(z.string()).optional(),
});

const snapshotMsg = z.object({
  market_ticker: z.string().min(1),
  yes_dollars_fp: z.array(level).optional(),
  no_dollars_fp: z.array(level).optional(),
  // Feb-2026: dollar prices with integer counts, or integer cents.
  yes_dollars: z.array(level).optional(),
  no_dollars: z.array(level).optional(),
  yes: z.array(level).optional(),
  no: z.array(level).optional(),
  ts_ms: optInt,
});

const deltaMsg = z.object({
  market_ticker: z.string().min(1),
  side,
  price_dollars: fixed.optional(),
  price: z.number().optional(),
  delta_fp: fixed.optional(),
  delta: z.number().optional(),
  client_order_id: z.string().optional(),
  ts_ms: optInt,
  ts: z.union([z.string(), z.number()]).optional(),
});

const tickerMsg = z.object({
  market_ticker: z.string().min(1),
  price_dollars: fixed.optional(),
  price: z.number().optional(),
  yes_bid_dollars: fixed.optional(),
  yes_bid: z.number().optional(),
  yes_ask_dollars: fixed.optional(),
  yes_ask: z.number().optional(),
  yes_bid_size_fp: fixed.optional(),
  yes_ask_size_fp: fixed.optional(),
  volume_fp: fixed.optional(),
  volume: z.number().optional(),
  open_interest_fp: fixed.optional(),
  open_interest: z.number().optional(),
  ts_ms: optInt,
  ts: z.union([z.string(), z.number()]).optional(),
  time: z.string().optional(),
});

const tradeMsg = z.object({
  trade_id: z.string().min(1),
  market_ticker: z.string().min(1),
  yes_price_dollars: fixed.optional(),
  yes_price: z.number().optional(),
  count_fp: fixed.optional(),
  count: z.number().optional(),
  taker_outcome_side: side.optional(),
  taker_book_side: bookSide.optional(),
  taker_side: side.optional(),
  is_block_trade: z.boolean().optional().catch(undefined),
  ts_ms: optInt,
  ts: z.union([z.string(), z.number()]).optional(),
});

const fillMsg = z.object({
  trade_id: z.string().min(1),
  order_id: z.string().min(1),
  client_order_id: z.string().optional(),
  market_ticker: z.string().min(1),
  is_taker: z.boolean(),
  yes_price_dollars: fixed.optional(),
  yes_price: z.number().optional(),
  count_fp: fixed.optional(),
  count: z.number().optional(),
  fee_cost: fixed.optional(),
  outcome_side: side.optional(),
  book_side: bookSide.optional(),
  side: side.optional(),
  action: z.enum(["buy", "sell"]).optional(),
  purchased_side: side.optional(),
  ts_ms: optInt,
  ts: z.union([z.string(), z.number()]).optional(),
});

const userOrderMsg = z.object({
  order_id: z.string().min(1),
  client_order_id: z.string().optional(),
  ticker: z.string().min(1).optional(),
  market_ticker: z.string().min(1).optional(),
  status: z.string(),
  outcome_side: side.optional(),
  book_side: bookSide.optional(),
  side: side.optional(),
  is_yes: z.boolean().optional(),
  // Not in the spec's user_order; read when well-formed, never a reason to refuse the order update.
  action: z.enum(["buy", "sell"]).optional().catch(undefined),
  yes_price_dollars: fixed.optional(),
  yes_price: z.number().optional(),
  fill_count_fp: fixed.optional(),
  fill_count: z.number().optional(),
  remaining_count_fp: fixed.optional(),
  remaining_count: z.number().optional(),
  last_update_reason: z.string().optional(),
  created_ts_ms: optInt,
  last_updated_ts_ms: optInt,
});

const positionMsg = z.object({
  market_ticker: z.string().min(1),
  position_fp: fixed,
  position_cost_dollars: fixed.optional(),
  realized_pnl_dollars: fixed.optional(),
  fees_paid_dollars: fixed.optional(),
  volume_fp: fixed.optional(),
});

const priceRangeSchema = z.object({ start: fixed, end: fixed, step: fixed });
const strikeValue = z.union([z.number(), z.string(), z.null()]).optional();

const lifecycleMsg = z.object({
  market_ticker: z.string().min(1),
  event_type: z.string().min(1),
  exchange_index: z.number().int().optional(),
  open_ts: z.number().optional(),
  close_ts: z.number().optional(),
  result: z.string().optional(),
  settlement_value: fixed.optional(),
  expiration_value: z.union([z.string(), z.number()]).optional(),
  determination_ts: z.number().optional(),
  settled_ts: z.number().optional(),
  price_ranges: z.array(priceRangeSchema).optional(),
  price_level_structure: z.string().optional().catch(undefined),
  strike_type: z.string().optional(),
  floor_strike: strikeValue,
  cap_strike: strikeValue,
  additional_metadata: z
    .object({
      event_ticker: z.string().optional(),
      strike_type: z.string().optional(),
      floor_strike: strikeValue,
      cap_strike: strikeValue,
      expected_expiration_ts: z.number().optional(),
    })
    .optional(),
});

const eventLevelMsg = z.object({ event_ticker: z.string() });
const eventLifecycleMsg = z.object({
  event_ticker: z.string().min(1),
  series_ticker: z.string().optional(),
  exchange_index: z.number().int().optional(),
});
const FEE_TYPE_VALUES = ["quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees", "flat"] as const;
const eventFeeMsg = z.object({
  event_ticker: z.string().min(1),
  fee_type_override: z.enum(FEE_TYPE_VALUES).nullable().optional(),
  fee_multiplier_override: z.union([z.number(), z.string()]).nullable().optional(),
});

const cfbMsg = z.object({
  index_id: z.string().min(1),
  received_at: z.number().optional(),
  data: z.string(),
  avg_60s_data: z.object({ value: fixed }).optional(),
  last_60s_windowed_average_15min: z.object({ value: fixed, window_size: z.number().int().nonnegative() }).optional(),
});
const cfbData = z.object({ id: z.string().optional(), time: z.number().optional(), value: fixed });

// ---- fields no protocol version documents --------------------------------------------------------

/**
 * Top-level `msg` fields the published AsyncAPI spec documents for each message type we read, whether
 * or not the parser uses them; with the fields its schema accepts (legacy cents and integer counts)
 * they are the known set. Anything else is a field the venue added since: the frame is read as
 * before, and the field's name is reported so a client can count it and a person can look.
 */
const DOCUMENTED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  orderbook_snapshot: ["market_id", "market_ticker", "no_dollars_fp", "yes_dollars_fp"],
  orderbook_delta: ["client_order_id", "delta_fp", "market_id", "market_ticker", "price_dollars", "side", "subaccount", "ts", "ts_ms"],
  ticker: [
    "dollar_open_interest", "dollar_volume", "last_trade_size_fp", "market_id", "market_ticker", "open_interest_fp", "price_dollars",
    "time", "ts", "ts_ms", "volume_fp", "yes_ask_dollars", "yes_ask_size_fp", "yes_bid_dollars", "yes_bid_size_fp",
  ],
  trade: ["count_fp", "is_block_trade", "market_ticker", "no_price_dollars", "taker_book_side", "taker_outcome_side", "taker_side", "trade_id", "ts", "ts_ms", "yes_price_dollars"],
  fill: [
    "action", "book_side", "client_order_id", "count_fp", "exchange_index", "fee_cost", "is_taker", "market_ticker", "order_id", "outcome_side",
    "post_position_fp", "purchased_side", "side", "subaccount", "trade_id", "ts", "ts_ms", "yes_price_dollars",
  ],
  market_lifecycle_v2: [
    "additional_metadata", "cap_strike", "close_ts", "custom_strike", "determination_ts", "event_type", "exchange_index", "floor_strike",
    "is_deactivated", "market_ticker", "open_ts", "price_level_structure", "price_ranges", "result", "settled_ts", "settlement_value",
    "strike_type", "yes_sub_title",
  ],
  event_lifecycle: ["collateral_return_type", "event_ticker", "exchange_index", "series_ticker", "strike_date", "strike_period", "subtitle", "title"],
  event_fee_update: ["event_ticker", "fee_multiplier_override", "fee_type_override"],
  market_position: [
    "fees_paid_dollars", "market_ticker", "position_cost_dollars", "position_fee_cost_dollars", "position_fp", "realized_pnl_dollars", "subaccount",
    "user_id", "volume_fp",
  ],
  user_order: [
    "book_side", "client_order_id", "created_time", "created_ts_ms", "expiration_time", "expiration_ts_ms", "fill_count_fp", "initial_count_fp",
    "is_yes", "last_update_time", "last_updated_ts_ms", "maker_fees_dollars", "maker_fill_cost_dollars", "order_group_id", "order_id",
    "outcome_side", "remaining_count_fp", "self_trade_prevention_type", "side", "status", "subaccount_number", "taker_fees_dollars",
    "taker_fill_cost_dollars", "ticker", "user_id", "yes_price_dollars",
  ],
  cfbenchmarks_value: ["avg_60s_data", "data", "index_id", "last_60s_windowed_average_15min", "received_at"],
};

/**
 * Fields seen in real or published frames that the spec's schema for the type does not list:
 * `Clock` (a venue counter on Feb-2026 tickers), `no_price` (legacy cents of a trade's NO price),
 * `exchange_index` (the spec's own user_order example).
 */
const SEEN_FIELDS: Readonly<Record<string, readonly string[]>> = {
  ticker: ["Clock"],
  trade: ["no_price"],
  user_order: ["exchange_index"],
};

const SCHEMA_OF_TYPE: Readonly<Record<string, z.ZodObject>> = {
  orderbook_snapshot: snapshotMsg,
  orderbook_delta: deltaMsg,
  ticker: tickerMsg,
  trade: tradeMsg,
  fill: fillMsg,
  market_lifecycle_v2: lifecycleMsg,
  event_lifecycle: eventLifecycleMsg,
  event_fee_update: eventFeeMsg,
  market_position: positionMsg,
  user_order: userOrderMsg,
  cfbenchmarks_value: cfbMsg,
};

const KNOWN_FIELDS: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  Object.entries(DOCUMENTED_FIELDS).map(([type, fields]) => [
    type,
    new Set([...fields, ...(SEEN_FIELDS[type] ?? []), ...Object.keys(SCHEMA_OF_TYPE[type]?.shape ?? {})]),
  ]),
);

/** The message's top-level fields outside the known set of its type, sorted; undefined when none. */
function unknownFieldsOf(type: string, msg: unknown): string[] | undefined {
  const known = KNOWN_FIELDS.get(type);
  if (known === undefined || msg === null || typeof msg !== "object" || Array.isArray(msg)) return undefined;
  let out: string[] | undefined;
  for (const k of Object.keys(msg)) if (!known.has(k)) (out ??= []).push(k);
  return out?.sort();
}

// ---- helpers -----------------------------------------------------------------------------------

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.join(".") : "(root)";
  fail(`${what}: ${path}: ${issue?.message ?? "invalid"}`);
}

function priceOf(dollars: unknown, cents: unknown, field: string): PriceE4 {
  if (dollars !== undefined) return parsePriceDollars(dollars);
  if (cents !== undefined) return parsePriceCents(cents);
  fail(`missing ${field}`);
}

/** Count from a fixed-point field, else a legacy integer field, else `dflt` (or fail when undefined). */
function countOf(fp: unknown, legacy: unknown, field: string, dflt?: CountE2): CountE2 {
  if (fp !== undefined) return parseCountFp(fp);
  if (legacy !== undefined) return parseCountInt(legacy);
  if (dflt !== undefined) return dflt;
  fail(`missing ${field}`);
}

/** A timestamp must land on a safe integer of µs (rejects 1e300-style values). */
function safeTs(us: number, field: string): TsUs {
  if (!Number.isSafeInteger(us)) fail(`bad ${field}`);
  return us;
}
const usFromMs = (ms: number, field: string): TsUs => safeTs(msToUs(ms), field);
const usFromS = (s: number, field: string): TsUs => safeTs(secondsToUs(s), field);

/** ts_ms wins; else `ts` as Unix seconds (number) or RFC 3339 text; else null. */
function exchangeTs(tsMs: number | undefined, ts: unknown): TsUs | null {
  if (tsMs !== undefined) return usFromMs(tsMs, "ts_ms");
  if (typeof ts === "number") return usFromS(ts, "ts");
  if (typeof ts === "string") return safeTs(parseIsoToUs(ts), "ts");
  return null;
}

function seqOf(env: Envelope): number {
  return env.seq ?? -1;
}

function sidOf(env: Envelope): number {
  return env.sid ?? -1;
}

const STRIKE_TYPES: ReadonlySet<string> = new Set(["greater", "greater_or_equal", "less", "less_or_equal", "between"]);
const MARKET_RESULTS: ReadonlySet<string> = new Set(["yes", "no", "scalar", "void"]);
const ORDER_STATUSES: ReadonlySet<string> = new Set(["resting", "canceled", "executed"]);

/** The linear cent grid, assumed when a frame carries no `price_ranges`. */
export const LINEAR_CENT_RANGES: readonly PriceRange[] = [{ start: 0, end: 10_000, step: 100 }];

/**
 * Grids of the price structures whose bands the reference spells out (§7.1), for a frame that names
 * its structure without `price_ranges` (the AsyncAPI's own `created` example). Another named structure
 * (the center/edge family) without ranges gets whole cents: valid in every structure, while the finer
 * grid of before may no longer be.
 */
const STRUCTURE_RANGES: Readonly<Record<string, readonly PriceRange[]>> = {
  linear_cent: LINEAR_CENT_RANGES,
  deci_cent: [{ start: 0, end: 10_000, step: 10 }],
  tapered_deci_cent: [
    { start: 0, end: 1000, step: 10 },
    { start: 1000, end: 9000, step: 100 },
    { start: 9000, end: 10_000, step: 10 },
  ],
};

/** The frame's grid: its `price_ranges`, else its named structure's, else null (not known). */
function framePriceRanges(m: { price_ranges?: z.infer<typeof priceRangeSchema>[]; price_level_structure?: string }): readonly PriceRange[] | null {
  if (m.price_ranges && m.price_ranges.length > 0) return parseRanges(m.price_ranges);
  const s = m.price_level_structure;
  if (s === undefined) return null;
  return Object.hasOwn(STRUCTURE_RANGES, s) ? STRUCTURE_RANGES[s]! : LINEAR_CENT_RANGES;
}

function strikeNumber(v: number | string | null | undefined): number {
  if (v === undefined || v === null || v === "") return Number.NaN;
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isFinite(n)) fail(`bad strike ${JSON.stringify(v).slice(0, 32)}`);
  return n;
}

function parseRanges(ranges: { start: unknown; end: unknown; step: unknown }[]): PriceRange[] {
  return ranges.map((r) => {
    const start = parsePriceDollars(r.start);
    const end = parsePriceDollars(r.end);
    const step = parsePriceDollars(r.step);
    if (step <= 0 || end < start) fail("bad price_ranges entry");
    return { start, end, step };
  });
}

/** "KXBTCD-26SEP2917-T109999.99" → "KXBTCD-26SEP2917" (everything before the last '-'). */
export function eventTickerOf(market: string): string {
  const i = market.lastIndexOf("-");
  return i > 0 ? market.slice(0, i) : market;
}

/** "KXBTCD-26SEP2917" → "KXBTCD" (everything before the first '-'). */
export function seriesTickerOf(eventTicker: string): string {
  const i = eventTicker.indexOf("-");
  return i > 0 ? eventTicker.slice(0, i) : eventTicker;
}

/** The one merge of a partial MarketInfo over the prior record (lib/core/markets.ts). */
export { mergeMarketInfo } from "../../core/markets.ts";

// ---- per-type conversion -----------------------------------------------------------------------

type Ok = Extract<KalshiFrameResult, { ok: true }>;

function ok(env: Envelope, events: EngineEvent[], control: KalshiControl | null = null): Ok {
  return { ok: true, events, control, type: env.type, sid: sidOf(env), seq: seqOf(env) };
}

/** Sorted ascending, duplicate prices merged, empty levels dropped. */
function normalizeLevels(levels: BookLevel[]): BookLevel[] {
  levels.sort((a, b) => a[0] - b[0]);
  const out: BookLevel[] = [];
  for (const [p, s] of levels) {
    if (s < 0) fail(`negative level size at ${p}`);
    if (s === 0) continue;
    const last = out[out.length - 1];
    if (last && last[0] === p) out[out.length - 1] = [p, last[1] + s];
    else out.push([p, s]);
  }
  return out;
}

function snapshotSide(
  fp: unknown[][] | undefined,
  dollars: unknown[][] | undefined,
  cents: unknown[][] | undefined,
  toOwnLeg: (p: PriceE4) => PriceE4,
): BookLevel[] {
  let levels: BookLevel[];
  if (fp) levels = fp.map((l) => [toOwnLeg(parsePriceDollars(l[0])), parseCountFp(l[1])]);
  else if (dollars) levels = dollars.map((l) => [toOwnLeg(parsePriceDollars(l[0])), parseCountFp(l[1])]);
  else if (cents) levels = cents.map((l) => [toOwnLeg(parsePriceCents(l[0])), parseCountInt(l[1])]);
  else levels = [];
  return normalizeLevels(levels);
}

const identity = (p: PriceE4): PriceE4 => p;

function parseSnapshot(env: Envelope, tsRecv: TsUs, opts: KalshiParseOptions): Ok {
  const m = check(snapshotMsg, env.msg, "orderbook_snapshot");
  const noToOwn = opts.useYesPrice ? complementPrice : identity;
  return ok(env, [
    {
      kind: "book_snapshot",
      tsRecv,
      tsExchange: m.ts_ms !== undefined ? usFromMs(m.ts_ms, "ts_ms") : null,
      market: m.market_ticker,
      sid: sidOf(env),
      seq: seqOf(env),
      yesBids: snapshotSide(m.yes_dollars_fp, m.yes_dollars, m.yes, identity),
      noBids: snapshotSide(m.no_dollars_fp, m.no_dollars, m.no, noToOwn),
    },
  ]);
}

function parseDelta(env: Envelope, tsRecv: TsUs, opts: KalshiParseOptions): Ok {
  const m = check(deltaMsg, env.msg, "orderbook_delta");
  let price = priceOf(m.price_dollars, m.price, "price_dollars");
  if (m.side === "no" && opts.useYesPrice) price = complementPrice(price);
  const delta = countOf(m.delta_fp, m.delta, "delta_fp");
  return ok(env, [
    {
      kind: "book_delta",
      tsRecv,
      tsExchange: exchangeTs(m.ts_ms, m.ts),
      market: m.market_ticker,
      sid: sidOf(env),
      seq: seqOf(env),
      side: m.side,
      price,
      delta,
      clientOrderId: m.client_order_id ?? null,
    },
  ]);
}

function parseTicker(env: Envelope, tsRecv: TsUs): Ok {
  const m = check(tickerMsg, env.msg, "ticker");
  const hasLast = m.price_dollars !== undefined || m.price !== undefined;
  return ok(env, [
    {
      kind: "market_ticker",
      tsRecv,
      tsExchange: exchangeTs(m.ts_ms, m.ts ?? m.time),
      market: m.market_ticker,
      lastPrice: hasLast ? priceOf(m.price_dollars, m.price, "price_dollars") : -1,
      yesBid: priceOf(m.yes_bid_dollars, m.yes_bid, "yes_bid_dollars"),
      yesAsk: priceOf(m.yes_ask_dollars, m.yes_ask, "yes_ask_dollars"),
      // Absent counts are -1 (unknown): 0 would claim an empty best level or no volume.
      yesBidSize: countOf(m.yes_bid_size_fp, undefined, "yes_bid_size_fp", -1),
      yesAskSize: countOf(m.yes_ask_size_fp, undefined, "yes_ask_size_fp", -1),
      volume: countOf(m.volume_fp, m.volume, "volume_fp", -1),
      openInterest: countOf(m.open_interest_fp, m.open_interest, "open_interest_fp", -1),
    },
  ]);
}

function parseTrade(env: Envelope, tsRecv: TsUs): Ok {
  const m = check(tradeMsg, env.msg, "trade");
  const takerSide =
    m.taker_outcome_side ??
    (m.taker_book_side !== undefined ? (m.taker_book_side === "bid" ? "yes" : "no") : undefined) ??
    m.taker_side;
  if (takerSide === undefined) fail("trade: missing taker_outcome_side");
  return ok(env, [
    {
      kind: "public_trade",
      tsRecv,
      tsExchange: exchangeTs(m.ts_ms, m.ts),
      market: m.market_ticker,
      tradeId: m.trade_id,
      yesPrice: priceOf(m.yes_price_dollars, m.yes_price, "yes_price_dollars"),
      count: countOf(m.count_fp, m.count, "count_fp"),
      takerSide,
      sid: sidOf(env),
      seq: seqOf(env),
      ...(m.is_block_trade === true ? { blockTrade: true as const } : {}),
    },
  ]);
}

function parseFill(env: Envelope, tsRecv: TsUs): Ok {
  const m = check(fillMsg, env.msg, "fill");
  // Direction: outcome_side, else book_side, else the deprecated side+action (a sell reduces the side,
  // i.e. positions toward the other outcome), else purchased_side.
  let outcome: "yes" | "no" | undefined = m.outcome_side;
  if (outcome === undefined && m.book_side !== undefined) outcome = m.book_side === "bid" ? "yes" : "no";
  if (outcome === undefined && m.side !== undefined && m.action !== undefined) {
    outcome = m.action === "buy" ? m.side : m.side === "yes" ? "no" : "yes";
  }
  outcome ??= m.purchased_side;
  if (outcome === undefined) fail("fill: missing outcome_side/book_side");
  const bookSideValue = m.book_side ?? (outcome === "yes" ? "bid" : "ask");
  return ok(env, [
    {
      kind: "fill",
      tsRecv,
      tsExchange: exchangeTs(m.ts_ms, m.ts),
      tradeId: m.trade_id,
      orderId: m.order_id,
      clientOrderId: m.client_order_id ?? null,
      market: m.market_ticker,
      bookSide: bookSideValue,
      outcomeSide: outcome,
      yesPrice: priceOf(m.yes_price_dollars, m.yes_price, "yes_price_dollars"),
      count: countOf(m.count_fp, m.count, "count_fp"),
      // The spec example omits fee_cost; absent means the venue reported none.
      fee: m.fee_cost !== undefined ? parseMoneyDollars(m.fee_cost) : 0,
      isTaker: m.is_taker,
    },
  ]);
}

function parseUserOrder(env: Envelope, tsRecv: TsUs): Ok {
  const m = check(userOrderMsg, env.msg, "user_order");
  const market = m.ticker ?? m.market_ticker;
  if (market === undefined) fail("user_order: missing ticker");
  let bs = m.book_side;
  // outcome_side is the direction already (buy-yes and sell-no are "yes"), like book_side.
  if (bs === undefined && m.outcome_side !== undefined) bs = m.outcome_side === "yes" ? "bid" : "ask";
  if (bs === undefined) {
    // Legacy frames name the contract: buying YES bids on the YES book, buying NO asks on it, and a
    // sell is the other way round (frames without action are buys).
    const yes = m.side !== undefined ? m.side === "yes" : m.is_yes;
    if (yes === undefined) fail("user_order: missing book_side/outcome_side");
    bs = yes !== (m.action === "sell") ? "bid" : "ask";
  }
  // "cancelled" is the spelling some frames use for "canceled" (REST maps it the same way).
  const statusText = m.status === "cancelled" ? "canceled" : m.status;
  const status: OrderStatus = ORDER_STATUSES.has(statusText) ? (statusText as OrderStatus) : "unknown";
  const tsMs = m.last_updated_ts_ms ?? m.created_ts_ms;
  return ok(env, [
    {
      kind: "order_update",
      tsRecv,
      tsExchange: tsMs !== undefined ? usFromMs(tsMs, "last_updated_ts_ms") : null,
      orderId: m.order_id,
      clientOrderId: m.client_order_id ?? "",
      market,
      status,
      bookSide: bs,
      yesPrice: priceOf(m.yes_price_dollars, m.yes_price, "yes_price_dollars"),
      filled: countOf(m.fill_count_fp, m.fill_count, "fill_count_fp"),
      remaining: countOf(m.remaining_count_fp, m.remaining_count, "remaining_count_fp"),
      reason: m.last_update_reason ?? "",
    },
  ]);
}

function parsePosition(env: Envelope, tsRecv: TsUs): Ok {
  const m = check(positionMsg, env.msg, "market_position");
  const money = (v: unknown): Micros => (v === undefined ? 0 : parseMoneyDollars(v));
  const result = ok(env, []);
  result.position = {
    market: m.market_ticker,
    position: parseCountFp(m.position_fp),
    positionCost: money(m.position_cost_dollars),
    realizedPnl: money(m.realized_pnl_dollars),
    feesPaid: money(m.fees_paid_dollars),
    volume: m.volume_fp === undefined ? 0 : parseCountFp(m.volume_fp),
    tsRecv,
  };
  return result;
}

const LIFECYCLE_PHASES: ReadonlySet<string> = new Set([
  "created",
  "activated",
  "deactivated",
  "close_date_updated",
  "determined",
  "settled",
]);

function parseLifecycle(env: Envelope, tsRecv: TsUs): Ok {
  const m = check(lifecycleMsg, env.msg, "market_lifecycle_v2");
  const meta = m.additional_metadata;
  const market = m.market_ticker;
  const sid = sidOf(env);
  const seq = seqOf(env);

  if (m.event_type === "metadata_updated") {
    const strikeType = m.strike_type ?? meta?.strike_type;
    if (strikeType === undefined) {
      // A strike (or close) without its type — each field is optional: move what the frame carries.
      const floorStrike = strikeNumber(m.floor_strike ?? meta?.floor_strike);
      const capStrike = strikeNumber(m.cap_strike ?? meta?.cap_strike);
      const r = ok(env, []);
      if (!Number.isNaN(floorStrike) || !Number.isNaN(capStrike) || m.close_ts !== undefined) {
        r.patch = {
          market,
          tsRecv,
          tsExchange: null,
          ...(Number.isNaN(floorStrike) ? {} : { floorStrike }),
          ...(Number.isNaN(capStrike) ? {} : { capStrike }),
          ...(m.close_ts !== undefined ? { closeTime: usFromS(m.close_ts, "close_ts") } : {}),
        };
      }
      return r;
    }
    if (!STRIKE_TYPES.has(strikeType)) return ok(env, []);
    // The frame names no event as a rule: "" keeps the record's in mergeMarketInfo. A guess from the
    // market ticker would cut the market off its event (and the event's fee updates) when it is wrong.
    const eventTicker = meta?.event_ticker ?? "";
    const info: MarketInfo = {
      kind: "market_info",
      tsRecv,
      tsExchange: null,
      market,
      eventTicker,
      seriesTicker: eventTicker === "" ? "" : seriesTickerOf(eventTicker),
      strikeType: strikeType as StrikeType,
      floorStrike: strikeNumber(m.floor_strike ?? meta?.floor_strike),
      capStrike: strikeNumber(m.cap_strike ?? meta?.cap_strike),
      openTime: m.open_ts !== undefined ? usFromS(m.open_ts, "open_ts") : -1,
      closeTime: m.close_ts !== undefined ? usFromS(m.close_ts, "close_ts") : -1,
      settleTime: m.close_ts !== undefined ? usFromS(m.close_ts, "close_ts") : -1,
      priceRanges: m.price_ranges ? parseRanges(m.price_ranges) : [],
      // The frame carries no fees: NaN keeps the prior schedule in mergeMarketInfo.
      feeType: "quadratic",
      feeMultiplier: Number.NaN,
      status: "",
    };
    return ok(env, [info]);
  }

  if (m.event_type === "price_level_structure_updated") {
    // Resting orders are kept; the grid changes (reference §7.1). Merged by MarketDirectory.
    const r = ok(env, []);
    const priceRanges = framePriceRanges(m);
    if (priceRanges !== null) r.patch = { market, tsRecv, tsExchange: null, priceRanges };
    return r;
  }
  if (!LIFECYCLE_PHASES.has(m.event_type)) return { ...ok(env, []), ignored: `market_lifecycle_v2:${m.event_type}` };
  const phase = m.event_type as MarketLifecycle["phase"];
  let tsExchange: TsUs | null = null;
  if (phase === "determined" && m.determination_ts !== undefined) tsExchange = usFromS(m.determination_ts, "determination_ts");
  if (phase === "settled" && m.settled_ts !== undefined) tsExchange = usFromS(m.settled_ts, "settled_ts");
  const result: MarketResult | null =
    m.result !== undefined && MARKET_RESULTS.has(m.result) ? (m.result as MarketResult) : null;
  let expirationValue = Number.NaN;
  if (m.expiration_value !== undefined && m.expiration_value !== "") {
    expirationValue = Number(m.expiration_value);
    if (!Number.isFinite(expirationValue)) fail("market_lifecycle_v2: bad expiration_value");
  }
  const lifecycle: MarketLifecycle = {
    kind: "market_lifecycle",
    tsRecv,
    tsExchange,
    market,
    phase,
    result,
    settlementValue: m.settlement_value !== undefined ? parsePriceDollars(m.settlement_value) : -1,
    expirationValue,
    closeTime: phase === "close_date_updated" && m.close_ts !== undefined ? usFromS(m.close_ts, "close_ts") : -1,
    sid,
    seq,
  };
  if (phase === "close_date_updated" && m.close_ts === undefined) fail("close_date_updated: missing close_ts");

  if (phase !== "created") return ok(env, [lifecycle]);

  const strikeType = meta?.strike_type ?? m.strike_type;
  if (strikeType === undefined || !STRIKE_TYPES.has(strikeType) || m.close_ts === undefined) {
    // No whole record without a strike type we model (or a close), but the shard (only ever sent
    // here, §4.7 authoritative), the times and the grid still hold: a patch, merged over the record.
    const r = ok(env, [lifecycle]);
    const priceRanges = framePriceRanges(m);
    const modelled = strikeType !== undefined && STRIKE_TYPES.has(strikeType);
    const floorStrike = modelled ? strikeNumber(meta?.floor_strike ?? m.floor_strike) : Number.NaN;
    const capStrike = modelled ? strikeNumber(meta?.cap_strike ?? m.cap_strike) : Number.NaN;
    const patch: MarketPatch = {
      market,
      tsRecv,
      tsExchange: null,
      ...(m.exchange_index !== undefined ? { exchangeIndex: m.exchange_index } : {}),
      ...(m.open_ts !== undefined ? { openTime: usFromS(m.open_ts, "open_ts") } : {}),
      ...(m.close_ts !== undefined ? { closeTime: usFromS(m.close_ts, "close_ts") } : {}),
      ...(priceRanges !== null ? { priceRanges } : {}),
      ...(modelled ? { strikeType: strikeType as StrikeType } : {}),
      ...(Number.isNaN(floorStrike) ? {} : { floorStrike }),
      ...(Number.isNaN(capStrike) ? {} : { capStrike }),
    };
    if (Object.keys(patch).length > 3) r.patch = patch;
    return r;
  }
  const eventTicker = meta?.event_ticker ?? eventTickerOf(market);
  const openTime = m.open_ts !== undefined ? usFromS(m.open_ts, "open_ts") : -1;
  const closeTime = usFromS(m.close_ts, "close_ts");
  const info: MarketInfo = {
    kind: "market_info",
    tsRecv,
    tsExchange: null,
    market,
    eventTicker,
    seriesTicker: seriesTickerOf(eventTicker),
    strikeType: strikeType as StrikeType,
    floorStrike: strikeNumber(meta?.floor_strike ?? m.floor_strike),
    capStrike: strikeNumber(meta?.cap_strike ?? m.cap_strike),
    openTime,
    closeTime,
    settleTime: closeTime,
    // Whole cents are valid in every structure: the grid assumed when the frame gives none.
    priceRanges: framePriceRanges(m) ?? LINEAR_CENT_RANGES,
    feeType: "quadratic",
    feeMultiplier: 1,
    // Kalshi emits no event when open_time passes, so the status is read off the receipt time.
    status: openTime >= 0 && tsRecv >= openTime ? "active" : "initialized",
  };
  const r = ok(env, [info, lifecycle]);
  if (m.exchange_index !== undefined) r.patch = { market, tsRecv, tsExchange: null, exchangeIndex: m.exchange_index };
  return r;
}

function parseCfb(env: Envelope, tsRecv: TsUs): Ok {
  const m = check(cfbMsg, env.msg, "cfbenchmarks_value");
  let inner: unknown;
  try {
    inner = JSON.parse(m.data);
  } catch {
    fail("cfbenchmarks_value: data is not JSON");
  }
  const d = check(cfbData, inner, "cfbenchmarks_value.data");
  const value = Number(d.value);
  if (!Number.isFinite(value) || value <= 0) fail("cfbenchmarks_value: bad value");
  let avg60s = Number.NaN;
  if (m.avg_60s_data) {
    avg60s = Number(m.avg_60s_data.value);
    if (!Number.isFinite(avg60s)) fail("cfbenchmarks_value: bad avg_60s_data.value");
  }
  let quarterAvg = Number.NaN;
  let quarterTicks = 0;
  const q = m.last_60s_windowed_average_15min;
  if (q) {
    quarterAvg = Number(q.value);
    if (!Number.isFinite(quarterAvg) || quarterAvg <= 0) fail("cfbenchmarks_value: bad last_60s_windowed_average_15min.value");
    quarterTicks = q.window_size;
  }
  const sourceMs = d.time ?? m.received_at;
  return ok(env, [
    {
      kind: "index_value",
      tsRecv,
      tsExchange: sourceMs !== undefined ? usFromMs(sourceMs, "time") : null,
      indexId: m.index_id,
      value,
      avg60s,
      quarterAvg,
      quarterTicks,
      sid: sidOf(env),
      seq: seqOf(env),
    },
  ]);
}

/** A control reply that consumed a seq on its subscription becomes an event, so seq checks downstream stay exact. */
function sequencedReply(env: Envelope, markets: readonly string[], tsRecv: TsUs): EngineEvent[] {
  if (env.sid === undefined || env.seq === undefined) return [];
  return [{ kind: "subscription_updated", tsRecv, tsExchange: null, sid: env.sid, seq: env.seq, markets: [...markets] }];
}

function parseControl(env: Envelope, raw: Record<string, unknown>, tsRecv: TsUs): Ok {
  const id = env.id ?? 0;
  switch (env.type) {
    case "subscribed": {
      // Older servers answered {"type":"subscribed","id":1} without msg.
      if (env.msg === undefined) return { ...ok(env, []), control: { type: "subscribed", id, sid: sidOf(env), channel: "" } };
      const m = check(subscribedMsg, env.msg, "subscribed");
      return { ...ok(env, []), sid: m.sid, control: { type: "subscribed", id, sid: m.sid, channel: m.channel } };
    }
    case "ok": {
      if (Array.isArray(env.msg)) {
        const list = check(listMsg, env.msg, "ok (list_subscriptions)");
        return {
          ...ok(env, []),
          control: { type: "ok", id, sid: sidOf(env), seq: seqOf(env), marketTickers: [], subscriptions: list },
        };
      }
      // Older servers put market_tickers at top level.
      const m = check(okMsg, env.msg ?? {}, "ok");
      const top = Array.isArray(raw["market_tickers"]) ? raw["market_tickers"] : undefined;
      const tickers = m.market_tickers ?? (top ? check(z.array(z.string()), top, "ok") : []);
      return {
        ...ok(env, sequencedReply(env, tickers, tsRecv)),
        control: { type: "ok", id, sid: sidOf(env), seq: seqOf(env), marketTickers: tickers },
      };
    }
    case "unsubscribed":
      return { ...ok(env, sequencedReply(env, [], tsRecv)), control: { type: "unsubscribed", id, sid: sidOf(env), seq: seqOf(env) } };
    default: {
      const m = check(errorMsg, env.msg, "error");
      return {
        ...ok(env, []),
        control: {
          type: "error",
          id,
          sid: sidOf(env),
          code: m.code,
          message: m.msg ?? m.message ?? "",
          market: m.market_ticker ?? m.market_tickers?.[0] ?? null,
          markets: m.market_tickers ?? (m.market_ticker !== undefined ? [m.market_ticker] : []),
        },
      };
    }
  }
}

// ---- entry point -------------------------------------------------------------------------------

export function parseKalshiFrame(text: string, tsRecv: TsUs, opts: KalshiParseOptions): KalshiFrameResult {
  const r = parseFrame(text, tsRecv, opts);
  // The seq rule (lib/core/seq.ts): a sequenced frame consumed its number even when it says nothing
  // else, so it must reach every seq check — as a subscription_updated when no event carries it.
  if (r.ok && r.sid >= 0 && r.seq >= 0 && !r.events.some((e) => carriesSeq(e, r.sid, r.seq))) {
    r.events.push({ kind: "subscription_updated", tsRecv, tsExchange: null, sid: r.sid, seq: r.seq, markets: [] });
  }
  return r;
}

function carriesSeq(e: EngineEvent, sid: number, seq: number): boolean {
  const s = sequenceOf(e);
  return s !== null && s.sid === sid && s.seq === seq;
}

/** Keys whose null means something (an event's fee override set to null is cleared). */
const NULL_IS_A_VALUE: ReadonlySet<string> = new Set(["fee_type_override", "fee_multiplier_override"]);

/**
 * The message with every null-valued object key removed but those of NULL_IS_A_VALUE: the schemas mark
 * fields optional, and a venue that sends `"client_order_id": null` means "none", not a bad frame.
 * Nulls inside arrays (a level's size) stay and are refused.
 */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x: unknown) => (x !== null && typeof x === "object" ? withoutNulls(x) : x));
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === "__proto__") continue; // no Kalshi field; assigning it would set the copy's prototype
    if (x === null) {
      if (NULL_IS_A_VALUE.has(k)) out[k] = null;
    } else out[k] = typeof x === "object" ? withoutNulls(x) : x;
  }
  return out;
}

function parseFrame(text: string, tsRecv: TsUs, opts: KalshiParseOptions): KalshiFrameResult {
  try {
    const json = parseJsonObject(text);
    if (!json.ok) return json;
    // Only the message: a null sid or seq in the envelope is a bad frame, not an unsequenced one. Most
    // frames hold no null at all; only those pay for the copy.
    const raw = text.includes("null") && json.value["msg"] !== undefined ? { ...json.value, msg: withoutNulls(json.value["msg"]) } : json.value;
    const env = check(envelope, raw, "envelope");
    if (env.seq !== undefined && env.seq < 0) fail("envelope: negative seq");
    const r = parseMessage(env, raw, tsRecv, opts);
    if (r.ok && r.ignored === undefined) {
      // Over the message as received: a null field is a field too (withoutNulls drops it from the copy).
      const unknown = unknownFieldsOf(r.type, json.value["msg"]);
      if (unknown) r.unknownFields = unknown;
    }
    return r;
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : "unparseable frame", ...envelopeOf(text) };
  }
}

/** sid, seq and type of a frame whose message was refused, when its envelope reads as such. */
function envelopeOf(text: string): { sid: number; seq: number; type: string } {
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || typeof v !== "object" || Array.isArray(v)) return { sid: -1, seq: -1, type: "" };
    const o = v as Record<string, unknown>;
    const int = (x: unknown): number => (typeof x === "number" && Number.isSafeInteger(x) && x >= 0 ? x : -1);
    return { sid: int(o["sid"]), seq: int(o["seq"]), type: typeof o["type"] === "string" ? o["type"].slice(0, 80) : "" };
  } catch {
    return { sid: -1, seq: -1, type: "" };
  }
}

/** One checked envelope → its result, by message type (throws FrameError on a bad field). */
function parseMessage(env: Envelope, raw: Record<string, unknown>, tsRecv: TsUs, opts: KalshiParseOptions): KalshiFrameResult {
  switch (env.type) {
    case "subscribed":
    case "ok":
    case "unsubscribed":
    case "error":
      return parseControl(env, raw, tsRecv);
    case "orderbook_snapshot":
      return parseSnapshot(env, tsRecv, opts);
    case "orderbook_delta":
      return parseDelta(env, tsRecv, opts);
    case "ticker":
      return parseTicker(env, tsRecv);
    case "trade":
      return parseTrade(env, tsRecv);
    case "fill":
      return parseFill(env, tsRecv);
    case "user_order":
      return parseUserOrder(env, tsRecv);
    case "market_position":
      return parsePosition(env, tsRecv);
    case "market_lifecycle_v2":
      return parseLifecycle(env, tsRecv);
    case "event_lifecycle": {
      const m = check(eventLifecycleMsg, env.msg, env.type);
      const r = ok(env, []);
      r.eventPatch = {
        eventTicker: m.event_ticker,
        tsRecv,
        ...(m.series_ticker ? { seriesTicker: m.series_ticker } : {}),
        ...(m.exchange_index !== undefined ? { exchangeIndex: m.exchange_index } : {}),
      };
      return r;
    }
    case "event_fee_update": {
      const m = check(eventFeeMsg, env.msg, env.type);
      let mult: number | null = null;
      if (m.fee_multiplier_override !== undefined && m.fee_multiplier_override !== null) {
        mult = Number(m.fee_multiplier_override);
        if (!Number.isFinite(mult) || mult < 0) fail("event_fee_update: bad fee_multiplier_override");
      }
      const r = ok(env, []);
      r.eventPatch = { eventTicker: m.event_ticker, tsRecv, feeOverride: { feeType: m.fee_type_override ?? null, feeMultiplier: mult } };
      return r;
    }
    case "cfbenchmarks_value":
      return parseCfb(env, tsRecv);
    default:
      return { ...ok(env, []), ignored: env.type };
  }
}

// ---- REST Market object ------------------------------------------------------------------------

const restMarket = z.object({
  ticker: z.string().min(1),
  event_ticker: z.string().min(1),
  strike_type: z.string(),
  floor_strike: strikeValue,
  cap_strike: strikeValue,
  open_time: z.string(),
  close_time: z.string(),
  status: z.string().optional(),
  price_ranges: z.array(priceRangeSchema).nullable().optional(),
  updated_time: z.string().optional(),
  fee_waiver_expiration_time: z.string().nullable().optional(),
});

/** Thrown by `parseKalshiMarket` for a Market object it cannot turn into a MarketInfo. */
export class KalshiMarketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KalshiMarketError";
  }
}

/**
 * The REST Market object (`GET /markets`, `GET /markets/{ticker}`) → MarketInfo. Throws
 * KalshiMarketError with a short reason on a malformed object or an unsupported strike type.
 * Fee fields are not on the Market object: the defaults (quadratic, ×1) apply; override from the series.
 */
export function parseKalshiMarket(json: unknown, tsRecv: TsUs, fee?: { feeType: FeeType; feeMultiplier: number }): MarketInfo {
  try {
    const m = check(restMarket, json, "market");
    if (!STRIKE_TYPES.has(m.strike_type)) fail(`market ${m.ticker}: unsupported strike_type ${m.strike_type}`);
    const closeTime = safeTs(parseIsoToUs(m.close_time), "close_time");
    // The record's own venue time: a listing served late (a CDN-cached page) is older than a strike
    // a metadata_updated frame set meanwhile (MarketDirectory keeps that strike).
    const updated = m.updated_time !== undefined ? parseIsoToUs(m.updated_time) : Number.NaN;
    const waiver = m.fee_waiver_expiration_time;
    return {
      kind: "market_info",
      tsRecv,
      tsExchange: Number.isSafeInteger(updated) ? updated : null,
      market: m.ticker,
      eventTicker: m.event_ticker,
      seriesTicker: seriesTickerOf(m.event_ticker),
      strikeType: m.strike_type as StrikeType,
      floorStrike: strikeNumber(m.floor_strike),
      capStrike: strikeNumber(m.cap_strike),
      openTime: safeTs(parseIsoToUs(m.open_time), "open_time"),
      closeTime,
      settleTime: closeTime,
      priceRanges: m.price_ranges && m.price_ranges.length > 0 ? parseRanges(m.price_ranges) : LINEAR_CENT_RANGES,
      feeType: fee?.feeType ?? "quadratic",
      feeMultiplier: fee?.feeMultiplier ?? 1,
      // null: the venue says no waiver; absent: it did not say (the merge keeps what we knew).
      ...(waiver === undefined ? {} : { feeWaiverUntil: waiver === null || waiver === "" ? -1 : safeTs(parseIsoToUs(waiver), "fee_waiver_expiration_time") }),
      status: m.status ?? "",
    };
  } catch (e) {
    if (e instanceof KalshiMarketError) throw e;
    throw new KalshiMarketError(e instanceof Error ? e.message : "bad market object");
  }
}
