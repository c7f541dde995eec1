/**
 * Test harness: the fake venues in-process and a LiveRuntime (paper or live) pointed at them, with an
 * in-memory audit store. Nothing here stubs our own clients: the runtime talks HTTP/WS to the fakes.
 */
import { loadConfig, type AppConfig } from "../../lib/config.ts";
import type { EngineConfigOverrides } from "../../lib/core/config.ts";
import type { EngineEvent, Source } from "../../lib/core/events.ts";
import type { AuditRecord, OrderIntent } from "../../lib/core/records.ts";
import { sleep } from "../../lib/live/clock.ts";
import { LiveRuntime, type RuntimeMode, type RuntimeResult } from "../../lib/live/runtime.ts";
import { AuditWriter, beginRun, openStore, queryObjects, type Store } from "../../lib/store/db.ts";
import type { TapeSink } from "../../lib/tape/types.ts";
import { startFakeCoinbase, startFakeKalshi, type FakeCoinbase, type FakeKalshi, type FakeKalshiOptions } from "../../lib/venues/fake/index.ts";

export interface Fakes {
  kalshi: FakeKalshi;
  coinbase: FakeCoinbase;
  close(): Promise<void>;
}

/**
 * Fakes with no random book flow (tests move books by hand), fast tickers and BRTI; `kalshi` overrides
 * the fake venue's options (the rolling suites' flow, seed and windows).
 */
export async function startFakes(o: { flowIntervalMs?: number; kalshi?: FakeKalshiOptions } = {}): Promise<Fakes> {
  const kalshi = await startFakeKalshi({ flowIntervalMs: o.flowIntervalMs ?? 0, brtiIntervalMs: 200, tickerIntervalMs: 0, seed: 4242, ...o.kalshi });
  const coinbase = await startFakeCoinbase({ tickerIntervalMs: 50 });
  return {
    kalshi,
    coinbase,
    async close() {
      await Promise.all([kalshi.close(), coinbase.close()]);
    },
  };
}

/** An environment that trades quickly: vol warm after a few ticks, every market evaluated each 0.2 s. */
export function tradingEnv(f: Fakes, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...f.kalshi.clientEnv,
    COINBASE_WS_URL: f.coinbase.wsUrl,
    KILL_FILE: "/nonexistent/kill-file-for-tests",
    VOL_MIN_SAMPLES: "2",
    VOL_GRID_SECONDS: "0.05",
    TAU_MAX_MINUTES: "100000",
    EV_MIN: "0",
    SPREAD_MAX_TICKS: "100",
    EVAL_INTERVAL_SECONDS: "0.2",
    NO_NEW_ENTRIES_LAST_SECONDS: "0",
    MAX_OPEN_POSITIONS: "10",
    MAX_POSITION_PCT: "0.5",
    MAX_EXPOSURE_PCT: "1",
    ORDER_CONTRACTS: "1",
    EXECUTION: "maker",
    STATUS_SECONDS: "3600",
    RECONCILE_SECONDS: "3600",
    RECONCILE_MAX_AGE_SECONDS: "3600",
    COINBASE_STALE_SECONDS: "1",
    ...extra,
  };
}

export interface Harness {
  rt: LiveRuntime;
  app: AppConfig;
  runId: string;
  done: Promise<RuntimeResult>;
  records: AuditRecord[];
  intents: OrderIntent[];
  events: { e: EngineEvent; source: Source }[];
  lines: string[];
  store: Store;
  writer: AuditWriter;
  /** Stop (if still running) and return the result. */
  finish(): Promise<RuntimeResult>;
  /** Rows per audit table of this run vs records emitted: equal when nothing is missing. */
  auditCounts(): Promise<{ expected: Record<string, number>; stored: Record<string, number> }>;
  close(): Promise<void>;
}

let runCounter = 0;

export async function startRuntime(
  mode: RuntimeMode,
  env: Record<string, string>,
  o: { overrides?: EngineConfigOverrides; seconds?: number; tape?: TapeSink; store?: Store; runId?: string } = {},
): Promise<Harness> {
  const runId = o.runId ?? `t${mode[0]}${Date.now().toString(36)}${++runCounter}`;
  const base = loadConfig(env, o.overrides);
  const app: AppConfig = { ...base, engine: { ...base.engine, orders: { ...base.engine.orders, clientOrderIdPrefix: runId } } };
  const store = o.store ?? (await openStore(":memory:"));
  await beginRun(store, { runId, mode, startedTs: Date.now() * 1000, configJson: JSON.stringify(app.engine) });
  const writer = new AuditWriter(store, runId, mode, { batchRows: 1_000_000 });
  const records: AuditRecord[] = [];
  const intents: OrderIntent[] = [];
  const events: { e: EngineEvent; source: Source }[] = [];
  const lines: string[] = [];
  const rt = new LiveRuntime({
    mode,
    app,
    runId,
    ...(o.seconds !== undefined ? { seconds: o.seconds } : {}),
    out: (l) => lines.push(l),
    handleSignals: false,
    restTimeoutMs: 700,
    reconcileQuietMs: 300,
    transportTimings: { resolveDelayMs: 100, absentGraceMs: 800, resolveMaxMs: 10_000 },
    onRecord: (r) => {
      records.push(r);
      writer.write(r);
    },
    onIntent: (i) => intents.push(i),
    onEvent: (e, source) => events.push({ e, source }),
    ...(o.tape ? { tape: o.tape } : {}),
  });
  const done = rt.run();
  const h: Harness = {
    rt,
    app,
    runId,
    done,
    records,
    intents,
    events,
    lines,
    store,
    writer,
    async finish() {
      await rt.stop("test finished");
      return done;
    },
    async auditCounts() {
      await writer.flush();
      const tableOf: Record<AuditRecord["kind"], string> = {
        opportunity: "opportunities",
        features: "features",
        risk_state_changed: "risk_events",
        risk_verdict: "risk_events",
        reconciliation: "risk_events",
        inconsistency: "risk_events",
        order: "orders",
        fill_record: "fills",
        position: "positions_snapshots",
        settlement: "settlements",
      };
      const expected: Record<string, number> = {};
      for (const r of records) expected[tableOf[r.kind]] = (expected[tableOf[r.kind]] ?? 0) + 1;
      const stored: Record<string, number> = {};
      for (const t of new Set(Object.values(tableOf))) {
        const rows = await queryObjects(store, `SELECT count(*)::INTEGER AS n FROM ${t} WHERE run_id = $1`, [runId]);
        const n = Number(rows[0]?.n ?? 0);
        if (n > 0 || expected[t] !== undefined) stored[t] = n;
      }
      return { expected, stored };
    },
    async close() {
      await rt.stop("test closed");
      await done;
      await writer.close();
      if (!o.store) await store.close();
    },
  };
  return h;
}

/** Poll until `cond` holds (or fail after `ms`). */
export async function waitFor(what: string, cond: () => boolean, ms = 8000, stepMs = 25): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

export const placed = (h: Harness) => h.intents.filter((i) => i.kind === "place_order");
