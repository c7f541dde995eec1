import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { kxbtc15mCloseUs, parsePolls, runMarketCalibration, summarizeSettlementFile } from "../../lib/analysis/market-study.ts";
import { parseCandleCsv, runSpotCalibration, spotTournament } from "../../lib/analysis/spot-study.ts";
import type { Candle } from "../../lib/analysis/spot-study.ts";

const dir = mkdtempSync(join(tmpdir(), "studies-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Minute candles from 00:00 UTC with a deterministic zig-zag so the vol estimator warms up. */
function candles(hours: number, override?: (i: number, c: Candle) => Candle): Candle[] {
  const t0 = Date.parse("2023-03-01T00:00:00Z") * 1000;
  const out: Candle[] = [];
  let px = 20000;
  for (let i = 0; i < hours * 60; i++) {
    const next = px * (i % 3 === 0 ? 1.0012 : 0.9995);
    const c = { t: t0 + i * 60e6, open: px, high: Math.max(px, next) + 1, low: Math.min(px, next) - 1, close: next };
    out.push(override ? override(i, c) : c);
    px = next;
  }
  return out;
}
const toCsv = (cs: Candle[]) =>
  "open_time,open,high,low,close,volume\n" +
  cs.map((c) => `${new Date(c.t / 1000).toISOString().replace("T", " ").replace(".000Z", "+00:00")},${c.open},${c.high},${c.low},${c.close},1`).join("\n");

describe("spot calibration study", () => {
  it("parses CSV variants and counts bad rows", () => {
    const p = parseCandleCsv("open_time,open,high,low,close,volume\n2023-03-01 00:00:00+00:00,1,2,0.5,1.5,3\n1677628860,1.5,2,1,1.2,1\nbad,1,1,1,1,1\n2023-03-01T00:02:00Z,1,1,1,-1,1\n");
    expect(p.candles.map((c) => c.t)).toEqual([1677628800e6, 1677628860e6]);
    expect(p.rejected).toBe(2);
    expect(p.candleSeconds).toBe(60);
    expect(() => parseCandleCsv("time,o,h,l,c\n")).toThrow(/open/);
  });

  it("settles on the last minute's OHLC/4 and scores the strike ladder", () => {
    const cs = candles(4, (i, c) => (i === 3 * 60 - 1 ? { ...c, open: 100, high: 104, low: 96, close: 100 } : c));
    const r = runSpotCalibration(parseCandleCsv(toCsv(cs)), { ladderK: 2, ladderStep: 0.001, taus: [5] });
    const at3 = r.observations.filter((o) => o.settle === cs[0]!.t + 3 * 3600e6);
    // (100 + 104 + 96 + 100)/4 = 100: far below every strike near 20 000 → all NO
    expect(at3.map((o) => o.settleValue)).toEqual(Array(5).fill(100));
    expect(at3.every((o) => o.y === 0)).toBe(true);
    expect(at3.map((o) => o.k)).toEqual([-2, -1, 0, 1, 2]);
    // spot is the close of the candle that ended at the decision time (H − 5 min)
    const dec = cs.find((c) => c.t + 60e6 === at3[0]!.decision)!;
    expect(at3[0]!.spot).toBe(dec.close);
    expect(at3[2]!.strike).toBe(dec.close);
    for (const o of r.observations) expect(o.p).toBeGreaterThanOrEqual(0);
    // probabilities fall as the strike rises
    for (let k = 1; k < at3.length; k++) expect(at3[k]!.p).toBeLessThan(at3[k - 1]!.p);
    expect(r.n).toBe(r.observations.length);
    expect(r.brier_climatology).toBeCloseTo(r.base_rate * (1 - r.base_rate), 12);
  });

  it("uses only past data: changing candles after the decision leaves p unchanged", () => {
    const base = runSpotCalibration(parseCandleCsv(toCsv(candles(5))), { taus: [30] });
    // Shock everything after 03:31 — the decision at 03:30 for the 04:00 settlement must not see it.
    const cut = Date.parse("2023-03-01T03:31:00Z") * 1000;
    const shocked = runSpotCalibration(parseCandleCsv(toCsv(candles(5, (_, c) => (c.t >= cut ? { ...c, open: c.open * 1.1, high: c.high * 1.1, low: c.low * 1.1, close: c.close * 1.1 } : c)))), { taus: [30] });
    const pick = (r: typeof base) => r.observations.filter((o) => o.decision <= cut - 60e6).map((o) => o.p);
    expect(pick(shocked)).toEqual(pick(base));
    expect(pick(base).length).toBeGreaterThan(0);
  });

  it("CLI --json prints the required fields", () => {
    const file = join(dir, "c.csv");
    writeFileSync(file, toCsv(candles(4)));
    const out = execFileSync("npx", ["tsx", "runners/study.ts", "spot-calibration", "--csv", file, "--json", "--ladder-k", "3"], { encoding: "utf8" });
    const j = JSON.parse(out);
    for (const k of ["n", "brier", "log_loss", "ece", "brier_climatology"]) expect(typeof j[k]).toBe("number");
    // 4 hourly settlements (01:00…04:00) × 4 decision times, minus those before the vol estimator warmed up,
    // each scoring a ladder of 2·3 + 1 = 7 strikes
    expect(j.n).toBe(7 * (16 - j.skipped_decisions));
    expect(j.skipped_decisions).toBeGreaterThan(0); // 00:00 decision has < 60 minute returns
  });
});

describe("spot model tournament", () => {
  it("scores every model beside the baseline, paired, and picks the default on the selection days only", () => {
    const r = runSpotCalibration(parseCandleCsv(toCsv(candles(60))), { taus: [30, 5], ladderK: 3 });
    const t = spotTournament(r, { selectionDays: 1, reps: 200 });
    expect(t.models).toEqual(["diffusion", "student-t", "jump-robust", "ewma-lognormal"]);
    expect(t.baseline).toBe("ewma-lognormal");
    expect(t.split).toBe("2023-03-02T00:00:00.000Z");
    expect(t.selection.n + t.holdout!.n).toBe(t.all.n);
    const base = t.all.scores.find((s) => s.model === "ewma-lognormal")!;
    expect(base.dBrier).toBeNull();
    // the paired difference is the difference of the two Brier scores
    for (const s of t.all.scores.filter((x) => x.dBrier)) expect(s.dBrier!.mean).toBeCloseTo(s.brier - base.brier, 12);
    expect(Object.keys(base.byGroup)).toEqual(["τ=5", "τ=30"]);
    // the choice depends on the selection part only: perturbing the hold-out's outcomes cannot change it
    const flipped = { ...r, observations: r.observations.map((o) => (o.settle >= Date.parse(t.split) * 1000 ? { ...o, y: (1 - o.y) as 0 | 1 } : o)) };
    expect(spotTournament(flipped, { selectionDays: 1, reps: 200 }).chosen).toBe(t.chosen);
  });

  it("on the bundled Binance.US minutes the chosen default is not significantly worse than the baseline out of sample", () => {
    const out = execFileSync("npx", ["tsx", "runners/study.ts", "spot-calibration", "--json"], { encoding: "utf8" });
    const j = JSON.parse(out);
    expect(j.settlements).toBe(335);
    expect(j.tournament.chosen).toBe("student-t");
    expect(j.tournament.chosenHoldsUp).toBe(true);
    const c = j.tournament.holdout.scores.find((s: { model: string }) => s.model === "student-t");
    expect(c.dBrier.hi).toBeLessThan(0);
  }, 60_000);
});

describe("market calibration study", () => {
  it("decodes KXBTC15M close times in EST and EDT", () => {
    // the settlement file lists KXBTC15M-26FEB020300-00 closing 2026-02-02T08:00Z (EST, +5 h)
    expect(kxbtc15mCloseUs("KXBTC15M-26FEB020300-00")).toBe(Date.parse("2026-02-02T08:00:00Z") * 1000);
    // the May README: KXBTC15M-26MAY122315-15 closes 2026-05-13T03:15Z (EDT, +4 h)
    expect(kxbtc15mCloseUs("KXBTC15M-26MAY122315-15")).toBe(Date.parse("2026-05-13T03:15:00Z") * 1000);
    expect(Number.isNaN(kxbtc15mCloseUs("garbage"))).toBe(true);
  });

  it("settles by proxy, joins venue results, scores bid/ask/mid", () => {
    // Market A closes 08:00 (opens 07:45): proxy 100 → 110 → YES; market B closes 08:15: 110 → 105 → NO.
    const row = (t: string, brti: number, ticker: string, bid: number, ask: number) =>
      JSON.stringify({ t, brti, kalshi: { ticker, yes_bid: bid, yes_ask: ask, volume: 1 } });
    const A = "KXBTC15M-26FEB020300-00";
    const B = "KXBTC15M-26FEB020315-15";
    const lines = [
      row("2026-02-02T07:45:00.000000", 100, A, 0.4, 0.6),
      row("2026-02-02T07:52:00.000000", 105, A, 0.6, 0.7),
      row("2026-02-02T07:59:50.000000", 110, A, 0.95, 0.97),
      row("2026-02-02T08:00:10.000000", 110, B, 0.45, 0.55),
      row("2026-02-02T08:10:00.000000", 107, B, 0.2, 0.3),
      row("2026-02-02T08:14:45.000000", 105, B, 0.03, 0.05),
      row("2026-02-02T08:15:10.000000", 105, "KXBTC15M-26FEB020330-30", 0.5, 0.5),
      "not json",
    ].join("\n");
    const settlements = JSON.stringify([{ timestamp: "x", ticker: A, close_time: "2026-02-02T08:00:00Z", settlement_result: "yes", volume: 1 }]);
    const r = runMarketCalibration(lines, settlements, { horizons: [5] });
    expect(r.rejected_rows).toBe(1);
    const oa = r.outcomes.find((o) => o.ticker === A)!;
    const ob = r.outcomes.find((o) => o.ticker === B)!;
    expect([oa.proxy, oa.venue, oa.finalQuote]).toEqual([true, true, true]);
    expect([ob.proxy, ob.venue, ob.finalQuote]).toEqual([false, null, false]);
    expect(r.proxy_vs_venue).toEqual({ compared: 1, agree: 1 });
    // proxy rows: A's 3 polls (y = 1) and B's 3 polls (y = 0); the 08:30 market has no closing proxy
    const c = r.proxy!;
    expect(c.n).toBe(6);
    // Brier at bid = [(.6)² + (.4)² + (.05)² + .45² + .2² + .03²]/6
    expect(c.at.bid.brier).toBeCloseTo((0.36 + 0.16 + 0.0025 + 0.2025 + 0.04 + 0.0009) / 6, 12);
    expect(c.at.mid.brier).toBeCloseTo((0.25 + 0.1225 + 0.0016 + 0.25 + 0.0625 + 0.0016) / 6, 12);
    expect(r.venue!.n).toBe(3);
  });

  it("runs the library's models beside the market on the bundled KXBTC15M polls (paired, clustered by market)", () => {
    const j = JSON.parse(execFileSync("npx", ["tsx", "runners/study.ts", "market-calibration", "--json"], { encoding: "utf8" }));
    const t = j.models_vs_market;
    expect(t.baseline).toBe("market");
    expect(t.clusters).toBe(61);
    expect(t.n).toBeGreaterThan(1500);
    const market = t.scores.find((s: { model: string }) => s.model === "market");
    expect(market.brier).toBeCloseTo(j.proxy.at.mid.brier, 1); // the same polls, minus the cold-σ start
    for (const s of t.scores.filter((x: { model: string }) => x.model !== "market")) expect(s.dBrier.mean).toBeCloseTo(s.brier - market.brier, 12);
  }, 60_000);

  it("parses polls defensively and checks the strike chain", () => {
    expect(parsePolls('{"t":"2026-02-02T00:00:00","brti":1,"kalshi":{"ticker":"X","yes_bid":0.6,"yes_ask":0.5}}').rejected).toBe(1);
    const jsonl = [
      { close_time: "2026-05-13T03:15:00Z", strike: 100, expiration_value: "101.50", result: "yes" },
      { close_time: "2026-05-13T03:30:00Z", strike: 101.5, expiration_value: "99", result: "no" },
      { close_time: "2026-05-13T04:00:00Z", strike: 7, expiration_value: "8", result: "yes" },
    ].map((x) => JSON.stringify(x)).join("\n");
    expect(summarizeSettlementFile(jsonl)).toEqual({ n: 3, yes: 2, strike_chain_ok: 1, strike_chain_checked: 1 });
  });
});
