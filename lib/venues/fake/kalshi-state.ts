/**
 * The fake Kalshi exchange's state: markets, order books (YES bids and NO bids in their own legs),
 * our account's orders, fills, positions and cash, and a simple matching model.
 *
 * Matching model (documented so tests can derive expectations by hand):
 *  - A `bid` (buy YES at p) matches NO bids q with 1 − q ≤ p, best (highest q) first, at the
 *    maker's price 1 − q. An `ask` (sell YES at p ≡ buy NO at 1 − p) matches YES bids ≥ p, best first.
 *  - Book liquidity is other participants'. Our fills are taker fills, fee = ceil-to-cent of
 *    0.07 × C × P × (1 − P) × fee multiplier; our maker fills pay no fee (series fee_type quadratic).
 *  - A GTC remainder rests at its own-leg price (bid → YES side at p, ask → NO side at 1 − p), behind
 *    the size already there. IOC remainders are cancelled; FOK that cannot fill fully does nothing;
 *    post-only orders that would cross are cancelled (PostOnlyCrossCancel).
 *  - External takers (`takerTrade`) consume a level's other-participant size first, then our
 *    resting orders in arrival order.
 *  - Cash: buying YES costs p·c, buying NO costs (1 − p)·c; a YES and a NO contract held together
 *    net out and return $1. Fees are subtracted from cash.
 */
import { randomUUID } from "node:crypto";
import {
  PRICE_ONE,
  formatCountFp,
  formatMoneyDollars,
  formatPriceDollars,
  parseCountFp,
  parsePriceDollars,
  type CountE2,
  type Micros,
  type PriceE4,
} from "../../core/units.ts";
import { Prng } from "./prng.ts";

export type Leg = "yes" | "no";
export type BookSideV2 = "bid" | "ask";

export interface FakeMarket {
  readonly ticker: string;
  readonly id: string;
  readonly eventTicker: string;
  readonly seriesTicker: string;
  readonly strikeType: "greater" | "greater_or_equal" | "between" | "less";
  /** null until announced (rolling KXBTC15M-style windows get it by metadata_updated). */
  floorStrike: number | null;
  readonly capStrike: number | null;
  readonly openMs: number;
  closeMs: number;
  status: "active" | "initialized" | "inactive" | "closed" | "determined" | "finalized";
  result: "" | "yes" | "no";
  /** Grid: one cent everywhere (linear_cent). */
  readonly tick: PriceE4;
  /** Rolling mode's record of what happened when (ms), for tests to check against. */
  readonly history?: RollingHistory;
  /** When the record last changed (ms): REST's `updated_time`. Every lifecycle frame of the market moves it. */
  updatedMs?: number;
}

/** What the rolling fake did with one market: the oracle of the rolling tests. */
export interface RollingHistory {
  createdMs: number;
  strikeMs: number;
  closedMs: number;
  determinedMs: number;
  settledMs: number;
  /** The index value at close that decided the result. */
  closeIndex: number;
  /** The book at the instant trading stopped. */
  closeBook: { yes: [PriceE4, CountE2][]; no: [PriceE4, CountE2][] } | null;
}

/** Rolling mode: a series whose markets open, get their strike, close, are determined and settle. */
export interface RollingOptions {
  /** Series ticker (default KXBTC15M). */
  readonly series?: string;
  /** Window length in seconds: one market per window, back to back. */
  readonly windowSeconds: number;
  /** metadata_updated (the strike) this long after open (default 150 ms). */
  readonly strikeDelayMs?: number;
  /** determined this long after close (default 300 ms); settled this long after that (default 200 ms). */
  readonly determineDelayMs?: number;
  readonly settleDelayMs?: number;
  /** Stop opening new windows after this many (default unlimited). */
  readonly maxWindows?: number;
  /** Keep the static markets as well (default false: only the rolling series). */
  readonly keepStatic?: boolean;
}

export interface FakeOrder {
  readonly orderId: string;
  clientOrderId: string;
  readonly ticker: string;
  readonly bookSide: BookSideV2;
  yesPrice: PriceE4;
  initial: CountE2;
  filled: CountE2;
  remaining: CountE2;
  status: "resting" | "canceled" | "executed";
  readonly createdMs: number;
  lastUpdateMs: number;
  lastUpdateReason: string;
  takerFees: Micros;
  makerFees: Micros;
  takerFillCost: Micros;
  makerFillCost: Micros;
  /** Arrival order for queue priority at a level. */
  readonly arrival: number;
}

export interface FakeFill {
  readonly tradeId: string;
  readonly orderId: string;
  readonly clientOrderId: string;
  readonly ticker: string;
  readonly bookSide: BookSideV2;
  readonly yesPrice: PriceE4;
  readonly count: CountE2;
  readonly fee: Micros;
  readonly isTaker: boolean;
  readonly tsMs: number;
  readonly postPosition: CountE2;
}

export interface FakePublicTrade {
  readonly tradeId: string;
  readonly ticker: string;
  readonly yesPrice: PriceE4;
  readonly count: CountE2;
  readonly takerOutcome: Leg;
  readonly tsMs: number;
}

export interface FakeSettlement {
  readonly ticker: string;
  readonly eventTicker: string;
  readonly result: "yes" | "no";
  readonly yesCount: CountE2;
  readonly noCount: CountE2;
  readonly revenue: Micros;
  readonly tsMs: number;
}

/** What the exchange tells the outside world (the WS layer turns these into frames). */
export interface FakeKalshiListener {
  bookDelta(ticker: string, side: Leg, price: PriceE4, delta: CountE2, clientOrderId: string | null, tsMs: number): void;
  publicTrade(t: FakePublicTrade): void;
  userOrder(o: FakeOrder): void;
  fill(f: FakeFill): void;
  position(ticker: string): void;
  /** A market_lifecycle_v2 channel frame: type market_lifecycle_v2 (default), event_lifecycle or event_fee_update. */
  lifecycle(msg: Record<string, unknown>, type?: string): void;
}

/** A rejected request in the venue's error vocabulary. */
export class FakeRejection extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Book {
  readonly yes: Map<PriceE4, CountE2>;
  readonly no: Map<PriceE4, CountE2>;
}

export interface CreateOrderRequest {
  readonly ticker: string;
  readonly side: BookSideV2;
  readonly count: CountE2;
  readonly price: PriceE4;
  readonly tif: "good_till_canceled" | "immediate_or_cancel" | "fill_or_kill";
  readonly postOnly: boolean;
  readonly reduceOnly: boolean;
  readonly clientOrderId: string;
}

export interface CreateOrderOutcome {
  readonly order: FakeOrder;
  readonly filledNow: CountE2;
  readonly fillCost: Micros;
  readonly fees: Micros;
}

const DOLLAR_PER_E2: Micros = 10_000; // $1 per contract, per 1/100 contract, in micros

/** Kalshi-style ET date code "26SEP2917" for the settlement instant (EDT, UTC−4; close enough for a fake). */
function etCode(ms: number): string {
  const d = new Date(ms - 4 * 3_600_000);
  const mon = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"][d.getUTCMonth()]!;
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${p2(d.getUTCFullYear() % 100)}${mon}${p2(d.getUTCDate())}${p2(d.getUTCHours())}`;
}

export interface FakeStateOptions {
  readonly seed?: number;
  /** Additional generated KXBTCD markets (for pagination tests). */
  readonly extraMarkets?: number;
  /** Starting cash on the crypto shard (exchange_index 2), where every market of the fake lives. */
  readonly balance?: Micros;
  /** Collateral on other shards (exchange_index → micros); counted in the all-shard total only. */
  readonly shardBalances?: Readonly<Record<number, Micros>>;
  /** Spot level the strikes are placed around. */
  readonly spot?: number;
  /** Wall-clock origin (ms) for market times. */
  readonly nowMs?: number;
  /** Rolling mode (see RollingOptions); the static market set otherwise. */
  readonly rolling?: RollingOptions;
  /** Series fee_type the venue reports (default quadratic). */
  readonly seriesFeeType?: "quadratic" | "quadratic_with_maker_fees" | "quadratic_with_combo_maker_fees" | "flat";
}

export class FakeKalshiState {
  readonly markets = new Map<string, FakeMarket>();
  private readonly books = new Map<string, Book>();
  private readonly orderMap = new Map<string, FakeOrder>();
  private readonly fillList: FakeFill[] = [];
  /** Recent public trades (the last 1000) and cumulative public volume per market. */
  readonly publicTrades: FakePublicTrade[] = [];
  readonly publicVolume = new Map<string, CountE2>();
  private readonly positionMap = new Map<string, CountE2>();
  private readonly feesByMarket = new Map<string, Micros>();
  private readonly volumeByMarket = new Map<string, CountE2>();
  private readonly settlementList: FakeSettlement[] = [];
  cash: Micros;
  /** Other shards' collateral (untouched by trading: the fake's markets are all on shard 2). */
  readonly otherShards: ReadonlyMap<number, Micros>;
  readonly rng: Prng;
  private arrivals = 0;
  private listeners: FakeKalshiListener[] = [];
  /** Fee multiplier of every series in the fake. */
  feeMultiplier = 1;
  /** Series fee_type reported by GET /series (fills are charged the taker fee either way). */
  seriesFeeType: NonNullable<FakeStateOptions["seriesFeeType"]> = "quadratic";
  /** The index value (BRTI) the venue sees: rolling strikes and results are read off it. */
  indexValue: number;
  readonly rolling: RollingOptions | null;
  /** Rolling windows opened so far. */
  windowsOpened = 0;
  private nextWindowMs = 0;

  constructor(opts: FakeStateOptions = {}) {
    this.rng = new Prng(opts.seed ?? 12345);
    this.indexValue = opts.spot ?? 100_000;
    this.rolling = opts.rolling ?? null;
    if (opts.seriesFeeType) this.seriesFeeType = opts.seriesFeeType;
    this.cash = opts.balance ?? 1_000 * 1_000_000;
    this.otherShards = new Map(Object.entries(opts.shardBalances ?? {}).map(([k, v]) => [Number(k), v]));
    const now = opts.nowMs ?? Date.now();
    const spot = opts.spot ?? 100_000;
    const hourMs = 3_600_000;
    const close = Math.ceil(now / hourMs) * hourMs + hourMs;
    if (this.rolling) {
      // Kalshi announces times in whole seconds (open_ts / close_ts): windows are whole seconds too.
      if (!Number.isInteger(this.rolling.windowSeconds) || this.rolling.windowSeconds < 1) throw new Error("rolling.windowSeconds must be a whole number ≥ 1");
      this.nextWindowMs = Math.floor(now / 1000) * 1000;
      if (!this.rolling.keepStatic) return;
    }
    const dEvent = `KXBTCD-${etCode(close)}`;
    for (const k of [-2, -1, 0, 1, 2]) {
      const strike = Math.round(spot / 250) * 250 + k * 250 - 0.01;
      this.addMarket({ ticker: `${dEvent}-T${strike.toFixed(2)}`, eventTicker: dEvent, seriesTicker: "KXBTCD", strikeType: "greater", floorStrike: strike, capStrike: null, openMs: close - 24 * hourMs, closeMs: close });
    }
    const rEvent = `KXBTC-${etCode(close)}`;
    for (const k of [-1, 0, 1]) {
      const lo = Math.round(spot / 500) * 500 + k * 500;
      this.addMarket({ ticker: `${rEvent}-B${lo + 250}`, eventTicker: rEvent, seriesTicker: "KXBTC", strikeType: "between", floorStrike: lo, capStrike: lo + 499.99, openMs: close - 24 * hourMs, closeMs: close });
    }
    const q = Math.ceil(now / 900_000) * 900_000 + 900_000;
    const qd = new Date(q - 4 * hourMs);
    const qEvent = `KXBTC15M-${etCode(q)}${String(qd.getUTCMinutes()).padStart(2, "0")}`;
    this.addMarket({ ticker: `${qEvent}-${String(qd.getUTCMinutes()).padStart(2, "0")}`, eventTicker: qEvent, seriesTicker: "KXBTC15M", strikeType: "greater_or_equal", floorStrike: spot - 12.34, capStrike: null, openMs: q - 900_000, closeMs: q });
    for (let i = 0; i < (opts.extraMarkets ?? 0); i++) {
      const strike = Math.round(spot / 250) * 250 + (i - (opts.extraMarkets ?? 0) / 2) * 100 + 50 - 0.01;
      const ev = `KXBTCD-${etCode(close + (i + 1) * hourMs)}`;
      this.addMarket({ ticker: `${ev}-T${strike.toFixed(2)}-X${i}`, eventTicker: ev, seriesTicker: "KXBTCD", strikeType: "greater", floorStrike: strike, capStrike: null, openMs: close - 24 * hourMs, closeMs: close + (i + 1) * hourMs });
    }
  }

  addListener(l: FakeKalshiListener): void {
    this.listeners.push(l);
  }

  private emit<K extends keyof FakeKalshiListener>(k: K, ...args: Parameters<FakeKalshiListener[K]>): void {
    for (const l of this.listeners) (l[k] as (...a: Parameters<FakeKalshiListener[K]>) => void)(...args);
  }

  addMarket(m: Omit<FakeMarket, "id" | "status" | "result" | "tick">): FakeMarket {
    const market: FakeMarket = { ...m, id: randomUUID(), status: "active", result: "", tick: 100 };
    this.markets.set(m.ticker, market);
    // Seed a non-crossed book: YES bids below a fair price, NO bids below 1 − fair.
    const fair = 3000 + this.rng.int(0, 40) * 100;
    const book: Book = { yes: new Map(), no: new Map() };
    for (let i = 1; i <= 5; i++) {
      book.yes.set(fair - i * 100, this.rng.int(1, 50) * 100 + (i === 2 ? 77 : 0));
      book.no.set(PRICE_ONE - fair - i * 100, this.rng.int(1, 50) * 100);
    }
    this.books.set(m.ticker, book);
    return market;
  }

  tickers(): string[] {
    return [...this.markets.keys()].sort();
  }

  /** Markets open for trading now. */
  activeTickers(): string[] {
    return this.tickers().filter((t) => this.markets.get(t)!.status === "active");
  }

  // ---- oracle reads --------------------------------------------------------------------------

  /** The book as [price, size] ascending, own-leg prices (what REST orderbook_fp shows). */
  book(ticker: string): { yes: [PriceE4, CountE2][]; no: [PriceE4, CountE2][] } {
    const b = this.books.get(ticker);
    if (!b) throw new FakeRejection(404, "market_not_found", `no market ${ticker}`);
    const side = (m: Map<PriceE4, CountE2>) => [...m.entries()].filter(([, s]) => s > 0).sort((a, c) => a[0] - c[0]);
    return { yes: side(b.yes), no: side(b.no) };
  }

  bestBid(ticker: string, leg: Leg): { price: PriceE4; size: CountE2 } | null {
    const levels = this.book(ticker)[leg];
    const top = levels[levels.length - 1];
    return top ? { price: top[0], size: top[1] } : null;
  }

  orders(): FakeOrder[] {
    return [...this.orderMap.values()].sort((a, b) => a.arrival - b.arrival);
  }

  order(orderId: string): FakeOrder | undefined {
    return this.orderMap.get(orderId);
  }

  orderByClientId(clientOrderId: string): FakeOrder | undefined {
    return this.orders().find((o) => o.clientOrderId === clientOrderId);
  }

  fills(): readonly FakeFill[] {
    return this.fillList;
  }

  positions(): Map<string, CountE2> {
    return new Map([...this.positionMap.entries()].filter(([, p]) => p !== 0));
  }

  position(ticker: string): CountE2 {
    return this.positionMap.get(ticker) ?? 0;
  }

  settlements(): readonly FakeSettlement[] {
    return this.settlementList;
  }

  feesPaid(ticker: string): Micros {
    return this.feesByMarket.get(ticker) ?? 0;
  }

  volume(ticker: string): CountE2 {
    return this.volumeByMarket.get(ticker) ?? 0;
  }

  // ---- book mutation ---------------------------------------------------------------------------

  private bookOf(ticker: string): Book {
    const b = this.books.get(ticker);
    if (!b) throw new FakeRejection(404, "market_not_found", `no market ${ticker}`);
    return b;
  }

  /** Our resting size at an own-leg level. */
  private ownSizeAt(ticker: string, leg: Leg, price: PriceE4): CountE2 {
    let s = 0;
    for (const o of this.orderMap.values()) {
      if (o.ticker !== ticker || o.status !== "resting") continue;
      if (legOf(o.bookSide) === leg && ownPrice(o) === price) s += o.remaining;
    }
    return s;
  }

  /** Apply and publish one signed change at an own-leg level. */
  changeLevel(ticker: string, leg: Leg, price: PriceE4, delta: CountE2, clientOrderId: string | null = null, tsMs = Date.now()): void {
    if (delta === 0) return;
    const side = this.bookOf(ticker)[leg];
    const after = (side.get(price) ?? 0) + delta;
    if (after < 0) throw new Error(`fake book would go negative at ${ticker} ${leg} ${price}`);
    if (after === 0) side.delete(price);
    else side.set(price, after);
    this.emit("bookDelta", ticker, leg, price, delta, clientOrderId, tsMs);
  }

  /**
   * One random book change by other participants: add or remove size near the top of a side,
   * never crossing the book and never touching our own resting size. Returns false if nothing moved.
   */
  randomDelta(ticker?: string): boolean {
    const t = ticker ?? this.rng.pick(this.activeTickers());
    if (t === undefined) return false;
    const m = this.markets.get(t);
    if (!m || m.status !== "active") return false;
    const book = this.bookOf(t);
    const leg: Leg = this.rng.chance(0.5) ? "yes" : "no";
    const other: Leg = leg === "yes" ? "no" : "yes";
    const side = book[leg];
    const otherBest = this.bestBid(t, other)?.price ?? -1;
    const best = this.bestBid(t, leg)?.price ?? (otherBest >= 0 ? PRICE_ONE - otherBest - 500 : 4000);
    const add = side.size < 3 || this.rng.chance(0.55);
    if (add) {
      let price = best + this.rng.int(-8, 1) * m.tick;
      const maxPrice = otherBest >= 0 ? PRICE_ONE - otherBest - m.tick : PRICE_ONE - m.tick;
      price = Math.max(m.tick, Math.min(price, maxPrice));
      if (price < m.tick) return false;
      // Mostly whole contracts, sometimes fractional (the venue allows 0.01 granularity).
      const size = this.rng.int(1, 40) * 100 + (this.rng.chance(0.2) ? this.rng.int(1, 99) : 0);
      this.changeLevel(t, leg, price, size);
      return true;
    }
    const levels = [...side.keys()];
    if (levels.length === 0) return false;
    const price = this.rng.pick(levels);
    const synthetic = (side.get(price) ?? 0) - this.ownSizeAt(t, leg, price);
    if (synthetic <= 0) return false;
    const remove = this.rng.chance(0.5) ? synthetic : Math.max(1, Math.floor(synthetic * this.rng.next()));
    this.changeLevel(t, leg, price, -remove);
    return true;
  }

  // ---- orders -----------------------------------------------------------------------------------

  /** Every create the venue received (accepted or not), for tests: ticker, time, market status then. */
  readonly createAttempts: { ticker: string; ms: number; status: string }[] = [];

  createOrder(req: CreateOrderRequest, nowMs = Date.now()): CreateOrderOutcome {
    const m = this.markets.get(req.ticker);
    this.createAttempts.push({ ticker: req.ticker, ms: nowMs, status: m?.status ?? "unknown" });
    if (!m) throw new FakeRejection(404, "market_not_found", "market not found");
    if (m.status !== "active") throw new FakeRejection(400, "MARKET_INACTIVE", "market is not open");
    if (req.count <= 0) throw new FakeRejection(400, "invalid_parameters", "count must be positive");
    if (req.price <= 0 || req.price >= PRICE_ONE || req.price % m.tick !== 0) throw new FakeRejection(400, "invalid_price", "price off grid");
    if (req.clientOrderId && this.orderByClientId(req.clientOrderId)) {
      throw new FakeRejection(409, "order_already_exists", "duplicate client_order_id");
    }
    let count = req.count;
    if (req.reduceOnly) {
      const pos = this.position(req.ticker);
      const reducible = req.side === "bid" ? Math.max(0, -pos) : Math.max(0, pos);
      count = Math.min(count, reducible);
      if (count === 0) throw new FakeRejection(400, "reduce_only_violation", "nothing to reduce");
    }
    const order: FakeOrder = {
      orderId: randomUUID(),
      clientOrderId: req.clientOrderId,
      ticker: req.ticker,
      bookSide: req.side,
      yesPrice: req.price,
      initial: count,
      filled: 0,
      remaining: count,
      status: "resting",
      createdMs: nowMs,
      lastUpdateMs: nowMs,
      lastUpdateReason: "",
      takerFees: 0,
      makerFees: 0,
      takerFillCost: 0,
      makerFillCost: 0,
      arrival: ++this.arrivals,
    };
    this.orderMap.set(order.orderId, order);
    const crossable = this.crossableSize(req.ticker, req.side, req.price);
    if (req.postOnly && crossable > 0) {
      order.status = "canceled";
      order.remaining = 0;
      order.lastUpdateReason = "PostOnlyCrossCancel";
      this.emit("userOrder", order);
      return { order, filledNow: 0, fillCost: 0, fees: 0 };
    }
    if (req.tif === "fill_or_kill" && crossable < count) {
      order.status = "canceled";
      order.remaining = 0;
      order.lastUpdateReason = "FillOrKillCancel";
      this.emit("userOrder", order);
      return { order, filledNow: 0, fillCost: 0, fees: 0 };
    }
    const r = this.matchAggressive(order, nowMs);
    if (order.remaining > 0) {
      if (req.tif === "good_till_canceled") {
        this.changeLevel(order.ticker, legOf(order.bookSide), ownPrice(order), order.remaining, order.clientOrderId || null, nowMs);
      } else {
        order.status = "canceled";
        order.lastUpdateReason = "ImmediateOrCancel";
        order.remaining = 0;
      }
    } else order.status = "executed";
    order.lastUpdateMs = nowMs;
    this.emit("userOrder", order);
    return { order, ...r };
  }

  /** Size available to an aggressive order at its limit. */
  private crossableSize(ticker: string, side: BookSideV2, yesPrice: PriceE4): CountE2 {
    const b = this.book(ticker);
    let total = 0;
    if (side === "bid") for (const [q, s] of b.no) if (PRICE_ONE - q <= yesPrice) total += s;
    if (side === "ask") for (const [p, s] of b.yes) if (p >= yesPrice) total += s;
    return total;
  }

  /** Take liquidity for an incoming order of ours, best price first. Our own resting orders are skipped (self-trade prevention). */
  private matchAggressive(order: FakeOrder, nowMs: number): { filledNow: CountE2; fillCost: Micros; fees: Micros } {
    const oppLeg: Leg = order.bookSide === "bid" ? "no" : "yes";
    let filledNow = 0;
    let fillCost = 0;
    let fees = 0;
    const levels = this.book(order.ticker)[oppLeg].reverse(); // best first
    for (const [lvl, size] of levels) {
      if (order.remaining <= 0) break;
      const yesPx = oppLeg === "no" ? PRICE_ONE - lvl : lvl;
      if (order.bookSide === "bid" ? yesPx > order.yesPrice : yesPx < order.yesPrice) break;
      const available = size - this.ownSizeAt(order.ticker, oppLeg, lvl);
      if (available <= 0) continue;
      const take = Math.min(available, order.remaining);
      this.changeLevel(order.ticker, oppLeg, lvl, -take, order.clientOrderId || null, nowMs);
      const fee = this.takerFee(yesPx, take);
      this.recordFill(order, yesPx, take, fee, true, nowMs);
      filledNow += take;
      fillCost += order.bookSide === "bid" ? yesPx * take : (PRICE_ONE - yesPx) * take;
      fees += fee;
    }
    return { filledNow, fillCost, fees };
  }

  /** ceil_to_cent(0.07 × C × P × (1 − P) × multiplier), exact in integers: 7·c·p·(1e4 − p)/1e6 micros. */
  takerFee(yesPrice: PriceE4, count: CountE2): Micros {
    const raw = (7 * count * yesPrice * (PRICE_ONE - yesPrice) * this.feeMultiplier) / 1_000_000;
    return Math.ceil(raw / 10_000 - 1e-9) * 10_000;
  }

  private recordFill(order: FakeOrder, yesPrice: PriceE4, count: CountE2, fee: Micros, isTaker: boolean, nowMs: number): void {
    order.filled += count;
    order.remaining -= count;
    order.lastUpdateMs = nowMs;
    order.lastUpdateReason = "Trade";
    const cost = order.bookSide === "bid" ? yesPrice * count : (PRICE_ONE - yesPrice) * count;
    if (isTaker) {
      order.takerFees += fee;
      order.takerFillCost += cost;
    } else {
      order.makerFees += fee;
      order.makerFillCost += cost;
    }
    // Cash and position with YES/NO netting.
    const pos = this.position(order.ticker);
    let netted = 0;
    if (order.bookSide === "bid" && pos < 0) netted = Math.min(count, -pos);
    if (order.bookSide === "ask" && pos > 0) netted = Math.min(count, pos);
    this.cash += netted * DOLLAR_PER_E2 - cost - fee;
    const post = pos + (order.bookSide === "bid" ? count : -count);
    this.positionMap.set(order.ticker, post);
    this.feesByMarket.set(order.ticker, this.feesPaid(order.ticker) + fee);
    this.volumeByMarket.set(order.ticker, this.volume(order.ticker) + count);
    const fill: FakeFill = {
      tradeId: randomUUID(),
      orderId: order.orderId,
      clientOrderId: order.clientOrderId,
      ticker: order.ticker,
      bookSide: order.bookSide,
      yesPrice,
      count,
      fee,
      isTaker,
      tsMs: nowMs,
      postPosition: post,
    };
    this.fillList.push(fill);
    this.emit("fill", fill);
    this.emit("position", order.ticker);
  }

  cancelOrder(orderId: string, nowMs = Date.now(), reason = "Cancel"): { order: FakeOrder; reducedBy: CountE2 } {
    const o = this.orderMap.get(orderId);
    if (!o) throw new FakeRejection(404, "not_found", "order not found");
    if (o.status !== "resting") throw new FakeRejection(400, "order_not_resting", "order is not resting");
    const reducedBy = o.remaining;
    this.changeLevel(o.ticker, legOf(o.bookSide), ownPrice(o), -reducedBy, o.clientOrderId || null, nowMs);
    o.remaining = 0;
    o.status = "canceled";
    o.lastUpdateMs = nowMs;
    o.lastUpdateReason = reason;
    this.emit("userOrder", o);
    return { order: o, reducedBy };
  }

  decreaseOrder(orderId: string, p: { reduceBy?: CountE2; reduceTo?: CountE2 }, nowMs = Date.now()): FakeOrder {
    const o = this.orderMap.get(orderId);
    if (!o) throw new FakeRejection(404, "not_found", "order not found");
    if (o.status !== "resting") throw new FakeRejection(400, "order_not_resting", "order is not resting");
    if ((p.reduceBy === undefined) === (p.reduceTo === undefined)) throw new FakeRejection(400, "invalid_parameters", "exactly one of reduce_by / reduce_to");
    const target = p.reduceTo !== undefined ? p.reduceTo : o.remaining - (p.reduceBy ?? 0);
    const newRemaining = Math.max(0, Math.min(o.remaining, target));
    const cut = o.remaining - newRemaining;
    if (cut > 0) this.changeLevel(o.ticker, legOf(o.bookSide), ownPrice(o), -cut, o.clientOrderId || null, nowMs);
    o.remaining = newRemaining;
    o.initial -= cut;
    if (newRemaining === 0) o.status = "canceled";
    o.lastUpdateMs = nowMs;
    o.lastUpdateReason = "Decrease";
    this.emit("userOrder", o);
    return o;
  }

  /** Amend: `count` is total max fillable (filled + new remaining); a price change re-enters the book. */
  amendOrder(orderId: string, p: { ticker: string; side: BookSideV2; price: PriceE4; count: CountE2; updatedClientOrderId?: string }, nowMs = Date.now()): FakeOrder {
    const o = this.orderMap.get(orderId);
    if (!o) throw new FakeRejection(404, "not_found", "order not found");
    if (o.status !== "resting") throw new FakeRejection(400, "order_not_resting", "order is not resting");
    if (p.ticker !== o.ticker || p.side !== o.bookSide) throw new FakeRejection(400, "invalid_parameters", "ticker/side must match the order");
    const m = this.markets.get(o.ticker)!;
    if (p.price <= 0 || p.price >= PRICE_ONE || p.price % m.tick !== 0) throw new FakeRejection(400, "invalid_price", "price off grid");
    const newRemaining = p.count - o.filled;
    if (newRemaining <= 0) throw new FakeRejection(400, "invalid_parameters", "count must exceed filled");
    this.changeLevel(o.ticker, legOf(o.bookSide), ownPrice(o), -o.remaining, o.clientOrderId || null, nowMs);
    if (p.updatedClientOrderId) o.clientOrderId = p.updatedClientOrderId;
    o.yesPrice = p.price;
    o.remaining = newRemaining;
    o.initial = p.count;
    this.matchAggressive(o, nowMs);
    if (o.remaining > 0) this.changeLevel(o.ticker, legOf(o.bookSide), ownPrice(o), o.remaining, o.clientOrderId || null, nowMs);
    else o.status = "executed";
    o.lastUpdateMs = nowMs;
    if (o.lastUpdateReason !== "Trade") o.lastUpdateReason = "Amend";
    this.emit("userOrder", o);
    return o;
  }

  /**
   * An outside taker trades `count` at the best level against `takerSide` (bid: buys YES, hitting
   * NO bids; ask: sells YES, hitting YES bids). Other participants' size fills first, then ours.
   */
  takerTrade(ticker: string, takerSide: BookSideV2, count: CountE2, nowMs = Date.now()): CountE2 {
    const leg: Leg = takerSide === "bid" ? "no" : "yes";
    const best = this.bestBid(ticker, leg);
    if (!best) return 0;
    const take = Math.min(count, best.size);
    const yesPx = leg === "no" ? PRICE_ONE - best.price : best.price;
    const own = this.ownSizeAt(ticker, leg, best.price);
    let fromOurs = Math.max(0, take - (best.size - own));
    this.changeLevel(ticker, leg, best.price, -take, null, nowMs);
    const trade: FakePublicTrade = { tradeId: randomUUID(), ticker, yesPrice: yesPx, count: take, takerOutcome: takerSide === "bid" ? "yes" : "no", tsMs: nowMs };
    this.publicTrades.push(trade);
    if (this.publicTrades.length > 1000) this.publicTrades.shift();
    this.publicVolume.set(ticker, (this.publicVolume.get(ticker) ?? 0) + take);
    this.emit("publicTrade", trade);
    const ours = this.orders().filter((o) => o.ticker === ticker && o.status === "resting" && legOf(o.bookSide) === leg && ownPrice(o) === best.price);
    for (const o of ours) {
      if (fromOurs <= 0) break;
      const n = Math.min(o.remaining, fromOurs);
      fromOurs -= n;
      this.recordFill(o, yesPx, n, 0, false, nowMs);
      if (o.remaining === 0) o.status = "executed";
      this.emit("userOrder", o);
    }
    return take;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  lifecycle(ticker: string, eventType: string, extra: Record<string, unknown> = {}): void {
    const m = this.markets.get(ticker);
    if (m) m.updatedMs = Date.now();
    this.emit("lifecycle", { market_ticker: ticker, event_type: eventType, ...extra });
  }

  /** An event-level frame on the lifecycle channel (event_lifecycle, event_fee_update). */
  eventFrame(type: "event_lifecycle" | "event_fee_update", msg: Record<string, unknown>): void {
    this.emit("lifecycle", msg, type);
  }

  // ---- rolling mode ------------------------------------------------------------------------------

  /**
   * Advance the rolling schedule to `nowMs` (the server calls this on a short timer). Per window:
   * `event_lifecycle` + `created` at open (strike unknown), `metadata_updated` with the strike (the
   * index then) shortly after, close at open + window (no frame: Kalshi emits none; resting orders are
   * cancelled, the book freezes and is kept as the oracle), `determined` (index at close ≥ strike →
   * yes) and `settled` (payout) after their delays. The next window opens as the last one closes.
   */
  tickRolling(nowMs = Date.now()): void {
    const r = this.rolling;
    if (!r) return;
    const windowMs = r.windowSeconds * 1000;
    while (nowMs >= this.nextWindowMs && (r.maxWindows === undefined || this.windowsOpened < r.maxWindows)) {
      this.openWindow(this.nextWindowMs, windowMs, nowMs);
      this.nextWindowMs += windowMs;
    }
    const strikeDelay = r.strikeDelayMs ?? 150;
    const detDelay = r.determineDelayMs ?? 300;
    const setDelay = r.settleDelayMs ?? 200;
    for (const m of this.markets.values()) {
      const h = m.history;
      if (!h) continue;
      if (h.strikeMs < 0 && nowMs >= m.openMs + strikeDelay) {
        h.strikeMs = nowMs;
        m.floorStrike = Math.round(this.indexValue * 100) / 100;
        this.lifecycle(m.ticker, "metadata_updated", { strike_type: m.strikeType, floor_strike: m.floorStrike, yes_sub_title: `Target price: $${m.floorStrike.toFixed(2)}` });
      }
      if (h.closedMs < 0 && nowMs >= m.closeMs) {
        h.closedMs = nowMs;
        h.closeIndex = this.indexValue;
        for (const o of this.orders()) if (o.ticker === m.ticker && o.status === "resting") this.cancelOrder(o.orderId, nowMs, "CloseCancel");
        m.status = "closed";
        h.closeBook = this.book(m.ticker);
      }
      if (h.closedMs >= 0 && h.determinedMs < 0 && nowMs >= m.closeMs + detDelay) {
        h.determinedMs = nowMs;
        const result = h.closeIndex >= (m.floorStrike ?? Number.POSITIVE_INFINITY) ? "yes" : "no";
        this.determine(m.ticker, result, nowMs);
      }
      if (h.determinedMs >= 0 && h.settledMs < 0 && nowMs >= m.closeMs + detDelay + setDelay) {
        h.settledMs = nowMs;
        this.finalize(m.ticker, nowMs);
      }
    }
  }

  private openWindow(openMs: number, windowMs: number, nowMs: number): void {
    const series = this.rolling!.series ?? "KXBTC15M";
    const closeMs = openMs + windowMs;
    const d = new Date(closeMs - 4 * 3_600_000);
    const p2 = (n: number) => String(n).padStart(2, "0");
    const eventTicker = `${series}-${etCode(closeMs)}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}`;
    const ticker = `${eventTicker}-${p2(d.getUTCSeconds())}`;
    if (this.markets.has(ticker)) return;
    const history: RollingHistory = { createdMs: nowMs, strikeMs: -1, closedMs: -1, determinedMs: -1, settledMs: -1, closeIndex: Number.NaN, closeBook: null };
    const m = this.addMarket({ ticker, eventTicker, seriesTicker: series, strikeType: "greater_or_equal", floorStrike: null, capStrike: null, openMs, closeMs, history });
    this.windowsOpened++;
    this.eventFrame("event_lifecycle", {
      event_ticker: eventTicker,
      exchange_index: 2,
      title: `BTC price up in the window ending ${new Date(closeMs).toISOString()}?`,
      subtitle: "",
      collateral_return_type: "",
      series_ticker: series,
      strike_date: Math.floor(closeMs / 1000),
    });
    this.lifecycle(ticker, "created", {
      exchange_index: 2,
      open_ts: Math.floor(openMs / 1000),
      close_ts: Math.floor(closeMs / 1000),
      price_level_structure: "linear_cent",
      price_ranges: [{ start: "0.0000", end: "1.0000", step: "0.0100" }],
      additional_metadata: {
        name: ticker,
        title: "BTC up or down",
        yes_sub_title: "Target price: TBD",
        no_sub_title: "",
        rules_primary: "If the simple average of the sixty seconds of BRTI before close is at least the target, Yes.",
        rules_secondary: "",
        can_close_early: false,
        event_ticker: eventTicker,
        expected_expiration_ts: Math.floor(closeMs / 1000),
        strike_type: "greater_or_equal",
      },
    });
    void m;
  }

  /** Determination: the result is fixed (payout comes with `finalize`). */
  determine(ticker: string, result: "yes" | "no", nowMs = Date.now()): void {
    const m = this.markets.get(ticker);
    if (!m) throw new FakeRejection(404, "market_not_found", "market not found");
    for (const o of this.orders()) if (o.ticker === ticker && o.status === "resting") this.cancelOrder(o.orderId, nowMs, "CloseCancel");
    m.status = "determined";
    m.result = result;
    this.lifecycle(ticker, "determined", { result, settlement_value: result === "yes" ? "1.0000" : "0.0000", determination_ts: Math.floor(nowMs / 1000) });
  }

  /** Settlement: positions pay out at the determined result. */
  finalize(ticker: string, nowMs = Date.now()): FakeSettlement {
    const m = this.markets.get(ticker);
    if (!m || (m.result !== "yes" && m.result !== "no")) throw new FakeRejection(400, "not_determined", "market not determined");
    const result = m.result;
    m.status = "finalized";
    const pos = this.position(ticker);
    const yesCount = Math.max(0, pos);
    const noCount = Math.max(0, -pos);
    const revenue = (result === "yes" ? yesCount : noCount) * DOLLAR_PER_E2;
    this.cash += revenue;
    this.positionMap.set(ticker, 0);
    const s: FakeSettlement = { ticker, eventTicker: m.eventTicker, result, yesCount, noCount, revenue, tsMs: nowMs };
    this.settlementList.push(s);
    this.lifecycle(ticker, "settled", { settled_ts: Math.floor(nowMs / 1000) });
    return s;
  }

  /** Determine and settle a market at once: resting orders are cancelled, positions pay out. */
  settle(ticker: string, result: "yes" | "no", nowMs = Date.now()): FakeSettlement {
    this.determine(ticker, result, nowMs);
    return this.finalize(ticker, nowMs);
  }
}

export function legOf(side: BookSideV2): Leg {
  return side === "bid" ? "yes" : "no";
}

/** The own-leg price an order rests at: bids at p on YES, asks at 1 − p on NO. */
export function ownPrice(o: { bookSide: BookSideV2; yesPrice: PriceE4 }): PriceE4 {
  return o.bookSide === "bid" ? o.yesPrice : PRICE_ONE - o.yesPrice;
}

// ---- wire formatting shared by the REST and WS layers ---------------------------------------------

export function fmtPrice(p: PriceE4): string {
  return formatPriceDollars(p);
}
export function fmtCount(c: CountE2): string {
  return formatCountFp(c);
}
export function fmtMoney(m: Micros, decimals = 6): string {
  return formatMoneyDollars(m, decimals);
}
export { parseCountFp, parsePriceDollars };
