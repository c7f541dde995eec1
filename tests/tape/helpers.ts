/** Shared helpers of the tape tests: temp dirs, the ordering oracle, write and read-all. */
import { afterAll, expect } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Source } from "../../lib/core/events.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";
import { readTapeEvents, type ReadOptions } from "../../lib/tape/reader.ts";
import type { TapeEvent } from "../../lib/tape/types.ts";

/** A fresh directory per call under one temp root, removed after the file's tests. */
export function tempDirs(prefix: string): () => string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  let n = 0;
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  return () => path.join(root, `t${++n}`);
}

// The documented tie-break rank of sources, written out independently of lib/tape/schema.ts.
const RANK: Record<Source, number> = { coinbase: 0, kalshi: 1, sim: 2, control: 3 };

/** Oracle: stable sort of what was written by (tsRecv, source rank, write order). */
export function expectedOrder(written: readonly TapeEvent[]): TapeEvent[] {
  return written
    .map((x, i) => ({ x, i }))
    .sort((a, b) => a.x.event.tsRecv - b.x.event.tsRecv || RANK[a.x.source] - RANK[b.x.source] || a.i - b.i)
    .map(({ x }) => x);
}

export async function readAll(dir: string, opts?: ReadOptions): Promise<TapeEvent[]> {
  const out: TapeEvent[] = [];
  for await (const batch of readTapeEvents(dir, opts)) out.push(...batch);
  return out;
}

export async function writeEvents(dir: string, events: readonly TapeEvent[], segmentSeconds = 3600): Promise<void> {
  const w = await openTapeWriter({ dir, segmentSeconds });
  for (const { event, source } of events) w.event(event, source);
  await w.close();
  expect(w.stats().rejected).toBe(0);
}
