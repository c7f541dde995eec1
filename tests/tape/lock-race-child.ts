/**
 * Child process of the lock race test (not a test file): for dir i, waits until go + i × stepMs, opens
 * a writer and prints "OPEN i" or "REFUSED i"; keeps every writer open until all slots are past.
 *   node --import tsx tests/tape/lock-race-child.ts <go ms> <step ms> <dir>...
 */
import { openTapeWriter, type TapeWriter } from "../../lib/tape/writer.ts";

const go = Number(process.argv[2]);
const step = Number(process.argv[3]);
const dirs = process.argv.slice(4);
const open: TapeWriter[] = [];
for (const [i, dir] of dirs.entries()) {
  while (Date.now() < go + i * step) {
    // busy-wait: both processes leave at the same millisecond
  }
  try {
    open.push(await openTapeWriter({ dir }));
    process.stdout.write(`OPEN ${i}\n`);
  } catch {
    process.stdout.write(`REFUSED ${i}\n`);
  }
}
await new Promise((r) => setTimeout(r, Math.max(0, go + dirs.length * step + 500 - Date.now())));
for (const w of open) await w.close();
