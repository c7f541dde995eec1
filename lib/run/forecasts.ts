/**
 * Scores several probability models side by side in one replay pass, from the engine's own
 * evaluations: every opportunity the engine records (spot, σ, strike, settlement time, market mid) is
 * re-priced by each model of the tournament and written as `forecast` rows. The engine still trades on
 * its one configured model; this only watches, off the decision path.
 *
 * - Observed settlement-window values come from the engine's index window at the moment of the
 *   evaluation (so models price inside the window as the engine does); the basis buffers are those of
 *   the model config (spot input).
 * - Jump-robust σ: bipower variation of the reference spot at the engine's evaluation instants of
 *   this run, each return rescaled to one evaluation interval (√(Δt/interval)), gaps > 3 intervals
 *   restart the chain; same half-life as the engine's EWMA.
 * - Market-implied benchmark: the peers of an evaluation are the other markets with the same settlement
 *   time evaluated at the same instant that had a two-sided mid, so rows are emitted when the sweep's
 *   instant is complete (the next instant or finish()).
 * - At most one row per market and model per `intervalSeconds` of event time (default 30 s), which
 *   keeps the market-implied fit off the hot path of long replays.
 */
import type { EngineConfig } from "../core/config.ts";
import type { ModelInput, PeerQuote, ProbabilityModel } from "../core/models.ts";
import { BipowerVol } from "../core/models.ts";
import type { ForecastRecord, Opportunity } from "../core/records.ts";
import type { TsUs } from "../core/units.ts";
import { US_PER_S } from "../core/units.ts";

interface Pending {
  readonly o: Opportunity;
  readonly observedSum: number;
  readonly observedCount: number;
}

export class ForecastRecorder {
  private readonly robust: BipowerVol;
  private readonly gridUs: number;
  private readonly intervalUs: number;
  private instant: TsUs = -1;
  private pending: Pending[] = [];
  private lastSpot = NaN;
  private lastSpotTs: TsUs = -1;
  private readonly lastEmitted = new Map<string, TsUs>();
  rows = 0;

  constructor(
    private readonly models: readonly ProbabilityModel[],
    cfg: EngineConfig,
    private readonly emit: (r: ForecastRecord) => void,
    opts: { intervalSeconds?: number } = {},
  ) {
    const grid = Math.max(1, cfg.strategy.evalIntervalSeconds);
    this.gridUs = grid * US_PER_S;
    this.robust = new BipowerVol(grid, cfg.vol.ewmaHalfLifeSeconds, Math.max(2, Math.ceil((cfg.vol.minSamples * cfg.vol.gridSeconds) / grid)));
    this.intervalUs = (opts.intervalSeconds ?? 30) * US_PER_S;
  }

  /** An evaluation of the engine, with the window values it had observed at that instant. */
  onOpportunity(o: Opportunity, observed: { sum: number; count: number }): void {
    if (o.ts !== this.instant) {
      this.flush();
      this.instant = o.ts;
      this.onSpot(o.ts, o.spot);
    }
    // Only evaluations made on fresh inputs are scored (the edge report's rule, lib/analysis/load.ts).
    if (!(o.spot > 0) || !(o.sigma > 0) || !o.inputsFresh) return;
    this.pending.push({ o, observedSum: observed.sum, observedCount: observed.count });
  }

  finish(): void {
    this.flush();
  }

  private onSpot(ts: TsUs, spot: number): void {
    if (!(spot > 0)) return;
    if (this.lastSpotTs >= 0) {
      const dt = ts - this.lastSpotTs;
      this.robust.push(dt > 3 * this.gridUs || dt <= 0 ? NaN : Math.log(spot / this.lastSpot) / Math.sqrt(dt / this.gridUs));
    }
    this.lastSpot = spot;
    this.lastSpotTs = ts;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const sigmaRobust = this.robust.sigma();
    const bySettle = new Map<TsUs, Pending[]>();
    for (const p of this.pending) {
      const l = bySettle.get(p.o.settleTime);
      if (l) l.push(p);
      else bySettle.set(p.o.settleTime, [p]);
    }
    for (const group of bySettle.values()) {
      for (const p of group) {
        const o = p.o;
        const last = this.lastEmitted.get(o.market);
        if (last !== undefined && o.ts - last < this.intervalUs) continue;
        this.lastEmitted.set(o.market, o.ts);
        const peers: PeerQuote[] = [];
        for (const q of group) {
          if (q === p || !Number.isFinite(q.o.pMarketMid)) continue;
          peers.push({ strikeType: q.o.strikeType as PeerQuote["strikeType"], floorStrike: q.o.floorStrike, capStrike: q.o.capStrike, pMid: q.o.pMarketMid });
        }
        const input: ModelInput = {
          spot: o.spot, sigma: o.sigma, sigmaRobust, now: o.ts, settleTime: o.settleTime, strikeType: o.strikeType as ModelInput["strikeType"],
          floorStrike: o.floorStrike, capStrike: o.capStrike, observedSum: p.observedSum, observedCount: p.observedCount, peers,
        };
        for (const m of this.models) {
          this.rows++;
          this.emit({
            kind: "forecast", model: m.name, ts: o.ts, market: o.market, eventTicker: o.eventTicker, settleTime: o.settleTime, p: m.probability(input),
            spot: o.spot, sigma: o.sigma, sigmaRobust, tauSeconds: o.tauSeconds, strikeType: input.strikeType, floorStrike: o.floorStrike,
            capStrike: o.capStrike, observedSum: p.observedSum, observedCount: p.observedCount, pMarketMid: o.pMarketMid,
          });
        }
      }
    }
    this.pending = [];
  }
}
