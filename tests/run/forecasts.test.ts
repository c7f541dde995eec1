import { describe, expect, it } from "vitest";
import { DEFAULT_ENGINE_CONFIG, mergeEngineConfig } from "../../lib/core/config.ts";
import { defaultModelRegistry } from "../../lib/core/models.ts";
import { probabilityYes } from "../../lib/core/probability.ts";
import type { ForecastRecord, Opportunity } from "../../lib/core/records.ts";
import { Engine } from "../../lib/core/engine.ts";
import { ForecastRecorder } from "../../lib/run/forecasts.ts";
import { ForecastWriter, openStore, queryObjects } from "../../lib/store/db.ts";

const T0 = Date.parse("2026-02-01T00:00:00Z") * 1000;
const S = 1e6;
const cfg = DEFAULT_ENGINE_CONFIG;
const reg = defaultModelRegistry();

function opp(over: Partial<Opportunity>): Opportunity {
  return {
    kind: "opportunity", ts: T0, evalId: "e", market: "M", eventTicker: "E", strikeType: "greater", floorStrike: 100_000, capStrike: NaN,
    settleTime: T0 + 1800 * S, spot: 100_000, tauSeconds: 1800, sigma: 0.5, pModel: 0.5, yesBid: 4900, yesAsk: 5100, noBid: 4900, noAsk: 5100,
    pMarketBid: 0.49, pMarketAsk: 0.51, pMarketMid: 0.5, costYes: 0.01, costNo: 0.01, evYes: 0, evNo: 0, side: null, decision: "skip",
    reason: "EV_BELOW_MIN", detail: "", inputsFresh: true, ...over,
  };
}

describe("ForecastRecorder", () => {
  const models = ["diffusion", "student-t", "market-implied", "ewma-lognormal"].map((m) => reg.create(m, cfg.model));

  it("writes one row per model with the inputs that re-price it, peers from the same settlement instant only", () => {
    const rows: ForecastRecord[] = [];
    const rec = new ForecastRecorder(models, cfg, (r) => rows.push(r));
    const flat = { ...cfg.model, sigmaFloor: 0, shrinkToHalf: 0 };
    const strikes = [99_000, 99_600, 100_000, 100_400, 101_000];
    const mid = (K: number) => probabilityYes({ spot: 100_000, sigma: 0.7, now: T0, settleTime: T0 + 1800 * S, strikeType: "greater", floorStrike: K, capStrike: NaN, observedSum: 0, observedCount: 0 }, flat);
    for (const K of strikes) rec.onOpportunity(opp({ market: `M${K}`, floorStrike: K, pMarketMid: K === 100_000 ? 0.99 : mid(K) }), { sum: 0, count: 0 });
    // another settlement time at the same instant: its wild mids must not enter the fit
    rec.onOpportunity(opp({ market: "X", settleTime: T0 + 3600 * S, pMarketMid: 0.01 }), { sum: 0, count: 0 });
    rec.finish();
    expect(rows).toHaveLength(6 * models.length);
    const at = (m: string, market: string) => rows.find((r) => r.model === m && r.market === market)!;
    const r = at("diffusion", "M100400");
    // re-price from the stored inputs
    expect(probabilityYes({ spot: r.spot, sigma: r.sigma, now: r.ts, settleTime: r.settleTime, strikeType: r.strikeType, floorStrike: r.floorStrike, capStrike: r.capStrike, observedSum: r.observedSum, observedCount: r.observedCount }, cfg.model)).toBe(r.p);
    // the held-out strike's own (absurd) mid does not move its market-implied price: σ comes from the others
    expect(at("market-implied", "M100000").p).toBeCloseTo(mid(100_000), 4);
    // the lone market of the other settlement time has no peers → no benchmark
    expect(at("market-implied", "X").p).toBeNaN();
    expect(at("ewma-lognormal", "X").p).toBeGreaterThan(0);
  });

  it("emits at most one row per market per interval of event time", () => {
    const rows: ForecastRecord[] = [];
    const rec = new ForecastRecorder(models.slice(0, 1), cfg, (r) => rows.push(r), { intervalSeconds: 30 });
    for (let i = 0; i < 13; i++) rec.onOpportunity(opp({ ts: T0 + i * 5 * S }), { sum: 0, count: 0 });
    rec.finish();
    expect(rows.map((r) => (r.ts - T0) / S)).toEqual([0, 30, 60]);
  });

  it("round-trips through the forecasts table", async () => {
    const s = await openStore(":memory:");
    const w = new ForecastWriter(s, "r1", "replay");
    const rec = new ForecastRecorder(models, cfg, (r) => w.write(r));
    rec.onOpportunity(opp({}), { sum: 0, count: 0 });
    rec.finish();
    await w.close();
    const got = await queryObjects(s, "SELECT model, p, settle_time_us, strike_type FROM forecasts ORDER BY model");
    expect(got.map((g) => g.model)).toEqual(["diffusion", "ewma-lognormal", "market-implied", "student-t"]);
    expect(got[2]!.p).toBeNull(); // one market alone: no market-implied price, stored as NULL
    expect(got[0]!.settle_time_us).toBe(T0 + 1800 * S);
    await s.close();
  });
});

describe("the engine trades on cfg.model.name", () => {
  it("resolves the name through the registry (user models too) and refuses unknown names", () => {
    const sink = { intent() {}, record() {} };
    expect(() => new Engine(mergeEngineConfig(cfg, { model: { name: "nope" } }), sink)).toThrow(/unknown probability model/);
    const r = defaultModelRegistry().register("half", () => ({ name: "half", probability: () => 0.5 }));
    expect(() => new Engine(mergeEngineConfig(cfg, { model: { name: "half" } }), sink, 0, { registry: r })).not.toThrow();
    expect(DEFAULT_ENGINE_CONFIG.model.name).toBe("student-t");
  });
});
