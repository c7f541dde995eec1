/**
 * Paper trading on the ROLLING fake (2-s windows × 11): every window is evaluated with the strike its
 * metadata_updated announced, every position settles at the venue's result, and the settlement PnL
 * equals an independent recomputation from the fills and the FAKE's results (YES-book cash flows,
 * no lots, no netting — lib/core/portfolio.ts is not used).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FillRecord } from "../../lib/core/records.ts";
import { PRICE_ONE } from "../../lib/core/units.ts";
import { startRuntime, type Harness } from "../live/harness.ts";
import { WINDOWS, WINDOW_S, enginePnl, independentPnl, knowable, opportunities, rollingEnv, startRollingFakes, type RollingFakes, type YesBookFill } from "./helpers.ts";

let f: RollingFakes;
let h: Harness;

beforeAll(async () => {
  f = await startRollingFakes(31);
  h = await startRuntime("paper", rollingEnv(f, { EXITS_ENABLED: "0" }), { seconds: WINDOWS * WINDOW_S + 1.5 });
  await h.done;
}, 60_000);

afterAll(async () => {
  await h?.close();
  await f?.close();
});

/** A paper fill in YES-book terms. */
function yesBook(r: FillRecord): YesBookFill {
  const buysYes = (r.outcome === "yes") === (r.action === "buy");
  const yesPrice = r.outcome === "yes" ? r.price : PRICE_ONE - r.price;
  return { market: r.market, bookSide: buysYes ? "bid" : "ask", yesPrice, count: r.count, fee: r.fee };
}

describe("paper on rolling markets", () => {
  test("every window is evaluated, with the strike the venue announced", () => {
    const opps = opportunities(h.records);
    const windows = knowable(f.kalshi).filter((m) => m.history!.strikeMs > 0 && m.history!.closedMs > 0);
    expect(windows.length).toBeGreaterThanOrEqual(10);
    for (const m of windows) {
      const mine = opps.filter((o) => o.market === m.ticker && !Number.isNaN(o.floorStrike));
      expect(mine.length, m.ticker).toBeGreaterThan(0);
      expect(new Set(mine.map((o) => o.floorStrike)), m.ticker).toEqual(new Set([m.floorStrike]));
    }
    // Nothing is traded before the strike is known.
    expect(opps.filter((o) => o.decision === "trade" && Number.isNaN(o.floorStrike))).toEqual([]);
  });

  test("positions settle at the venue's result; settlement PnL = the independent recomputation", () => {
    const fills = h.records.filter((r): r is FillRecord => r.kind === "fill_record");
    const traded = [...new Set(fills.map((x) => x.market))];
    expect(traded.length).toBeGreaterThanOrEqual(3);
    let checked = 0;
    for (const market of traded) {
      const m = f.kalshi.state.markets.get(market)!;
      if (m.history!.determinedMs < 0 || m.result === "") continue;
      const { total, settlement } = enginePnl(h.records, market);
      const net = fills.filter((x) => x.market === market).reduce((a, x) => a + (yesBook(x).bookSide === "bid" ? x.count : -x.count), 0);
      if (net === 0 && settlement === null) continue; // flat before settlement
      expect(settlement, market).not.toBeNull();
      expect(settlement!.result, market).toBe(m.result);
      expect(settlement!.source).toBe("venue");
      expect(settlement!.position, market).toBe(net);
      expect(total, market).toBe(independentPnl(fills.filter((x) => x.market === market).map(yesBook), m.result as "yes" | "no"));
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  });
});
