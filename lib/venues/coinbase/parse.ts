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
 *  - `{"type":"error","message":…}` → ok:false with the venue's text.
 */
import { parseJsonObject } from "../json.ts";
import { z } from "zod";
import type { EngineEvent, SpotQuote, SpotTrade } from "../../core/events.ts";
import { parseIsoToUs as parseIsoUnchecked, type TsUs } from "../../core/units.ts";

export type CoinbaseFrameResult =
  | { ok: true; events: EngineEvent[]; channel: string; sequenceNum: number }
  | {
      ok: false;
      error: string;
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

const tickerEvent = z.object({
  type: z.string().optional(),
  tickers: z.array(
    z.object({
      product_id: z.string().min(1),
      price: decimalText.optional(),
      best_bid: decimalText,
      best_ask: decimalText,
      best_bid_quantity: decimalText.optional(),
      best_ask_quantity: decimalText.optional(),
    }),
  ),
});

const tradesEvent = z.object({
  type: z.string().optional(),
  trades: z.array(
    z.object({
      product_id: z.string().min(1),
      trade_id: z.union([z.string().min(1), z.number()]),
      price: decimalText,
      size: decimalText,
      side: z.string(),
      time: z.string().optional(),
    }),
  ),
});

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

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.join(".") : "(root)";
  fail(`${what}: ${path}: ${issue?.message ?? "invalid"}`);
}

/** ISO text → µs, refusing instants that do not fit a safe integer. */
function parseIsoToUs(text: string): TsUs {
  const us = parseIsoUnchecked(text);
  if (!Number.isSafeInteger(us)) fail(`bad timestamp ${JSON.stringify(text).slice(0, 40)}`);
  return us;
}

function takerFromMakerSide(side: string): SpotTrade["takerSide"] {
  const s = side.toUpperCase();
  if (s === "SELL") return "buy";
  if (s === "BUY") return "sell";
  return "unknown";
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
      return { ok: false, error: `coinbase error: ${(e.success ? e.data.message : undefined) ?? "(no message)"}` };
    }
    const env = check(envelope, raw, "envelope");
    const tsExchange = parseIsoToUs(env.timestamp);
    const seq = env.sequence_num;
    const events: EngineEvent[] = [];

    if (env.channel === "ticker") {
      for (const ev of env.events) {
        const t = check(tickerEvent, ev, "ticker");
        for (const q of t.tickers) {
          const bid = decimal(q.best_bid, "best_bid");
          const ask = decimal(q.best_ask, "best_ask");
          const quote: SpotQuote = {
            kind: "spot_quote",
            tsRecv,
            tsExchange,
            productId: q.product_id,
            bid,
            ask,
            bidSize: decimal(q.best_bid_quantity, "best_bid_quantity", 0),
            askSize: decimal(q.best_ask_quantity, "best_ask_quantity", 0),
            last: decimal(q.price, "price", Number.NaN),
            seq,
          };
          events.push(quote);
        }
      }
    } else if (env.channel === "market_trades") {
      for (const ev of env.events) {
        const t = check(tradesEvent, ev, "market_trades");
        for (const tr of t.trades) {
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
        }
      }
    }
    return { ok: true, events, channel: env.channel, sequenceNum: seq };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : "unparseable frame", ...(frameSeq !== undefined ? { sequenceNum: frameSeq } : {}) };
  }
}
