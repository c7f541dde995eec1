/**
 * Child process for the kill -9 test (not a test file): writes raw frames to a tape as fast as a
 * collector might, reporting progress on stdout, until it is killed.
 *   node --import tsx tests/tape/crash-child.ts <dir> <t0-us>
 * Frame i has tsRecv = t0 + i ms and text {"type":"trade","sid":1,"seq":i+1,"msg":{"i":i}}.
 */
import { openTapeWriter } from "../../lib/tape/writer.ts";

const dir = process.argv[2]!;
const t0 = Number(process.argv[3]);
const w = await openTapeWriter({ dir, segmentSeconds: 1, flushIntervalMs: 50 });
let i = 0;
for (;;) {
  for (let k = 0; k < 40; k++, i++) {
    w.raw({
      source: "kalshi",
      connId: "k-crash",
      tsRecv: t0 + i * 1000,
      dir: "recv",
      text: JSON.stringify({ type: "trade", sid: 1, seq: i + 1, msg: { i } }),
    });
  }
  process.stdout.write(`wrote ${i}\n`);
  await new Promise((r) => setTimeout(r, 10));
}
