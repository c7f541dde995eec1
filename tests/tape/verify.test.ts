import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { EngineEvent } from "../../lib/core/events.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";
import { verifyTape } from "../../lib/tape/verify.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "tape-v-"));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 1, 12, 15) * 1000;
const at = (s: number) => T0 + s * 1_000_000;

const quote = (s: number): EngineEvent => ({
  kind: "spot_quote",
  tsRecv: at(s),
  tsExchange: null,
  productId: "BTC-USD",
  bid: 97_000,
  ask: 97_001,
  bidSize: 1,
  askSize: 1,
  last: Number.NaN,
  seq: s,
});

interface Spec {
  kalshi: [s: number, conn: string, text: string][];
  coinbaseSeqs: [s: number, seq: number][];
  quotesAt: number[];
}

async function writeTape(dir: string, spec: Spec): Promise<void> {
  const w = await openTapeWriter({ dir });
  w.raw({ source: "kalshi", connId: "k1", tsRecv: at(0), dir: "send", text: '{"id":1,"cmd":"subscribe"}' });
  for (const [s, connId, text] of spec.kalshi) w.raw({ source: "kalshi", connId, tsRecv: at(s), dir: "recv", text });
  for (const [s, seq] of spec.coinbaseSeqs) {
    w.raw({
      source: "coinbase",
      connId: "c1",
      tsRecv: at(s),
      dir: "recv",
      text: JSON.stringify({ channel: "heartbeats", timestamp: "x", sequence_num: seq, events: [] }),
    });
  }
  for (const s of spec.quotesAt) w.event(quote(s), "coinbase");
  await w.close();
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

// A clean half-minute: Kalshi frames every second on sid 1, Coinbase heartbeats and quotes every second.
const clean: Spec = {
  kalshi: range(0, 30).map((s) => [s, "k1", JSON.stringify({ type: "orderbook_delta", sid: 1, seq: s + 1, msg: {} })]),
  coinbaseSeqs: range(0, 30).map((s) => [s, s]),
  quotesAt: range(0, 30),
};

// Faults injected by hand; the expected findings follow from the construction.
const faulty: Spec = {
  kalshi: [
    [0, "k1", '{"type":"orderbook_snapshot","sid":1,"seq":1,"msg":{}}'],
    [1, "k1", '{"type":"orderbook_delta","sid":1,"seq":2,"msg":{}}'],
    [2, "k1", '{"type":"orderbook_delta","sid":1,"seq":5,"msg":{}}'], // gap: 3 and 4 missing
    [3, "k1", '{"type":"ticker","sid":2,"msg":{"a":1}}'], // no seq: not checked
    [4, "k1", '{"type":"trade","sid":3,"seq":1,"msg":{"n":1}}'],
    [5, "k1", '{"type":"trade","sid":3,"seq":1,"msg":{"n":2}}'], // duplicate seq 1 on sid 3
    [6, "k1", '{"type":"ticker","sid":2,"msg":{"a":2}}'],
    [6, "k1", '{"type":"ticker","sid":2,"msg":{"a":2}}'], // the identical frame again at the same ts
    [30, "k1", '{"type":"orderbook_delta","sid":1,"seq":6,"msg":{}}'], // nothing from Kalshi in (6 s, 30 s)
  ],
  // sequence_num 0…9 at 0…9 s, then 11 at 10 s: one message missing.
  coinbaseSeqs: [...range(0, 9).map((s): [number, number] => [s, s]), [10, 11], ...range(11, 30).map((s): [number, number] => [s, s + 1])],
  // No spot quote between 10 s and 25 s.
  quotesAt: [...range(0, 10), ...range(25, 30)],
};

describe("tape verify", () => {
  it("finds nothing wrong with a clean capture", async () => {
    const dir = path.join(tmpRoot, "clean");
    await writeTape(dir, clean);
    const r = await verifyTape(dir);
    expect(r.problems).toEqual([]);
    expect(r.healthy).toBe(true);
    expect(r.days).toEqual([
      { day: "2026-02-12", source: "coinbase", rawFrames: 31, events: 31, files: 2 },
      { day: "2026-02-12", source: "kalshi", rawFrames: 32, events: 0, files: 1 },
    ]);
  });

  it("reports the injected gaps, duplicates and stale periods", async () => {
    const dir = path.join(tmpRoot, "faulty");
    await writeTape(dir, faulty);
    const r = await verifyTape(dir, { staleSpotSeconds: 10, staleKalshiSeconds: 10 });
    expect(r.healthy).toBe(false);
    expect(r.gaps.count).toBe(2);
    expect(r.gaps.missing).toBe(3);
    expect(r.gaps.listed).toEqual([
      { source: "kalshi", connId: "k1", sid: 1, expected: 3, got: 5, missing: 2, tsRecv: at(2) },
      { source: "coinbase", connId: "c1", sid: null, expected: 10, got: 11, missing: 1, tsRecv: at(10) },
    ]);
    expect(r.duplicates.listed).toEqual([
      { reason: "seq", source: "kalshi", connId: "k1", sid: 3, seq: 1, tsRecv: at(5) },
      { reason: "text", source: "kalshi", connId: "k1", sid: null, seq: null, tsRecv: at(6) },
    ]);
    expect(r.stale).toEqual([
      { stream: "spot_quote", fromUs: at(10), toUs: at(25), seconds: 15 },
      { stream: "kalshi", fromUs: at(6), toUs: at(30), seconds: 24 },
    ]);
    expect(r.orderingViolations.count).toBe(0);
    // A looser threshold hides the 15-s quote gap but not the 24-s Kalshi silence.
    const loose = await verifyTape(dir, { staleSpotSeconds: 20, staleKalshiSeconds: 20 });
    expect(loose.stale.map((s) => s.stream)).toEqual(["kalshi"]);
  });

  it("reports receipt time going backwards within a connection", async () => {
    const dir = path.join(tmpRoot, "order");
    const w = await openTapeWriter({ dir });
    w.raw({ source: "kalshi", connId: "k", tsRecv: at(2), dir: "recv", text: '{"type":"ticker","msg":{"a":1}}' });
    w.raw({ source: "kalshi", connId: "k", tsRecv: at(1), dir: "recv", text: '{"type":"ticker","msg":{"a":2}}' });
    w.raw({ source: "kalshi", connId: "k", tsRecv: at(3), dir: "recv", text: '{"type":"ticker","msg":{"a":3}}' });
    await w.close();
    const r = await verifyTape(dir);
    expect(r.orderingViolations.count).toBe(1);
    expect(r.orderingViolations.listed[0]).toMatchObject({ connId: "k", tsRecv: at(2) });
  });

  it("runners/tape.ts verify exits 0 on a healthy tape and 1 on problems", () => {
    const run = (dir: string) =>
      spawnSync(process.execPath, ["--import", "tsx", "runners/tape.ts", "verify", dir, "--json"], {
        cwd: repoRoot,
        encoding: "utf8",
      });
    const ok = run(path.join(tmpRoot, "clean"));
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).healthy).toBe(true);
    const bad = run(path.join(tmpRoot, "faulty"));
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout).gaps.count).toBe(2);
  });
});
