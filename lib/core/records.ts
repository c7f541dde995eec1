/**
 * What the engine emits: order intents (commands, imperative) and audit records (facts, past tense).
 * Replay, paper and live all write these same records to the same store tables.
 */
import type { BookSide, MarketResult, OrderStatus, StrikeType } from "./events.ts";
import type { CountE2, Micros, PriceE4, TsUs } from "./units.ts";

export type Outcome = "yes" | "no";
export type OrderAction = "buy" | "sell";
export type TimeInForce = "good_till_canceled" | "immediate_or_cancel" | "fill_or_kill";

// ---- Intents (commands) -----------------------------------------------------------------------

export interface PlaceOrder {
  readonly kind: "place_order";
  readonly ts: TsUs;
  readonly clientOrderId: string;
  readonly market: string;
  readonly outcome: Outcome;
  readonly action: OrderAction;
  /** Limit price in the outcome's own leg (a NO buy at 0.40 is 4000). */
  readonly price: PriceE4;
  readonly count: CountE2;
  readonly tif: TimeInForce;
  readonly postOnly: boolean;
  readonly reduceOnly: boolean;
  /** The evaluation that produced it (links to the opportunity record). */
  readonly evalId: string;
}

export interface CancelOrder {
  readonly kind: "cancel_order";
  readonly ts: TsUs;
  readonly clientOrderId: string;
  readonly orderId: string | null;
  readonly market: string;
  readonly reason: string;
}

export interface CancelAll {
  readonly kind: "cancel_all";
  readonly ts: TsUs;
  readonly reason: string;
}

/**
 * Move a resting order to a new own-leg price and/or size (V2 amend; the live transport amends in
 * place). Same market, outcome and action as the order. `count` is V2's total max fillable: the fills
 * the sender knew of plus what should rest. The venue subtracts its own filled count, so a fill that
 * lands while the amend is in flight shrinks what rests instead of adding exposure.
 */
export interface AmendOrder {
  readonly kind: "amend_order";
  readonly ts: TsUs;
  readonly clientOrderId: string;
  readonly orderId: string | null;
  readonly market: string;
  readonly outcome: Outcome;
  readonly action: OrderAction;
  readonly price: PriceE4;
  readonly count: CountE2;
  readonly reason: string;
}

export type OrderIntent = PlaceOrder | CancelOrder | CancelAll | AmendOrder;

// ---- Audit records (facts) ----------------------------------------------------------------------

export type ReasonCode =
  | "TRADE"
  | "UNSUPPORTED_STRIKE"
  | "MARKET_NOT_OPEN"
  | "TAU_TOO_LONG"
  | "TOO_CLOSE_TO_SETTLEMENT"
  | "NO_SPOT"
  | "SPOT_STALE"
  | "BOOK_MISSING"
  | "BOOK_STALE"
  | "VOL_NOT_WARM"
  | "NO_QUOTE"
  | "SPREAD_TOO_WIDE"
  | "EV_BELOW_MIN"
  | "ORDER_IN_FLIGHT"
  | "RATE_LIMITED"
  | "RISK_BLOCKED"
  | "EXIT"
  | "REPRICE"
  | "CANCEL_RESTING";

export const REASON_CODES: readonly ReasonCode[] = [
  "TRADE",
  "UNSUPPORTED_STRIKE",
  "MARKET_NOT_OPEN",
  "TAU_TOO_LONG",
  "TOO_CLOSE_TO_SETTLEMENT",
  "NO_SPOT",
  "SPOT_STALE",
  "BOOK_MISSING",
  "BOOK_STALE",
  "VOL_NOT_WARM",
  "NO_QUOTE",
  "SPREAD_TOO_WIDE",
  "EV_BELOW_MIN",
  "ORDER_IN_FLIGHT",
  "RATE_LIMITED",
  "RISK_BLOCKED",
  "EXIT",
  "REPRICE",
  "CANCEL_RESTING",
];

/** One market evaluation, traded or not. Prices PriceE4 (-1 = absent); NaN = not computed. */
export interface Opportunity {
  readonly kind: "opportunity";
  readonly ts: TsUs;
  readonly evalId: string;
  readonly market: string;
  readonly eventTicker: string;
  readonly strikeType: string;
  readonly floorStrike: number;
  readonly capStrike: number;
  readonly settleTime: TsUs;
  readonly spot: number;
  readonly tauSeconds: number;
  readonly sigma: number;
  readonly pModel: number;
  readonly yesBid: PriceE4;
  readonly yesAsk: PriceE4;
  readonly noBid: PriceE4;
  readonly noAsk: PriceE4;
  /** Market-implied P(YES) at the YES bid, at the YES ask, and their mid. */
  readonly pMarketBid: number;
  readonly pMarketAsk: number;
  readonly pMarketMid: number;
  /** All-in cost per contract above the price (fee + slippage), as probability units. */
  readonly costYes: number;
  readonly costNo: number;
  readonly evYes: number;
  readonly evNo: number;
  readonly side: Outcome | null;
  readonly decision: "trade" | "skip";
  readonly reason: ReasonCode;
  readonly detail: string;
  /**
   * The inputs were good enough to stand behind p_model and the market mid: a listed, open, unpaused
   * market, a spot that is neither missing, stale nor in doubt, a book that is present and not stale,
   * a warm volatility, a finite p_model. Kept apart from `reason`, which an order action (a cancel of
   * a resting order, say) may replace. Only such evaluations are scored as forecasts.
   */
  readonly inputsFresh: boolean;
}

export interface FeatureRecord {
  readonly kind: "features";
  readonly ts: TsUs;
  readonly spot: number;
  readonly sigma: number;
  readonly sigmaSamples: number;
  readonly indexValue: number;
  /** index − spot mid, USD (NaN until both are known). */
  readonly basis: number;
}

export type RiskState = "ACTIVE" | "REDUCING" | "HALTED";

export interface RiskStateChanged {
  readonly kind: "risk_state_changed";
  readonly ts: TsUs;
  readonly from: RiskState;
  readonly to: RiskState;
  readonly reason: string;
}

export interface RiskVerdict {
  readonly kind: "risk_verdict";
  readonly ts: TsUs;
  readonly evalId: string;
  readonly market: string;
  readonly allowed: boolean;
  readonly state: RiskState;
  readonly reason: string;
  /** Count the risk manager allows (may be less than asked). */
  readonly count: CountE2;
}

/** Any state change of one of our orders, as the engine learned it. */
export interface OrderRecord {
  readonly kind: "order";
  readonly ts: TsUs;
  readonly clientOrderId: string;
  readonly orderId: string | null;
  readonly market: string;
  readonly outcome: Outcome;
  readonly action: OrderAction;
  readonly bookSide: BookSide;
  readonly yesPrice: PriceE4;
  readonly count: CountE2;
  readonly filled: CountE2;
  readonly status: OrderStatus;
  readonly reason: string;
  readonly evalId: string;
}

export interface FillRecord {
  readonly kind: "fill_record";
  readonly ts: TsUs;
  readonly tradeId: string;
  readonly clientOrderId: string | null;
  readonly orderId: string;
  readonly market: string;
  readonly outcome: Outcome;
  readonly action: OrderAction;
  /** Own-leg price paid/received. */
  readonly price: PriceE4;
  readonly count: CountE2;
  readonly fee: Micros;
  readonly isTaker: boolean;
  /** Signed YES-equivalent position after the fill. */
  readonly positionAfter: CountE2;
}

export interface SettlementRecord {
  readonly kind: "settlement";
  readonly ts: TsUs;
  readonly market: string;
  readonly result: MarketResult;
  /** Where the result came from: the venue's recorded result, a BRTI 60-s average, or the spot proxy. */
  readonly source: "venue" | "venue_avg60" | "brti_avg60" | "spot_proxy";
  readonly settleValue: number;
  /** Signed position settled (+YES / −NO). */
  readonly position: CountE2;
  readonly payout: Micros;
  /** Realized PnL of the position at settlement (payout − cost basis). */
  readonly pnl: Micros;
}

export interface PositionRecord {
  readonly kind: "position";
  readonly ts: TsUs;
  readonly market: string;
  readonly position: CountE2;
  readonly costBasis: Micros;
  readonly realizedPnl: Micros;
  readonly feesPaid: Micros;
}

export interface ReconciliationRecord {
  readonly kind: "reconciliation";
  readonly ts: TsUs;
  readonly ok: boolean;
  readonly mismatches: readonly string[];
}

export interface InconsistencyRecord {
  readonly kind: "inconsistency";
  readonly ts: TsUs;
  readonly market: string | null;
  readonly issue: string;
  readonly detail: string;
}

/**
 * One model's forecast of one evaluation, from a replay that scores several models side by side
 * (lib/run/forecasts.ts → table `forecasts`). Not an engine record: the engine trades on one model.
 */
export interface ForecastRecord {
  readonly kind: "forecast";
  readonly model: string;
  readonly ts: TsUs;
  readonly market: string;
  readonly eventTicker: string;
  readonly settleTime: TsUs;
  readonly p: number;
  readonly spot: number;
  readonly sigma: number;
  readonly sigmaRobust: number;
  readonly tauSeconds: number;
  readonly strikeType: StrikeType;
  readonly floorStrike: number;
  readonly capStrike: number;
  readonly observedSum: number;
  readonly observedCount: number;
  readonly pMarketMid: number;
}

export type AuditRecord =
  | Opportunity
  | FeatureRecord
  | RiskStateChanged
  | RiskVerdict
  | OrderRecord
  | FillRecord
  | SettlementRecord
  | PositionRecord
  | ReconciliationRecord
  | InconsistencyRecord;

/** Where the engine puts what it decides. Replay collects; live sends intents to the gateway. */
export interface EngineSink {
  intent(i: OrderIntent): void;
  record(r: AuditRecord): void;
}
