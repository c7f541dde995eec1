/**
 * "Found by reading", bug 2: a frame that carries `sid` + `seq` but no market data (an `error` scoped to
 * the subscription, an `ok`, an `event_lifecycle`…) consumes a seq number. The WS client counted it but
 * the engine never saw it, so the engine took the next delta for a gap and kept the sid's books blocked.
 * One seq rule (lib/core/seq.ts), applied by the client and by the engine to the same events.
 */
import { afterEach, describe, expect, test } from "vitest";
import { DEFAULT_ENGINE_CONFIG } from "../../lib/core/config.ts";
import { Engine } from "../../lib/core/engine.ts";
import type { AuditRecord } from "../../lib/core/records.ts";
import { SeqTracker, sequenceOf } from "../../lib/core/seq.ts";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { parseKalshiFrame } from "../../lib/venues/kalshi/parse.ts";
import { KalshiWsClient } from "../../lib/venues/kalshi/ws.ts";
import { waitFor } from "../venues/helpers.ts";

let fake: FakeKalshi | null = null;
let client: KalshiWsClient | null = null;
afterEach(async () => {
  await client?.close();
  await fake?.close();
  client = null;
  fake = null;
});

describe("one seq rule for the WS client and the engine", () => {
  test("an error frame with sid+seq on the book subscription does not stale the engine's books", async () => {
    fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0, seed: 3 });
    const f = fake;
    const records: AuditRecord[] = [];
    const engine = new Engine(DEFAULT_ENGINE_CONFIG, { record: (r) => records.push(r), intent: () => {} });
    client = new KalshiWsClient({
      wsUrl: f.wsUrl,
      signer: KalshiSigner.fromFile(f.keyId, f.privateKeyPath),
      markets: f.state.tickers(),
      channels: ["orderbook_delta"],
      onEvent: (e) => engine.onEvent(e),
    });
    const c = client;
    c.start();
    await waitFor(() => c.connected && c.awaitingSnapshots().length === 0, 5000, "snapshots");
    f.faults.sequencedError(27);
    await waitFor(() => c.stats.venueErrors === 1, 3000, "error frame");
    for (let i = 0; i < 200; i++) f.state.randomDelta();
    const t = f.state.tickers();
    await waitFor(() => t.every((m) => JSON.stringify(engine.books.get(m)?.levels().yesBids) === JSON.stringify(f.state.book(m).yes)), 5000, "engine books equal the fake's");
    expect(c.stats.gaps).toBe(0);
    expect(records.filter((r) => r.kind === "inconsistency")).toEqual([]);
    expect([...engine.risk.blocks().keys()].filter((k) => k.startsWith("book:"))).toEqual([]);
    expect(t.every((m) => engine.books.get(m)!.stale === false)).toBe(true);
  });

  test("every parsed frame that carries sid+seq yields an event carrying that sid+seq", () => {
    const frames = [
      '{"type":"error","sid":4,"seq":9,"msg":{"code":27,"msg":"Too many requests"}}',
      '{"type":"event_lifecycle","sid":5,"seq":2,"msg":{"event_ticker":"KXBTCD-26SEP2917","exchange_index":2,"title":"t","subtitle":"s","collateral_return_type":"","series_ticker":"KXBTCD"}}',
      '{"type":"event_fee_update","sid":5,"seq":3,"msg":{"event_ticker":"KXBTCD-26SEP2917","fee_type_override":null,"fee_multiplier_override":null}}',
      '{"type":"market_lifecycle_v2","sid":5,"seq":4,"msg":{"market_ticker":"KXBTC15M-26APR160100-00","event_type":"metadata_updated","yes_sub_title":"above $95,000"}}',
      '{"type":"market_lifecycle_v2","sid":5,"seq":5,"msg":{"market_ticker":"M-1","event_type":"price_level_structure_updated","price_level_structure":"deci_cent","price_ranges":[{"start":"0.0000","end":"1.0000","step":"0.0010"}]}}',
      '{"type":"some_future_type","sid":5,"seq":6,"msg":{}}',
      '{"id":3,"sid":2,"seq":58,"type":"ok","msg":{"market_tickers":["A"]}}',
    ];
    for (const text of frames) {
      const r = parseKalshiFrame(text, 1, { useYesPrice: false });
      expect(r.ok, text).toBe(true);
      if (!r.ok) continue;
      const carried = r.events.map(sequenceOf).filter((x) => x !== null);
      expect(carried, text).toContainEqual({ sid: r.sid, seq: r.seq });
    }
  });

  test("SeqTracker: first number starts the count, last+1 continues, anything else is a gap", () => {
    const s = new SeqTracker();
    expect(s.observe(1, 5)).toBeNull();
    expect(s.observe(1, 6)).toBeNull();
    expect(s.observe(1, 8)).toEqual({ expected: 7, got: 8 });
    expect(s.observe(2, 1)).toBeNull();
    s.forget(1);
    expect(s.observe(1, 100)).toBeNull();
  });
});
