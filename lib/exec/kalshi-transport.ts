/**
 * The live OrderTransport: engine intents → Kalshi V2 order endpoints, venue answers → engine events.
 *
 * The gateway calls `place` / `cancel` / `cancelAll` synchronously from inside the engine; every REST
 * call here is asynchronous and its outcome comes back later through `emit` as an `order_update` or a
 * `fill` event (the runtime stamps and pushes it into the session). Nothing is emitted synchronously,
 * so the session is never re-entered.
 *
 * Outcomes of a write:
 *  - 2xx            → the order's state (resting / executed / canceled) and, when it traded, its fills
 *                     fetched from GET /portfolio/fills?order_id=… (trade ids make repeats harmless).
 *  - clean 4xx      → `rejected` (the venue definitely did not act).
 *  - timeout, 5xx, 429, 409, unreadable body → `unknown`: the order stays in flight and is NEVER
 *    re-sent; a resolver looks it up by client_order_id (GET /portfolio/orders) with backoff until the
 *    venue says what happened. Only a create that REST still does not know after `absentGraceMs` is
 *    reported canceled ("not at venue") — that is REST evidence, not an assumption.
 *
 * Cancel-all (kill switch): list resting orders through REST, cancel each, list again, repeat until
 * REST shows none or the attempts run out; the report says whether "none rest" was confirmed.
 *
 * Amend vs cancel/replace: a V2 amend costs one write (10 tokens) where cancel + create costs 2 + 10,
 * and it keeps the order id; `replace` amends when market and YES-book side are unchanged and the order
 * is resting, else cancels and places.
 */
import type { BookSide, EngineEvent, OrderStatus, OrderUpdate, OwnFill } from "../core/events.ts";
import { CANCEL_REFUSED, NOT_AT_VENUE, toCreateOrderV2, toYesBook } from "../core/orders.ts";
import type { AmendOrder, CancelOrder, PlaceOrder } from "../core/records.ts";
import type { CountE2, PriceE4, TsUs } from "../core/units.ts";
import { nowUs, sleep } from "../live/clock.ts";
import { silentLogger, type Logger } from "../live/logger.ts";
import { KalshiHttpError, UnknownOutcomeError, type KalshiRestClient } from "../venues/kalshi/rest.ts";
import { restFillToOwnFill, restOrderToUpdate, type RestOrder } from "../venues/kalshi/rest-parse.ts";
import type { OrderTransport } from "./gateway.ts";

export interface KalshiTransportOptions {
  readonly rest: KalshiRestClient;
  /** Venue reports for the engine. Called asynchronously, never from inside place/cancel. */
  readonly emit: (e: OrderUpdate | OwnFill) => void;
  readonly logger?: Logger;
  readonly now?: () => TsUs;
  /** First look-up of an unknown outcome after this long (REST lags writes by ~1 s). */
  readonly resolveDelayMs?: number;
  /** Give up resolving (log loudly, leave the order unknown for reconciliation) after this long. */
  readonly resolveMaxMs?: number;
  /** A create REST still does not know after this long never reached the book. */
  readonly absentGraceMs?: number;
  /** Cancel-all: list/cancel rounds before giving up on confirming that none rest. */
  readonly cancelAllRounds?: number;
  readonly selfTradePrevention?: "taker_at_cross" | "maker";
}

interface Tracked {
  readonly clientOrderId: string;
  readonly market: string;
  readonly bookSide: BookSide;
  yesPrice: PriceE4;
  count: CountE2;
  orderId: string | null;
  filled: CountE2;
  status: OrderStatus;
}

export interface CancelAllReport {
  readonly reason: string;
  /** Cancel requests the venue accepted. */
  readonly canceled: number;
  /** Cancel requests sent (listed orders plus every order of ours not known final). */
  readonly cancelsSent: number;
  /** False when the final REST list of resting orders failed: nothing account-wide is confirmed. */
  readonly listOk: boolean;
  /** Orders (ours, or listed by REST) not confirmed cancelled, as "orderId (client …, market)". */
  readonly unconfirmed: readonly string[];
  /** Resting orders REST still lists after the last round (empty when confirmed). */
  readonly stillResting: readonly RestOrder[];
  readonly confirmed: boolean;
  readonly rounds: number;
  readonly errors: readonly string[];
}

export interface TransportStats {
  creates: number;
  createsAccepted: number;
  createsRejected: number;
  cancels: number;
  cancelsAccepted: number;
  amends: number;
  unknownOutcomes: number;
  resolved: number;
  unresolved: number;
  fillsEmitted: number;
}

export class KalshiTransport implements OrderTransport {
  readonly stats: TransportStats = {
    creates: 0,
    createsAccepted: 0,
    createsRejected: 0,
    cancels: 0,
    cancelsAccepted: 0,
    amends: 0,
    unknownOutcomes: 0,
    resolved: 0,
    unresolved: 0,
    fillsEmitted: 0,
  };
  private readonly rest: KalshiRestClient;
  private readonly log: Logger;
  private readonly now: () => TsUs;
  private readonly orders = new Map<string, Tracked>();
  private readonly byOrderId = new Map<string, Tracked>();
  private readonly emittedTrades = new Set<string>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly resolving = new Set<string>();
  private lastActivityMs = 0;
  private cancelAllRun: Promise<CancelAllReport> | null = null;
  /** Creates whose HTTP answer has not come yet, by client id (a cancel-all waits for them). */
  private readonly creating = new Map<string, Promise<unknown>>();
  /**
   * Creates in flight when a cancel-all began: whenever one turns out to rest (its answer, its
   * resolution), it is cancelled at once — the sweep may have listed the book before it landed.
   */
  private readonly cancelOnLanding = new Set<string>();
  private closed = false;

  constructor(private readonly opts: KalshiTransportOptions) {
    this.rest = opts.rest;
    this.log = (opts.logger ?? silentLogger).child({ component: "kalshi-transport" });
    this.now = opts.now ?? nowUs;
  }

  // ---- OrderTransport --------------------------------------------------------------------------

  place(intent: PlaceOrder): void {
    const { side, yesPrice } = toYesBook(intent.outcome, intent.action, intent.price);
    const t: Tracked = {
      clientOrderId: intent.clientOrderId,
      market: intent.market,
      bookSide: side,
      yesPrice,
      count: intent.count,
      orderId: null,
      filled: 0,
      status: "pending",
    };
    this.orders.set(t.clientOrderId, t);
    this.track(this.doPlace(intent, t));
  }

  cancel(intent: CancelOrder): void {
    this.track(this.doCancel(intent.clientOrderId, intent.orderId, intent.market, intent.reason));
  }

  cancelAll(_ts: TsUs, reason: string): void {
    if (this.cancelAllRun) return; // one sweep at a time; it loops until REST shows none
    const run = this.cancelAllAndConfirm(reason).finally(() => {
      if (this.cancelAllRun === run) this.cancelAllRun = null;
    });
    this.cancelAllRun = run;
    this.track(run);
  }

  /**
   * V2 amend (POST …/orders/{id}/amend, count = total max fillable, sent as the engine computed it
   * from the fills it knew of: adding fills learned since would let an in-flight fill grow the
   * exposure). An order whose venue id is not
   * known yet cannot be amended: it is cancelled instead (the engine enters again on a later
   * evaluation), never silently left at its old price.
   */
  amend(intent: AmendOrder): void {
    const t = this.orders.get(intent.clientOrderId);
    if (!t || !t.orderId || t.status !== "resting") {
      this.cancel({ kind: "cancel_order", ts: intent.ts, clientOrderId: intent.clientOrderId, orderId: t?.orderId ?? intent.orderId, market: intent.market, reason: `amend impossible: ${intent.reason}` });
      return;
    }
    const { yesPrice } = toYesBook(intent.outcome, intent.action, intent.price);
    this.track(this.doAmend(t, yesPrice, intent.count));
  }

  // ---- extra operations ---------------------------------------------------------------------------

  /** The running cancel-all sweep, if any (the kill path awaits it). */
  pendingCancelAll(): Promise<CancelAllReport> | null {
    return this.cancelAllRun;
  }

  /** Resolves when every write and follow-up started so far has settled. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** True when no write or follow-up is running and none finished within `quietMs` (for reconciliation). */
  quiet(quietMs: number): boolean {
    return this.inFlight.size === 0 && Date.now() - this.lastActivityMs >= quietMs;
  }

  /** Client ids whose outcome is still being looked up. */
  unresolved(): string[] {
    return [...this.resolving];
  }

  /** The venue order id of one of our orders, once known. */
  orderIdOf(clientOrderId: string): string | null {
    return this.orders.get(clientOrderId)?.orderId ?? null;
  }

  /** Client id of a venue order id we placed (REST fills carry no client id). */
  clientIdOf(orderId: string): string | null {
    return this.byOrderId.get(orderId)?.clientOrderId ?? null;
  }

  /** Trade ids already handed to the engine by this transport. */
  hasEmittedTrade(tradeId: string): boolean {
    return this.emittedTrades.has(tradeId);
  }

  /** Stop resolvers (shutdown). In-flight HTTP requests finish on their own. */
  close(): void {
    this.closed = true;
  }

  /**
   * Move a resting order to a new YES price / total size. Amends in place when market and book side
   * are unchanged and the order rests (one write, queue position re-set only on a price change);
   * otherwise cancels the old order and places `replacement`.
   */
  replace(oldClientOrderId: string, replacement: PlaceOrder): "amend" | "cancel_replace" {
    const old = this.orders.get(oldClientOrderId);
    const { side, yesPrice } = toYesBook(replacement.outcome, replacement.action, replacement.price);
    if (old && old.orderId && old.status === "resting" && old.market === replacement.market && old.bookSide === side) {
      this.track(this.doAmend(old, yesPrice, old.filled + replacement.count));
      return "amend";
    }
    this.cancel({ kind: "cancel_order", ts: replacement.ts, clientOrderId: oldClientOrderId, orderId: old?.orderId ?? null, market: old?.market ?? replacement.market, reason: "replace" });
    this.place(replacement);
    return "cancel_replace";
  }

  // ---- internals ----------------------------------------------------------------------------------

  private track<T>(p: Promise<T>): void {
    this.lastActivityMs = Date.now();
    const wrapped = p
      .catch((e: unknown) => this.log.error("transport task failed", { error: e }))
      .finally(() => {
        this.inFlight.delete(wrapped);
        this.lastActivityMs = Date.now();
      });
    this.inFlight.add(wrapped);
  }

  private emitUpdate(t: Tracked, status: OrderStatus, reason: string, remaining: CountE2, filled = t.filled): void {
    if (status !== "unknown") t.status = status;
    this.opts.emit({
      kind: "order_update",
      tsRecv: this.now(),
      tsExchange: null,
      orderId: t.orderId ?? "",
      clientOrderId: t.clientOrderId,
      market: t.market,
      status,
      bookSide: t.bookSide,
      yesPrice: t.yesPrice,
      filled,
      remaining,
      reason,
    });
  }

  private noteOrderId(t: Tracked, orderId: string): void {
    if (!orderId) return;
    t.orderId = orderId;
    this.byOrderId.set(orderId, t);
  }

  /** A venue order as REST reports it → the engine. */
  private emitRestOrder(o: RestOrder, reason: string): void {
    const t = this.orders.get(o.clientOrderId) ?? this.byOrderId.get(o.orderId);
    if (t) {
      this.noteOrderId(t, o.orderId);
      t.filled = Math.max(t.filled, o.filled);
      t.yesPrice = o.yesPrice;
      if (o.status !== "unknown") t.status = o.status;
    }
    this.opts.emit(restOrderToUpdate(o, this.now(), reason));
  }

  /** Fetch the fills of one order and hand over those not yet emitted. */
  private async emitFillsOf(orderId: string, clientOrderId: string | null): Promise<void> {
    const fills = await this.rest.getFills({ orderId });
    for (const f of fills) {
      if (f.orderId !== orderId || this.emittedTrades.has(f.tradeId)) continue;
      this.emittedTrades.add(f.tradeId);
      this.stats.fillsEmitted++;
      this.opts.emit(restFillToOwnFill(f, this.now(), clientOrderId));
    }
  }

  private async doPlace(intent: PlaceOrder, t: Tracked): Promise<void> {
    this.stats.creates++;
    let body: Record<string, unknown>;
    try {
      body = toCreateOrderV2(intent, this.opts.selfTradePrevention ? { selfTradePrevention: this.opts.selfTradePrevention } : undefined);
    } catch (e) {
      // Never sent: a definite rejection of our own making.
      this.stats.createsRejected++;
      await Promise.resolve();
      this.emitUpdate(t, "rejected", `invalid order: ${(e as Error).message}`, 0);
      return;
    }
    try {
      const answer = this.rest.createOrderV2(body);
      this.creating.set(t.clientOrderId, answer);
      const r = await answer.finally(() => this.creating.delete(t.clientOrderId));
      this.stats.createsAccepted++;
      this.noteOrderId(t, r.orderId);
      t.filled = Math.max(t.filled, r.filled);
      const status: OrderStatus = r.remaining > 0 ? "resting" : r.filled >= intent.count ? "executed" : "canceled";
      this.log.info("order placed", { clientOrderId: t.clientOrderId, orderId: r.orderId, market: t.market, status, filled: r.filled, remaining: r.remaining });
      this.emitUpdate(t, status, status === "canceled" ? "ImmediateOrCancel" : "created", r.remaining, r.filled);
      this.cancelIfSwept(t);
      if (r.filled > 0) await this.emitFillsOf(r.orderId, t.clientOrderId);
    } catch (e) {
      if (e instanceof UnknownOutcomeError) {
        this.stats.unknownOutcomes++;
        this.log.warn("create outcome unknown; resolving by client_order_id", { clientOrderId: t.clientOrderId, reason: e.reason, status: e.status });
        this.emitUpdate(t, "unknown", `unknown outcome (${e.reason}${e.status !== null ? ` ${e.status}` : ""})`, 0);
        await this.resolve(t, "create");
        return;
      }
      if (e instanceof KalshiHttpError) {
        this.stats.createsRejected++;
        this.log.info("order rejected by venue", { clientOrderId: t.clientOrderId, status: e.status, code: e.code });
        this.emitUpdate(t, "rejected", `venue: ${e.status} ${e.code}`, 0);
        return;
      }
      // Anything else (a bug, a signing failure) may or may not have sent bytes: treat as unknown.
      this.stats.unknownOutcomes++;
      this.log.error("create failed unexpectedly; resolving", { clientOrderId: t.clientOrderId, error: e });
      this.emitUpdate(t, "unknown", `unknown outcome (${(e as Error).message})`, 0);
      await this.resolve(t, "create");
    }
  }

  private async doCancel(clientOrderId: string, orderIdHint: string | null, market: string, why: string): Promise<void> {
    this.stats.cancels++;
    const t = this.orders.get(clientOrderId);
    let orderId = orderIdHint ?? t?.orderId ?? null;
    if (!orderId) {
      // The engine has not learned the venue id yet: find it by our id first.
      const found = await this.rest.findOrderByClientId(clientOrderId, market);
      if (!found) {
        this.log.warn("cancel: order not found at venue", { clientOrderId });
        if (t) this.emitUpdate(t, "canceled", `cancel: ${NOT_AT_VENUE}`, 0);
        return;
      }
      orderId = found.orderId;
      if (found.status !== "resting") {
        this.emitRestOrder(found, `cancel: already ${found.status}`);
        return;
      }
    }
    try {
      const r = await this.rest.cancelOrderV2(orderId, { market, clientOrderId });
      this.stats.cancelsAccepted++;
      this.log.info("order canceled", { clientOrderId, orderId, reducedBy: r.reducedBy, reason: why });
      await this.refresh(orderId, clientOrderId, "Cancel");
    } catch (e) {
      if (e instanceof UnknownOutcomeError) {
        this.stats.unknownOutcomes++;
        this.log.warn("cancel outcome unknown; resolving", { clientOrderId, orderId, reason: e.reason });
        if (t) {
          this.emitUpdate(t, "unknown", `cancel outcome unknown (${e.reason})`, 0);
          await this.resolve(t, "cancel");
        }
        return;
      }
      if (e instanceof KalshiHttpError) {
        // Not resting any more (filled or already canceled) or not found: ask REST what it is.
        this.log.info("cancel refused by venue", { clientOrderId, orderId, status: e.status, code: e.code });
        await this.refresh(orderId, clientOrderId, `${CANCEL_REFUSED}: ${e.code}`);
        return;
      }
      throw e;
    }
  }

  private async doAmend(t: Tracked, yesPrice: PriceE4, totalCount: CountE2): Promise<void> {
    this.stats.amends++;
    const orderId = t.orderId!;
    try {
      await this.rest.amendOrderV2(orderId, { market: t.market, bookSide: t.bookSide, yesPrice, totalCount, clientOrderId: t.clientOrderId });
      await this.refresh(orderId, t.clientOrderId, "Amend");
    } catch (e) {
      if (e instanceof UnknownOutcomeError) {
        this.stats.unknownOutcomes++;
        this.emitUpdate(t, "unknown", `amend outcome unknown (${e.reason})`, 0);
        await this.resolve(t, "cancel");
        return;
      }
      if (e instanceof KalshiHttpError) {
        await this.refresh(orderId, t.clientOrderId, `amend refused: ${e.code}`);
        return;
      }
      throw e;
    }
  }

  /** Read one order back and report it (with any fills not yet emitted). */
  private async refresh(orderId: string, clientOrderId: string, reason: string): Promise<void> {
    try {
      const o = await this.rest.getOrder(orderId);
      this.emitRestOrder(o.clientOrderId ? o : { ...o, clientOrderId }, reason);
      if (o.filled > 0) await this.emitFillsOf(orderId, clientOrderId);
    } catch (e) {
      this.log.warn("order read-back failed; reconciliation will settle it", { clientOrderId, orderId, error: e });
    }
  }

  /** A create that was in flight when a cancel-all began, found resting: cancel it now. */
  private cancelIfSwept(t: Tracked): void {
    if (!this.cancelOnLanding.has(t.clientOrderId) || t.status !== "resting") return;
    this.cancelOnLanding.delete(t.clientOrderId);
    this.log.warn("an order in flight during cancel all landed resting: cancelling it", { clientOrderId: t.clientOrderId, orderId: t.orderId });
    this.track(this.doCancel(t.clientOrderId, t.orderId, t.market, "cancel all: landed after the sweep began"));
  }

  /**
   * Look the order up by client_order_id until REST knows it. Never re-sends anything. A create that
   * REST has not seen after `absentGraceMs` never reached the book.
   */
  private async resolve(t: Tracked, what: "create" | "cancel"): Promise<void> {
    if (this.resolving.has(t.clientOrderId)) return;
    this.resolving.add(t.clientOrderId);
    const started = Date.now();
    const maxMs = this.opts.resolveMaxMs ?? 60_000;
    const absentMs = this.opts.absentGraceMs ?? 5_000;
    let wait = this.opts.resolveDelayMs ?? 500;
    try {
      while (!this.closed) {
        await sleep(wait);
        wait = Math.min(wait * 2, 5_000);
        let found: RestOrder | null = null;
        try {
          found = await this.rest.findOrderByClientId(t.clientOrderId, t.market);
        } catch (e) {
          this.log.warn("resolve: order look-up failed, will retry", { clientOrderId: t.clientOrderId, error: e });
          if (Date.now() - started > maxMs) break;
          continue;
        }
        if (found) {
          this.stats.resolved++;
          this.log.info("unknown outcome resolved", { clientOrderId: t.clientOrderId, orderId: found.orderId, status: found.status, what });
          this.emitRestOrder(found, `resolved by client_order_id: ${found.status}`);
          this.cancelIfSwept(t);
          if (found.filled > 0) await this.emitFillsOf(found.orderId, t.clientOrderId);
          return;
        }
        if (what === "create" && Date.now() - started >= absentMs) {
          this.stats.resolved++;
          this.log.info("unknown outcome resolved: never reached the venue", { clientOrderId: t.clientOrderId });
          this.emitUpdate(t, "canceled", `resolved by client_order_id: ${NOT_AT_VENUE}`, 0);
          return;
        }
        if (Date.now() - started > maxMs) break;
      }
      this.stats.unresolved++;
      this.log.error("unknown outcome NOT resolved; order stays in flight until reconciliation", { clientOrderId: t.clientOrderId });
    } finally {
      this.resolving.delete(t.clientOrderId);
    }
  }

  /**
   * Cancel every resting order of the account, then confirm through REST that none rest. Orders we
   * placed get their final state reported to the engine.
   *
   * Targets of each round: what REST lists as resting, plus every order this transport placed that is
   * not known final — so a cancel goes out for each of our orders even when the list endpoint fails.
   * Each cancelled order is read back by id, which confirms it individually. "Confirmed" needs a
   * successful final list showing none AND every order we know in a final state.
   */
  async cancelAllAndConfirm(reason: string): Promise<CancelAllReport> {
    const rounds = Math.max(1, this.opts.cancelAllRounds ?? 5);
    let canceled = 0;
    let cancelsSent = 0;
    const errors: string[] = [];
    let resting: RestOrder[] = [];
    let round = 0;
    this.log.warn("cancel all", { reason });
    // Cancels of single orders (the engine's, as it halts) may land while the sweep waits: they count.
    const singleBefore = this.stats.cancelsAccepted;
    for (const t of this.openTracked()) if (!t.orderId) this.cancelOnLanding.add(t.clientOrderId);
    for (round = 1; round <= rounds; round++) {
      // A create still on its way may land after the list below: wait for its answer (bounded by
      // the REST timeout), so the sweep sees it by id or by client id.
      if (this.creating.size > 0) await Promise.allSettled([...this.creating.values()]);
      let listed: RestOrder[] | null = null;
      try {
        listed = await this.rest.getRestingOrders();
      } catch (e) {
        errors.push(`list resting: ${(e as Error).message}`);
      }
      const targets = new Map<string, { orderId: string; market: string; clientOrderId: string }>();
      for (const o of listed ?? []) targets.set(o.orderId, { orderId: o.orderId, market: o.market, clientOrderId: o.clientOrderId });
      for (const t of this.openTracked()) {
        if (!t.orderId) {
          // A create whose answer we have not seen: look it up by our id (best effort).
          try {
            const found = await this.rest.findOrderByClientId(t.clientOrderId, t.market);
            if (found) this.emitRestOrder(found, `cancel all: ${reason}`);
          } catch (e) {
            errors.push(`look up ${t.clientOrderId}: ${(e as Error).message}`);
          }
        }
        if (t.orderId && t.status !== "canceled" && t.status !== "executed" && !targets.has(t.orderId)) {
          targets.set(t.orderId, { orderId: t.orderId, market: t.market, clientOrderId: t.clientOrderId });
        }
      }
      // Done only when nothing rests and none of our orders is still without a venue answer.
      if (listed !== null && listed.length === 0 && targets.size === 0 && !this.openTracked().some((t) => !t.orderId)) break;
      if (targets.size === 0) {
        // Nothing we can address by id (the list failed and our open orders have no venue id yet).
        if (round < rounds) await sleep(200 * round);
        continue;
      }
      const list = [...targets.values()];
      cancelsSent += list.length;
      const results = await Promise.allSettled(list.map((o) => this.rest.cancelOrderV2(o.orderId, { market: o.market, clientOrderId: o.clientOrderId || undefined })));
      results.forEach((r, i) => {
        const o = list[i]!;
        if (r.status === "fulfilled") canceled++;
        else errors.push(`cancel ${o.orderId}: ${(r.reason as Error).message}`);
      });
      // Read each one back: its own confirmation, and the engine learns its final state.
      for (const o of list) await this.refresh(o.orderId, o.clientOrderId, `cancel all: ${reason}`);
      if (round < rounds) await sleep(100);
    }
    canceled += this.stats.cancelsAccepted - singleBefore;
    // The confirmation read: what REST says now is the answer.
    let listOk = false;
    try {
      resting = await this.rest.getRestingOrders();
      listOk = true;
    } catch (e) {
      errors.push(`confirm: ${(e as Error).message}`);
    }
    const name = (t: Tracked) => `${t.orderId ?? "(no venue id yet)"} (client ${t.clientOrderId}, ${t.market})`;
    const unconfirmed = new Map<string, string>();
    for (const o of resting) unconfirmed.set(o.orderId, `${o.orderId} (client ${o.clientOrderId || "?"}, ${o.market})`);
    for (const t of this.openTracked()) if (!unconfirmed.has(t.orderId ?? t.clientOrderId)) unconfirmed.set(t.orderId ?? t.clientOrderId, name(t));
    const confirmed = listOk && resting.length === 0 && unconfirmed.size === 0;
    const report: CancelAllReport = {
      reason,
      canceled,
      cancelsSent,
      stillResting: resting,
      listOk,
      unconfirmed: [...unconfirmed.values()],
      confirmed,
      rounds: Math.min(round, rounds),
      errors,
    };
    if (confirmed) this.log.warn("cancel all confirmed: no resting orders at the venue", { canceled, rounds: report.rounds });
    else this.log.error("cancel all NOT confirmed", { canceled, listOk, stillResting: resting.length, unconfirmed: report.unconfirmed, errors });
    return report;
  }

  /** Orders we placed whose final state we do not know (they may rest). */
  private openTracked(): Tracked[] {
    return [...this.orders.values()].filter((t) => t.status === "pending" || t.status === "resting" || t.status === "unknown");
  }
}

/** The events a transport emits, for runtimes that type their queues. */
export type TransportEvent = Extract<EngineEvent, { kind: "order_update" | "fill" }>;
