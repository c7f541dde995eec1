/**
 * P(YES) for a Kalshi BTC threshold market that settles on the simple average of the last n one-second
 * BRTI values before settle time, under a driftless log-normal diffusion.
 *
 * Derivation (own notes).
 *
 * Window. n = settlementWindowSeconds samples at times settle − n + 1, …, settle (seconds). Let
 * d = settle − now in seconds. A sample at settle − j (j = 0 … n−1) is still in the future iff j < d,
 * so m = min(n, ⌈d⌉) samples are unobserved (0 when d ≤ 0), at d − j seconds from now, j < m. The
 * other n − m samples are in the past; their sum A comes from the caller (observedSum over
 * observedCount); if fewer values were observed than past slots exist, the missing ones are imputed
 * at the current spot, and if more were reported (clock skew) their mean is used for each past slot.
 *
 * Future part. With driftless GBM from S0 = spot, S_i = S0 exp(σW(t_i) − σ²t_i/2) (t in years), so
 * E[S_i] = S0 and E[S_i S_j] = S0² exp(σ² min(t_i, t_j)). For F = Σ_future S_i:
 *     E[F]  = m S0,
 *     Var F = S0² Σ_i Σ_j (exp(σ² min(t_i,t_j)) − 1).
 * Sort the future times ascending t_(1) < … < t_(m). In the double sum, t_(r) is the minimum for the
 * diagonal pair (r,r) and for the 2(m − r) ordered pairs with a later sample, hence
 *     Var F / S0² = Σ_r (2(m − r) + 1) · expm1(σ² t_(r))          — O(m), not O(m²).
 * The times are 1 s apart, so expm1 of consecutive times follows the exact recurrence
 * expm1(a + b) = expm1(a) + expm1(b) + expm1(a)·expm1(b), which keeps full precision for tiny σ²t.
 * F is then approximated by a log-normal with the same first two moments:
 *     s² = log(1 + Var F / E[F]²),   log F ~ N(log(m S0) − s²/2, s²).
 * This is the variance reduction of the average vs the endpoint: for small σ²t and the whole window in
 * the future, s² ≈ σ²·(d − (n−1) + (n−1)(2n−1)/(6n)) seconds — for n = 60 about 39.5 s less than the
 * endpoint variance σ²·d; inside the window it shrinks further as samples become known.
 *
 * Event. avg = (A + F)/n > K ⇔ F > R := nK − A. If R ≤ 0 the event is certain (F > 0). Otherwise
 *     P = Φ(z),  z = (log(m S0 / R) − s²/2) / s.
 * With n = 1 this is exactly the zero-rate Black–Scholes digital N(d2). With m = 0 the average is
 * known and P is its indicator. For ">" vs "≥" the difference only matters when the outcome is
 * deterministic (m = 0 or s = 0).
 *
 * Conservative buffers (ModelConfig):
 *  - σ ← max(σ, sigmaFloor);
 *  - basis of the spot source vs BRTI, as extra relative std on the average's level, each scaled by
 *    the unobserved fraction of the window u = min(d, n)/n so it vanishes when the window is fully
 *    observed: basisVol·√(d in years) (diffuses over the remaining time) and basisUsd/S0 (an absolute
 *    USD std). u is measured in time, not as m/n, so nothing jumps when a sample becomes observed.
 *    On F (mean m·S0) a std u·x·S0 on the average is a relative std w·x, w = n·u/m = min(d, n)/m, so
 *      s² += w² · (basisVol² · d/yr + (basisUsd/S0)²)      (added in log space, mean-preserving).
 *  - shrinkage toward ½: p ← ½ + (1 − shrinkToHalf)(p − ½).
 *
 * Strike semantics: greater → avg > floor; greater_or_equal → avg ≥ floor; less → avg < cap;
 * less_or_equal → avg ≤ cap; between → floor ≤ avg ≤ cap = P(≥ floor) − P(> cap).
 *
 * Invalid inputs (non-positive spot, NaN sigma — e.g. a cold vol estimator — or a NaN strike that the
 * strike type needs) give NaN, never a made-up probability. Otherwise the result is in [0, 1].
 * Cost: one loop over ≤ n samples, two expm1, a log1p, a log and one erfc.
 */
import type { ModelConfig } from "./config.ts";
import type { StrikeType } from "./events.ts";
import type { TsUs } from "./units.ts";
import { US_PER_S } from "./units.ts";
import { SECONDS_PER_YEAR } from "./volatility.ts";

export interface ProbabilityInput {
  readonly spot: number; // current USD level of the underlying (BRTI if known, else spot mid)
  readonly sigma: number; // annualized
  readonly now: TsUs;
  readonly settleTime: TsUs; // end of the averaging window
  readonly strikeType: StrikeType;
  readonly floorStrike: number; // NaN when unused
  readonly capStrike: number; // NaN when unused
  /** Sum and count of index values already observed inside the window (settleTime−60s, now]; 0/0 when none. */
  readonly observedSum: number;
  readonly observedCount: number;
  /**
   * How many of the window's already-past samples are Coinbase proxies rather than BRTI prints
   * (observed spot mids, and past slots with no sample, which are filled with the spot input when it
   * is a proxy). Their basis to the index is still unknown, so the basis buffer keeps covering them
   * inside the last minute instead of vanishing with the unobserved time. Absent/0 = none.
   */
  readonly observedProxyCount?: number;
}

// ---- normal distribution ---------------------------------------------------------------------

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const INV_SQRT_PI = 1 / Math.sqrt(Math.PI);
/** Below this argument erfc comes from the power series, above from the continued fraction. */
const ERFC_SWITCH = 2;

/**
 * Complementary error function; relative error below 1e-13 everywhere (checked against 40-digit
 * references in the tests), absolute error of Φ below 1e-16.
 *  - 0 ≤ x < 2: erf(x) = (2/√π) e^{−x²} Σ_k x (2x²)^k / (1·3·…·(2k+1)) — all terms positive, so the
 *    series itself has no cancellation; erfc = 1 − erf costs at most ~2.5 digits since erfc ≥ 4.7e-3 here.
 *  - x ≥ 2: Laplace continued fraction erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + (2/2)/(x + (3/2)/(x + …)))),
 *    evaluated with the modified Lentz method.
 *  - x < 0: erfc(x) = 2 − erfc(−x).
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < ERFC_SWITCH) {
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let k = 1; k < 200; k++) {
      term *= (2 * x2) / (2 * k + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return 1 - TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  }
  if (x > 27.3) return 0; // e^{−x²} underflows
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let dd = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    dd = x + a * dd;
    if (dd === 0) dd = tiny;
    dd = 1 / dd;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * dd;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (INV_SQRT_PI * Math.exp(-x * x)) / f;
}

/** Standard normal CDF Φ(z) = ½ erfc(−z/√2); accurate in both tails. */
export function normalCdf(z: number): number {
  if (z === Infinity) return 1;
  if (z === -Infinity) return 0;
  return 0.5 * erfc(-z * Math.SQRT1_2);
}

// ---- settlement average -----------------------------------------------------------------------

/** Number of window samples still in the future: samples sit at settle − j s, j = 0 … n−1. */
export function futureSampleCount(secondsToSettle: number, windowSamples: number): number {
  if (!(secondsToSettle > 0)) return 0;
  return Math.min(windowSamples, Math.ceil(secondsToSettle));
}

/**
 * Variance s² of log F, F = sum of the still-unobserved window samples, moment-matched to a log-normal
 * under driftless GBM (no basis terms).
 * @param sigma annualized volatility
 * @param secondsToSettle settle − now, in seconds (may be fractional)
 * @param windowSamples n, the number of one-second samples in the settlement window
 * @returns s² (dimensionless); 0 when no sample is in the future or sigma ≤ 0.
 * Relation to the whole average: log(avg) has the same s² before the window (avg = F/n); inside the
 * window avg = (A + F)/n and F's share of it is m/n.
 */
export function averageLogVariance(sigma: number, secondsToSettle: number, windowSamples: number): number {
  const m = futureSampleCount(secondsToSettle, windowSamples);
  if (m === 0 || !(sigma > 0)) return 0;
  const varPerSecond = (sigma * sigma) / SECONDS_PER_YEAR;
  const firstSeconds = secondsToSettle - (m - 1); // earliest future sample, in (0, 1] s or more before the window
  const step = Math.expm1(varPerSecond); // expm1(σ² · 1 s)
  let e = Math.expm1(varPerSecond * firstSeconds);
  let weighted = 0;
  for (let r = 1; r <= m; r++) {
    weighted += (2 * (m - r) + 1) * e;
    e = e + step + e * step;
  }
  return Math.log1p(weighted / (m * m));
}

/** Per-call quantities shared by the strikes of one evaluation. */
interface Setup {
  m: number;
  n: number;
  pastSum: number;
  meanF: number;
  s2: number;
  s: number;
}

/**
 * z such that P(avg > K) (strict) or P(avg ≥ K) (inclusive) = Φ(z); ±Infinity for certain outcomes.
 * P(avg ≤ K) resp. P(avg < K) is then Φ(−z).
 */
function zAbove(st: Setup, strike: number, inclusive: boolean): number {
  if (st.m === 0) {
    const avg = st.pastSum / st.n;
    // Fully observed, but on proxies: only the basis (a relative std s on the average) is uncertain.
    if (st.s > 0 && avg > 0 && strike > 0) return (Math.log(avg / strike) - st.s2 / 2) / st.s;
    return (inclusive ? avg >= strike : avg > strike) ? Infinity : -Infinity;
  }
  const required = st.n * strike - st.pastSum;
  if (required <= 0) return Infinity; // F > 0 always
  if (st.s === 0) {
    return (inclusive ? st.meanF >= required : st.meanF > required) ? Infinity : -Infinity;
  }
  return (Math.log(st.meanF / required) - st.s2 / 2) / st.s;
}

/**
 * @param cdf distribution of the standardized log-average (default Φ, the log-normal approximation);
 *   a fat-tailed model passes a unit-variance Student-t CDF here (lib/core/models.ts). It must be
 *   symmetric, map ±Infinity to 1/0, and be increasing.
 */
export function probabilityYes(input: ProbabilityInput, cfg: ModelConfig, cdf: (z: number) => number = normalCdf): number {
  const spot = input.spot;
  if (!(spot > 0) || spot === Infinity || Number.isNaN(input.sigma)) return NaN;
  const sigma = Math.max(input.sigma, cfg.sigmaFloor);
  const n = Math.max(1, Math.round(cfg.settlementWindowSeconds));
  const secondsToSettle = (input.settleTime - input.now) / US_PER_S;
  if (Number.isNaN(secondsToSettle)) return NaN;
  const m = futureSampleCount(secondsToSettle, n);

  const pastSlots = n - m;
  const k = input.observedCount > 0 && Number.isFinite(input.observedSum) ? input.observedCount : 0;
  let pastSum = 0;
  if (pastSlots > 0) {
    if (k === 0) pastSum = pastSlots * spot;
    else if (k <= pastSlots) pastSum = input.observedSum + (pastSlots - k) * spot;
    else pastSum = (input.observedSum / k) * pastSlots;
  }

  let s2 = 0;
  const basisVol = cfg.basisVol > 0 ? cfg.basisVol : 0;
  const basisRel = cfg.basisUsd > 0 ? cfg.basisUsd / spot : 0;
  // Past samples that are spot proxies (their basis to BRTI is as unknown as the future's).
  const proxied = Math.min(Math.max(input.observedProxyCount ?? 0, 0), pastSlots);
  if (m > 0) {
    s2 = averageLogVariance(sigma, secondsToSettle, n);
    // Basis (spot source vs BRTI), as a std on the average's level scaled by the proxied fraction of
    // the window: the unobserved time u = min(d, n)/n — measured in time so it is continuous (m/n
    // would step at each sample) — plus the past samples that are proxies, q = proxied/n.
    // On F (= n·avg − A, mean m·S0) a std of (u + q)·x on the average is a relative std of w·x with
    // w = n·(u + q)/m = (min(d, n) + proxied)/m.
    const w = (Math.min(secondsToSettle, n) + proxied) / m;
    s2 += w * w * ((basisVol * basisVol * secondsToSettle) / SECONDS_PER_YEAR + basisRel * basisRel);
  } else if (proxied > 0) {
    // The whole window is past: the average is known up to the basis of its proxied part.
    const q = proxied / n;
    s2 = q * q * basisRel * basisRel;
  }
  const st: Setup = { m, n, pastSum, meanF: m * spot, s2, s: Math.sqrt(s2) };

  let p: number;
  switch (input.strikeType) {
    case "greater":
      if (Number.isNaN(input.floorStrike)) return NaN;
      p = cdf(zAbove(st, input.floorStrike, false));
      break;
    case "greater_or_equal":
      if (Number.isNaN(input.floorStrike)) return NaN;
      p = cdf(zAbove(st, input.floorStrike, true));
      break;
    case "less":
      if (Number.isNaN(input.capStrike)) return NaN;
      p = cdf(-zAbove(st, input.capStrike, true));
      break;
    case "less_or_equal":
      if (Number.isNaN(input.capStrike)) return NaN;
      p = cdf(-zAbove(st, input.capStrike, false));
      break;
    case "between": {
      if (Number.isNaN(input.floorStrike) || Number.isNaN(input.capStrike)) return NaN;
      const zFloor = zAbove(st, input.floorStrike, true);
      const zCap = zAbove(st, input.capStrike, false);
      // P(≥ floor) − P(> cap), written with the smaller tails for precision.
      p = zCap > 0 ? cdf(-zCap) - cdf(-zFloor) : cdf(zFloor) - cdf(zCap);
      break;
    }
    default:
      return NaN;
  }
  if (!(p > 0)) p = 0;
  else if (p > 1) p = 1;
  const shrunk = 0.5 + (1 - cfg.shrinkToHalf) * (p - 0.5);
  return shrunk < 0 ? 0 : shrunk > 1 ? 1 : shrunk;
}
