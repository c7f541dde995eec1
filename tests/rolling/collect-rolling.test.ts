/**
 * The collector against the ROLLING fake (2-s windows, 11 windows): every new market is subscribed
 * within 1 s of its `created` frame, stored with the strike its metadata_updated announced and the
 * result its `determined` frame gave, and the book recorded on the tape equals the fake's book at the
 * instant the market closed. Oracles: the fake's own history (times, strikes, results, close books)
 * and the commands it received — never our own code's view.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BookRegistry } from "../../lib/core/book.ts";
import { openStore, queryObjects } from "../../lib/store/db.ts";
import { readTapeEvents } from "../../lib/tape/reader.ts";
import { verifyTape } from "../../lib/tape/verify.ts";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { runCollector, type CollectSummary } from "../../runners/collect.ts";

const WINDOW_S = 2;
const WINDOWS = 11;
let fake: FakeKalshi;
let dir: string;
let summary: CollectSummary;

beforeAll(async () => {
  fake = await startFakeKalshi({ flowIntervalMs: 15, brtiIntervalMs: 200, tickerIntervalMs: 500, seed: 77, rolling: { windowSeconds: WINDOW_S, maxWindows: WINDOWS } });
  dir = mkdtempSync(join(tmpdir(), "collect-rolling-"));
  summary = await runCollector({
    coinbase: false,
    kalshi: true,
    seconds: WINDOW_S * WINDOWS + 1.5,
    debug: false,
    bookCheckSeconds: 3600,
    print: () => {},
    env: {
      KALSHI_ENV: "demo",
      ...fake.clientEnv,
      KALSHI_SERIES: "KXBTC15M",
      KALSHI_DISCOVERY_SECONDS: "5",
      DB_PATH: join(dir, "store.duckdb"),
      LOG_PATH: join(dir, "logs", "app.jsonl"),
      TAPE_DIR: join(dir, "tapes"),
    },
  });
}, 60_000);

afterAll(async () => {
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Markets whose window had not closed when the collector connected (the ones it can know of). */
function knowable() {
  const start = fake.wsCommandTimes[0] ?? Number.POSITIVE_INFINITY;
  return [...fake.state.markets.values()].filter((m) => m.closeMs > start);
}

/** First time (ms) a command added the market to the book subscription (subscribe or add_markets). */
function subscribedAt(market: string): number {
  for (let i = 0; i < fake.wsCommands.length; i++) {
    const c = fake.wsCommands[i]! as { cmd: string; params?: { channels?: string[]; action?: string; market_tickers?: string[] } };
    const names = c.params?.market_tickers ?? [];
    if (!names.includes(market)) continue;
    if (c.cmd === "subscribe" && c.params?.channels?.includes("orderbook_delta")) return fake.wsCommandTimes[i]!;
    if (c.cmd === "update_subscription" && c.params?.action === "add_markets") return fake.wsCommandTimes[i]!;
  }
  return Number.POSITIVE_INFINITY;
}

describe("collector on rolling markets", () => {
  test("every window was opened, closed and settled by the fake", () => {
    const markets = [...fake.state.markets.values()];
    expect(markets).toHaveLength(WINDOWS);
    expect(markets.filter((m) => m.history!.settledMs > 0).length).toBeGreaterThanOrEqual(WINDOWS - 1);
    expect(knowable().length).toBeGreaterThanOrEqual(10);
    expect(summary.kalshiMarkets).toBe(knowable().length);
  });

  test("each market is subscribed within 1 s of its created frame (or of connecting, when it opened before)", () => {
    const start = fake.wsCommandTimes[0]!;
    for (const m of knowable()) {
      const at = subscribedAt(m.ticker);
      expect(at - Math.max(m.history!.createdMs, start), m.ticker).toBeLessThanOrEqual(1000);
    }
  });

  test("no subscribe command names a market more than 5 s after it closed; closed markets are deleted", () => {
    for (const m of fake.state.markets.values()) {
      if (m.history!.closedMs < 0) continue;
      for (let i = 0; i < fake.wsCommands.length; i++) {
        const c = fake.wsCommands[i]! as { cmd: string; params?: { action?: string; market_tickers?: string[] } };
        const adds = c.cmd === "subscribe" || (c.cmd === "update_subscription" && c.params?.action === "add_markets");
        if (adds && (c.params?.market_tickers ?? []).includes(m.ticker)) expect(fake.wsCommandTimes[i]! - m.history!.closedMs, m.ticker).toBeLessThanOrEqual(5000);
      }
    }
    const settled = [...fake.state.markets.values()].filter((m) => m.history!.settledMs > 0 && m.history!.settledMs < Date.now() - 2000);
    const book = fake.subscriptions().find((s) => s.channel === "orderbook_delta");
    // The collector has stopped; its last subscription list (if the connection is still listed) holds no settled market.
    if (book) for (const m of settled) expect(book.tickers).not.toContain(m.ticker);
    expect(
      fake.wsCommands.some((c) => (c as { cmd: string; params?: { action?: string } }).cmd === "update_subscription" && (c as { params: { action: string } }).params.action === "delete_markets"),
    ).toBe(true);
  });

  test("the store holds each market's announced strike and its venue result", async () => {
    const store = await openStore(join(dir, "store.duckdb"));
    try {
      for (const m of knowable()) {
        const rows = await queryObjects(store, `SELECT floor_strike, close_time_us, status FROM kalshi_markets WHERE run_id = $1 AND market = $2 ORDER BY ts_recv_us`, [summary.runId, m.ticker]);
        expect(rows.length, m.ticker).toBeGreaterThanOrEqual(2); // created, then the strike (then status changes)
        const last = rows[rows.length - 1]!;
        expect(Number(last.floor_strike), m.ticker).toBe(m.floorStrike);
        expect(Number(last.close_time_us)).toBe(m.closeMs * 1000);
        // Every row is a full record: times never −1 (the partial metadata_updated was merged).
        expect(rows.every((r) => Number(r.close_time_us) > 0)).toBe(true);
        if (m.history!.determinedMs > 0) {
          const det = await queryObjects(store, `SELECT result FROM kalshi_market_lifecycle WHERE run_id = $1 AND market = $2 AND phase = 'determined'`, [summary.runId, m.ticker]);
          expect(det.map((r) => r.result), m.ticker).toEqual([m.result]);
          expect(["determined", "finalized"]).toContain(last.status);
        }
      }
    } finally {
      await store.close();
    }
  });

  test("the recorded book of each market equals the fake's book at close", async () => {
    const books = new BookRegistry();
    let events = 0;
    for await (const batch of readTapeEvents(join(dir, "tapes"))) {
      for (const { event: e } of batch) {
        events++;
        if (e.kind === "book_snapshot") books.applySnapshot(e);
        else if (e.kind === "book_delta") books.applyDelta(e);
        else if (e.kind === "subscription_updated") books.countSeq(e.sid, e.seq);
      }
    }
    expect(events).toBeGreaterThan(100);
    let compared = 0;
    for (const m of knowable()) {
      const close = m.history!.closeBook;
      if (!close) continue;
      const b = books.get(m.ticker);
      expect(b, m.ticker).toBeDefined();
      expect(b!.levels().yesBids, m.ticker).toEqual(close.yes);
      expect(b!.levels().noBids, m.ticker).toEqual(close.no);
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(WINDOWS - 1);
    expect(summary.gaps).toBe(0);
  });

  test("tape verify: every market open during the capture was recorded from its open", async () => {
    const r = await verifyTape(join(dir, "tapes"));
    const expected = r.markets.filter((m) => m.expected);
    expect(expected.length).toBeGreaterThanOrEqual(knowable().length - 1);
    expect(expected.filter((m) => !m.recorded || m.late)).toEqual([]);
    expect(r.gaps.count).toBe(0);
  });
});
