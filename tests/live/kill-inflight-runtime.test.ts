/**
 * Runtime level: SIGINT/kill while the first create is held by the venue. After the run ends
 * nothing of ours may rest at the venue (the kill switch's job), whatever the report says.
 */
import { afterEach, expect, it } from "vitest";
import { startFakes, startRuntime, tradingEnv, waitFor, placed, type Fakes, type Harness } from "./harness.ts";

let fakes: Fakes | null = null;
let h: Harness | null = null;
afterEach(async () => {
  await h?.close().catch(() => {});
  await fakes?.close();
  h = null; fakes = null;
});

it("kill while a create is in flight: nothing rests after the run", async () => {
  fakes = await startFakes();
  const env = tradingEnv(fakes, { TRADING_ENABLED: "1", KALSHI_MARKET_TICKERS: fakes.kalshi.state.tickers().slice(0, 1).join(",") });
  // the next create is held 600 ms by the venue (under the harness's 700 ms REST timeout), then rests
  fakes.kalshi.faults.rest("POST /portfolio/events/orders", { kind: "delay", ms: 600 });
  h = await startRuntime("live", env);
  await waitFor("first place intent", () => placed(h!).length >= 1, 15_000, 5);
  h.rt.kill("test kill");
  const res = await h.done;
  const resting = fakes.kalshi.state.orders().filter((o) => o.status === "resting");
  expect(resting).toHaveLength(0);
}, 40_000);
