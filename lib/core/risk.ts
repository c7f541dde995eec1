/**
 * Risk manager: pure verdicts with reasons. It never sends or cancels anything; the engine asks
 * `checkEntry` before every new order and records the verdict.
 *
 * States (records.ts RiskState):
 *  - ACTIVE   — new entries allowed within the caps.
 *  - REDUCING — only orders that reduce an existing position. Entered when the UTC day's realized PnL
 *               (fees included) reaches −maxDailyLossPct × the balance at the start of that day;
 *               left (→ ACTIVE) on the first `updateBook` of a later UTC day that is not itself over
 *               the limit. A recovery within the same day does not re-open entries.
 *  - HALTED   — nothing new at all, reducing orders included: a halt means our view of the account is
 *               not trusted (kill switch, reconciliation mismatch, fill for an unknown order). Sticky:
 *               only a new process or an explicit `reset` leaves it. Cancels are not the risk
 *               manager's business — the engine cancels open orders on a halt.
 *
 * Refusal order in `checkEntry` (first match wins): HALTED, stale reconciliation, REDUCING and not
 * reducing, a reducing order without a position, blocks (non-reducing only), open-position count,
 * per-market cap, total exposure cap; the last three count open entry orders as if they had filled.
 * Reasons start with a stable code (`RiskReason`) then ": detail".
 */
import type { OrderAction, Outcome, RiskState, RiskStateChanged } from "./records.ts";
import type { RiskConfig } from "./config.ts";
import { MICROS_PER_DOLLAR, PRICE_ONE, US_PER_S, formatMoneyDollars, utcDay, type CountE2, type Micros, type PriceE4, type TsUs } from "./units.ts";

export interface EntryRequest {
  ts: TsUs;
  market: string;
  outcome: Outcome;
  action: OrderAction;
  /** Own-leg limit price. */
  price: PriceE4;
  count: CountE2;
  /** true if the order only reduces an existing position */
  reducing: boolean;
}

export interface Verdict {
  allowed: boolean;
  /** Count allowed (≤ the count asked; 0 when refused). */
  count: CountE2;
  reason: string;
}

/** Stable leading code of every verdict reason. */
export type RiskReason =
  | "OK"
  | "CAPPED"
  | "HALTED"
  | "RECONCILE_STALE"
  | "REDUCING_ONLY"
  | "NO_POSITION_TO_REDUCE"
  | "BLOCKED"
  | "MAX_OPEN_POSITIONS"
  | "POSITION_CAP"
  | "EXPOSURE_CAP"
  | "INVALID_REQUEST";

export interface BookSummary {
  /** Realized PnL of the UTC day of ts, fees included (Portfolio.dailyRealized). */
  dailyPnl: Micros;
  /** Cash + cost of open positions (Portfolio.balance). */
  balance: Micros;
  /** Σ cost of open positions (Portfolio.exposure). */
  exposure: Micros;
  openPositions: number;
  positionCost: (market: string) => Micros;
  hasPosition: (market: string) => boolean;
  /**
   * What the open entry orders (not reduce-only) would add if they filled: in `market`, and in all
   * markets. The caps count them, so orders resting in several markets at once cannot fill past a
   * cap together. Asked at each check (orders change between book updates).
   */
  openOrderCost: (market: string) => { readonly inMarket: Micros; readonly total: Micros };
  /** Markets with an open entry order, position or not (each may become a position). */
  openOrderMarkets: () => ReadonlySet<string>;
}

const NO_MARKETS: ReadonlySet<string> = new Set();
const NO_OPEN_COST = { inMarket: 0, total: 0 } as const;

function isEntryBlockKey(key: string, market: string): boolean {
  return key === "spot" || key.startsWith("feed:") || key === `book:${market}`;
}

export class RiskManager {
  private current: RiskState = "ACTIVE";
  private haltReason = "";
  private readonly blockMap = new Map<string, string>();
  private lastReconciledTs: TsUs | null = null;
  private book: BookSummary;
  /** UTC day of the latest updateBook (for the REDUCING → ACTIVE rollover). */
  private bookDay: string;
  /** Day on which the daily loss limit put us in REDUCING (null if not in REDUCING for that). */
  private reducingDay: string | null = null;
  /** The day's realized PnL when the loss limit tripped, plus corrections of settlements booked by then. */
  private reducingTripPnl = 0;
  /** When the loss limit tripped. */
  private reducingTripTs: TsUs = 0;

  constructor(
    private readonly cfg: RiskConfig,
    startTs: TsUs,
  ) {
    const start = Math.round(cfg.startingBalanceDollars * MICROS_PER_DOLLAR);
    this.book = {
      dailyPnl: 0,
      balance: start,
      exposure: 0,
      openPositions: 0,
      positionCost: () => 0,
      hasPosition: () => false,
      openOrderCost: () => NO_OPEN_COST,
      openOrderMarkets: () => NO_MARKETS,
    };
    this.bookDay = utcDay(startTs);
  }

  state(): RiskState {
    return this.current;
  }

  /** Why the manager is HALTED ("" otherwise). */
  haltedBecause(): string {
    return this.current === "HALTED" ? this.haltReason : "";
  }

  private moveTo(ts: TsUs, to: RiskState, reason: string): RiskStateChanged[] {
    if (this.current === to) return [];
    const rec: RiskStateChanged = { kind: "risk_state_changed", ts, from: this.current, to, reason };
    this.current = to;
    return [rec];
  }

  /** Kill switch: HALTED. */
  engageKillSwitch(ts: TsUs, reason: string): RiskStateChanged[] {
    return this.halt(ts, `kill switch: ${reason}`);
  }

  /** HALTED (sticky), e.g. reconciliation mismatch or a fill for an unknown order. The first reason is kept. */
  halt(ts: TsUs, reason: string): RiskStateChanged[] {
    if (this.current === "HALTED") return [];
    this.haltReason = reason;
    this.reducingDay = null;
    return this.moveTo(ts, "HALTED", reason);
  }

  /**
   * Explicit operator reset out of any state (an addition to the original contract). Goes to ACTIVE,
   * or straight to REDUCING if the last known book is still over today's loss limit.
   */
  reset(ts: TsUs, reason: string): RiskStateChanged[] {
    this.haltReason = "";
    this.reducingDay = null;
    const out = this.moveTo(ts, "ACTIVE", `reset: ${reason}`);
    if (utcDay(ts) === this.bookDay && this.overDailyLimit(this.book)) {
      this.reducingDay = this.bookDay;
      this.reducingTripPnl = this.book.dailyPnl;
      this.reducingTripTs = ts;
      out.push(...this.moveTo(ts, "REDUCING", this.dailyLossReason(this.book)));
    }
    return out;
  }

  /** Feed- or market-level block that clears when healthy. Keys: "spot", "feed:<name>", "book:<market>". */
  block(_ts: TsUs, key: string, reason: string): void {
    this.blockMap.set(key, reason);
  }

  unblock(_ts: TsUs, key: string): void {
    this.blockMap.delete(key);
  }

  blocks(): ReadonlyMap<string, string> {
    return this.blockMap;
  }

  noteReconciled(ts: TsUs): void {
    if (this.lastReconciledTs === null || ts > this.lastReconciledTs) this.lastReconciledTs = ts;
  }

  private dailyLossLimit(b: BookSummary): Micros {
    // Balance at the start of the day: today's realized PnL is the only thing that moved cash + cost.
    const dayStart = b.balance - b.dailyPnl;
    return Math.floor(this.cfg.maxDailyLossPct * Math.max(dayStart, 0));
  }

  private overDailyLimit(b: BookSummary): boolean {
    return b.dailyPnl < 0 && -b.dailyPnl >= this.dailyLossLimit(b);
  }

  private dailyLossReason(b: BookSummary): string {
    return `daily loss limit: realized ${formatMoneyDollars(b.dailyPnl, 2)} ≤ −${formatMoneyDollars(this.dailyLossLimit(b), 2)}`;
  }

  /**
   * A settlement first booked at `bookedTs` was corrected by `delta` (a later result overruled it).
   * A REDUCING that today's loss limit caused is lifted only if, with the corrections of settlements
   * booked that day by the time it tripped, the day would not have reached the limit then, and is
   * within it now: that loss never happened. A settlement booked after the trip (or on another day)
   * was not part of it, so its correction is a recovery like any other, and a real recovery within
   * the day does not re-open entries. A correction that itself trips the limit is already in the PnL
   * at the trip.
   */
  settlementCorrected(ts: TsUs, s: BookSummary, delta: Micros, bookedTs: TsUs): RiskStateChanged[] {
    const wasReducing = this.current === "REDUCING";
    const out = this.updateBook(ts, s);
    if (!wasReducing || this.current !== "REDUCING" || this.reducingDay !== utcDay(ts)) return out;
    // Only a settlement of the trip's own day, booked by the trip, was part of the PnL that tripped it.
    if (bookedTs > this.reducingTripTs || utcDay(bookedTs) !== this.reducingDay) return out;
    this.reducingTripPnl += delta;
    const atTrip = { ...s, dailyPnl: this.reducingTripPnl, balance: s.balance - s.dailyPnl + this.reducingTripPnl };
    if (delta > 0 && !this.overDailyLimit(atTrip) && !this.overDailyLimit(s)) {
      this.reducingDay = null;
      out.push(...this.moveTo(ts, "ACTIVE", `settlement corrected: realized ${formatMoneyDollars(s.dailyPnl, 2)} today, within the daily loss limit`));
    }
    return out;
  }

  /** Update from the portfolio after each fill/settlement and on timers (so the UTC-day rollover is seen). */
  updateBook(ts: TsUs, s: BookSummary): RiskStateChanged[] {
    this.book = s;
    const day = utcDay(ts);
    if (day > this.bookDay) this.bookDay = day;
    if (this.current === "HALTED") return [];
    const over = this.overDailyLimit(s);
    if (this.current === "ACTIVE" && over) {
      this.reducingDay = day;
      this.reducingTripPnl = s.dailyPnl;
      this.reducingTripTs = ts;
      return this.moveTo(ts, "REDUCING", this.dailyLossReason(s));
    }
    if (this.current === "REDUCING" && this.reducingDay !== null && day > this.reducingDay && !over) {
      this.reducingDay = null;
      return this.moveTo(ts, "ACTIVE", `new UTC day ${day}`);
    }
    return [];
  }

  /** Why the last reconciliation is too old at ts to trust our exposure (null: recent enough, or no limit). */
  reconcileStale(ts: TsUs): string | null {
    const maxAge = this.cfg.reconcileMaxAgeSeconds;
    if (!(maxAge > 0)) return null;
    if (this.lastReconciledTs === null) return "never reconciled";
    const age = ts - this.lastReconciledTs;
    if (age > maxAge * US_PER_S) return `last reconciliation ${(age / US_PER_S).toFixed(1)} s ago > ${maxAge} s`;
    return null;
  }

  checkEntry(r: EntryRequest): Verdict {
    if (!Number.isSafeInteger(r.count) || r.count <= 0) return refuse("INVALID_REQUEST", `count ${r.count}`);
    if (!Number.isSafeInteger(r.price) || r.price < 0 || r.price > PRICE_ONE) return refuse("INVALID_REQUEST", `price ${r.price}`);

    if (this.current === "HALTED") return refuse("HALTED", this.haltReason);
    const stale = this.reconcileStale(r.ts);
    if (stale) return refuse("RECONCILE_STALE", stale);
    if (this.current === "REDUCING" && !r.reducing) return refuse("REDUCING_ONLY", "only position-reducing orders");

    if (r.reducing) {
      // A "reducing" order on a flat market would open a position: refuse rather than trust the flag.
      if (!this.book.hasPosition(r.market)) return refuse("NO_POSITION_TO_REDUCE", r.market);
      return { allowed: true, count: r.count, reason: "OK: reducing" };
    }

    if (this.blockMap.size > 0) {
      for (const [key, why] of this.blockMap) {
        if (isEntryBlockKey(key, r.market)) return refuse("BLOCKED", `${key}: ${why}`);
      }
    }

    const b = this.book;
    if (!b.hasPosition(r.market)) {
      // A market with an open entry order counts as a position: it becomes one if the order fills.
      let opening = 0;
      for (const m of b.openOrderMarkets()) if (m !== r.market && !b.hasPosition(m)) opening++;
      if (b.openPositions + opening >= this.cfg.maxOpenPositions) {
        const detail = opening > 0 ? `${b.openPositions} open + ${opening} with open orders` : `${b.openPositions} open`;
        return refuse("MAX_OPEN_POSITIONS", `${detail} ≥ ${this.cfg.maxOpenPositions}`);
      }
    }

    // Money at risk per unit of count: a buy pays its price; a non-reducing sell is a buy of the
    // other leg at 1 − price.
    const unitCost = r.action === "buy" ? r.price : PRICE_ONE - r.price;
    const { marketRoom, exposureRoom } = this.rooms(r.market);
    let count = r.count;
    let limitedBy: RiskReason | null = null;
    if (unitCost > 0) {
      const byMarket = Math.max(0, Math.floor(marketRoom / unitCost));
      const byExposure = Math.max(0, Math.floor(exposureRoom / unitCost));
      if (byMarket < count) {
        count = byMarket;
        limitedBy = "POSITION_CAP";
      }
      if (byExposure < count) {
        count = byExposure;
        limitedBy = "EXPOSURE_CAP";
      }
    }
    if (count <= 0) return refuse(limitedBy ?? "POSITION_CAP", capDetail(limitedBy, marketRoom, exposureRoom));
    if (limitedBy) return { allowed: true, count, reason: `CAPPED: ${limitedBy} ${capDetail(limitedBy, marketRoom, exposureRoom)}` };
    return { allowed: true, count, reason: "OK" };
  }

  /**
   * Money a new or bigger entry in `market` may still put at risk under the per-market and exposure
   * caps (open entry orders counted as filled; may be negative). A reprice up asks it: it is not a new
   * order, but it grows what the resting one can cost.
   */
  entryRoom(market: string): Micros {
    const { marketRoom, exposureRoom } = this.rooms(market);
    return Math.min(marketRoom, exposureRoom);
  }

  private rooms(market: string): { marketRoom: Micros; exposureRoom: Micros } {
    const b = this.book;
    const balance = Math.max(b.balance, 0);
    // Open entry orders take room as if they had filled (worst case: they all may).
    const open = b.openOrderCost(market);
    return {
      marketRoom: Math.floor(this.cfg.maxPositionPct * balance) - b.positionCost(market) - open.inMarket,
      exposureRoom: Math.floor(this.cfg.maxExposurePct * balance) - b.exposure - open.total,
    };
  }
}

// Module-level rather than closures in checkEntry: it runs for every config at every evaluation, and
// a closure created per call costs more than the check itself (tsx's keepNames names each one).
function refuse(code: RiskReason, detail: string): Verdict {
  return { allowed: false, count: 0, reason: `${code}: ${detail}` };
}

function capDetail(code: RiskReason | null, marketRoom: Micros, exposureRoom: Micros): string {
  return code === "POSITION_CAP"
    ? `market room ${formatMoneyDollars(Math.max(marketRoom, 0), 6)}`
    : `exposure room ${formatMoneyDollars(Math.max(exposureRoom, 0), 6)}`;
}
