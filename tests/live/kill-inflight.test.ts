/**
 * Kill switch (cancel-all) engaged while a create is in flight at the venue.
 * The venue holds the create for 600 ms and then rests it. The sweep must not finish before it
 * knows what became of that create; after the sweep + idle, nothing of ours may rest at the venue.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { EngineEvent } from "../../lib/core/events.ts";
import { KalshiTransport } from "../../lib/exec/kalshi-transport.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiRestClient } from "../../lib/venues/kalshi/rest.ts";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { sleep } from "../../lib/live/clock.ts";

let fake: FakeKalshi;
let rest: KalshiRestClient;
let transport: KalshiTransport;
const emitted: EngineEvent[] = [];
beforeAll(async () => {
  fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0 });
  rest = new KalshiRestClient({ restUrl: fake.restUrl, signer: KalshiSigner.fromFile(fake.keyId, fake.privateKeyPath), timeoutMs: 2000 });
  transport = new KalshiTransport({ rest, emit: (e) => emitted.push(e), resolveDelayMs: 50, absentGraceMs: 500 });
});
afterAll(async () => {
  transport.close();
  rest.close();
  await fake.close();
});

it("cancel-all started while a create is in flight leaves nothing resting", async () => {
  const market = fake.state.tickers()[1]!;
  fake.faults.rest("POST /portfolio/events/orders", { kind: "delay", ms: 600 });
  transport.place({ kind: "place_order", ts: 1, clientOrderId: "kill-1", market, outcome: "yes", action: "buy", price: 500, count: 100, tif: "good_till_canceled", postOnly: false, reduceOnly: false, evalId: "e" });
  await sleep(50); // the create is now held by the venue
  transport.cancelAll(2, "kill switch");
  const report = await transport.pendingCancelAll()!;
  await transport.idle();
  const o = fake.state.orderByClientId("kill-1");
  expect(o?.status).not.toBe("resting");
});
