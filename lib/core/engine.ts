/**
 * The engine: the only place decisions are made. It consumes normalized events in receipt-time order
 * and emits order intents and audit records to a sink. Replay, paper and live differ only in what
 * feeds events in and what executes the intents (the simulated venue or the Kalshi gateway); the
 * execution reports come back as events (order_update, fill) through the same `onEvent`.
 *
 * Deterministic: no clock but the events' tsRecv, no randomness, no IO. Same events → same output.
 */
import { SharedBookFeed, type BookIssue, type BookRegistry, type BookUpdateResult } from "./book.ts";
import type { EngineConfig } from "./config.ts";
import type {
  BookDelta,
  BookSnapshot,
  EngineEvent,
  FeedHealth,
  IndexValue,
  MarketInfo,
  MarketLifecycle,
  MarketResult,
  OrderUpdate,
  OwnFill,
  PositionSnapshot,
  RestingOrderEntry,
  SpotQuote,
} from "./events.ts";
import { feePerContract, feeWaived, orderFee, scheduleAt, tradeFee, type FeeLeg, type FeeSchedule } from "./fees.ts";
import { mergeMarketInfo, withMovedClose } from "./markets.ts";
import { tickSizeAt, ticksBetween } from "./grid.ts";
import { OrderManager, ownFillToFillInput, type OpenEntryCosts, type TrackedOrder } from "./orders.ts";
import { Portfolio } from "./portfolio.ts";
import type { ModelRegistry, ProbabilityModel } from "./models.ts";
import { defaultModelRegistry } from "./models.ts";
import type {
  EngineSink,
  Opportunity,
  Outcome,
  PlaceOrder,
  ReasonCode,
  RiskStateChanged,
  SettlementRecord,
} from "./records.ts";
import { RiskManager, type BookSummary } from "./risk.ts";
import { settlementSecond, type IndexWindow } from "./settlement.ts";
import { PRICE_ONE, US_PER_S, formatCountFp, formatMoneyDollars, priceToProb, type CountE2, type Micros, type PriceE4, type TsUs } from "./units.ts";
import type { VolEstimator } from "./volatility.ts";
import { SpotFeatures, quoteMid } from "./features.ts";

const NO_ORDERS: readonly TrackedOrder[] = [];
const formatCount = (c: CountE2): string => (c / 100).toFixed(2);

/**
 * An entry's size and what set it. The opportunity's text is built from it only when the entry is
 * really sent (sizeDetail): formatting it for every market at every sweep, for every config of a
 * sweep, cost more than deciding.
 */
interface EntrySize {
  readonly count: CountE2;
  readonly wanted: CountE2;
  readonly kelly: { readonly q: number; readonly c: number; readonly fStar: number; readonly fraction: number; readonly bankroll: number } | null;
  /** The risk check's reason when it cut the size. */
  readonly capped: string | null;
  /** The text is the sizing rule alone (no risk verdict applied). */
  readonly bare?: boolean;
  /** No text at all. */
  readonly noDetail?: boolean;
}

function sizeDetail(z: EntrySize): string {
  if (z.noDetail) return "";
  const k = z.kelly;
  const how =
    k === null
      ? `fixed ${formatCount(z.wanted)}`
      : `kelly q=${k.q.toFixed(4)} c=${k.c.toFixed(4)} f*=${k.fStar.toFixed(4)} × ${k.fraction} × $${k.bankroll.toFixed(2)} → ${formatCount(z.wanted)}`;
  if (z.bare) return how;
  return z.capped !== null ? `size ${how}, capped to ${formatCount(z.count)} (${z.capped})` : `size ${how}`;
}

const SUPPORTED_STRIKES = new Set(["greater", "greater_or_equal", "less", "less_or_equal", "between"]);

interface MarketState {
  info: MarketInfo;
  closed: boolean;
  /** Deactivated (a pause): no place or amend until it is activated again (reference §7.4). */
  paused: boolean;
  settled: boolean;
  /** How the market was settled, so a later result that differs is booked as a correction. */
  settledBy: SettledBy | null;
  /** Risk block key of this market's book (built once, asked on every evaluation). */
  readonly bookKey: string;
  /** The fee schedule of `info`, rebuilt only when the record changes (asked on every evaluation). */
  schedule: FeeSchedule | null;
  scheduleOf: MarketInfo | null;
  /** Whether `schedule` is the waived one (the market's fee waiver ran at the time it was built). */
  scheduleWaived: boolean;
}

interface SettledBy {
  /** When this settlement was first booked (a correction of it may lift the REDUCING it caused). */
  readonly ts: TsUs;
  readonly source: SettlementRecord["source"];
  readonly result: MarketResult;
  readonly settlementValue: PriceE4;
  readonly position: CountE2;
  readonly costBasis: Micros;
  readonly payout: Micros;
}

export interface EngineCounters {
  events: number;
  evaluations: number;
  intents: number;
  fills: number;
  settlements: number;
  inconsistencies: number;
}

/**
 * Model probabilities of one sweep, shared by engines whose vol and model settings are identical
 * (the sessions of a parameter sweep): fed the same events, they would compute the same numbers.
 * Every session of a sweep evaluates a market at the same event, so the key is (market, ts). The
 * evaluation id is kept beside it: formatting a 16-digit time costs more than the lookup.
 */
export class ModelCache {
  private ts = -1;
  private readonly values = new Map<string, number>();
  private readonly ids = new Map<string, string>();
  /** The cached probability for this market at this instant, or NaN. */
  lookup(market: string, ts: TsUs): number {
    if (ts !== this.ts) return Number.NaN;
    return this.values.get(market) ?? Number.NaN;
  }

  store(market: string, ts: TsUs, p: number): void {
    this.moveTo(ts);
    this.values.set(market, p);
  }

  /** `${market}@${ts}`, made once per instant for every session. */
  evalId(market: string, ts: TsUs): string {
    this.moveTo(ts);
    let id = this.ids.get(market);
    if (id === undefined) this.ids.set(market, (id = evalIdOf(market, ts)));
    return id;
  }

  private moveTo(ts: TsUs): void {
    if (ts !== this.ts) {
      this.ts = ts;
      this.values.clear();
      this.ids.clear();
    }
  }
}

/** The id of one evaluation of one market: an opportunity row and the orders it sent share it. */
function evalIdOf(market: string, ts: TsUs): string {
  return `${market}@${ts}`;
}

/** The latest usable Coinbase mid and BRTI print among skipped events (times -1: none). */
export interface SkippedSpot {
  readonly mid: number;
  readonly midTs: TsUs;
  readonly index: number;
  readonly indexTs: TsUs;
}

export interface EngineShared {
  /** Book messages applied once for every reader of the stream. */
  readonly books?: SharedBookFeed;
  /** Only for engines with identical vol and model configs. */
  readonly models?: ModelCache;
  /** Where cfg.model.name is looked up (default: the built-ins); register user models here. */
  readonly registry?: ModelRegistry;
  /**
   * Vol and settlement-window features moved by the owner (a sweep), once per event for every
   * engine with the same `SpotFeatures.keyOf(cfg)`, before any of them sees the event.
   */
  readonly features?: SpotFeatures;
}

export class Engine {
  readonly feed: SharedBookFeed;
  readonly books: BookRegistry;
  private readonly models: ModelCache | null;
  readonly markets = new Map<string, MarketState>();
  /** Markets whose result was recorded before their market record (kept until it arrives). */
  private readonly settledBeforeInfo = new Map<string, SettledBy>();
  readonly portfolio: Portfolio;
  readonly risk: RiskManager;
  readonly orders: OrderManager;
  readonly vol: VolEstimator;
  /** Settlement-window samples, on the model's window length (the same rule as the sim's fallback). */
  readonly index: IndexWindow;
  /** Holds vol and index; moved by this engine only when it owns them (not shared by a sweep). */
  private readonly features: SpotFeatures;
  private readonly ownsFeatures: boolean;
  readonly counters: EngineCounters = {
    events: 0,
    evaluations: 0,
    intents: 0,
    fills: 0,
    settlements: 0,
    inconsistencies: 0,
  };

  /** Set by a kill_switch event; never cleared inside a session. */
  killSwitchEngaged = false;
  /** Venue order ids of untracked resting orders already recorded (cancelUntracked). */
  private readonly strayOrders = new Set<string>();
  /**
   * Before this instant the engine only follows the market — books, volatility, index, lifecycle,
   * risk blocks — and its sweeps evaluate nothing, so nothing is priced, sent or recorded as an
   * opportunity. A replay's warm-up prefix (the day before a day-range job) sets it.
   */
  warmUntil: TsUs = Number.NEGATIVE_INFINITY;
  private now: TsUs = -1;
  private started = false;
  private spotMid = Number.NaN;
  private lastSpotTs: TsUs = -1;
  private indexValue = Number.NaN;
  private lastIndexTs: TsUs = -1;
  private nextSweep: TsUs = -1;
  /** Venue-reported cash minus our own cash at the last reconciliation that carried a balance (0 = none). */
  private venueCashOffset: Micros = 0;
  private readonly evalUs: number;
  /** The model without the spot-vs-BRTI basis terms, for when the input is the BRTI print itself. */
  private readonly modelOnIndex: ProbabilityModel;
  /** The model trades are decided on (cfg.model.name, with the basis buffers for a spot input). */
  private readonly modelOnSpot: ProbabilityModel;
  private readonly sweepMarkets: string[] = [];
  // Made once: the risk book is rebuilt at every sweep and these are asked at every evaluation.
  private readonly positionCostIn = (m: string): Micros => this.portfolio.costBasisIn(m);
  private readonly openOrderCostIn = (m: string): OpenEntryCosts => this.orders.openEntryCosts(m);
  private readonly openOrderMarketSet = (): ReadonlySet<string> => this.orders.openEntryMarkets();
  private readonly hasPositionIn = (m: string): boolean => this.portfolio.positionIn(m) !== 0;
  private sweepDirty = true;

  constructor(
    readonly cfg: EngineConfig,
    private readonly sink: EngineSink,
    startTs: TsUs = 0,
    shared: EngineShared = {},
  ) {
    this.feed = shared.books ?? new SharedBookFeed();
    this.books = this.feed.registry;
    this.models = shared.models ?? null;
    this.portfolio = new Portfolio(Math.round(cfg.risk.startingBalanceDollars * 1_000_000));
    this.risk = new RiskManager(cfg.risk, startTs);
    this.orders = new OrderManager(cfg.orders, startTs);
    const features = shared.features;
    if (features && features.key !== SpotFeatures.keyOf(cfg)) {
      throw new Error(`shared spot features ${features.key} do not match this config's ${SpotFeatures.keyOf(cfg)}`);
    }
    this.features = features ?? new SpotFeatures(cfg);
    this.ownsFeatures = features === undefined;
    this.vol = this.features.vol;
    this.index = this.features.index;
    this.evalUs = Math.max(1, Math.round(cfg.strategy.evalIntervalSeconds * US_PER_S));
    const registry = shared.registry ?? defaultModelRegistry();
    const spec = { name: cfg.model.name ?? "diffusion", params: cfg.model.params };
    this.modelOnSpot = registry.create(spec, cfg.model);
    this.modelOnIndex = registry.create(spec, { ...cfg.model, basisVol: 0, basisUsd: 0 });
  }

  /** Event time of the last event consumed. */
  time(): TsUs {
    return this.now;
  }

  /**
   * Consume an event that changes nothing of this engine's own state, without dispatching it: a
   * book delta the shared feed has already applied cleanly (`applied` from SharedBookFeed.apply: no
   * gap, no issue), or a kind the engine ignores (tickers, spot prints). Returns false, having done
   * nothing, when the event needs onEvent — it is not one of those, or it is the first event, or a
   * sweep falls due at it. A parameter sweep uses this so 32 configs do not each re-handle every
   * delta; the result is exactly onEvent's (tests/run/sweep.test.ts compares every audit record).
   */
  skimEvent(e: EngineEvent, applied: BookUpdateResult | null): boolean {
    const ts = e.tsRecv;
    if (!this.started || ts >= this.nextSweep) return false;
    if (e.kind === "book_delta") {
      if (applied === null || applied.gap !== null || applied.issues.length > 0) return false;
    } else if (e.kind !== "market_ticker" && e.kind !== "spot_trade") return false;
    if (ts > this.now) this.now = ts;
    this.counters.events++;
    return true;
  }

  /**
   * skimEvent for a spot quote or index print, when a sweep's owner moves the shared features:
   * what is left of the event is the latest mid or print.
   */
  skimSpot(e: SpotQuote | IndexValue): boolean {
    const ts = e.tsRecv;
    if (this.ownsFeatures || !this.started || ts >= this.nextSweep) return false;
    this.noteSpot(e);
    if (ts > this.now) this.now = ts;
    this.counters.events++;
    return true;
  }

  /**
   * Before this instant, an event skimEvent/skimSpot would take changes nothing here but counts and
   * the latest spot values (-∞ until the first event: that one always goes through onEvent).
   */
  quietUntil(): TsUs {
    return this.started && !this.ownsFeatures ? this.nextSweep : Number.NEGATIVE_INFINITY;
  }

  /**
   * Account for `count` events a sweep's owner took for this engine without handing them over (all
   * before quietUntil(), all of them ones skimEvent/skimSpot would have taken), the latest at
   * `maxTs`; `spot` carries the latest usable mid and index print among them, if any.
   */
  catchUp(count: number, maxTs: TsUs, spot: SkippedSpot): void {
    this.counters.events += count;
    if (maxTs > this.now) this.now = maxTs;
    if (spot.midTs >= 0) {
      this.spotMid = spot.mid;
      this.lastSpotTs = spot.midTs;
    }
    if (spot.indexTs >= 0) {
      this.indexValue = spot.index;
      this.lastIndexTs = spot.indexTs;
    }
  }

  onEvent(e: EngineEvent): void {
    const ts = e.tsRecv;
    if (ts > this.now) this.now = ts;
    this.counters.events++;
    if (!this.started) {
      this.started = true;
      this.nextSweep = (Math.floor(ts / this.evalUs) + 1) * this.evalUs;
    }
    switch (e.kind) {
      case "spot_quote":
      case "index_value":
        if (this.ownsFeatures) this.features.onEvent(e);
        this.noteSpot(e);
        break;
      case "spot_trade":
        break;
      case "book_snapshot":
        this.onBookSnapshot(e);
        break;
      case "book_delta":
        this.onBookDelta(e);
        break;
      case "market_ticker":
      case "public_trade":
        break;
      case "market_info":
        this.onMarketInfo(e);
        break;
      case "market_lifecycle":
        this.onLifecycle(e);
        break;
      case "order_update":
        this.onOrderUpdate(e);
        break;
      case "fill":
        this.onFill(e);
        break;
      case "position_snapshot":
        this.onPositionSnapshot(e);
        break;
      case "timer":
        break;
      case "feed_health":
        this.onFeedHealth(e);
        break;
      case "subscription_updated": {
        // A control reply that used up a seq: keep the sid's count exact (a real gap here still counts).
        const g = this.feed.checkSeq(e);
        if (g) this.onGap(ts, e.sid, this.books.marketsOnSid(e.sid), `seq ${g.expected} expected, got ${g.got}`);
        break;
      }
      case "kill_switch":
        if (e.engaged) {
          this.killSwitchEngaged = true;
          const changed = this.risk.engageKillSwitch(ts, e.reason);
          // Entering HALTED sends the cancel-all; an already halted engine still obeys the switch.
          if (changed.length > 0) this.emitStates(changed);
          else {
            this.sink.intent({ kind: "cancel_all", ts, reason: `kill switch: ${e.reason}` });
            this.counters.intents++;
          }
        }
        break;
    }
    if (ts >= this.nextSweep) this.sweep(ts);
  }

  // ---- market data ---------------------------------------------------------------------------

  /** The latest usable Coinbase mid or BRTI print (the features are moved separately). */
  private noteSpot(e: SpotQuote | IndexValue): void {
    if (e.kind === "spot_quote") {
      const mid = quoteMid(e);
      // The mid the features took: a stray print (spot-guard.ts) leaves the spot as it was.
      if (mid === mid && this.features.acceptedQuote === e) {
        this.spotMid = mid;
        this.lastSpotTs = e.tsRecv;
      }
    } else if (e.kind === "index_value") {
      this.indexValue = e.value;
      this.lastIndexTs = e.tsRecv;
    }
  }

  private onBookSnapshot(e: BookSnapshot): void {
    const r = this.feed.apply(e);
    if (r.gap) this.onGap(e.tsRecv, r.gap.sid, r.gap.markets.filter((m) => m !== e.market), `seq ${r.gap.expected} expected, got ${r.gap.got}`);
    if (r.issues.length > 0) this.onBookIssues(e.tsRecv, e.market, r.issues);
    else this.risk.unblock(e.tsRecv, `book:${e.market}`);
  }

  private onBookDelta(e: BookDelta): void {
    const r = this.feed.apply(e);
    if (r.gap) this.onGap(e.tsRecv, r.gap.sid, r.gap.markets, `seq ${r.gap.expected} expected, got ${r.gap.got}`);
    if (r.issues.length > 0) this.onBookIssues(e.tsRecv, e.market, r.issues);
  }

  private onGap(ts: TsUs, sid: number, markets: readonly string[], detail: string): void {
    for (const m of markets) this.risk.block(ts, `book:${m}`, `seq gap on sid ${sid}`);
    this.inconsistency(ts, null, "seq_gap", `sid ${sid}: ${detail}; stale: ${markets.join(",")}`);
  }

  private onBookIssues(ts: TsUs, market: string, issues: readonly BookIssue[]): void {
    for (const issue of issues) {
      this.risk.block(ts, `book:${market}`, issue.kind);
      this.inconsistency(ts, market, issue.kind, JSON.stringify(issue));
    }
  }

  private onMarketInfo(e: MarketInfo): void {
    const prev = this.markets.get(e.market);
    // A partial update (metadata_updated: strike only) is merged over the record, never replaces it.
    if (prev) {
      prev.info = mergeMarketInfo(prev.info, e);
      // A record's status says whether it is paused as well as the lifecycle frames do.
      if (e.status === "inactive") prev.paused = true;
      else if (e.status === "active") prev.paused = false;
    } else {
      // A result recorded before the market's record (a determined frame first): nothing to trade.
      const early = this.settledBeforeInfo.get(e.market) ?? null;
      if (early) this.settledBeforeInfo.delete(e.market);
      this.markets.set(e.market, { info: e, closed: early !== null, paused: e.status === "inactive", settled: early !== null, settledBy: early, bookKey: `book:${e.market}`, schedule: null, scheduleOf: null, scheduleWaived: false });
      this.sweepDirty = true;
    }
  }

  private onLifecycle(e: MarketLifecycle): void {
    const st = this.markets.get(e.market);
    const ts = e.tsRecv;
    switch (e.phase) {
      case "closed":
      case "deactivated":
        if (st && e.phase === "closed") st.closed = true;
        if (st && e.phase === "deactivated") st.paused = true;
        this.cancelMarketOrders(ts, e.market, e.phase);
        break;
      case "activated":
        if (st) st.paused = false;
        break;
      case "close_date_updated":
        if (st && e.closeTime > 0) st.info = withMovedClose(st.info, e.closeTime);
        break;
      case "determined":
      case "settled":
        if (st) st.closed = true;
        if (e.result && !(st?.settled ?? (this.settledBeforeInfo.has(e.market)))) this.settleMarket(ts, e);
        else if (e.result && (e.resultSource ?? "venue") === "venue") {
          const by = st ? st.settledBy : (this.settledBeforeInfo.get(e.market) ?? null);
          if (by) this.overruleSettlement(ts, e, by, st);
        }
        // Nothing trades after determination: release the book (replays of many days stay flat).
        this.feed.retire(e);
        break;
      default:
        break;
    }
  }

  private settleMarket(ts: TsUs, e: MarketLifecycle): void {
    const st = this.markets.get(e.market);
    if (st) st.settled = true;
    this.sweepDirty = true;
    this.cancelMarketOrders(ts, e.market, "settled");
    const result = e.result!;
    const source = e.resultSource ?? "venue";
    const r = this.portfolio.settle(e.market, result, e.settlementValue, ts);
    // Kept so that a later result which differs (the venue's after a fallback's, or the venue
    // changing its own: a dispute, an amended value) is booked as a correction.
    this.keepSettledBy(e.market, st, { ts, source, result, settlementValue: e.settlementValue, position: r.position, costBasis: r.payout - r.pnl, payout: r.payout });
    this.sink.record({
      kind: "settlement",
      ts,
      market: e.market,
      result,
      source,
      settleValue: e.expirationValue,
      position: r.position,
      payout: r.payout,
      pnl: r.pnl,
    });
    this.counters.settlements++;
    this.updateRisk(ts);
  }

  /**
   * A venue result for a market already settled. After a fallback's settlement a second row (source
   * venue) always records it: if it differs, the settled position is paid the venue's way and the row
   * carries the payout and PnL difference, so sums per market are right, and an inconsistency says
   * what happened; if it agrees, the row carries 0 (the venue confirmed the fallback). After the
   * venue's own settlement a repeat (settled after determined) adds nothing, and a different result
   * (a dispute, an amended value) is a correction like the fallback's.
   */
  private overruleSettlement(ts: TsUs, e: MarketLifecycle, prev: SettledBy, st: MarketState | undefined): void {
    const result = e.result!;
    const agrees = result === prev.result && (result !== "scalar" || e.settlementValue === prev.settlementValue);
    if (agrees && prev.source === "venue") return;
    const delta = agrees ? 0 : this.portfolio.resettle(e.market, prev, result, e.settlementValue, ts);
    // The venue has spoken; should it speak again differently, that is compared with this. The
    // booking time stays the first one: what the risk manager asks is whether the trip counted it.
    this.keepSettledBy(e.market, st, { ...prev, source: "venue", result, settlementValue: e.settlementValue, payout: prev.payout + delta });
    if (!agrees) {
      const was = prev.source === "venue" ? "the venue first" : prev.source;
      this.inconsistency(ts, e.market, "settlement_overruled", `${was} settled ${prev.result}; the venue says ${result}: payout ${formatMoneyDollars(delta, 2)}`);
    }
    this.sink.record({
      kind: "settlement",
      ts,
      market: e.market,
      result,
      source: "venue",
      settleValue: e.expirationValue,
      position: prev.position,
      payout: delta,
      pnl: delta,
    });
    if (!agrees) this.emitStates(this.risk.settlementCorrected(ts, this.riskBook(ts), delta, prev.ts));
  }

  /** How a market was settled, on its state, or aside until its record arrives. */
  private keepSettledBy(market: string, st: MarketState | undefined, by: SettledBy): void {
    if (st) st.settledBy = by;
    else this.settledBeforeInfo.set(market, by);
  }

  private cancelMarketOrders(ts: TsUs, market: string, why: string): void {
    for (const o of this.orders.openForMarket(market)) {
      if (o.status !== "resting") continue;
      if (!this.orders.canSend(ts, "cancel")) continue;
      const rec = this.orders.onCancelSubmit(ts, o.clientOrderId);
      if (rec) this.sink.record(rec);
      this.sink.intent({ kind: "cancel_order", ts, clientOrderId: o.clientOrderId, orderId: o.orderId, market, reason: why });
      this.counters.intents++;
    }
  }

  // ---- own orders ------------------------------------------------------------------------------

  private onOrderUpdate(e: OrderUpdate): void {
    if (e.status === "unknown") {
      // The live transport reports a write whose outcome is unknown (timeout, 5xx, 429, unreadable
      // answer): the order stays in flight, never rejected, until a venue report resolves it.
      const rec = this.orders.onUnknownOutcome(e.tsRecv, e.clientOrderId, e.reason);
      if (rec) this.sink.record(rec);
      return;
    }
    const r = this.orders.onOrderUpdate(e);
    if (r.record) this.sink.record(r.record);
    if (r.unknownOrder) {
      this.inconsistency(e.tsRecv, e.market, "unknown_order", `order ${e.orderId} / ${e.clientOrderId}`);
    }
  }

  private onFill(e: OwnFill): void {
    const ts = e.tsRecv;
    const r = this.orders.onFill(e);
    // The same trade can arrive twice (WS and REST): count it once.
    if (r.duplicate) return;
    if (r.unknownOrder || !r.order) {
      this.inconsistency(ts, e.market, "fill_for_unknown_order", `trade ${e.tradeId} order ${e.orderId}`);
      this.emitStates(this.risk.halt(ts, `fill for unknown order ${e.orderId}`));
    } else if (r.inconsistent) {
      this.inconsistency(ts, e.market, "fill_inconsistent", `trade ${e.tradeId}: ${r.inconsistent}`);
      this.emitStates(this.risk.halt(ts, `inconsistent fill ${e.tradeId}: ${r.inconsistent}`));
    }
    // Direction comes from the YES-book side, which is right even for fills of orders we do not know.
    const input = ownFillToFillInput(e, r.order);
    const pos = this.portfolio.applyFill(input);
    this.counters.fills++;
    this.sink.record({
      kind: "fill_record",
      ts,
      tradeId: e.tradeId,
      clientOrderId: e.clientOrderId,
      orderId: e.orderId,
      market: e.market,
      outcome: input.outcome,
      action: input.action,
      price: input.price,
      count: e.count,
      fee: e.fee,
      isTaker: e.isTaker,
      positionAfter: pos.position,
    });
    this.sink.record({
      kind: "position",
      ts,
      market: e.market,
      position: pos.position,
      costBasis: pos.costBasis,
      realizedPnl: pos.realizedPnl,
      feesPaid: pos.feesPaid,
    });
    this.updateRisk(ts);
  }

  private onPositionSnapshot(e: PositionSnapshot): void {
    const ts = e.tsRecv;
    // The venue's cash (of the shard our markets live on) is what orders can use: size from it, and
    // keep following our own fills until the next reconciliation.
    if (e.balance >= 0) this.venueCashOffset = e.balance - this.portfolio.cash();
    const mismatches = this.portfolio.reconcile(e.positions);
    for (const rec of this.orders.reconcile(ts, e.restingOrders)) this.sink.record(rec);
    this.cancelUntracked(ts, e.restingOrders);
    this.sink.record({ kind: "reconciliation", ts, ok: mismatches.length === 0, mismatches });
    if (mismatches.length > 0) this.emitStates(this.risk.halt(ts, `reconciliation mismatch: ${mismatches.join("; ")}`));
    else this.risk.noteReconciled(ts);
  }

  /**
   * Orders resting at the venue that this run never placed (an earlier run's, left by a crash): they
   * sit outside every exposure cap, so each is cancelled, and recorded once. A cancel that fails is
   * asked again at the next reconciliation that still lists the order.
   */
  private cancelUntracked(ts: TsUs, resting: readonly RestingOrderEntry[]): void {
    const stray = this.orders.untracked(resting);
    const listed = new Set(stray.map((r) => r.orderId));
    for (const id of this.strayOrders) if (!listed.has(id)) this.strayOrders.delete(id);
    for (const r of stray) {
      if (!this.strayOrders.has(r.orderId)) {
        this.strayOrders.add(r.orderId);
        this.inconsistency(ts, r.market, "untracked_resting_order", `order ${r.orderId} (client ${r.clientOrderId || "?"}) rests at the venue, not placed by this run: cancelling it`);
      }
      this.sink.intent({ kind: "cancel_order", ts, clientOrderId: r.clientOrderId, orderId: r.orderId, market: r.market, reason: "untracked at the venue" });
      this.counters.intents++;
    }
  }

  private onFeedHealth(e: FeedHealth): void {
    const ts = e.tsRecv;
    const feedKey = `feed:${e.feed}`;
    switch (e.status) {
      case "gap":
        // A Kalshi gap on a sid without books (FeedHealth.markets) loses no book: it is recorded, and
        // the feed catches up the frames it lost; blocking the whole feed here was never lifted.
        if (e.markets.length === 0 && !(e.feed === "kalshi" && e.sid >= 0)) this.risk.block(ts, feedKey, `gap: ${e.detail}`);
        for (const m of e.markets) this.risk.block(ts, `book:${m}`, `gap: ${e.detail}`);
        this.inconsistency(ts, null, "feed_gap", `${e.feed} sid ${e.sid}: ${e.detail}`);
        break;
      case "disconnected":
      case "stale":
        this.risk.block(ts, feedKey, `${e.status}: ${e.detail}`);
        if (e.feed === "kalshi") this.feed.resetAll(e);
        break;
      case "connected":
      case "resynced":
        this.risk.unblock(ts, feedKey);
        break;
    }
  }

  private inconsistency(ts: TsUs, market: string | null, issue: string, detail: string): void {
    this.counters.inconsistencies++;
    this.sink.record({ kind: "inconsistency", ts, market, issue, detail });
  }

  /**
   * Record risk state changes and act on them: HALTED cancels every open order at the venue (one
   * cancel-all, whatever we think rests) and nothing new is sent; REDUCING cancels resting entries
   * (orders that are not reduce-only) and only reducing orders may follow.
   */
  private emitStates(changes: readonly RiskStateChanged[]): void {
    for (const c of changes) {
      this.sink.record(c);
      if (c.to === "HALTED") {
        this.sink.intent({ kind: "cancel_all", ts: c.ts, reason: `halted: ${c.reason}` });
        this.counters.intents++;
      } else if (c.to === "REDUCING") this.cancelEntries(c.ts, "reducing");
    }
  }

  /** Cancel resting orders that would add risk (not reduce-only); paced by the write limiter. */
  private cancelEntries(ts: TsUs, why: string): void {
    if (this.orders.noneOpen()) return;
    for (const o of this.orders.open()) {
      if (o.reduceOnly || o.status !== "resting" || o.cancelRequested) continue;
      if (!this.orders.canSend(ts, "cancel")) return; // the next sweep tries again
      const rec = this.orders.onCancelSubmit(ts, o.clientOrderId);
      if (rec) this.sink.record(rec);
      this.sink.intent({ kind: "cancel_order", ts, clientOrderId: o.clientOrderId, orderId: o.orderId, market: o.market, reason: why });
      this.counters.intents++;
    }
  }

  private updateRisk(ts: TsUs): void {
    this.emitStates(this.risk.updateBook(ts, this.riskBook(ts)));
  }

  private riskBook(ts: TsUs): BookSummary {
    const p = this.portfolio;
    return {
      dailyPnl: p.dailyRealized(ts),
      balance: p.cash() + this.venueCashOffset + p.exposure(),
      exposure: p.exposure(),
      openPositions: p.openMarketCount(),
      positionCost: this.positionCostIn,
      hasPosition: this.hasPositionIn,
      openOrderCost: this.openOrderCostIn,
      openOrderMarkets: this.openOrderMarketSet,
    };
  }

  // ---- evaluation ------------------------------------------------------------------------------

  /** Runs on the event-time grid: staleness, market closes, then one evaluation per market. */
  private sweep(ts: TsUs): void {
    this.nextSweep = (Math.floor(ts / this.evalUs) + 1) * this.evalUs;
    const s = this.cfg.strategy;
    // The daily loss limit resets on a new UTC day even when nothing trades.
    this.updateRisk(ts);
    if (this.lastSpotTs < 0 || ts - this.lastSpotTs > s.spotStaleSeconds * US_PER_S) {
      this.risk.block(ts, "spot", "spot stale");
    } else if (this.features.spotInDoubt()) {
      this.risk.block(ts, "spot", "spot in doubt: a print far from the last level awaits confirmation");
    } else this.risk.unblock(ts, "spot");
    // Book staleness is not inferred from quiet markets (a book may rest unchanged for minutes):
    // the Kalshi client reports a dead connection as FeedHealth stale/disconnected, and gaps per sid.

    if (this.sweepDirty) {
      this.sweepMarkets.length = 0;
      for (const m of [...this.markets.keys()].sort()) if (!this.markets.get(m)!.settled) this.sweepMarkets.push(m);
      this.sweepDirty = false;
    }
    const spot = this.referenceSpot(ts);
    const sigma = this.vol.sigma();
    this.sink.record({
      kind: "features",
      ts,
      spot,
      sigma,
      sigmaSamples: this.vol.samples(),
      indexValue: this.indexValue,
      basis: this.indexValue - this.spotMid,
    });
    this.expireRestingOrders(ts);
    if (this.risk.state() === "REDUCING") this.cancelEntries(ts, "reducing");
    for (const m of this.sweepMarkets) {
      const st = this.markets.get(m)!;
      if (st.settled) continue;
      if (!st.closed && ts >= st.info.closeTime) {
        st.closed = true;
        this.cancelMarketOrders(ts, m, "market closed");
      }
      if (st.closed || ts < this.warmUntil) continue;
      this.evaluate(ts, st, spot, sigma);
    }
  }

  private expireRestingOrders(ts: TsUs): void {
    if (this.orders.noneOpen()) return;
    const ttl = this.cfg.strategy.restingTtlSeconds * US_PER_S;
    for (const o of this.orders.open()) {
      // A cancel already sent is not re-sent at every sweep: only once another TTL has passed since
      // the order last changed (e.g. a cancel whose outcome was unknown and the order still rests).
      if (o.cancelRequested && ts - o.lastTs < ttl) continue;
      if (o.status === "resting" && ts - o.createdTs >= ttl && this.orders.canSend(ts, "cancel")) {
        const rec = this.orders.onCancelSubmit(ts, o.clientOrderId);
        if (rec) this.sink.record(rec);
        this.sink.intent({ kind: "cancel_order", ts, clientOrderId: o.clientOrderId, orderId: o.orderId, market: o.market, reason: "ttl" });
        this.counters.intents++;
      }
    }
  }

  /** BRTI when a print is fresh (the settlement index), else the Coinbase mid. */
  private referenceSpot(ts: TsUs): number {
    return this.indexIsFresh(ts) ? this.indexValue : this.spotMid;
  }

  private indexIsFresh(ts: TsUs): boolean {
    return this.lastIndexTs >= 0 && ts - this.lastIndexTs <= 5 * US_PER_S;
  }

  private evaluate(ts: TsUs, st: MarketState, spot: number, sigma: number): void {
    const info = st.info;
    const s = this.cfg.strategy;
    const blocks = this.risk.blocks();
    const anyBlock = blocks.size > 0;
    const market = info.market;
    const tauSeconds = (info.settleTime - ts) / US_PER_S;
    const book = this.books.get(market);
    const top = book ? book.top() : null;

    const supported = SUPPORTED_STRIKES.has(info.strikeType);
    const open = ts >= info.openTime;
    let pModel = Number.NaN;
    if (supported && open && spot > 0 && sigma > 0) {
      if (this.models) {
        pModel = this.models.lookup(market, ts);
        if (Number.isNaN(pModel)) {
          pModel = this.modelProbability(ts, info, spot, sigma);
          this.models.store(market, ts, pModel);
        }
      } else pModel = this.modelProbability(ts, info, spot, sigma);
    }

    const yesBid = top ? top.yesBid : -1;
    const yesAsk = top ? top.yesAsk : -1;
    const noBid = top ? top.noBid : -1;
    const noAsk = top ? top.noAsk : -1;
    const waived = feeWaived(info, ts, this.cfg.fees);
    if (st.scheduleOf !== info || st.scheduleWaived !== waived) {
      st.schedule = scheduleAt(info, ts, this.cfg.fees);
      st.scheduleOf = info;
      st.scheduleWaived = waived;
    }
    const schedule = st.schedule!;
    const maker = s.execution === "maker";
    // Maker entries rest at our own bid; takers pay the ask.
    const entryYes = maker ? yesBid : yesAsk;
    const entryNo = maker ? noBid : noAsk;
    // The EV fee is the fee of the order we would really send: sized, then capped by the risk limits.
    const sizeYes = this.entrySize(ts, info, "yes", entryYes, pModel, maker, schedule);
    const sizeNo = this.entrySize(ts, info, "no", entryNo, 1 - pModel, maker, schedule);
    const costYes = entryYes > 0 && entryYes < PRICE_ONE ? this.costPerContract(info, sizeYes.count, entryYes, maker, schedule) : Number.NaN;
    const costNo = entryNo > 0 && entryNo < PRICE_ONE ? this.costPerContract(info, sizeNo.count, entryNo, maker, schedule) : Number.NaN;
    const evYes = pModel - (priceToProb(entryYes) + costYes);
    const evNo = 1 - pModel - (priceToProb(entryNo) + costNo);

    // The input gates, asked once: the reason chain below names the first that fails, and
    // inputsFresh (whether this evaluation may be scored as a forecast) needs all of them.
    const hasSpot = this.spotMid > 0 || this.indexValue > 0;
    const spotBlocked = anyBlock && blocks.has("spot");
    const bookStale = !!book && (book.stale || (anyBlock && (blocks.has(st.bookKey) || blocks.has("feed:kalshi"))));
    const volWarm = this.vol.isWarm();
    const inputsFresh = supported && open && !st.paused && Number.isFinite(pModel) && hasSpot && !spotBlocked && !!book && !bookStale && volWarm;

    let reason: ReasonCode;
    let detail = "";
    let side: Outcome | null = null;
    /** Inputs fresh enough to price anything (entries, exits, resting orders). */
    let priceable = false;
    if (!supported) reason = "UNSUPPORTED_STRIKE";
    else if (!open) reason = "MARKET_NOT_OPEN";
    else if (st.paused) {
      reason = "MARKET_NOT_OPEN";
      detail = "paused (deactivated)";
    }
    else if (tauSeconds > s.tauMaxMinutes * 60) reason = "TAU_TOO_LONG";
    else if (!hasSpot) reason = "NO_SPOT";
    else if (spotBlocked) reason = "SPOT_STALE";
    else if (!book) reason = "BOOK_MISSING";
    else if (bookStale) reason = "BOOK_STALE";
    else if (!volWarm) reason = "VOL_NOT_WARM";
    else {
      priceable = Number.isFinite(pModel);
      if (yesAsk < 0 && noAsk < 0) reason = "NO_QUOTE";
      else if (tauSeconds < s.noNewEntriesLastSeconds) reason = "TOO_CLOSE_TO_SETTLEMENT";
      else if (yesBid < 0 || yesAsk < 0 || ticksBetween(info.priceRanges, yesBid, yesAsk) > s.spreadMaxTicks) {
        reason = "SPREAD_TOO_WIDE";
        detail = yesBid < 0 || yesAsk < 0 ? "one-sided book" : "";
      } else {
        const bestYes = evYes >= evNo;
        const ev = bestYes ? evYes : evNo;
        if (!(ev >= s.evMin)) reason = "EV_BELOW_MIN";
        else {
          side = bestYes ? "yes" : "no";
          reason = "TRADE";
        }
      }
    }

    const evalId = this.models ? this.models.evalId(market, ts) : evalIdOf(market, ts);
    let decision: "trade" | "skip" = "skip";
    // Orders we already have come first: an exit or a reprice/cancel replaces this sweep's entry.
    const managed = this.manageOrders(ts, evalId, info, pModel, priceable, tauSeconds >= s.noNewEntriesLastSeconds, yesBid, noBid, schedule);
    if (managed) {
      reason = managed.reason;
      detail = managed.detail;
      side = managed.side;
      decision = managed.sent ? "trade" : "skip";
    } else if (reason === "TRADE" && side) {
      const size = side === "yes" ? sizeYes : sizeNo;
      const r = this.tryEnter(ts, evalId, info, side, side === "yes" ? entryYes : entryNo, size.count, maker);
      if (r.ok) {
        decision = "trade";
        detail = sizeDetail(size);
      } else {
        reason = r.reason;
        detail = r.detail;
      }
    }
    const opp: Opportunity = {
      kind: "opportunity",
      ts,
      evalId,
      market,
      eventTicker: info.eventTicker,
      strikeType: info.strikeType,
      floorStrike: info.floorStrike,
      capStrike: info.capStrike,
      settleTime: info.settleTime,
      spot,
      tauSeconds,
      sigma,
      pModel,
      yesBid,
      yesAsk,
      noBid,
      noAsk,
      pMarketBid: yesBid >= 0 ? priceToProb(yesBid) : Number.NaN,
      pMarketAsk: yesAsk >= 0 ? priceToProb(yesAsk) : Number.NaN,
      pMarketMid: yesBid >= 0 && yesAsk >= 0 ? priceToProb(yesBid + yesAsk) / 2 : Number.NaN,
      costYes,
      costNo,
      evYes,
      evNo,
      side,
      decision,
      reason,
      detail,
      inputsFresh,
    };
    this.counters.evaluations++;
    this.sink.record(opp);
  }

  private modelProbability(ts: TsUs, info: MarketInfo, spot: number, sigma: number): number {
    const obs = this.index.observed(info.settleTime, ts);
    // Basis buffers only when the input is a spot proxy rather than the index markets settle on.
    const onIndex = this.indexIsFresh(ts) && obs.source !== "spot" && obs.source !== "mixed";
    const model = onIndex ? this.modelOnIndex : this.modelOnSpot;
    // Past window slots that are Coinbase proxies: observed spot mids, plus (when the spot input is
    // itself a proxy) the past slots without a sample, which the model fills with that input.
    const n = Math.max(1, Math.round(this.cfg.model.settlementWindowSeconds));
    const elapsed = Math.min(n, Math.max(0, settlementSecond(ts) - (settlementSecond(info.settleTime) - n)));
    const proxied = obs.proxyCount + (this.indexIsFresh(ts) ? 0 : Math.max(0, elapsed - obs.count));
    return model.probability({
      spot,
      sigma,
      now: ts,
      settleTime: info.settleTime,
      strikeType: info.strikeType,
      floorStrike: info.floorStrike,
      capStrike: info.capStrike,
      observedSum: obs.sum,
      observedCount: obs.count,
      observedProxyCount: proxied,
    });
  }

  /** Fee per contract at this size plus the slippage buffer, in probability (dollar) units. */
  private costPerContract(info: MarketInfo, count: CountE2, price: PriceE4, maker: boolean, schedule: FeeSchedule): number {
    const fee =
      count === this.fixedCount
        ? this.memoFeePerContract(count, price, maker, schedule)
        : feePerContract(count, price, maker, schedule, this.cfg.fees);
    const slip = maker ? 0 : priceToProb(tickSizeAt(info.priceRanges, price)) * this.cfg.fees.slippageTicks;
    return fee + slip;
  }

  /** Fees are a pure function of (count, price, maker, schedule): remember them per schedule. */
  private readonly feeMemo = new Map<string, Map<number, Float64Array>>();
  private feeMemoCount = -1;
  /** The table of the schedule asked last (one evaluation asks the same market's several times). */
  private feeMemoLastSchedule: FeeSchedule | null = null;
  private feeMemoLastTable: Float64Array | null = null;
  private memoFeePerContract(count: CountE2, price: PriceE4, maker: boolean, schedule: FeeSchedule): number {
    if (count !== this.feeMemoCount) {
      this.feeMemo.clear();
      this.feeMemoCount = count;
      this.feeMemoLastSchedule = null;
    }
    let table: Float64Array;
    if (this.feeMemoLastSchedule === schedule) table = this.feeMemoLastTable!;
    else {
      let byMultiplier = this.feeMemo.get(schedule.feeType);
      if (!byMultiplier) this.feeMemo.set(schedule.feeType, (byMultiplier = new Map()));
      let t = byMultiplier.get(schedule.feeMultiplier);
      if (!t) byMultiplier.set(schedule.feeMultiplier, (t = new Float64Array(2 * (PRICE_ONE + 1)).fill(Number.NaN)));
      table = t;
      this.feeMemoLastSchedule = schedule;
      this.feeMemoLastTable = table;
    }
    const i = maker ? PRICE_ONE + 1 + price : price;
    let v = table[i]!;
    if (Number.isNaN(v)) table[i] = v = feePerContract(count, price, maker, schedule, this.cfg.fees);
    return v;
  }

  private get fixedCount(): CountE2 {
    return Math.round(this.cfg.strategy.orderContracts * 100);
  }

  /**
   * Size of an entry of `outcome` at `price` (fixed or fractional Kelly), capped by what the risk
   * manager would allow now (a pure question: nothing is recorded). `detail` logs the decision and
   * its inputs on the opportunity row of a trade.
   */
  private entrySize(
    ts: TsUs,
    info: MarketInfo,
    outcome: Outcome,
    price: PriceE4,
    pOutcome: number,
    maker: boolean,
    schedule: FeeSchedule,
  ): EntrySize {
    const s = this.cfg.strategy;
    const fixed = this.fixedCount;
    if (!(price > 0 && price < PRICE_ONE)) return { count: fixed, wanted: fixed, kelly: null, capped: null, noDetail: true };
    let wanted = fixed;
    let kelly: EntrySize["kelly"] = null;
    if (s.sizing === "kelly") {
      if (!Number.isFinite(pOutcome)) return { count: fixed, wanted: fixed, kelly: null, capped: null, noDetail: true };
      // All-in cost per contract at the fixed size (fees are nearly linear in size).
      const c = priceToProb(price) + this.costPerContract(info, fixed, price, maker, schedule);
      const fStar = c < 1 ? (pOutcome - c) / (1 - c) : 0;
      // The balance the risk limits use (the venue's cash when reconciliation reported one).
      const bankroll = (this.portfolio.cash() + this.venueCashOffset + this.portfolio.exposure()) / 1_000_000;
      const contracts = fStar > 0 ? Math.floor((s.kellyFraction * fStar * bankroll) / c) : 0;
      wanted = contracts * 100;
      kelly = { q: pOutcome, c, fStar, fraction: s.kellyFraction, bankroll };
      if (wanted <= 0) return { count: fixed, wanted, kelly, capped: null, bare: true };
    }
    const v = this.risk.checkEntry({ ts, market: info.market, outcome, action: "buy", price, count: wanted, reducing: false });
    if (!v.allowed || v.count <= 0) return { count: wanted, wanted, kelly, capped: null, bare: true };
    return { count: v.count, wanted, kelly, capped: v.count < wanted ? v.reason : null };
  }

  /**
   * What to do with the orders and the position we already have in this market, before any entry.
   * Returns null when nothing applies (the entry logic runs), else the opportunity's reason.
   *  - EXIT: we hold X and bid(X) − (P(X) + fee/contract + slippage) ≥ exitEvMin → sell X reduce-only,
   *    IOC at the bid (the mirror of the entry rule);
   *  - CANCEL_RESTING / REPRICE: a resting entry is cancelled when its inputs are stale or entries are
   *    closed (last seconds), and otherwise re-priced or cancelled by the keep/tick rules (config.ts).
   * Every write is paced by the write limiter: without tokens the reason is RATE_LIMITED and the next
   * evaluation tries again.
   */
  private manageOrders(
    ts: TsUs,
    evalId: string,
    info: MarketInfo,
    pModel: number,
    priceable: boolean,
    entriesOpen: boolean,
    yesBid: PriceE4,
    noBid: PriceE4,
    schedule: FeeSchedule,
  ): { reason: ReasonCode; detail: string; side: Outcome | null; sent: boolean } | null {
    const s = this.cfg.strategy;
    const market = info.market;
    if (this.risk.state() === "HALTED") return null;
    const open = this.orders.noneOpen() ? NO_ORDERS : this.orders.openForMarket(market);

    // ---- exits
    const pos = this.portfolio.positionIn(market);
    if (s.exitsEnabled && priceable && pos !== 0 && !this.orders.inFlight(market)) {
      const held: Outcome = pos > 0 ? "yes" : "no";
      const bid = held === "yes" ? yesBid : noBid;
      const count = Math.abs(pos);
      if (bid > 0 && bid < PRICE_ONE && !open.some((o) => o.reduceOnly)) {
        const value = held === "yes" ? pModel : 1 - pModel;
        const cost = this.costPerContract(info, count, bid, false, schedule);
        const edge = priceToProb(bid) - (value + cost);
        if (edge >= s.exitEvMin) {
          const detail = `bid ${priceToProb(bid).toFixed(4)} − (value ${value.toFixed(4)} + cost ${cost.toFixed(4)}) = ${edge.toFixed(4)} ≥ ${s.exitEvMin}`;
          const r = this.tryExit(ts, evalId, market, held, bid, count);
          return { reason: r.ok ? "EXIT" : r.reason, detail: r.ok ? detail : `exit: ${r.detail}`, side: held, sent: r.ok };
        }
      }
    }

    // ---- resting entries
    for (const o of open) {
      if (o.status !== "resting" || o.reduceOnly || o.action !== "buy" || o.cancelRequested) continue;
      if (o.amendRequestedTs >= 0 && ts - o.amendRequestedTs < s.restingTtlSeconds * US_PER_S) continue;
      const why = !priceable ? "inputs not priceable" : !entriesOpen ? "entries closed before settlement" : null;
      if (why) return this.cancelResting(ts, o, why);
      if (!s.repriceEnabled) continue;
      const value = o.outcome === "yes" ? pModel : 1 - pModel;
      const remaining = o.count - o.filled;
      const evAt = (price: PriceE4) => value - (priceToProb(price) + this.costPerContract(info, remaining, price, true, schedule));
      const ev = evAt(o.price);
      const target = o.outcome === "yes" ? yesBid : noBid;
      const evTarget = target > 0 && target < PRICE_ONE ? evAt(target) : Number.NaN;
      const moved = target > 0 ? Math.abs(ticksBetween(info.priceRanges, Math.min(o.price, target), Math.max(o.price, target))) : 0;
      if (ev < s.repriceKeepEv) {
        if (target !== o.price && evTarget >= s.evMin) return this.amendResting(ts, o, target, remaining, `EV ${ev.toFixed(4)} < keep ${s.repriceKeepEv}; EV at ${target} ${evTarget.toFixed(4)}`);
        return this.cancelResting(ts, o, `EV ${ev.toFixed(4)} < keep ${s.repriceKeepEv}`);
      }
      if (moved >= s.repriceTicks && evTarget >= s.evMin) {
        return this.amendResting(ts, o, target, remaining, `best bid ${target} is ${moved} ticks from ${o.price}; EV there ${evTarget.toFixed(4)}`);
      }
    }
    return null;
  }

  private cancelResting(ts: TsUs, o: TrackedOrder, why: string): { reason: ReasonCode; detail: string; side: Outcome | null; sent: boolean } {
    if (!this.orders.canSend(ts, "cancel")) return { reason: "RATE_LIMITED", detail: `cancel waits for the write bucket: ${why}`, side: o.outcome, sent: false };
    const rec = this.orders.onCancelSubmit(ts, o.clientOrderId);
    if (rec) this.sink.record(rec);
    this.sink.intent({ kind: "cancel_order", ts, clientOrderId: o.clientOrderId, orderId: o.orderId, market: o.market, reason: why });
    this.counters.intents++;
    return { reason: "CANCEL_RESTING", detail: why, side: o.outcome, sent: false };
  }

  private amendResting(ts: TsUs, o: TrackedOrder, price: PriceE4, remaining: CountE2, why: string): { reason: ReasonCode; detail: string; side: Outcome | null; sent: boolean } {
    const oldUnit = o.action === "buy" ? o.price : PRICE_ONE - o.price;
    const newUnit = o.action === "buy" ? price : PRICE_ONE - price;
    if (newUnit > oldUnit) {
      // A reprice up grows what the order can cost: it may use its own current cost plus the caps'
      // room left (which already counts this order), and shrinks to what fits.
      const fits = Math.floor((this.risk.entryRoom(o.market) + remaining * oldUnit) / newUnit);
      if (fits <= 0) return { reason: "RISK_BLOCKED", detail: `reprice to ${price} does not fit the caps: ${why}`, side: o.outcome, sent: false };
      if (fits < remaining) {
        why = `${why}; capped to ${formatCountFp(fits)} by the risk caps`;
        remaining = fits;
      }
    }
    if (!this.orders.canSend(ts, "amend")) return { reason: "RATE_LIMITED", detail: `reprice waits for the write bucket: ${why}`, side: o.outcome, sent: false };
    const rec = this.orders.onAmendSubmit(ts, o.clientOrderId, price, remaining);
    if (!rec) return { reason: "ORDER_IN_FLIGHT", detail: why, side: o.outcome, sent: false };
    this.sink.record(rec);
    this.sink.intent({ kind: "amend_order", ts, clientOrderId: o.clientOrderId, orderId: o.orderId, market: o.market, outcome: o.outcome, action: o.action, price, count: o.filled + remaining, reason: why });
    this.counters.intents++;
    return { reason: "REPRICE", detail: `${o.price} → ${price}: ${why}`, side: o.outcome, sent: true };
  }

  private tryExit(ts: TsUs, evalId: string, market: string, held: Outcome, bid: PriceE4, count: CountE2): { ok: true } | { ok: false; reason: ReasonCode; detail: string } {
    return this.submitOrder(ts, evalId, market, held, "sell", bid, count, { reducing: true, tif: "immediate_or_cancel", postOnly: false });
  }

  private tryEnter(
    ts: TsUs,
    evalId: string,
    info: MarketInfo,
    outcome: Outcome,
    price: PriceE4,
    count: CountE2,
    maker: boolean,
  ): { ok: true } | { ok: false; reason: ReasonCode; detail: string } {
    const market = info.market;
    if (this.orders.inFlight(market)) return { ok: false, reason: "ORDER_IN_FLIGHT", detail: "" };
    if (maker && this.orders.openForMarket(market).length > 0) return { ok: false, reason: "ORDER_IN_FLIGHT", detail: "resting order" };
    return this.submitOrder(ts, evalId, market, outcome, "buy", price, count, {
      reducing: false,
      tif: maker ? "good_till_canceled" : "immediate_or_cancel",
      postOnly: maker || this.cfg.orders.postOnly,
    });
  }

  /** Entries and exits alike: the risk verdict (recorded), the write bucket, then the intent. */
  private submitOrder(
    ts: TsUs,
    evalId: string,
    market: string,
    outcome: Outcome,
    action: "buy" | "sell",
    price: PriceE4,
    count: CountE2,
    how: { readonly reducing: boolean; readonly tif: PlaceOrder["tif"]; readonly postOnly: boolean },
  ): { ok: true } | { ok: false; reason: ReasonCode; detail: string } {
    const verdict = this.risk.checkEntry({ ts, market, outcome, action, price, count, reducing: how.reducing });
    this.sink.record({ kind: "risk_verdict", ts, evalId, market, allowed: verdict.allowed, state: this.risk.state(), reason: verdict.reason, count: verdict.count });
    if (!verdict.allowed || verdict.count <= 0) return { ok: false, reason: "RISK_BLOCKED", detail: verdict.reason };
    if (!this.orders.canSend(ts, "create")) return { ok: false, reason: "RATE_LIMITED", detail: "write bucket empty" };
    const intent: PlaceOrder = {
      kind: "place_order",
      ts,
      clientOrderId: this.orders.nextClientOrderId(),
      market,
      outcome,
      action,
      price,
      count: verdict.count,
      tif: how.tif,
      postOnly: how.postOnly,
      reduceOnly: how.reducing,
      evalId,
    };
    this.sink.record(this.orders.onSubmit(intent));
    this.sink.intent(intent);
    this.counters.intents++;
    return { ok: true };
  }

  // ---- read-only views for runners -------------------------------------------------------------

  /** The fee schedule of a trade in `market` at venue time `at` (unknown market: quadratic × 1). */
  private scheduleFor(market: string, at: TsUs): FeeSchedule {
    const info = this.markets.get(market)?.info;
    return info ? scheduleAt(info, at, this.cfg.fees) : { feeType: "quadratic", feeMultiplier: 1 };
  }

  /** Exact fee for a fill at venue time `at`, under the market's fee schedule (simulated venue, paper). */
  feeFor(market: string, count: CountE2, price: PriceE4, isMaker: boolean, at: TsUs): Micros {
    return tradeFee(count, price, isMaker, this.scheduleFor(market, at), this.cfg.fees);
  }

  /**
   * Exact fee of one order's fills on one side (taker / maker) at venue time `at`, rounded per order
   * (fees.ts `orderFee`).
   */
  orderFeeFor(market: string, legs: readonly FeeLeg[], isMaker: boolean, at: TsUs): Micros {
    return orderFee(legs, isMaker, this.scheduleFor(market, at), this.cfg.fees);
  }

  marketInfo(market: string): MarketInfo | undefined {
    return this.markets.get(market)?.info;
  }
}
