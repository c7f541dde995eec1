/**
 * The simulated Kalshi venue used by replay and paper. It sees the recorded market as it happened
 * (its own copy of the books), receives our orders after an entry latency, fills them against the
 * recorded displayed depth, and answers with the same events the live venue sends (order_update,
 * fill) after a response latency. Results are deterministic for a given tape, config and seed.
 *
 * Taker orders walk the complementary book (buying YES consumes NO bids, priced via the book's one
 * ask derivation) and the liquidity they take stays consumed until that level refreshes in the
 * recording. Resting orders go through a QueueModel.
 */
import { SharedBookFeed, type BookRegistry } from "../core/book.ts";
import type { BookSide, EngineEvent, MarketInfo, OrderUpdate, OwnFill, PublicTrade } from "../core/events.ts";
import { mergeMarketInfo } from "../core/markets.ts";
import { TokenBucket } from "../core/ratelimit.ts";
import type { CancelOrder, OrderAction, Outcome, PlaceOrder } from "../core/records.ts";
import { PRICE_ONE, type CountE2, type Micros, type PriceE4, type TsUs } from "../core/units.ts";
import { toYesBook } from "../core/orders.ts";
import type { LatencyModel, QueueModel, RestingView } from "./models.ts";

export interface SimVenueOptions {
  readonly latency: LatencyModel;
  readonly queue: QueueModel;
  /** Exact fee for a fill (the engine's fee model, so both sides agree). */
  readonly fee: (market: string, count: CountE2, price: PriceE4, isMaker: boolean) => Micros;
  /** Venue-side write bucket, as Kalshi enforces it: a create that does not fit gets a 429. */
  readonly writeTokensPerSecond: number;
  readonly writeBucketCapacity: number;
  readonly createCost: number;
  readonly cancelCost: number;
}

interface SimOrder extends RestingView {
  readonly clientOrderId: string;
  readonly orderId: string;
  readonly outcome: Outcome;
  readonly action: OrderAction;
  readonly bookSide: BookSide;
  readonly yesPrice: PriceE4;
  readonly initial: CountE2;
  filled: CountE2;
  status: "resting" | "canceled" | "executed";
}

type Pending =
  | { readonly at: TsUs; readonly order: number; readonly kind: "place"; readonly intent: PlaceOrder }
  | { readonly at: TsUs; readonly order: number; readonly kind: "cancel"; readonly intent: CancelOrder }
  | { readonly at: TsUs; readonly order: number; readonly kind: "cancel_all" };

export interface SimVenueStats {
  ordersReceived: number;
  ordersRejected: number;
  fills: number;
  contractsFilled: CountE2;
  fees: Micros;
}

export class SimVenue {
  private readonly books: BookRegistry;
  private readonly infos = new Map<string, MarketInfo>();
  private readonly closed = new Set<string>();
  /** Liquidity we took, per market and "side:price", until that level refreshes. */
  private readonly consumed = new Map<string, Map<string, CountE2>>();
  private readonly resting = new Map<string, SimOrder>();
  private readonly restingByMarket = new Map<string, Set<string>>();
  private readonly bucket: TokenBucket;
  private pending: Pending[] = [];
  private outbox: EngineEvent[] = [];
  private seq = 0;
  private nextOrderNo = 1;
  private nextTradeNo = 1;
  readonly stats: SimVenueStats = { ordersReceived: 0, ordersRejected: 0, fills: 0, contractsFilled: 0, fees: 0 };

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

  cancelAll(ts: TsUs): void {
    this.schedule({ at: ts + this.opts.latency.entryUs(ts), order: this.seq++, kind: "cancel_all" });
  }

  /** Orders currently resting at the simulated venue (what a REST "resting orders" query would return). */
  restingOrders(): { orderId: string; clientOrderId: string; market: string; remaining: CountE2 }[] {
    return [...this.resting.values()].map((o) => ({ orderId: o.orderId, clientOrderId: o.clientOrderId, market: o.market, remaining: o.remaining }));
  }

  // ---- the recorded market -----------------------------------------------------------------------

  /** Feed every recorded market event, in order, before the engine sees it. */
  onMarketEvent(e: EngineEvent): void {
    switch (e.kind) {
      case "book_snapshot":
        this.feed.apply(e);
        this.consumed.delete(e.market);
        this.matchRestingAgainstBook(e.market, e.tsRecv);
        break;
      case "book_delta": {
        this.feed.apply(e);
        const taken = this.consumed.get(e.market);
        if (taken !== undefined && taken.size > 0) taken.delete(`${e.side}:${e.price}`);
        const ids = this.restingByMarket.get(e.market);
        if (ids !== undefined && ids.size > 0) {
          for (const id of ids) this.opts.queue.onDelta(this.resting.get(id)!, e);
          this.matchRestingAgainstBook(e.market, e.tsRecv);
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
        break;
      }
      case "market_lifecycle":
        if (e.phase === "closed" || e.phase === "determined" || e.phase === "settled") this.closeMarket(e.market, e.tsRecv, "CloseCancel");
        break;
      default:
        break;
    }
  }

  /** Advance venue time to `ts`: process arrivals due before it (strictly), closing markets whose time passed. */
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
      for (const id of [...this.resting.keys()]) this.cancelResting(id, at, "Cancel");
      return;
    }
    if (p.kind === "cancel") {
      const o = this.resting.get(p.intent.clientOrderId);
      if (!this.bucket.tryTake(at, this.opts.cancelCost)) {
        this.reject(at, p.intent.clientOrderId, p.intent.market, "too many requests (429)");
        return;
      }
      if (o) this.cancelResting(o.clientOrderId, at, "Cancel");
      return;
    }
    const intent = p.intent;
    this.stats.ordersReceived++;
    if (!this.bucket.tryTake(at, this.opts.createCost)) {
      this.reject(at, intent.clientOrderId, intent.market, "too many requests (429)");
      return;
    }
    const info = this.infos.get(intent.market);
    if (!info || this.closed.has(intent.market) || at >= info.closeTime) {
      this.reject(at, intent.clientOrderId, intent.market, "MARKET_INACTIVE");
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
      initial: intent.count,
      remaining: intent.count,
      queueAhead: 0,
      filled: 0,
      status: "resting",
    };
    const crossable = this.crossableSize(order);
    if (intent.postOnly && crossable > 0) {
      this.update(at, order, "canceled", "PostOnlyCrossCancel");
      this.stats.ordersRejected++;
      return;
    }
    this.takeLiquidity(order, at);
    if (order.remaining <= 0) {
      order.status = "executed";
      this.update(at, order, "executed", "Trade");
      return;
    }
    if (intent.tif !== "good_till_canceled") {
      order.status = "canceled";
      this.update(at, order, "canceled", order.filled > 0 ? "Trade" : "ImmediateOrCancel");
      return;
    }
    const book = this.books.get(order.market);
    const displayed = book ? book.bidLadder(order.side).sizeAt(order.price) : 0;
    this.opts.queue.onRest(order, displayed);
    this.resting.set(order.clientOrderId, order);
    let set = this.restingByMarket.get(order.market);
    if (!set) this.restingByMarket.set(order.market, (set = new Set()));
    set.add(order.clientOrderId);
    this.update(at, order, "resting", order.filled > 0 ? "Trade" : "");
  }

  /**
   * Contracts the order could take now. A buy of outcome X at limit L takes X's asks ≤ L, i.e. the
   * opposite leg's bids ≥ 1 − L. Both are the same condition on our bid-ladder price.
   */
  private crossableSize(o: SimOrder): CountE2 {
    const book = this.books.get(o.market);
    if (!book || book.stale) return 0;
    return o.action === "buy" ? book.sizeAvailableToBuy(o.outcome, o.price) : book.sizeAvailableToSell(o.outcome, this.sellLimit(o));
  }

  private sellLimit(o: SimOrder): PriceE4 {
    // A sell of outcome X at p rests as the other leg's bid at 1 − p; its own-leg limit is p.
    return PRICE_ONE - o.price;
  }

  /** Walk the displayed depth, best first, net of what we already took. Fills as taker. */
  private takeLiquidity(o: SimOrder, at: TsUs): void {
    const book = this.books.get(o.market);
    if (!book || book.stale) return;
    const used = this.consumedFor(o.market);
    const levels =
      o.action === "buy" ? [...book.asks(o.outcome)] : [...book.bidLadder(o.outcome).descending()];
    const limit = o.action === "buy" ? o.price : this.sellLimit(o);
    for (const [px, size] of levels) {
      if (o.remaining <= 0) break;
      if (o.action === "buy" ? px > limit : px < limit) break;
      // The bid ladder level that provides this liquidity, for consumption bookkeeping.
      const key = o.action === "buy" ? `${o.outcome === "yes" ? "no" : "yes"}:${PRICE_ONE - px}` : `${o.outcome}:${px}`;
      const avail = size - (used.get(key) ?? 0);
      if (avail <= 0) continue;
      const q = Math.min(avail, o.remaining);
      used.set(key, (used.get(key) ?? 0) + q);
      this.fill(o, at, px, q, true);
    }
  }

  private consumedFor(market: string): Map<string, CountE2> {
    let m = this.consumed.get(market);
    if (!m) this.consumed.set(market, (m = new Map()));
    return m;
  }

  private fill(o: SimOrder, at: TsUs, ownPrice: PriceE4, count: CountE2, isTaker: boolean): void {
    o.remaining -= count;
    o.filled += count;
    const fee = this.opts.fee(o.market, count, ownPrice, !isTaker);
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

  private closeMarket(market: string, at: TsUs, reason: string): void {
    this.closed.add(market);
    const ids = this.restingByMarket.get(market);
    if (ids) for (const id of [...ids]) this.cancelResting(id, at, reason);
  }

  private onPublicTrade(t: PublicTrade): void {
    const ids = this.restingByMarket.get(t.market);
    if (!ids) return;
    for (const id of [...ids]) {
      const o = this.resting.get(id)!;
      const q = this.opts.queue.onTrade(o, t);
      if (q > 0) this.fillResting(o, t.tsRecv, q);
    }
  }

  /** The recorded book moved through our resting price: we would have been hit first. */
  private matchRestingAgainstBook(market: string, at: TsUs): void {
    const ids = this.restingByMarket.get(market);
    if (!ids || ids.size === 0) return;
    const book = this.books.get(market);
    if (!book || book.stale) return;
    for (const id of [...ids]) {
      const o = this.resting.get(id)!;
      const opposite = book.bidLadder(o.side === "yes" ? "no" : "yes").best;
      // Our bid at p crosses an opposite bid at q when p + q ≥ $1.
      if (opposite >= 0 && o.price + opposite >= PRICE_ONE) {
        const avail = book.bidLadder(o.side === "yes" ? "no" : "yes").sizeAt(opposite);
        this.fillResting(o, at, Math.min(avail, o.remaining));
      }
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
