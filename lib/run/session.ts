/**
 * A trading session: the one wiring of engine → gateway → executor that replay, paper and live share.
 *
 *   events in ──► Engine ──intents──► OrderGateway ──► transport (SimVenue | Kalshi REST)
 *                   ▲                                          │
 *                   └──────── order_update / fill events ◄─────┘
 *
 * With the simulated venue, executions are merged back into the stream in receipt-time order
 * (strictly earlier venue events first; on a tie the recorded event goes first), so a replay is a
 * pure function of the tape and the config. Live sessions push venue events as they arrive.
 */
import type { EngineConfig } from "../core/config.ts";
import { Engine, type EngineShared, type SkippedSpot } from "../core/engine.ts";
import { SharedBookFeed, type BookUpdateResult } from "../core/book.ts";
import type { EngineEvent, IndexValue, OrderUpdate, SpotQuote } from "../core/events.ts";
import type { AuditRecord, EngineSink, OrderIntent, PlaceOrder } from "../core/records.ts";
import type { IndexWindow } from "../core/settlement.ts";
import type { TsUs } from "../core/units.ts";
import { OrderGateway, type GatewayGuards, type OrderTransport } from "../exec/gateway.ts";
import { ConservativeQueue, ConstantLatency, type LatencyModel, type QueueModel } from "../sim/models.ts";
import { SettlementFallback } from "../sim/settlement.ts";
import { SimVenue } from "../sim/venue.ts";

export interface SessionOptions {
  readonly config: EngineConfig;
  /** Where audit records go (store writer, summary, parity log …). */
  readonly onRecord: (r: AuditRecord) => void;
  /** Every intent the engine emitted, before the gateway (for parity logs). */
  readonly onIntent?: (i: OrderIntent) => void;
  /** Gateway refusals, for logs. */
  readonly onRefused?: (u: OrderUpdate, reason: string) => void;
  /** "sim": the simulated venue (replay, paper); otherwise a live transport. */
  readonly executor: "sim" | OrderTransport;
  readonly tradingEnabled: boolean;
  readonly latency?: LatencyModel;
  readonly queue?: QueueModel;
  /** Settle markets without a recorded result from BRTI / spot after this grace (sim only). */
  readonly settlementGraceSeconds?: number;
  /** Extra guard for live: data freshness beyond the engine's own view. */
  readonly extraDataCheck?: (market: string, ts: TsUs) => string | null;
  readonly killSwitch?: () => boolean;
  readonly startTs?: TsUs;
  /**
   * Shared market state for parameter sweeps: one book feed for all sessions; a model cache and
   * spot features per vol/model config; one fallback-settlement window per window length. The
   * owner moves the features and the window (observeSpotEvent) before the sessions see an event.
   */
  readonly shared?: EngineShared & { readonly settlementWindow?: IndexWindow };
}

export class TradingSession {
  readonly engine: Engine;
  readonly gateway: OrderGateway;
  readonly sim: SimVenue | null;
  readonly settlement: SettlementFallback | null;
  private readonly refusals: OrderUpdate[] = [];
  private lastTs: TsUs = 0;
  private delivering = false;

  constructor(private readonly opts: SessionOptions) {
    // Against the simulated venue our books are the venue's books: there is nothing to reconcile, so
    // reconciliation age must not block entries.
    const cfg: EngineConfig =
      opts.executor === "sim" ? { ...opts.config, risk: { ...opts.config.risk, reconcileMaxAgeSeconds: 0 } } : opts.config;
    const self = this;
    const sink: EngineSink = {
      intent(i) {
        opts.onIntent?.(i);
        self.gateway.submit(i);
      },
      record(r) {
        opts.onRecord(r);
      },
    };
    const books = opts.shared?.books ?? new SharedBookFeed();
    this.engine = new Engine(cfg, sink, opts.startTs ?? 0, { books, models: opts.shared?.models, features: opts.shared?.features });
    const engine = this.engine;
    if (opts.executor === "sim") {
      this.sim = new SimVenue({
        latency: opts.latency ?? new ConstantLatency(50_000, 50_000),
        queue: opts.queue ?? new ConservativeQueue(),
        fee: (m, legs, maker, at) => engine.orderFeeFor(m, legs, maker, at),
        writeTokensPerSecond: cfg.orders.writeTokensPerSecond,
        writeBucketCapacity: cfg.orders.writeBucketCapacity,
        createCost: cfg.orders.createCost,
        cancelCost: cfg.orders.cancelCost,
        amendCost: cfg.orders.amendCost,
      }, books);
      this.settlement = new SettlementFallback(opts.settlementGraceSeconds ?? 900, cfg.model.settlementWindowSeconds, opts.shared?.settlementWindow);
    } else {
      this.sim = null;
      this.settlement = null;
    }
    const sim = this.sim;
    const transport: OrderTransport =
      opts.executor === "sim"
        ? { place: (i) => sim!.place(i), cancel: (i) => sim!.cancel(i), cancelAll: (ts) => sim!.cancelAll(ts), amend: (i) => sim!.amend(i) }
        : opts.executor;
    const guards: GatewayGuards = {
      tradingEnabled: opts.tradingEnabled,
      killSwitchEngaged: () => engine.killSwitchEngaged || (opts.killSwitch?.() ?? false),
      riskState: () => engine.risk.state(),
      isReducing: (i: PlaceOrder) => isReducing(engine, i),
      dataProblem: (market, ts) => {
        const blocks = engine.risk.blocks();
        for (const key of ["spot", "feed:kalshi", "feed:coinbase", `book:${market}`]) {
          const why = blocks.get(key);
          if (why !== undefined) return `${key}: ${why}`;
        }
        const book = engine.books.get(market);
        if (!book || book.stale) return `book:${market} stale`;
        return opts.extraDataCheck?.(market, ts) ?? null;
      },
      // The same age limit as the engine's entry check: amends (reprices) pass through here only.
      reconciliationProblem: (ts) => engine.risk.reconcileStale(ts),
    };
    this.gateway = new OrderGateway(
      transport,
      guards,
      cfg.orders,
      (u, reason) => {
        opts.onRefused?.(u, reason);
        this.refusals.push(u);
      },
      opts.startTs ?? 0,
    );
  }

  /** Feed one recorded or live event. Events must come in non-decreasing tsRecv. */
  push(e: EngineEvent): void {
    this.advanceTo(e.tsRecv);
    this.apply(e);
  }

  /**
   * Let the simulated venue finish everything due strictly before t. Sessions sharing a book feed
   * must all advance before any of them applies the event at t (it moves the shared books).
   */
  advanceTo(t: TsUs): void {
    if (this.sim) this.runVenueUntil(t);
  }

  /** Apply one event at its time, after `advanceTo(e.tsRecv)`. */
  apply(e: EngineEvent): void {
    const t = e.tsRecv;
    if (this.sim) this.sim.onMarketEvent(e);
    this.deliver(e);
    if (this.settlement) {
      const due = this.settlement.onEvent(e);
      for (const s of due) {
        this.sim!.onMarketEvent(s);
        this.deliver(s);
      }
    }
    this.lastTs = t;
  }

  /**
   * Apply an event that concerns none of this session's own state (see Engine.skimEvent and
   * SimVenue.isIdleFor), after `advanceTo(e.tsRecv)` and after the shared book feed applied it
   * (`applied`). Returns false, having done nothing, when the event needs apply(e).
   */
  skim(e: EngineEvent, applied: BookUpdateResult | null): boolean {
    const t = e.tsRecv;
    if (this.settlement !== null && !this.settlement.isIdleAt(t)) return false;
    if (this.sim !== null && !this.sim.isIdleFor(e)) return false;
    if (!this.engine.skimEvent(e, applied)) return false;
    this.lastTs = t;
    return true;
  }

  /**
   * skim for a spot quote or index print in a sweep whose owner moved the shared features and
   * window (the simulated venue ignores both kinds). Kept apart from skim so each sees few event
   * shapes: with more than four, V8's property caches go megamorphic and every skim slows down.
   */
  skimSpot(e: SpotQuote | IndexValue): boolean {
    const t = e.tsRecv;
    if (this.settlement !== null && !this.settlement.isIdleForSpotAt(t)) return false;
    if (!this.engine.skimSpot(e)) return false;
    this.lastTs = t;
    return true;
  }

  /**
   * Before this instant, and while quietBooks(), every event skim/skimSpot would take changes
   * nothing in this session but counts and the latest spot values: no sweep falls due, the venue
   * has nothing to deliver and no market to close, the fallback nothing to settle. A sweep's owner
   * may then keep such events from the session and report them later with catchUp
   * (lib/run/replay.ts).
   */
  quietUntil(): TsUs {
    let t = this.engine.quietUntil();
    if (this.sim !== null) t = Math.min(t, this.sim.nextDue() + 1, this.sim.nextCloseAt());
    if (this.settlement !== null) t = Math.min(t, this.settlement.nextCheckAt());
    return t;
  }

  /** The venue rests no order and holds no taken liquidity: a clean book delta concerns nothing here. */
  quietBooks(): boolean {
    return this.sim === null || this.sim.holdsNothing();
  }

  /**
   * Report `count` events kept from this session while it was quiet: the last at lastTs, the
   * latest at maxTs (they differ only for input out of time order, which apply takes as it comes).
   */
  catchUp(count: number, lastTs: TsUs, maxTs: TsUs, spot: SkippedSpot): void {
    this.engine.catchUp(count, maxTs, spot);
    this.lastTs = lastTs;
  }

  /** End of input: let the venue finish, settle what can be settled. */
  finish(): void {
    if (this.sim) this.runVenueUntil(Number.POSITIVE_INFINITY);
    if (this.settlement) {
      for (const s of this.settlement.finish(this.lastTs)) {
        this.sim!.onMarketEvent(s);
        this.deliver(s);
      }
      if (this.sim) this.runVenueUntil(Number.POSITIVE_INFINITY);
    }
  }

  private deliver(e: EngineEvent): void {
    if (this.delivering) throw new Error("re-entrant delivery");
    this.delivering = true;
    try {
      this.engine.onEvent(e);
    } finally {
      this.delivering = false;
    }
    // Gateway refusals are answered at once, at the same event time.
    while (this.refusals.length > 0) this.deliver(this.refusals.shift()!);
  }

  /** Process venue arrivals and deliver venue events strictly before t, in time order. */
  private runVenueUntil(t: TsUs): void {
    const sim = this.sim!;
    for (;;) {
      const due = sim.nextDue();
      if (!(due < t)) return;
      sim.advance(due + 1);
      for (const ev of sim.drainBefore(due + 1)) this.deliver(ev);
    }
  }
}

/** An order only reduces risk when it sells what we hold, or buys the other side of what we hold. */
function isReducing(engine: Engine, i: PlaceOrder): boolean {
  const pos = engine.portfolio.position(i.market).position;
  if (pos === 0) return false;
  const yesEquivalentDelta = (i.outcome === "yes") === (i.action === "buy") ? i.count : -i.count;
  return Math.sign(yesEquivalentDelta) !== Math.sign(pos) && Math.abs(yesEquivalentDelta) <= Math.abs(pos);
}
