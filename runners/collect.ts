/**
 * Collector: record Kalshi and/or Coinbase market data to the tape (raw frames + normalized events)
 * and to the store's market tables, for a fixed number of seconds.
 *
 *   tsx runners/collect.ts [--coinbase] [--kalshi] [--seconds N] [--debug] [--tape DIR] [--db PATH]
 *
 * With neither --coinbase nor --kalshi both feeds run. Configuration comes from the environment
 * (lib/config.ts). Kalshi markets are discovered over REST (explicit KALSHI_MARKET_TICKERS, else the
 * event / series filters), then followed on the WebSocket; a periodic REST book check compares the
 * venue's book with the streamed one and logs the mismatch count. Exits 0 with a one-line summary.
 */
import { derivedFrame, restAnswerFrame } from "../lib/tape/rest-frames.ts";
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import type { EngineEvent, Source } from "../lib/core/events.ts";
import { ConfigError, MAX_TIMER_SECONDS, loadConfig, type AppConfig } from "../lib/config.ts";
import { nowUs, sleep } from "../lib/live/clock.ts";
import { createLogger, type Logger } from "../lib/live/logger.ts";
import { beginRun, MarketDataWriter, openStore } from "../lib/store/db.ts";
import type { RawFrame, TapeSink } from "../lib/tape/types.ts";
import { openTapeWriter } from "../lib/tape/writer.ts";
import { CoinbaseWsClient } from "../lib/venues/coinbase/ws.ts";
import { KalshiSigner } from "../lib/venues/kalshi/auth.ts";
import { KalshiRestClient } from "../lib/venues/kalshi/rest.ts";
import { PUBLIC_CHANNELS } from "../lib/venues/kalshi/ws.ts";
import { KalshiMarketFeed, marketSelection } from "../lib/live/market-feed.ts";

export interface CollectOptions {
  readonly coinbase: boolean;
  readonly kalshi: boolean;
  /** Run length; default COLLECTOR_SECONDS. */
  readonly seconds?: number;
  readonly debug: boolean;
  /** Default TAPE_DIR (data/tapes). */
  readonly tapeDir?: string;
  /** Default DB_PATH. */
  readonly dbPath?: string;
  readonly env: Record<string, string | undefined>;
  /** REST book check cadence (default: every 15 s, at least twice per run). */
  readonly bookCheckSeconds?: number;
  /** Where the summary line goes (default stdout). */
  readonly print?: (line: string) => void;
  /** Stop early when this resolves (SIGINT in the CLI). */
  readonly stop?: Promise<void>;
}

export interface CollectSummary {
  readonly runId: string;
  readonly seconds: number;
  /** Markets of the selection seen (REST or lifecycle) over the run, and those released after close. */
  readonly kalshiMarkets: number;
  readonly kalshiMarketsReleased: number;
  readonly kalshiFrames: number;
  readonly coinbaseFrames: number;
  readonly events: number;
  readonly rejected: number;
  readonly gaps: number;
  readonly reconnects: number;
  readonly bookChecks: number;
  readonly bookMismatches: number;
  readonly sinkErrors: number;
  /** Writes lost (store, tape journal/rolls, log lines, sink errors); the CLI exits 3 when > 0. */
  readonly writeFailures: number;
  readonly rows: Record<string, number>;
}

const ArgsSchema = z.object({
  coinbase: z.boolean(),
  kalshi: z.boolean(),
  seconds: z.number().positive().max(MAX_TIMER_SECONDS, `at most ${MAX_TIMER_SECONDS} (the longest timer Node can arm)`).optional(),
  debug: z.boolean(),
  tape: z.string().min(1).optional(),
  db: z.string().min(1).optional(),
});

export function parseArgs(argv: readonly string[]): z.infer<typeof ArgsSchema> {
  const out: Record<string, unknown> = { coinbase: false, kalshi: false, debug: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--coinbase") out.coinbase = true;
    else if (a === "--kalshi") out.kalshi = true;
    else if (a === "--debug") out.debug = true;
    else if (a === "--seconds") out.seconds = Number(value());
    else if (a === "--tape") out.tape = value();
    else if (a === "--db") out.db = value();
    else throw new Error(`unknown argument ${a}`);
  }
  const r = ArgsSchema.safeParse(out);
  if (!r.success) throw new Error(`bad arguments: ${r.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
  return r.data;
}

function sameLevels(a: readonly (readonly [number, number])[], b: readonly (readonly [number, number])[]): boolean {
  return a.length === b.length && a.every((l, i) => l[0] === b[i]![0] && l[1] === b[i]![1]);
}

/** Non-secret view of the configuration for the runs table. */
function configSummary(cfg: AppConfig, o: { coinbase: boolean; kalshi: boolean; seconds: number }): string {
  const e = cfg.env;
  return JSON.stringify({
    feeds: { coinbase: o.coinbase, kalshi: o.kalshi },
    seconds: o.seconds,
    kalshi: {
      env: cfg.kalshi.env,
      restUrl: cfg.kalshi.restUrl,
      wsUrl: cfg.kalshi.wsUrl,
      wsAuthMode: e.KALSHI_WS_AUTH_MODE,
      useYesPrice: e.KALSHI_WS_USE_YES_PRICE,
      tickers: e.KALSHI_MARKET_TICKERS,
      status: e.KALSHI_MARKET_STATUS,
      limit: e.KALSHI_MARKET_LIMIT,
      maxPages: e.KALSHI_MARKET_MAX_PAGES,
      eventTicker: e.KALSHI_EVENT_TICKER ?? null,
      seriesTicker: e.KALSHI_SERIES_TICKER ?? null,
    },
    coinbase: { wsUrl: e.COINBASE_WS_URL, productId: e.COINBASE_PRODUCT_ID, staleSeconds: e.COINBASE_STALE_SECONDS, level2: e.COINBASE_LEVEL2 },
  });
}

export async function runCollector(o: CollectOptions): Promise<CollectSummary> {
  const cfg = loadConfig(o.env);
  const env = cfg.env;
  const both = !o.coinbase && !o.kalshi;
  const useKalshi = both || o.kalshi;
  const useCoinbase = both || o.coinbase;
  const seconds = o.seconds ?? env.COLLECTOR_SECONDS;
  const log: Logger = createLogger({ path: env.LOG_PATH, stdout: o.debug, level: o.debug ? "debug" : "info" }).child({ app: "collector" });
  const runId = `collect-${new Date().toISOString().replace(/[-:]/g, "").slice(0, 15)}-${randomBytes(3).toString("hex")}`;

  const tape = await openTapeWriter({ dir: o.tapeDir ?? env.TAPE_DIR });
  // Memory stays flat over a long capture: the store's buffer pool is capped (rows go to disk). At
  // 64 MB the 20 k msg/s soak ran 180 s with 0 write failures; 128 MB let the pool fill with cached pages.
  const store = await openStore(o.dbPath ?? env.DB_PATH, { memoryLimit: "64MB", threads: 1 });
  await beginRun(store, { runId, mode: "collect", startedTs: nowUs(), configJson: configSummary(cfg, { coinbase: useCoinbase, kalshi: useKalshi, seconds }) });
  const writer = new MarketDataWriter(store, runId);
  log.info("collector started", { runId, seconds, kalshi: useKalshi, coinbase: useCoinbase });

  let events = 0;
  let sinkErrors = 0;
  const sink = (source: Source) => (e: EngineEvent) => {
    events++;
    try {
      // Market records (merged from REST and WS) and feed health (synthesized) have no one raw frame: kept as derived.
      if (e.kind === "market_info" || e.kind === "feed_health") tape.raw(derivedFrame(e, source));
      tape.event(e, source);
      writer.write(e);
    } catch (err) {
      // A storage hiccup on one event must not end the run; it is counted and reported.
      sinkErrors++;
      if (sinkErrors <= 10) log.error("event not recorded", { kind: e.kind, reason: (err as Error).message });
    }
    if (e.kind === "feed_health") log.info("feed health", { feed: e.feed, status: e.status, sid: e.sid, markets: e.markets.length, detail: e.detail });
  };
  const raw = (f: RawFrame) => {
    try {
      tape.raw(f);
    } catch (err) {
      sinkErrors++;
      if (sinkErrors <= 10) log.error("frame not recorded", { reason: (err as Error).message });
    }
  };

  let feed: KalshiMarketFeed | null = null;
  let rest: KalshiRestClient | null = null;
  let coinbaseWs: CoinbaseWsClient | null = null;

  if (useKalshi) {
    const { apiKeyId, privateKeyPath } = cfg.kalshi;
    if (!apiKeyId || !privateKeyPath) {
      log.error("kalshi feed skipped: KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH are required (the WebSocket is always authenticated)");
    } else {
      try {
        const signer = KalshiSigner.fromFile(apiKeyId, privateKeyPath);
        rest = new KalshiRestClient({
          restUrl: cfg.kalshi.restUrl,
          signer,
          logger: log,
          readTokensPerSecond: env.KALSHI_READ_TOKENS_PER_SECOND,
          // REST answers go to the raw layer too, so --from-raw has the discovered markets.
          onAnswer: (a) => raw(restAnswerFrame(a, nowUs())),
        });
        // Markets roll: the feed follows lifecycle `created` at once and re-discovers over REST.
        feed = new KalshiMarketFeed({
          rest,
          ws: {
            wsUrl: cfg.kalshi.wsUrl,
            signer,
            authMode: env.KALSHI_WS_AUTH_MODE,
            queryNames: { key: env.KALSHI_WS_AUTH_QUERY_KEY, signature: env.KALSHI_WS_AUTH_QUERY_SIGNATURE, timestamp: env.KALSHI_WS_AUTH_QUERY_TIMESTAMP },
            channels: PUBLIC_CHANNELS,
            useYesPrice: env.KALSHI_WS_USE_YES_PRICE,
            onFrame: raw,
            logger: log,
          },
          selection: marketSelection(env),
          discoverySeconds: env.KALSHI_DISCOVERY_SECONDS,
          onEvent: sink("kalshi"),
          logger: log,
        });
        try {
          await feed.start();
        } catch (err) {
          log.error("market discovery failed (lifecycle frames and re-discovery continue)", { reason: (err as Error).message });
        }
      } catch (err) {
        log.error("kalshi feed not started", { reason: (err as Error).message });
      }
    }
  }
  if (useCoinbase) {
    coinbaseWs = new CoinbaseWsClient({
      wsUrl: env.COINBASE_WS_URL,
      productId: env.COINBASE_PRODUCT_ID,
      level2: env.COINBASE_LEVEL2,
      staleAfterMs: env.COINBASE_STALE_SECONDS * 1000,
      onFrame: raw,
      onEvent: sink("coinbase"),
      logger: log,
    });
    coinbaseWs.start();
  }

  // REST book check: the venue's book vs the streamed one, for a few fresh books at a time.
  let bookChecks = 0;
  let bookMismatches = 0;
  let checkCursor = 0;
  const checkBooks = async () => {
    const ws = feed?.client ?? null;
    const markets = feed?.followedMarkets() ?? [];
    if (!rest || !ws || markets.length === 0) return;
    for (let i = 0; i < Math.min(3, markets.length); i++) {
      const m = markets[checkCursor++ % markets.length]!.market;
      const local = ws.books.get(m);
      if (!local || local.stale) continue;
      try {
        const venue = await rest.getOrderbook(m);
        const mine = local.levels();
        bookChecks++;
        if (!sameLevels(venue.yesBids, mine.yesBids) || !sameLevels(venue.noBids, mine.noBids)) {
          // Not necessarily a bug: REST and WS are not sequenced together (and REST may be cached).
          bookMismatches++;
          log.warn("book check mismatch", { market: m, venueLevels: venue.yesBids.length + venue.noBids.length, localLevels: mine.yesBids.length + mine.noBids.length });
        }
      } catch (err) {
        log.warn("book check failed", { market: m, reason: (err as Error).message });
      }
    }
  };
  const checkEveryMs = (o.bookCheckSeconds ?? Math.min(15, Math.max(1, seconds / 3))) * 1000;
  let checking = false;
  const checkTimer = setInterval(() => {
    if (checking) return;
    checking = true;
    checkBooks().finally(() => {
      checking = false;
    });
  }, checkEveryMs);
  const flushTimer = setInterval(() => {
    Promise.all([tape.flush(), writer.flush()]).catch((err) => {
      sinkErrors++;
      log.error("flush failed", { reason: (err as Error).message });
    });
  }, 5000);

  await Promise.race([sleep(seconds * 1000), o.stop ?? new Promise<void>(() => {})]);

  clearInterval(checkTimer);
  clearInterval(flushTimer);
  await Promise.all([feed?.close(), coinbaseWs?.close()]);
  while (checking) await sleep(20);
  rest?.close();
  // Every lost write is counted (the CLI exits 3 on any): store, tape (journal writes and rolls), log.
  let storeFailures = 0;
  try {
    await writer.close();
  } catch (e) {
    storeFailures++;
    log.error("store write failed", { error: e });
  }
  try {
    await tape.close();
  } catch (e) {
    log.error("tape close failed", { error: e });
  }
  await store.close();
  const ts = tape.stats();
  const writeFailures = storeFailures + ts.journalWriteFailures + ts.rollFailures + (log.writeFailures?.() ?? 0) + sinkErrors;

  const kalshiWs = feed?.client ?? null;
  const summary: CollectSummary = {
    runId,
    seconds,
    kalshiMarkets: feed?.stats.marketsSeen ?? 0,
    kalshiMarketsReleased: feed?.stats.released ?? 0,
    kalshiFrames: kalshiWs?.stats.framesIn ?? 0,
    coinbaseFrames: coinbaseWs?.stats.framesIn ?? 0,
    events,
    rejected: (kalshiWs?.stats.rejected ?? 0) + (coinbaseWs?.stats.rejected ?? 0),
    gaps: (kalshiWs?.stats.gaps ?? 0) + (coinbaseWs?.stats.gaps ?? 0),
    reconnects: Math.max(0, (kalshiWs?.stats.connects ?? 0) - 1) + Math.max(0, (coinbaseWs?.stats.connects ?? 0) - 1),
    bookChecks,
    bookMismatches,
    sinkErrors,
    writeFailures,
    rows: writer.counts(),
  };
  log.info("collector finished", { ...summary });
  const line =
    `collect run=${runId} seconds=${seconds} kalshi_markets=${summary.kalshiMarkets} released=${summary.kalshiMarketsReleased} kalshi_frames=${summary.kalshiFrames} ` +
    `coinbase_frames=${summary.coinbaseFrames} events=${events} rejected=${summary.rejected} gaps=${summary.gaps} ` +
    `reconnects=${summary.reconnects} book_checks=${bookChecks} book_mismatches=${bookMismatches} sink_errors=${sinkErrors} write_failures=${writeFailures}`;
  (o.print ?? ((s: string) => process.stdout.write(s + "\n")))(line);
  return summary;
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\nusage: tsx runners/collect.ts [--coinbase] [--kalshi] [--seconds N] [--debug] [--tape DIR] [--db PATH]\n`);
    process.exit(2);
  }
  let stopNow: () => void = () => {};
  const stop = new Promise<void>((resolve) => {
    stopNow = resolve;
  });
  process.once("SIGINT", () => stopNow());
  process.once("SIGTERM", () => stopNow());
  try {
    const summary = await runCollector({
      coinbase: args.coinbase,
      kalshi: args.kalshi,
      ...(args.seconds !== undefined ? { seconds: args.seconds } : {}),
      debug: args.debug,
      ...(args.tape ? { tapeDir: args.tape } : {}),
      ...(args.db ? { dbPath: args.db } : {}),
      env: process.env,
      stop,
    });
    if (summary.writeFailures > 0) {
      process.stderr.write(`collector: ${summary.writeFailures} write failure(s) (store, tape or log): the capture is incomplete. Exit 3.\n`);
      process.exit(3);
    }
    process.exit(0);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(e.message + "\n");
      process.exit(2);
    }
    process.stderr.write(`collector failed: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
