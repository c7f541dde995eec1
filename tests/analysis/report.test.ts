import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as ss from "simple-statistics";
import type { Opportunity } from "../../lib/core/records.ts";
import { evaluateEdge, stageOf } from "../../lib/analysis/edge.ts";
import type { ForecastObs, TradeObs } from "../../lib/analysis/edge.ts";
import { loadForecasts, loadFreeze, loadTrades } from "../../lib/analysis/load.ts";
import { createRng } from "../../lib/analysis/stats.ts";
import { AuditWriter, beginRun, freezeRun, MarketDataWriter, openStore } from "../../lib/store/db.ts";
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
    reason: "EV_BELOW_MIN", detail: "", inputsFresh: true, ...over,
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

  it("never scores an evaluation made on stale inputs (a stale book's mid is not the market's forecast)", async () => {
    const s = await openStore(":memory:");
    const w = new AuditWriter(s, "r1", "replay");
    const settle = T0 + 60 * MIN;
    w.write(opp({ ts: settle - 10 * MIN, evalId: "a", pModel: 0.6, inputsFresh: true }));
    // the book went stale (seq gap) 5 min before settlement: its mid froze while the model moved on
    w.write(opp({ ts: settle - 5 * MIN, evalId: "b", pModel: 0.95, reason: "BOOK_STALE", inputsFresh: false }));
    // a sweep that only cancelled a resting order because the inputs were stale: same thing
    w.write(opp({ ts: settle - 2 * MIN, evalId: "c", pModel: 0.97, reason: "CANCEL_RESTING", detail: "inputs not priceable", inputsFresh: false }));
    w.write({ kind: "settlement", ts: settle, market: "M", result: "yes", source: "venue", settleValue: 2, position: 0, payout: 0, pnl: 0 });
    await w.close();
    expect((await loadForecasts(s, {})).obs.map((o) => o.pModel)).toEqual([0.6]);
    expect((await loadForecasts(s, { forecast: "all" })).obs.map((o) => o.pModel)).toEqual([0.6]);
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
      market: `M${i}`, cluster: String(T0 + Math.floor(i / 2) * 60 * MIN), ts: T0 + Math.floor(i / 2) * 60 * MIN - 10 * MIN, settleTs: T0 + Math.floor(i / 2) * 60 * MIN, pModel, pMarket, y,
      ev: Math.abs(pModel - pMarket) - 0.01, pnl: (pModel > pMarket ? y - pMarket : pMarket - y) - 0.01,
    });
  }
  return out;
}

function tradesOf(obs: readonly ForecastObs[], evMin = 0.03): TradeObs[] {
  return obs.filter((o) => o.ev >= evMin).map((o) => ({ market: o.market, entryTs: o.ts, settleTs: o.settleTs, pnl: o.pnl, contracts: 1 }));
}

describe("evaluateEdge", () => {
  it("maps independent settlement clusters (not markets) to stages", () => {
    expect([9, 10, 19, 20, 29, 30].map(stageOf)).toEqual([
      "noise", "kill-bad-models", "kill-bad-models", "calibration-tests", "calibration-tests", "oos-confirmation",
    ]);
    // 600 markets but only 5 settlement times: still noise
    const obs = synthObs(600, 0.05, 0.7, 4).map((o, i) => ({ ...o, settleTs: T0 + (i % 5) * 60 * MIN, cluster: String(T0 + (i % 5) * 60 * MIN) }));
    const r = evaluateEdge(obs, tradesOf(obs), { freezeTs: T0 - 1 });
    expect(r.stage).toBe("noise");
    expect(r.verdict).toBe("no edge shown");
    expect(r.verdictLine).toMatch(/sample too small/);
  });

  it("finds out-of-sample edge for a much sharper model only after a freeze, none for the market's own forecasts", () => {
    const good = synthObs(800, 0.05, 0.7, 2);
    const unfrozen = evaluateEdge(good, tradesOf(good));
    expect(unfrozen.outOfSample).toBeNull();
    expect(unfrozen.verdict).toBe("edge in-sample only");
    expect(unfrozen.notes.join(" ")).toMatch(/not frozen/);
    const freezeTs = good[400]!.settleTs;
    const frozen = evaluateEdge(good, tradesOf(good), { freezeTs });
    expect(frozen.verdict).toBe("edge out-of-sample");
    // only decisions made after the freeze (hence settling after it) are out of sample
    expect(frozen.outOfSample!.forecasts!.n).toBe(good.filter((o) => o.ts > freezeTs).length);
    expect(frozen.powerLine).toMatch(/detectable mean PnL ≥ \$/);
    const same = synthObs(500, 0.3, 0.3, 3).map((o) => ({ ...o, pModel: o.pMarket, ev: -0.01 }));
    expect(evaluateEdge(same, tradesOf(same), { freezeTs: T0 }).verdict).toBe("no edge shown");
  });

  it("a decision made before the freeze is never out of sample, even when its market settles after it", () => {
    // Freezing while open positions are already winning must not turn them into out-of-sample wins.
    const good = synthObs(800, 0.05, 0.7, 2);
    const freezeTs = good[400]!.settleTs;
    // every decision (forecast and entry) was made before the freeze; half the markets settle after it
    const early = good.map((o) => ({ ...o, ts: Math.min(o.ts, freezeTs - 1) }));
    const r = evaluateEdge(early, tradesOf(early), { freezeTs });
    expect(r.outOfSample!.forecasts).toBeNull();
    expect(r.outOfSample!.pnl.trades).toBe(0);
    expect(r.verdict).not.toBe("edge out-of-sample");
    const after = early.filter((o) => o.settleTs > freezeTs).length;
    expect(r.notes.join(" ")).toContain(`${after} forecasts`);
    // the freeze between a decision and its settlement: that market is in neither part
    const mid = good[500]!;
    const split = evaluateEdge(good, tradesOf(good), { freezeTs: mid.ts + 1 });
    const straddling = good.filter((o) => o.ts <= mid.ts + 1 && o.settleTs > mid.ts + 1).length;
    expect(straddling).toBeGreaterThan(0);
    expect(split.outOfSample!.forecasts!.n).toBe(good.filter((o) => o.ts > mid.ts + 1).length);
    expect(split.inSample.forecasts!.n).toBe(good.filter((o) => o.settleTs <= mid.ts + 1).length);
    // a trade whose first order came before the freeze is not out of sample either
    const trades = tradesOf(good).map((t) => (t.settleTs > freezeTs ? { ...t, entryTs: freezeTs - 1 } : t));
    expect(evaluateEdge(good, trades, { freezeTs }).outOfSample!.pnl.trades).toBe(0);
  });

  it("constant forecasts are never 'calibrated' (Spiegelhalter's NaN used to count as a pass)", () => {
    const obs = synthObs(300, 0.1, 0.5, 5).map((o) => ({ ...o, pModel: 0.5 }));
    const r = evaluateEdge(obs, tradesOf(obs));
    expect(r.inSample.forecasts!.calibration.pValue).toBeNaN();
    expect(r.inSample.forecasts!.calibrated).toBe(false);
    expect(r.inSample.edge).toBe(false);
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
    expect(readFileSync(join(out, "index.html"), "utf8")).toMatch(/sample too small/);
    await expect(runReport(["--db", join(dir, "empty.duckdb"), "--run", "x", "--from", "2026-01-01"])).rejects.toThrow(/either/);
    await expect(runReport(["--db", join(dir, "empty.duckdb"), "--from", "01/02/2026"])).rejects.toThrow();
  });
});

describe("trades, freezes and the report on a replay", () => {
  it("loadTrades nets fills, exact fees and the settlement payout per market (hand arithmetic)", async () => {
    const s = await openStore(":memory:");
    const w = new AuditWriter(s, "r1", "replay");
    const settle = T0 + 60 * MIN;
    w.write(opp({ market: "A", settleTime: settle }));
    w.write(opp({ market: "B", settleTime: settle }));
    const fill = (market: string, action: "buy" | "sell", price: number, count: number, fee: number) => ({
      kind: "fill_record" as const, ts: settle - MIN, tradeId: `${market}${action}${price}`, clientOrderId: null, orderId: "o", market, outcome: "yes" as const,
      action, price, count, fee, isTaker: true, positionAfter: 0,
    });
    // A: buy 10 YES at $0.40 (fee $0.0175 per the rounding of the day: 1750 µ$), settles YES → payout $10
    // its order was placed 30 min before the fill: that is when the trade was decided (entryTs)
    w.write({
      kind: "order", ts: settle - 30 * MIN, clientOrderId: "cA", orderId: null, market: "A", outcome: "yes", action: "buy", bookSide: "ask",
      yesPrice: 4000, count: 1000, filled: 0, status: "pending", reason: "entry", evalId: "e1",
    });
    w.write(fill("A", "buy", 4000, 1000, 1750));
    w.write({ kind: "settlement", ts: settle, market: "A", result: "yes", source: "venue", settleValue: 2, position: 1000, payout: 10_000_000, pnl: 6_000_000 });
    // B: buy 5 at $0.55, sell 5 at $0.60 before settlement (fees 100 + 90 µ$), payout 0
    w.write(fill("B", "buy", 5500, 500, 100));
    w.write(fill("B", "sell", 6000, 500, 90));
    w.write({ kind: "settlement", ts: settle, market: "B", result: "no", source: "venue", settleValue: 2, position: 0, payout: 0, pnl: 0 });
    // C: bought, never settled → not counted
    w.write(fill("C", "buy", 5000, 100, 10));
    await w.close();
    const { trades, unsettled } = await loadTrades(s, { runId: "r1" });
    expect(unsettled).toBe(1);
    expect(trades.map((t) => [t.market, t.settleTs, t.contracts])).toEqual([["A", settle, 10], ["B", settle, 5]]);
    // entry = first order record, else first fill (B kept no order record)
    expect(trades.map((t) => t.entryTs)).toEqual([settle - 30 * MIN, settle - MIN]);
    expect(trades[0]!.pnl).toBeCloseTo(10 - 4 - 0.00175, 12);
    expect(trades[1]!.pnl).toBeCloseTo(-2.75 + 3 - 0.0001 - 0.00009, 12);
    await s.close();
  });

  it("a freeze is keyed by the config hash, and the first freeze date wins", async () => {
    const s = await openStore(":memory:");
    await beginRun(s, { runId: "a", mode: "replay", startedTs: 1, configJson: '{"x":1,"y":{"b":2,"a":1}}' });
    await beginRun(s, { runId: "b", mode: "replay", startedTs: 2, configJson: '{"y":{"a":1,"b":2},"x":1}' }); // same config, other key order
    const f1 = await freezeRun(s, "a", 1000);
    const f2 = await freezeRun(s, "b", 5000);
    expect(f2.configHash).toBe(f1.configHash);
    expect(f2.frozenUs).toBe(1000);
    expect((await loadFreeze(s, "b")).frozenUs).toBe(1000);
    expect((await loadFreeze(s, "nope")).frozenUs).toBeNaN();
    await expect(freezeRun(s, "nope", 1)).rejects.toThrow(/no run/);
    await s.close();
  });

  it("npm run report on a replay of the bundled tape prints the verdict, the power line and the model tournament", () => {
    const db = join(dir, "replay.duckdb");
    execFileSync("npx", ["tsx", "runners/replay.ts", "--db", db, "--run-id", "rep1"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const frozen = execFileSync("npx", ["tsx", "runners/report.ts", "--db", db, "--freeze", "rep1"], { encoding: "utf8" });
    expect(frozen).toMatch(/frozen config/);
    const out = execFileSync("npx", ["tsx", "runners/report.ts", "--db", db, "--run", "rep1", "--out", join(dir, "rep1")], { encoding: "utf8" });
    expect(out).toMatch(/^Verdict: /m);
    expect(out).toMatch(/^Power: .*detectable mean PnL/m);
    // frozen just now: the recorded settlements all lie before the freeze → judged in-sample, no OOS claim
    expect(out).not.toMatch(/edge out-of-sample \(/);
    expect(out).toMatch(/tournament \(\d+ settled markets/);
    for (const m of ["diffusion", "student-t", "jump-robust", "market-implied", "ewma-lognormal", "market"]) expect(out).toContain(m);
  }, 120_000);
});

describe("report --sweep: SPA across the configs of a merged sweep store", () => {
  it("per-config PnL by settlement time from the store (hand arithmetic), $0 where a config did not trade, and SPA over the configs", async () => {
    const sweepDir = join(dir, "sweep-hand");
    mkdirSync(sweepDir, { recursive: true });
    writeFileSync(join(sweepDir, "summary.json"), JSON.stringify({ configs_tried: 2 }));
    const s = await openStore(join(sweepDir, "sweep.duckdb"));
    const HOUR = 60 * MIN;
    const times = [6, 12, 18, 24, 30, 36].map((h) => T0 + h * HOUR);
    const yes = [true, false, true, true, false, true];
    // config A buys 1 YES at $0.40 (no fee) at every settlement time: +$0.60 or −$0.40; config B never trades
    for (const [run, variant, day] of [["rA1", "vA", 0], ["rA2", "vA", 1], ["rB1", "vB", 0], ["rB2", "vB", 1]] as const) {
      await s.connection.run(
        `INSERT INTO sweep_results VALUES ('j${day}', '${run}', '${variant}', '${variant === "vA" ? "A" : "B"}', 'd', 'd', 't', 'c', 0, 0, 0, 0, 0, 0, 0, NULL, NULL, '{}', '{}')`,
      );
      const w = new AuditWriter(s, run, "replay");
      for (let i = 3 * day; i < 3 * day + 3; i++) {
        const market = `M${i}`;
        w.write(opp({ ts: times[i]! - 10 * MIN, market, eventTicker: `E${i}`, settleTime: times[i]! }));
        const traded = variant === "vA";
        if (traded) {
          w.write({ kind: "fill_record", ts: times[i]! - 5 * MIN, tradeId: `${run}${i}`, clientOrderId: null, orderId: "o", market, outcome: "yes", action: "buy", price: 4000, count: 100, fee: 0, isTaker: true, positionAfter: 100 });
        }
        w.write({ kind: "settlement", ts: times[i]!, market, result: yes[i] ? "yes" : "no", source: "venue", settleValue: 1, position: traded ? 100 : 0, payout: traded && yes[i] ? 1_000_000 : 0, pnl: 0 });
      }
      await w.close();
    }
    await s.close();
    const { sweep, report } = await runReport(["--sweep", sweepDir, "--run", "rA1", "--out", join(dir, "sweep-hand-report")]);
    expect(report.inSample.pnl.sharpe.trials).toBe(2);
    const sw = sweep!;
    expect(sw.times).toBe(6);
    const a = sw.configs.find((c) => c.name === "A")!;
    const b = sw.configs.find((c) => c.name === "B")!;
    const pnlA = yes.map((y) => (y ? 0.6 : -0.4));
    expect(a.tradedTimes).toBe(6);
    expect(a.totalPnl).toBeCloseTo(1.6, 9);
    expect(b.tradedTimes).toBe(0);
    expect(b.totalPnl).toBe(0);
    // by hand: mean 4/15, deviations 1/3 (×4) and −2/3 (×2) → sample variance (4/9 + 8/9)/5 = 4/15
    const tA = (4 / 15) / Math.sqrt(4 / 15 / 6);
    expect(ss.mean(pnlA)).toBeCloseTo(4 / 15, 12);
    expect(a.t).toBeCloseTo(tA, 9);
    expect(sw.spa!.m).toBe(2);
    expect(sw.best).toBe("vA");
    expect(sw.spa!.stat).toBeCloseTo(tA, 9);
    expect(sw.spa!.pSpa).toBeGreaterThan(0.05); // t ≈ 1.26 over 6 times is no evidence
    const html = readFileSync(join(dir, "sweep-hand-report", "index.html"), "utf8");
    expect(html).toContain("Configs of the sweep (data snooping)");
    expect(JSON.parse(readFileSync(join(dir, "sweep-hand-report", "summary.json"), "utf8")).sweep.configs).toHaveLength(2);
  });
});
