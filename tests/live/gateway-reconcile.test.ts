/**
 * The gateway's "last reconciliation recent enough" guard, wired in a live session: an amend (a
 * reprice) does not pass the engine's entry check, so the gateway is where an overdue
 * reconciliation must stop it. The oracle is what reaches the transport.
 */
import { expect, it } from "vitest";
import { DEFAULT_ENGINE_CONFIG, mergeEngineConfig } from "../../lib/core/config.ts";
import type { AmendOrder } from "../../lib/core/records.ts";
import type { OrderTransport } from "../../lib/exec/gateway.ts";
import { TradingSession } from "../../lib/run/session.ts";
import { S, T0, marketInfo, snapshot, spot } from "../helpers/scenario.ts";

const M = "KXBTCD-26NOV2517-T100000";

it("an amend is refused while the reconciliation is overdue, and sent once a recent one came", () => {
  const sent: string[] = [];
  const transport: OrderTransport = { place: () => sent.push("place"), cancel: () => sent.push("cancel"), cancelAll: () => sent.push("cancel_all"), amend: () => sent.push("amend") };
  const config = mergeEngineConfig(DEFAULT_ENGINE_CONFIG, { risk: { reconcileMaxAgeSeconds: 90 } });
  const s = new TradingSession({ config, executor: transport, tradingEnabled: true, onRecord: () => {}, startTs: T0 });
  s.push(marketInfo(M, 100_000, T0 + 3600 * S));
  s.push(snapshot(T0 + S, M, 1, 1, [[4800, 1000]], [[5000, 1000]]));
  s.push(spot(T0 + S, 100_000));
  const amend = (ts: number): AmendOrder => ({ kind: "amend_order", ts, clientOrderId: "x-1", orderId: "o-1", market: M, outcome: "yes", action: "buy", price: 4700, count: 100, reason: "reprice" });
  const before = s.gateway.submit(amend(T0 + 2 * S));
  expect(before.sent).toBe(false);
  expect(sent).toEqual([]);
  expect(s.gateway.stats.refusedByReason["reconciliation: never reconciled"]).toBe(1);
  s.push({ kind: "position_snapshot", tsRecv: T0 + 3 * S, tsExchange: null, positions: [], restingOrders: [], balance: -1 });
  expect(s.gateway.submit(amend(T0 + 4 * S)).sent).toBe(true);
  expect(sent).toEqual(["amend"]);
  // 91 s after it, overdue again.
  expect(s.gateway.submit(amend(T0 + 94 * S)).sent).toBe(false);
  expect(sent).toEqual(["amend"]);
});
