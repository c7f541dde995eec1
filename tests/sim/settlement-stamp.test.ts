/** replay settlement fallback. */
import { describe, expect, test } from "vitest";
import type { IndexValue } from "../../lib/core/events.ts";
import { SettlementFallback } from "../../lib/sim/settlement.ts";
import { S, T0, marketInfo } from "../helpers/scenario.ts";

const M = "KXBTCD-26NOV2517-T109.99";

describe("settlement fallback", () => {
  test("the 60 BRTI prints of the window are chosen by their index stamp, not by when we received them", () => {
    const settle = T0 + 3600 * S;
    const fb = new SettlementFallback(900, 60);
    fb.onEvent(marketInfo(M, 109.99, settle));
    // BRTI prints stamped on each second settle−60 … settle, each received 200 ms later (normal lag).
    // Window (IndexWindow: slots (s−1, s], the last one the close's) = prints stamped settle−59 … settle.
    // All are 100 except the one stamped settle−60 (outside the window) = 1000.
    for (let k = 60; k >= 0; k--) {
      const ts = settle - k * S;
      const e: IndexValue = { kind: "index_value", tsRecv: ts + 200_000, tsExchange: ts, indexId: "BRTI", value: k === 60 ? 1000 : 100, avg60s: Number.NaN, sid: 1, seq: 60 - k };
      fb.onEvent(e);
    }
    const out = fb.finish(settle + 1000 * S);
    expect(out).toHaveLength(1);
    // Hand: 60 prints of 100 → avg 100 < 109.99 → NO.
    // Before the fix, receipt-time slots take settle−60 … settle−1 → (1000 + 59 × 100) / 60 = 115 → YES.
    expect(out[0]!.expirationValue).toBe(100);
    expect(out[0]!.result).toBe("no");
  });
});
