/** Shared pieces of the rolling-market suites: the fakes, the environment, the independent PnL. */
import type { Opportunity, PositionRecord, SettlementRecord } from "../../lib/core/records.ts";
import type { AuditRecord } from "../../lib/core/records.ts";
import { PRICE_ONE } from "../../lib/core/units.ts";
import type { FakeKalshi } from "../../lib/venues/fake/index.ts";
import { startFakes, type Fakes } from "../live/harness.ts";

export const WINDOW_S = 2;
export const WINDOWS = 11;

export type RollingFakes = Fakes;

export function startRollingFakes(seed: number, windows = WINDOWS, windowSeconds = WINDOW_S): Promise<RollingFakes> {
  return startFakes({ kalshi: { flowIntervalMs: 15, brtiIntervalMs: 100, seed, rolling: { windowSeconds, maxWindows: windows } } });
}

/** Trade eagerly on every window (the point is the plumbing, not the edge). */
export function rollingEnv(f: RollingFakes, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...f.kalshi.clientEnv,
    COINBASE_WS_URL: f.coinbase.wsUrl,
    KALSHI_SERIES: "KXBTC15M",
    KALSHI_DISCOVERY_SECONDS: "5",
    KILL_FILE: "/nonexistent/kill-file-for-tests",
    VOL_MIN_SAMPLES: "2",
    VOL_GRID_SECONDS: "0.05",
    TAU_MAX_MINUTES: "100000",
    EV_MIN: "0",
    SPREAD_MAX_TICKS: "100",
    EVAL_INTERVAL_SECONDS: "0.1",
    NO_NEW_ENTRIES_LAST_SECONDS: "0",
    MAX_OPEN_POSITIONS: "100",
    MAX_POSITION_PCT: "0.5",
    MAX_EXPOSURE_PCT: "1",
    ORDER_CONTRACTS: "1",
    EXECUTION: "taker",
    STATUS_SECONDS: "3600",
    RECONCILE_SECONDS: "3600",
    RECONCILE_MAX_AGE_SECONDS: "3600",
    COINBASE_STALE_SECONDS: "1",
    ...extra,
  };
}

/** Markets whose window had not closed when the runner first talked to the venue. */
export function knowable(f: FakeKalshi) {
  const start = f.wsCommandTimes[0] ?? Number.POSITIVE_INFINITY;
  return [...f.state.markets.values()].filter((m) => m.closeMs > start);
}

/** A fill in YES-book terms (bid buys YES at y; ask sells YES at y ≡ buys NO at 1 − y). */
export interface YesBookFill {
  readonly market: string;
  readonly bookSide: "bid" | "ask";
  readonly yesPrice: number;
  readonly count: number;
  readonly fee: number;
}

/**
 * Gross PnL of a market from its fills and result, computed without lots or netting:
 * Σ_ask y·c − Σ_bid y·c + (Σ_bid c − Σ_ask c) · [result = yes] · $1 — micros.
 */
export function independentPnl(fills: readonly YesBookFill[], result: "yes" | "no"): number {
  let cash = 0;
  let net = 0;
  for (const f of fills) {
    if (f.bookSide === "bid") {
      cash -= f.yesPrice * f.count;
      net += f.count;
    } else {
      cash += f.yesPrice * f.count;
      net -= f.count;
    }
  }
  return cash + (result === "yes" ? net * PRICE_ONE : 0);
}

/** The engine's gross PnL of a market: realized before settlement + settlement PnL. */
export function enginePnl(records: readonly AuditRecord[], market: string): { total: number; settlement: SettlementRecord | null } {
  const settlement = (records.find((r) => r.kind === "settlement" && r.market === market) as SettlementRecord | undefined) ?? null;
  const positions = records.filter((r): r is PositionRecord => r.kind === "position" && r.market === market);
  const realized = positions.length > 0 ? positions[positions.length - 1]!.realizedPnl : 0;
  return { total: realized + (settlement?.pnl ?? 0), settlement };
}

export const opportunities = (rs: readonly AuditRecord[]) => rs.filter((r): r is Opportunity => r.kind === "opportunity");
