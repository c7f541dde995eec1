/**
 * The collector end to end against both fake venues, in-process: it must run for the configured
 * seconds, write the market tables of the store and a readable tape, and report one summary line.
 * Oracles: the fake's own market list and the frames it sent (counted independently on the tape).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, queryObjects } from "../../lib/store/db.ts";
import { readTapeEvents, readTapeRaw } from "../../lib/tape/reader.ts";
import { startFakeCoinbase, startFakeKalshi, type FakeCoinbase, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { parseArgs, runCollector, type CollectSummary } from "../../runners/collect.ts";

let kalshi: FakeKalshi;
let coinbase: FakeCoinbase;
let dir: string;
let summary: CollectSummary;
const printed: string[] = [];

beforeAll(async () => {
  kalshi = await startFakeKalshi({ flowIntervalMs: 20, brtiIntervalMs: 200, tickerIntervalMs: 200 });
  coinbase = await startFakeCoinbase({ tickerIntervalMs: 50, heartbeatIntervalMs: 200 });
  dir = mkdtempSync(join(tmpdir(), "collect-test-"));
  summary = await runCollector({
    coinbase: false,
    kalshi: false, // neither flag: both feeds
    seconds: 3,
    debug: false,
    bookCheckSeconds: 1,
    print: (l) => printed.push(l),
    env: {
      KALSHI_ENV: "demo",
      ...kalshi.clientEnv,
      COINBASE_WS_URL: coinbase.wsUrl,
      DB_PATH: join(dir, "store.duckdb"),
      LOG_PATH: join(dir, "logs", "app.jsonl"),
      TAPE_DIR: join(dir, "tapes"),
    },
  });
}, 20_000);

afterAll(async () => {
  await kalshi.close();
  await coinbase.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("collector", () => {
  it("prints one summary line and records both feeds", () => {
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(/^collect run=collect-\S+ seconds=3 kalshi_markets=9 /);
    expect(summary.kalshiMarkets).toBe(kalshi.state.tickers().length);
    expect(summary.rejected).toBe(0);
    expect(summary.sinkErrors).toBe(0);
    expect(summary.bookChecks).toBeGreaterThan(0);
  });

  it("writes spot_ticks, kalshi_markets, kalshi_tickers and the order book tables", async () => {
    const store = await openStore(join(dir, "store.duckdb"));
    try {
      const count = async (table: string) => Number((await queryObjects(store, `SELECT count(*) AS n FROM ${table} WHERE run_id = $1`, [summary.runId]))[0]!.n);
      expect(await count("spot_ticks")).toBeGreaterThan(5);
      expect(await count("kalshi_markets")).toBe(kalshi.state.tickers().length);
      expect(await count("kalshi_tickers")).toBeGreaterThan(0);
      expect(await count("kalshi_orderbook_snapshots")).toBeGreaterThanOrEqual(kalshi.state.tickers().length);
      expect(await count("kalshi_orderbook_deltas")).toBeGreaterThan(10);
      expect(await count("index_values")).toBeGreaterThan(0);
      const markets = await queryObjects(store, `SELECT market FROM kalshi_markets WHERE run_id = $1 ORDER BY market`, [summary.runId]);
      expect(markets.map((m) => m.market)).toEqual(kalshi.state.tickers());
      const run = await queryObjects(store, `SELECT mode, config_json FROM runs WHERE run_id = $1`, [summary.runId]);
      expect(run[0]!.mode).toBe("collect");
      expect(String(run[0]!.config_json)).not.toContain(kalshi.keyId);
    } finally {
      await store.close();
    }
  });

  it("leaves a readable tape: raw frames of both venues and normalized events", async () => {
    const tapeDir = join(dir, "tapes");
    const sources = new Set<string>();
    let raw = 0;
    let sent = 0;
    for await (const batch of readTapeRaw(tapeDir)) {
      for (const f of batch) {
        raw++;
        sources.add(f.source);
        if (f.dir === "send") sent++;
      }
    }
    expect(sources).toEqual(new Set(["kalshi", "coinbase"]));
    expect(raw).toBeGreaterThan(20);
    expect(sent).toBeGreaterThanOrEqual(7); // 5 Kalshi subscribes + 2 Coinbase subscribes
    const kinds = new Set<string>();
    for await (const batch of readTapeEvents(tapeDir)) for (const e of batch) kinds.add(e.event.kind);
    for (const k of ["market_info", "book_snapshot", "book_delta", "spot_quote", "feed_health", "index_value"]) expect(kinds).toContain(k);
  });

  it("logs JSON lines without secrets", () => {
    const log = readFileSync(join(dir, "logs", "app.jsonl"), "utf8").trim().split("\n");
    expect(log.length).toBeGreaterThan(3);
    for (const l of log) expect(() => JSON.parse(l)).not.toThrow();
    const all = log.join("\n");
    expect(all).toContain("collector finished");
    expect(all).not.toContain(kalshi.keyId);
    expect(all).not.toMatch(/PRIVATE KEY/);
  });

  it("parses its command line", () => {
    expect(parseArgs(["--kalshi", "--seconds", "5", "--debug", "--tape", "t", "--db", "d"])).toEqual({ coinbase: false, kalshi: true, seconds: 5, debug: true, tape: "t", db: "d" });
    expect(() => parseArgs(["--seconds", "-1"])).toThrow(/bad arguments/);
    expect(() => parseArgs(["--bogus"])).toThrow(/unknown argument/);
  });
});
