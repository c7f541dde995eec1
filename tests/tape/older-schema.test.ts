/**
 * A segment of an older schema, written before a column existed, still reads: the column's cells are
 * NULL, as for a column NULL throughout. The oracle is the same tape read before the column was cut.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { expect, it } from "vitest";
import type { TapeEvent } from "../../lib/tape/types.ts";
import { readTapeEvents } from "../../lib/tape/reader.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";

const T0 = Date.UTC(2026, 1, 12, 10) * 1000;

async function readAll(dir: string): Promise<TapeEvent[]> {
  const out: TapeEvent[] = [];
  for await (const b of readTapeEvents(dir)) out.push(...b);
  return out;
}

it("a segment without px5 (and one without ref) reads as if those columns were NULL throughout", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "older-schema-"));
  try {
    const w = await openTapeWriter({ dir });
    // px5 carries the quotes' last price; NaN is stored as NULL, so the cut column was NULL throughout.
    for (let i = 0; i < 10; i++) w.event({ kind: "spot_quote", tsRecv: T0 + i, tsExchange: null, productId: "BTC-USD", bid: 100 + i, ask: 101 + i, bidSize: 1, askSize: 2, last: Number.NaN, seq: i }, "coinbase");
    await w.close();
    const before = await readAll(dir);
    expect(before.length).toBe(10);
    const d = path.join(dir, "events", "date=2026-02-12", "source=coinbase");
    const f = path.join(d, fs.readdirSync(d)[0]!);
    const inst = await DuckDBInstance.create(":memory:");
    const c = await inst.connect();
    const g = f.replace(/\.parquet$/, "-old.parquet");
    await c.run(`COPY (SELECT * EXCLUDE (px5, ref) FROM read_parquet('${f}')) TO '${g}' (FORMAT parquet)`);
    c.closeSync();
    inst.closeSync();
    fs.rmSync(f);
    const after = await readAll(dir);
    expect(JSON.stringify(after)).toBe(JSON.stringify(before)); // before: Binder Error, column "px5" not found
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
