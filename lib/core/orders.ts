/**
 * Order manager: the life of our own orders, the V2 YES-book mapping, write-rate limiting, and the
 * rule that a write with an unknown outcome is never assumed rejected and never resent.
 *
 * V2 order entry speaks only the YES book (reference §4.4): `side` is bid/ask on the YES book and
 * `price` is always the YES price. Our intents speak (outcome, action, own-leg price). `toYesBook` and
 * `fromYesBook` are the only translation between the two; getting it wrong buys the opposite outcome.
 *
 * Status life cycle (OrderStatus):
 *   pending ─┬─ definite 4xx ─────────────→ rejected
 *            ├─ timeout/5xx/429/garbage ──→ unknown ─┐
 *            └─ venue update/fill ────────→ resting / executed / canceled
 *   unknown ── venue update / fill / reconcile ──→ resting / executed / canceled   (never rejected)
 *   resting ── update / fill / reconcile ────────→ executed / canceled; a cancel write whose outcome
 *              is unknown makes it unknown again.
 * canceled/executed are final, except that a late fill still counts (REST reads lag the venue by ~1 s,
 * so a reconcile may call an order canceled just before its fill arrives) and the venue's "executed"
 * overrides our "canceled".
 *
 * Filled quantity: fills are summed (deduplicated by trade id) and order updates report a cumulative
 * filled count; `filled` is the larger of the two, so a fill and the update that reflects it are
 * never counted twice, in whichever order they arrive.
 */
import type { BookSide, OrderStatus, OrderUpdate, OwnFill, RestingOrderEntry } from "./events.ts";
import type { OrderAction, OrderRecord, Outcome, PlaceOrder, TimeInForce } from "./records.ts";
import type { OrderConfig } from "./config.ts";
import type { FillInput } from "./portfolio.ts";
import { TokenBucket } from "./ratelimit.ts";
import { PRICE_ONE, formatCountFp, formatPriceDollars, type CountE2, type Micros, type PriceE4, type TsUs } from "./units.ts";

// ---- The YES-book mapping ----------------------------------------------------------------------

/**
 * Reason prefix of an order report saying the venue refused our cancel and the order still rests
 * (a 429, a 4xx): the live transport and the simulated venue both write it, and it ends the cancel
 * in flight so the engine may cancel again.
 */
export const CANCEL_REFUSED = "cancel refused";

/**
 * Reason suffix of a `canceled` the transport inferred because REST did not know the order (a create
 * that timed out, then was not found). REST lags writes, so a later venue report that it rests, or a
 * fill, reopens such an order; a canceled the venue itself reported stays final.
 */
export const NOT_AT_VENUE = "not at venue";

/** THE mapping (reference §4.4): buy YES p → bid p; sell YES p → ask p; buy NO q → ask 1−q; sell NO q → bid 1−q. */
export function toYesBook(outcome: Outcome, action: OrderAction, price: PriceE4): { side: BookSide; yesPrice: PriceE4 } {
  if (outcome === "yes") return { side: action === "buy" ? "bid" : "ask", yesPrice: price };
  return { side: action === "buy" ? "ask" : "bid", yesPrice: PRICE_ONE - price };
}

/** The inverse, for fills/updates that report book_side + YES price. */
export function fromYesBook(side: BookSide, yesPrice: PriceE4, action: OrderAction): { outcome: Outcome; price: PriceE4 } {
  // bid = buy YES / sell NO; ask = sell YES / buy NO.
  const outcome: Outcome = side === "bid" ? (action === "buy" ? "yes" : "no") : action === "sell" ? "yes" : "no";
  return { outcome, price: outcome === "yes" ? yesPrice : PRICE_ONE - yesPrice };
}

/** Body of POST /portfolio/events/orders (CreateOrderV2Request), strings formatted with units.ts. */
export function toCreateOrderV2(
  intent: PlaceOrder,
  opts?: { selfTradePrevention?: "taker_at_cross" | "maker"; exchangeIndex?: number },
): Record<string, unknown> {
  const { side, yesPrice } = toYesBook(intent.outcome, intent.action, intent.price);
  // Orders must sit strictly inside (0, 1) and be for a positive count; anything else is a bug upstream.
  if (!Number.isSafeInteger(yesPrice) || yesPrice <= 0 || yesPrice >= PRICE_ONE) {
    throw new RangeError(`order price outside (0, 1): ${intent.price} (${intent.outcome} ${intent.action})`);
  }
  if (!Number.isSafeInteger(intent.count) || intent.count <= 0) throw new RangeError(`order count must be > 0: ${intent.count}`);
  const body: Record<string, unknown> = {
    ticker: intent.market,
    client_order_id: intent.clientOrderId,
    side,
    count: formatCountFp(intent.count),
    price: formatPriceDollars(yesPrice),
    time_in_force: intent.tif,
    self_trade_prevention_type: opts?.selfTradePrevention ?? "taker_at_cross",
    post_only: intent.postOnly,
    reduce_only: intent.reduceOnly,
  };
  if (opts?.exchangeIndex !== undefined) body.exchange_index = opts.exchangeIndex;
  return body;
}

// ---- Tracked orders ----------------------------------------------------------------------------

export interface TrackedOrder {
  readonly clientOrderId: string;
  readonly orderId: string | null;
  readonly market: string;
  readonly outcome: Outcome;
  readonly action: OrderAction;
  /** Own-leg limit price. */
  readonly price: PriceE4;
  /** Total count (filled + remaining). */
  readonly count: CountE2;
  readonly filled: CountE2;
  readonly status: OrderStatus;
  readonly createdTs: TsUs;
  readonly lastTs: TsUs;
  readonly evalId: string;
  // Additions to the original contract:
  readonly bookSide: BookSide;
  readonly yesPrice: PriceE4;
  readonly tif: TimeInForce;
  readonly postOnly: boolean;
  readonly reduceOnly: boolean;
  /** A cancel was sent and not yet confirmed. */
  readonly cancelRequested: boolean;
  /** An amend was sent and the venue has not reported the order since (event time of the amend, or -1). */
  readonly amendRequestedTs: TsUs;
  /** Why the last change happened. */
  readonly reason: string;
}

type MutableOrder = { -readonly [K in keyof TrackedOrder]: TrackedOrder[K] } & {
  /** Σ unique fills. */
  fillSum: CountE2;
  /** Canceled only because the venue did not know it (NOT_AT_VENUE, or absent from a reconcile). */
  closedByAbsence: boolean;
  /** Largest cumulative filled count the venue reported. */
  filledReported: CountE2;
};

const OPEN: ReadonlySet<OrderStatus> = new Set<OrderStatus>(["pending", "resting", "unknown"]);
const IN_FLIGHT: ReadonlySet<OrderStatus> = new Set<OrderStatus>(["pending", "unknown"]);
const NO_MARKETS: ReadonlySet<string> = new Set();

/** What open entry orders would add if they filled: in one market, and in all. */
export interface OpenEntryCosts {
  readonly inMarket: Micros;
  readonly total: Micros;
}
const NO_COSTS: OpenEntryCosts = { inMarket: 0, total: 0 };

/**
 * Contracts of an order that may still become position: what remains of an open one, plus fills the
 * venue reported that have not reached us yet (an executed report can overtake its fills in live).
 */
function unappliedCount(o: MutableOrder): CountE2 {
  const remaining = OPEN.has(o.status) ? Math.max(o.count - o.filled, 0) : 0;
  return remaining + Math.max(o.filledReported - o.fillSum, 0);
}

function publicView(o: MutableOrder): TrackedOrder {
  const { fillSum: _f, filledReported: _r, ...rest } = o;
  return rest;
}

/** A fill turned into the portfolio's input: the order's own outcome/action when known. */
export function ownFillToFillInput(f: OwnFill, order?: TrackedOrder | null): FillInput {
  // Without the order, bid/ask is enough: bid ≡ buy YES at y, ask ≡ buy NO at 1 − y (the portfolio
  // nets YES/NO, so "sell NO" and "buy YES" at the same YES price are the same position change).
  const action: OrderAction = order ? order.action : "buy";
  const { outcome, price } = fromYesBook(f.bookSide, f.yesPrice, action);
  return { ts: f.tsRecv, market: f.market, outcome, action, price, count: f.count, fee: f.fee };
}

export class OrderManager {
  private readonly bucket: TokenBucket;
  private seq = 0;
  private readonly byClientId = new Map<string, MutableOrder>();
  /** Orders not yet known to be canceled or executed (a subset of byClientId). */
  private readonly live = new Map<string, MutableOrder>();
  private readonly byOrderId = new Map<string, MutableOrder>();
  private readonly seenTrades = new Set<string>();

  constructor(
    private readonly cfg: OrderConfig,
    startTs: TsUs,
  ) {
    this.bucket = new TokenBucket(cfg.writeTokensPerSecond, cfg.writeBucketCapacity, startTs);
  }

  /** Deterministic client ids: `${cfg.clientOrderIdPrefix}-${n}` (n from 1). */
  nextClientOrderId(): string {
    this.seq += 1;
    return `${this.cfg.clientOrderIdPrefix}-${this.seq}`;
  }

  private cost(what: "create" | "cancel" | "amend"): number {
    return what === "create" ? this.cfg.createCost : what === "cancel" ? this.cfg.cancelCost : this.cfg.amendCost;
  }

  /** Rate limit: false if the write bucket lacks the write's cost at ts. Does not consume. */
  canSend(ts: TsUs, what: "create" | "cancel" | "amend"): boolean {
    return this.bucket.available(ts) >= this.cost(what);
  }

  /** µs until a write of this kind fits the bucket (0 = now). */
  waitUs(ts: TsUs, what: "create" | "cancel" | "amend"): number {
    return this.bucket.waitUs(ts, this.cost(what));
  }

  /** Take tokens for a write that is not tracked here (e.g. an amend or a cancel-all). False if it does not fit. */
  consumeWrite(ts: TsUs, what: "create" | "cancel" | "amend"): boolean {
    return this.bucket.tryTake(ts, this.cost(what));
  }

  private toRecord(o: MutableOrder, ts: TsUs, reason: string): OrderRecord {
    return {
      kind: "order",
      ts,
      clientOrderId: o.clientOrderId,
      orderId: o.orderId,
      market: o.market,
      outcome: o.outcome,
      action: o.action,
      bookSide: o.bookSide,
      yesPrice: o.yesPrice,
      count: o.count,
      filled: o.filled,
      status: o.status,
      reason,
      evalId: o.evalId,
    };
  }

  private touch(o: MutableOrder, ts: TsUs, reason: string): OrderRecord {
    if (ts > o.lastTs) o.lastTs = ts;
    o.reason = reason;
    return this.toRecord(o, ts, reason);
  }

  private setOrderId(o: MutableOrder, orderId: string): void {
    if (!orderId || o.orderId === orderId) return;
    if (o.orderId !== null) this.byOrderId.delete(o.orderId);
    o.orderId = orderId;
    this.byOrderId.set(orderId, o);
  }

  private find(clientOrderId: string | null, orderId: string | null): MutableOrder | undefined {
    if (clientOrderId) {
      const o = this.byClientId.get(clientOrderId);
      if (o) return o;
    }
    return orderId ? this.byOrderId.get(orderId) : undefined;
  }

  private refreshFilled(o: MutableOrder): void {
    o.filled = Math.max(o.fillSum, o.filledReported);
  }

  /**
   * Register an order about to be sent (status "pending") and take its write tokens.
   * Throws if the bucket lacks the tokens (check `canSend` at the same ts first), if the client id is
   * already tracked (ids must never be reused), or if price/count are invalid.
   */
  onSubmit(intent: PlaceOrder): OrderRecord {
    if (this.byClientId.has(intent.clientOrderId)) throw new Error(`client_order_id reused: ${intent.clientOrderId}`);
    if (!Number.isSafeInteger(intent.count) || intent.count <= 0) throw new RangeError(`order count must be > 0: ${intent.count}`);
    if (!Number.isSafeInteger(intent.price) || intent.price <= 0 || intent.price >= PRICE_ONE) {
      throw new RangeError(`order price outside (0, 1): ${intent.price}`);
    }
    if (!this.bucket.tryTake(intent.ts, this.cfg.createCost)) {
      throw new Error(`write rate limit: create of ${intent.clientOrderId} at ${intent.ts} does not fit the bucket`);
    }
    const { side, yesPrice } = toYesBook(intent.outcome, intent.action, intent.price);
    const o: MutableOrder = {
      clientOrderId: intent.clientOrderId,
      orderId: null,
      market: intent.market,
      outcome: intent.outcome,
      action: intent.action,
      price: intent.price,
      count: intent.count,
      filled: 0,
      status: "pending",
      createdTs: intent.ts,
      lastTs: intent.ts,
      evalId: intent.evalId,
      bookSide: side,
      yesPrice,
      tif: intent.tif,
      postOnly: intent.postOnly,
      reduceOnly: intent.reduceOnly,
      cancelRequested: false,
      amendRequestedTs: -1,
      reason: "submitted",
      fillSum: 0,
      filledReported: 0,
      closedByAbsence: false,
    };
    this.byClientId.set(o.clientOrderId, o);
    this.live.set(o.clientOrderId, o);
    return this.toRecord(o, intent.ts, "submitted");
  }

  /**
   * A cancel is about to be sent for an open order; takes the cancel tokens. Null if the order is not
   * tracked or not open (nothing to cancel). Throws if the bucket lacks the tokens.
   */
  onCancelSubmit(ts: TsUs, clientOrderId: string): OrderRecord | null {
    const o = this.byClientId.get(clientOrderId);
    if (!o || !OPEN.has(o.status)) return null;
    if (!this.bucket.tryTake(ts, this.cfg.cancelCost)) {
      throw new Error(`write rate limit: cancel of ${clientOrderId} at ${ts} does not fit the bucket`);
    }
    o.cancelRequested = true;
    return this.touch(o, ts, "cancel_submitted");
  }

  /**
   * An amend (new own-leg price / remaining size) is about to be sent for a resting order; takes the
   * amend tokens. The order keeps its current price and size until the venue reports the amended
   * order (onOrderUpdate takes the venue's view). Null if the order is not resting. Throws if the
   * bucket lacks the tokens.
   */
  onAmendSubmit(ts: TsUs, clientOrderId: string, price: PriceE4, remaining: CountE2): OrderRecord | null {
    const o = this.byClientId.get(clientOrderId);
    if (!o || o.status !== "resting" || o.cancelRequested) return null;
    if (!this.bucket.tryTake(ts, this.cfg.amendCost)) {
      throw new Error(`write rate limit: amend of ${clientOrderId} at ${ts} does not fit the bucket`);
    }
    o.amendRequestedTs = ts;
    return this.touch(o, ts, `amend_submitted: price ${price} remaining ${remaining}`);
  }

  /**
   * A write (create, or a cancel of this order) timed out / got 5xx / 429 / an unparseable answer.
   * The order becomes "unknown": it may or may not exist at the venue. It is NEVER marked rejected and
   * NEVER resent; an order update, a fill or a reconcile resolves it. Null if the order is untracked
   * or already final (a concurrent venue report already told us the truth).
   */
  onUnknownOutcome(ts: TsUs, clientOrderId: string, detail: string): OrderRecord | null {
    const o = this.byClientId.get(clientOrderId);
    if (!o) return null;
    if (o.status === "pending" || (o.status === "resting" && o.cancelRequested) || o.status === "unknown") {
      o.status = "unknown";
      return this.touch(o, ts, `unknown_outcome: ${detail}`);
    }
    return null;
  }

  /**
   * A definite venue rejection (4xx with an error body). Only a pending create can be rejected; for a
   * resting order it means the cancel was refused (the order stays resting). Unknown orders are not
   * rejectable: only a venue report or a reconcile resolves them. Null when nothing changed.
   */
  onRejected(ts: TsUs, clientOrderId: string, reason: string): OrderRecord | null {
    const o = this.byClientId.get(clientOrderId);
    if (!o) return null;
    if (o.status === "pending") {
      o.status = "rejected";
      o.cancelRequested = false;
      return this.touch(o, ts, `rejected: ${reason}`);
    }
    if (o.status === "resting" && o.cancelRequested) {
      o.cancelRequested = false;
      return this.touch(o, ts, `cancel_rejected: ${reason}`);
    }
    return null;
  }

  /** Venue reports (WS user_order / REST). Matches by clientOrderId, else orderId; flags unknown orders. */
  onOrderUpdate(u: OrderUpdate): { record: OrderRecord | null; unknownOrder: boolean } {
    const o = this.find(u.clientOrderId, u.orderId);
    if (!o) return { record: null, unknownOrder: true };
    this.setOrderId(o, u.orderId);
    if (u.filled > o.filledReported) o.filledReported = u.filled;
    this.refreshFilled(o);

    const next = this.nextStatus(o, u.status);
    if (next === "canceled" && o.status !== "canceled") o.closedByAbsence = u.reason.endsWith(NOT_AT_VENUE);
    else if (next !== "canceled" || u.status === "canceled") o.closedByAbsence = false;
    o.status = next;
    // Any venue report on the order answers an amend in flight (amended, refused, filled or gone).
    o.amendRequestedTs = -1;
    if (next === "resting" && (u.status === "resting" || u.status === "pending")) {
      // Amend/decrease may change size and price of a live order: take the venue's view.
      // The venue's total is its own filled + remaining: a report older than fills already applied
      // still says remaining as of its own filled count, so adding our later fills would grow the order.
      if (u.remaining >= 0) o.count = Math.max(Math.max(u.filled, 0) + u.remaining, o.filled);
      if (u.bookSide === o.bookSide && u.yesPrice > 0 && u.yesPrice < PRICE_ONE) {
        o.yesPrice = u.yesPrice;
        o.price = fromYesBook(u.bookSide, u.yesPrice, o.action).price;
      }
    }
    if (next === "executed" || next === "canceled" || next === "rejected") o.cancelRequested = false;
    else if (next === "resting" && u.reason.startsWith(CANCEL_REFUSED)) o.cancelRequested = false;
    this.keepLive(o);
    return { record: this.touch(o, u.tsRecv, u.reason || `venue: ${u.status}`), unknownOrder: false };
  }

  /**
   * Status after a venue report. The venue is the truth, but stale reports never reopen a final order
   * — except one we called canceled only because the venue did not know it yet (closedByAbsence).
   */
  private nextStatus(o: MutableOrder, reported: OrderStatus): OrderStatus {
    const cur = o.status;
    if (reported === "unknown" || reported === "pending") return cur; // no information
    if (cur === "executed") return cur;
    if (cur === "canceled") return reported === "executed" || (reported === "resting" && o.closedByAbsence) ? reported : cur;
    return reported;
  }

  /**
   * One of our fills. Matches by clientOrderId, else orderId. `unknownOrder` means we have no such
   * order (the engine should halt); `duplicate` means the trade id was already applied (do not apply
   * it to the portfolio again); `inconsistent` flags a fill on a rejected order or past the order size.
   */
  onFill(f: OwnFill): { order: TrackedOrder | null; unknownOrder: boolean; duplicate: boolean; inconsistent: string | null } {
    const o = this.find(f.clientOrderId, f.orderId);
    if (!o) return { order: null, unknownOrder: true, duplicate: false, inconsistent: null };
    if (this.seenTrades.has(f.tradeId)) return { order: publicView(o), unknownOrder: false, duplicate: true, inconsistent: null };
    this.seenTrades.add(f.tradeId);
    this.setOrderId(o, f.orderId);
    let inconsistent: string | null = null;
    if (o.status === "rejected") inconsistent = `fill ${f.tradeId} for rejected order ${o.clientOrderId}`;
    o.fillSum += f.count;
    this.refreshFilled(o);
    if (o.filled > o.count) inconsistent = `order ${o.clientOrderId} filled ${o.filled} > count ${o.count}`;
    if (o.filled >= o.count) {
      o.status = "executed";
      o.cancelRequested = false;
    } else if (o.status === "pending" || o.status === "unknown" || o.status === "rejected" || (o.status === "canceled" && o.closedByAbsence)) {
      // A fill proves the order exists and is live for its remainder.
      o.status = "resting";
      o.closedByAbsence = false;
    }
    if (f.tsRecv > o.lastTs) o.lastTs = f.tsRecv;
    o.reason = `fill ${f.tradeId}`;
    this.keepLive(o);
    return { order: publicView(o), unknownOrder: false, duplicate: false, inconsistent };
  }

  /**
   * Reconcile open orders (pending, resting, unknown) against a REST snapshot of resting orders.
   * Present → resting (size from the venue). Absent → canceled (filled to size → executed).
   * `graceUs` skips orders created less than that long before ts: REST reads lag writes by ~1 s, so
   * live should pass a couple of seconds; replay/paper can use 0.
   */
  reconcile(ts: TsUs, resting: readonly RestingOrderEntry[], graceUs = 0): OrderRecord[] {
    const byCid = new Map<string, RestingOrderEntry>();
    const byOid = new Map<string, RestingOrderEntry>();
    for (const r of resting) {
      if (r.clientOrderId) byCid.set(r.clientOrderId, r);
      if (r.orderId) byOid.set(r.orderId, r);
    }
    const out: OrderRecord[] = [];
    for (const o of [...this.byClientId.values()].sort((a, b) => a.createdTs - b.createdTs || cmp(a.clientOrderId, b.clientOrderId))) {
      // A canceled-by-absence order is looked for too: REST listing it resting reopens it.
      if (!OPEN.has(o.status) && !(o.status === "canceled" && o.closedByAbsence)) continue;
      if (o.createdTs > ts - graceUs) continue;
      const r = byCid.get(o.clientOrderId) ?? (o.orderId !== null ? byOid.get(o.orderId) : undefined);
      if (r) {
        // The venue's own total when it says what it filled (a fill in flight is then not lost from
        // the size: it shows as reported, not yet applied), never below what has filled. Without it,
        // our filled + its remaining, which a snapshot older than our fills would inflate: a
        // reconcile then only shrinks the order, unless an amend of ours is unanswered (it may
        // have grown it).
        const venueFilled = r.filled !== undefined && r.filled >= 0 ? r.filled : -1;
        if (venueFilled > o.filledReported) {
          o.filledReported = venueFilled;
          this.refreshFilled(o);
        }
        const ours = o.filled + r.remaining;
        const count =
          r.remaining < 0 ? o.count : venueFilled >= 0 ? Math.max(venueFilled + r.remaining, o.filled) : o.amendRequestedTs >= 0 ? ours : Math.min(o.count, ours);
        const changed = o.status !== "resting" || count !== o.count || (r.orderId !== "" && o.orderId !== r.orderId);
        this.setOrderId(o, r.orderId);
        if (!changed) continue;
        o.status = "resting";
        o.closedByAbsence = false;
        o.count = count;
        this.keepLive(o);
        out.push(this.touch(o, ts, "reconcile: resting at venue"));
      } else if (OPEN.has(o.status)) {
        o.cancelRequested = false;
        if (o.filled >= o.count) {
          o.status = "executed";
          out.push(this.touch(o, ts, "reconcile: absent from venue, fully filled"));
        } else {
          o.status = "canceled";
          o.closedByAbsence = true;
          out.push(this.touch(o, ts, o.filled > 0 ? "reconcile: absent from venue, partially filled" : "reconcile: absent from venue"));
        }
      }
    }
    return out;
  }

  /** Resting orders at the venue that we do not track (another process, an earlier run). */
  untracked(resting: readonly RestingOrderEntry[]): RestingOrderEntry[] {
    return resting.filter((r) => !this.find(r.clientOrderId || null, r.orderId || null));
  }

  /** Pending, resting or unknown orders, oldest first. */
  open(): TrackedOrder[] {
    const out: TrackedOrder[] = [];
    for (const o of this.liveOrders()) if (OPEN.has(o.status)) out.push(publicView(o));
    return out;
  }

  /** True when no order is pending, resting or unknown (cheap: the engine asks on every sweep). */
  noneOpen(): boolean {
    if (this.live.size === 0) return true;
    for (const o of this.liveOrders()) if (OPEN.has(o.status)) return false;
    return true;
  }

  /**
   * Orders that may still be open. Canceled and executed orders never reopen, so they are dropped
   * here lazily; this keeps the per-sweep questions O(open orders), not O(all orders ever).
   */
  private *liveOrders(): Generator<MutableOrder> {
    for (const [id, o] of this.live) {
      if (!OPEN.has(o.status) && o.fillSum >= o.filledReported) this.live.delete(id);
      else yield o;
    }
  }

  /** Back into the live set an order a venue report or a fill made open again (or left with fills to apply). */
  private keepLive(o: MutableOrder): void {
    if ((OPEN.has(o.status) || o.fillSum < o.filledReported) && !this.live.has(o.clientOrderId)) this.live.set(o.clientOrderId, o);
  }

  openForMarket(market: string): TrackedOrder[] {
    return this.open().filter((o) => o.market === market);
  }

  /**
   * Money the open orders that are not reduce-only (pending, resting, unknown; a cancel in flight
   * included, it may still fill) would add to positions if what remains of them filled: in one
   * market, or in all when `market` is null. A buy costs its price, a sell 1 − price (a buy of the
   * other leg).
   */
  openEntryCost(market: string | null): Micros {
    const c = this.openEntryCosts(market ?? "");
    return market === null ? c.total : c.inMarket;
  }

  /** openEntryCost of one market and of all markets, in one pass (the risk check asks both). */
  openEntryCosts(market: string): OpenEntryCosts {
    if (this.live.size === 0) return NO_COSTS;
    let inMarket = 0;
    let total = 0;
    for (const o of this.liveOrders()) {
      if (o.reduceOnly) continue;
      const left = unappliedCount(o);
      if (left <= 0) continue;
      const cost = left * (o.action === "buy" ? o.price : PRICE_ONE - o.price);
      total += cost;
      if (o.market === market) inMarket += cost;
    }
    return { inMarket, total };
  }

  /** Markets with an open order that is not reduce-only, or one with fills still to apply (each may become a position). */
  openEntryMarkets(): ReadonlySet<string> {
    if (this.live.size === 0) return NO_MARKETS;
    let out: Set<string> | null = null;
    for (const o of this.liveOrders()) if (!o.reduceOnly && unappliedCount(o) > 0) (out ??= new Set()).add(o.market);
    return out ?? NO_MARKETS;
  }

  /** Any pending or unknown order on the market (its outcome is not yet known). */
  inFlight(market: string): boolean {
    if (this.live.size === 0) return false;
    for (const o of this.liveOrders()) if (o.market === market && IN_FLIGHT.has(o.status)) return true;
    return false;
  }

  get(clientOrderId: string): TrackedOrder | undefined {
    const o = this.byClientId.get(clientOrderId);
    return o ? publicView(o) : undefined;
  }

  /** Look up by venue order id (REST fills carry no client id). */
  getByOrderId(orderId: string): TrackedOrder | undefined {
    const o = this.byOrderId.get(orderId);
    return o ? publicView(o) : undefined;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
