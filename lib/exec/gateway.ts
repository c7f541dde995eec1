/**
 * The order gateway: the only code path from an intent to a venue. Replay and paper plug in the
 * simulated venue as transport, live plugs in the Kalshi REST transport — the guards are the same.
 *
 * A new order is refused unless trading is enabled, the kill switch is off, the risk state allows it
 * (REDUCING: reducing orders only; HALTED: nothing), the data it was priced on is fresh, the last
 * reconciliation is recent enough, and the write bucket holds its token cost. Every refusal is
 * reported (and turned into a `rejected` order update so the engine's books stay straight).
 * Cancels are never blocked by trading guards — they only reduce risk — but do pay rate-limit tokens.
 * An amend moves a live order, so it passes the same guards as a new order (at the amend's token
 * cost); a refused amend leaves the order as it rests and comes back to the engine as a `resting`
 * order update ("gateway: amend refused: …", price and size unchanged), the same answer the venue
 * gives when its own bucket refuses an amend — so the engine stops waiting and decides again at its
 * next evaluation.
 */
import type { OrderUpdate } from "../core/events.ts";
import { toYesBook } from "../core/orders.ts";
import { TokenBucket } from "../core/ratelimit.ts";
import type { AmendOrder, CancelOrder, OrderIntent, PlaceOrder, RiskState } from "../core/records.ts";
import type { TsUs } from "../core/units.ts";

export interface OrderTransport {
  place(intent: PlaceOrder): void;
  cancel(intent: CancelOrder): void;
  cancelAll(ts: TsUs, reason: string): void;
  /** V2 amend of a resting order (price and/or size; `count` is the total max fillable). */
  amend(intent: AmendOrder): void;
}

export interface GatewayGuards {
  readonly tradingEnabled: boolean;
  killSwitchEngaged(): boolean;
  riskState(): RiskState;
  /** True when the order only reduces an existing position. */
  isReducing(intent: PlaceOrder): boolean;
  /** A reason when the market's data is stale or inconsistent, else null. */
  dataProblem(market: string, ts: TsUs): string | null;
  /** A reason when reconciliation is overdue, else null. */
  reconciliationProblem(ts: TsUs): string | null;
}

export interface GatewayCosts {
  readonly writeTokensPerSecond: number;
  readonly writeBucketCapacity: number;
  readonly createCost: number;
  readonly cancelCost: number;
  readonly amendCost?: number;
}

export type GatewayResult = { readonly sent: true } | { readonly sent: false; readonly reason: string };

export interface GatewayStats {
  placed: number;
  cancels: number;
  amends: number;
  cancelAlls: number;
  refused: number;
  refusedByReason: Record<string, number>;
}

export class OrderGateway {
  private readonly bucket: TokenBucket;
  readonly stats: GatewayStats = { placed: 0, cancels: 0, amends: 0, cancelAlls: 0, refused: 0, refusedByReason: {} };

  constructor(
    private readonly transport: OrderTransport,
    private readonly guards: GatewayGuards,
    private readonly costs: GatewayCosts,
    /** Refusals come back to the engine as `rejected` order updates (and go to the log). */
    private readonly onRefused: (update: OrderUpdate, reason: string) => void,
    startTs: TsUs = 0,
  ) {
    this.bucket = new TokenBucket(costs.writeTokensPerSecond, costs.writeBucketCapacity, startTs);
  }

  submit(intent: OrderIntent): GatewayResult {
    switch (intent.kind) {
      case "cancel_all":
        // The kill switch path: never blocked, not even by the rate limiter (the transport paces it).
        this.stats.cancelAlls++;
        this.transport.cancelAll(intent.ts, intent.reason);
        return { sent: true };
      case "cancel_order":
        if (!this.bucket.tryTake(intent.ts, this.costs.cancelCost)) return this.refuseCancel("write rate limit");
        this.stats.cancels++;
        this.transport.cancel(intent);
        return { sent: true };
      case "place_order": {
        const reason = this.checkPlace(intent);
        if (reason) return this.refuse(intent, reason);
        this.stats.placed++;
        this.transport.place(intent);
        return { sent: true };
      }
      case "amend_order": {
        const asPlace: PlaceOrder = {
          kind: "place_order", ts: intent.ts, clientOrderId: intent.clientOrderId, market: intent.market, outcome: intent.outcome,
          action: intent.action, price: intent.price, count: Math.max(intent.count, 1), tif: "good_till_canceled", // the total: never less than what can still fill
          postOnly: false, reduceOnly: false, evalId: "",
        };
        const reason = this.checkPlace(asPlace, this.costs.amendCost ?? this.costs.createCost);
        if (reason) return this.refuseAmend(intent, reason);
        this.stats.amends++;
        this.transport.amend(intent);
        return { sent: true };
      }
    }
  }

  /** The guards, in order; the first failing one is the reason. */
  checkPlace(intent: PlaceOrder, cost: number = this.costs.createCost): string | null {
    const g = this.guards;
    if (!g.tradingEnabled) return "TRADING_ENABLED is not 1";
    if (g.killSwitchEngaged()) return "kill switch engaged";
    const state = g.riskState();
    if (state === "HALTED") return "risk state HALTED";
    if (state === "REDUCING" && !g.isReducing(intent)) return "risk state REDUCING: only reducing orders";
    const data = g.dataProblem(intent.market, intent.ts);
    if (data) return `stale or inconsistent data: ${data}`;
    const rec = g.reconciliationProblem(intent.ts);
    if (rec) return `reconciliation: ${rec}`;
    if (!this.bucket.tryTake(intent.ts, cost)) return "write rate limit";
    return null;
  }

  private refuse(intent: PlaceOrder, reason: string): GatewayResult {
    this.stats.refused++;
    this.stats.refusedByReason[reason] = (this.stats.refusedByReason[reason] ?? 0) + 1;
    const { side, yesPrice } = toYesBook(intent.outcome, intent.action, intent.price);
    this.onRefused(
      {
        kind: "order_update",
        tsRecv: intent.ts,
        tsExchange: null,
        orderId: "",
        clientOrderId: intent.clientOrderId,
        market: intent.market,
        status: "rejected",
        bookSide: side,
        yesPrice,
        filled: 0,
        remaining: 0,
        reason: `gateway: ${reason}`,
      },
      reason,
    );
    return { sent: false, reason };
  }

  private refuseAmend(intent: AmendOrder, reason: string): GatewayResult {
    this.stats.refused++;
    this.stats.refusedByReason[reason] = (this.stats.refusedByReason[reason] ?? 0) + 1;
    const { side } = toYesBook(intent.outcome, intent.action, intent.price);
    this.onRefused(
      {
        kind: "order_update",
        tsRecv: intent.ts,
        tsExchange: null,
        orderId: intent.orderId ?? "",
        clientOrderId: intent.clientOrderId,
        market: intent.market,
        status: "resting",
        bookSide: side,
        // Unchanged: no price (0) and no size (−1) — the order keeps what it had.
        yesPrice: 0,
        filled: 0,
        remaining: -1,
        reason: `gateway: amend refused: ${reason}`,
      },
      reason,
    );
    return { sent: false, reason };
  }

  private refuseCancel(reason: string): GatewayResult {
    this.stats.refused++;
    this.stats.refusedByReason[reason] = (this.stats.refusedByReason[reason] ?? 0) + 1;
    return { sent: false, reason };
  }
}
