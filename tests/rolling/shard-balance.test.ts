/**
 * "Found by reading", bug 6: collateral is per exchange shard (reference §4.7: crypto markets live on
 * shard 2). Reading the balance across all shards let risk size orders from money the crypto shard
 * does not have. REST returns the shard's balance; the engine sizes from the venue's balance.
 */
import { afterEach, describe, expect, test } from "vitest";
import { DEFAULT_ENGINE_CONFIG } from "../../lib/core/config.ts";
import { Engine } from "../../lib/core/engine.ts";
import type { EngineEvent, PositionSnapshot } from "../../lib/core/events.ts";
import type { OrderIntent, PlaceOrder } from "../../lib/core/records.ts";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiRestClient } from "../../lib/venues/kalshi/rest.ts";
import { S, T0, marketInfo, merge, snapshot, spotWalk } from "../helpers/scenario.ts";

let fake: FakeKalshi | null = null;
let rest: KalshiRestClient | null = null;
afterEach(async () => {
  rest?.close();
  await fake?.close();
  fake = null;
  rest = null;
});

describe("balance per exchange shard", () => {
  test("GET /portfolio/balance with exchange_index returns that shard's collateral, not the total", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, balance: 50_000_000, shardBalances: { 0: 100_000_000_000 } });
    const f = fake;
    rest = new KalshiRestClient({ restUrl: f.restUrl, signer: KalshiSigner.fromFile(f.keyId, f.privateKeyPath) });
    expect(await rest.getBalance()).toBe(100_050_000_000);
    expect(await rest.getBalance(2)).toBe(50_000_000);
    expect(await rest.getBalance(0)).toBe(100_000_000_000);
  });

  test("risk sizes from the venue's (shard) balance once a reconciliation reports it", () => {
    const M = "KXBTCD-26NOV2516-T89999.99";
    const events: EngineEvent[] = merge(
      [marketInfo(M, 89_999.99, T0 + 1800 * S)],
      spotWalk(420, 100_000, 0.0001, 42),
      [snapshot(T0 + 1 * S, M, 1, 1, [[4800, 1000]], [[5000, 1000]])],
    );
    const recon: PositionSnapshot = { kind: "position_snapshot", tsRecv: T0 + 2 * S, tsExchange: null, positions: [], restingOrders: [], balance: 50_000_000 };
    const intents: OrderIntent[] = [];
    const engine = new Engine(DEFAULT_ENGINE_CONFIG, { record: () => {}, intent: (i) => intents.push(i) });
    for (const e of merge(events, [recon])) engine.onEvent(e);
    const place = intents.filter((i): i is PlaceOrder => i.kind === "place_order");
    expect(place.length).toBeGreaterThan(0);
    // maxPositionPct 2 % of $50 = $1.00 of room; at the $0.50 ask that is 2 contracts (not 10 from $1000).
    expect(place[0]!.count).toBe(200);
  });
});
