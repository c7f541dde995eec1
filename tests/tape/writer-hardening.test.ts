/**
 * Inputs and journals that used to poison a tape (lone surrogates, JSON-valid but bad journal lines),
 * ord continuity when the newest ord is not on the newest day, and durability of a roll.
 * Real DuckDB, real files in os.tmpdir().
 */
import { describe, expect, it, vi } from "vitest";
import fs from "node:fs";
import path from "node:path";
import type { EngineEvent } from "../../lib/core/events.ts";
import { journalLineOk, openTapeWriter } from "../../lib/tape/writer.ts";
import { readTapeRaw, type RawFrameWithOrd } from "../../lib/tape/reader.ts";
import { readAll, tempDirs } from "./helpers.ts";

const freshDir = tempDirs("tape-hard-");
const D = Date.UTC(2026, 1, 12) * 1000; // midnight 2026-02-12
const T = D + 10 * 3_600_000_000; // 10:00
const fr = (ts: number, text: string, connId = "c") => ({ source: "kalshi" as const, connId, tsRecv: ts, dir: "recv" as const, text });

async function readRaw(dir: string): Promise<RawFrameWithOrd[]> {
  const out: RawFrameWithOrd[] = [];
  for await (const b of readTapeRaw(dir)) out.push(...b);
  return out;
}

const rawLine = (o: Record<string, unknown> = {}) =>
  JSON.stringify({ layer: "r", source: "kalshi", ts_recv: T, conn_id: "k", dir: "recv", ord: 0, text: "t", ...o });
const deltaLine = (o: Record<string, unknown> = {}) =>
  JSON.stringify({ layer: "e", source: "kalshi", ts_recv: T, ord: 0, kind: "book_delta", market: "M", sid: 1, seq: 1, side: "yes", price: 5000, qty: 100, ...o });

describe("lone UTF-16 surrogates", () => {
  it("are refused and counted in raw text and connId; the tape stays writable and reopens", async () => {
    const dir = freshDir();
    const w = await openTapeWriter({ dir });
    w.raw(fr(T, "lone \ud800 high"));
    w.raw(fr(T + 1, "x", "conn \udc00"));
    w.raw(fr(T + 2, "pair 🚀 fine"));
    await w.close(); // used to throw: DuckDB refused the journal
    expect(w.stats()).toMatchObject({ rejected: 2, rawFrames: 1, rollFailures: 0 });
    const w2 = await openTapeWriter({ dir }); // used to throw for ever
    await w2.close();
    expect((await readRaw(dir)).map((r) => r.text)).toEqual(["pair 🚀 fine"]);
  });

  it("are refused in an event's market and ref; inside extra they round-trip (JSON escapes them)", async () => {
    const dir = freshDir();
    const w = await openTapeWriter({ dir });
    const delta = { kind: "book_delta", tsRecv: T, tsExchange: null, market: "M", sid: 1, seq: 1, side: "yes", price: 5000, delta: 100, clientOrderId: null } as EngineEvent;
    const trade = { kind: "spot_trade", tsRecv: T + 1, tsExchange: null, productId: "BTC-USD", price: 1, size: 2, takerSide: "buy", tradeId: "ok" } as EngineEvent;
    const kill = { kind: "kill_switch", tsRecv: T + 2, tsExchange: null, engaged: true, reason: "lone \ud800" } as EngineEvent;
    w.event({ ...delta, market: "M\ud800" } as EngineEvent, "kalshi");
    w.event({ ...delta, clientOrderId: "\udfff" } as EngineEvent, "kalshi");
    w.event({ ...trade, tradeId: "t\ud83d" } as EngineEvent, "coinbase");
    w.event(delta, "kalshi");
    w.event(trade, "coinbase");
    w.event(kill, "control");
    await w.close();
    expect(w.stats()).toMatchObject({ rejected: 3, events: 3, rollFailures: 0 });
    expect((await readAll(dir)).map((x) => x.event)).toEqual([delta, trade, kill]);
  });

  it("a journal already holding one (older writer) recovers its good lines; the bad one is quarantined", async () => {
    const dir = freshDir();
    const jdir = path.join(dir, "journal");
    fs.mkdirSync(jdir, { recursive: true });
    const bad = rawLine({ ord: 1, ts_recv: T + 1, text: "lone \ud800" }); // JSON.stringify writes the \ud800 escape
    expect(bad).toContain("\\ud800");
    fs.writeFileSync(path.join(jdir, "seg-0001770890400000000-00000001.ndjson"), [rawLine({ text: "a" }), bad, rawLine({ ord: 2, ts_recv: T + 2, text: "b" })].join("\n") + "\n");
    const w = await openTapeWriter({ dir });
    expect(w.stats()).toMatchObject({ recoveredSegments: 1, quarantinedLines: 1, unrollableJournals: 0 });
    await w.close();
    expect((await readRaw(dir)).map((r) => r.text)).toEqual(["a", "b"]);
  });
});

describe("JSON-valid but bad journal lines", () => {
  const BAD: Record<string, string> = {
    "unknown source": rawLine({ source: "kalshh" }),
    "sid over int32": deltaLine({ sid: 2 ** 31 }),
    "price over int32": deltaLine({ price: -(2 ** 31) - 1 }),
    "missing ord": rawLine({ ord: undefined }),
    "missing ts_recv": rawLine({ ts_recv: undefined }),
    "fractional ts_recv": rawLine({ ts_recv: T + 0.5 }),
    "ord past 2^53": rawLine({ ord: 2 ** 60 }),
    "unknown layer": rawLine({ layer: "x" }),
    "raw without text": rawLine({ text: undefined }),
    "raw with a numeric conn_id": rawLine({ conn_id: 7 }),
    "raw with a bad dir": rawLine({ dir: "sideways" }),
    "unknown kind": deltaLine({ kind: "book_delat" }),
    "side outside the schema": deltaLine({ side: "YES" }),
    "side not valid for the kind": deltaLine({ side: "bid" }),
    "kind's required column missing": deltaLine({ seq: undefined }),
    "string in a number column": deltaLine({ qty: "100" }),
    "number in a string column": deltaLine({ market: 5 }),
    "lone surrogate in market": deltaLine({ market: "M\udc00" }),
    "bad extra of a rare kind": JSON.stringify({ layer: "e", source: "control", ts_recv: T, ord: 0, kind: "kill_switch", extra: "{}" }),
    "an array": "[1,2,3]",
  };

  it("the line check accepts good rows and refuses each bad one", () => {
    expect(journalLineOk(rawLine())).toBe(true);
    expect(journalLineOk(deltaLine())).toBe(true);
    expect(journalLineOk(deltaLine({ ts_exchange: null, ref: "coid" }))).toBe(true);
    for (const [why, line] of Object.entries(BAD)) expect(journalLineOk(line), why).toBe(false);
  });

  it("a journal holding them still opens; every good line is rolled, the bad ones set aside", async () => {
    const dir = freshDir();
    const jdir = path.join(dir, "journal");
    fs.mkdirSync(jdir, { recursive: true });
    const lines: string[] = [];
    let i = 0;
    for (const bad of Object.values(BAD)) {
      lines.push(rawLine({ ts_recv: T + i, ord: i, text: `good-${i}` }), bad);
      i++;
    }
    const name = "seg-0001770890400000000-0000bad0";
    fs.writeFileSync(path.join(jdir, `${name}.ndjson`), lines.join("\n") + "\n");
    const w = await openTapeWriter({ dir }); // used to throw for ever
    expect(w.stats()).toMatchObject({ recoveredSegments: 1, quarantinedLines: Object.keys(BAD).length, unrollableJournals: 0 });
    w.raw(fr(T + 1000, "after"));
    await w.close();
    const texts = (await readRaw(dir)).map((r) => r.text);
    expect(texts).toEqual([...Array.from({ length: i }, (_, k) => `good-${k}`), "after"]);
    expect(fs.readFileSync(path.join(jdir, "quarantine", `${name}.bad`), "utf8").trim().split("\n")).toEqual(Object.values(BAD));
    expect((await readAll(dir)).length).toBe(0);
  });

  it("a journal whose roll fails anyway is moved to journal/quarantine/ and the writer opens", async () => {
    const dir = freshDir();
    const jdir = path.join(dir, "journal");
    fs.mkdirSync(jdir, { recursive: true });
    // Its day's partition cannot be created (a file is in the way): the roll itself throws.
    fs.mkdirSync(path.join(dir, "raw"), { recursive: true });
    fs.writeFileSync(path.join(dir, "raw", "date=2026-02-12"), "in the way");
    const stuck = "seg-0001770890400000000-0000st0c";
    fs.writeFileSync(path.join(jdir, `${stuck}.ndjson`), rawLine({ ord: 41, text: "stuck" }) + "\n");
    // Another journal, of another day, still rolls.
    const other = "seg-0001770976800000000-000ok000";
    fs.writeFileSync(path.join(jdir, `${other}.ndjson`), rawLine({ ts_recv: T + 86_400_000_000, ord: 7, text: "next day" }) + "\n");
    const w = await openTapeWriter({ dir });
    expect(w.stats()).toMatchObject({ recoveredSegments: 1, unrollableJournals: 1 });
    w.raw(fr(T + 2 * 86_400_000_000, "new"));
    await w.close();
    expect(fs.readdirSync(path.join(jdir, "quarantine"))).toEqual([`${stuck}.ndjson`]);
    expect(fs.readdirSync(path.join(dir, "raw", "date=2026-02-13", "source=kalshi")).some((f) => f.endsWith(".parquet.tmp"))).toBe(false);
    fs.rmSync(path.join(dir, "raw", "date=2026-02-12"));
    const raw = await readRaw(dir);
    expect(raw.map((r) => r.text)).toEqual(["next day", "new"]);
    // ord continues above the quarantined journal's too (it may be rolled by hand later).
    expect(raw[1]!.ord).toBe(42);
  });
});

describe("ord after a restart when the newest ord is not on the newest day", () => {
  it("a clock step back over midnight", async () => {
    const dir = freshDir();
    const w1 = await openTapeWriter({ dir });
    w1.raw(fr(D + 10_000_000, "day2-a")); // ord 0, 2026-02-12
    w1.raw(fr(D - 10_000_000, "day1-b")); // ord 1, 2026-02-11
    w1.raw(fr(D - 9_000_000, "day1-c")); // ord 2
    await w1.close();
    const w2 = await openTapeWriter({ dir });
    w2.raw(fr(D + 20_000_000, "day2-d"));
    await w2.close();
    const ord = Object.fromEntries((await readRaw(dir)).map((r) => [r.text, r.ord]));
    expect(ord).toEqual({ "day1-b": 1, "day1-c": 2, "day2-a": 0, "day2-d": 3 });
  });

  it("one frame stamped in the future", async () => {
    const dir = freshDir();
    const w1 = await openTapeWriter({ dir, segmentSeconds: 60 });
    w1.raw(fr(T + 1, "a"));
    w1.raw(fr(Date.UTC(2027, 0, 1) * 1000, "glitch"));
    await w1.close();
    for (let run = 2; run <= 3; run++) {
      const w = await openTapeWriter({ dir, segmentSeconds: 60 });
      for (let i = 0; i < 5; i++) w.raw(fr(T + run * 3_600_000_000 + i, `run${run}-${i}`));
      await w.close();
    }
    const ords = (await readRaw(dir)).map((r) => r.ord);
    expect(ords.length).toBe(12);
    expect([...ords].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it("a damaged segment does not keep the writer from opening", async () => {
    const dir = freshDir();
    const w1 = await openTapeWriter({ dir });
    w1.raw(fr(T, "a"));
    await w1.close();
    const d = path.join(dir, "raw", "date=2026-02-12", "source=kalshi");
    fs.writeFileSync(path.join(d, "seg-0001770890400000001-damaged0.parquet"), "PAR1 not really");
    const w2 = await openTapeWriter({ dir });
    w2.raw(fr(T + 1, "b"));
    await w2.close();
    fs.rmSync(path.join(d, "seg-0001770890400000001-damaged0.parquet"));
    expect((await readRaw(dir)).map((r) => [r.text, r.ord])).toEqual([["a", 0], ["b", 1]]);
  });
});

describe("durability of a roll", () => {
  it("fsyncs each Parquet file and its partition directory before the journal is deleted", async () => {
    const dir = freshDir();
    const events: string[] = [];
    const fdPath = (fd: number) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return `fd ${fd}`;
      }
    };
    for (const name of ["fsyncSync", "fdatasyncSync"] as const) {
      const orig = fs[name].bind(fs);
      vi.spyOn(fs, name).mockImplementation((fd: number) => {
        events.push(`sync ${fdPath(fd)}`);
        return orig(fd);
      });
    }
    const origRm = fs.rmSync.bind(fs);
    vi.spyOn(fs, "rmSync").mockImplementation((p: fs.PathLike, o?: fs.RmOptions) => {
      events.push(`rm ${String(p)}`);
      return origRm(p, o);
    });
    try {
      const w = await openTapeWriter({ dir });
      for (let i = 0; i < 100; i++) w.raw(fr(T + i, `x${i}`));
      w.event({ kind: "timer", tsRecv: T + 1, tsExchange: null }, "control");
      await w.close();
    } finally {
      vi.restoreAllMocks();
    }
    if (!fs.existsSync("/proc/self/fd")) return;
    const rmJournal = events.findIndex((e) => e.startsWith("rm ") && e.endsWith(".ndjson"));
    expect(rmJournal, events.join("\n")).toBeGreaterThan(0);
    const before = events.slice(0, rmJournal);
    const real = fs.realpathSync(dir);
    for (const f of ["raw/date=2026-02-12/source=kalshi", "events/date=2026-02-12/source=control"]) {
      expect(before.some((e) => e.startsWith(`sync ${real}/${f}/`) && e.endsWith(".parquet.tmp")), f).toBe(true);
      expect(before, f).toContain(`sync ${real}/${f}`);
    }
  });
});
