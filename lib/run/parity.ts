/**
 * Parity: prove that paper/live and replay are one code path. A recorded session's tape is replayed
 * through the replayer with the configuration the session stored, and what the replay decides is
 * compared with what the session recorded in the store under its run id:
 *
 *  - decisions: every opportunity row (evaluation time, id, decision, reason, side, model and market
 *    numbers, detail);
 *  - intents:   every order the engine submitted or asked to cancel (order rows with reason
 *               "submitted" / "cancel_submitted" — one per place_order / cancel_order intent);
 *  - orders and fills (paper only): every order state change and fill, since the simulated venue's
 *    reports are re-derived by the replay.
 *
 * Rows are compared as canonical tuples (NaN and absent prices as null, as the store keeps them),
 * sorted by time then content, so the order of rows inside the store does not matter. The report
 * names the first differing row of the first stream that differs.
 *
 * Live tapes hold the venue's real order reports and REST snapshots; the replay executes against the
 * simulator instead, so those events are dropped and only decisions up to the first execution
 * divergence are expected to agree (the report says so).
 */
import { parseEngineOverrides } from "../config.ts";
import { DEFAULT_ENGINE_CONFIG, mergeEngineConfig, type EngineConfig } from "../core/config.ts";
import type { EngineEvent } from "../core/events.ts";
import type { AuditRecord } from "../core/records.ts";
import { openStore, queryObjects } from "../store/db.ts";
import { readTapeEvents } from "../tape/reader.ts";
import { Replay } from "./replay.ts";

export type ParityStream = "decisions" | "intents" | "orders" | "fills";

type Cell = string | number | boolean | null;
type Row = readonly Cell[];

export interface ParityDifference {
  readonly stream: ParityStream;
  /** Position in the sorted stream. */
  readonly index: number;
  readonly columns: readonly string[];
  /** null when that side has no row at this index. */
  readonly recorded: Row | null;
  readonly replayed: Row | null;
}

export interface ParityReport {
  readonly runId: string;
  readonly mode: string;
  readonly identical: boolean;
  readonly counts: Record<ParityStream, { recorded: number; replayed: number } | null>;
  readonly firstDifference: ParityDifference | null;
  readonly eventsReplayed: number;
  readonly eventsDropped: number;
  readonly notes: readonly string[];
}

export const DECISION_COLUMNS = [
  "ts", "eval_id", "market", "decision", "reason", "side", "detail", "p_model", "ev_yes", "ev_no",
  "yes_bid", "yes_ask", "no_bid", "no_ask", "spot", "sigma",
] as const;
export const INTENT_COLUMNS = ["ts", "client_order_id", "market", "outcome", "action", "book_side", "yes_price", "count", "reason", "eval_id"] as const;
export const ORDER_COLUMNS = ["ts", "client_order_id", "order_id", "market", "status", "yes_price", "count", "filled", "reason"] as const;
export const FILL_COLUMNS = ["ts", "trade_id", "client_order_id", "order_id", "market", "outcome", "action", "price", "count", "fee", "is_taker", "position_after"] as const;

const num = (v: number): number | null => (Number.isNaN(v) ? null : v);
const price = (v: number): number | null => (v < 0 ? null : v);
const cell = (v: unknown): Cell => (v === undefined ? null : typeof v === "bigint" ? Number(v) : (v as Cell));

/** Canonical tuples of the audit records a replay produced (same shape as the store rows below). */
export function recordRows(records: readonly AuditRecord[]): Record<ParityStream, Row[]> {
  const out: Record<ParityStream, Row[]> = { decisions: [], intents: [], orders: [], fills: [] };
  for (const r of records) {
    switch (r.kind) {
      case "opportunity":
        out.decisions.push([r.ts, r.evalId, r.market, r.decision, r.reason, r.side, r.detail, num(r.pModel), num(r.evYes), num(r.evNo), price(r.yesBid), price(r.yesAsk), price(r.noBid), price(r.noAsk), num(r.spot), num(r.sigma)]);
        break;
      case "order":
        if (r.reason === "submitted" || r.reason === "cancel_submitted") {
          out.intents.push([r.ts, r.clientOrderId, r.market, r.outcome, r.action, r.bookSide, r.yesPrice, r.count, r.reason, r.evalId]);
        }
        out.orders.push([r.ts, r.clientOrderId, r.orderId, r.market, r.status, r.yesPrice, r.count, r.filled, r.reason]);
        break;
      case "fill_record":
        out.fills.push([r.ts, r.tradeId, r.clientOrderId, r.orderId, r.market, r.outcome, r.action, r.price, r.count, r.fee, r.isTaker, r.positionAfter]);
        break;
      default:
        break;
    }
  }
  for (const k of Object.keys(out) as ParityStream[]) sortRows(out[k]);
  return out;
}

function sortRows(rows: Row[]): void {
  const keyed = rows.map((r) => [Number(r[0]), JSON.stringify(r), r] as const);
  keyed.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  for (let i = 0; i < rows.length; i++) rows[i] = keyed[i]![2];
}

/** First index where two sorted streams differ, or -1. */
export function firstMismatch(a: readonly Row[], b: readonly Row[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined) return i;
    if (x.length !== y.length) return i;
    for (let j = 0; j < x.length; j++) if (!Object.is(x[j], y[j]) && !(x[j] === y[j])) return i;
  }
  return -1;
}

/** The rows a session wrote to the store under `runId`, in the canonical shapes. */
export async function storedRows(dbPath: string, runId: string): Promise<{ mode: string; configJson: string; rows: Record<ParityStream, Row[]> }> {
  const store = await openStore(dbPath);
  try {
    const runs = await queryObjects(store, `SELECT mode, config_json FROM runs WHERE run_id = $1`, [runId]);
    const run = runs[0];
    if (!run) throw new Error(`run ${runId} not found in ${dbPath}`);
    const q = async (sql: string): Promise<Row[]> => (await queryObjects(store, sql, [runId])).map((o) => Object.values(o).map(cell));
    const rows: Record<ParityStream, Row[]> = {
      decisions: await q(
        `SELECT ts_us, eval_id, market, decision, reason, side, detail, p_model, ev_yes, ev_no, yes_bid_e4, yes_ask_e4, no_bid_e4, no_ask_e4, spot, sigma FROM opportunities WHERE run_id = $1`,
      ),
      intents: await q(
        `SELECT ts_us, client_order_id, market, outcome, action, book_side, yes_price_e4, count_e2, reason, eval_id FROM orders WHERE run_id = $1 AND reason IN ('submitted', 'cancel_submitted')`,
      ),
      orders: await q(`SELECT ts_us, client_order_id, order_id, market, status, yes_price_e4, count_e2, filled_e2, reason FROM orders WHERE run_id = $1`),
      fills: await q(
        `SELECT ts_us, trade_id, client_order_id, order_id, market, outcome, action, price_e4, count_e2, fee_micros, is_taker, position_after_e2 FROM fills WHERE run_id = $1`,
      ),
    };
    for (const k of Object.keys(rows) as ParityStream[]) sortRows(rows[k]);
    return { mode: String(run.mode), configJson: String(run.config_json), rows };
  } finally {
    await store.close();
  }
}

/** The engine configuration a session stored (runs.config_json), validated. */
export function configFromJson(json: string): EngineConfig {
  return mergeEngineConfig(DEFAULT_ENGINE_CONFIG, parseEngineOverrides(JSON.parse(json), "runs.config_json"));
}

/** Account events a live session got from the venue; the replay re-derives execution instead. */
const LIVE_ONLY: ReadonlySet<EngineEvent["kind"]> = new Set(["order_update", "fill", "position_snapshot"]);

/** Replay a tape with a config and collect the audit records. */
export async function replayTape(tapeDir: string, config: EngineConfig, opts: { dropLiveAccountEvents?: boolean } = {}): Promise<{ records: AuditRecord[]; events: number; dropped: number }> {
  const records: AuditRecord[] = [];
  const replay = new Replay([{ config, onRecord: (r) => records.push(r) }]);
  let dropped = 0;
  for await (const batch of readTapeEvents(tapeDir)) {
    for (const te of batch) {
      if (opts.dropLiveAccountEvents && LIVE_ONLY.has(te.event.kind)) {
        dropped++;
        continue;
      }
      replay.feed(te.event);
    }
  }
  replay.finish();
  return { records, events: replay.stats.events, dropped };
}

export interface ParityOptions {
  readonly tapeDir: string;
  readonly runId: string;
  readonly dbPath: string;
}

export async function checkParity(opts: ParityOptions): Promise<ParityReport> {
  const stored = await storedRows(opts.dbPath, opts.runId);
  const config = configFromJson(stored.configJson);
  const live = stored.mode === "live";
  const notes: string[] = [];
  if (live) notes.push("live run: venue order reports and REST snapshots are not replayed; execution is re-simulated, so rows after the first fill may legitimately differ");
  const rep = await replayTape(opts.tapeDir, config, { dropLiveAccountEvents: live });
  const replayed = recordRows(rep.records);
  const streams: ParityStream[] = live ? ["decisions", "intents"] : ["decisions", "intents", "orders", "fills"];
  const counts: ParityReport["counts"] = { decisions: null, intents: null, orders: null, fills: null };
  let firstDifference: ParityDifference | null = null;
  const columns: Record<ParityStream, readonly string[]> = { decisions: DECISION_COLUMNS, intents: INTENT_COLUMNS, orders: ORDER_COLUMNS, fills: FILL_COLUMNS };
  for (const s of streams) {
    const a = stored.rows[s];
    const b = replayed[s];
    counts[s] = { recorded: a.length, replayed: b.length };
    if (firstDifference) continue;
    const i = firstMismatch(a, b);
    if (i >= 0) firstDifference = { stream: s, index: i, columns: columns[s], recorded: a[i] ?? null, replayed: b[i] ?? null };
  }
  if (stored.rows.decisions.length === 0) notes.push("the run recorded no decisions: parity holds trivially");
  return {
    runId: opts.runId,
    mode: stored.mode,
    identical: firstDifference === null,
    counts,
    firstDifference,
    eventsReplayed: rep.events,
    eventsDropped: rep.dropped,
    notes,
  };
}

/** One human paragraph for the CLI. */
export function formatParity(r: ParityReport): string {
  const lines: string[] = [];
  const c = (s: ParityStream) => (r.counts[s] ? `${s} ${r.counts[s]!.recorded}/${r.counts[s]!.replayed}` : null);
  lines.push(`parity of ${r.mode} run ${r.runId}: ${r.identical ? "IDENTICAL" : "DIFFERENT"} (recorded/replayed: ${(["decisions", "intents", "orders", "fills"] as const).map(c).filter(Boolean).join(", ")}; ${r.eventsReplayed} events replayed${r.eventsDropped ? `, ${r.eventsDropped} dropped` : ""})`);
  const d = r.firstDifference;
  if (d) {
    lines.push(`first difference in ${d.stream} at row ${d.index}:`);
    const show = (row: Row | null) => (row ? d.columns.map((k, i) => `${k}=${JSON.stringify(row[i])}`).join(" ") : "(no row)");
    lines.push(`  recorded: ${show(d.recorded)}`);
    lines.push(`  replayed: ${show(d.replayed)}`);
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join("\n");
}
