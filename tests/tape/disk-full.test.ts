/**
 * The tape writer on a full disk (issue 14): every journal write is checked, a failed or short write
 * never leaves a half line glued to a later one, and a malformed journal found on open is recovered
 * with its bad lines set aside instead of making the tape unreadable for good.
 *
 * The disk is a size-limited tmpfs when this process may mount one (root); the same scenario also
 * runs everywhere with an injected write that behaves like writeSync on a full disk (a short write,
 * then ENOSPC).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readTapeRaw, type RawFrameWithOrd } from "../../lib/tape/reader.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "tape-full-"));
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) spawnSync("umount", [m]);
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 1, 12, 12) * 1000;

async function readRaw(dir: string): Promise<RawFrameWithOrd[]> {
  const out: RawFrameWithOrd[] = [];
  for await (const b of readTapeRaw(dir)) out.push(...b);
  return out;
}

/** A tmpfs of `bytes` at a fresh directory, or null when mounting is not allowed here. */
function smallDisk(bytes: number): string | null {
  const dir = fs.mkdtempSync(path.join(tmpRoot, "disk-"));
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir], { encoding: "utf8" });
  if (r.status !== 0) return null;
  mounts.push(dir);
  return dir;
}

const frame = (i: number, pad: number) => ({
  source: "kalshi" as const,
  connId: "k1",
  tsRecv: T0 + i * 1000,
  dir: "recv" as const,
  text: JSON.stringify({ type: "trade", sid: 1, seq: i + 1, msg: { i, pad: "x".repeat(pad) } }),
});

/** Every frame read back is whole and in order; returns the seq numbers present. */
function checkWhole(frames: RawFrameWithOrd[]): number[] {
  const seqs = frames.map((f) => (JSON.parse(f.text) as { seq: number }).seq);
  for (let k = 1; k < seqs.length; k++) expect(seqs[k]!).toBeGreaterThan(seqs[k - 1]!);
  return seqs;
}

describe("tape writer on a full disk", () => {
  it("injected: a short write then ENOSPC cuts the journal back to whole lines; later frames still roll; close reports the loss", async () => {
    const dir = path.join(tmpRoot, "injected");
    let full: boolean | "short-done" = false;
    const w = await openTapeWriter({
      dir,
      segmentSeconds: 3600,
      flushIntervalMs: 10_000,
      writeSync: (fd, data, offset, length) => {
        if (full === false) return fs.writeSync(fd, data, offset, length);
        // A full disk: write(2) takes what fits (a short write), the next call fails with ENOSPC.
        if (full === true) {
          full = "short-done";
          return fs.writeSync(fd, data, offset, Math.min(length, 37));
        }
        full = false; // freed right after, for the test's next phase
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      },
    });
    for (let i = 0; i < 100; i++) w.raw(frame(i, 50));
    await w.flush();
    full = true;
    for (let i = 100; i < 200; i++) w.raw(frame(i, 50));
    await expect(w.flush()).rejects.toThrow(/journal write failed/);
    for (let i = 200; i < 300; i++) w.raw(frame(i, 50));
    await w.flush();
    expect(w.stats().journalWriteFailures).toBe(1);
    expect(w.stats().lostLines).toBe(100);
    await expect(w.close()).rejects.toThrow(/failure/);
    const seqs = checkWhole(await readRaw(dir));
    expect(seqs.length).toBe(200);
    expect(seqs.slice(0, 100)).toEqual(Array.from({ length: 100 }, (_, k) => k + 1));
    expect(seqs.slice(100)).toEqual(Array.from({ length: 100 }, (_, k) => k + 201));
    expect(fs.readdirSync(path.join(dir, "journal")).filter((f) => f.endsWith(".ndjson"))).toEqual([]);
  });

  it("tmpfs: disk full, then freed — the tape stays readable, every frame read back is whole", async (ctx) => {
    const disk = smallDisk(512 * 1024);
    if (!disk) return ctx.skip();
    const dir = path.join(disk, "tape");
    const w = await openTapeWriter({ dir, segmentSeconds: 3600, flushIntervalMs: 10_000 });
    // Leave ~40 kB free, then write ~200 kB of frames in batches: most batches fail.
    const filler = path.join(disk, "filler");
    const free = () => {
      const st = fs.statfsSync(disk);
      return st.bavail * st.bsize;
    };
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 40 * 1024)));
    let i = 0;
    for (let b = 0; b < 20; b++) {
      for (let k = 0; k < 50; k++, i++) w.raw(frame(i, 150));
      await w.flush().catch(() => undefined);
    }
    expect(w.stats().journalWriteFailures).toBeGreaterThan(0);
    fs.rmSync(filler);
    for (let k = 0; k < 50; k++, i++) w.raw(frame(i, 150));
    await w.flush();
    await expect(w.close()).rejects.toThrow(/failure/);
    const frames = await readRaw(dir);
    const seqs = checkWhole(frames);
    expect(seqs.length).toBe(i - w.stats().lostLines);
    expect(seqs.at(-1)).toBe(i); // the frames after the disk was freed are there
  });

  it("a journal with a half line glued to the next (left by an older writer) is recovered on open; the bad line is quarantined", async () => {
    const dir = path.join(tmpRoot, "glued");
    const w = await openTapeWriter({ dir, segmentSeconds: 3600 });
    for (let i = 0; i < 10; i++) w.raw(frame(i, 10));
    await w.flush();
    // Simulate the crash: take the journal as it is and leave it behind, then glue a half line in.
    const jdir = path.join(dir, "journal");
    const jname = fs.readdirSync(jdir).find((f) => f.endsWith(".ndjson"))!;
    const text = fs.readFileSync(path.join(jdir, jname), "utf8");
    const lines = text.trim().split("\n");
    const glued = [...lines.slice(0, 5), lines[5]!.slice(0, 20) + lines[6]!, ...lines.slice(7)].join("\n") + "\n";
    await w.close();
    fs.rmSync(path.join(dir, "raw"), { recursive: true, force: true });
    fs.writeFileSync(path.join(jdir, jname), glued);
    const w2 = await openTapeWriter({ dir });
    expect(w2.stats().quarantinedLines).toBe(1);
    expect(w2.stats().recoveredSegments).toBe(1);
    await w2.close();
    const seqs = checkWhole(await readRaw(dir));
    expect(seqs).toEqual([1, 2, 3, 4, 5, 8, 9, 10]);
    expect(fs.readFileSync(path.join(jdir, "quarantine", jname.replace(".ndjson", ".bad")), "utf8")).toContain(lines[6]!);
  });
});
