/**
 * Portfolio: cash, net positions per market, cost, fees, realized PnL, settlement, reconciliation.
 *
 * Kalshi nets YES and NO within a market: a YES+NO pair is worth exactly $1 and is closed as soon as
 * both are held. A position is therefore one signed count (CountE2): + YES contracts, − NO contracts.
 *
 * YES-equivalent trades. Write Y = 1 if the market settles YES, else 0. A NO contract pays 1 − Y.
 *   buy  NO C@q : pay qC, receive C(1 − Y)           = (1 − q)C − C·Y  ≡ sell YES C@(1 − q)
 *   sell NO C@q : get qC, give up C(1 − Y)           = −(1 − q)C + C·Y ≡ buy  YES C@(1 − q)
 * So every fill is a signed YES trade: dir = +1 (buy YES / sell NO) or −1 (sell YES / buy NO) at
 * yesPrice = p (YES leg) or 1 − q (NO leg). Position moves by dir·C either way.
 *
 * Real cash. Holding N NO contracts is "short N YES plus $N locked": N(1 − Y) = N − N·Y. The venue's
 * cash therefore differs from YES-equivalent cash by $1 per NO contract held, which gives
 *   Δcash = −dir·yesPrice·C − $1·Δ(NO held),  NO held = max(−position, 0).
 * Checks against what the venue does:
 *   buy YES p, flat          : −pC − 0             = −pC            (pay p)
 *   buy NO q, flat           : +(1−q)C − C         = −qC            (pay q)
 *   sell NO q, holding ≥C NO : −(1−q)C + C         = +qC            (receive q)
 *   buy YES p, holding ≥C NO : −pC + C             = (1−p)C         (pay p, C pairs redeemed at $1)
 *   sell YES p, flat         : +pC − C             = −(1−p)C        (an ask is a NO buy at 1−p)
 * Settlement then pays $1 per YES contract if YES, $1 per NO contract if NO; cash + payout is right in
 * every case (tests/core-exec/portfolio.test.ts checks this against a simulator that never nets).
 *
 * Cost basis is kept per FIFO lot in the held leg's own price (YES lots at the YES price, NO lots at
 * the NO price), so `costBasis` ≥ 0 is the money paid for the open contracts (the venue's
 * market_exposure) and every amount is an exact integer: lot price (PriceE4) × count (CountE2) = Micros.
 * Closing k contracts of a lot at YES-equivalent price y realizes
 *   YES lot at p: (y − p)·k        NO lot at q: ((1 − y) − q)·k.
 * `realizedPnl` is gross of fees; fees are tracked separately in `feesPaid` and reduce cash.
 * Invariant (tested): cash = startingCash + Σ realizedPnl − Σ feesPaid − Σ costBasis(open).
 */
import type { PositionEntry } from "./events.ts";
import type { OrderAction, Outcome } from "./records.ts";
import { PRICE_ONE, formatCountFp, utcDay, type CountE2, type Micros, type PriceE4, type TsUs } from "./units.ts";

export interface FillInput {
  ts: TsUs;
  market: string;
  outcome: Outcome;
  action: OrderAction;
  /** Own-leg price: a NO buy at 0.30 is 3000. */
  price: PriceE4;
  count: CountE2;
  fee: Micros;
}

export interface MarketPosition {
  market: string;
  /** Signed: + YES contracts, − NO contracts. */
  position: CountE2;
  /** Money paid for the open contracts in the held leg's own price (≥ 0); 0 when flat. */
  costBasis: Micros;
  /** Realized trading + settlement PnL, gross of fees. */
  realizedPnl: Micros;
  feesPaid: Micros;
}

export type SettlementResult = "yes" | "no" | "void" | "scalar";

/** What a position pays on a result: $1 a YES on yes, $1 a NO on no, the scalar value, or its cost back (void). */
export function settlementPayout(position: CountE2, costBasis: Micros, result: SettlementResult, settlementValue: PriceE4): Micros {
  if (result === "void") return costBasis;
  let yesPays: PriceE4;
  if (result === "yes") yesPays = PRICE_ONE;
  else if (result === "no") yesPays = 0;
  else {
    assertInt(settlementValue, "settlementValue");
    if (settlementValue < 0 || settlementValue > PRICE_ONE) {
      throw new RangeError(`scalar settlementValue out of [0, 1]: ${settlementValue}`);
    }
    yesPays = settlementValue;
  }
  return position > 0 ? yesPays * position : (PRICE_ONE - yesPays) * -position;
}

interface Lot {
  /** Own-leg price of the held side. */
  price: PriceE4;
  count: CountE2;
}

interface MarketState {
  position: CountE2;
  costBasis: Micros;
  realizedPnl: Micros;
  feesPaid: Micros;
  /** FIFO lots, all of the held leg (YES when position > 0, NO when < 0). */
  lots: Lot[];
}

function assertInt(v: number, what: string): void {
  if (!Number.isSafeInteger(v)) throw new RangeError(`${what} must be a safe integer, got ${v}`);
}

export class Portfolio {
  private cashMicros: Micros;
  private readonly markets = new Map<string, MarketState>();
  /** Net realized (gross realized − fees) per UTC day "YYYY-MM-DD". */
  private readonly daily = new Map<string, Micros>();
  private realizedSum: Micros = 0;
  private feesSum: Micros = 0;
  /** Latest event time seen (for settlements given without a ts). */
  private lastTs: TsUs | null = null;

  constructor(readonly startingCash: Micros) {
    assertInt(startingCash, "startingCash");
    this.cashMicros = startingCash;
  }

  cash(): Micros {
    return this.cashMicros;
  }

  /** Cash plus the cost of open positions: changes only by realized PnL and fees. */
  balance(): Micros {
    return this.cashMicros + this.exposure();
  }

  private state(market: string): MarketState {
    let s = this.markets.get(market);
    if (!s) {
      s = { position: 0, costBasis: 0, realizedPnl: 0, feesPaid: 0, lots: [] };
      this.markets.set(market, s);
    }
    return s;
  }

  private addDaily(ts: TsUs, amount: Micros): void {
    if (amount === 0) return;
    const day = utcDay(ts);
    this.daily.set(day, (this.daily.get(day) ?? 0) + amount);
  }

  private noteTs(ts: TsUs): void {
    if (this.lastTs === null || ts > this.lastTs) this.lastTs = ts;
  }

  /** Apply one own fill; returns the position after. */
  applyFill(f: FillInput): MarketPosition {
    assertInt(f.price, "price");
    assertInt(f.count, "count");
    assertInt(f.fee, "fee");
    if (f.price < 0 || f.price > PRICE_ONE) throw new RangeError(`price out of [0, 1]: ${f.price}`);
    if (f.count <= 0) throw new RangeError(`count must be > 0, got ${f.count}`);
    if (f.fee < 0) throw new RangeError(`fee must be ≥ 0, got ${f.fee}`);
    this.noteTs(f.ts);

    const s = this.state(f.market);
    const dir = (f.outcome === "yes") === (f.action === "buy") ? 1 : -1;
    const yesPrice = f.outcome === "yes" ? f.price : PRICE_ONE - f.price;
    const noHeldBefore = Math.max(-s.position, 0);

    let remaining = f.count;
    let realized = 0;
    // Close opposite-direction lots first (FIFO).
    while (remaining > 0 && s.position !== 0 && Math.sign(s.position) !== dir) {
      const lot = s.lots[0]!;
      const k = Math.min(lot.count, remaining);
      const exitOwnPrice = s.position > 0 ? yesPrice : PRICE_ONE - yesPrice;
      realized += (exitOwnPrice - lot.price) * k;
      s.costBasis -= lot.price * k;
      lot.count -= k;
      if (lot.count === 0) s.lots.shift();
      s.position += dir * k;
      remaining -= k;
    }
    // Whatever is left opens (or adds to) a position in direction dir.
    if (remaining > 0) {
      const ownPrice = dir > 0 ? yesPrice : PRICE_ONE - yesPrice;
      s.lots.push({ price: ownPrice, count: remaining });
      s.costBasis += ownPrice * remaining;
      s.position += dir * remaining;
    }

    const noHeldAfter = Math.max(-s.position, 0);
    this.cashMicros += -dir * yesPrice * f.count - PRICE_ONE * (noHeldAfter - noHeldBefore) - f.fee;
    s.realizedPnl += realized;
    s.feesPaid += f.fee;
    this.realizedSum += realized;
    this.feesSum += f.fee;
    this.addDaily(f.ts, realized - f.fee);
    return this.position(f.market);
  }

  /** Position of one market; a zero position if unknown. */
  position(market: string): MarketPosition {
    const s = this.markets.get(market);
    if (!s) return { market, position: 0, costBasis: 0, realizedPnl: 0, feesPaid: 0 };
    return { market, position: s.position, costBasis: s.costBasis, realizedPnl: s.realizedPnl, feesPaid: s.feesPaid };
  }

  /** position(market).position without building the record (the risk check asks at every evaluation). */
  positionIn(market: string): CountE2 {
    return this.markets.get(market)?.position ?? 0;
  }

  /** position(market).costBasis, likewise. */
  costBasisIn(market: string): Micros {
    return this.markets.get(market)?.costBasis ?? 0;
  }

  /** Markets with a position ≠ 0 (openMarkets().length without the sorted list). */
  openMarketCount(): number {
    let n = 0;
    for (const s of this.markets.values()) if (s.position !== 0) n++;
    return n;
  }

  /** Every market ever touched, sorted by ticker. */
  positions(): MarketPosition[] {
    return [...this.markets.keys()].sort().map((m) => this.position(m));
  }

  /** Markets with position ≠ 0, sorted. */
  openMarkets(): string[] {
    const out: string[] = [];
    for (const [m, s] of this.markets) if (s.position !== 0) out.push(m);
    return out.sort();
  }

  /**
   * Settle a market. YES pays $1 per YES contract, NO pays $1 per NO contract; "scalar" pays
   * `settlementValue` per YES contract and 1 − settlementValue per NO contract.
   * Choice for "void": the open position is refunded at its cost basis (settlement PnL 0; fees already
   * paid stay paid). The position is closed in every case.
   * `ts` (optional, an addition to the original contract) dates the PnL for `dailyRealized`; without
   * it the latest event time the portfolio has seen is used.
   */
  settle(
    market: string,
    result: SettlementResult,
    settlementValue: PriceE4,
    ts?: TsUs,
  ): { payout: Micros; pnl: Micros; position: CountE2 } {
    const s = this.markets.get(market);
    if (ts !== undefined) this.noteTs(ts);
    if (!s || s.position === 0) return { payout: 0, pnl: 0, position: 0 };
    const payout = settlementPayout(s.position, s.costBasis, result, settlementValue);
    const pnl = payout - s.costBasis;
    const position = s.position;
    this.cashMicros += payout;
    s.realizedPnl += pnl;
    this.realizedSum += pnl;
    const when = ts ?? this.lastTs;
    if (when !== null) this.addDaily(when, pnl);
    s.position = 0;
    s.costBasis = 0;
    s.lots = [];
    return { payout, pnl, position };
  }

  /**
   * A market settled earlier (from a fallback) is settled again on a different result: the position
   * and cost basis it was settled with pay `result` instead, and the difference is booked at `ts`
   * (cash, the market's and the day's realized PnL). Returns that difference (payout = PnL).
   */
  resettle(
    market: string,
    settled: { readonly position: CountE2; readonly costBasis: Micros; readonly payout: Micros },
    result: SettlementResult,
    settlementValue: PriceE4,
    ts: TsUs,
  ): Micros {
    this.noteTs(ts);
    if (settled.position === 0) return 0;
    const delta = settlementPayout(settled.position, settled.costBasis, result, settlementValue) - settled.payout;
    this.cashMicros += delta;
    const s = this.markets.get(market);
    if (s) s.realizedPnl += delta;
    this.realizedSum += delta;
    this.addDaily(ts, delta);
    return delta;
  }

  /**
   * Unrealized PnL: YES positions marked at yesBid, NO positions at noBid (what they could be sold
   * for), minus cost basis. A market whose marks are null is skipped; an absent bid (< 0) marks at 0.
   */
  unrealized(marks: (market: string) => { yesBid: PriceE4; noBid: PriceE4 } | null): Micros {
    let total = 0;
    for (const [m, s] of this.markets) {
      if (s.position === 0) continue;
      const mk = marks(m);
      if (!mk) continue;
      const bid = s.position > 0 ? mk.yesBid : mk.noBid;
      const value = bid > 0 ? bid * Math.abs(s.position) : 0;
      total += value - s.costBasis;
    }
    return total;
  }

  /** Σ realized PnL (trades + settlements), gross of fees. */
  realizedTotal(): Micros {
    return this.realizedSum;
  }

  feesTotal(): Micros {
    return this.feesSum;
  }

  /** Daily realized PnL for the UTC day of ts: trading + settlement PnL minus fees of that day. */
  dailyRealized(ts: TsUs): Micros {
    return this.daily.get(utcDay(ts)) ?? 0;
  }

  /** Total cost at risk of open positions (≥ 0): Σ cost basis, the most the open positions can lose. */
  exposure(): Micros {
    let total = 0;
    for (const s of this.markets.values()) total += s.costBasis;
    return total;
  }

  /** Compare against the venue's positions; human-readable mismatches, empty if equal. */
  reconcile(snapshot: readonly PositionEntry[]): string[] {
    const venue = new Map<string, CountE2>();
    const out: string[] = [];
    for (const e of snapshot) {
      if (venue.has(e.market)) out.push(`${e.market}: venue snapshot lists the market twice`);
      venue.set(e.market, (venue.get(e.market) ?? 0) + e.position);
    }
    const markets = new Set<string>([...this.openMarkets(), ...venue.keys()]);
    for (const m of [...markets].sort()) {
      const local = this.markets.get(m)?.position ?? 0;
      const remote = venue.get(m) ?? 0;
      if (local !== remote) {
        out.push(`${m}: local position ${formatCountFp(local)}, venue ${formatCountFp(remote)}`);
      }
    }
    return out;
  }
}
