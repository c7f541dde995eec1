/**
 * Mutation fuzzing of both venue parsers with real frames as seeds. Properties: the parser never
 * throws; a reject is `{ ok: false, error: non-empty string }`; an accept yields well-formed events
 * (exact-integer prices in [0, 1 $], finite numbers, sorted book levels, the given receipt time).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EVENT_KINDS, type EngineEvent } from "../../lib/core/events.ts";
import { parseCoinbaseFrame } from "../../lib/venues/coinbase/parse.ts";
import { parseKalshiFrame } from "../../lib/venues/kalshi/parse.ts";

const FIX = new URL("../../fixtures/frames/", import.meta.url);
const read = (n: string) => readFileSync(new URL(n, FIX), "utf8").trim().split("\n");

const kalshiSeeds = [...read("kalshi_ws_2026-02.jsonl"), ...read("kalshi_ws_current.jsonl"), ...read("kalshi_ws_refdoc.jsonl")];
// Big snapshot payloads (candles/trades history, ~16 KB) only slow the run; keep the small real frames.
const coinbaseSeeds = read("coinbase_ws_2026-08-09.jsonl")
  .map((l) => (JSON.parse(l) as { data: string }).data)
  .filter((d) => d.length < 4000);

/** Independent small PRNG (xorshift32), seeded. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function mutator(rand: () => number) {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

  /** Every container + key/index path inside a JSON value. */
  function slots(v: Json, out: { parent: Json[] | { [k: string]: Json }; key: string | number }[] = []) {
    if (Array.isArray(v)) v.forEach((c, i) => (out.push({ parent: v, key: i }), slots(c, out)));
    else if (v !== null && typeof v === "object") for (const k of Object.keys(v)) out.push({ parent: v, key: k }), slots(v[k]!, out);
    return out;
  }
  const get = (s: { parent: Json[] | { [k: string]: Json }; key: string | number }): Json =>
    (s.parent as Record<string | number, Json>)[s.key]!;
  const set = (s: { parent: Json[] | { [k: string]: Json }; key: string | number }, v: Json) => {
    (s.parent as Record<string | number, Json>)[s.key] = v;
  };

  const HUGE: Json[] = [1e308, -1e308, 9007199254740993, -1, 0, 1e-7, "99999999999999999999.99", "NaN", "Infinity", "-0.0001", "1e400", "0.12345678901234567890"];
  const ANY: Json[] = [null, true, false, 0, -7, 3.5, "", "x", "0.5000", [], {}, [["0.5", "1"]], { a: 1 }];

  function deep(depth: number, inner: Json): string {
    const open = rand() < 0.5 ? "[".repeat(depth) : '{"a":'.repeat(depth);
    const close = open.startsWith("[") ? "]".repeat(depth) : "}".repeat(depth);
    return open + JSON.stringify(inner) + close;
  }

  const ops: ((text: string) => string)[] = [
    // byte flip
    (t) => {
      const i = int(t.length);
      return t.slice(0, i) + String.fromCharCode(int(128)) + t.slice(i + 1);
    },
    // truncation
    (t) => t.slice(0, int(t.length)),
    // field deletion
    (t) => {
      const v = JSON.parse(t) as Json;
      const s = slots(v).filter((x) => !Array.isArray(x.parent));
      if (s.length === 0) return t;
      const victim = pick(s);
      delete (victim.parent as Record<string, Json>)[victim.key as string];
      return JSON.stringify(v);
    },
    // type swap
    (t) => {
      const v = JSON.parse(t) as Json;
      const s = slots(v);
      if (s.length === 0) return t;
      set(pick(s), pick(ANY));
      return JSON.stringify(v);
    },
    // huge / odd numbers in place of a scalar
    (t) => {
      const v = JSON.parse(t) as Json;
      const s = slots(v).filter((x) => {
        const c = get(x);
        return typeof c === "number" || typeof c === "string";
      });
      if (s.length === 0) return t;
      set(pick(s), pick(HUGE));
      return JSON.stringify(v);
    },
    // deep nesting: as a field value, or as the whole frame
    (t) => {
      const v = JSON.parse(t) as Json;
      const s = slots(v);
      if (s.length === 0 || rand() < 0.2) return deep(500 + int(4_000), v);
      const target = pick(s);
      const marker = "__DEEP__";
      set(target, marker);
      return JSON.stringify(v).replace(`"${marker}"`, deep(50 + int(1500), get(target) === marker ? 1 : null));
    },
    // duplicated keys: re-insert an existing key with another value (JSON.parse keeps the last one)
    (t) => {
      const m = [...t.matchAll(/"([a-z_]+)":/g)];
      if (m.length === 0) return t;
      const hit = pick(m);
      const dup = `"${hit[1]}":${JSON.stringify(pick(ANY))},`;
      return rand() < 0.5 ? t.slice(0, hit.index) + dup + t.slice(hit.index) : t.replace(/}$/, `,"${hit[1]}":${JSON.stringify(pick(ANY))}}`);
    },
  ];

  return (text: string): string => {
    let t = text;
    const n = 1 + int(3);
    for (let i = 0; i < n; i++) {
      const op = pick(ops);
      try {
        t = op(t);
      } catch {
        // A structural op on already-broken JSON: fall back to a byte flip.
        t = ops[0]!(t);
      }
    }
    return t;
  };
}

const KINDS = new Set<string>(EVENT_KINDS);
const isPrice = (p: number) => Number.isSafeInteger(p) && p >= 0 && p <= 10_000;

/** Invariants every accepted event must satisfy, whatever the input. */
function checkEvent(e: EngineEvent, tsRecv: number): string | null {
  if (!KINDS.has(e.kind)) return `kind ${e.kind}`;
  if (e.tsRecv !== tsRecv) return "tsRecv";
  if (e.tsExchange !== null && !Number.isSafeInteger(e.tsExchange)) return "tsExchange";
  switch (e.kind) {
    case "book_snapshot":
      for (const side of [e.yesBids, e.noBids]) {
        for (let i = 0; i < side.length; i++) {
          const [p, s] = side[i]!;
          if (!isPrice(p) || !Number.isSafeInteger(s) || s <= 0) return "level";
          if (i > 0 && side[i - 1]![0] >= p) return "level order";
        }
      }
      return null;
    case "book_delta":
      return isPrice(e.price) && Number.isSafeInteger(e.delta) ? null : "delta";
    case "public_trade":
      return isPrice(e.yesPrice) && Number.isSafeInteger(e.count) ? null : "trade";
    case "market_ticker":
      return [e.yesBid, e.yesAsk].every(isPrice) && (e.lastPrice === -1 || isPrice(e.lastPrice)) ? null : "ticker";
    case "fill":
      return isPrice(e.yesPrice) && Number.isSafeInteger(e.count) && Number.isSafeInteger(e.fee) ? null : "fill";
    case "spot_quote":
      return [e.bid, e.ask, e.bidSize, e.askSize].every((x) => Number.isFinite(x) && x >= 0) ? null : "quote";
    case "spot_trade":
      return Number.isFinite(e.price) && Number.isFinite(e.size) ? null : "spot trade";
    case "index_value":
      return Number.isFinite(e.value) && e.value > 0 ? null : "index";
    default:
      return null;
  }
}

describe("parser fuzzing", () => {
  it("100 000+ mutated real frames: no throw, rejects are ok:false, accepts are well-formed", () => {
    const rand = xorshift(0x5eed_2026);
    const mutate = mutator(rand);
    const N = 100_000;
    const stats = { frames: 0, kalshiAccept: 0, kalshiReject: 0, coinbaseAccept: 0, coinbaseReject: 0, throws: 0, badReject: 0, badEvent: 0 };
    const problems: string[] = [];
    for (let i = 0; i < N; i++) {
      const fromKalshi = i % 2 === 0;
      const seed = fromKalshi ? kalshiSeeds[Math.floor(rand() * kalshiSeeds.length)]! : coinbaseSeeds[Math.floor(rand() * coinbaseSeeds.length)]!;
      const text = mutate(seed);
      const ts = 1_700_000_000_000_000 + i;
      stats.frames++;
      // Each mutated frame goes to its own venue's parser, and every 5th to the other one as well.
      const targets: ("k" | "c")[] = fromKalshi ? ["k"] : ["c"];
      if (i % 5 === 0) targets.push(fromKalshi ? "c" : "k");
      for (const which of targets) {
        let r: { ok: true; events: EngineEvent[] } | { ok: false; error: string };
        try {
          r = which === "k" ? parseKalshiFrame(text, ts, { useYesPrice: (i & 2) === 0 }) : parseCoinbaseFrame(text, ts);
        } catch (e) {
          stats.throws++;
          if (problems.length < 5) problems.push(`throw ${String(e)} on ${text.slice(0, 200)}`);
          continue;
        }
        if (r.ok) {
          which === "k" ? stats.kalshiAccept++ : stats.coinbaseAccept++;
          for (const e of r.events) {
            const bad = checkEvent(e, ts);
            if (bad) {
              stats.badEvent++;
              if (problems.length < 5) problems.push(`bad ${bad}: ${JSON.stringify(e).slice(0, 200)} from ${text.slice(0, 200)}`);
            }
          }
        } else {
          which === "k" ? stats.kalshiReject++ : stats.coinbaseReject++;
          if (typeof r.error !== "string" || r.error.length === 0) stats.badReject++;
        }
      }
    }
    console.log("fuzz", JSON.stringify(stats));
    expect(problems).toEqual([]);
    expect(stats.frames).toBeGreaterThanOrEqual(100_000);
    expect(stats.throws).toBe(0);
    expect(stats.badReject).toBe(0);
    expect(stats.badEvent).toBe(0);
    // Both outcomes must occur, or the mutations are too weak / too strong to mean anything.
    for (const k of ["kalshiAccept", "kalshiReject", "coinbaseAccept", "coinbaseReject"] as const) expect(stats[k]).toBeGreaterThan(1000);
  });

  it("the unmutated seeds all parse (so rejects above come from the mutations)", () => {
    for (const s of kalshiSeeds) expect(parseKalshiFrame(s, 1, { useYesPrice: false }).ok).toBe(true);
    for (const s of coinbaseSeeds) expect(parseCoinbaseFrame(s, 1).ok).toBe(true);
  });
});
