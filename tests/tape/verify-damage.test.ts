/**
 * `tape verify` decodes every row group, so a segment with damaged data pages is reported by name
 * (issue 14: it used to pass as HEALTHY because counts come from the Parquet footer).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { verifyTape } from "../../lib/tape/verify.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tape-damage-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const T0 = Date.UTC(2026, 1, 12, 12) * 1000;

describe("tape verify on a damaged segment", () => {
  it("names the file whose data pages do not decode, and exits 1", async () => {
    const dir = path.join(tmp, "t");
    const w = await openTapeWriter({ dir });
    // Varied text so zstd has real work (and the file has real data pages).
    for (let i = 0; i < 20_000; i++) {
      w.raw({ source: "kalshi", connId: "k1", tsRecv: T0 + i * 1000, dir: "recv", text: JSON.stringify({ type: "trade", sid: 1, seq: i + 1, msg: { i, p: (i * 7919) % 10007, q: Math.sin(i).toFixed(8) } }) });
    }
    await w.close();
    const file = (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith(".parquet")).map((f) => path.join(dir, f))[0]!;
    expect((await verifyTape(dir)).healthy).toBe(true);
    const b = fs.readFileSync(file);
    // Flip bytes in the middle of the file: data pages, not the footer the row counts come from.
    for (let i = Math.floor(b.length / 3); i < Math.floor(b.length / 3) + 4096; i++) b[i] = b[i]! ^ 0xff;
    fs.writeFileSync(file, b);
    const r = await verifyTape(dir);
    expect(r.healthy).toBe(false);
    expect(r.unreadableFiles).toEqual([file]);
    expect(r.problems.join("\n")).toContain(file);
    const cli = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "runners/tape.ts"), "verify", dir], { cwd: ROOT, encoding: "utf8" });
    expect(cli.status).toBe(1);
    expect(cli.stdout).toContain(path.basename(file));
  }, 60_000);

  it("replay of a tape with a damaged events segment exits 2 naming the file", () => {
    const dir = path.join(tmp, "sample");
    fs.cpSync(path.join(ROOT, "fixtures/tapes/sample"), dir, { recursive: true });
    const file = (fs.readdirSync(path.join(dir, "events"), { recursive: true }) as string[]).filter((f) => f.endsWith(".parquet")).map((f) => path.join(dir, "events", f)).sort()[0]!;
    const b = fs.readFileSync(file);
    for (let i = Math.floor(b.length / 3); i < Math.floor(b.length / 3) + 4096; i++) b[i] = b[i]! ^ 0xff;
    fs.writeFileSync(file, b);
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "runners/replay.ts"), "--no-store", "--json", "--tape", dir], { cwd: ROOT, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(path.basename(file));
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/Exit 0/);
  }, 60_000);
});
