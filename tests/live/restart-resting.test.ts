/**
 * Crash-restart. A resting order left at the venue by an earlier (crashed) run of this account.
 * The new live run reconciles (REST lists it as resting) — the run must notice it: cancel it, track it,
 * or at least flag it (inconsistency / not ACTIVE). Today it is ignored: no record, no cancel, and
 * it is not counted in open exposure.
 */
import { afterEach, expect, it } from "vitest";
import { sleep } from "../../lib/live/clock.ts";
import { startFakes, startRuntime, tradingEnv, waitFor, type Fakes, type Harness } from "./harness.ts";

let fakes: Fakes | null = null;
let h: Harness | null = null;
afterEach(async () => {
  await h?.close().catch(() => {});
  await fakes?.close();
  h = null; fakes = null;
});

it("a resting order of an earlier run is cancelled at the first reconciliation, and recorded once", async () => {
  fakes = await startFakes();
  const market = fakes.kalshi.state.tickers()[0]!;
  // An earlier run's order: YES bid at 0.05, far below the book (it rests, nothing trades).
  fakes.kalshi.state.createOrder({ ticker: market, side: "bid", count: 1000, price: 500, tif: "good_till_canceled", postOnly: false, reduceOnly: false, clientOrderId: "lprevrun-7" });
  const env = tradingEnv(fakes, { TRADING_ENABLED: "1", KALSHI_MARKET_TICKERS: market, RECONCILE_SECONDS: "1", EV_MIN: "0.99" });
  h = await startRuntime("live", env);
  await waitFor("two reconciliations", () => h!.records.filter((r) => r.kind === "reconciliation").length >= 2, 20_000);
  await sleep(300);
  const venue = fakes.kalshi.state.orderByClientId("lprevrun-7")!;
  // The venue's own state is the oracle: the stray order was cancelled, and recorded once.
  expect(venue.status).toBe("canceled");
  const stray = h.records.filter((r) => r.kind === "inconsistency" && r.issue === "untracked_resting_order");
  expect(stray.length).toBe(1);
  expect(JSON.stringify(stray[0])).toContain(venue.orderId);
}, 40_000);
