import { afterAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DuckDBInstance } from "@duckdb/node-api";
import type { EngineEvent } from "../../lib/core/events.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";
import { readTapeEvents, readTapeRaw, type RawFrameWithOrd } from "../../lib/tape/reader.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "tape-w-"));
let dirN = 0;
const freshDir = () => path.join(tmpRoot, `w${++dirN}`);
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 1, 12, 12) * 1000; // 2026-02-12T12:00Z, a multiple of 1 s in µs
const timer = (tsRecv: number, tsExchange: number | null = null): EngineEvent => ({ kind: "timer", tsRecv, tsExchange });

function parquetFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith(".parquet"))
    .map((f) => path.join(dir, f))
    .sort();
}

async function readRaw(dir: string): Promise<RawFrameWithOrd[]> {
  const out: RawFrameWithOrd[] = [];
  for await (const b of readTapeRaw(dir)) out.push(...b);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("tape writer", () => {
  it("rolls a segment per aligned time span, named so that names sort by time", async () => {
    const dir = freshDir();
    const w = await openTapeWriter({ dir, segmentSeconds: 1 });
    // Spans [0,1) [1,2) [2,3) [3,4) s after T0: four segments; 2.7 and 3.1 land in different ones.
    const offsets = [0.1, 0.5, 1.2, 2.7, 3.1];
    for (const s of offsets) w.event(timer(T0 + s * 1e6), "control");
    await w.close();
    expect(w.stats()).toMatchObject({ events: 5, segments: 4, rejected: 0 });
    const files = parquetFiles(path.join(dir, "events"));
    expect(files).toHaveLength(4);
    const names = files.map((f) => path.basename(f));
    expect(names).toEqual([...names].sort());
    // The name carries the segment's first receipt time.
    expect(names.map((n) => Number(n.split("-")[1]))).toEqual([0.1, 1.2, 2.7, 3.1].map((s) => T0 + s * 1e6));
    expect(fs.readdirSync(path.join(dir, "journal"))).toEqual([]);
  });

  it("hands the journal to the OS within the flush interval, without flush()", async () => {
    const dir = freshDir();
    const w = await openTapeWriter({ dir, flushIntervalMs: 40 });
    for (let i = 0; i < 10; i++) w.raw({ source: "kalshi", connId: "k", tsRecv: T0 + i, dir: "recv", text: `f${i}` });
    await sleep(200);
    const [journal] = fs.readdirSync(path.join(dir, "journal")).filter((f) => f.endsWith(".ndjson"));
    const lines = fs.readFileSync(path.join(dir, "journal", journal!), "utf8").trim().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as { text: string }).text)).toEqual(
      Array.from({ length: 10 }, (_, i) => `f${i}`),
    );
    await w.close();
  });

  it("recovers a leftover journal, dropping a truncated last line, then starts a new segment", async () => {
    const dir = freshDir();
    fs.mkdirSync(path.join(dir, "journal"), { recursive: true });
    const line = (i: number) =>
      JSON.stringify({ layer: "r", source: "kalshi", ts_recv: T0 + i, conn_id: "k", dir: "recv", ord: i, text: `f${i}` });
    const crashed = "seg-0001770897600000000-deadbeef";
    fs.writeFileSync(
      path.join(dir, "journal", `${crashed}.ndjson`),
      [line(0), line(1), line(2)].join("\n") + "\n" + line(3).slice(0, 25),
    );
    const w = await openTapeWriter({ dir });
    expect(w.stats()).toMatchObject({ recoveredSegments: 1, droppedPartialLines: 1 });
    w.raw({ source: "kalshi", connId: "k", tsRecv: T0 + 10, dir: "recv", text: "after" });
    await w.close();
    const frames = await readRaw(dir);
    expect(frames.map((f) => f.text)).toEqual(["f0", "f1", "f2", "after"]);
    // ord continues after the recovered data.
    expect(frames[3]!.ord).toBe(3);
    const names = parquetFiles(path.join(dir, "raw")).map((f) => path.basename(f, ".parquet"));
    expect(names).toHaveLength(2);
    expect(names[0]).toBe(crashed);
    expect(names[1]).not.toBe(crashed);
  });

  it("continues ord across sessions, so equal timestamps keep write order", async () => {
    const dir = freshDir();
    for (const marker of [1, 2, 3]) {
      const w = await openTapeWriter({ dir });
      w.event(timer(T0, marker), "kalshi");
      await w.close();
    }
    const out: number[] = [];
    for await (const b of readTapeEvents(dir)) out.push(...b.map((x) => x.event.tsExchange!));
    expect(out).toEqual([1, 2, 3]);
  });

  it("refuses a second writer on the same directory", async () => {
    const dir = freshDir();
    const w = await openTapeWriter({ dir });
    await expect(openTapeWriter({ dir })).rejects.toThrow(/in use by pid/);
    await w.close();
    const again = await openTapeWriter({ dir });
    await again.close();
  });

  it("counts events it cannot encode instead of throwing", async () => {
    const dir = freshDir();
    const w = await openTapeWriter({ dir });
    w.event({ kind: "index_value", tsRecv: T0, tsExchange: null, indexId: "BRTI", value: Infinity, avg60s: 1, quarterAvg: Number.NaN, quarterTicks: 0, sid: 1, seq: 1 }, "kalshi");
    w.event(timer(-5), "control");
    w.event(timer(T0), "control");
    await w.close();
    expect(w.stats()).toMatchObject({ events: 1, rejected: 2 });
  });

  it("survives kill -9: finished segments read back, the journal is recovered, at most ~1 s is lost", async () => {
    const dir = freshDir();
    const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "crash-child.ts"), dir, String(T0)], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    // (wall ms, frames written) as reported by the child.
    const reports: [number, number][] = [];
    let buf = "";
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const m = /^wrote (\d+)$/.exec(buf.slice(0, nl));
        if (m) reports.push([Date.now(), Number(m[1])]);
        buf = buf.slice(nl + 1);
      }
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, sig) => resolve(sig)));
    // Run until the child has written several 1-s (data time) segments and ~1.5 s of wall time passed.
    const started = Date.now();
    while ((reports.at(-1)?.[1] ?? 0) < 4000 || Date.now() - started < 1500) {
      if (child.exitCode !== null) throw new Error(`child exited early: ${stderr}`);
      if (Date.now() - started > 30_000) throw new Error(`child too slow: ${stderr}`);
      await sleep(20);
    }
    const killedAt = Date.now();
    process.kill(child.pid!, "SIGKILL");
    expect(await exited).toBe("SIGKILL");
    const reportedAtKill = reports.at(-1)![1];
    // Frames the child had written at least one second before the kill must all survive.
    const mustSurvive = [...reports].reverse().find(([t]) => t <= killedAt - 1000)?.[1] ?? 0;

    const before = new Set(parquetFiles(path.join(dir, "raw")).map((f) => path.basename(f)));
    expect(before.size).toBeGreaterThan(0); // segments were rolled while the child ran

    // Restart: recovery, then continue writing later frames.
    const w = await openTapeWriter({ dir, segmentSeconds: 1 });
    expect(w.stats().recoveredSegments).toBeGreaterThanOrEqual(1);
    const tAfter = T0 + 10_000_000_000; // far beyond anything the child wrote
    for (let i = 0; i < 3; i++) w.raw({ source: "kalshi", connId: "k-new", tsRecv: tAfter + i, dir: "recv", text: `new${i}` });
    await w.close();

    // Every segment file reads back on its own.
    const db = await (await DuckDBInstance.create(":memory:")).connect();
    const files = parquetFiles(path.join(dir, "raw"));
    for (const f of files) {
      const r = await db.runAndReadAll(`SELECT count(*)::INTEGER FROM read_parquet('${f}')`);
      expect(Number(r.getRowsJS()[0]![0])).toBeGreaterThan(0);
    }
    db.closeSync();
    expect(fs.readdirSync(path.join(dir, "journal")).filter((f) => f !== "LOCK")).toEqual([]);
    expect((fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith(".tmp"))).toEqual([]);

    const frames = await readRaw(dir);
    const old = frames.filter((f) => f.connId === "k-crash");
    const recovered = old.length;
    // A prefix of what was written, in order, nothing duplicated or reordered.
    old.forEach((f, i) => {
      expect(f.tsRecv).toBe(T0 + i * 1000);
      expect(JSON.parse(f.text)).toEqual({ type: "trade", sid: 1, seq: i + 1, msg: { i } });
    });
    expect(recovered).toBeGreaterThanOrEqual(mustSurvive);
    expect(recovered).toBeGreaterThanOrEqual(reportedAtKill - 10_000); // sanity: not a trivial prefix
    // The restart wrote into a new segment, after all recovered frames.
    const fresh = frames.filter((f) => f.connId === "k-new");
    expect(fresh.map((f) => f.text)).toEqual(["new0", "new1", "new2"]);
    expect(Math.min(...fresh.map((f) => f.ord))).toBeGreaterThan(Math.max(...old.map((f) => f.ord)));
    const after = parquetFiles(path.join(dir, "raw")).map((f) => path.basename(f));
    const added = after.filter((n) => !before.has(n));
    // The restart's own segment is new. The recovered journal's segment is new too, unless the kill
    // fell after its Parquet file was finished and before its journal was removed: recovery then
    // rewrites that same file (the frames above show nothing lost or doubled). CI once hit that window.
    expect(added.length).toBeGreaterThanOrEqual(1);
  });
});
