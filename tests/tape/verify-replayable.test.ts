/**
 * verify reports what the reader refuses (an unsorted segment, a row that does not decode) as a
 * problem instead of calling the tape healthy, or throwing. Segments are rewritten with real DuckDB.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DuckDBInstance } from "@duckdb/node-api";
import type { EngineEvent } from "../../lib/core/events.ts";
import { verifyTape } from "../../lib/tape/verify.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";
import { sqlString } from "../../lib/tape/schema.ts";
import { readAll, tempDirs } from "./helpers.ts";

const freshDir = tempDirs("tape-vrep-");
const T0 = Date.UTC(2026, 1, 12, 10) * 1000;

async function sql(q: string): Promise<void> {
  const inst = await DuckDBInstance.create(":memory:");
  const c = await inst.connect();
  try {
    await c.run(q);
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

/** A one-file events tape of book deltas; returns the file. */
async function deltaTape(): Promise<{ dir: string; file: string }> {
  const dir = freshDir();
  const w = await openTapeWriter({ dir });
  for (let i = 0; i < 10; i++) {
    w.event({ kind: "book_delta", tsRecv: T0 + i, tsExchange: null, market: "M", sid: 1, seq: i + 1, side: "yes", price: 5000, delta: 100, clientOrderId: null } as EngineEvent, "kalshi");
  }
  await w.close();
  const d = path.join(dir, "events", "date=2026-02-12", "source=kalshi");
  return { dir, file: path.join(d, fs.readdirSync(d)[0]!) };
}

/** Replace `file` by the result of `select` over it. */
async function rewrite(file: string, select: string): Promise<void> {
  const out = file.replace(/\.parquet$/, "-x.parquet");
  await sql(`COPY (${select.replaceAll("$F", `read_parquet(${sqlString(file)})`)}) TO ${sqlString(out)} (FORMAT parquet)`);
  fs.rmSync(file);
}

describe("verify vs the reader", () => {
  it("a healthy events tape stays healthy", async () => {
    const { dir } = await deltaTape();
    expect((await verifyTape(dir)).problems).toEqual([]);
  });

  const CASES: [string, string, RegExp][] = [
    ["an unsorted events segment", "SELECT * FROM $F ORDER BY ts_recv DESC", /not sorted/],
    ["an unknown kind", "SELECT * REPLACE ('book_delat' AS kind) FROM $F", /events layer/],
    ["a side the kind cannot have", "SELECT * REPLACE ('bid' AS side) FROM $F", /side/],
  ];
  for (const [what, select, why] of CASES) {
    it(`flags ${what} (the reader refuses it)`, async () => {
      const { dir, file } = await deltaTape();
      await rewrite(file, select);
      await expect(readAll(dir)).rejects.toThrow();
      const r = await verifyTape(dir);
      expect(r.healthy).toBe(false);
      expect(r.problems.join("\n")).toMatch(why);
    });
  }

  it("reports, does not throw on, an unsorted raw segment", async () => {
    const dir = freshDir();
    const w = await openTapeWriter({ dir });
    for (let i = 0; i < 5; i++) w.raw({ source: "kalshi", connId: "c", tsRecv: T0 + i, dir: "recv", text: `{"i":${i}}` });
    await w.close();
    const d = path.join(dir, "raw", "date=2026-02-12", "source=kalshi");
    await rewrite(path.join(d, fs.readdirSync(d)[0]!), "SELECT * FROM $F ORDER BY ts_recv DESC");
    const r = await verifyTape(dir);
    expect(r.healthy).toBe(false);
    expect(r.problems.join("\n")).toMatch(/raw layer.*not sorted/);
  });
});
