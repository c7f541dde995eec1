/**
 * Units: the one module that owns every conversion between venue text and exact integers.
 *
 * Inside the library:
 *  - Kalshi prices are integers in 1/10 000 dollar (`PriceE4`): "0.5600" → 5600. A contract pays
 *    $1 = 10 000. Markets may tick below a cent, and 4 decimals is what Kalshi emits for prices.
 *  - Kalshi counts are integers in 1/100 contract (`CountE2`): "10.00" → 1000. Fractional contracts exist.
 *  - Money (cash, costs, fees, PnL) is integers in 1/1 000 000 dollar (`Micros`). Kalshi reports costs and
 *    fees with up to 6 decimals, and PriceE4 × CountE2 is exactly Micros, so notional never rounds.
 *  - Probabilities are plain numbers in [0,1]; `priceToProb` is the only bridge from PriceE4.
 *  - Timestamps are integer microseconds since the Unix epoch, UTC (`TsUs`).
 *
 * Float arithmetic is never done on money or sizes. Spot BTC prices (USD) are model inputs and stay
 * float64: they feed a log-normal model, not a ledger.
 */

export type PriceE4 = number;
export type CountE2 = number;
export type Micros = number;
export type TsUs = number;

export const PRICE_ONE: PriceE4 = 10_000;
export const COUNT_ONE: CountE2 = 100;
export const MICROS_PER_DOLLAR: Micros = 1_000_000;
export const US_PER_MS = 1_000;
export const US_PER_S = 1_000_000;

/** A value that could not be parsed at the boundary. Carries the offending text, never secrets. */
export class UnitParseError extends Error {
  constructor(
    readonly what: string,
    readonly input: unknown,
  ) {
    super(`cannot parse ${what} from ${JSON.stringify(input)?.slice(0, 64)}`);
    this.name = "UnitParseError";
  }
}

const DECIMAL_RE = /^([+-])?(\d+)(?:\.(\d*))?$/;

/**
 * Parse a decimal string (or a JSON number, which Kalshi occasionally sends) into an integer scaled by
 * 10^scale, exactly. More decimals than `scale` are accepted only when the extra digits are zeros.
 */
export function parseScaled(input: unknown, scale: number, what: string): number {
  let text: string;
  if (typeof input === "string") text = input.trim();
  else if (typeof input === "number" && Number.isFinite(input)) {
    // Beyond 2^52 units of the last digit, neighbouring doubles are more than one unit apart: the
    // number cannot tell which decimal was sent (an integer-valued one still can, up to 2^53).
    if (!Number.isInteger(input) && Math.abs(input) * 10 ** scale >= 2 ** 52) throw new UnitParseError(what, input);
    text = numberToPlainString(input);
  }
  else throw new UnitParseError(what, input);
  const m = DECIMAL_RE.exec(text);
  if (!m) throw new UnitParseError(what, input);
  const sign = m[1] === "-" ? -1 : 1;
  const intPart = m[2]!;
  let frac = m[3] ?? "";
  if (frac.length > scale) {
    const extra = frac.slice(scale);
    if (!/^0*$/.test(extra)) throw new UnitParseError(what, input);
    frac = frac.slice(0, scale);
  }
  frac = frac.padEnd(scale, "0");
  const digits = (intPart + frac).replace(/^0+(?=\d)/, "");
  const value = Number(digits);
  if (!Number.isSafeInteger(value)) throw new UnitParseError(what, input);
  return value === 0 ? 0 : sign * value;
}

/**
 * A JSON number as the decimal it was written as: the shortest text that reads back as the same double
 * (what `String` gives), with an exponent (1e-7, 1.5e+21) written out. Fixed decimals would show the
 * double's binary error instead (133896.07 → "133896.070000000007") and fail the exactness check.
 */
function numberToPlainString(n: number): string {
  const s = String(n);
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, int, frac = "", exp] = m;
  const digits = int! + frac;
  const point = int!.length + Number(exp); // digits before the decimal point
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${"0".repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Format an integer scaled by 10^scale back to fixed-point text with exactly `decimals` places. */
export function formatScaled(value: number, scale: number, decimals = scale): string {
  if (!Number.isSafeInteger(value)) throw new UnitParseError("safe integer", value);
  const neg = value < 0;
  const abs = String(Math.abs(value)).padStart(scale + 1, "0");
  const int = abs.slice(0, abs.length - scale);
  let frac = abs.slice(abs.length - scale);
  if (decimals < scale) {
    if (!/^0*$/.test(frac.slice(decimals))) throw new UnitParseError(`value with ${decimals} decimals`, value);
    frac = frac.slice(0, decimals);
  } else frac = frac.padEnd(decimals, "0");
  return `${neg ? "-" : ""}${int}${decimals > 0 ? "." + frac : ""}`;
}

// ---- Kalshi prices -------------------------------------------------------------------------

/** "0.5600" → 5600. Must lie in [0, 1] dollars. */
export function parsePriceDollars(input: unknown): PriceE4 {
  const v = parseScaled(input, 4, "price (dollars)");
  if (v < 0 || v > PRICE_ONE) throw new UnitParseError("price in [0,1] dollars", input);
  return v;
}

/** Legacy integer cents (Feb-2026 frames: `yes_bid: 47`) → PriceE4. */
export function parsePriceCents(input: unknown): PriceE4 {
  if (typeof input !== "number" || !Number.isInteger(input) || input < 0 || input > 100) {
    throw new UnitParseError("price (integer cents)", input);
  }
  return input * 100;
}

export function formatPriceDollars(p: PriceE4): string {
  return formatScaled(p, 4, 4);
}

/** The one bridge from exact price to probability. */
export function priceToProb(p: PriceE4): number {
  return p / PRICE_ONE;
}

/** The complementary leg: a YES price p is a NO price 1 − p. */
export function complementPrice(p: PriceE4): PriceE4 {
  return PRICE_ONE - p;
}

// ---- Kalshi counts ---------------------------------------------------------------------------

/** "10.00" → 1000; signed (deltas and positions may be negative). */
export function parseCountFp(input: unknown): CountE2 {
  return parseScaled(input, 2, "count (fixed point)");
}

/** Legacy integer contracts → CountE2. */
export function parseCountInt(input: unknown): CountE2 {
  if (typeof input !== "number" || !Number.isSafeInteger(input)) throw new UnitParseError("count (integer)", input);
  return input * COUNT_ONE;
}

export function formatCountFp(c: CountE2): string {
  return formatScaled(c, 2, 2);
}

export function countToContracts(c: CountE2): number {
  return c / COUNT_ONE;
}

// ---- Money -----------------------------------------------------------------------------------

/** Dollar text with up to 6 decimals ("0.010000", "1250.3400") → Micros. */
export function parseMoneyDollars(input: unknown): Micros {
  return parseScaled(input, 6, "money (dollars)");
}

/** Integer cents (e.g. `balance: 125034`) → Micros. */
export function centsToMicros(cents: number): Micros {
  if (!Number.isSafeInteger(cents)) throw new UnitParseError("integer cents", cents);
  return cents * 10_000;
}

/** Money as dollar text; with fewer than 6 decimals it is rounded half away from zero (for display). */
export function formatMoneyDollars(m: Micros, decimals = 6): string {
  if (decimals >= 6) return formatScaled(m, 6, decimals);
  const step = 10 ** (6 - decimals);
  const rounded = Math.sign(m) * Math.round(Math.abs(m) / step) * step;
  return formatScaled(rounded, 6, decimals);
}

/** Dollars as a float, for display and statistics only. */
export function microsToDollars(m: Micros): number {
  return m / MICROS_PER_DOLLAR;
}

/** Price × count is exact money: 1e-4 $ × 1e-2 contract = 1e-6 $. */
export function notional(price: PriceE4, count: CountE2): Micros {
  return price * count;
}

/** Round a money amount up to a multiple of `step` micros (e.g. 10 000 = one cent). */
export function ceilToStep(m: Micros, step: Micros): Micros {
  return Math.ceil(m / step) * step;
}

// ---- Time ------------------------------------------------------------------------------------

export function msToUs(ms: number): TsUs {
  return Math.round(ms * US_PER_MS);
}

export function secondsToUs(s: number): TsUs {
  return Math.round(s * US_PER_S);
}

/** RFC 3339 / ISO-8601 text → TsUs (microsecond digits kept when present). */
export function parseIsoToUs(input: unknown): TsUs {
  if (typeof input !== "string") throw new UnitParseError("ISO timestamp", input);
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/.exec(input.trim());
  if (!m) throw new UnitParseError("ISO timestamp", input);
  const base = Date.parse(m[1]! + (m[3] ?? "Z"));
  if (!Number.isFinite(base)) throw new UnitParseError("ISO timestamp", input);
  const frac = (m[2] ?? "").slice(0, 6).padEnd(6, "0");
  return base * US_PER_MS + Number(frac);
}

/** TsUs → ISO-8601 UTC with microseconds. Pure: formats the given instant, never "now". */
export function formatIsoUs(ts: TsUs): string {
  const ms = Math.floor(ts / US_PER_MS);
  const iso = new Date(ms).toISOString(); // yyyy-mm-ddThh:mm:ss.mmmZ
  const us = String(ts - ms * US_PER_MS).padStart(3, "0");
  return iso.slice(0, 23) + us + "Z";
}

const US_PER_DAY = 86_400 * US_PER_S;
let lastDayNumber = Number.NaN;
let lastDayKey = "";

/** UTC day key "YYYY-MM-DD" of an instant. (Remembers the last day: it is asked on every sweep.) */
export function utcDay(ts: TsUs): string {
  const d = Math.floor(ts / US_PER_DAY);
  if (d !== lastDayNumber) {
    lastDayNumber = d;
    lastDayKey = new Date(d * 86_400_000).toISOString().slice(0, 10);
  }
  return lastDayKey;
}
