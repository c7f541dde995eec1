import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import type { EngineEvent, IndexValue, MarketInfo, Source } from "../../lib/core/events.ts";
import type { RawFrame, TapeSink } from "../../lib/tape/types.ts";
import { kxbtcdEventTicker, loadCandles, synthesize, Synthesizer, type Candle, type SynthOptions } from "../../lib/tape/synth.ts";
import { parseCoinbaseFrame } from "../../lib/venues/coinbase/parse.ts";
import { parseKalshiFrame } from "../../lib/venues/kalshi/parse.ts";
import { BINANCE_BTCUSD_1M_CSV } from "../../fixtures/data/paths.ts";

const CSV = BINANCE_BTCUSD_1M_CSV;
const at = (iso: string) => Date.parse(iso) * 1000;

const FAULTS = {
  seqGapAt: at("2026-03-02T00:30:00Z"),
  crossedBookAt: at("2026-03-02T00:40:00Z"),
  staleSpotFrom: at("2026-03-02T01:10:00Z"),
  staleSpotTo: at("2026-03-02T01:10:30Z"),
};
const OPTS: SynthOptions = {
  seed: 20260302,
  startDay: "2026-03-02",
  hours: 2.2,
  candleCsvPath: CSV,
  marketsPerHour: 9,
  spotTicksPerSecond: 2,
  deltasPerSecondPerMarket: 0.3,
  level2PerSecond: 0.2,
  faults: FAULTS,
};

interface Parsed {
  frame: RawFrame;
  ok: boolean;
  error?: string;
  events: EngineEvent[];
  sid: number;
  seq: number;
}

function parse(f: RawFrame): Parsed {
  if (f.source === "kalshi") {
    const r = parseKalshiFrame(f.text, f.tsRecv, { useYesPrice: false });
    return r.ok ? { frame: f, ok: true, events: r.events, sid: r.sid, seq: r.seq } : { frame: f, ok: false, error: r.error, events: [], sid: -1, seq: -1 };
  }
  const r = parseCoinbaseFrame(f.text, f.tsRecv);
  return r.ok ? { frame: f, ok: true, events: r.events, sid: -1, seq: r.sequenceNum } : { frame: f, ok: false, error: r.error, events: [], sid: -1, seq: -1 };
}

function digest(frames: readonly RawFrame[]): string {
  const h = createHash("sha256");
  for (const f of frames) h.update(`${f.tsRecv}|${f.source}|${f.connId}|${f.dir}|${f.text}\n`);
  return h.digest("hex");
}

let candles: Candle[];
let frames: RawFrame[];
let recv: Parsed[];
let events: EngineEvent[];
let synth: Synthesizer;

beforeAll(() => {
  candles = loadCandles(CSV);
  synth = new Synthesizer(OPTS, candles);
  frames = [...synth.frames()];
  recv = frames.filter((f) => f.dir === "recv").map(parse);
  events = recv.flatMap((p) => p.events);
});

describe("synthesizer: determinism and framing", () => {
  it("same seed → identical frames; another seed → different frames", () => {
    const again = [...new Synthesizer(OPTS, candles).frames()];
    expect(again.length).toBe(frames.length);
    expect(digest(again)).toBe(digest(frames));
    const short = { ...OPTS, hours: 0.1 };
    const a = [...new Synthesizer(short, candles).frames()];
    const b = [...new Synthesizer({ ...short, seed: OPTS.seed + 1 }, candles).frames()];
    expect(digest(a)).not.toBe(digest(b));
  });

  it("every received frame parses ok, and the tape stays inside [start, end)", () => {
    const bad = recv.filter((p) => !p.ok);
    expect(bad.map((p) => `${p.error}: ${p.frame.text.slice(0, 120)}`)).toEqual([]);
    expect(frames.length).toBeGreaterThan(20_000);
    expect(frames[0]!.tsRecv).toBeGreaterThanOrEqual(synth.start);
    expect(frames[frames.length - 1]!.tsRecv).toBeLessThan(synth.end);
    // send frames are our own subscribe commands, never credentials
    const sends = frames.filter((x) => x.dir === "send");
    expect(sends.length).toBeGreaterThan(5);
    expect(sends.filter((f) => /key|sign|jwt|secret/i.test(f.text))).toEqual([]);
  });

  it("receipt times are integer µs and non-decreasing; exchange times precede receipt", () => {
    let last = -Infinity;
    const badRecv = frames.filter((f) => {
      const bad = !Number.isSafeInteger(f.tsRecv) || f.tsRecv < last;
      last = f.tsRecv;
      return bad;
    });
    expect(badRecv).toEqual([]);
    expect(events.filter((e) => e.tsExchange !== null && e.tsExchange > e.tsRecv)).toEqual([]);
    const quoteLag = events.filter((e) => e.kind === "spot_quote").map((e) => e.tsRecv - e.tsExchange!);
    expect(Math.max(...quoteLag)).toBeLessThan(10_000);
  });

  it("Kalshi seq is continuous per sid except the one injected gap on the book sid", () => {
    const bySid = new Map<number, Parsed[]>();
    for (const p of recv) {
      if (p.frame.source !== "kalshi" || p.seq < 0) continue;
      const list = bySid.get(p.sid) ?? [];
      list.push(p);
      bySid.set(p.sid, list);
    }
    expect([...bySid.keys()].sort()).toEqual([1, 2, 4, 5]); // lifecycle, BRTI, trade, book (ticker is unsequenced)
    const gaps: { sid: number; from: number; to: number; t: number }[] = [];
    for (const [sid, ps] of bySid) {
      expect(ps[0]!.seq).toBe(1);
      for (let i = 1; i < ps.length; i++) if (ps[i]!.seq !== ps[i - 1]!.seq + 1) gaps.push({ sid, from: ps[i - 1]!.seq, to: ps[i]!.seq, t: ps[i]!.frame.tsRecv });
    }
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ sid: 5 });
    expect(gaps[0]!.to - gaps[0]!.from).toBe(2);
    expect(gaps[0]!.t).toBeGreaterThanOrEqual(FAULTS.seqGapAt);
    // The client then asked for fresh snapshots, which arrive with the command's id.
    const resync = frames.find((f) => f.dir === "send" && f.text.includes('"get_snapshot"') && f.tsRecv >= FAULTS.seqGapAt);
    expect(resync).toBeDefined();
    const snapAfter = recv.filter((p) => p.frame.tsRecv > resync!.tsRecv && p.events[0]?.kind === "book_snapshot");
    expect(snapAfter.length).toBeGreaterThanOrEqual(OPTS.marketsPerHour);
  });

  it("Coinbase sequence_num counts every frame from 0 without gaps, across the spot silence", () => {
    const seqs = recv.filter((p) => p.frame.source === "coinbase").map((p) => p.seq);
    expect(seqs.length).toBeGreaterThan(1000);
    expect(seqs.findIndex((s, i) => s !== i)).toBe(-1);
  });

  it("the spot feed is silent over the injected window and alive around it", () => {
    const cb = frames.filter((f) => f.source === "coinbase" && f.dir === "recv").map((f) => f.tsRecv);
    expect(cb.filter((t) => t >= FAULTS.staleSpotFrom && t < FAULTS.staleSpotTo)).toEqual([]);
    expect(cb.some((t) => t < FAULTS.staleSpotFrom && t > FAULTS.staleSpotFrom - 2_000_000)).toBe(true);
    expect(cb.some((t) => t >= FAULTS.staleSpotTo && t < FAULTS.staleSpotTo + 2_000_000)).toBe(true);
    // BRTI (Kalshi, in-band) keeps printing through it.
    const brti = events.filter((e) => e.kind === "index_value" && e.tsRecv >= FAULTS.staleSpotFrom && e.tsRecv < FAULTS.staleSpotTo);
    expect(brti.length).toBeGreaterThanOrEqual(29);
  });
});

describe("synthesizer: market content", () => {
  it("hourly ladders: N strikes at $250, floor strikes ending in .99, centred on spot, tickers in ET", () => {
    const infos = events.filter((e): e is MarketInfo => e.kind === "market_info");
    const byEvent = new Map<string, MarketInfo[]>();
    for (const i of infos) byEvent.set(i.eventTicker, [...(byEvent.get(i.eventTicker) ?? []), i]);
    // closes 01:00, 02:00 and 03:00 UTC (created 30 s before each open) → 3 events in a 2.2 h tape
    expect(byEvent.size).toBe(3);
    // 2026-03-02 01:00 UTC = 2026-03-01 20:00 EST (UTC−5): hand-derived event ticker.
    expect(byEvent.has("KXBTCD-26MAR0120")).toBe(true);
    expect(byEvent.has("KXBTCD-26MAR0121")).toBe(true);
    const quotes = events.filter((e) => e.kind === "spot_quote");
    for (const [ev, ms] of byEvent) {
      expect(ms).toHaveLength(OPTS.marketsPerHour);
      const strikes = ms.map((m) => m.floorStrike).sort((a, b) => a - b);
      for (const k of strikes) expect(Math.round((k + 0.01) * 100) % 25_000).toBe(0);
      for (let i = 1; i < strikes.length; i++) expect(strikes[i]! - strikes[i - 1]!).toBeCloseTo(250, 6);
      for (const m of ms) {
        expect(m.market).toBe(`${ev}-T${m.floorStrike.toFixed(2)}`);
        expect(m.strikeType).toBe("greater");
        expect(m.closeTime - m.openTime).toBe(3600 * 1e6);
        expect(m.closeTime % (3600 * 1e6)).toBe(0);
      }
      const created = ms[0]!.tsRecv;
      const q = quotes.reduce((best, x) => (Math.abs(x.tsRecv - created) < Math.abs(best.tsRecv - created) ? x : best));
      const mid = q.kind === "spot_quote" ? (q.bid + q.ask) / 2 : NaN;
      expect(Math.abs(strikes[Math.floor(strikes.length / 2)]! + 0.01 - mid)).toBeLessThanOrEqual(250);
    }
    expect(kxbtcdEventTicker(at("2026-07-01T21:00:00Z"))).toBe("KXBTCD-26JUL0117"); // EDT, UTC−4
  });

  it("spot quotes follow the real candle of the mapped minute", () => {
    // Independent CSV read: minute → [low, high].
    const rows = readFileSync(CSV, "utf8").trim().split("\n").slice(1);
    const range = new Map<string, [number, number]>();
    for (const r of rows) {
      const [t, , h, l] = r.split(",");
      range.set(t!.slice(0, 10) + "T" + t!.slice(11, 16), [Number(l), Number(h)]);
    }
    let checked = 0;
    const outside: string[] = [];
    for (const e of events) {
      if (e.kind !== "spot_quote") continue;
      const minute = new Date(e.tsRecv / 1000).toISOString().slice(10, 16); // "THH:MM"
      const [lo, hi] = range.get(synth.candleDay + minute)!;
      const mid = (e.bid + e.ask) / 2;
      // The bridge is clamped to [low, high]; the quoted spread adds at most ~6 cents either side.
      if (!(e.bid < e.ask) || mid < lo - 0.1 || mid > hi + 0.1) outside.push(`${minute} ${e.bid}/${e.ask} vs [${lo}, ${hi}]`);
      checked++;
    }
    expect(outside.slice(0, 5)).toEqual([]);
    expect(checked).toBeGreaterThan(10_000);
  });

  it("books (rebuilt by a plain map oracle) never cross except at the injected fault; trades take top of book", () => {
    type Book = { yes: Map<number, number>; no: Map<number, number>; stale: boolean };
    const books = new Map<string, Book>();
    const best = (m: Map<number, number>) => Math.max(-1, ...m.keys());
    const crossedAt: number[] = [];
    let lastBookSeq = 0;
    let pendingTrade: { market: string; side: "yes" | "no"; price: number; count: number } | null = null;
    let trades = 0;
    for (const p of recv) {
      if (p.frame.source === "kalshi" && p.sid === 5 && p.seq >= 0) {
        if (p.seq !== lastBookSeq + 1) for (const b of books.values()) b.stale = true; // gap: trust nothing until re-snapshot
        lastBookSeq = p.seq;
      }
      for (const e of p.events) {
        if (e.kind === "book_snapshot") {
          books.set(e.market, { yes: new Map(e.yesBids), no: new Map(e.noBids), stale: false });
        } else if (e.kind === "book_delta") {
          const b = books.get(e.market)!;
          const side = e.side === "yes" ? b.yes : b.no;
          const after = (side.get(e.price) ?? 0) + e.delta;
          if (!b.stale) expect(after).toBeGreaterThanOrEqual(0);
          if (after <= 0) side.delete(e.price);
          else side.set(e.price, after);
          if (pendingTrade && pendingTrade.market === e.market) {
            expect({ side: e.side, price: e.price, delta: e.delta }).toEqual({ side: pendingTrade.side, price: pendingTrade.price, delta: -pendingTrade.count });
            pendingTrade = null;
          }
          const yb = best(b.yes);
          const nb = best(b.no);
          if (!b.stale && yb >= 0 && nb >= 0 && yb + nb >= 10_000) crossedAt.push(e.tsRecv);
        } else if (e.kind === "public_trade") {
          const b = books.get(e.market)!;
          // A YES taker lifts the YES ask = the best NO bid at 1 − price; a NO taker hits the best YES bid.
          const side = e.takerSide === "yes" ? "no" : "yes";
          const price = e.takerSide === "yes" ? 10_000 - e.yesPrice : e.yesPrice;
          if (!b.stale) {
            expect(best(side === "yes" ? b.yes : b.no)).toBe(price);
            expect((side === "yes" ? b.yes : b.no).get(price)!).toBeGreaterThanOrEqual(e.count);
          }
          pendingTrade = { market: e.market, side, price, count: e.count };
          trades++;
        }
      }
    }
    expect(trades).toBeGreaterThan(100);
    expect(crossedAt.length).toBeGreaterThan(0);
    for (const t of crossedAt) {
      expect(t).toBeGreaterThanOrEqual(FAULTS.crossedBookAt);
      expect(t).toBeLessThan(FAULTS.crossedBookAt + 120_000_000);
    }
  });

  it("settlements follow the BRTI 60-s average before close (strike rule: greater → avg > floor)", () => {
    const infos = new Map(events.filter((e): e is MarketInfo => e.kind === "market_info").map((i) => [i.market, i]));
    const brti = events.filter((e): e is IndexValue => e.kind === "index_value");
    const determined = events.filter((e) => e.kind === "market_lifecycle" && e.phase === "determined");
    const settled = new Set(events.filter((e) => e.kind === "market_lifecycle" && e.phase === "settled").map((e) => (e.kind === "market_lifecycle" ? e.market : "")));
    expect(determined).toHaveLength(2 * OPTS.marketsPerHour); // events closing 01:00 and 02:00
    let yes = 0;
    for (const d of determined) {
      if (d.kind !== "market_lifecycle") continue;
      const info = infos.get(d.market)!;
      // Oracle: Kalshi's rule, the simple mean of the 60 prints in (close − 60 s, close] (close−59 s …
      // close), read off the tape itself.
      const window = brti.filter((v) => v.tsExchange! > info.closeTime - 60_000_000 && v.tsExchange! <= info.closeTime);
      expect(window).toHaveLength(60);
      const mean = window.reduce((s, v) => s + v.value, 0) / 60;
      // The CF frame's own trailing average [t − 60 s, t) at the close print is a different window.
      const closePrint = brti.find((v) => v.tsExchange === info.closeTime)!;
      const cf = brti.filter((v) => v.tsExchange! >= info.closeTime - 60_000_000 && v.tsExchange! < info.closeTime);
      expect(closePrint.avg60s).toBeCloseTo(cf.reduce((s, v) => s + v.value, 0) / 60, 6);
      // Kalshi's running settlement average, complete at the close print, is that same mean; in the
      // final minute the k-th print of the window carries the mean of the first k.
      expect(closePrint).toMatchObject({ quarterTicks: 60 });
      expect(closePrint.quarterAvg).toBeCloseTo(mean, 6);
      const tenth = window[9]!;
      expect(tenth.quarterTicks).toBe(10);
      expect(tenth.quarterAvg).toBeCloseTo(window.slice(0, 10).reduce((s, v) => s + v.value, 0) / 10, 6);
      const before = brti.find((v) => v.tsExchange === info.closeTime - 60_000_000)!;
      expect([before.quarterTicks, Number.isNaN(before.quarterAvg)]).toEqual([0, true]);
      expect(d.result).toBe(mean > info.floorStrike ? "yes" : "no");
      expect(d.settlementValue).toBe(d.result === "yes" ? 10_000 : 0);
      expect(d.tsRecv).toBeGreaterThan(info.closeTime);
      if (d.result === "yes") yes++;
    }
    // A ladder around spot settles both ways.
    expect(yes).toBeGreaterThan(0);
    expect(yes).toBeLessThan(determined.length);
    expect(settled.size).toBeGreaterThan(0);
    expect(synth.settlements).toHaveLength(determined.length);
  });
});

describe("synthesize() into a sink", () => {
  it("writes every frame raw and exactly the parsers' events, tagged by source", async () => {
    const raw: RawFrame[] = [];
    const got: { e: EngineEvent; source: Source }[] = [];
    let flushes = 0;
    const sink: TapeSink = {
      raw: (f) => void raw.push(f),
      event: (e, source) => void got.push({ e, source }),
      flush: async () => void flushes++,
      close: async () => undefined,
    };
    const summary = await synthesize({ ...OPTS, hours: 0.1, faults: {} }, sink);
    expect(summary.frames).toBe(raw.length);
    expect(summary.events).toBe(got.length);
    expect(summary.parseRejects).toBe(0);
    expect(flushes).toBeGreaterThan(1);
    const expected = raw.flatMap((f) => (f.dir === "recv" ? parse(f).events.map((e) => ({ e, source: f.source })) : []));
    expect(got).toEqual(expected);
    expect(summary.eventsByKind["book_snapshot"]).toBe(OPTS.marketsPerHour);
  });
});

describe("synthesize() in direct mode (bench tapes)", () => {
  const collect = async (opts: SynthOptions) => {
    const raw: RawFrame[] = [];
    const got: { e: EngineEvent; source: Source }[] = [];
    const sink: TapeSink = {
      raw: (f) => void raw.push(f),
      event: (e, source) => void got.push({ e, source }),
      flush: async () => undefined,
      close: async () => undefined,
    };
    const summary = await synthesize(opts, sink);
    return { raw, got, summary };
  };

  // The oracle is the text path: frames formatted as the venues send them and read back by the live
  // parsers. Direct mode must give the same events, field for field and in the same order, including
  // across the injected faults (lost delta, crossed book, spot silence) and with several rates.
  for (const [name, opts] of [
    ["faults, 2.2 h", OPTS],
    ["busy book, 1 h", { ...OPTS, seed: 7, hours: 1, marketsPerHour: 15, spotTicksPerSecond: 12, deltasPerSecondPerMarket: 1.5, faults: {} }],
  ] as const) {
    it(`gives exactly the parsed events of the text path (${name}), and no raw frames`, async () => {
      const text = await collect(opts);
      const direct = await collect({ ...opts, directEvents: true });
      expect(direct.raw).toEqual([]);
      expect(direct.summary.parseRejects).toBe(0);
      expect(direct.summary.frames).toBe(text.summary.frames);
      expect(direct.summary.eventsByKind).toEqual(text.summary.eventsByKind);
      expect(direct.got.length).toBe(text.got.length);
      // Compare in slices so a difference names the first events that differ, not a 100k-line diff.
      for (let i = 0; i < text.got.length; i += 5_000) expect(direct.got.slice(i, i + 5_000)).toEqual(text.got.slice(i, i + 5_000));
      const hot = ["book_delta", "market_ticker", "spot_quote"].reduce((s, k) => s + (text.summary.eventsByKind[k] ?? 0), 0);
      expect(hot / text.got.length).toBeGreaterThan(0.6);
    });
  }
});
