/**
 * Pluggable probability models: one small interface, a registry of named models, and the built-ins
 * the model tournament compares (EDGE_VALIDATION.md §6). Pure: a model is a function of its input.
 *
 * Built-ins (all driftless; σ annualized):
 *  - "diffusion"       the library's settlement-average model (lib/core/probability.ts) with the
 *                      configured basis buffers, σ floor and shrink toward ½.
 *  - "student-t"       the same window-average setup, but the standardized log-average has a Student-t
 *                      law with ν degrees of freedom scaled to unit variance (variance-matched: the
 *                      same s² as the diffusion, fatter tails, more mass near the centre).
 *  - "jump-robust"     the diffusion fed a jump-robust σ (input.sigmaRobust: bipower variation, see
 *                      BipowerVol below) instead of the plain realized σ; NaN without one.
 *  - "market-implied"  a benchmark, not a forecaster of our own: σ is fitted (least squares on
 *                      probabilities) to the mids of the *other* strikes of the same settlement time
 *                      (input.peers), and this strike is priced with the diffusion at that σ. NaN when
 *                      fewer than two usable peers exist.
 *  - "ewma-lognormal"  the naive baseline: the endpoint Black–Scholes digital N(d2) at the EWMA σ —
 *                      no averaging window, no basis, no floor, no shrink.
 * A user model is any object with `name` and `probability(input)`; register a factory under a new
 * name or pass the object directly wherever a ProbabilityModel is accepted.
 */
import type { ModelConfig } from "./config.ts";
import type { StrikeType } from "./events.ts";
import type { ProbabilityInput } from "./probability.ts";
import { probabilityYes } from "./probability.ts";
import { studentTCdf } from "./special.ts";

/** The mid of another strike of the same settlement time (market-implied benchmark). */
export interface PeerQuote {
  readonly strikeType: StrikeType;
  readonly floorStrike: number;
  readonly capStrike: number;
  /** Market-implied P(YES) at the mid. */
  readonly pMid: number;
}

export interface ModelInput extends ProbabilityInput {
  /** Jump-robust annualized σ (NaN or absent when not estimated). */
  readonly sigmaRobust?: number;
  /** Mids of the other strikes of this settlement time (absent when there is no market). */
  readonly peers?: readonly PeerQuote[];
}

export interface ProbabilityModel {
  readonly name: string;
  /** P(YES) in [0, 1], or NaN when the model cannot price this input. */
  probability(input: ModelInput): number;
}

export interface ModelSpec {
  readonly name: string;
  /** Model-specific parameters (e.g. { nu: 5 } for "student-t"). */
  readonly params?: Readonly<Record<string, number>>;
}

export type ModelFactory = (cfg: ModelConfig, params: Readonly<Record<string, number>>) => ProbabilityModel;

// ---- built-ins ----------------------------------------------------------------------------------

export function diffusionModel(cfg: ModelConfig): ProbabilityModel {
  return { name: "diffusion", probability: (x) => probabilityYes(x, cfg) };
}

/** Unit-variance Student-t CDF: T·√((ν−2)/ν) has variance 1, so P(X ≤ z) = F_ν(z·√(ν/(ν−2))). */
export function unitStudentTCdf(nu: number): (z: number) => number {
  if (!(nu > 2)) throw new RangeError(`student-t needs ν > 2 for a finite variance, got ${nu}`);
  const scale = Math.sqrt(nu / (nu - 2));
  return (z) => studentTCdf(z * scale, nu);
}

export function studentTModel(cfg: ModelConfig, nu = 5): ProbabilityModel {
  const cdf = unitStudentTCdf(nu);
  return { name: `student-t`, probability: (x) => probabilityYes(x, cfg, cdf) };
}

export function jumpRobustModel(cfg: ModelConfig): ProbabilityModel {
  return {
    name: "jump-robust",
    probability: (x) => (x.sigmaRobust !== undefined && x.sigmaRobust > 0 ? probabilityYes({ ...x, sigma: x.sigmaRobust }, cfg) : NaN),
  };
}

/** The plain endpoint digital: a one-sample window is exactly N(d2) at zero rate. */
export const NAIVE_MODEL_CONFIG: ModelConfig = { basisVol: 0, basisUsd: 0, sigmaFloor: 0, shrinkToHalf: 0, settlementWindowSeconds: 1 };

export function ewmaLognormalModel(): ProbabilityModel {
  return { name: "ewma-lognormal", probability: (x) => probabilityYes(x, NAIVE_MODEL_CONFIG) };
}

/**
 * σ that makes the diffusion reproduce the peers' mids best (least squares in probability), by
 * golden-section search on log σ over [0.02, 5]. Peers whose mid is within 2 points of 0 or 1 carry
 * almost no information about σ and are ignored. NaN with fewer than two usable peers.
 */
export function impliedSigma(x: ModelInput, cfg: ModelConfig): number {
  const peers = (x.peers ?? []).filter((q) => q.pMid > 0.02 && q.pMid < 0.98);
  if (peers.length < 2) return NaN;
  const flat: ModelConfig = { ...cfg, sigmaFloor: 0, shrinkToHalf: 0 };
  const sse = (logSigma: number): number => {
    const sigma = Math.exp(logSigma);
    let s = 0;
    for (const q of peers) {
      const p = probabilityYes({ ...x, sigma, strikeType: q.strikeType, floorStrike: q.floorStrike, capStrike: q.capStrike }, flat);
      s += Number.isFinite(p) ? (p - q.pMid) ** 2 : 1;
    }
    return s;
  };
  let a = Math.log(0.02);
  let b = Math.log(5);
  const g = (Math.sqrt(5) - 1) / 2;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = sse(c);
  let fd = sse(d);
  for (let i = 0; i < 60 && b - a > 1e-7; i++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = sse(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = sse(d);
    }
  }
  return Math.exp((a + b) / 2);
}

export function marketImpliedModel(cfg: ModelConfig): ProbabilityModel {
  const flat: ModelConfig = { ...cfg, sigmaFloor: 0, shrinkToHalf: 0 };
  return {
    name: "market-implied",
    probability: (x) => {
      const s = impliedSigma(x, cfg);
      return Number.isFinite(s) ? probabilityYes({ ...x, sigma: s }, flat) : NaN;
    },
  };
}

// ---- registry -------------------------------------------------------------------------------------

export class ModelRegistry {
  private readonly factories = new Map<string, ModelFactory>();

  register(name: string, factory: ModelFactory): this {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`model name "${name}" must be lower-case letters, digits and dashes`);
    this.factories.set(name, factory);
    return this;
  }

  has(name: string): boolean {
    return this.factories.has(name);
  }

  names(): string[] {
    return [...this.factories.keys()];
  }

  create(spec: ModelSpec | string, cfg: ModelConfig): ProbabilityModel {
    const s = typeof spec === "string" ? { name: spec } : spec;
    const f = this.factories.get(s.name);
    if (!f) throw new Error(`unknown probability model "${s.name}" (known: ${this.names().join(", ")})`);
    return f(cfg, s.params ?? {});
  }
}

/** A registry holding the built-ins; add user models with `register`. */
export function defaultModelRegistry(): ModelRegistry {
  return new ModelRegistry()
    .register("diffusion", (cfg) => diffusionModel(cfg))
    .register("student-t", (cfg, p) => studentTModel(cfg, p.nu ?? 5))
    .register("jump-robust", (cfg) => jumpRobustModel(cfg))
    .register("market-implied", (cfg) => marketImpliedModel(cfg))
    .register("ewma-lognormal", () => ewmaLognormalModel());
}

// ---- jump-robust volatility ----------------------------------------------------------------------

/**
 * Jump-robust per-grid variance from bipower variation (Barndorff-Nielsen & Shephard 2004):
 * E[|r_t||r_{t−1}|] = (2/π)σ² for a diffusion, while one jump enters only two products (each times a
 * small neighbour) instead of once squared. EWMA-weighted with the same bias correction as the plain
 * EWMA estimator: S ← λS + (π/2)|r_t||r_{t−1}|, W ← λW + 1. Fed with consecutive grid returns.
 */
export class BipowerVol {
  private readonly lambda: number;
  private readonly annualize: number;
  private s = 0;
  private w = 0;
  private prevAbs = NaN;
  private count = 0;

  constructor(
    gridSeconds: number,
    halfLifeSeconds: number,
    private readonly minSamples: number,
    secondsPerYear = 365.25 * 86400,
  ) {
    this.lambda = Math.pow(2, -gridSeconds / halfLifeSeconds);
    this.annualize = secondsPerYear / gridSeconds;
  }

  /** One grid return (log); NaN restarts the chain (a gap: no product spans it). */
  push(r: number): void {
    if (!Number.isFinite(r)) {
      this.prevAbs = NaN;
      return;
    }
    const a = Math.abs(r);
    if (Number.isFinite(this.prevAbs)) {
      this.s = this.lambda * this.s + (Math.PI / 2) * a * this.prevAbs;
      this.w = this.lambda * this.w + 1;
      this.count++;
    }
    this.prevAbs = a;
  }

  /** Annualized σ, NaN before minSamples products. */
  sigma(): number {
    if (this.count < this.minSamples || !(this.w > 0)) return NaN;
    return Math.sqrt((this.s / this.w) * this.annualize);
  }
}
