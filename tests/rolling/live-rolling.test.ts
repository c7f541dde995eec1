/**
 * LIVE (TRADING_ENABLED=1) on the ROLLING fake (2-s windows × 11), resting maker orders. Checked
 * against the FAKE's own records: no create ever reached a market that was not open, no order of ours
 * rests on a closed market and our engine knows them all gone, no subscribe named a market more than
 * 5 s after it closed, and the settlement PnL equals a recomputation from the fake's fills and results.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startRuntime, type Harness } from "../live/harness.ts";
import { WINDOWS, WINDOW_S, enginePnl, independentPnl, knowable, rollingEnv, startRollingFakes, type RollingFakes } from "./helpers.ts";

let f: RollingFakes;
let h: Harness;

beforeAll(async () => {
  f = await startRollingFakes(53);
  h = await startRuntime("live", rollingEnv(f, {
    TRADING_ENABLED: "1", EXECUTION: "maker", EXITS_ENABLED: "0", REPRICE_ENABLED: "0",
    // Half a second of margin before each close, as production's default 120 s margin gives: with
    // none, an order decided in the last milliseconds on a loaded machine reached the fake after close.
    NO_NEW_ENTRIES_LAST_SECONDS: "0.5",
  }), { seconds: WINDOWS * WINDOW_S + 1.5 });
  await h.done;
}, 60_000);

afterAll(async () => {
  await h?.close();
  await f?.close();
});

describe("live on rolling markets", () => {
  test("orders were placed on several windows, and none reached a market that was not open", () => {
    const attempts = f.kalshi.state.createAttempts;
    expect(new Set(attempts.map((a) => a.ticker)).size).toBeGreaterThanOrEqual(3);
    expect(attempts.filter((a) => a.status !== "active")).toEqual([]);
    for (const a of attempts) {
      const m = f.kalshi.state.markets.get(a.ticker)!;
      expect(a.ms, a.ticker).toBeLessThan(m.closeMs);
    }
  });

  test("no order of ours rests on a closed market, and the engine knows them all gone", () => {
    const closed = new Set([...f.kalshi.state.markets.values()].filter((m) => m.status !== "active").map((m) => m.ticker));
    expect(f.kalshi.state.orders().filter((o) => o.status === "resting" && closed.has(o.ticker))).toEqual([]);
    const open = h.rt.session.engine.orders.open().filter((o) => closed.has(o.market));
    expect(open.map((o) => [o.market, o.status])).toEqual([]);
  });

  test("0 subscribe commands name a market more than 5 s after it closed", () => {
    const k = f.kalshi;
    let adds = 0;
    for (let i = 0; i < k.wsCommands.length; i++) {
      const c = k.wsCommands[i]! as { cmd: string; params?: { action?: string; market_tickers?: string[] } };
      const isAdd = c.cmd === "subscribe" || (c.cmd === "update_subscription" && c.params?.action === "add_markets");
      if (!isAdd) continue;
      for (const t of c.params?.market_tickers ?? []) {
        adds++;
        const m = k.state.markets.get(t)!;
        if (m.history!.closedMs > 0) expect(k.wsCommandTimes[i]! - m.history!.closedMs, t).toBeLessThanOrEqual(5000);
      }
    }
    expect(adds).toBeGreaterThanOrEqual(knowable(k).length);
  });

  test("settlement PnL = the recomputation from the fake's fills and results", () => {
    const fills = f.kalshi.state.fills();
    const traded = [...new Set(fills.map((x) => x.ticker))];
    // Resting maker orders are cancelled inside the last half second, so some windows end unfilled.
    expect(traded.length).toBeGreaterThanOrEqual(1);
    let checked = 0;
    for (const t of traded) {
      const m = f.kalshi.state.markets.get(t)!;
      if (m.status !== "finalized") continue;
      const mine = fills.filter((x) => x.ticker === t).map((x) => ({ market: t, bookSide: x.bookSide, yesPrice: x.yesPrice, count: x.count, fee: x.fee }));
      const { total, settlement } = enginePnl(h.records, t);
      expect(settlement, t).not.toBeNull();
      expect(settlement!.result, t).toBe(m.result);
      expect(total, t).toBe(independentPnl(mine, m.result as "yes" | "no"));
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(1);
  });
});
