/**
 * "Found by reading", bug 5: REST prices with up to 6 decimals (a V2 create's `average_fill_price`
 * over fills at several prices) failed to parse, turning a successful create into an unknown outcome.
 * The average is kept exactly, in micros of a dollar per contract (it is an average, not a grid
 * price, so PriceE4 would have to round it).
 */
import { afterEach, describe, expect, test } from "vitest";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiRestClient } from "../../lib/venues/kalshi/rest.ts";
import { parseCreateOrderResult } from "../../lib/venues/kalshi/rest-parse.ts";

let fake: FakeKalshi | null = null;
let rest: KalshiRestClient | null = null;
afterEach(async () => {
  rest?.close();
  await fake?.close();
  fake = null;
  rest = null;
});

describe("6-decimal REST prices", () => {
  test("average_fill_price \"0.453333\" parses exactly (micros per contract)", () => {
    const r = parseCreateOrderResult({ order_id: "o1", fill_count: "3.00", remaining_count: "0.00", average_fill_price: "0.453333", average_fee_paid: "0.023333", ts_ms: 1 });
    expect(r.averageFillPriceMicros).toBe(453_333);
    expect(r.averageFeePaid).toBe(23_333);
  });

  test("a create filled at two prices is a success, not an unknown outcome", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, seed: 2 });
    const f = fake;
    rest = new KalshiRestClient({ restUrl: f.restUrl, signer: KalshiSigner.fromFile(f.keyId, f.privateKeyPath) });
    const t = f.state.tickers()[0]!;
    // Clear the seeded book, then NO bids 0.55 × 1 and 0.54 × 2 → YES asks 0.45 × 1, 0.46 × 2.
    for (const [p, c] of f.state.book(t).no) f.state.changeLevel(t, "no", p, -c);
    f.state.changeLevel(t, "no", 5500, 100);
    f.state.changeLevel(t, "no", 5400, 200);
    const r = await rest.createOrderV2({ ticker: t, client_order_id: "six-dp", side: "bid", count: "3.00", price: "0.4600", time_in_force: "immediate_or_cancel", self_trade_prevention_type: "taker_at_cross" });
    expect(r.filled).toBe(300);
    // (0.45 × 1 + 0.46 × 2) / 3 = 0.456666… → the venue's 6 decimals: 0.456667.
    expect(r.averageFillPriceMicros).toBe(456_667);
    expect(rest.counters.unknownOutcomes).toBe(0);
  });
});
