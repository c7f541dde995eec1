/**
 * `tape verify` per-market coverage: each market's first/last book frame against its open and close
 * (from its last market_info), and a problem for a market that was open during the capture but has
 * no book on the tape. The tape is written by hand so the expected table is known.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import type { EngineEvent } from "../../lib/core/events.ts";
import { formatVerifyReport, verifyTape } from "../../lib/tape/verify.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";
import { marketInfo, snapshot, delta } from "../helpers/scenario.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tape-cov-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 1, 12, 15) * 1000;
const at = (s: number) => T0 + s * 1_000_000;
const quote = (s: number): EngineEvent => ({ kind: "spot_quote", tsRecv: at(s), tsExchange: null, productId: "BTC-USD", bid: 97_000, ask: 97_001, bidSize: 1, askSize: 1, last: Number.NaN, seq: s });

describe("tape verify: per-market coverage", () => {
  test("recorded, not recorded, late and outside-the-capture markets", async () => {
    const dir = path.join(tmp, "t1");
    const w = await openTapeWriter({ dir });
    // Capture spans 0…40 s (spot quotes each second).
    for (let s = 0; s <= 40; s++) w.event(quote(s), "coinbase");
    const A = "KXBTC15M-26FEB121015-15"; // open 5…20, book from 5.5 to 19
    const B = "KXBTC15M-26FEB121030-30"; // open 20…35, never recorded
    const C = "KXBTC15M-26FEB121000-00"; // closed before the capture
    const D = "KXBTC15M-26FEB121045-45"; // open 25…40, first book only at 38 → late
    w.event({ ...marketInfo(A, 100, at(20), { openTime: at(5) }), tsRecv: at(1) }, "kalshi");
    w.event({ ...marketInfo(B, 100, at(35), { openTime: at(20) }), tsRecv: at(2) }, "kalshi");
    w.event({ ...marketInfo(C, 100, at(-5), { openTime: at(-20) }), tsRecv: at(3) }, "kalshi");
    w.event({ ...marketInfo(D, 100, at(40), { openTime: at(25) }), tsRecv: at(4) }, "kalshi");
    w.event(snapshot(at(5.5), A, 1, 1, [[4000, 100]], [[5000, 100]]), "kalshi");
    w.event(delta(at(19), A, 1, 2, "yes", 4000, 100), "kalshi");
    w.event(snapshot(at(38), D, 1, 3, [[4000, 100]], []), "kalshi");
    await w.close();

    const r = await verifyTape(dir);
    const byMarket = new Map(r.markets.map((m) => [m.market, m]));
    expect(byMarket.get(A)).toMatchObject({ expected: true, recorded: true, late: false, bookFrames: 2, startLagSeconds: 0.5, endLeadSeconds: 1 });
    expect(byMarket.get(B)).toMatchObject({ expected: true, recorded: false, bookFrames: 0 });
    expect(byMarket.get(C)).toMatchObject({ expected: false, recorded: false });
    expect(byMarket.get(D)).toMatchObject({ expected: true, recorded: true, late: true, startLagSeconds: 13 });
    expect(r.healthy).toBe(false);
    expect(r.problems.some((p) => p.includes("not recorded") && p.includes(B))).toBe(true);
    expect(r.problems.some((p) => p.includes("late") && p.includes(D))).toBe(true);
    const text = formatVerifyReport(r);
    expect(text).toMatch(new RegExp(`${B}.*NOT RECORDED`));
    expect(text).toMatch(/markets: 4 known, 3 open during the capture, 2 recorded/);
  });
});
