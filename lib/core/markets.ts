/**
 * Market reference data as ONE merged record per market (PURE: no IO, no clock).
 *
 * Kalshi tells us about a market in pieces: the REST Market object, `market_lifecycle_v2` `created`
 * (times, grid, strike), `metadata_updated` (the strike of a KXBTC15M window, fixed only at its start),
 * `price_level_structure_updated` (the grid), `close_date_updated`, `activated`/`deactivated`,
 * `determined`/`settled`, plus event-level frames: `event_lifecycle` (series, shard) and
 * `event_fee_update` (fee override for every market of an event). A piece never replaces the record;
 * it is merged over it. `MarketDirectory` keeps the records and returns the full, merged MarketInfo
 * each time a piece changes one — that record is what the engine, the simulated venue, the store
 * (`kalshi_markets`, a row per change) and the tape see, so replay sees exactly what live saw.
 *
 * Partial MarketInfo (as older tapes hold it, from `metadata_updated`): fields the update does not
 * carry hold sentinels — times −1, strikes NaN, priceRanges [], status "", feeMultiplier NaN (the fee
 * pair then keeps the prior values). `mergeMarketInfo` applies such an update over the prior record.
 */
import type { FeeType, MarketInfo, MarketLifecycle, PriceRange, StrikeType } from "./events.ts";
import type { TsUs } from "./units.ts";

/**
 * The record after a `close_date_updated` to `closeTime`: the settle time moves with the close, as the
 * settlement window ends at the close. The engine and the simulated venue both apply it.
 */
export function withMovedClose(info: MarketInfo, closeTime: TsUs): MarketInfo {
  return { ...info, closeTime, settleTime: closeTime };
}

/**
 * Apply a (possibly partial) MarketInfo over the prior one: sentinel fields in `update`
 * (times −1, strikes NaN, priceRanges [], status "", feeMultiplier NaN) keep the prior value.
 */
export function mergeMarketInfo(prior: MarketInfo, update: MarketInfo): MarketInfo {
  const feeKnown = !Number.isNaN(update.feeMultiplier);
  return {
    ...prior,
    tsRecv: update.tsRecv,
    tsExchange: update.tsExchange,
    eventTicker: update.eventTicker || prior.eventTicker,
    seriesTicker: update.seriesTicker || prior.seriesTicker,
    strikeType: update.strikeType,
    floorStrike: Number.isNaN(update.floorStrike) ? prior.floorStrike : update.floorStrike,
    capStrike: Number.isNaN(update.capStrike) ? prior.capStrike : update.capStrike,
    openTime: update.openTime >= 0 ? update.openTime : prior.openTime,
    closeTime: update.closeTime >= 0 ? update.closeTime : prior.closeTime,
    settleTime: update.settleTime >= 0 ? update.settleTime : prior.settleTime,
    priceRanges: update.priceRanges.length > 0 ? update.priceRanges : prior.priceRanges,
    feeType: feeKnown ? update.feeType : prior.feeType,
    feeMultiplier: feeKnown ? update.feeMultiplier : prior.feeMultiplier,
    // Only REST carries the waiver: a WS piece (no field) keeps the prior record's.
    ...(update.feeWaiverUntil !== undefined ? { feeWaiverUntil: update.feeWaiverUntil } : {}),
    status: update.status !== "" ? update.status : prior.status,
  };
}

/** True when the record lacks what a market needs to be traded or settled (times unknown). */
export function isPartialMarketInfo(m: MarketInfo): boolean {
  return m.openTime < 0 || m.closeTime < 0 || m.settleTime < 0 || m.priceRanges.length === 0 || Number.isNaN(m.feeMultiplier);
}

/** A piece of market data that is not a whole record (from a lifecycle frame). */
export interface MarketPatch {
  readonly market: string;
  readonly tsRecv: TsUs;
  readonly tsExchange: TsUs | null;
  readonly strikeType?: StrikeType;
  readonly floorStrike?: number;
  readonly capStrike?: number;
  readonly openTime?: TsUs;
  readonly closeTime?: TsUs;
  readonly priceRanges?: readonly PriceRange[];
  readonly status?: string;
  readonly exchangeIndex?: number;
}

/** An event-level frame: `event_lifecycle` (series, shard) or `event_fee_update` (override or its clearing). */
export interface EventPatch {
  readonly eventTicker: string;
  readonly tsRecv: TsUs;
  readonly seriesTicker?: string;
  readonly exchangeIndex?: number;
  /** Present for event_fee_update: null values clear the override. */
  readonly feeOverride?: { readonly feeType: FeeType | null; readonly feeMultiplier: number | null };
}

export interface SeriesFee {
  readonly feeType: FeeType;
  readonly feeMultiplier: number;
}

/** Status ranks: a stale REST listing must not move a market back from closed/determined/finalized. */
const STATUS_RANK: Record<string, number> = {
  initialized: 0,
  active: 1,
  inactive: 1,
  closed: 2,
  determined: 3,
  disputed: 3,
  amended: 3,
  finalized: 4,
};

function rank(status: string): number {
  return STATUS_RANK[status] ?? 0;
}

/** A tradeable-looking status: what a stale `status=open` listing of a finished market says. */
function isOpenStatus(status: string): boolean {
  return status === "initialized" || status === "active" || status === "inactive";
}

const HOUR_US = 3_600_000_000;
/**
 * A finalized market's tombstone is kept this long after its close (or its settlement, if later).
 * Past that, any stale open listing of it is refused on its close time alone.
 */
const TOMBSTONE_AFTER_CLOSE_US = 6 * HOUR_US;
/** Hard cap on tombstones (oldest dropped first), whatever the event times say. */
const MAX_TOMBSTONES = 20_000;
/** Pieces waiting for a record that never came (a market REST never lists) are dropped after this. */
const PENDING_RETENTION_US = 24 * HOUR_US;
/** Expired tombstones and pending pieces are swept at most this often (event time). */
const SWEEP_EVERY_US = 60_000_000;

/** A piece waiting for its market's record: a patch, or a lifecycle frame (re-applied as such). */
type Pending = MarketPatch | MarketLifecycle;

function isLifecycle(p: Pending): p is MarketLifecycle {
  return (p as MarketLifecycle).kind === "market_lifecycle";
}

/** Status a lifecycle phase implies ("" = no change). */
function statusOfPhase(l: MarketLifecycle): string {
  switch (l.phase) {
    case "activated":
      return "active";
    case "deactivated":
      return "inactive";
    case "closed":
      return "closed";
    case "determined":
      return "determined";
    case "settled":
      return "finalized";
    default:
      return "";
  }
}

function sameRecord(a: MarketInfo, b: MarketInfo): boolean {
  const key = (m: MarketInfo) =>
    JSON.stringify([
      m.eventTicker,
      m.seriesTicker,
      m.strikeType,
      Number.isNaN(m.floorStrike) ? null : m.floorStrike,
      Number.isNaN(m.capStrike) ? null : m.capStrike,
      m.openTime,
      m.closeTime,
      m.settleTime,
      m.priceRanges,
      m.feeType,
      Number.isNaN(m.feeMultiplier) ? null : m.feeMultiplier,
      m.feeWaiverUntil !== undefined && m.feeWaiverUntil >= 0 ? m.feeWaiverUntil : null, // none known = none
      m.status,
    ]);
  return key(a) === key(b);
}

/**
 * The merged records, plus what applies across markets: series fee schedules, event fee overrides
 * and shards. Every method returns the records it changed (full MarketInfo, stamped with the input's
 * receipt time), in market order; nothing when the input changed nothing.
 */
/**
 * A whole record (a REST listing) the venue wrote before `setAt`, when a lifecycle frame last set a
 * field: it carries no updated_time, or an earlier one. Partial records are the frames themselves.
 */
function writtenBefore(info: MarketInfo, setAt: TsUs | undefined): boolean {
  return setAt !== undefined && !isPartialMarketInfo(info) && !(info.tsExchange !== null && info.tsExchange > setAt);
}

export class MarketDirectory {
  private readonly records = new Map<string, MarketInfo>();
  /** Pieces for markets not yet known (metadata_updated, close_date_updated… before the REST listing). */
  private readonly pending = new Map<string, Pending[]>();
  /**
   * Markets settled and forgotten → until when (event time) the tombstone is kept. A stale listing or
   * a late frame must not make them anew (kalshi-api.md §8.10: open lists include just-settled markets).
   */
  private readonly finalized = new Map<string, TsUs>();
  /** Latest event time seen (inputs' receipt times): the directory's only notion of "now". */
  private latest = Number.NEGATIVE_INFINITY;
  private lastSweep = Number.NEGATIVE_INFINITY;
  private readonly seriesFees = new Map<string, SeriesFee>();
  private readonly eventOverrides = new Map<string, { feeType: FeeType | null; feeMultiplier: number | null }>();
  private readonly shards = new Map<string, number>();
  private readonly eventShards = new Map<string, number>();
  /** When a lifecycle frame last set a market's strike (venue time, else receipt). */
  private readonly strikeSetAt = new Map<string, TsUs>();
  /** When a lifecycle frame last set a market's status (a pause, a reactivation, a close…). */
  private readonly statusSetAt = new Map<string, TsUs>();

  get(market: string): MarketInfo | undefined {
    return this.records.get(market);
  }

  /** What the directory holds (for status lines and tests: it must stay flat over a long run). */
  sizes(): { records: number; pending: number; finalized: number } {
    return { records: this.records.size, pending: this.pending.size, finalized: this.finalized.size };
  }

  /** Advance event time; now and then drop expired tombstones and pieces nobody claimed. */
  private observe(ts: TsUs): void {
    if (ts > this.latest) this.latest = ts;
    if (this.latest - this.lastSweep < SWEEP_EVERY_US) return;
    this.lastSweep = this.latest;
    for (const [m, until] of this.finalized) if (until < this.latest) this.finalized.delete(m);
    for (const [m, list] of this.pending) {
      const newest = Math.max(...list.map((p) => p.tsRecv));
      if (newest + PENDING_RETENTION_US < this.latest) this.pending.delete(m);
    }
  }

  private queue(market: string, p: Pending): void {
    const list = this.pending.get(market) ?? [];
    list.push(p);
    this.pending.set(market, list);
  }

  all(): MarketInfo[] {
    return [...this.records.values()].sort((a, b) => (a.market < b.market ? -1 : a.market > b.market ? 1 : 0));
  }

  /** Exchange shard of a market (from REST, `created` or its event), or -1. */
  shardOf(market: string): number {
    const s = this.shards.get(market);
    if (s !== undefined) return s;
    const info = this.records.get(market);
    return info ? (this.eventShards.get(info.eventTicker) ?? -1) : -1;
  }

  /** The fee schedule a market trades under: event override, else series schedule, else its own. */
  private withFees(m: MarketInfo): MarketInfo {
    const series = this.seriesFees.get(m.seriesTicker);
    const ov = this.eventOverrides.get(m.eventTicker);
    let feeType = series?.feeType ?? m.feeType;
    let feeMultiplier = series?.feeMultiplier ?? m.feeMultiplier;
    if (ov?.feeType != null) feeType = ov.feeType;
    if (ov?.feeMultiplier != null) feeMultiplier = ov.feeMultiplier;
    if (feeType === m.feeType && feeMultiplier === m.feeMultiplier) return m;
    return { ...m, feeType, feeMultiplier };
  }

  private store(next: MarketInfo): MarketInfo | null {
    const prior = this.records.get(next.market);
    const withFees = this.withFees(next);
    if (prior && sameRecord(prior, withFees)) return null;
    this.records.set(next.market, withFees);
    return withFees;
  }

  /** A whole (REST / `created`) or partial MarketInfo. */
  upsert(info: MarketInfo, exchangeIndex = -1): MarketInfo | null {
    this.observe(info.tsRecv);
    // Settled and forgotten: whatever still lists it is stale.
    if (this.finalized.has(info.market)) return null;
    // An open market past its close, as of receipt: a stale status (§8.10 "filter by close_time
    // yourself"). The record is still taken, as closed: after a restart it may be the only record of
    // a market we hold a position in, which must settle.
    if (!isPartialMarketInfo(info) && isOpenStatus(info.status) && info.closeTime >= 0 && info.tsRecv >= info.closeTime) info = { ...info, status: "closed" };
    if (exchangeIndex >= 0) this.shards.set(info.market, exchangeIndex);
    const prior = this.records.get(info.market);
    if (!prior && isPartialMarketInfo(info)) {
      // A strike announced before we know the market: keep it until the record arrives.
      this.patch({
        market: info.market,
        tsRecv: info.tsRecv,
        tsExchange: info.tsExchange,
        strikeType: info.strikeType,
        ...(Number.isNaN(info.floorStrike) ? {} : { floorStrike: info.floorStrike }),
        ...(Number.isNaN(info.capStrike) ? {} : { capStrike: info.capStrike }),
      });
      return null;
    }
    let next: MarketInfo;
    if (!prior) next = info;
    else {
      next = mergeMarketInfo(prior, info);
      // A delayed REST listing does not undo a close or a determination we already saw, nor a status
      // (a pause, a reactivation) a lifecycle frame set after the listing was written.
      const olderStatus = writtenBefore(info, this.statusSetAt.get(info.market));
      if (rank(info.status) < rank(prior.status) || (olderStatus && info.status !== "")) next = { ...next, status: prior.status };
      // Nor a strike a metadata_updated frame set after it was written: only a record the venue
      // updated later (its updated_time) may move that strike again.
      if (writtenBefore(info, this.strikeSetAt.get(info.market))) {
        next = { ...next, strikeType: prior.strikeType, floorStrike: prior.floorStrike, capStrike: prior.capStrike };
      }
    }
    if (isPartialMarketInfo(info) && (!Number.isNaN(info.floorStrike) || !Number.isNaN(info.capStrike))) this.strikeSetAt.set(info.market, info.tsExchange ?? info.tsRecv);
    let changed = this.store(next);
    const waiting = this.pending.get(info.market);
    if (waiting) {
      this.pending.delete(info.market);
      for (const p of waiting) {
        // A record the venue wrote after the frame already holds it, and whatever came since.
        if (!isPartialMarketInfo(info) && info.tsExchange !== null && info.tsExchange > (p.tsExchange ?? p.tsRecv)) continue;
        changed = (isLifecycle(p) ? this.lifecycle(p) : this.patch(p)) ?? changed;
      }
    }
    return changed;
  }

  patch(p: MarketPatch): MarketInfo | null {
    this.observe(p.tsRecv);
    if (this.finalized.has(p.market)) return null;
    if (p.exchangeIndex !== undefined && p.exchangeIndex >= 0) this.shards.set(p.market, p.exchangeIndex);
    if ((p.floorStrike !== undefined && !Number.isNaN(p.floorStrike)) || (p.capStrike !== undefined && !Number.isNaN(p.capStrike))) {
      this.strikeSetAt.set(p.market, p.tsExchange ?? p.tsRecv);
    }
    const prior = this.records.get(p.market);
    if (!prior) {
      this.queue(p.market, p);
      return null;
    }
    const next: MarketInfo = {
      ...prior,
      tsRecv: p.tsRecv,
      tsExchange: p.tsExchange,
      ...(p.strikeType !== undefined ? { strikeType: p.strikeType } : {}),
      ...(p.floorStrike !== undefined && !Number.isNaN(p.floorStrike) ? { floorStrike: p.floorStrike } : {}),
      ...(p.capStrike !== undefined && !Number.isNaN(p.capStrike) ? { capStrike: p.capStrike } : {}),
      ...(p.openTime !== undefined && p.openTime >= 0 ? { openTime: p.openTime } : {}),
      // BTC series settle at close: a moved close moves the settlement instant with it.
      ...(p.closeTime !== undefined && p.closeTime >= 0 ? { closeTime: p.closeTime, settleTime: p.closeTime } : {}),
      ...(p.priceRanges !== undefined && p.priceRanges.length > 0 ? { priceRanges: p.priceRanges } : {}),
      ...(p.status ? { status: p.status } : {}),
    };
    return this.store(next);
  }

  /** A lifecycle phase: status (and close time) of the record. */
  lifecycle(l: MarketLifecycle): MarketInfo | null {
    this.observe(l.tsRecv);
    if (this.finalized.has(l.market)) return null;
    const status = statusOfPhase(l);
    const prior = this.records.get(l.market);
    if (!prior) {
      // Before the first record (its listing not in yet): kept, and re-applied as a lifecycle frame
      // when the record comes — so the status ranks hold — unless the record was written after it.
      if (status !== "" || (l.phase === "close_date_updated" && l.closeTime >= 0)) this.queue(l.market, l);
      return null;
    }
    if (status && rank(status) >= rank(prior.status)) this.statusSetAt.set(l.market, l.tsExchange ?? l.tsRecv);
    const p: MarketPatch = {
      market: l.market,
      tsRecv: l.tsRecv,
      tsExchange: l.tsExchange,
      ...(status && rank(status) >= rank(prior.status) ? { status } : {}),
      ...(l.phase === "close_date_updated" && l.closeTime >= 0 ? { closeTime: l.closeTime } : {}),
    };
    return this.patch(p);
  }

  event(e: EventPatch): MarketInfo[] {
    if (e.exchangeIndex !== undefined && e.exchangeIndex >= 0) this.eventShards.set(e.eventTicker, e.exchangeIndex);
    if (!e.feeOverride) return [];
    const o = e.feeOverride;
    if (o.feeType === null && o.feeMultiplier === null) this.eventOverrides.delete(e.eventTicker);
    else this.eventOverrides.set(e.eventTicker, { feeType: o.feeType, feeMultiplier: o.feeMultiplier });
    return this.restamp((m) => m.eventTicker === e.eventTicker, e.tsRecv);
  }

  /** The series' own schedule (GET /series/{ticker}): every market of the series, now and later. */
  seriesFee(seriesTicker: string, fee: SeriesFee, tsRecv: TsUs): MarketInfo[] {
    this.seriesFees.set(seriesTicker, fee);
    return this.restamp((m) => m.seriesTicker === seriesTicker, tsRecv);
  }

  hasSeriesFee(seriesTicker: string): boolean {
    return this.seriesFees.has(seriesTicker);
  }

  private restamp(which: (m: MarketInfo) => boolean, tsRecv: TsUs): MarketInfo[] {
    const out: MarketInfo[] = [];
    for (const m of this.all()) {
      if (!which(m)) continue;
      // Recompute the fee pair from the base record (series schedule, then override).
      const base = this.seriesFees.get(m.seriesTicker);
      const r = this.store({ ...m, tsRecv, tsExchange: null, ...(base ? { feeType: base.feeType, feeMultiplier: base.feeMultiplier } : {}) });
      if (r) out.push(r);
    }
    return out;
  }

  /**
   * Forget a market settled at `at` (event time), so long runs stay flat. A bounded tombstone stays,
   * so nothing stale makes the market anew: kept until well after its close, then swept.
   */
  forget(market: string, at: TsUs): void {
    this.observe(at);
    const close = this.records.get(market)?.closeTime ?? -1;
    this.finalized.delete(market);
    this.finalized.set(market, Math.max(close, at) + TOMBSTONE_AFTER_CLOSE_US);
    if (this.finalized.size > MAX_TOMBSTONES) this.finalized.delete(this.finalized.keys().next().value!);
    this.records.delete(market);
    this.strikeSetAt.delete(market);
    this.statusSetAt.delete(market);
    this.pending.delete(market);
    this.shards.delete(market);
  }
}
