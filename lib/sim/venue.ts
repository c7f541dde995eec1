/**
 * The simulated Kalshi venue used by replay and paper. It sees the recorded market as it happened
 * (its own copy of the books), receives our orders after an entry latency, fills them against the
 * recorded displayed depth, and answers with the same events the live venue sends (order_update,
 * fill) after a response latency. Results are deterministic for a given tape, config and seed.
 *
 * Every unit of displayed liquidity is used at most once (fill rules with worked examples in
 * lib/sim/README.md): what we take at a level — as a taker walking the complementary book, or as a
 * resting order that a new opposite bid crosses — is remembered per level and netted from what the
 * recording displays there, until the recording itself shows that level gone (size 0) or shrunk
 * below what we took. An add at the level is new liquidity behind ours, never a refund. Our resting
 * orders share what reaches them in price-time priority; nothing fills at or after the close time.
 * Resting orders otherwise fill from public trades through a QueueModel, with the queue ahead never
 * larger than what is displayed at our price. Fees are rounded per order (fees.ts `orderFee`).
 * Late news is placed by its trusted venue stamp: a print of a match made before an order arrived
 * passes it by (and one made before its cancel arrived still fills it); a crossing level stamped
 * before the arrival was taken as taker (post-only: cancelled). An order that rested on a stale book
 * gets no print volume until the book heals, and what the healing book shows crossing it was there on
 * arrival. On a live tape, deltas carrying a client_order_id are the recorded run's own orders: not
 * public liquidity, not queue ahead.
 */
import { SharedBookFeed, type BookRegistry } from "../core/book.ts";
import type { BookDelta, BookSide, EngineEvent, MarketInfo, OrderUpdate, OwnFill, PublicTrade } from "../core/events.ts";
import { mergeMarketInfo, withMovedClose } from "../core/markets.ts";
import { TokenBucket } from "../core/ratelimit.ts";
import type { AmendOrder, CancelOrder, OrderAction, Outcome, PlaceOrder } from "../core/records.ts";
import type { FeeLeg } from "../core/fees.ts";
import { PRICE_ONE, type CountE2, type Micros, type PriceE4, type TsUs } from "../core/units.ts";
import { CANCEL_REFUSED, toYesBook } from "../core/orders.ts";
import { isOnGrid } from "../core/grid.ts";
import { MAX_STAMP_SKEW_US, trustedStamp } from "../core/features.ts";
import type { LatencyModel, QueueModel, RestingView } from "./models.ts";

export interface SimVenueOptions {
  readonly latency: LatencyModel;
  readonly queue: QueueModel;
  /**
   * Exact fee of all fills so far of one order on one side (taker or maker), rounded per order —
   * the engine's fee model (`Engine.orderFeeFor`), so both sides agree. Each fill is charged the
   * increase of this total.
   */
  readonly fee: (market: string, legs: readonly FeeLeg[], isMaker: boolean, at: TsUs) => Micros;
  /** Venue-side write bucket, as Kalshi enforces it: a create that does not fit gets a 429. */
  readonly writeTokensPerSecond: number;
  readonly writeBucketCapacity: number;
  readonly createCost: number;
  readonly cancelCost: number;
  /** V2 amend (default: createCost, as Kalshi bills create/amend/decrease alike). */
  readonly amendCost?: number;
  /**
   * An amend whose total `count` is at or below what has already filled (a fill overtook it). Kalshi
   * does not document the answer (UNCERTAIN): "reject" (default, as our fake venue does) leaves the
   * order resting as it was, the pessimistic case for exposure; "cancel" cancels the remainder.
   */
  readonly amendAtOrBelowFilled?: "reject" | "cancel";
}

interface SimOrder extends RestingView {
  readonly clientOrderId: string;
  readonly orderId: string;
  readonly outcome: Outcome;
  readonly action: OrderAction;
  readonly bookSide: BookSide;
  yesPrice: PriceE4;
  price: PriceE4;
  readonly postOnly: boolean;
  /** Capped at the venue's net position (ref §4.4): never opens or flips one. */
  readonly reduceOnly: boolean;
  filled: CountE2;
  /**
   * Contracts the recording removed from ahead of us (queue capped at the displayed size) in a delta
   * stamped `cappedAt` (venue ts_ms). A print at our price with that same stamp is the trade that
   * removed them: it goes to them, not to us.
   */
  capped: CountE2;
  cappedAt: TsUs | null;
  /**
   * The latest venue stamp the market had shown (book messages, prints) when the order took its
   * place in the queue: a print stamped at or before it is a match that happened before the order
   * was there (−1: none known).
   */
  arrivedAfter: TsUs;
  /**
   * Venue time (our clock) the order took its place: its create or re-pricing amend arrived. A trusted
   * venue stamp earlier than this is an event that happened before the order was at the venue.
   */
  arrivedAt: TsUs;
  /** Took its place by an amend (a post-only cross then is not a rejected create). */
  amended: boolean;
  /** When our cancel reached the venue (−1: not cancelled by us); see SimVenue.cancelledRecently. */
  cancelledAt: TsUs;
  /**
   * Rested while the book was stale: its queue is set from the book that heals it, it gets no print
   * volume until then, and what that book shows crossing it was there when it arrived.
   */
  queueUnknown: boolean;
  status: "resting" | "canceled" | "executed";
  /** Fills so far as taker / maker, and the fee charged for each (per-order rounding). */
  readonly takerLegs: FeeLeg[];
  readonly makerLegs: FeeLeg[];
  takerFee: Micros;
  makerFee: Micros;
}

type Pending =
  | { readonly at: TsUs; readonly order: number; readonly kind: "place"; readonly intent: PlaceOrder }
  | { readonly at: TsUs; readonly order: number; readonly kind: "cancel"; readonly intent: CancelOrder }
  | { readonly at: TsUs; readonly order: number; readonly kind: "amend"; readonly intent: AmendOrder }
  | { readonly at: TsUs; readonly order: number; readonly kind: "cancel_all" };

export interface SimVenueStats {
  ordersReceived: number;
  ordersRejected: number;
  fills: number;
  contractsFilled: CountE2;
  fees: Micros;
  cancels: number;
  amends: number;
  /** Writes the venue's bucket refused (429). */
  rateLimited: number;
  /** Write tokens spent (create, amend, cancel, each cancel of a cancel-all). */
  writeTokens: number;
}

export class SimVenue {
  private readonly books: BookRegistry;
  private readonly infos = new Map<string, MarketInfo>();
  private readonly closed = new Set<string>();
  /** Markets paused (deactivated) and not yet reactivated: no place, no amend. */
  private readonly paused = new Set<string>();
  /** nextCloseAt(), kept until a market record or the closed set changes (null: to recompute). */
  private nextCloseCache: TsUs | null = null;
  /** Liquidity we took, per market and bid-ladder level (levelKey), until the recording shows it gone. */
  private readonly consumed = new Map<string, Map<number, CountE2>>();
  /** Orders whose cancel reached the venue before they did (see process). */
  private readonly cancelBeforeArrival = new Map<string, string>();
  /**
   * The recorded run's own live orders (a live tape): per market and bid-ladder level, the size added
   * by deltas carrying a client_order_id (reference §3.5: only our own orders' changes carry one),
   * less what such deltas removed, capped at the displayed size like `consumed`. Not public liquidity:
   * netted from what the venue offers and from the queue ahead.
   */
  private readonly ownLive = new Map<string, Map<number, CountE2>>();
  /**
   * Orders our cancel took off the book within the last MAX_STAMP_SKEW_US: a print received later but
   * stamped (trusted) before the cancel arrived is a match made while they rested, and fills them.
   */
  private cancelledRecently: SimOrder[] = [];
  /** Latest venue stamp of a print per market (see SimOrder.arrivedAfter). */
  private readonly lastPrintStamp = new Map<string, TsUs>();
  private readonly resting = new Map<string, SimOrder>();
  private readonly restingByMarket = new Map<string, Set<string>>();
  /** Net YES position per market from this venue's own fills (a bid +count, an ask −count), as Kalshi's `position_fp`. */
  private readonly positions = new Map<string, CountE2>();
  private readonly bucket: TokenBucket;
  private pending: Pending[] = [];
  private outbox: EngineEvent[] = [];
  private seq = 0;
  private nextOrderNo = 1;
  private nextTradeNo = 1;
  readonly stats: SimVenueStats = {
    ordersReceived: 0,
    ordersRejected: 0,
    fills: 0,
    contractsFilled: 0,
    fees: 0,
    cancels: 0,
    amends: 0,
    rateLimited: 0,
    writeTokens: 0,
  };

  /** `feed`: the recorded books, shared with the engine (and a sweep's other sessions) so each message is applied once. */
  constructor(
    private readonly opts: SimVenueOptions,
    private readonly feed: SharedBookFeed = new SharedBookFeed(),
  ) {
    this.books = feed.registry;
    this.bucket = new TokenBucket(opts.writeTokensPerSecond, opts.writeBucketCapacity, 0);
  }

  // ---- commands from the gateway -----------------------------------------------------------------

  place(intent: PlaceOrder): void {
    this.schedule({ at: intent.ts + this.opts.latency.entryUs(intent.ts), order: this.seq++, kind: "place", intent });
  }

  cancel(intent: CancelOrder): void {
    this.schedule({ at: intent.ts + this.opts.latency.entryUs(intent.ts), order: this.seq++, kind: "cancel", intent });
  }

  amend(intent: AmendOrder): void {
    this.schedule({ at: intent.ts + this.opts.latency.entryUs(intent.ts), order: this.seq++, kind: "amend", intent });
  }

  cancelAll(ts: TsUs): void {
    this.schedule({ at: ts + this.opts.latency.entryUs(ts), order: this.seq++, kind: "cancel_all" });
  }

  /** Orders currently resting at the simulated venue (what a REST "resting orders" query would return). */
  restingOrders(): { orderId: string; clientOrderId: string; market: string; remaining: CountE2; filled: CountE2; price: PriceE4; queueAhead: CountE2 }[] {
    return [...this.resting.values()].map((o) => ({
      orderId: o.orderId,
      clientOrderId: o.clientOrderId,
      market: o.market,
      remaining: o.remaining,
      filled: o.filled,
      price: o.action === "buy" ? o.price : PRICE_ONE - o.price,
      queueAhead: o.queueAhead,
    }));
  }

  /** What we took and the recording still displays at a bid-ladder level (for tests and reports). */
  takenAt(market: string, side: "yes" | "no", price: PriceE4): CountE2 {
    return this.consumed.get(market)?.get(levelKey(side, price)) ?? 0;
  }

  // ---- the recorded market -----------------------------------------------------------------------

  /** No order rests, no recorded liquidity is taken and none is known to be the recorded run's own. */
  holdsNothing(): boolean {
    return this.resting.size === 0 && this.consumed.size === 0 && this.ownLive.size === 0;
  }

  /**
   * The earliest close time among the markets the venue knows and has not closed (∞: none). From
   * then on a book event of that market closes it (closeIfDue) — for good, even if its close time
   * later moves out again — so such an event is never idle.
   */
  nextCloseAt(): TsUs {
    if (this.nextCloseCache === null) {
      let t = Number.POSITIVE_INFINITY;
      for (const [m, info] of this.infos) if (info.closeTime < t && !this.closed.has(m)) t = info.closeTime;
      this.nextCloseCache = t;
    }
    return this.nextCloseCache;
  }

  /**
   * True when skipping onMarketEvent(e) changes nothing we can observe, given that the shared feed
   * has already applied e: a book delta on a market where we rest no order, took no liquidity and
   * whose close is not yet due, or a kind the venue ignores (tickers, spot prints). Lets a parameter
   * sweep skip the call for the sessions it does not concern.
   */
  isIdleFor(e: EngineEvent): boolean {
    if (e.kind === "market_ticker" || e.kind === "spot_trade") return true;
    if (e.kind !== "book_delta") return false;
    const m = e.market;
    if (e.tsRecv >= this.nextCloseAt() && this.closeFallsDue(m, e.tsRecv)) return false;
    // A change by the recorded run's own order (live tape) is remembered: never idle.
    if (e.clientOrderId !== null) return false;
    if (this.holdsNothing()) return true;
    return (this.restingByMarket.get(m)?.size ?? 0) === 0 && (this.consumed.get(m)?.size ?? 0) === 0 && !this.ownLive.has(m);
  }

  /** Feed every recorded market event, in order, before the engine sees it. */
  onMarketEvent(e: EngineEvent): void {
    // Trading stops at the close time, whether or not the recording has a lifecycle frame for it.
    if (e.kind === "book_snapshot" || e.kind === "book_delta" || e.kind === "public_trade") this.closeIfDue(e.market, e.tsRecv);
    switch (e.kind) {
      case "book_snapshot": {
        this.feed.apply(e);
        // A snapshot re-states the recorded book; what we took is still gone unless the level shrank.
        const taken = this.consumed.get(e.market);
        const book = this.books.get(e.market);
        if (taken !== undefined && book) for (const k of [...taken.keys()]) this.capTaken(taken, k, book);
        if (taken !== undefined && taken.size === 0) this.consumed.delete(e.market);
        const own = this.ownLive.get(e.market);
        if (own !== undefined && book && !book.stale) {
          for (const k of [...own.keys()]) this.capTaken(own, k, book);
          if (own.size === 0) this.ownLive.delete(e.market);
        }
        const healed = this.queuesFromHealedBook(e.market);
        this.capQueues(e.market);
        // What the healing book shows crossing an order that rested on the stale one was there when
        // it arrived; so is what a snapshot stamped before an order's arrival shows.
        const venueAt = trustedStamp(e);
        this.matchRestingAgainstBook(e.market, e.tsRecv, (o) => healed.has(o) || (venueAt !== null && venueAt < o.arrivedAt));
        break;
      }
      case "book_delta": {
        this.feed.apply(e);
        const taken = this.consumed.get(e.market);
        const book = this.books.get(e.market);
        if (taken !== undefined && taken.size > 0 && book) this.capTaken(taken, levelKey(e.side, e.price), book);
        // Nothing taken here any more: forget the market, so isIdleFor's quick test holds again.
        if (taken !== undefined && taken.size === 0) this.consumed.delete(e.market);
        if (e.clientOrderId !== null || this.ownLive.has(e.market)) this.noteOwnLive(e);
        const ids = this.restingByMarket.get(e.market);
        if (ids !== undefined && ids.size > 0) {
          // Our live order joining or leaving is no move of the simulated queue (it is not in it).
          if (e.clientOrderId === null) for (const id of ids) this.opts.queue.onDelta(this.resting.get(id)!, e);
          this.capQueues(e.market, e.tsExchange);
          // A crossing level whose message is stamped before an order's arrival was there before it.
          const venueAt = trustedStamp(e);
          const key = levelKey(e.side, e.price);
          this.matchRestingAgainstBook(e.market, e.tsRecv, venueAt === null ? NEVER_EARLY : (o, level) => level === key && venueAt < o.arrivedAt);
        }
        break;
      }
      case "public_trade":
        this.onPublicTrade(e);
        break;
      case "subscription_updated":
        // Keeps the recorded seq count exact; a real gap leaves the book stale (no fills) until re-snapshotted.
        this.feed.checkSeq(e);
        break;
      case "market_info": {
        // Partial updates (metadata_updated) are merged, so the close time stays known.
        const prior = this.infos.get(e.market);
        this.infos.set(e.market, prior ? mergeMarketInfo(prior, e) : e);
        this.nextCloseCache = null;
        break;
      }
      case "market_lifecycle":
        if (e.phase === "closed" || e.phase === "determined" || e.phase === "settled") this.closeMarket(e.market, e.tsRecv, "CloseCancel");
        else if (e.phase === "deactivated") this.paused.add(e.market);
        else if (e.phase === "activated" && this.paused.delete(e.market)) {
          // Reactivation after a pause cancels every resting order of the market (reference §7.4).
          const ids = this.restingByMarket.get(e.market);
          if (ids) for (const id of [...ids]) this.cancelResting(id, e.tsRecv, "MarketReactivated");
        } else if (e.phase === "close_date_updated" && e.closeTime >= 0) {
          // The close moves (can_close_early): from now on the new time stops trading, as the engine sees it.
          const info = this.infos.get(e.market);
          if (info) this.infos.set(e.market, withMovedClose(info, e.closeTime));
          this.nextCloseCache = null;
        }
        break;
      default:
        break;
    }
  }

  /** Advance venue time to `ts`: process arrivals due strictly before it (one at or after a close is refused). */
  advance(ts: TsUs): void {
    while (this.pending.length > 0 && this.pending[0]!.at < ts) {
      const p = this.pending.shift()!;
      this.process(p);
    }
  }

  /** Events whose receipt time is strictly before `ts`, in order; removed from the outbox. */
  drainBefore(ts: TsUs): EngineEvent[] {
    if (this.outbox.length === 0 || this.outbox[0]!.tsRecv >= ts) return EMPTY;
    let n = 0;
    while (n < this.outbox.length && this.outbox[n]!.tsRecv < ts) n++;
    const out = this.outbox.slice(0, n);
    this.outbox = this.outbox.slice(n);
    return out;
  }

  /** Earliest time anything is due (arrival or outgoing event), or +∞. */
  nextDue(): TsUs {
    const a = this.pending.length > 0 ? this.pending[0]!.at : Number.POSITIVE_INFINITY;
    const b = this.outbox.length > 0 ? this.outbox[0]!.tsRecv : Number.POSITIVE_INFINITY;
    return Math.min(a, b);
  }

  // ---- internals ---------------------------------------------------------------------------------

  private schedule(p: Pending): void {
    // Insert keeping (at, order) ascending; the list is short (orders in flight).
    let i = this.pending.length;
    while (i > 0 && (this.pending[i - 1]!.at > p.at || (this.pending[i - 1]!.at === p.at && this.pending[i - 1]!.order > p.order))) i--;
    this.pending.splice(i, 0, p);
  }

  private emit(e: EngineEvent): void {
    let i = this.outbox.length;
    while (i > 0 && this.outbox[i - 1]!.tsRecv > e.tsRecv) i--;
    this.outbox.splice(i, 0, e);
  }

  private process(p: Pending): void {
    const at = p.at;
    if (p.kind === "cancel_all") {
      // Kalshi has no confirmed bulk cancel: the transport cancels order by order, each one a write.
      // What the bucket cannot pay now is cancelled as soon as it can.
      for (const id of [...this.resting.keys()]) {
        if (!this.takeTokens(at, this.opts.cancelCost)) {
          const wait = Math.max(1, this.bucket.waitUs(at, this.opts.cancelCost));
          this.schedule({ at: at + wait, order: this.seq++, kind: "cancel_all" });
          return;
        }
        this.stats.cancels++;
        this.cancelByUs(id, at);
      }
      return;
    }
    if (p.kind === "cancel") {
      const id = p.intent.clientOrderId;
      const o = this.resting.get(id);
      // A cancel that overtook its own create (latencies vary) is refused, and the order then rests:
      // its resting report carries the refusal, so the sender knows the cancel failed.
      const refuseEarly = (why: string): void => {
        if (this.pending.some((q) => q.kind === "place" && q.intent.clientOrderId === id)) this.cancelBeforeArrival.set(id, why);
      };
      if (!this.takeTokens(at, this.opts.cancelCost)) {
        this.stats.rateLimited++;
        // The order is untouched: it still rests.
        if (o) this.update(at, o, "resting", `${CANCEL_REFUSED}: too many requests (429)`);
        else refuseEarly(`${CANCEL_REFUSED}: too many requests (429)`);
        return;
      }
      this.stats.cancels++;
      if (o) this.cancelByUs(o.clientOrderId, at);
      else refuseEarly(`${CANCEL_REFUSED}: not_found (the cancel arrived first)`); // Kalshi's 404
      return;
    }
    if (p.kind === "amend") {
      this.processAmend(p.intent, at);
      return;
    }
    const intent = p.intent;
    this.stats.ordersReceived++;
    if (!this.takeTokens(at, this.opts.createCost)) {
      this.stats.rateLimited++;
      this.reject(at, intent.clientOrderId, intent.market, "too many requests (429)");
      return;
    }
    const info = this.infos.get(intent.market);
    this.closeIfDue(intent.market, at);
    if (!info || this.closed.has(intent.market) || this.paused.has(intent.market) || at < info.openTime) {
      this.reject(at, intent.clientOrderId, intent.market, "MARKET_INACTIVE");
      return;
    }
    // What Kalshi refuses with a 400: a count that is not a positive whole number of hundredths, a
    // price outside (0, 1) or off the market's tick grid.
    if (!Number.isSafeInteger(intent.count) || intent.count <= 0) {
      this.reject(at, intent.clientOrderId, intent.market, "invalid_parameters");
      return;
    }
    if (!validOrderPrice(info, intent.price)) {
      this.reject(at, intent.clientOrderId, intent.market, "invalid_price");
      return;
    }
    const { side: bookSide, yesPrice } = toYesBook(intent.outcome, intent.action, intent.price);
    const order: SimOrder = {
      clientOrderId: intent.clientOrderId,
      orderId: `sim-${this.nextOrderNo++}`,
      market: intent.market,
      outcome: intent.outcome,
      action: intent.action,
      bookSide,
      yesPrice,
      // A resting buy of an outcome sits in that outcome's bid ladder; a sell rests as the other leg's bid.
      side: intent.action === "buy" ? intent.outcome : intent.outcome === "yes" ? "no" : "yes",
      price: intent.action === "buy" ? intent.price : PRICE_ONE - intent.price,
      postOnly: intent.postOnly,
      reduceOnly: intent.reduceOnly,
      remaining: intent.reduceOnly ? Math.min(intent.count, this.reducibleBy(intent.market, bookSide)) : intent.count,
      queueAhead: 0,
      filled: 0,
      capped: 0,
      cappedAt: null,
      arrivedAfter: -1,
      arrivedAt: at,
      amended: false,
      cancelledAt: -1,
      queueUnknown: false,
      status: "resting",
      takerLegs: [],
      makerLegs: [],
      takerFee: 0,
      makerFee: 0,
    };
    if (order.remaining <= 0) {
      // Reduce-only with nothing to reduce on this side: cancelled without trading.
      order.status = "canceled";
      this.update(at, order, "canceled", "ReduceOnlyCancel");
      return;
    }
    this.enter(order, at, intent.tif, "");
  }

  /** How much an order on `bookSide` can reduce the position in `market`: an ask reduces a long YES, a bid a short one. */
  private reducibleBy(market: string, bookSide: BookSide): CountE2 {
    const pos = this.positions.get(market) ?? 0;
    return bookSide === "ask" ? Math.max(pos, 0) : Math.max(-pos, 0);
  }

  /**
   * A fill moved the position: resting reduce-only orders of the market shrink to what they can
   * still reduce, and one that can reduce nothing is cancelled. Callers' loops re-check `resting`
   * and `remaining`, so cancelling here is safe.
   */
  private capReduceOnly(market: string, filledOrder: SimOrder, at: TsUs): void {
    const ids = this.restingByMarket.get(market);
    if (!ids) return;
    for (const id of [...ids]) {
      const r = this.resting.get(id)!;
      if (!r.reduceOnly || r === filledOrder) continue;
      const cap = this.reducibleBy(market, r.bookSide);
      if (r.remaining <= cap) continue;
      r.remaining = cap;
      if (cap === 0) this.cancelResting(id, at, "ReduceOnlyCancel");
      else this.update(at, r, "resting", "ReduceOnlyCancel");
    }
  }

  /** Match a new (or re-priced) order as taker, then rest, cancel or complete it. */
  private enter(order: SimOrder, at: TsUs, tif: PlaceOrder["tif"], restReason: string): void {
    const refusedCancel = this.cancelBeforeArrival.get(order.clientOrderId) ?? "";
    this.cancelBeforeArrival.delete(order.clientOrderId);
    if (order.postOnly && this.crossableSize(order) > 0) {
      const wasResting = this.resting.has(order.clientOrderId);
      if (wasResting) this.unrest(order);
      order.status = "canceled";
      this.update(at, order, "canceled", "PostOnlyCrossCancel");
      if (!wasResting && restReason === "") this.stats.ordersRejected++;
      return;
    }
    if (tif === "fill_or_kill" && this.takeable(order) < order.remaining) {
      order.status = "canceled";
      this.update(at, order, "canceled", "FillOrKill");
      return;
    }
    const selfTradeStopped = this.takeLiquidity(order, at);
    if (order.remaining <= 0) {
      this.unrest(order);
      order.status = "executed";
      this.update(at, order, "executed", "Trade");
      return;
    }
    if (selfTradeStopped) {
      this.unrest(order);
      order.status = "canceled";
      this.update(at, order, "canceled", "SelfTradeCancel");
      return;
    }
    if (tif !== "good_till_canceled") {
      order.status = "canceled";
      this.update(at, order, "canceled", order.filled > 0 ? "Trade" : "ImmediateOrCancel");
      return;
    }
    const book = this.books.get(order.market);
    // Everything displayed at our price is ahead of a newly resting order (the recording excludes us).
    const displayed = book ? this.available(order.market, book, order.side, order.price) : 0;
    this.opts.queue.onRest(order, displayed);
    order.queueAhead = Math.min(order.queueAhead, displayed);
    order.arrivedAfter = Math.max(book ? book.lastStamp : -1, this.lastPrintStamp.get(order.market) ?? -1);
    order.arrivedAt = at;
    order.amended = restReason !== "";
    order.queueUnknown = !book || book.stale;
    this.resting.set(order.clientOrderId, order);
    let set = this.restingByMarket.get(order.market);
    if (!set) this.restingByMarket.set(order.market, (set = new Set()));
    set.add(order.clientOrderId);
    this.update(at, order, "resting", refusedCancel || restReason || (order.filled > 0 ? "Trade" : ""));
  }

  /**
   * V2 amend: a size decrease at the same price keeps the queue position; a price change (or a size
   * increase) is a new entry at the back of the queue, matched first if it now crosses.
   */
  private processAmend(intent: AmendOrder, at: TsUs): void {
    this.closeIfDue(intent.market, at);
    const o = this.resting.get(intent.clientOrderId);
    if (!this.takeTokens(at, this.opts.amendCost ?? this.opts.createCost)) {
      this.stats.rateLimited++;
      if (o) this.update(at, o, "resting", "amend refused: too many requests (429)");
      return;
    }
    if (!o) return; // already executed or canceled: the venue refuses, the final report was already sent
    if (this.paused.has(o.market)) {
      this.update(at, o, "resting", "amend refused: market paused");
      return;
    }
    if (!Number.isSafeInteger(intent.count) || !validOrderPrice(this.infos.get(o.market), intent.price)) {
      this.update(at, o, "resting", `amend refused: invalid_price ${intent.price} or count ${intent.count}`);
      return;
    }
    this.stats.amends++;
    const newYesPrice = yesBookPrice(o.outcome, o.action, intent.price);
    // `count` is the total max fillable; what rests is that less what has filled here, including
    // fills the sender had not seen when it sent the amend.
    let remaining = intent.count - o.filled;
    if (o.reduceOnly) remaining = Math.min(remaining, this.reducibleBy(o.market, o.bookSide));
    if (remaining <= 0 && o.reduceOnly && intent.count > o.filled) {
      this.cancelResting(o.clientOrderId, at, "ReduceOnlyCancel");
      return;
    }
    if (remaining <= 0) {
      if (this.opts.amendAtOrBelowFilled === "cancel") this.cancelResting(o.clientOrderId, at, "Amend");
      else this.update(at, o, "resting", `amend refused: count ${intent.count} does not exceed filled ${o.filled}`);
      return;
    }
    const newBidPrice = o.action === "buy" ? intent.price : PRICE_ONE - intent.price;
    if (newBidPrice === o.price && remaining <= o.remaining) {
      o.remaining = remaining;
      this.update(at, o, "resting", "Amend");
      return;
    }
    this.unrest(o);
    o.price = newBidPrice;
    o.yesPrice = newYesPrice;
    o.remaining = remaining;
    o.queueAhead = 0;
    o.capped = 0;
    o.cappedAt = null;
    this.enter(o, at, "good_till_canceled", "Amend");
  }

  private takeTokens(at: TsUs, cost: number): boolean {
    if (!this.bucket.tryTake(at, cost)) return false;
    this.stats.writeTokens += cost;
    return true;
  }

  private unrest(o: SimOrder): void {
    this.resting.delete(o.clientOrderId);
    this.restingByMarket.get(o.market)?.delete(o.clientOrderId);
  }

  /**
   * Displayed size at a bid-ladder level net of what we already took there and of the recorded run's
   * own live orders there (a live tape).
   */
  private available(market: string, book: { bidLadder(side: "yes" | "no"): { sizeAt(p: PriceE4): CountE2 } }, side: "yes" | "no", price: PriceE4): CountE2 {
    const size = book.bidLadder(side).sizeAt(price);
    const key = levelKey(side, price);
    const taken = this.consumed.get(market)?.get(key) ?? 0;
    const own = this.ownLive.size === 0 ? 0 : (this.ownLive.get(market)?.get(key) ?? 0);
    return size > taken + own ? size - taken - own : 0;
  }

  /**
   * A delta of a market where the recorded run's own orders may rest: one carrying a client_order_id
   * adds to (or takes from) their size at its level; then that size is capped at what is displayed,
   * as `consumed` is. While the book is stale the delta is not applied, and neither is the cap: the
   * healing snapshot caps it.
   */
  private noteOwnLive(e: BookDelta): void {
    const key = levelKey(e.side, e.price);
    let own = this.ownLive.get(e.market);
    if (e.clientOrderId !== null) {
      if (!own) this.ownLive.set(e.market, (own = new Map()));
      const size = (own.get(key) ?? 0) + e.delta;
      if (size > 0) own.set(key, size);
      else own.delete(key);
    }
    const book = this.books.get(e.market);
    if (own !== undefined && book && !book.stale) this.capTaken(own, key, book);
    if (own !== undefined && own.size === 0) this.ownLive.delete(e.market);
  }

  /** The recording shows a level at `size`: what we took there can be at most that (0 → forgotten). */
  private capTaken(taken: Map<number, CountE2>, key: number, book: { bidLadder(side: "yes" | "no"): { sizeAt(p: PriceE4): CountE2 } }): void {
    const had = taken.get(key);
    if (had === undefined) return;
    const side = key > PRICE_ONE ? "no" : "yes";
    const size = book.bidLadder(side).sizeAt(key > PRICE_ONE ? key - PRICE_ONE - 1 : key);
    if (size <= 0) taken.delete(key);
    else if (had > size) taken.set(key, size);
  }

  /** Nobody can be ahead of us who is not displayed: queue ahead ≤ displayed size at our price. */
  private capQueues(market: string, tsExchange: TsUs | null = null): void {
    const ids = this.restingByMarket.get(market);
    const book = this.books.get(market);
    if (!ids || ids.size === 0 || !book) return;
    for (const id of ids) {
      const o = this.resting.get(id)!;
      const shown = this.available(market, book, o.side, o.price);
      if (o.queueAhead > shown) {
        if (tsExchange !== null) {
          o.capped = (o.cappedAt === tsExchange ? o.capped : 0) + (o.queueAhead - shown);
          o.cappedAt = tsExchange;
        }
        o.queueAhead = shown;
      }
    }
  }

  /**
   * Contracts the order could take now. A buy of outcome X at limit L takes X's asks ≤ L, i.e. the
   * opposite leg's bids ≥ 1 − L. Both are the same condition on our bid-ladder price.
   */
  private crossableSize(o: SimOrder): CountE2 {
    const book = this.books.get(o.market);
    if (!book || book.stale) return 0;
    // Our bid at p in ladder `side` meets the other ladder's bids q with p + q ≥ $1.
    const other = o.side === "yes" ? "no" : "yes";
    let total = 0;
    for (const [q] of book.bidLadder(other).descending()) {
      if (o.price + q < PRICE_ONE) break;
      total += this.available(o.market, book, other, q);
    }
    return total;
  }

  private sellLimit(o: SimOrder): PriceE4 {
    // A sell of outcome X at p rests as the other leg's bid at 1 − p; its own-leg limit is p.
    return PRICE_ONE - o.price;
  }

  /**
   * What a taker order could fill now: the crossable depth up to the point where self-trade
   * prevention would stop it at a resting order of ours (the public orders ahead of that one at its
   * level included). What fill-or-kill checks, so it never fills part and is then stopped.
   */
  private takeable(o: SimOrder): CountE2 {
    const book = this.books.get(o.market);
    if (!book || book.stale) return 0;
    const other = o.side === "yes" ? "no" : "yes";
    const { ownPrice, ownAhead } = this.selfTradeStop(o);
    let total = 0;
    for (const [q] of book.bidLadder(other).descending()) {
      if (o.price + q < PRICE_ONE || q < ownPrice) break;
      const avail = this.available(o.market, book, other, q);
      total += q === ownPrice ? Math.min(avail, ownAhead) : avail;
      if (q === ownPrice) break;
    }
    return total;
  }

  /**
   * Self-trade prevention (taker_at_cross, what we send): a taker stops where it would meet a
   * resting order of ours — the best of ours in the ladder it takes from that it crosses — after the
   * public orders ahead of that one at its level (`ownAhead`). ownPrice −1: none in its way.
   */
  private selfTradeStop(o: SimOrder): { ownPrice: PriceE4; ownAhead: CountE2 } {
    const other = o.side === "yes" ? "no" : "yes";
    let ownPrice = -1;
    let ownAhead = 0;
    const ids = this.restingByMarket.get(o.market);
    if (ids) {
      for (const id of ids) {
        const r = this.resting.get(id)!;
        if (r.side !== other || o.price + r.price < PRICE_ONE) continue;
        if (r.price > ownPrice) {
          ownPrice = r.price;
          ownAhead = r.queueAhead;
        } else if (r.price === ownPrice && r.queueAhead < ownAhead) ownAhead = r.queueAhead;
      }
    }
    return { ownPrice, ownAhead };
  }

  /**
   * A snapshot healed the book: an order that came to rest while it was stale had its queue guessed
   * from a book the venue had moved on from. Everything the healed book shows at its price is taken
   * to be ahead of it (what a newly resting order gets), never less than it had.
   */
  private queuesFromHealedBook(market: string): ReadonlySet<SimOrder> {
    const ids = this.restingByMarket.get(market);
    const book = this.books.get(market);
    if (!ids || !book || book.stale) return NO_ORDERS;
    let healed: Set<SimOrder> | null = null;
    for (const id of ids) {
      const o = this.resting.get(id)!;
      if (!o.queueUnknown) continue;
      o.queueUnknown = false;
      o.queueAhead = Math.max(o.queueAhead, this.available(market, book, o.side, o.price));
      (healed ??= new Set()).add(o);
    }
    return healed ?? NO_ORDERS;
  }

  /**
   * Walk the displayed depth, best first, net of what we already took. Fills as taker. True when
   * self-trade prevention stopped it with size left (the caller cancels the rest).
   */
  private takeLiquidity(o: SimOrder, at: TsUs): boolean {
    const book = this.books.get(o.market);
    if (!book || book.stale) return false;
    const used = this.consumedFor(o.market);
    const levels =
      o.action === "buy" ? [...book.asks(o.outcome)] : [...book.bidLadder(o.outcome).descending()];
    const limit = o.action === "buy" ? o.price : this.sellLimit(o);
    // The ladder whose bids this taker takes (the opposite of the one it would rest in).
    const ladder: "yes" | "no" = o.side === "yes" ? "no" : "yes";
    const { ownPrice, ownAhead } = this.selfTradeStop(o);
    const ids = this.restingByMarket.get(o.market);
    let took = false;
    for (const [px] of levels) {
      if (o.remaining <= 0) break;
      if (o.action === "buy" ? px > limit : px < limit) break;
      const ladderPrice = o.action === "buy" ? PRICE_ONE - px : px;
      if (ladderPrice < ownPrice) break; // our own order is met before this level
      // The bid ladder level that provides this liquidity, for consumption bookkeeping.
      const key = levelKey(ladder, ladderPrice);
      let avail = this.available(o.market, book, ladder, ladderPrice);
      if (ladderPrice === ownPrice) avail = Math.min(avail, ownAhead);
      if (avail > 0) {
        const q = Math.min(avail, o.remaining);
        used.set(key, (used.get(key) ?? 0) + q);
        took = true;
        this.fill(o, at, px, q, true);
        // We took the first in line there: our resting orders at that level have that much less ahead.
        if (ladderPrice === ownPrice && ids) {
          for (const id of ids) {
            const r = this.resting.get(id)!;
            if (r.side === ladder && r.price === ladderPrice) r.queueAhead = Math.max(0, r.queueAhead - q);
          }
        }
      }
      if (ladderPrice === ownPrice) break;
    }
    // What we took was first in line at its level: a resting order of ours there has that much less ahead.
    if (took) this.capQueues(o.market);
    return ownPrice >= 0 && o.remaining > 0;
  }

  private consumedFor(market: string): Map<number, CountE2> {
    let m = this.consumed.get(market);
    if (!m) this.consumed.set(market, (m = new Map()));
    return m;
  }

  private fill(o: SimOrder, at: TsUs, ownPrice: PriceE4, count: CountE2, isTaker: boolean): void {
    o.remaining -= count;
    o.filled += count;
    this.positions.set(o.market, (this.positions.get(o.market) ?? 0) + (o.bookSide === "bid" ? count : -count));
    // Per-order rounding: this fill pays what the order's total fee grows by. If the schedule changed
    // since the last fill (an event_fee_update, a fee waiver ending), the fills before were charged under the old one and
    // stay so: rounding starts again from this fill (a fee increment is never negative).
    const legs = isTaker ? o.takerLegs : o.makerLegs;
    let charged = isTaker ? o.takerFee : o.makerFee;
    if (legs.length > 0 && this.opts.fee(o.market, legs, !isTaker, at) !== charged) {
      legs.length = 0;
      charged = 0;
    }
    legs.push({ count, price: ownPrice });
    const total = this.opts.fee(o.market, legs, !isTaker, at);
    const fee = total - charged;
    if (isTaker) o.takerFee = total;
    else o.makerFee = total;
    const yesPrice = o.outcome === "yes" ? ownPrice : PRICE_ONE - ownPrice;
    const ev: OwnFill = {
      kind: "fill",
      tsRecv: at + this.opts.latency.responseUs(at),
      tsExchange: at,
      tradeId: `simt-${this.nextTradeNo++}`,
      orderId: o.orderId,
      clientOrderId: o.clientOrderId,
      market: o.market,
      bookSide: o.bookSide,
      outcomeSide: o.outcome,
      yesPrice,
      count,
      fee,
      isTaker,
    };
    this.stats.fills++;
    this.stats.contractsFilled += count;
    this.stats.fees += fee;
    this.emit(ev);
    this.capReduceOnly(o.market, o, at);
  }

  private update(at: TsUs, o: SimOrder, status: OrderUpdate["status"], reason: string): void {
    this.emit({
      kind: "order_update",
      tsRecv: at + this.opts.latency.responseUs(at),
      tsExchange: at,
      orderId: o.orderId,
      clientOrderId: o.clientOrderId,
      market: o.market,
      status,
      bookSide: o.bookSide,
      yesPrice: o.yesPrice,
      filled: o.filled,
      remaining: status === "resting" ? o.remaining : 0,
      reason,
    });
  }

  private reject(at: TsUs, clientOrderId: string, market: string, reason: string): void {
    this.stats.ordersRejected++;
    this.emit({
      kind: "order_update",
      tsRecv: at + this.opts.latency.responseUs(at),
      tsExchange: at,
      orderId: "",
      clientOrderId,
      market,
      status: "rejected",
      bookSide: "bid",
      yesPrice: 0,
      filled: 0,
      remaining: 0,
      reason,
    });
  }

  private cancelResting(id: string, at: TsUs, reason: string): void {
    const o = this.resting.get(id);
    if (!o) return;
    this.resting.delete(id);
    this.restingByMarket.get(o.market)?.delete(id);
    o.status = "canceled";
    this.update(at, o, "canceled", reason);
  }

  /**
   * Our cancel reached the venue: the order leaves the book, but a match made before this instant
   * whose print we have not yet received still fills it (kept in cancelledRecently).
   */
  private cancelByUs(id: string, at: TsUs): void {
    const o = this.resting.get(id);
    if (!o) return;
    this.cancelResting(id, at, "Cancel");
    o.cancelledAt = at;
    this.cancelledRecently.push(o);
  }

  /** At or after the market's close time: cancel what rests and refuse what comes (once). */
  private closeIfDue(market: string, at: TsUs): void {
    if (this.closeFallsDue(market, at)) this.closeMarket(market, at, "CloseCancel");
  }

  /** A known market not yet closed whose close time is at or before `at`. */
  private closeFallsDue(market: string, at: TsUs): boolean {
    if (this.closed.has(market)) return false;
    const info = this.infos.get(market);
    return info !== undefined && at >= info.closeTime;
  }

  /**
   * Our resting orders in a market in the venue's priority: best bid-ladder price first, then
   * arrival. Liquidity that reaches them (a print, a new crossing bid) is handed out in this order,
   * each unit once.
   */
  private byPriority(market: string): SimOrder[] {
    const ids = this.restingByMarket.get(market);
    if (!ids || ids.size === 0) return [];
    return [...ids].map((id) => this.resting.get(id)!).sort((a, b) => b.price - a.price);
  }

  private closeMarket(market: string, at: TsUs, reason: string): void {
    this.closed.add(market);
    // Nothing fills at or after the close, not even a late print of an earlier match.
    if (this.cancelledRecently.length > 0) this.cancelledRecently = this.cancelledRecently.filter((o) => o.market !== market);
    this.nextCloseCache = null;
    const ids = this.restingByMarket.get(market);
    if (ids) for (const id of [...ids]) this.cancelResting(id, at, reason);
  }

  /**
   * A print reaches our resting orders in priority order; each sees only the volume the orders
   * before it left (a print of 8 cannot fill 5 + 5 of ours), and its queue model eats the queue
   * ahead of it from that. An order the print's match came before (its trusted venue stamp is earlier
   * than the order's arrival, or not later than what the book had shown then) is passed by; an order
   * our cancel removed after the match still gets its share. An order whose queue is unknown (it
   * rested on a stale book) gets nothing, and what it could have taken is not passed on either.
   */
  private onPublicTrade(t: PublicTrade): void {
    if (t.blockTrade) return; // matched off book: it neither met our orders nor moved the queue
    const stamp = t.tsExchange;
    if (stamp !== null && stamp > (this.lastPrintStamp.get(t.market) ?? -1)) this.lastPrintStamp.set(t.market, stamp);
    const venueAt = trustedStamp(t);
    let recent: SimOrder[] = EMPTY_ORDERS;
    if (this.cancelledRecently.length > 0) {
      // A cancel more than the skew allowance ago: no trusted stamp can be before it any more.
      this.cancelledRecently = this.cancelledRecently.filter((o) => o.cancelledAt + MAX_STAMP_SKEW_US >= t.tsRecv && o.remaining > 0);
      if (venueAt !== null) recent = this.cancelledRecently.filter((o) => o.market === t.market && venueAt < o.cancelledAt);
    }
    const mine = this.byPriority(t.market);
    const orders = recent.length === 0 ? mine : [...mine, ...recent].sort((a, b) => b.price - a.price || a.arrivedAt - b.arrivedAt);
    let left = t.count;
    for (const o of orders) {
      if (left <= 0) break;
      if (o.remaining <= 0) continue;
      // The match happened before this order was in the queue: the book (or a print) had already
      // shown that venue time when it arrived, or the match is stamped before its arrival. Its
      // volume went to those who were there.
      if (stamp !== null && stamp <= o.arrivedAfter) continue;
      if (venueAt !== null && venueAt < o.arrivedAt) continue;
      if (o.queueUnknown) {
        // Nobody knows who was ahead of it: no fill, and orders behind it get only what it leaves.
        if (printReaches(o, t)) left -= Math.min(left, o.remaining);
        continue;
      }
      // The book may show a trade's removal before its print: same venue stamp → those were ahead of us.
      let seen = left;
      if (o.cappedAt !== null && t.tsExchange === o.cappedAt && printAtOwnPrice(o, t)) {
        const explained = Math.min(o.capped, seen);
        o.capped -= explained;
        seen -= explained;
      }
      const q = this.opts.queue.onTrade(o, seen === t.count ? t : { ...t, count: seen });
      left -= q;
      if (q <= 0) continue;
      if (o.status === "canceled") {
        // Matched before our cancel reached the venue: a late fill of a cancelled order.
        this.fill(o, t.tsRecv, o.action === "buy" ? o.price : PRICE_ONE - o.price, q, false);
      } else this.fillResting(o, t.tsRecv, q);
    }
  }

  /**
   * The recorded book shows an opposite bid our resting price crosses (our bid at p meets their q
   * when p + q ≥ $1). If it came after our order, it traded with ours at once, at our price, we the
   * maker. If it was already at the venue when our order arrived — `early(o, level)`: a level the
   * book that healed a stale one shows to an order that rested on the stale book, or one whose
   * message is venue-stamped (trusted) before the order's arrival — our order met it on arrival: a
   * taker fill at its price (at least as good as our limit), or, for a post-only order, the venue's
   * PostOnlyCrossCancel. Each crossing level fills us at most once: what we take is netted from it
   * until it is gone.
   */
  private matchRestingAgainstBook(market: string, at: TsUs, early: (o: SimOrder, level: number) => boolean = NEVER_EARLY): void {
    const mine = this.byPriority(market);
    if (mine.length === 0) return;
    const book = this.books.get(market);
    if (!book || book.stale) return;
    // Best price first (each takes what is left of the crossing levels).
    for (const o of mine) {
      if (o.remaining <= 0 || !this.resting.has(o.clientOrderId)) continue;
      const other = o.side === "yes" ? "no" : "yes";
      if (o.postOnly) {
        let crossedOnArrival = false;
        for (const [q] of book.bidLadder(other).descending()) {
          if (o.price + q < PRICE_ONE) break;
          if (early(o, levelKey(other, q)) && this.available(market, book, other, q) > 0) crossedOnArrival = true;
        }
        if (crossedOnArrival) {
          // Kalshi would have refused it on arrival: it never rested, and it takes nothing.
          this.unrest(o);
          o.status = "canceled";
          if (!o.amended) this.stats.ordersRejected++;
          this.update(at, o, "canceled", "PostOnlyCrossCancel");
          continue;
        }
      }
      const used = this.consumedFor(market);
      for (const [q] of [...book.bidLadder(other).descending()]) {
        if (o.price + q < PRICE_ONE || o.remaining <= 0) break;
        const key = levelKey(other, q);
        const avail = this.available(market, book, other, q);
        if (avail <= 0) continue;
        const n = Math.min(avail, o.remaining);
        used.set(key, (used.get(key) ?? 0) + n);
        if (early(o, key)) this.fillTaker(o, at, o.action === "buy" ? PRICE_ONE - q : q, n);
        else this.fillResting(o, at, n);
      }
    }
  }

  /** A resting order meets liquidity that was there before it: a taker fill at that level's price. */
  private fillTaker(o: SimOrder, at: TsUs, ownPrice: PriceE4, q: CountE2): void {
    this.fill(o, at, ownPrice, q, true);
    if (o.remaining <= 0 && this.resting.has(o.clientOrderId)) {
      this.unrest(o);
      o.status = "executed";
      this.update(at, o, "executed", "Trade");
    }
  }

  private fillResting(o: SimOrder, at: TsUs, q: CountE2): void {
    if (q <= 0) return;
    const ownPrice = o.action === "buy" ? o.price : PRICE_ONE - o.price;
    this.fill(o, at, ownPrice, q, false);
    if (o.remaining <= 0) {
      this.resting.delete(o.clientOrderId);
      this.restingByMarket.get(o.market)?.delete(o.clientOrderId);
      o.status = "executed";
      this.update(at, o, "executed", "Trade");
    }
  }
}

const EMPTY: EngineEvent[] = [];
const EMPTY_ORDERS: SimOrder[] = [];
const NEVER_EARLY = (): boolean => false;
const NO_ORDERS: ReadonlySet<SimOrder> = new Set();

/** The price on the bid ladder an order rests in that a print hit (−1: another market or ladder). */
function printLevel(o: SimOrder, t: PublicTrade): PriceE4 {
  if (t.market !== o.market) return -1;
  const hitsOurSide = o.side === "yes" ? t.takerSide === "no" : t.takerSide === "yes";
  return hitsOurSide ? (o.side === "yes" ? t.yesPrice : PRICE_ONE - t.yesPrice) : -1;
}

/** A print that hit the bid ladder we rest in at or through our price (it reached our level). */
function printReaches(o: SimOrder, t: PublicTrade): boolean {
  const level = printLevel(o, t);
  return level >= 0 && level <= o.price;
}

/** A print that hit the bid ladder we rest in, at our own price. */
function printAtOwnPrice(o: SimOrder, t: PublicTrade): boolean {
  return printLevel(o, t) === o.price;
}

/** Map key of a bid-ladder level: YES prices as is, NO prices above PRICE_ONE. */
function levelKey(side: "yes" | "no", price: PriceE4): number {
  return side === "yes" ? price : PRICE_ONE + 1 + price;
}

function yesBookPrice(outcome: Outcome, action: OrderAction, price: PriceE4): PriceE4 {
  return toYesBook(outcome, action, price).yesPrice;
}

/** A price Kalshi accepts for an order in this market: inside (0, 1) and on its tick grid. */
function validOrderPrice(info: MarketInfo | undefined, price: PriceE4): boolean {
  if (!Number.isSafeInteger(price) || price <= 0 || price >= PRICE_ONE) return false;
  // No grid known: whole cents, valid in every price structure.
  return info === undefined || info.priceRanges.length === 0 ? price % 100 === 0 : isOnGrid(info.priceRanges, price);
}
