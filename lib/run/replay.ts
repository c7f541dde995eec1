/**
 * Replay: drive one or more trading sessions (a parameter sweep) with the events of a tape, in
 * receipt-time order, decoding each event once. Used by runners/replay.ts, the benchmark, the
 * golden-tape tests and the parity check.
 */
import { REST_CONN } from "../tape/rest-frames.ts";
import { settingsKey, type EngineConfig } from "../core/config.ts";
import type { EngineEvent } from "../core/events.ts";
import type { ProbabilityModel } from "../core/models.ts";
import type { AuditRecord, ForecastRecord, OrderIntent } from "../core/records.ts";
import type { TsUs } from "../core/units.ts";
import { coinbaseProductsFor, coinbaseSeqStep, parseCoinbaseFrame } from "../venues/coinbase/parse.ts";
import { parseKalshiFrame } from "../venues/kalshi/parse.ts";
import type { RawFrame, TapeEvent } from "../tape/types.ts";
import { SharedBookFeed } from "../core/book.ts";
import { ModelCache, type SkippedSpot } from "../core/engine.ts";
import { SpotFeatures, observeSpotEvent, quoteMid } from "../core/features.ts";
import type { IndexWindow } from "../core/settlement.ts";
import { SpotMidGuard } from "../core/spot-guard.ts";
import { SettlementFallback } from "../sim/settlement.ts";
import type { LatencyModel, QueueModel } from "../sim/models.ts";
import { ForecastRecorder } from "./forecasts.ts";
import { TradingSession } from "./session.ts";
import { SummaryCollector } from "./summary.ts";

export interface ReplayTarget {
  readonly config: EngineConfig;
  /** Extra sink for audit records (e.g. the store writer). */
  readonly onRecord?: (r: AuditRecord) => void;
  readonly onIntent?: (i: OrderIntent) => void;
  /** Score these models side by side on the session's evaluations (lib/run/forecasts.ts). */
  readonly forecasts?: { readonly models: readonly ProbabilityModel[]; readonly onForecast: (r: ForecastRecord) => void; readonly intervalSeconds?: number };
}

export interface ReplayResult {
  readonly session: TradingSession;
  readonly summary: SummaryCollector;
  readonly forecasts: ForecastRecorder | null;
}

export interface ReplayStats {
  /** Events after the warm-up (all of them without one). */
  events: number;
  firstTs: TsUs;
  lastTs: TsUs;
  /** Events out of receipt-time order in the input (should be 0: the reader sorts). */
  outOfOrder: number;
  /** Events fed during the warm-up prefix (state only: no trading, no records). */
  warmupEvents: number;
}

/** Build the sessions of a replay (one per target). Feed them with `feed`, then `finish`. */
export class Replay {
  readonly results: ReplayResult[];
  readonly stats: ReplayStats = { events: 0, firstTs: -1, lastTs: -1, outOfOrder: 0, warmupEvents: 0 };
  /** Events before this instant only warm the sessions' state (see Engine.warmUntil). */
  private readonly warmUntil: TsUs;
  /** True while the event being fed is part of the warm-up: the sessions' records are dropped. */
  private warming = false;
  /** The one book feed every session reads. */
  private readonly books = new SharedBookFeed();
  /** A sweep's spot features and fallback-settlement windows, one per distinct setting (moved here). */
  private readonly features: SpotFeatures[] = [];
  private readonly settlementWindows: IndexWindow[] = [];
  // Quiet sessions of a sweep (see feed): per session, the instant until which it only skims, whether
  // its venue holds nothing, and the run of events kept from it. Ordinals number the fed events.
  private ord = 0;
  private readonly quietUntil: Float64Array;
  private readonly quietBooks: Uint8Array;
  private readonly quietNow: Uint8Array;
  private readonly skipped: Float64Array;
  private readonly skippedFrom: Float64Array;
  private readonly skippedLastTs: Float64Array;
  private readonly skippedMaxTs: Float64Array;
  /** The latest usable Coinbase mid and BRTI print of the stream, with their ordinals. */
  private lastMid = Number.NaN;
  private readonly spotGuard = new SpotMidGuard();
  private lastMidTs: TsUs = -1;
  private lastMidOrd = -1;
  private lastIndex = Number.NaN;
  private lastIndexTs: TsUs = -1;
  private lastIndexOrd = -1;

  constructor(
    targets: readonly ReplayTarget[],
    opts: { settlementGraceSeconds?: number; latency?: () => LatencyModel; queue?: () => QueueModel; warmUntil?: TsUs } = {},
  ) {
    this.warmUntil = opts.warmUntil ?? Number.NEGATIVE_INFINITY;
    const n = targets.length;
    this.quietUntil = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
    this.quietBooks = new Uint8Array(n);
    this.quietNow = new Uint8Array(n);
    this.skipped = new Float64Array(n);
    this.skippedFrom = new Float64Array(n);
    this.skippedLastTs = new Float64Array(n);
    this.skippedMaxTs = new Float64Array(n);
    // Every session reads the same recorded books; sessions with the same vol and model settings
    // would compute the same features and probabilities, so they share them.
    const books = this.books;
    const sweep = targets.length > 1;
    const caches = new Map<string, ModelCache>();
    const featuresByKey = new Map<string, SpotFeatures>();
    const windowsBySeconds = new Map<number, IndexWindow>();
    this.results = targets.map((t) => {
      const key = settingsKey([t.config.vol, t.config.model]);
      let models = caches.get(key);
      if (!models) caches.set(key, (models = new ModelCache()));
      const featureKey = SpotFeatures.keyOf(t.config);
      let features = featuresByKey.get(featureKey);
      if (!features && sweep) {
        featuresByKey.set(featureKey, (features = new SpotFeatures(t.config)));
        this.features.push(features);
      }
      const windowSeconds = t.config.model.settlementWindowSeconds;
      let settlementWindow = windowsBySeconds.get(windowSeconds);
      if (!settlementWindow && sweep) {
        windowsBySeconds.set(windowSeconds, (settlementWindow = SettlementFallback.windowFor(windowSeconds)));
        this.settlementWindows.push(settlementWindow);
      }
      const summary = new SummaryCollector();
      const fc = t.forecasts;
      const forecasts = fc ? new ForecastRecorder(fc.models, t.config, fc.onForecast, { intervalSeconds: fc.intervalSeconds }) : null;
      const sink = t.onRecord;
      const deliver = forecasts
        ? (r: AuditRecord) => {
            summary.record(r);
            if (r.kind === "opportunity") forecasts.onOpportunity(r, session.engine.index.observed(r.settleTime, r.ts));
            sink?.(r);
          }
        : sink
          ? (r: AuditRecord) => {
              summary.record(r);
              sink(r);
            }
          : (r: AuditRecord) => summary.record(r);
      // During a warm-up the sessions keep their state but report nothing.
      const onRecord = Number.isFinite(this.warmUntil) ? (r: AuditRecord) => void (this.warming || deliver(r)) : deliver;
      const session: TradingSession = new TradingSession({
        config: t.config,
        executor: "sim",
        tradingEnabled: true,
        settlementGraceSeconds: opts.settlementGraceSeconds,
        latency: opts.latency?.(),
        queue: opts.queue?.(),
        shared: sweep ? { books, models, features, settlementWindow } : { books },
        onRecord,
        onIntent: t.onIntent,
      });
      session.engine.warmUntil = this.warmUntil;
      return { session, summary, forecasts };
    });
  }

  feed(e: EngineEvent): void {
    const s = this.stats;
    if (e.tsRecv < s.lastTs) s.outOfOrder++;
    s.lastTs = e.tsRecv;
    this.warming = e.tsRecv < this.warmUntil;
    if (this.warming) s.warmupEvents++;
    else {
      if (s.firstTs < 0) s.firstTs = e.tsRecv;
      s.events++;
    }
    const rs = this.results;
    if (rs.length === 1) {
      rs[0]!.session.push(e);
      return;
    }
    const t = e.tsRecv;
    const ord = ++this.ord;
    const kind = e.kind;
    const n = rs.length;
    const quiet = this.quietNow;
    // Events a quiet session would only skim (quietUntil): kept from it and reported in one
    // catchUp when it is next needed. Every other session catches up and lets its venue reach
    // this instant before the shared books move (a quiet one has nothing due before it).
    const skimmable = kind === "book_delta" || kind === "market_ticker" || kind === "spot_trade" || kind === "spot_quote" || kind === "index_value";
    for (let i = 0; i < n; i++) {
      const q = skimmable && t < this.quietUntil[i]!;
      quiet[i] = q ? 1 : 0;
      if (!q) {
        this.catchUp(i);
        rs[i]!.session.advanceTo(t);
      }
    }
    if (kind === "book_delta" || kind === "market_ticker" || kind === "spot_trade") {
      // Most events of a day concern only the shared books: move them once, then hand the event
      // only to the sessions it concerns (an order resting in that market, a sweep due, a close).
      const applied = kind === "book_delta" ? this.books.apply(e) : null;
      const clean = applied === null || (applied.gap === null && applied.issues.length === 0);
      for (let i = 0; i < n; i++) {
        if (quiet[i] === 1) {
          // A delta our own recorded live order caused (a live tape) must reach the venue: it is not public liquidity.
          if (clean && (kind !== "book_delta" || (this.quietBooks[i] === 1 && e.clientOrderId === null))) {
            this.skip(i, t, ord);
            continue;
          }
          this.catchUp(i);
        }
        const session = rs[i]!.session;
        if (!session.skim(e, applied)) session.apply(e);
        this.noteQuiet(i);
      }
      return;
    }
    if (kind === "spot_quote" || kind === "index_value") {
      // The shared features move once, after every venue has caught up and before any session
      // sees the event: as each engine moving its own would.
      for (let i = 0; i < this.features.length; i++) this.features[i]!.onEvent(e);
      for (let i = 0; i < this.settlementWindows.length; i++) observeSpotEvent(this.settlementWindows[i]!, e);
      if (kind === "spot_quote") {
        const mid = quoteMid(e);
        // The same stray-print rule as every engine's features (it sees the same quotes in order).
        if (mid === mid && this.spotGuard.accept(t, mid)) {
          this.lastMid = mid;
          this.lastMidTs = t;
          this.lastMidOrd = ord;
        }
      } else {
        this.lastIndex = e.value;
        this.lastIndexTs = t;
        this.lastIndexOrd = ord;
      }
      for (let i = 0; i < n; i++) {
        if (quiet[i] === 1) {
          this.skip(i, t, ord);
          continue;
        }
        const session = rs[i]!.session;
        if (!session.skimSpot(e)) session.apply(e);
        this.noteQuiet(i);
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      rs[i]!.session.apply(e);
      this.noteQuiet(i);
    }
  }

  private skip(i: number, t: TsUs, ord: number): void {
    if (this.skipped[i] === 0) {
      this.skippedFrom[i] = ord;
      this.skippedMaxTs[i] = t;
    } else if (t > this.skippedMaxTs[i]!) this.skippedMaxTs[i] = t;
    this.skippedLastTs[i] = t;
    this.skipped[i] = this.skipped[i]! + 1;
  }

  /** Report the events kept from session i (a contiguous run: any other event catches it up first). */
  private catchUp(i: number): void {
    const count = this.skipped[i]!;
    if (count === 0) return;
    const from = this.skippedFrom[i]!;
    const spot: SkippedSpot = {
      mid: this.lastMid,
      midTs: this.lastMidOrd >= from ? this.lastMidTs : -1,
      index: this.lastIndex,
      indexTs: this.lastIndexOrd >= from ? this.lastIndexTs : -1,
    };
    this.results[i]!.session.catchUp(count, this.skippedLastTs[i]!, this.skippedMaxTs[i]!, spot);
    this.skipped[i] = 0;
  }

  private noteQuiet(i: number): void {
    const session = this.results[i]!.session;
    this.quietUntil[i] = session.quietUntil();
    this.quietBooks[i] = session.quietBooks() ? 1 : 0;
  }

  feedBatch(batch: readonly TapeEvent[]): void {
    for (let i = 0; i < batch.length; i++) this.feed(batch[i]!.event);
  }

  finish(): void {
    this.warming = false;
    for (let i = 0; i < this.results.length; i++) this.catchUp(i);
    for (const r of this.results) {
      r.session.finish();
      r.forecasts?.finish();
    }
  }

  summaryJSON(index = 0, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const r = this.results[index]!;
    const sim = r.session.sim;
    // What the simulated venue's write bucket saw: the rate limits live would have hit.
    const venue = sim
      ? { venue_writes: { tokens: sim.stats.writeTokens, amends: sim.stats.amends, cancels: sim.stats.cancels, rate_limited: sim.stats.rateLimited } }
      : {};
    return r.summary.toJSON(r.session.engine, this.stats.events, { ...extra, ...venue });
  }
}

/**
 * Re-derive normalized events from raw frames with the live parsers (`--from-raw`). The
 * `use_yes_price` mode of each Kalshi connection is read from the subscribe command we recorded.
 */
export class RawReparser {
  private readonly useYesPrice = new Map<string, boolean>();
  /**
   * Per Coinbase connection, what the live client (lib/venues/coinbase/ws.ts) keeps to decide which
   * frames it uses: the last sequence_num in order (frames at or below it are dropped) and the
   * products its subscribe named (entries of others are dropped).
   */
  private readonly coinbaseSeq = new Map<string, number>();
  private readonly coinbaseProducts = new Map<string, ReadonlySet<string>>();
  private sawDerived = false;

  private parseJsonEvent(text: string, tsRecv: number): readonly EngineEvent[] {
    try {
      return this.checkedEvent(JSON.parse(text), tsRecv);
    } catch {
      this.rejects++;
      return NONE;
    }
  }

  private checkedEvent(v: unknown, tsRecv: number): readonly EngineEvent[] {
    if (typeof v !== "object" || v === null || typeof (v as { kind?: unknown }).kind !== "string" || (v as { tsRecv?: unknown }).tsRecv !== tsRecv) {
      this.rejects++;
      return NONE;
    }
    return [v as EngineEvent];
  }
  rejects = 0;
  /** Entries refused inside frames that were otherwise read (one bad Coinbase ticker of several). */
  refusedEntries = 0;
  /** Coinbase frames the live client would have dropped as out of order. */
  outOfOrder = 0;
  frames = 0;

  parse(f: RawFrame): readonly EngineEvent[] {
    this.frames++;
    if (f.dir === "send") {
      if (f.source === "kalshi") {
        const m = /"use_yes_price"\s*:\s*(true|false)/.exec(f.text);
        if (m) this.useYesPrice.set(f.connId, m[1] === "true");
      } else if (f.source === "coinbase" && !this.coinbaseProducts.has(f.connId)) {
        const m = /"product_ids"\s*:\s*\[\s*"([^"]+)"/.exec(f.text);
        if (m) this.coinbaseProducts.set(f.connId, coinbaseProductsFor(m[1]!));
      }
      return NONE;
    }
    if (f.source === "control") {
      // Timers, kill switches, paper reconciliation snapshots: the frame is the event's JSON.
      return this.parseJsonEvent(f.text, f.tsRecv);
    }
    if (f.connId === REST_CONN) {
      // REST answers are kept for the record; the events the session built from them (the feed's
      // merged market records, either feed's health events) are stored beside them as {"derived": event}.
      if (!f.text.startsWith('{"derived":')) return NONE;
      if (f.source === "kalshi") this.sawDerived = true;
      let inner: unknown;
      try {
        inner = (JSON.parse(f.text) as { derived?: unknown }).derived;
      } catch {
        this.rejects++;
        return NONE;
      }
      return this.checkedEvent(inner, f.tsRecv);
    }
    if (f.source === "kalshi") {
      const r = parseKalshiFrame(f.text, f.tsRecv, { useYesPrice: this.useYesPrice.get(f.connId) ?? false });
      if (!r.ok) {
        this.rejects++;
        return NONE;
      }
      // With derived market records on the tape, the session consumed those, not the per-frame ones.
      return this.sawDerived ? r.events.filter((e) => e.kind !== "market_info") : r.events;
    }
    if (f.source === "coinbase") {
      const r = parseCoinbaseFrame(f.text, f.tsRecv);
      const step = coinbaseSeqStep(this.coinbaseSeq.get(f.connId) ?? -1, r);
      this.coinbaseSeq.set(f.connId, step.last);
      if (!r.ok) {
        this.rejects++;
        return NONE;
      }
      this.refusedEntries += r.refused.length;
      if (!step.inOrder) {
        this.outOfOrder++;
        return NONE;
      }
      const ours = this.coinbaseProducts.get(f.connId);
      if (ours === undefined) return r.events;
      return r.events.filter((e) => (e.kind !== "spot_quote" && e.kind !== "spot_trade") || ours.has(e.productId));
    }
    return NONE;
  }
}

const NONE: readonly EngineEvent[] = [];
