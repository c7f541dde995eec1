/**
 * Coinbase Advanced Trade WebSocket frames → normalized engine events. PURE: no IO, no clock; never
 * throws (a bad frame comes back as `{ ok: false, error }`).
 *
 *  - `ticker` → one SpotQuote per ticker entry (snapshot and update alike). The envelope `timestamp`
 *    (RFC 3339 with nanoseconds, kept to µs) is the venue time: tickers carry no time of their own.
 *  - `market_trades` → one SpotTrade per trade, snapshot included (the last 100 trades: consumers that
 *    only want new prints compare tradeId or tsExchange). `side` on the wire is the MAKER's side, so the
 *    taker side is its opposite (coinbase-brti.md A.6).
 *  - `l2_data`, `candles`, `heartbeats`, `subscriptions`, `status`, `ticker_batch` and unknown channels:
 *    ok with no events (level 2 lives in the raw layer only). The envelope is still validated.
 *  - `subscriptions` (the cumulative ack) → ok with no events and `subscriptions`, channel → products.
 *  - `{"type":"error","message":…}` (keys in any order) → ok:false, `venueError: true`, the venue's text.
 *
 * One bad entry (a ticker or trade that fails its checks) is refused alone: the frame's good entries
 * still arrive and `refused` names each bad one, so a caller counts and logs it. A frame whose every
 * entry is bad is refused as a whole, as is a bad envelope.
 */
import { parseJsonObject } from "../json.ts";
import { z } from "zod";
import type { EngineEvent, SpotQuote, SpotTrade } from "../../core/events.ts";
import { parseIsoToUs as parseIsoUnchecked, UnitParseError, type TsUs } from "../../core/units.ts";

export type CoinbaseFrameResult =
  | {
      ok: true;
      events: EngineEvent[];
      channel: string;
      sequenceNum: number;
      /** Why each refused entry of the frame was refused (empty for a clean frame). */
      refused: string[];
      /** A `subscriptions` ack: what the connection is subscribed to now (subscribe name → products). */
      subscriptions?: Record<string, string[]>;
    }
  | {
      ok: false;
      error: string;
      /** The venue's own `{"type":"error"}` reply, not a frame we could not read. */
      venueError?: true;
      /** The refused frame's own sequence_num when it has a valid one: it still consumed that number. */
      sequenceNum?: number;
    };

class FrameError extends Error {}

function fail(reason: string): never {
  throw new FrameError(reason);
}

const decimalText = z.union([z.string(), z.number()]);

const envelope = z.object({
  channel: z.string().min(1),
  client_id: z.string().optional(),
  timestamp: z.string(),
  sequence_num: z.number().int().nonnegative(),
  events: z.array(z.unknown()),
});

// Events and their entries are checked apart, so one bad entry is refused alone.
const tickerEvent = z.object({ type: z.string().optional(), tickers: z.array(z.unknown()) });
const tickerEntry = z.object({
  product_id: z.string().min(1),
  price: decimalText.optional(),
  best_bid: decimalText,
  best_ask: decimalText,
  best_bid_quantity: decimalText.optional(),
  best_ask_quantity: decimalText.optional(),
});

const tradesEvent = z.object({ type: z.string().optional(), trades: z.array(z.unknown()) });
const tradeEntry = z.object({
  product_id: z.string().min(1),
  trade_id: z.union([z.string().min(1), z.number()]),
  price: decimalText,
  size: decimalText,
  side: z.string(),
  time: z.string().optional(),
});

/** The product an entry names, for a refusal's reason ("?" when it names none). */
function productOf(entry: unknown): string {
  const p = entry !== null && typeof entry === "object" ? (entry as Record<string, unknown>)["product_id"] : undefined;
  return typeof p === "string" ? p.slice(0, 24) : "?";
}

/**
 * Coinbase's sequence_num rule (A.5), shared by the live client and the raw-layer replay so both use
 * the same frames. `last` is the connection's last number in order (−1 before its first frame). A
 * frame at or below it is out of order (dropped); a read frame above it moves it (a gap if not
 * last + 1); a refused frame consumes only the very next number, so its number cannot move the count
 * anywhere else.
 */
export function coinbaseSeqStep(last: number, r: CoinbaseFrameResult): { last: number; inOrder: boolean; gap: boolean } {
  if (!r.ok) return { last: r.sequenceNum !== undefined && r.sequenceNum === last + 1 ? r.sequenceNum : last, inOrder: false, gap: false };
  if (r.sequenceNum <= last) return { last, inOrder: false, gap: false };
  return { last: r.sequenceNum, inOrder: true, gap: r.sequenceNum !== last + 1 };
}

/** The products whose entries a subscription to `productId` gives: `-USDC` ids return the `-USD` product's data (A.1), bar two. */
export function coinbaseProductsFor(productId: string): ReadonlySet<string> {
  const ids = new Set([productId]);
  if (productId.endsWith("-USDC") && productId !== "USDT-USDC" && productId !== "EURC-USDC") ids.add(productId.slice(0, -1));
  return ids;
}

const subscriptionsEvent = z.object({ subscriptions: z.record(z.string(), z.array(z.string())) });

const errorFrame = z.object({ type: z.literal("error"), message: z.string().optional() });

const DECIMAL_RE = /^\d+(?:\.\d+)?$/;

/** A non-negative decimal (string or number) → float. Spot prices are model inputs, not money. */
function decimal(v: string | number | undefined, field: string, dflt?: number): number {
  if (v === undefined) {
    if (dflt !== undefined) return dflt;
    fail(`missing ${field}`);
  }
  if (typeof v === "string" && !DECIMAL_RE.test(v)) fail(`bad ${field} ${JSON.stringify(v).slice(0, 32)}`);
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) fail(`bad ${field}`);
  return n;
}

function zodReason(error: z.ZodError, what: string): string {
  const issue = error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.join(".") : "(root)";
  return `${what}: ${path}: ${issue?.message ?? "invalid"}`;
}

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  fail(zodReason(r.error, what));
}

/** ISO text → µs, refusing instants that do not fit a safe integer; a bad text refuses its entry only. */
function parseIsoToUs(text: string): TsUs {
  let us: TsUs;
  try {
    us = parseIsoUnchecked(text);
  } catch (e) {
    if (!(e instanceof UnitParseError)) throw e;
    fail(`bad timestamp ${JSON.stringify(text).slice(0, 40)}`);
  }
  if (!Number.isSafeInteger(us)) fail(`bad timestamp ${JSON.stringify(text).slice(0, 40)}`);
  return us;
}

function takerFromMakerSide(side: string): SpotTrade["takerSide"] {
  const s = side.toUpperCase();
  if (s === "SELL") return "buy";
  if (s === "BUY") return "sell";
  return "unknown";
}

/** Entries seen in a frame, and why each refused one was refused. */
interface Entries {
  count: number;
  readonly refused: string[];
}

/**
 * Each event's list of entries (`tickers`, `trades`), each entry checked and built on its own: a bad
 * event or entry is one refusal with its reason, the others are built.
 */
function readEntries<K extends string, E>(
  events: readonly unknown[],
  eventSchema: z.ZodType<{ [k in K]: unknown[] }>,
  listKey: K,
  entrySchema: z.ZodType<E>,
  what: string,
  seen: Entries,
  build: (entry: E) => void,
  label: (entry: E) => string,
): void {
  for (const ev of events) {
    const t = eventSchema.safeParse(ev);
    if (!t.success) {
      seen.count++;
      seen.refused.push(zodReason(t.error, what));
      continue;
    }
    for (const entry of t.data[listKey]) {
      seen.count++;
      const parsed = entrySchema.safeParse(entry);
      if (!parsed.success) {
        seen.refused.push(zodReason(parsed.error, `${what} ${productOf(entry)}`));
        continue;
      }
      try {
        build(parsed.data);
      } catch (e) {
        if (!(e instanceof FrameError)) throw e;
        seen.refused.push(`${what} ${label(parsed.data)}: ${e.message}`);
      }
    }
  }
}

export function parseCoinbaseFrame(text: string, tsRecv: TsUs): CoinbaseFrameResult {
  let frameSeq: number | undefined;
  try {
    const json = parseJsonObject(text);
    if (!json.ok) return json;
    const raw = json.value;
    const s = raw["sequence_num"];
    if (typeof s === "number" && Number.isSafeInteger(s) && s >= 0) frameSeq = s;
    if (raw["type"] === "error") {
      const e = errorFrame.safeParse(raw);
      return { ok: false, venueError: true, error: `coinbase error: ${(e.success ? e.data.message : undefined) ?? "(no message)"}` };
    }
    const env = check(envelope, raw, "envelope");
    const tsExchange = parseIsoToUs(env.timestamp);
    const seq = env.sequence_num;
    const events: EngineEvent[] = [];
    const entries: Entries = { count: 0, refused: [] };
    if (env.channel === "ticker") {
      readEntries(env.events, tickerEvent, "tickers", tickerEntry, "ticker", entries, (q) => {
        const quote: SpotQuote = {
          kind: "spot_quote",
          tsRecv,
          tsExchange,
          productId: q.product_id,
          bid: decimal(q.best_bid, "best_bid"),
          ask: decimal(q.best_ask, "best_ask"),
          bidSize: decimal(q.best_bid_quantity, "best_bid_quantity", 0),
          askSize: decimal(q.best_ask_quantity, "best_ask_quantity", 0),
          last: decimal(q.price, "price", Number.NaN),
          seq,
        };
        events.push(quote);
      }, (q) => q.product_id);
    } else if (env.channel === "market_trades") {
      readEntries(env.events, tradesEvent, "trades", tradeEntry, "trade", entries, (tr) => {
        events.push({
          kind: "spot_trade",
          tsRecv,
          tsExchange: tr.time !== undefined ? parseIsoToUs(tr.time) : tsExchange,
          productId: tr.product_id,
          price: decimal(tr.price, "price"),
          size: decimal(tr.size, "size"),
          takerSide: takerFromMakerSide(tr.side),
          tradeId: String(tr.trade_id),
        });
      }, (tr) => `${String(tr.trade_id)} ${tr.product_id}`);
    }
    const refused = entries.refused;
    // Nothing usable at all: the frame itself is refused, with its first reason.
    if (entries.count > 0 && refused.length === entries.count) fail(refused[0]!);
    if (env.channel === "subscriptions") {
      // The ack is cumulative: the last event holding a well-formed list says it all.
      let subscriptions: Record<string, string[]> | undefined;
      for (const ev of env.events) {
        const a = subscriptionsEvent.safeParse(ev);
        if (a.success) subscriptions = a.data.subscriptions;
      }
      if (subscriptions) return { ok: true, events, channel: env.channel, sequenceNum: seq, refused, subscriptions };
    }
    return { ok: true, events, channel: env.channel, sequenceNum: seq, refused };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : "unparseable frame", ...(frameSeq !== undefined ? { sequenceNum: frameSeq } : {}) };
  }
}
