/**
 * One stray Coinbase print (uncrossed and positive, so the parser takes it) must not move the
 * features: the realized vol during its warm-up or right after a feed gap, the BRTI proxy samples of
 * a settlement window, or the spot an engine prices from. Oracles: the same streams without the
 * stray print (independent runs of the same code on clean input) and the window's hand average.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_ENGINE_CONFIG } from "../../lib/core/config.ts";
import type { SpotQuote } from "../../lib/core/events.ts";
import { SpotFeatures } from "../../lib/core/features.ts";
import { IndexWindow } from "../../lib/core/settlement.ts";
import { MAX_SPOT_JUMP, SPOT_CONFIRM_US, SpotMidGuard } from "../../lib/core/spot-guard.ts";
import { createVolEstimator } from "../../lib/core/volatility.ts";

const S = 1_000_000;
const q = (tsRecv: number, bid: number, ask: number): SpotQuote => ({ kind: "spot_quote", tsRecv, tsExchange: tsRecv, productId: "BTC-USD", bid, ask, bidSize: 1, askSize: 1, last: bid, seq: 0 });

/** A deterministic random walk at an annual sigma of about 0.5, one mid a second. */
function walk(n: number, start = 65000, seed = 7): number[] {
  let x = seed;
  const rnd = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  const perStep = 0.5 / Math.sqrt(365.25 * 86400);
  const out: number[] = [];
  let m = start;
  for (let i = 0; i < n; i++) {
    const g = Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
    m *= Math.exp(perStep * g);
    out.push(Math.round(m * 100) / 100);
  }
  return out;
}

describe("realized vol", () => {
  it("one stray print during the warm-up does not pin sigma at its cap", () => {
    const mids = walk(1200);
    const vol = createVolEstimator(DEFAULT_ENGINE_CONFIG.vol);
    const clean = createVolEstimator(DEFAULT_ENGINE_CONFIG.vol);
    for (let i = 0; i < mids.length; i++) {
      vol.onMid((1_786_000_000 + i) * S + 500_000, i === 100 ? 1.5 : mids[i]!);
      clean.onMid((1_786_000_000 + i) * S + 500_000, mids[i]!);
    }
    expect(clean.sigma()).toBeLessThan(1);
    // The spike reverted: its two returns count as their net move (m[101]/m[99]) and a zero.
    expect(Math.abs(vol.sigma() / clean.sigma() - 1)).toBeLessThan(0.01); // before: sigma at the cap (5)
  });

  it("one stray print as the first tick after a feed gap does not pin sigma at its cap", () => {
    const mids = walk(1200);
    const vol = createVolEstimator(DEFAULT_ENGINE_CONFIG.vol);
    let t = 1_786_000_000;
    for (let i = 0; i < 600; i++) vol.onMid(t++ * S + 500_000, mids[i]!);
    const before = vol.sigma();
    expect(before).toBeLessThan(1);
    t += 60; // an outage longer than maxGapSeconds: the chain restarts
    vol.onMid(t++ * S + 500_000, 1.5);
    for (let i = 600; i < 1200; i++) vol.onMid(t++ * S + 500_000, mids[i]!);
    expect(vol.sigma()).toBeLessThan(2 * before);
  });
});

describe("BRTI proxy and the priced spot", () => {
  it("a stray print as the last quote of one second of the final minute leaves the 60-s average at its hand value", () => {
    const f = new SpotFeatures(DEFAULT_ENGINE_CONFIG);
    const close = 1_786_000_200 * S;
    for (let t = close - 120 * S; t <= close; t += 250_000) f.onEvent(t === close - 30 * S + 750_000 ? q(t, 1, 2) : q(t, 64999.99, 65000.01));
    const w = f.index.observed(close, close);
    expect(w.count).toBe(60);
    expect(w.sum / w.count).toBeCloseTo(65000, 6); // before: 65,000 − 1,083
    expect(f.acceptedQuote?.bid).toBe(64999.99);
  });

  it("a real new level far from the old one is taken once it held for SPOT_CONFIRM_US", () => {
    const g = new SpotMidGuard();
    expect(g.accept(0, 65000)).toBe(true);
    const far = 65000 * (1 + 2 * MAX_SPOT_JUMP);
    expect(g.accept(1 * S, far)).toBe(false);
    expect(g.accept(1 * S + SPOT_CONFIRM_US - 1, far + 1)).toBe(false);
    expect(g.accept(1 * S + SPOT_CONFIRM_US, far + 2)).toBe(true);
    expect(g.accept(1 * S + SPOT_CONFIRM_US + 1, 65000)).toBe(false); // the old level is now the stray one
    expect(g.held).toBe(3);
    // A window fed through a stray print keeps the second's earlier quote.
    const w = new IndexWindow(60);
    w.onSpotMid(10 * S, 65000);
    w.onSpotMid(10 * S + 500_000, 1.5);
    expect(w.observed(10 * S, 10 * S).sum).toBe(65000);
  });
});

describe("the engine", () => {
  it("prices from the same spot as if the stray print had repeated the last quote, and trades nothing from it", async () => {
    const { TradingSession } = await import("../../lib/run/session.ts");
    const { marketInfo, snapshot, spotWalk, merge, T0 } = await import("../helpers/scenario.ts");
    const M = "KXBTCD-26NOV2517-T100000";
    const run = (stray: boolean) => {
      const records: import("../../lib/core/records.ts").AuditRecord[] = [];
      const s = new TradingSession({ config: DEFAULT_ENGINE_CONFIG, executor: "sim", tradingEnabled: true, onRecord: (r) => records.push(r), onIntent: () => {} });
      const walkQuotes = spotWalk(900, 100_000, 0.0001, 11);
      // Quote 700 is a stray print in one run; in the oracle run it repeats quote 699's prices (the
      // same instant, so the event-time sweeps fall alike).
      const prev = walkQuotes[699]!;
      const quotes = walkQuotes.map((e, i) => (i !== 700 ? e : stray ? { ...e, bid: 1, ask: 2 } : { ...e, bid: prev.bid, ask: prev.ask }));
      for (const e of merge([marketInfo(M, 100_000, T0 + 3600 * S)], [snapshot(T0 + S, M, 1, 1, [[4800, 1000]], [[5000, 1000]])], quotes)) s.push(e);
      s.finish();
      return records;
    };
    const clean = run(false);
    const dirty = run(true);
    const spots = (rs: typeof clean) => rs.flatMap((r) => (r.kind === "features" ? [r.spot] : []));
    expect(spots(dirty).length).toBeGreaterThan(100);
    expect(spots(dirty)).toEqual(spots(clean));
    // At the stray print's own sweep the spot is in doubt: nothing is traded there.
    const atStray = (rs: typeof clean) => rs.filter((r) => r.kind === "opportunity" && r.ts === T0 + 700 * S);
    expect(atStray(clean).some((r) => r.kind === "opportunity" && r.decision === "trade")).toBe(true);
    expect(atStray(dirty).length).toBeGreaterThan(0);
    expect(atStray(dirty).some((r) => r.kind === "opportunity" && r.decision === "trade")).toBe(false);
  });
});
