/**
 * Kalshi trading fees (reference kalshi-api.md §6), exactly, in integer micros.
 *
 *   fee = roundUp( coefficient × fee_multiplier × C × P × (1 − P) )
 *
 * with C contracts and P the own-leg price in dollars. Takers pay `takerCoefficient` (0.07). Makers pay
 * `makerCoefficient` (0.0175) on series whose fee_type is "quadratic_with_maker_fees", and a combo maker
 * coefficient on "quadratic_with_combo_maker_fees" (see makerCoefficient); otherwise 0.
 * fee_type "flat" ("specific trading fees table") is UNCERTAIN in the reference: we price it like
 * "quadratic" (taker fee, no maker fee) rather than guess a table.
 *
 * Exact arithmetic. In library units C = count/100 and P = price/10 000, so
 *   fee [micros] = coefE6 × count × price × (10 000 − price) / 10^10,
 * where coefE6 = round(coefficient × multiplier × 10^6) is the effective coefficient as an integer
 * number of millionths. This is exact for every coefficient Kalshi publishes (0.07 → 70 000,
 * 0.0175 → 17 500, × multipliers such as 0.5 or 0.25); a multiplier with more than 6 significant
 * decimals would be rounded to the nearest millionth of the coefficient (documented approximation).
 * The numerator exceeds 2^53 for large orders, so it falls back to BigInt there; small orders use a
 * Number fast path that is exact because every intermediate is an integer below 2^53.
 *
 * Rounding (FeeConfig.rounding): "order_cent" ceils to $0.01 — the classic per-order schedule;
 * "fill_centicent" ceils to $0.0001 per fill (the sub-cent mechanics; the later balance-rounding
 * fee/refund accumulator is not modelled).
 */
import type { FeeConfig } from "./config.ts";
import type { FeeType } from "./events.ts";
import type { CountE2, Micros, PriceE4, TsUs } from "./units.ts";
import { COUNT_ONE, MICROS_PER_DOLLAR, PRICE_ONE } from "./units.ts";

export interface FeeSchedule {
  readonly feeType: FeeType;
  readonly feeMultiplier: number;
}

/** A market's fee terms: its schedule and, when REST gave one, the end of its fee waiver. */
export interface MarketFeeTerms extends FeeSchedule {
  readonly feeWaiverUntil?: TsUs;
}

/** True when a trade at venue time `ts` falls inside the market's fee waiver (and waivers are honoured). */
export function feeWaived(m: MarketFeeTerms, ts: TsUs, cfg: FeeConfig): boolean {
  return cfg.feeWaivers !== "ignore" && m.feeWaiverUntil !== undefined && ts < m.feeWaiverUntil;
}

/**
 * The schedule a trade at `ts` pays: the market's own, or a zero multiplier while its fee waiver runs
 * (every fee function then gives 0, maker and taker alike).
 */
export function scheduleAt(m: MarketFeeTerms, ts: TsUs, cfg: FeeConfig): FeeSchedule {
  return { feeType: m.feeType, feeMultiplier: feeWaived(m, ts, cfg) ? 0 : m.feeMultiplier };
}

/** Denominator turning coefE6 × count × price × (1e4 − price) into micros. */
const MICROS_DENOM = 10_000_000_000; // 1e6 (coef scale) × 1e4 (price scale) × 1e2 (count scale) / 1e6 (micros)

/** Effective coefficient in millionths (integer), 0 when this side pays no fee. */
export function feeCoefficientE6(isMaker: boolean, schedule: FeeSchedule, cfg: FeeConfig): number {
  const coef = isMaker ? makerCoefficient(schedule.feeType, cfg) : cfg.takerCoefficient;
  if (coef === 0) return 0;
  const e6 = Math.round(coef * schedule.feeMultiplier * 1_000_000);
  if (!Number.isSafeInteger(e6) || e6 < 0) throw new RangeError(`bad fee coefficient ${coef} × ${schedule.feeMultiplier}`);
  return e6;
}

/**
 * Maker coefficient by fee type: "quadratic_with_maker_fees" pays `makerCoefficient` (0.0175 = ¼ of the
 * taker's); "quadratic_with_combo_maker_fees" pays `comboMakerCoefficient`, by default ½ of the taker
 * coefficient (0.035) — the reference notes "a combo rule uses 0.5×" without the schedule itself
 * (UNCERTAIN), so we charge it rather than assume a free maker side; set it in FeeConfig once known.
 * "quadratic" and "flat" charge makers nothing.
 */
export function makerCoefficient(feeType: FeeSchedule["feeType"], cfg: FeeConfig): number {
  if (feeType === "quadratic_with_maker_fees") return cfg.makerCoefficient;
  if (feeType === "quadratic_with_combo_maker_fees") return cfg.comboMakerCoefficient ?? cfg.takerCoefficient * 0.5;
  return 0;
}

function roundingStepMicros(cfg: FeeConfig): number {
  return cfg.rounding === "order_cent" ? 10_000 : 100;
}

/**
 * Exact fee for one order (order_cent) or one fill (fill_centicent) of `count` at own-leg `price`,
 * in micros, rounded UP to the configured step. Throws RangeError on a negative / non-integer count or
 * a price outside [0, 1 $] (programming errors: both come from units.ts parsers).
 */
export function tradeFee(count: CountE2, price: PriceE4, isMaker: boolean, schedule: FeeSchedule, cfg: FeeConfig): Micros {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`bad fee count ${count}`);
  if (!Number.isSafeInteger(price) || price < 0 || price > PRICE_ONE) throw new RangeError(`bad fee price ${price}`);
  const coefE6 = feeCoefficientE6(isMaker, schedule, cfg);
  if (coefE6 === 0 || count === 0) return 0;
  const step = roundingStepMicros(cfg);
  const denom = MICROS_DENOM * step; // fee in steps = numerator / denom
  // coefE6 ≤ ~1e7 in practice and price × (1e4 − price) ≤ 2.5e7, so `perCount` stays far below 2^53.
  const perCount = coefE6 * price * (PRICE_ONE - price);
  if (perCount === 0) return 0;
  const numer = perCount * count;
  if (Number.isSafeInteger(perCount) && numer <= Number.MAX_SAFE_INTEGER) {
    const rem = numer % denom; // exact for integers below 2^53
    const steps = (numer - rem) / denom + (rem > 0 ? 1 : 0);
    return steps * step;
  }
  const n = BigInt(coefE6) * BigInt(price) * BigInt(PRICE_ONE - price) * BigInt(count);
  const d = BigInt(denom);
  const steps = (n + d - 1n) / d;
  const fee = Number(steps) * step;
  if (!Number.isSafeInteger(fee)) throw new RangeError("fee exceeds safe integer range");
  return fee;
}

/**
 * Fee per contract in dollars for an order of `count` at `price`, including the rounding of that order
 * size (what EV subtracts). For count 0 the unrounded marginal rate coefficient × P × (1 − P).
 */
export function feePerContract(count: CountE2, price: PriceE4, isMaker: boolean, schedule: FeeSchedule, cfg: FeeConfig): number {
  if (count === 0) {
    const p = price / PRICE_ONE;
    return (feeCoefficientE6(isMaker, schedule, cfg) / 1_000_000) * p * (1 - p);
  }
  return tradeFee(count, price, isMaker, schedule, cfg) / MICROS_PER_DOLLAR / (count / COUNT_ONE);
}

/** One fill of an order, for `orderFee`. */
export interface FeeLeg {
  readonly count: CountE2;
  readonly price: PriceE4;
}

/**
 * Fee of all fills of ONE order on one side of the trade (taker or maker), in micros. Kalshi rounds
 * per order (reference §6): with "order_cent" the exact Σ coefficient × C × P × (1 − P) over the
 * order's fills is ceiled to the cent once, so an order filled in three pieces pays what one fill of
 * the same size would; with "fill_centicent" each fill is ceiled to $0.0001 on its own (the sub-cent
 * mechanics round per fill). The simulated venue charges each fill the increase of this total.
 */
export function orderFee(legs: readonly FeeLeg[], isMaker: boolean, schedule: FeeSchedule, cfg: FeeConfig): Micros {
  if (cfg.rounding !== "order_cent") {
    let total = 0;
    for (const l of legs) total += tradeFee(l.count, l.price, isMaker, schedule, cfg);
    return total;
  }
  if (legs.length === 1) return tradeFee(legs[0]!.count, legs[0]!.price, isMaker, schedule, cfg);
  const coefE6 = BigInt(feeCoefficientE6(isMaker, schedule, cfg));
  if (coefE6 === 0n) return 0;
  let n = 0n;
  for (const l of legs) {
    if (!Number.isSafeInteger(l.count) || l.count < 0) throw new RangeError(`bad fee count ${l.count}`);
    if (!Number.isSafeInteger(l.price) || l.price < 0 || l.price > PRICE_ONE) throw new RangeError(`bad fee price ${l.price}`);
    n += coefE6 * BigInt(l.count) * BigInt(l.price) * BigInt(PRICE_ONE - l.price);
  }
  const step = roundingStepMicros(cfg);
  const d = BigInt(MICROS_DENOM * step);
  return Number((n + d - 1n) / d) * step;
}
