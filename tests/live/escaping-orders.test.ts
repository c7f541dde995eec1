/**
 * The live runtime against the fake venues, orders that could escape the run's books: a create still
 * on its way when the kill switch is thrown, and an order an earlier (crashed) run left resting. The
 * fake venue's state is the oracle: nothing of ours may rest after a kill, and a stray order is
 * cancelled, and recorded once.
 */
import { afterEach, expect, it } from "vitest";
import { sleep } from "../../lib/live/clock.ts";
import { placed, startFakes, startRuntime, tradingEnv, waitFor, type Fakes, type Harness } from "./harness.ts";

let fakes: Fakes | null = null;
let h: Harness | null = null;
afterEach(async () => {
  await h?.close().catch(() => {});
  await fakes?.close();
  h = null;
  fakes = null;
});

it("kill while a create is in flight: nothing rests after the run", async () => {
  fakes = await startFakes();
  const env = tradingEnv(fakes, { TRADING_ENABLED: "1", KALSHI_MARKET_TICKERS: fakes.kalshi.state.tickers().slice(0, 1).join(",") });
  // the next create is held 600 ms by the venue (under the harness's 700 ms REST timeout), then rests
  fakes.kalshi.faults.rest("POST /portfolio/events/orders", { kind: "delay", ms: 600 });
  h = await startRuntime("live", env);
  await waitFor("first place intent", () => placed(h!).length >= 1, 15_000, 5);
  h.rt.kill("test kill");
  await h.done;
  const resting = fakes.kalshi.state.orders().filter((o) => o.status === "resting");
  expect(resting).toHaveLength(0);
}, 40_000);

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
