import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Opportunity } from "../../lib/core/records.ts";
import { evaluateEdge, stageOf } from "../../lib/analysis/edge.ts";
import type { ForecastObs } from "../../lib/analysis/edge.ts";
import { loadForecasts } from "../../lib/analysis/load.ts";
import { createRng } from "../../lib/analysis/stats.ts";
import { AuditWriter, MarketDataWriter, openStore } from "../../lib/store/db.ts";
import { runReport } from "../../runners/report.ts";

const dir = mkdtempSync(join(tmpdir(), "report-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse("2026-02-01T00:00:00Z") * 1000;
const MIN = 60e6;

function opp(over: Partial<Opportunity>): Opportunity {
  return {
    kind: "opportunity", ts: T0, evalId: "e", market: "M", eventTicker: "E", strikeType: "greater", floorStrike: 1, capStrike: NaN,
    settleTime: T0 + 60 * MIN, spot: 1, tauSeconds: 60, sigma: 0.5, pModel: 0.5, yesBid: 4900, yesAsk: 5100, noBid: 4900, noAsk: 5100,
    pMarketBid: 0.49, pMarketAsk: 0.51, pMarketMid: 0.5, costYes: 0.01, costNo: 0.01, evYes: 0, evNo: 0, side: null, decision: "skip",
    reason: "EV_BELOW_MIN", detail: "", ...over,
  };
}

describe("loadForecasts", () => {
  it("picks the last evaluation before the cutoff and prefers the run's own outcome", async () => {
    const s = await openStore(":memory:");
    const w = new AuditWriter(s, "r1", "replay");
    const settle = T0 + 60 * MIN;
    w.write(opp({ ts: settle - 30 * MIN, evalId: "a", pModel: 0.3 }));
    w.write(opp({ ts: settle - 10 * MIN, evalId: "b", pModel: 0.6, evYes: 0.05, yesAsk: 5200, costYes: 0.02 }));
    w.write(opp({ ts: settle - 2 * MIN, evalId: "c", pModel: 0.9 }));
    w.write(opp({ ts: settle - 1 * MIN, evalId: "d", pModel: NaN })); // not scored: no model probability
    w.write(opp({ market: "U", eventTicker: "E2", ts: settle - 5 * MIN })); // never resolved
    w.write({ kind: "settlement", ts: settle, market: "M", result: "yes", source: "venue", settleValue: 2, position: 0, payout: 0, pnl: 0 });
    await w.close();
    // a different run (the collector) recorded the opposite result: the run's own outcome wins
    const md = new MarketDataWriter(s, "c1");
    md.write({ kind: "market_lifecycle", tsRecv: settle + MIN, tsExchange: null, market: "M", phase: "settled", result: "no", settlementValue: 0, expirationValue: NaN, closeTime: -1, sid: 1, seq: 1 });
    await md.close();

    const last = await loadForecasts(s, { cutoffMinutes: 5 });
    expect(last.obs).toHaveLength(1);
    expect(last.unresolved).toBe(1);
    const o = last.obs[0]!;
    expect(o.pModel).toBe(0.6); // "b" is the last one ≥ 5 min before settlement
    expect(o.y).toBe(1);
    // YES leg chosen (evYes .05 > evNo 0): pnl = 1 − .52 − .02 = .46
    expect(o.ev).toBeCloseTo(0.05, 12);
    expect(o.pnl).toBeCloseTo(0.46, 12);
    const noCut = await loadForecasts(s, {});
    expect(noCut.obs[0]!.pModel).toBe(0.9);
    const all = await loadForecasts(s, { forecast: "all" });
    expect(all.obs.map((x) => x.pModel)).toEqual([0.3, 0.6, 0.9]);
    // a market only the other run resolved falls back to that outcome
    const w2 = new AuditWriter(s, "r2", "paper");
    w2.write(opp({ ts: settle - 3 * MIN, pModel: 0.2 }));
    await w2.close();
    const r2 = await loadForecasts(s, { runId: "r2" });
    expect(r2.obs[0]!.y).toBe(0);
    await s.close();
  });
});

function synthObs(n: number, modelNoise: number, marketNoise: number, seed: number): ForecastObs[] {
  const rng = createRng(seed);
  const out: ForecastObs[] = [];
  for (let i = 0; i < n; i++) {
    const truth = rng();
    const y = rng() < truth ? 1 : 0;
    const clip = (x: number) => Math.min(0.99, Math.max(0.01, x));
    const pModel = clip(truth + (rng() - 0.5) * modelNoise);
    const pMarket = clip(truth + (rng() - 0.5) * marketNoise);
    out.push({
      market: `M${i}`, cluster: `E${Math.floor(i / 2)}`, ts: T0 + i * 60 * MIN - 10 * MIN, settleTs: T0 + i * 60 * MIN, pModel, pMarket, y,
      ev: Math.abs(pModel - pMarket) - 0.01, pnl: (pModel > pMarket ? y - pMarket : pMarket - y) - 0.01,
    });
  }
  return out;
}

describe("evaluateEdge", () => {
  it("maps sample sizes to stages", () => {
    expect([99, 100, 299, 300, 399, 400].map(stageOf)).toEqual([
      "noise", "kill-bad-models", "kill-bad-models", "calibration-tests", "calibration-tests", "oos-confirmation",
    ]);
  });

  it("says the sample is too small below 100 even when the model is better", () => {
    const r = evaluateEdge(synthObs(60, 0.05, 0.6, 1));
    expect(r.verdict).toBe("no edge shown");
    expect(r.verdictLine).toMatch(/sample too small/);
  });

  it("finds out-of-sample edge for a much sharper model, none for the same forecasts", () => {
    const good = evaluateEdge(synthObs(800, 0.05, 0.7, 2));
    expect(good.outOfSample!.n).toBeGreaterThanOrEqual(100);
    expect(good.all!.beatsMarket).toBe(true);
    expect(good.verdict).toBe("edge out-of-sample");
    const same = synthObs(500, 0.3, 0.3, 3).map((o) => ({ ...o, pModel: o.pMarket, ev: -0.01, pnl: o.pnl }));
    expect(evaluateEdge(same).verdict).toBe("no edge shown");
  });
});

describe("runners/report.ts", () => {
  async function storeWith(n: number, name: string): Promise<string> {
    const path = join(dir, `${name}.duckdb`);
    const s = await openStore(path);
    const w = new AuditWriter(s, "r1", "replay");
    for (const o of synthObs(n, 0.1, 0.5, 9)) {
      w.write(opp({
        ts: o.ts, market: o.market, eventTicker: o.cluster, settleTime: o.settleTs, pModel: o.pModel, pMarketMid: o.pMarket,
        yesAsk: Math.round(o.pMarket * 100) * 100, noAsk: 10000 - Math.round(o.pMarket * 100) * 100, evYes: o.pModel - o.pMarket, evNo: o.pMarket - o.pModel,
      }));
      w.write({ kind: "settlement", ts: o.settleTs, market: o.market, result: o.y ? "yes" : "no", source: "venue", settleValue: 1, position: 0, payout: 0, pnl: 0 });
    }
    await w.close();
    await s.close();
    return path;
  }

  it("renders a report with PNG charts even for a tiny sample", async () => {
    const db = await storeWith(12, "tiny");
    const out = join(dir, "tiny-report");
    const { report } = await runReport(["--db", db, "--run", "r1", "--out", out]);
    expect(report.n).toBe(12);
    const html = readFileSync(join(out, "index.html"), "utf8");
    expect(html).toMatch(/sample too small/);
    for (const c of ["reliability", "ev_bins", "cum_pnl", "cum_brier", "sample_counts"]) {
      expect(html).toContain(`<figure><svg`);
      const png = readFileSync(join(out, `${c}.png`));
      expect([...png.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]); // PNG signature
      expect(existsSync(join(out, `${c}.svg`))).toBe(true);
    }
  });

  it("renders an empty store and rejects contradictory flags", async () => {
    const out = join(dir, "empty-report");
    const { report } = await runReport(["--db", join(dir, "empty.duckdb"), "--out", out, "--from", "2026-01-01", "--to", "2026-01-02"]);
    expect(report.n).toBe(0);
    expect(readFileSync(join(out, "index.html"), "utf8")).toMatch(/n = 0 &lt; 100|n = 0 < 100/);
    await expect(runReport(["--db", join(dir, "empty.duckdb"), "--run", "x", "--from", "2026-01-01"])).rejects.toThrow(/either/);
    await expect(runReport(["--db", join(dir, "empty.duckdb"), "--from", "01/02/2026"])).rejects.toThrow();
  });
});
