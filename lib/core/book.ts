/**
 * Kalshi order book: YES bids and NO bids only, each in its own leg's price (PriceE4), sizes CountE2.
 *
 * Asks do not exist on the wire. A NO bid at q is an offer to sell YES at 1 − q, so
 *   best_yes_ask = 1 − best_no_bid   and   best_no_ask = 1 − best_yes_bid.
 * `askFromOppositeBid` is the only place that turns a bid of one leg into an ask of the other; the
 * top of book, depth queries and the fill model all go through it.
 *
 * Storage is dense (one slot per 1/10 000 dollar) so a delta is O(1) and never allocates.
 */
import type { BookDelta, BookLevel, BookSnapshot } from "./events.ts";
import { PRICE_ONE, type CountE2, type PriceE4 } from "./units.ts";
import { SeqTracker } from "./seq.ts";

export type Outcome = "yes" | "no";

/** THE derivation: the ask of one leg from the best bid of the opposite leg. */
export function askFromOppositeBid(oppositeBid: PriceE4): PriceE4 {
  return PRICE_ONE - oppositeBid;
}

export interface TopOfBook {
  /** PriceE4, or -1 when that side is empty. */
  readonly yesBid: PriceE4;
  readonly yesBidSize: CountE2;
  readonly noBid: PriceE4;
  readonly noBidSize: CountE2;
  readonly yesAsk: PriceE4;
  readonly yesAskSize: CountE2;
  readonly noAsk: PriceE4;
  readonly noAskSize: CountE2;
}

/** Top of book from the two best bids; asks derived via `askFromOppositeBid`. */
export function topOfBook(yesBid: PriceE4, yesBidSize: CountE2, noBid: PriceE4, noBidSize: CountE2): TopOfBook {
  return {
    yesBid,
    yesBidSize,
    noBid,
    noBidSize,
    yesAsk: noBid >= 0 ? askFromOppositeBid(noBid) : -1,
    yesAskSize: noBid >= 0 ? noBidSize : 0,
    noAsk: yesBid >= 0 ? askFromOppositeBid(yesBid) : -1,
    noAskSize: yesBid >= 0 ? yesBidSize : 0,
  };
}

export type BookIssue =
  | { readonly kind: "negative_size"; readonly side: Outcome; readonly price: PriceE4; readonly size: CountE2 }
  | { readonly kind: "crossed"; readonly yesBid: PriceE4; readonly noBid: PriceE4 }
  | { readonly kind: "bad_price"; readonly side: Outcome; readonly price: PriceE4 };

/** One side's bids, dense by price. */
class BidLadder {
  readonly sizes = new Float64Array(PRICE_ONE + 1);
  best: PriceE4 = -1;
  levels = 0;

  clear(): void {
    if (this.levels > 0) this.sizes.fill(0);
    this.best = -1;
    this.levels = 0;
  }

  /** Returns the new size at the level (may be negative: the caller reports it). */
  add(price: PriceE4, delta: CountE2): CountE2 {
    const before = this.sizes[price]!;
    const after = before + delta;
    if (after <= 0) {
      this.sizes[price] = 0;
      if (before > 0) {
        this.levels--;
        if (price === this.best) this.rescanBestBelow(price);
      }
      return after;
    }
    this.sizes[price] = after;
    if (before <= 0) {
      this.levels++;
      if (price > this.best) this.best = price;
    }
    return after;
  }

  private rescanBestBelow(price: PriceE4): void {
    if (this.levels === 0) {
      this.best = -1;
      return;
    }
    let p = price - 1;
    while (p >= 0 && this.sizes[p] === 0) p--;
    this.best = p;
  }

  sizeAt(price: PriceE4): CountE2 {
    return price >= 0 && price <= PRICE_ONE ? this.sizes[price]! : 0;
  }

  /** Levels from best downward, as [price, size]. */
  *descending(): Generator<BookLevel> {
    let seen = 0;
    for (let p = this.best; p >= 0 && seen < this.levels; p--) {
      const s = this.sizes[p]!;
      if (s > 0) {
        seen++;
        yield [p, s];
      }
    }
  }

  ascendingLevels(): BookLevel[] {
    const out: BookLevel[] = [];
    for (const l of this.descending()) out.push(l);
    return out.reverse();
  }
}

export class OrderBook {
  readonly yes = new BidLadder();
  readonly no = new BidLadder();
  private name: string;
  /** Subscription and seq of the last applied message. */
  sid = -1;
  seq = -1;
  /** True until a snapshot arrives, and again after a seq gap or reconnect. */
  stale = true;
  lastUpdate = -1;
  /** The latest venue stamp (µs) among the applied messages; −1 when none carried one. */
  lastStamp = -1;

  constructor(market: string) {
    this.name = market;
  }

  get market(): string {
    return this.name;
  }

  /** Empty this book and give it to another market (avoids reallocating the dense ladders). */
  reuseFor(market: string): OrderBook {
    this.name = market;
    this.yes.clear();
    this.no.clear();
    this.sid = -1;
    this.seq = -1;
    this.stale = true;
    this.lastUpdate = -1;
    this.lastStamp = -1;
    return this;
  }

  /** Replace the whole book. Returns issues found in the snapshot itself. */
  applySnapshot(s: BookSnapshot): BookIssue[] {
    this.yes.clear();
    this.no.clear();
    const issues: BookIssue[] = [];
    loadSide(this.yes, "yes", s.yesBids, issues);
    loadSide(this.no, "no", s.noBids, issues);
    this.sid = s.sid;
    this.seq = s.seq;
    this.stale = false;
    this.lastUpdate = s.tsRecv;
    if (s.tsExchange !== null && s.tsExchange > this.lastStamp) this.lastStamp = s.tsExchange;
    const crossed = this.crossedIssue();
    if (crossed) issues.push(crossed);
    return issues;
  }

  /** Apply a signed delta exactly. Seq continuity is the registry's job (it is per subscription). */
  applyDelta(d: BookDelta): BookIssue | null {
    this.seq = d.seq;
    this.lastUpdate = d.tsRecv;
    if (d.tsExchange !== null && d.tsExchange > this.lastStamp) this.lastStamp = d.tsExchange;
    if (!validPrice(d.price)) return { kind: "bad_price", side: d.side, price: d.price };
    const ladder = d.side === "yes" ? this.yes : this.no;
    const after = ladder.add(d.price, d.delta);
    if (after < 0) return { kind: "negative_size", side: d.side, price: d.price, size: after };
    return this.crossedIssue();
  }

  top(): TopOfBook {
    const yb = this.yes.best;
    const nb = this.no.best;
    return topOfBook(yb, yb >= 0 ? this.yes.sizeAt(yb) : 0, nb, nb >= 0 ? this.no.sizeAt(nb) : 0);
  }

  /** A YES bid and a NO bid summing to ≥ $1 would have matched: the book is inconsistent. */
  crossedIssue(): BookIssue | null {
    const yb = this.yes.best;
    const nb = this.no.best;
    if (yb >= 0 && nb >= 0 && yb + nb >= PRICE_ONE) return { kind: "crossed", yesBid: yb, noBid: nb };
    return null;
  }

  bidLadder(outcome: Outcome): BidLadder {
    return outcome === "yes" ? this.yes : this.no;
  }

  /**
   * Asks for buying `outcome`, best (cheapest) first: derived from the opposite leg's bids.
   * Each entry is [askPrice, size].
   */
  *asks(outcome: Outcome): Generator<BookLevel> {
    const opposite = outcome === "yes" ? this.no : this.yes;
    for (const [bid, size] of opposite.descending()) yield [askFromOppositeBid(bid), size];
  }

  /** Contracts available to BUY `outcome` at prices ≤ limit. */
  sizeAvailableToBuy(outcome: Outcome, limit: PriceE4): CountE2 {
    let total = 0;
    for (const [ask, size] of this.asks(outcome)) {
      if (ask > limit) break;
      total += size;
    }
    return total;
  }

  /** Contracts available to SELL `outcome` (hit its bids) at prices ≥ limit. */
  sizeAvailableToSell(outcome: Outcome, limit: PriceE4): CountE2 {
    let total = 0;
    for (const [bid, size] of this.bidLadder(outcome).descending()) {
      if (bid < limit) break;
      total += size;
    }
    return total;
  }

  /** Snapshot-shaped copy of the current state (ascending levels). */
  levels(): { yesBids: BookLevel[]; noBids: BookLevel[] } {
    return { yesBids: this.yes.ascendingLevels(), noBids: this.no.ascendingLevels() };
  }
}

function validPrice(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= PRICE_ONE;
}

function loadSide(ladder: BidLadder, side: Outcome, levels: readonly BookLevel[], issues: BookIssue[]): void {
  for (const [price, size] of levels) {
    if (!validPrice(price)) {
      issues.push({ kind: "bad_price", side, price });
      continue;
    }
    if (size < 0) {
      issues.push({ kind: "negative_size", side, price, size });
      continue;
    }
    if (size > 0) ladder.add(price, size);
  }
}

/** Outcome of feeding one book message to the registry. */
export interface BookUpdateResult {
  readonly market: string;
  /** A seq gap on the subscription: every listed market is now stale until re-snapshotted. */
  readonly gap: { readonly sid: number; readonly expected: number; readonly got: number; readonly markets: string[] } | null;
  readonly issues: readonly BookIssue[];
  /** False when the message was ignored (book stale awaiting snapshot). */
  readonly applied: boolean;
}

/**
 * All books, plus seq tracking per subscription id (Kalshi numbers messages per sid, not per market).
 * On a gap every book of that sid is marked stale; deltas to a stale book are ignored until its
 * snapshot replaces it.
 */
/** How many removed markets a registry remembers (a few days of rolling 15-minute and hourly markets). */
const REMOVED_KEPT = 4096;

export class BookRegistry {
  private readonly books = new Map<string, OrderBook>();
  /** The seq rule (lib/core/seq.ts), per subscription. */
  private readonly seq = new SeqTracker();
  private readonly sidMarkets = new Map<number, Set<string>>();
  /** Books of removed markets, cleared and ready for reuse. */
  private readonly spare: OrderBook[] = [];
  /**
   * Markets removed lately (their trading is over): a late delta of theirs on a live sid (Kalshi
   * cancels resting orders after the close) counts its seq but builds no book again. A snapshot,
   * i.e. the market followed anew, lifts it. The last REMOVED_KEPT are remembered.
   */
  private readonly removed = new Set<string>();

  get(market: string): OrderBook | undefined {
    return this.books.get(market);
  }

  getOrCreate(market: string): OrderBook {
    let b = this.books.get(market);
    if (!b) {
      const spare = this.spare.pop();
      b = spare ? spare.reuseFor(market) : new OrderBook(market);
      this.books.set(market, b);
    }
    return b;
  }

  markets(): IterableIterator<string> {
    return this.books.keys();
  }

  /**
   * Check the seq of any sequenced message on a subscription. Returns the gap, or null. The first
   * message seen on a sid starts the count.
   */
  checkSeq(sid: number, seq: number): { expected: number; got: number } | null {
    return this.seq.observe(sid, seq);
  }

  /**
   * A sequenced message with no book content (control reply, subscription-scoped error): it consumed
   * a number on its sid. Counted only on sids that carry books — other channels' numbering is the
   * WS client's business, and the engine does not see all of their messages.
   */
  countSeq(sid: number, seq: number): { expected: number; got: number } | null {
    return this.seq.tracks(sid) ? this.seq.observe(sid, seq) : null;
  }

  applySnapshot(s: BookSnapshot): BookUpdateResult {
    this.removed.delete(s.market);
    const book = this.getOrCreate(s.market);
    // Re-snapshotted on another subscription: it no longer belongs to the old one (whose late gap
    // would otherwise mark this fresh book stale).
    if (book.sid >= 0 && book.sid !== s.sid) this.sidMarkets.get(book.sid)?.delete(s.market);
    this.attach(s.sid, s.market);
    const g = this.checkSeq(s.sid, s.seq);
    // A snapshot heals its own book; a gap still staleness-marks the others on the sid.
    const gap = g ? this.markSidStale(s.sid, g, s.market) : null;
    const issues = book.applySnapshot(s);
    if (issues.length > 0) book.stale = true;
    return { market: s.market, gap, issues, applied: true };
  }

  applyDelta(d: BookDelta): BookUpdateResult {
    if (this.removed.has(d.market) && !this.books.has(d.market)) {
      const g = this.checkSeq(d.sid, d.seq);
      return { market: d.market, gap: g ? this.markSidStale(d.sid, g, null) : null, issues: [], applied: false };
    }
    const book = this.getOrCreate(d.market);
    if (book.sid !== d.sid) this.attach(d.sid, d.market);
    const g = this.checkSeq(d.sid, d.seq);
    if (g) {
      const gap = this.markSidStale(d.sid, g, null);
      return { market: d.market, gap, issues: [], applied: false };
    }
    if (book.stale) return { market: d.market, gap: null, issues: [], applied: false };
    const issue = book.applyDelta(d);
    if (issue) book.stale = true;
    return { market: d.market, gap: null, issues: issue ? [issue] : [], applied: true };
  }

  /** Forget a market whose trading is over; its 160 KB of dense levels are kept for the next new market. */
  remove(market: string): void {
    const b = this.books.get(market);
    if (!b) return;
    this.books.delete(market);
    this.sidMarkets.get(b.sid)?.delete(market);
    if (this.spare.length < 16) this.spare.push(b);
    this.removed.add(market);
    if (this.removed.size > REMOVED_KEPT) this.removed.delete(this.removed.values().next().value!);
  }

  /** A new connection means new sids: forget seq state and mark every book stale. */
  resetAll(): void {
    this.seq.reset();
    this.sidMarkets.clear();
    for (const b of this.books.values()) b.stale = true;
  }

  marketsOnSid(sid: number): string[] {
    return [...(this.sidMarkets.get(sid) ?? [])].sort();
  }

  private attach(sid: number, market: string): void {
    let set = this.sidMarkets.get(sid);
    if (!set) {
      set = new Set();
      this.sidMarkets.set(sid, set);
    }
    set.add(market);
  }

  private markSidStale(
    sid: number,
    g: { expected: number; got: number },
    except: string | null,
  ): { sid: number; expected: number; got: number; markets: string[] } {
    const markets = this.marketsOnSid(sid);
    for (const m of markets) {
      if (m === except) continue;
      const b = this.books.get(m);
      if (b) b.stale = true;
    }
    return { sid, expected: g.expected, got: g.got, markets };
  }
}

/**
 * One application of each recorded book message, shared by every reader of the same stream: the
 * engine and the simulated venue of a session, and all sessions of a parameter sweep. A message is
 * applied when first offered and its result is handed to everyone else who offers the same event
 * object — so N readers cost one book update, and all of them see the identical result.
 */
export class SharedBookFeed {
  readonly registry = new BookRegistry();
  // Two memories, not one: a session that retires a market (or resets) while handling an event must
  // not make the next session's call with that same event look new — it would be applied twice.
  private lastEvent: object | null = null;
  private lastCause: object | null = null;
  private lastResult: BookUpdateResult | null = null;
  private lastGap: { expected: number; got: number } | null = null;

  apply(e: BookSnapshot | BookDelta): BookUpdateResult {
    if (e !== this.lastEvent) {
      this.lastEvent = e;
      this.lastResult = e.kind === "book_snapshot" ? this.registry.applySnapshot(e) : this.registry.applyDelta(e);
    }
    return this.lastResult!;
  }

  /** A sequenced message with no book content (e.g. a control reply): advance the sid's count once. */
  checkSeq(e: { readonly sid: number; readonly seq: number }): { expected: number; got: number } | null {
    if (e !== this.lastEvent) {
      this.lastEvent = e;
      this.lastGap = this.registry.countSeq(e.sid, e.seq);
    }
    return this.lastGap;
  }

  /** A market was determined or settled: drop its book once, so memory stays flat over many days. */
  retire(cause: { readonly market: string }): void {
    if (cause !== this.lastCause) {
      this.lastCause = cause;
      this.registry.remove(cause.market);
    }
  }

  /** A reconnect (the event that announced it): reset once. */
  resetAll(cause: object): void {
    if (cause !== this.lastCause) {
      this.lastCause = cause;
      this.registry.resetAll();
    }
  }
}
