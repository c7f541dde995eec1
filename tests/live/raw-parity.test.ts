/**
 * The raw layer reproduces a paper run (issue 14: `--from-raw` on a real capture found 0 markets,
 * because REST discovery answers were not in it). A paper session against the fake venues records its
 * tape; replaying the raw frames through the live parsers must give the same decisions as replaying
 * the events layer — and as the session itself made.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditRecord, Opportunity } from "../../lib/core/records.ts";
import { sleep } from "../../lib/live/clock.ts";
import { configFromJson, replayTape } from "../../lib/run/parity.ts";
import { RawReparser, Replay } from "../../lib/run/replay.ts";
import { readTapeRaw } from "../../lib/tape/reader.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";
import { startFakes, startRuntime, tradingEnv, waitFor, type Fakes } from "./harness.ts";

let fakes: Fakes;
let dir: string;
beforeAll(async () => {
  fakes = await startFakes({ flowIntervalMs: 40 });
  dir = mkdtempSync(join(tmpdir(), "raw-parity-"));
});
afterAll(async () => {
  await fakes.close();
  rmSync(dir, { recursive: true, force: true });
});

const decisions = (rs: readonly AuditRecord[]) =>
  rs
    .filter((r): r is Opportunity => r.kind === "opportunity")
    .map((r) => [r.ts, r.evalId, r.market, r.decision, r.reason, r.side, r.pModel, r.evYes, r.evNo, r.yesBid, r.yesAsk].map((x) => (typeof x === "number" && Number.isNaN(x) ? null : x)));

describe("raw layer ↔ events layer on a paper capture", () => {
  it("--from-raw reaches the same decisions as the events layer and the session, with REST answers on the tape", async () => {
    const tapeDir = join(dir, "tape");
    const tape = await openTapeWriter({ dir: tapeDir });
    const h = await startRuntime("paper", tradingEnv(fakes, { EXECUTION: "taker", MAX_OPEN_POSITIONS: "3", RECONCILE_SECONDS: "1" }), { tape });
    try {
      await waitFor("fills in paper", () => h.records.filter((r) => r.kind === "fill_record").length >= 2, 10_000);
      // A lost Coinbase frame: the feed's gap (and its resync) are on the raw layer as derived frames.
      fakes.coinbase.faults.skipSequence(1);
      await waitFor("a Coinbase gap in the session", () => h.records.some((r) => r.kind === "inconsistency" && r.issue === "feed_gap" && r.detail.startsWith("coinbase")), 10_000);
      await sleep(800);
      h.rt.kill("raw parity test");
      await h.done;
    } finally {
      await h.close();
      await tape.close();
    }
    const config = configFromJson(JSON.stringify(h.app.engine));
    const fromEvents = await replayTape(tapeDir, config);

    const raw: AuditRecord[] = [];
    const replay = new Replay([{ config, onRecord: (r) => raw.push(r) }]);
    const reparser = new RawReparser();
    let restAnswers = 0;
    const routes = new Set<string>();
    for await (const batch of readTapeRaw(tapeDir)) {
      for (const f of batch) {
        if (f.connId === "rest" && f.text.startsWith('{"rest":')) {
          restAnswers++;
          routes.add((JSON.parse(f.text) as { rest: string }).rest);
        }
        for (const e of reparser.parse(f)) replay.feed(e);
      }
    }
    replay.finish();
    expect(restAnswers).toBeGreaterThan(0);
    expect([...routes].some((r) => r.startsWith("GET /markets")), [...routes].join(", ")).toBe(true);

    const session = decisions(h.records);
    expect(session.length).toBeGreaterThan(10);
    const firstDiff = (a: unknown[][], b: unknown[][]) => {
      const i = a.findIndex((x, k) => JSON.stringify(x) !== JSON.stringify(b[k]));
      return i < 0 ? null : { i, a: a[i], b: b[i] };
    };
    expect(firstDiff(decisions(fromEvents.records), session)).toBeNull();
    expect(firstDiff(decisions(raw), decisions(fromEvents.records))).toBeNull();
    expect(decisions(raw)).toEqual(decisions(fromEvents.records));
    const coinbaseGaps = (rs: readonly AuditRecord[]) => rs.filter((r) => r.kind === "inconsistency" && r.issue === "feed_gap" && r.detail.startsWith("coinbase")).length;
    expect(coinbaseGaps(h.records)).toBeGreaterThan(0);
    expect(coinbaseGaps(raw)).toBe(coinbaseGaps(fromEvents.records));
    expect(coinbaseGaps(raw)).toBe(coinbaseGaps(h.records));
    expect(reparser.rejects).toBe(0);
    expect(raw.filter((r) => r.kind === "fill_record").length).toBe(fromEvents.records.filter((r) => r.kind === "fill_record").length);
  }, 60_000);
});
