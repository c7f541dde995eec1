/**
 * The live loop shared by paper and live trading.
 *
 *   Kalshi WS ─┐                      ┌─► tape (raw frames + every event the session consumed)
 *   Coinbase ──┼─► ingest (ordered) ──┼─► TradingSession ─► gateway ─► SimVenue (paper)
 *   1-s Timer ─┤                      │                              └► KalshiTransport (live)
 *   REST recon ┤                      └─► status / logs / audit store
 *   kill/signal┘
 *
 * Paper and live differ only in the executor: the same session, engine and gateway. Everything the
 * session consumes goes through `ingest`, which keeps receipt times strictly increasing across sources
 * (a late stamp is moved to just after the previous event) and writes the event to the tape with that
 * exact tsRecv — so replaying a paper tape through the replayer reproduces the session's decisions
 * (lib/run/parity.ts). Timers, kill switches, synthesized health events and paper reconciliation
 * snapshots are recorded as source "control" (raw text = the event's JSON).
 *
 * Safety: a kill (SIGINT/SIGTERM, the kill file, or `kill()`) becomes a kill_switch event; the engine
 * halts and emits cancel_all; the runtime then confirms that no order rests (REST in live, the
 * simulated venue in paper), stops the loop and reports. A bounded run (`seconds`) ends the same way
 * minus the halt; live still cancels what rests, so nothing is left behind.
 */
import { existsSync } from "node:fs";
import type { AppConfig } from "../config.ts";
import type { EngineEvent, MarketInfo, OrderUpdate, OwnFill, PositionSnapshot, Source } from "../core/events.ts";
import type { AuditRecord, OrderIntent } from "../core/records.ts";
import { formatCountFp, formatIsoUs, formatMoneyDollars, US_PER_S, type TsUs } from "../core/units.ts";
import { KalshiTransport, type CancelAllReport } from "../exec/kalshi-transport.ts";
import { TradingSession } from "../run/session.ts";
import { derivedFrame, restAnswerFrame } from "../tape/rest-frames.ts";
import type { TapeSink } from "../tape/types.ts";
import { CoinbaseWsClient } from "../venues/coinbase/ws.ts";
import { KalshiSigner } from "../venues/kalshi/auth.ts";
import { restFillToOwnFill, toPositionSnapshot } from "../venues/kalshi/rest-parse.ts";
import { KalshiRestClient } from "../venues/kalshi/rest.ts";
import { PUBLIC_CHANNELS, type KalshiChannel, type KalshiWsClient } from "../venues/kalshi/ws.ts";
import { KalshiMarketFeed, marketSelection } from "./market-feed.ts";
import { nowUs, sleep } from "./clock.ts";
import { redactString, silentLogger, type Logger } from "./logger.ts";

export type RuntimeMode = "paper" | "live";


export interface RuntimeOptions {
  readonly mode: RuntimeMode;
  readonly app: AppConfig;
  readonly runId: string;
  /** Bounded run; undefined = until killed. */
  readonly seconds?: number;
  readonly logger?: Logger;
  /** Status lines and operator messages (default stdout). */
  readonly out?: (line: string) => void;
  readonly tape?: TapeSink | null;
  /** Audit records (the store writer). */
  readonly onRecord?: (r: AuditRecord) => void;
  readonly onIntent?: (i: OrderIntent) => void;
  /** Every event as the session consumed it (after ordering), with its source. */
  readonly onEvent?: (e: EngineEvent, source: Source) => void;
  /** Install SIGINT/SIGTERM handlers (default true; tests pass false and call kill()). */
  readonly handleSignals?: boolean;
  /** Override the signer (tests); default from KALSHI_API_KEY_ID / KALSHI_PRIVATE_KEY_PATH. */
  readonly signer?: KalshiSigner;
  /** REST timeout per request (default 10 s). */
  readonly restTimeoutMs?: number;
  /** Kalshi/Coinbase feeds on or off (default both on). */
  readonly feeds?: { readonly kalshi?: boolean; readonly coinbase?: boolean };
  /** Unknown-outcome resolver timings (tests shorten them). */
  readonly transportTimings?: { resolveDelayMs?: number; absentGraceMs?: number; resolveMaxMs?: number };
  /** Skip reconciliation while a write finished less than this long ago (REST lags writes). Default 2000. */
  readonly reconcileQuietMs?: number;
}

export interface RuntimeResult {
  readonly runId: string;
  readonly mode: RuntimeMode;
  readonly stopReason: string;
  readonly killed: boolean;
  /** Live: the final cancel-all report; paper: null. */
  readonly cancelReport: CancelAllReport | null;
  /** True when no order of ours rests at the end (REST in live, the simulated venue in paper). */
  readonly noneResting: boolean;
  readonly events: number;
  readonly opportunities: number;
  readonly trades: number;
  readonly errors: number;
  readonly exitCode: number;
}

interface FeedState {
  status: string;
  lastEventMs: number;
}

export class LiveRuntime {
  readonly session: TradingSession;
  readonly rest: KalshiRestClient;
  readonly transport: KalshiTransport | null;
  private readonly log: Logger;
  private readonly out: (line: string) => void;
  private readonly env: AppConfig["env"];
  private readonly signer: KalshiSigner;
  /** Kalshi market data for rolling markets (lib/live/market-feed.ts): discovery, lifecycle, subscriptions. */
  private feed: KalshiMarketFeed | null = null;
  private kalshiWs: KalshiWsClient | null = null;
  private coinbaseWs: CoinbaseWsClient | null = null;
  private markets: MarketInfo[] = [];
  private lastTs: TsUs = 0;
  private lastSource: Source | null = null;
  private readonly seenTrades = new Set<string>();
  private readonly feeds: Record<"kalshi" | "coinbase", FeedState> = {
    kalshi: { status: "idle", lastEventMs: 0 },
    coinbase: { status: "idle", lastEventMs: 0 },
  };
  private lastSpotMs = 0;
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private stopReason = "";
  private killed = false;
  private killReason = "";
  private stopResolve: (() => void) | null = null;
  private readonly stopped: Promise<void>;
  private reconciling = false;
  private startMs = 0;
  private readonly counts = { tapeErrors: 0, events: 0, opportunities: 0, trades: 0, errors: 0, refused: 0, reconciliations: 0, reconcileSkips: 0 };
  private signalHandler: ((sig: NodeJS.Signals) => void) | null = null;

  constructor(private readonly opts: RuntimeOptions) {
    const app = opts.app;
    this.env = app.env;
    this.log = (opts.logger ?? silentLogger).child({ component: "runtime", mode: opts.mode, runId: opts.runId });
    this.out = opts.out ?? ((line) => process.stdout.write(line + "\n"));
    const keyId = app.kalshi.apiKeyId;
    const keyPath = app.kalshi.privateKeyPath;
    if (!opts.signer && (!keyId || !keyPath)) {
      throw new Error("KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH are required (Kalshi's WebSocket and REST are signed)");
    }
    this.signer = opts.signer ?? KalshiSigner.fromFile(keyId!, keyPath!);
    this.rest = new KalshiRestClient({
      restUrl: app.kalshi.restUrl,
      signer: this.signer,
      logger: opts.logger,
      readTokensPerSecond: this.env.KALSHI_READ_TOKENS_PER_SECOND,
      writeTokensPerSecond: this.env.KALSHI_WRITE_TOKENS_PER_SECOND,
      writeBucketCapacity: this.env.KALSHI_WRITE_BUCKET_CAPACITY,
      timeoutMs: opts.restTimeoutMs ?? 10_000,
      // The raw layer keeps every REST answer the run used (discovery, series, snapshots, positions).
      ...(opts.tape
        ? {
            onAnswer: (a: { method: string; route: string; path: string; body: unknown }) => opts.tape!.raw(restAnswerFrame(a, nowUs())),
          }
        : {}),
      ...(this.env.KALSHI_EXCHANGE_INDEX !== undefined && this.env.KALSHI_EXCHANGE_INDEX >= 0 ? { exchangeIndex: this.env.KALSHI_EXCHANGE_INDEX } : {}),
    });
    this.transport =
      opts.mode === "live"
        ? new KalshiTransport({
            rest: this.rest,
            logger: opts.logger,
            emit: (e) => this.ingestAccount(e, true),
            ...(opts.transportTimings ?? {}),
          })
        : null;
    this.session = new TradingSession({
      config: app.engine,
      executor: this.transport ?? "sim",
      // Paper trades against the simulator, so its gateway is open (exactly as in replay); live obeys
      // TRADING_ENABLED.
      tradingEnabled: opts.mode === "paper" ? true : this.env.TRADING_ENABLED,
      onRecord: (r) => this.onRecord(r),
      onIntent: (i) => opts.onIntent?.(i),
      onRefused: (u, reason) => this.onRefused(u, reason),
    });
    this.stopped = new Promise((resolve) => (this.stopResolve = resolve));
  }

  // ---- public control ------------------------------------------------------------------------------

  /** Engage the kill switch: cancel everything, confirm, stop. Idempotent. */
  kill(reason: string): void {
    if (this.killed || this.stopping) {
      // Shutdown cannot be interrupted: a second Ctrl-C (or SIGTERM) only says where it is.
      this.out(this.stopProgress(reason));
      return;
    }
    this.killed = true;
    this.killReason = reason;
    this.out(`KILL SWITCH engaged (${reason}): cancelling all orders…`);
    this.log.warn("kill switch engaged", { reason });
    this.ingest({ kind: "kill_switch", tsRecv: nowUs(), tsExchange: null, engaged: true, reason }, "control");
    void this.stop(`kill switch: ${reason}`);
  }

  /** Markets the session follows now (they change as markets open and close). */
  followedMarkets(): readonly MarketInfo[] {
    return this.feed ? this.feed.followedMarkets() : this.markets;
  }

  /** The shared market feed (null before run). */
  marketFeed(): KalshiMarketFeed | null {
    return this.feed;
  }

  /** Run until the bounded time passes or a kill; resolves with the outcome. */
  async run(): Promise<RuntimeResult> {
    this.startMs = Date.now();
    const modeText = this.opts.mode === "paper" ? "PAPER (simulated venue, no real orders)" : `LIVE on Kalshi ${this.opts.app.kalshi.env}`;
    this.out(`${this.opts.mode} run ${this.opts.runId}: ${modeText}; REST ${this.opts.app.kalshi.restUrl}`);
    if (this.opts.mode === "live" && !this.env.TRADING_ENABLED) {
      this.out("TRADING_ENABLED is not 1: the order gateway will refuse every order (each refusal is logged). Set TRADING_ENABLED=1 to trade.");
    }
    if (existsSync(this.env.KILL_FILE)) {
      this.out(`kill file ${this.env.KILL_FILE} exists: remove it before starting.`);
      this.kill(`kill file ${this.env.KILL_FILE} present at start`);
      await this.stopped;
      return this.result(null, true);
    }
    if (this.opts.handleSignals !== false) this.installSignals();
    try {
      await this.discover();
    } catch (e) {
      this.counts.errors++;
      this.log.error("market discovery failed", { error: e });
      this.out(`market discovery failed: ${(e as Error).message}`);
      await this.stop("startup failure");
      return this.result(null, true, 2);
    }
    if (this.stopping) {
      // Killed during discovery: nothing was started.
      await this.stopped;
      return this.finalResult ?? this.result(null, true);
    }
    this.startFeeds();
    this.startTimers();
    if (this.opts.mode === "live") void this.reconcile();
    await this.stopped;
    return this.finalResult ?? this.result(null, true);
  }

  // ---- setup ---------------------------------------------------------------------------------------

  /**
   * The raw-frame sink of both feeds. Frames that arrive once shutdown began are not consumed (see
   * ingest), so they are not recorded either: the raw layer stays exactly what the session used.
   */
  private rawRecorder(): ((f: Parameters<TapeSink["raw"]>[0]) => void) | undefined {
    const tape = this.opts.tape ?? null;
    if (!tape) return undefined;
    return (f) => {
      if (!this.stopping || f.dir === "send") tape.raw(f);
    };
  }

  private async discover(): Promise<void> {
    const env = this.env;
    const onFrame = this.rawRecorder();
    const channels: KalshiChannel[] = [...PUBLIC_CHANNELS];
    if (this.opts.mode === "live") channels.push("fill", "user_orders");
    this.feed = new KalshiMarketFeed({
      rest: this.rest,
      ws: {
        wsUrl: this.opts.app.kalshi.wsUrl,
        signer: this.signer,
        authMode: env.KALSHI_WS_AUTH_MODE,
        queryNames: { key: env.KALSHI_WS_AUTH_QUERY_KEY, signature: env.KALSHI_WS_AUTH_QUERY_SIGNATURE, timestamp: env.KALSHI_WS_AUTH_QUERY_TIMESTAMP },
        channels,
        useYesPrice: env.KALSHI_WS_USE_YES_PRICE,
        staleAfterMs: env.KALSHI_STALE_SECONDS * 1000,
        logger: this.opts.logger,
        ...(onFrame ? { onFrame } : {}),
      },
      selection: marketSelection(env),
      discoverySeconds: env.KALSHI_DISCOVERY_SECONDS,
      withWebSocket: this.opts.feeds?.kalshi !== false,
      logger: this.opts.logger,
      onEvent: (e) => {
        if (e.kind === "order_update" || e.kind === "fill") this.ingestAccount(e, false);
        // A market record is the feed's merge of REST and WS answers: recorded as derived (see ingest).
        else this.ingest(e, "kalshi", e.kind === "market_info");
      },
    });
    this.markets = await this.feed.start();
    this.kalshiWs = this.feed.client;
    this.out(`following ${this.markets.length} markets${this.markets.length > 0 ? `: ${this.markets.slice(0, 4).map((m) => m.market).join(", ")}${this.markets.length > 4 ? ", …" : ""}` : ""} (new ones as they open)`);
  }

  private startFeeds(): void {
    const env = this.env;
    const onFrame = this.rawRecorder();
    if (this.opts.feeds?.coinbase !== false) {
      this.coinbaseWs = new CoinbaseWsClient({
        wsUrl: env.COINBASE_WS_URL,
        productId: env.COINBASE_PRODUCT_ID,
        level2: env.COINBASE_LEVEL2,
        staleAfterMs: env.COINBASE_STALE_SECONDS * 1000,
        logger: this.opts.logger,
        ...(onFrame ? { onFrame } : {}),
        onEvent: (e) => this.ingest(e, "coinbase"),
      });
      this.coinbaseWs.start();
    }
  }

  private startTimers(): void {
    const env = this.env;
    const every = (ms: number, f: () => void) => {
      const t = setInterval(() => {
        try {
          f();
        } catch (e) {
          this.counts.errors++;
          this.log.error("timer task failed", { error: e });
        }
      }, ms);
      this.timers.push(t);
    };
    every(1000, () => this.ingest({ kind: "timer", tsRecv: nowUs(), tsExchange: null }, "control"));
    every(env.STATUS_SECONDS * 1000, () => this.out(this.statusLine()));
    every(env.RECONCILE_SECONDS * 1000, () => void this.reconcile());
    every(250, () => {
      if (existsSync(env.KILL_FILE)) this.kill(`kill file ${env.KILL_FILE}`);
    });
    if (this.opts.seconds !== undefined) {
      const t = setTimeout(() => void this.stop(`--seconds ${this.opts.seconds} elapsed`), this.opts.seconds * 1000);
      this.timers.push(t);
    }
  }

  private installSignals(): void {
    this.signalHandler = (sig) => this.kill(sig);
    process.on("SIGINT", this.signalHandler);
    process.on("SIGTERM", this.signalHandler);
  }

  // ---- the event path ------------------------------------------------------------------------------

  /** Every event the session consumes passes here: ordered, recorded, then pushed. */
  private ingest(e: EngineEvent, source: Source, derived = false): void {
    if (this.finished) return;
    if (this.stopping && e.kind !== "kill_switch" && e.kind !== "timer" && e.kind !== "order_update" && e.kind !== "fill") return;
    let ev = e;
    // Strictly increasing receipt time across sources, so the tape reader's (ts, source, ord) order
    // is exactly the order the session saw.
    if (ev.tsRecv < this.lastTs || (ev.tsRecv === this.lastTs && source !== this.lastSource)) {
      ev = { ...ev, tsRecv: this.lastTs + 1 } as EngineEvent;
    }
    this.lastTs = ev.tsRecv;
    this.lastSource = source;
    this.observe(ev);
    this.opts.onEvent?.(ev, source);
    const tape = this.opts.tape;
    if (tape) {
      try {
        if (source === "control") tape.raw({ source: "control", connId: this.opts.runId, tsRecv: ev.tsRecv, dir: "recv", text: JSON.stringify(ev) });
        // An event built from REST answers (or merged from several frames) has no one raw frame that
        // re-parses into it: the raw layer gets the event itself next to the answers, so --from-raw
        // reproduces the session (lib/run/replay.ts RawReparser).
        // Feed health is synthesized by the WS clients (connect, stale, gap), not parsed from a frame.
        else if (derived || ev.kind === "feed_health") tape.raw(derivedFrame(ev, source));
        tape.event(ev, source);
      } catch (err) {
        this.counts.errors++;
        this.counts.tapeErrors++;
        this.log.error("tape write failed", { error: err });
      }
    }
    this.counts.events++;
    try {
      this.session.push(ev);
    } catch (err) {
      // One bad event must not stop the loop; it is logged with its kind for the post-mortem.
      this.counts.errors++;
      this.log.error("session rejected event", { kind: ev.kind, error: err });
    }
  }

  /** Venue reports about our own orders (transport, WS private channels, REST catch-up). */
  private ingestAccount(e: OrderUpdate | OwnFill, viaRest: boolean): void {
    if (e.kind === "fill") {
      if (this.seenTrades.has(e.tradeId)) return; // WS and REST may both report a trade
      this.seenTrades.add(e.tradeId);
      const cid = e.clientOrderId ?? (this.transport?.clientIdOf(e.orderId) ?? null);
      if (cid !== e.clientOrderId) e = { ...e, clientOrderId: cid };
    }
    this.ingest({ ...e, tsRecv: nowUs() } as EngineEvent, "kalshi", viaRest);
  }

  private observe(e: EngineEvent): void {
    const ms = Date.now();
    switch (e.kind) {
      case "feed_health":
        this.feeds[e.feed].status = e.status;
        if (e.status !== "connected" && e.status !== "resynced") this.log.warn("feed health", { feed: e.feed, status: e.status, detail: e.detail, sid: e.sid });
        else this.log.info("feed health", { feed: e.feed, status: e.status, detail: e.detail });
        break;
      case "spot_quote":
      case "spot_trade":
        this.feeds.coinbase.lastEventMs = ms;
        if (e.kind === "spot_quote") this.lastSpotMs = ms;
        break;
      case "book_snapshot":
      case "book_delta":
      case "index_value":
      case "market_ticker":
      case "public_trade":
      case "market_lifecycle":
        this.feeds.kalshi.lastEventMs = ms;
        break;
      default:
        break;
    }
  }

  private onRecord(r: AuditRecord): void {
    try {
      this.opts.onRecord?.(r);
    } catch (err) {
      this.counts.errors++;
      this.log.error("audit write failed", { error: err });
    }
    switch (r.kind) {
      case "opportunity":
        this.counts.opportunities++;
        this.log.info("opportunity", {
          evalId: r.evalId,
          market: r.market,
          decision: r.decision,
          reason: r.reason,
          side: r.side,
          pModel: r.pModel,
          yesBid: r.yesBid,
          yesAsk: r.yesAsk,
          evYes: r.evYes,
          evNo: r.evNo,
          spot: r.spot,
          tauSeconds: r.tauSeconds,
          detail: r.detail,
        });
        if (r.decision === "trade") {
          this.counts.trades++;
          this.out(`TRADE decision ${r.market}: buy ${r.side} · p_model ${r.pModel.toFixed(3)} · yes ${r.yesBid}/${r.yesAsk} · EV yes ${r.evYes.toFixed(3)} no ${r.evNo.toFixed(3)}`);
        }
        break;
      case "order":
        this.log.info("order", logFields(r));
        break;
      case "fill_record":
        this.log.info("fill", logFields(r));
        this.out(`FILL ${r.market} ${r.action} ${r.outcome} ${formatCountFp(r.count)} @ ${r.price} · position ${formatCountFp(r.positionAfter)}`);
        break;
      case "risk_state_changed":
        this.log.warn("risk state changed", logFields(r));
        this.out(`RISK ${r.from} → ${r.to}: ${r.reason}`);
        break;
      case "reconciliation":
        if (!r.ok) this.out(`RECONCILIATION MISMATCH: ${r.mismatches.join("; ")}`);
        this.log[r.ok ? "info" : "error"]("reconciliation", { ok: r.ok, mismatches: r.mismatches });
        break;
      case "inconsistency":
        this.log.warn("inconsistency", logFields(r));
        break;
      case "settlement":
        this.log.info("settlement", logFields(r));
        this.out(`SETTLED ${r.market} ${r.result} · position ${formatCountFp(r.position)} · pnl ${formatMoneyDollars(r.pnl, 2)}`);
        break;
      default:
        break;
    }
  }

  private onRefused(u: OrderUpdate, reason: string): void {
    this.counts.refused++;
    this.log.warn("order refused by gateway", { clientOrderId: u.clientOrderId, market: u.market, reason });
    if (this.counts.refused <= 20 || this.counts.refused % 50 === 0) this.out(`order ${u.clientOrderId} on ${u.market} ${u.status === "resting" ? "NOT amended" : "NOT placed"}: ${reason}`);
  }

  // ---- reconciliation ----------------------------------------------------------------------------

  /** One reconciliation round (exposed for tests). Returns false when skipped. */
  async reconcile(): Promise<boolean> {
    if (this.reconciling || this.stopping) return false;
    this.reconciling = true;
    try {
      return this.opts.mode === "paper" ? this.reconcilePaper() : await this.reconcileLive();
    } catch (e) {
      this.counts.errors++;
      this.log.warn("reconciliation failed; will retry", { error: e });
      return false;
    } finally {
      this.reconciling = false;
    }
  }

  /** Paper: the simulated venue's resting orders, taken only when nothing is in flight (so exact). */
  private reconcilePaper(): boolean {
    const sim = this.session.sim!;
    const engine = this.session.engine;
    if (sim.nextDue() !== Number.POSITIVE_INFINITY || engine.orders.open().some((o) => o.status !== "resting")) {
      this.counts.reconcileSkips++;
      return false;
    }
    const p = engine.portfolio;
    const snap: PositionSnapshot = {
      kind: "position_snapshot",
      tsRecv: nowUs(),
      tsExchange: null,
      // The simulator keeps no ledger of its own: positions are the engine's fills from it.
      positions: p.openMarkets().map((m) => ({ market: m, position: p.position(m).position })),
      restingOrders: sim.restingOrders(),
      balance: -1,
    };
    this.counts.reconciliations++;
    this.ingest(snap, "control");
    return true;
  }

  /**
   * Live: catch up fills REST knows and we have not seen, then positions + resting orders + balance.
   * Skipped when a write is in flight or just finished (REST lags writes), or one happens meanwhile.
   */
  private async reconcileLive(): Promise<boolean> {
    const t = this.transport!;
    const quietMs = this.opts.reconcileQuietMs ?? 2000;
    if (!t.quiet(quietMs)) {
      this.counts.reconcileSkips++;
      return false;
    }
    const fills = await this.rest.getFills({ minTsSeconds: Math.floor(this.startMs / 1000) - 1 });
    for (const f of fills) {
      if (this.seenTrades.has(f.tradeId) || t.hasEmittedTrade(f.tradeId)) continue;
      if (f.ts >= 0 && f.ts < this.startMs * 1000) continue; // before this run
      this.ingestAccount(restFillToOwnFill(f, nowUs(), t.clientIdOf(f.orderId)), true);
    }
    const [positions, resting, balance] = await Promise.all([this.rest.getPositions(), this.rest.getRestingOrders(), this.rest.getBalance(this.balanceShard())]);
    if (!t.quiet(quietMs) || this.stopping) {
      this.counts.reconcileSkips++;
      return false;
    }
    // Positions in markets of our selection (followed now, or closed and awaiting settlement).
    const ours = positions.filter((p) => this.feed?.directory.get(p.market) !== undefined || this.markets.some((m) => m.market === p.market));
    const snap = toPositionSnapshot(ours, resting, balance, nowUs());
    this.counts.reconciliations++;
    this.ingest(snap, "kalshi", true);
    return true;
  }

  /**
   * The shard whose collateral sizes our orders (reference §4.7): KALSHI_EXCHANGE_INDEX when set ≥ 0,
   * else the shard the followed markets live on; -1 (all shards) only when neither is known.
   */
  private balanceShard(): number {
    const fixed = this.env.KALSHI_EXCHANGE_INDEX;
    if (fixed !== undefined && fixed >= 0) return fixed;
    return this.feed?.primaryShard() ?? -1;
  }

  // ---- status ------------------------------------------------------------------------------------

  statusLine(): string {
    const now = Date.now();
    const engine = this.session.engine;
    const age = (ms: number) => (ms > 0 ? `${((now - ms) / 1000).toFixed(1)}s` : "never");
    const feeds = (["kalshi", "coinbase"] as const)
      .filter((f) => (f === "kalshi" ? this.kalshiWs : this.coinbaseWs) !== null)
      .map((f) => `${f}=${this.feeds[f].status}(${age(this.feeds[f].lastEventMs)})`)
      .join(" ");
    const p = engine.portfolio;
    const open = p.openMarkets();
    const posText = open.length === 0 ? "flat" : open.slice(0, 3).map((m) => `${m}:${formatCountFp(p.position(m).position)}`).join(",") + (open.length > 3 ? ",…" : "");
    const blocks = [...engine.risk.blocks().keys()];
    const g = this.session.gateway.stats;
    return (
      `[status ${formatIsoUs(nowUs()).slice(11, 19)}] ${this.opts.mode} · feeds ${feeds || "none"} · spot age ${age(this.lastSpotMs)}` +
      ` · risk ${engine.risk.state()}${blocks.length > 0 ? ` (blocked: ${blocks.slice(0, 3).join(",")}${blocks.length > 3 ? ",…" : ""})` : ""}` +
      ` · positions ${posText} · realized PnL ${formatMoneyDollars(p.realizedTotal(), 2)} fees ${formatMoneyDollars(p.feesTotal(), 2)}` +
      ` · orders open ${engine.orders.open().length} placed ${g.placed} refused ${g.refused}` +
      ` · opportunities ${this.counts.opportunities} (trade decisions ${this.counts.trades}) · events ${this.counts.events}`
    );
  }

  // ---- shutdown ----------------------------------------------------------------------------------

  private finalResult: RuntimeResult | null = null;
  /** Set once stop() is done: late venue reports are dropped (the store may be closing). */
  private finished = false;

  private result(report: CancelAllReport | null, noneResting: boolean, code?: number): RuntimeResult {
    // 1 when we cannot say that nothing rests: the operator must look.
    const exitCode = code ?? (noneResting ? 0 : 1);
    return {
      runId: this.opts.runId,
      mode: this.opts.mode,
      stopReason: this.stopReason,
      killed: this.killed,
      cancelReport: report,
      noneResting,
      events: this.counts.events,
      opportunities: this.counts.opportunities,
      trades: this.counts.trades,
      errors: this.counts.errors,
      exitCode,
    };
  }

  /** Stop the loop: confirm nothing rests, stop feeds and timers, finish the session. Idempotent. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopReason = reason;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    // Signal handlers stay installed until the end: a later signal must not take Node's default
    // (exit at once) while orders are being cancelled.
    let report: CancelAllReport | null = null;
    let noneResting = false;
    try {
      if (this.transport) {
        // The kill switch's cancel_all is already running; a bounded run's end starts one.
        report = (await this.transport.pendingCancelAll()) ?? (await this.transport.cancelAllAndConfirm(reason));
        noneResting = report.confirmed;
        await withTimeout(this.transport.idle(), 5000);
        this.transport.close();
        this.out(cancelReportText(this.killed ? "KILL SWITCH" : "shutdown", report));
      } else {
        noneResting = await this.drainSim();
        this.out(`${this.killed ? "KILL SWITCH" : "shutdown"}: ${noneResting ? "no orders rest at the simulated venue" : "simulated venue still lists resting orders"}.`);
      }
    } catch (e) {
      this.counts.errors++;
      this.log.error("shutdown cancel/confirm failed", { error: e });
      this.out(`shutdown: could not confirm that no orders rest: ${(e as Error).message}`);
    }
    await Promise.allSettled([this.feed?.close(), this.coinbaseWs?.close()]);
    if (this.session.sim) {
      try {
        this.session.finish();
      } catch (e) {
        this.counts.errors++;
        this.log.error("session finish failed", { error: e });
      }
    }
    this.rest.close();
    this.out(this.statusLine());
    const res = this.result(report, noneResting);
    this.finalResult = res;
    this.out(`stopped (${reason}); ${res.events} events, ${res.opportunities} opportunities, ${res.trades} trade decisions, ${res.errors} errors.`);
    this.log.info("stopped", { reason, ...res });
    try {
      await this.opts.tape?.flush();
    } catch (e) {
      // Counted by the writer itself (its stats); the runner reports them at exit.
      this.log.error("tape flush failed", { error: e });
    }
    this.finished = true;
    if (this.signalHandler) {
      process.off("SIGINT", this.signalHandler);
      process.off("SIGTERM", this.signalHandler);
    }
    this.stopResolve?.();
  }

  /** What a signal during shutdown prints. */
  private stopProgress(reason: string): string {
    if (this.finished) return `${reason}: already stopped; closing the tape and the store.`;
    const open = this.session.engine.orders.open();
    const cancelling = this.transport?.pendingCancelAll() ? "cancel-all running" : "finishing";
    return (
      `${reason}: already stopping (${this.stopReason || this.killReason}); ${cancelling}, ${open.length} order(s) of ours not final yet` +
      `${open.length > 0 ? ` (${open.slice(0, 8).map((o) => o.clientOrderId).join(", ")}${open.length > 8 ? ", …" : ""})` : ""}` +
      ` · ${((Date.now() - this.startMs) / 1000).toFixed(1)}s up. Further signals only print this line.`
    );
  }

  /** Paper: let the simulator process the cancels (its latency is in event time), with timer events. */
  private async drainSim(): Promise<boolean> {
    const sim = this.session.sim!;
    const engine = this.session.engine;
    // A bounded paper run leaves simulated orders where they are: nothing real rests anywhere.
    if (!this.killed) return true;
    for (let i = 0; i < 40; i++) {
      if (sim.restingOrders().length === 0 && sim.nextDue() === Number.POSITIVE_INFINITY && engine.orders.open().length === 0) return true;
      await sleep(60);
      this.ingest({ kind: "timer", tsRecv: nowUs(), tsExchange: null }, "control");
    }
    return sim.restingOrders().length === 0;
  }

  /** Tape writes that threw (the writer's own failure counts come from its stats). */
  tapeErrors(): number {
    return this.counts.tapeErrors;
  }

  /** Seconds since start (status / tests). */
  uptimeSeconds(): number {
    return (Date.now() - this.startMs) / 1000;
  }
}

/** The operator's line for a cancel-all outcome; it never claims more than REST confirmed. */
export function cancelReportText(who: string, r: CancelAllReport): string {
  if (r.confirmed) return `${who}: cancelled ${r.canceled} order(s); REST confirms no resting orders.`;
  const named = r.unconfirmed.length > 0 ? ` NOT CONFIRMED CANCELLED (${r.unconfirmed.length}): ${r.unconfirmed.join(", ")}.` : "";
  if (!r.listOk) {
    return (
      `${who}: COULD NOT LIST resting orders through REST (${redactString(r.errors.at(-1) ?? "error")}); sent ${r.cancelsSent} cancel(s) for the orders this run knows, ` +
      `${r.canceled} accepted.${named} Orders this run does not know cannot be ruled out — check the account by hand!`
    );
  }
  return `${who}: REST STILL LISTS ${r.stillResting.length} RESTING ORDER(S).${named} Cancel them by hand!`;
}

/** A record as log fields: its event time as `tsUs` (the logger's own `ts` is the wall clock). */
function logFields(r: AuditRecord): Record<string, unknown> {
  const { ts, kind, ...rest } = r;
  return { record: kind, tsUs: ts, ...rest };
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | null = null;
  const t = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** A run id that is also a short client_order_id prefix: mode letter + base-36 time + random. */
export function newRunId(mode: RuntimeMode, nowMs = Date.now()): string {
  const rand = Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, "0");
  return `${mode === "paper" ? "p" : "l"}${nowMs.toString(36)}${rand}`;
}

export { US_PER_S };

// ---- the command line shared by runners/paper.ts and runners/live.ts ---------------------------------

export interface CliOutcome {
  readonly exitCode: number;
  readonly runId: string;
  readonly tapeDir: string | null;
  readonly dbPath: string | null;
}

/**
 * `tsx runners/{paper,live}.ts [--seconds N] [--db PATH | --no-store] [--no-tape] [--debug]`.
 * Opens the logger (LOG_PATH), the tape (TAPE_DIR/<run id>) and the store (DB_PATH), runs the loop,
 * closes everything and returns the exit code.
 */
export async function runCli(mode: RuntimeMode, argv: readonly string[], env: Record<string, string | undefined> = process.env): Promise<CliOutcome> {
  const { parseArgs } = await import("node:util");
  const { join, resolve } = await import("node:path");
  const { ConfigError, MAX_TIMER_SECONDS, checkRuntimeFiles, loadConfig } = await import("../config.ts");
  const { mergeEngineConfig } = await import("../core/config.ts");
  const { createLogger } = await import("./logger.ts");
  const { openTapeWriter, recoverTapes } = await import("../tape/writer.ts");
  const { AuditWriter, beginRun, openStore, resolveDbPath } = await import("../store/db.ts");
  const say = (line: string) => process.stdout.write(line + "\n");

  let values: { seconds?: string; db?: string; "no-store"?: boolean; "no-tape"?: boolean; debug?: boolean; help?: boolean };
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        seconds: { type: "string" },
        db: { type: "string" },
        "no-store": { type: "boolean", default: false },
        "no-tape": { type: "boolean", default: false },
        debug: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return { exitCode: 2, runId: "", tapeDir: null, dbPath: null };
  }
  if (values.help) {
    say(`usage: tsx runners/${mode}.ts [--seconds N] [--db PATH | --no-store] [--no-tape] [--debug]   (environment: see .env.example)`);
    return { exitCode: 0, runId: "", tapeDir: null, dbPath: null };
  }
  let seconds: number | undefined;
  if (values.seconds !== undefined) {
    seconds = Number(values.seconds);
    if (!(seconds > 0) || !Number.isFinite(seconds) || seconds > MAX_TIMER_SECONDS) {
      process.stderr.write(`--seconds: expected a number in (0, ${MAX_TIMER_SECONDS}] (the longest timer Node can arm), got ${JSON.stringify(values.seconds)}\n`);
      return { exitCode: 2, runId: "", tapeDir: null, dbPath: null };
    }
  }
  let app: AppConfig;
  try {
    app = loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return { exitCode: 2, runId: "", tapeDir: null, dbPath: null };
    }
    throw e;
  }
  let fileWarnings: string[];
  try {
    fileWarnings = checkRuntimeFiles(app);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return { exitCode: 2, runId: "", tapeDir: null, dbPath: null };
    }
    throw e;
  }
  for (const w of fileWarnings) process.stderr.write(`warning: ${w}\n`);
  const runId = newRunId(mode);
  // client_order_ids carry the run id, so they never collide with another run's.
  app = { ...app, engine: mergeEngineConfig(app.engine, { orders: { clientOrderIdPrefix: runId } }) };
  const logger = createLogger({ path: app.env.LOG_PATH, stdout: values.debug === true, level: values.debug ? "debug" : "info" }).child({ runId });
  const tapeDir = values["no-tape"] ? null : resolve(join(app.env.TAPE_DIR, runId));
  if (tapeDir) {
    // Tapes of earlier runs that died without closing (kill -9, power loss): roll their journals now,
    // so they read back (and replay/parity/rebuild-store can use them).
    for (const r of await recoverTapes(resolve(app.env.TAPE_DIR))) {
      if (r.problem) say(`tape ${r.dir}: left alone (${r.problem})`);
      else
        say(
          `tape ${r.dir}: recovered ${r.journals} journal(s) left by an earlier run` +
            `${r.droppedPartialLines > 0 ? `, dropped ${r.droppedPartialLines} torn last line(s)` : ""}` +
            `${r.quarantinedLines > 0 ? `, quarantined ${r.quarantinedLines} malformed line(s)` : ""}`,
        );
    }
  }
  const tape = tapeDir ? await openTapeWriter({ dir: tapeDir }) : null;
  const dbPath = values["no-store"] ? null : resolveDbPath(values.db, env);
  const store = dbPath ? await openStore(dbPath) : null;
  let writer: InstanceType<typeof AuditWriter> | null = null;
  if (store) {
    await beginRun(store, { runId, mode, startedTs: nowUs(), configJson: JSON.stringify(app.engine), ...(tapeDir ? { tape: tapeDir } : {}) });
    writer = new AuditWriter(store, runId, mode, { batchRows: 5000 });
  }
  let storeFailures = 0;
  const flushTimer = writer
    ? setInterval(() => {
        writer!.flush().catch((e: unknown) => {
          storeFailures++;
          logger.error("store flush failed", { error: e });
        });
      }, 5000)
    : null;

  let exitCode = 1;
  let tapeSinkErrors = 0;
  // This process owns SIGINT/SIGTERM from here to the end: the first one is the kill switch, every
  // later one (also while the store and tape close) only prints progress — never Node's default exit.
  let runtime: LiveRuntime | null = null;
  let pendingSignal: string | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (runtime) runtime.kill(sig);
    else if (pendingSignal === null) pendingSignal = sig;
    else say(`${sig}: stopping; closing the tape and the store.`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    runtime = new LiveRuntime({
      mode,
      app,
      runId,
      ...(seconds !== undefined ? { seconds } : {}),
      logger,
      tape,
      handleSignals: false,
      ...(writer ? { onRecord: (r: AuditRecord) => writer!.write(r) } : {}),
    });
    const running = runtime.run();
    if (pendingSignal !== null) runtime.kill(pendingSignal);
    const result = await running;
    exitCode = result.exitCode;
    tapeSinkErrors = runtime.tapeErrors();
  } catch (e) {
    process.stderr.write(`${mode} failed: ${(e as Error).message}\n`);
    logger.error(`${mode} failed`, { error: e });
    exitCode = 2;
  } finally {
    if (flushTimer) clearInterval(flushTimer);
    try {
      await writer?.close();
    } catch (e) {
      storeFailures++;
      process.stderr.write(`store write failed: ${(e as Error).message}\n`);
    }
    await store?.close();
    try {
      await tape?.close();
    } catch (e) {
      process.stderr.write(`tape close failed: ${(e as Error).message}\n`);
    }
  }
  // Any lost write (tape, store, log) fails the run: the record of what happened is incomplete.
  const ts = tape?.stats();
  const tapeFailures = (ts?.journalWriteFailures ?? 0) + (ts?.rollFailures ?? 0) + tapeSinkErrors;
  const logFailures = logger.writeFailures?.() ?? 0;
  const writeFailures = tapeFailures + storeFailures + logFailures;
  if (writeFailures > 0) {
    say(
      `WRITE FAILURES: ${writeFailures} (tape ${tapeFailures}${ts && ts.lostLines > 0 ? `, ${ts.lostLines} line(s) lost` : ""}, store ${storeFailures}, log ${logFailures}).` +
        ` The run's record is incomplete.`,
    );
    if (exitCode === 0) exitCode = 3;
  }
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  if (tapeDir) say(`tape: ${tapeDir}`);
  if (dbPath) say(`store: ${dbPath} (run ${runId})`);
  if (tapeDir && dbPath) say(`parity check: tsx runners/parity.ts --tape ${tapeDir} --run ${runId} --db ${dbPath}`);
  say(`exit ${exitCode}${exitCode === 0 ? "" : exitCode === 1 ? ": could not confirm that no order rests — look now" : exitCode === 3 ? ": writes failed (see above)" : ": failed"}`);
  return { exitCode, runId, tapeDir, dbPath };
}
