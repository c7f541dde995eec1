/**
 * A deterministic, seeded synthesizer of capture days: raw Coinbase Advanced Trade and Kalshi WS v2
 * frames, in the CURRENT venue shapes, exactly as a recorder would receive them. Each frame goes to a
 * TapeSink as `raw`, then every event the live parsers produce from that same text goes as `event` —
 * so the normalized layer is by construction what production parsing yields.
 *
 * What is simulated:
 *  - BTC spot: the real 1-minute candles of a chosen day (Binance.US CSV), bridged to a 100 ms grid by
 *    a seeded Brownian bridge open → first extreme → second extreme → close, clamped to [low, high].
 *  - Coinbase connection: `subscriptions` acks, `heartbeats` 1/s, `ticker` (bid/ask a cent or a few
 *    around the path), `market_trades`, optional sparse `l2_data` frames ("level2-shaped": their levels
 *    are plausible but do not form a consistent book — the engine keeps level 2 raw only).
 *    `sequence_num` counts every frame on the connection from 0.
 *  - Kalshi connection: BRTI `cfbenchmarks_value` once a second (path + noise; `avg_60s_data` over the
 *    prior ticks in [t − 60 s, t)), hourly KXBTCD-like events (a strike ladder around spot, `greater`,
 *    floor strikes ending in .99) announced by `market_lifecycle_v2 created` 30 s before they open,
 *    one `orderbook_delta` subscription (use_yes_price=false) with one seq per sid across snapshots,
 *    deltas and `ok` answers, maker books around a noisy digital-option fair value (own formula — not
 *    the engine's model, so the tape is not circular), public `trade` frames that consume top of book,
 *    `ticker` frames on every top-of-book change, and after close: cancellation deltas, `determined`
 *    (result from the BRTI 60-s average before close, strike rule `>` for `greater`), `settled`.
 *  - Markets already open at the tape start are announced by `created` frames in its first second
 *    (what a recorder's REST bootstrap would supply; the WS never replays past creations).
 *
 * The settlement average of a market closing at C is the `avg_60s_data.value` of the BRTI print whose
 * source time is exactly C: the mean of the 60 prints at C − 60 s … C − 1 s.
 *
 * Determinism: only seeded PRNGs (mulberry32), no clock. Same options + same CSV → identical frames.
 * Receipt times are integer µs and non-decreasing; exchange timestamps precede receipt by a latency.
 */
import type { EngineEvent, Source } from "../core/events.ts";
import {
  formatCountFp,
  formatIsoUs,
  formatPriceDollars,
  PRICE_ONE,
  US_PER_MS,
  US_PER_S,
  type CountE2,
  type PriceE4,
  type TsUs,
} from "../core/units.ts";
import { parseCoinbaseFrame } from "../venues/coinbase/parse.ts";
import { parseKalshiFrame } from "../venues/kalshi/parse.ts";
import type { RawFrame, TapeSink } from "./types.ts";

// ---- options and results ---------------------------------------------------------------------------

export interface SynthFaults {
  /** The first orderbook frame at or after this instant is lost (its seq is skipped); a get_snapshot resync follows. */
  readonly seqGapAt?: TsUs;
  /** Coinbase goes silent (no frame at all) over [staleSpotFrom, staleSpotTo). */
  readonly staleSpotFrom?: TsUs;
  readonly staleSpotTo?: TsUs;
  /** The first delta slot at or after this instant adds a YES bid through the best NO bid. */
  readonly crossedBookAt?: TsUs;
}

export interface SynthOptions {
  readonly seed: number;
  /** UTC day "YYYY-MM-DD"; the tape starts at its midnight + startHour. */
  readonly startDay: string;
  readonly hours: number;
  readonly candleCsvPath: string;
  /** Strikes per hourly event (odd numbers centre the ladder on spot). */
  readonly marketsPerHour: number;
  readonly spotTicksPerSecond: number;
  readonly deltasPerSecondPerMarket: number;
  readonly faults?: SynthFaults;
  /** UTC hour of the start (default 0). */
  readonly startHour?: number;
  /** Candle day "YYYY-MM-DD" mapped onto the synthetic day; default picked from the seed. */
  readonly candleDay?: string;
  /** Strike spacing in USD (default 250). */
  readonly strikeSpacing?: number;
  /** Public trades per minute per market (default 3). */
  readonly tradesPerMinutePerMarket?: number;
  /** Sparse l2_data frames per second (default 0.5; 0 disables level2). */
  readonly level2PerSecond?: number;
  /** Annualized volatility the makers price with (default 0.5). */
  readonly makerVol?: number;
  /**
   * Build the three hottest events (book deltas, Kalshi tickers, Coinbase tickers: ~95 % of a day)
   * directly instead of formatting their frames and parsing them back; the other frames still go
   * through the live parsers. Same events, same order (tests/synth/synth.test.ts compares the two
   * ways), but no raw layer: `synthesize` hands the sink no frames at all. For bulk bench tapes.
   */
  readonly directEvents?: boolean;
}

export interface SynthSettlement {
  readonly market: string;
  readonly floorStrike: number;
  readonly closeTime: TsUs;
  /** Mean of the 60 BRTI prints before close, as published in avg_60s_data of the close print. */
  readonly avg60: number;
  readonly result: "yes" | "no";
}

export interface SynthSummary {
  readonly frames: number;
  readonly events: number;
  readonly framesBySource: Readonly<Record<string, number>>;
  readonly eventsByKind: Readonly<Record<string, number>>;
  /** Frames the parsers refused (a synthesizer bug if ever non-zero). */
  readonly parseRejects: number;
  readonly markets: number;
  readonly settlements: readonly SynthSettlement[];
  readonly candleDay: string;
  readonly firstTsRecv: TsUs;
  readonly lastTsRecv: TsUs;
}

/** A synthesized frame; in direct mode a hot frame carries its events (and no text) instead. */
export interface SynthFrame extends RawFrame {
  readonly events?: EngineEvent[];
}

export type { Candle } from "./candles.ts";
import type { Candle } from "./candles.ts";
import { loadCandleCsv } from "./candles.ts";

// ---- PRNG ------------------------------------------------------------------------------------------

// The one seeded PRNG of the project; re-exported for callers of the synthesizer.
export { mulberry32 } from "../core/prng.ts";
import { mulberry32 } from "../core/prng.ts";

/** Mix a seed with a stream id so independent streams do not share draws. */
function mixSeed(seed: number, stream: number): number {
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream | 0, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

class Rng {
  private readonly next: () => number;
  private spare = Number.NaN;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  u(): number {
    return this.next();
  }
  range(a: number, b: number): number {
    return a + (b - a) * this.next();
  }
  int(a: number, bInclusive: number): number {
    return a + Math.floor(this.next() * (bInclusive - a + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = Number.NaN;
      return s;
    }
    let u = this.next();
    while (u <= 1e-12) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  /** Count of events in one unit of time at `rate`: floor + Bernoulli(frac) (cheap, exact mean). */
  count(rate: number): number {
    const base = Math.floor(rate);
    return base + (this.chance(rate - base) ? 1 : 0);
  }
  hex(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += "0123456789abcdef"[Math.floor(this.next() * 16)];
    return s;
  }
  uuid(): string {
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${"89ab"[this.int(0, 3)]}${this.hex(3)}-${this.hex(12)}`;
  }
}

// ---- candles and the spot path ------------------------------------------------------------------

/** Binance.US-style CSV: open_time ("YYYY-MM-DD HH:MM:SS+00:00"), open, high, low, close, volume. */
/** The candles of a CSV for the spot path; a malformed row is an error here (the path must be complete). */
export function loadCandles(csvPath: string): Candle[] {
  const { candles, rejected } = loadCandleCsv(csvPath);
  if (rejected > 0) throw new Error(`candle CSV ${csvPath}: ${rejected} malformed row(s)`);
  // The bridge needs high/low to bracket open and close.
  return candles.map((c) => ({ ...c, high: Math.max(c.high, c.open, c.close), low: Math.min(c.low, c.open, c.close) }));
}

const MINUTE_US = 60 * US_PER_S;
const GRID_US = 100 * US_PER_MS;
const GRID_PER_MIN = MINUTE_US / GRID_US;

/**
 * The spot path: minute m of the synthetic tape follows candle (dayStart + m) of the CSV, wrapping
 * around the available minutes. Each minute is bridged on a 100 ms grid from its own PRNG stream, so the
 * path does not depend on what else the synthesizer draws.
 */
class SpotPath {
  private readonly byMinute: Candle[];
  private readonly firstIdx: number;
  private readonly cache = new Map<number, Float64Array>();
  readonly candleDay: string;
  readonly dayLow: number;
  readonly dayHigh: number;

  constructor(
    candles: readonly Candle[],
    private readonly seed: number,
    private readonly originUs: TsUs,
    candleDay: string | undefined,
    startMinuteOfDay: number,
  ) {
    if (candles.length === 0) throw new Error("no candles");
    // Dense minute array from the first candle; gaps hold the previous close flat.
    const t0 = candles[0]!.t - (candles[0]!.t % MINUTE_US);
    const n = Math.round((candles[candles.length - 1]!.t - t0) / MINUTE_US) + 1;
    const dense: Candle[] = new Array(n);
    let prev: Candle = candles[0]!;
    let j = 0;
    for (let i = 0; i < n; i++) {
      const t = t0 + i * MINUTE_US;
      while (j < candles.length && candles[j]!.t < t) j++;
      const c = candles[j];
      if (c && c.t === t) prev = c;
      else prev = { t, open: prev.close, high: prev.close, low: prev.close, close: prev.close };
      dense[i] = prev;
    }
    this.byMinute = dense;
    const days: string[] = [];
    for (let i = 0; i < n; i += 1440) days.push(formatIsoUs(dense[i]!.t).slice(0, 10));
    const day = candleDay ?? days[mixSeed(seed, 7) % days.length]!;
    const dayIdx = dense.findIndex((c) => formatIsoUs(c.t).slice(0, 10) === day);
    if (dayIdx < 0) throw new Error(`candle day ${day} not in the CSV (have ${days[0]} … ${days[days.length - 1]})`);
    this.candleDay = day;
    this.firstIdx = dayIdx + startMinuteOfDay;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = dayIdx; i < Math.min(dayIdx + 1440, n); i++) {
      lo = Math.min(lo, dense[i]!.low);
      hi = Math.max(hi, dense[i]!.high);
    }
    this.dayLow = lo;
    this.dayHigh = hi;
  }

  private candle(minute: number): Candle {
    const n = this.byMinute.length;
    return this.byMinute[(((this.firstIdx + minute) % n) + n) % n]!;
  }

  private minuteGrid(minute: number): Float64Array {
    let g = this.cache.get(minute);
    if (g) return g;
    if (this.cache.size > 4) for (const k of this.cache.keys()) if (k < minute - 2) this.cache.delete(k);
    const c = this.candle(minute);
    const rng = new Rng(mixSeed(this.seed, 1_000_003 + minute));
    g = new Float64Array(GRID_PER_MIN + 1);
    const lowFirst = rng.chance(c.close >= c.open ? 0.7 : 0.3);
    const t1 = rng.int(5, GRID_PER_MIN - 200);
    const t2 = rng.int(t1 + 5, GRID_PER_MIN - 5);
    const anchors: [number, number][] = [
      [0, c.open],
      [t1, lowFirst ? c.low : c.high],
      [t2, lowFirst ? c.high : c.low],
      [GRID_PER_MIN, c.close],
    ];
    const noise = Math.max(c.high - c.low, 0.5) * 0.15;
    for (let a = 0; a < anchors.length - 1; a++) {
      const [i0, v0] = anchors[a]!;
      const [i1, v1] = anchors[a + 1]!;
      const len = i1 - i0;
      const step = noise / Math.sqrt(len);
      // Random walk, then pinned at both ends (Brownian bridge).
      let w = 0;
      const walk = new Float64Array(len + 1);
      for (let k = 1; k <= len; k++) {
        w += step * rng.normal();
        walk[k] = w;
      }
      const wEnd = walk[len]!;
      for (let k = 0; k <= len; k++) {
        const f = k / len;
        const v = v0 + f * (v1 - v0) + walk[k]! - f * wEnd;
        g[i0 + k] = Math.min(c.high, Math.max(c.low, v));
      }
    }
    this.cache.set(minute, g);
    return g;
  }

  at(t: TsUs): number {
    const rel = t - this.originUs;
    const minute = Math.floor(rel / MINUTE_US);
    const g = this.minuteGrid(minute);
    const x = (rel - minute * MINUTE_US) / GRID_US;
    const i = Math.min(Math.floor(x), GRID_PER_MIN - 1);
    const f = x - i;
    return g[i]! * (1 - f) + g[i + 1]! * f;
  }
}

// ---- small formatting helpers ---------------------------------------------------------------------

const usd2 = (v: number): string => v.toFixed(2);
const qty8 = (sats: number): string => (sats / 1e8).toFixed(8);
const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const ET_FORMAT = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York",
  year: "2-digit",
  month: "numeric",
  day: "2-digit",
  hour: "2-digit",
  hourCycle: "h23",
});

/** Kalshi event tickers name the settlement instant in US Eastern time: KXBTCD-26MAR0117. */
export function kxbtcdEventTicker(closeUs: TsUs): string {
  const parts = ET_FORMAT.formatToParts(new Date(Math.floor(closeUs / US_PER_MS)));
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? "";
  return `KXBTCD-${get("year")}${MONTHS[Number(get("month")) - 1]}${get("day")}${get("hour")}`;
}

/** Coinbase envelope timestamps carry nanoseconds; the last three digits are synthetic. */
function isoNanos(us: TsUs, rng: Rng): string {
  return `${formatIsoUs(us).slice(0, -1)}${String(rng.int(0, 999)).padStart(3, "0")}Z`;
}

function normCdf(x: number): number {
  // Abramowitz–Stegun 7.1.26 via erf; |error| < 1.5e-7, plenty for a maker's quote.
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** P(S_T > K) for a driftless log-normal, the makers' (deliberately simple) fair value. */
function digitalFair(spot: number, strike: number, tauSec: number, vol: number): number {
  if (tauSec <= 0) return spot > strike ? 1 : 0;
  const s = vol * Math.sqrt(tauSec / (365 * 86_400));
  return normCdf((Math.log(spot / strike) - 0.5 * s * s) / s);
}

// ---- Kalshi market state --------------------------------------------------------------------------

type Side = "yes" | "no";

interface QueuedDelta {
  readonly side: Side;
  readonly price: PriceE4;
  readonly delta: CountE2;
}

interface Market {
  readonly ticker: string;
  readonly marketId: string;
  readonly eventTicker: string;
  readonly floorStrike: number;
  readonly openUs: TsUs;
  readonly closeUs: TsUs;
  /** Own-leg bids: price → size. */
  readonly yes: Map<PriceE4, CountE2>;
  readonly no: Map<PriceE4, CountE2>;
  queue: QueuedDelta[];
  inBook: boolean;
  volume: CountE2;
  openInterest: CountE2;
  dollarVolumeMicros: number;
  lastPrice: PriceE4;
  lastTradeSize: CountE2;
  lastTop: string;
}

function best(levels: Map<PriceE4, CountE2>): PriceE4 {
  let b = -1;
  for (const p of levels.keys()) if (p > b) b = p;
  return b;
}

function ascending(levels: Map<PriceE4, CountE2>): [PriceE4, CountE2][] {
  return [...levels.entries()].sort((a, b) => a[0] - b[0]);
}

// ---- the synthesizer -------------------------------------------------------------------------------

const KALSHI_CONN = "kalshi-synth-1";
const COINBASE_CONN = "coinbase-synth-1";
const SID_LIFECYCLE = 1;
const SID_BRTI = 2;
const SID_TICKER = 3;
const SID_TRADE = 4;
const SID_BOOK = 5;
const PRODUCT = "BTC-USD";
const PRICE_RANGES_JSON = '[{"start":"0.0000","end":"1.0000","step":"0.0100"}]';

interface Agenda {
  readonly t: TsUs;
  readonly order: number;
  readonly run: () => void;
}

type Slot =
  | { t: TsUs; k: 0 } // coinbase heartbeat
  | { t: TsUs; k: 1 } // coinbase ticker
  | { t: TsUs; k: 2 } // coinbase market_trades
  | { t: TsUs; k: 3 } // coinbase l2_data
  | { t: TsUs; k: 4; s: number } // BRTI print for second s, received at t
  | { t: TsUs; k: 5; m: Market } // book delta
  | { t: TsUs; k: 6; m: Market } // public trade
  | { t: TsUs; k: 7; a: Agenda };

/** Receipt-time-ordered frame stream; `settlements` fills in as markets are determined. */
export class Synthesizer {
  readonly settlements: SynthSettlement[] = [];
  readonly candleDay: string;
  private readonly startUs: TsUs;
  private readonly endUs: TsUs;
  private readonly path: SpotPath;
  private readonly rngCb: Rng;
  private readonly rngK: Rng;
  private readonly rngIdx: Rng;
  private readonly opts: Required<Omit<SynthOptions, "faults" | "candleDay">> & { faults: SynthFaults };

  private out: SynthFrame[] = [];
  private lastRecv: TsUs = 0;
  private agenda: Agenda[] = [];
  private agendaOrder = 0;
  private cmdId = 0;

  // Coinbase connection state
  private cbSeq = 0;
  private hbCounter = 0;
  private cbTradeId = 0;
  private cbLast = 0;
  private cbFirstTicker = true;

  // Kalshi connection state
  private readonly seqBySid = new Map<number, number>();
  private readonly markets: Market[] = [];
  private readonly brtiHistory: number[] = [];
  /** BRTI 60-s average by print second, kept for the settlement of markets closing at that second. */
  private readonly avgAtSecond = new Map<number, number>();
  /** Kalshi's settlement average at second s: the prints in (s − 60 s, s], i.e. s − 59 … s (core/settlement.ts). */
  private readonly settleAvgAtSecond = new Map<number, number>();
  private seqGapPending: boolean;
  private crossedPending: boolean;
  private marketCount = 0;

  constructor(opts: SynthOptions, candles: readonly Candle[]) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(opts.startDay)) throw new Error(`startDay must be YYYY-MM-DD, got ${opts.startDay}`);
    if (!(opts.hours > 0)) throw new Error("hours must be positive");
    if (!(opts.marketsPerHour >= 1)) throw new Error("marketsPerHour must be ≥ 1");
    const startHour = opts.startHour ?? 0;
    this.opts = {
      seed: opts.seed,
      startDay: opts.startDay,
      hours: opts.hours,
      candleCsvPath: opts.candleCsvPath,
      marketsPerHour: Math.round(opts.marketsPerHour),
      spotTicksPerSecond: opts.spotTicksPerSecond,
      deltasPerSecondPerMarket: opts.deltasPerSecondPerMarket,
      startHour,
      strikeSpacing: opts.strikeSpacing ?? 250,
      tradesPerMinutePerMarket: opts.tradesPerMinutePerMarket ?? 3,
      level2PerSecond: opts.level2PerSecond ?? 0.5,
      makerVol: opts.makerVol ?? 0.5,
      faults: opts.faults ?? {},
      directEvents: opts.directEvents === true,
    };
    this.startUs = Date.parse(`${opts.startDay}T00:00:00Z`) * US_PER_MS + Math.round(startHour * 3600 * US_PER_S);
    if (!Number.isFinite(this.startUs)) throw new Error(`bad startDay ${opts.startDay}`);
    this.endUs = this.startUs + Math.round(opts.hours * 3600 * US_PER_S);
    const dayOrigin = Date.parse(`${opts.startDay}T00:00:00Z`) * US_PER_MS;
    this.path = new SpotPath(candles, opts.seed, dayOrigin, opts.candleDay, 0);
    this.candleDay = this.path.candleDay;
    this.rngCb = new Rng(mixSeed(opts.seed, 11));
    this.rngK = new Rng(mixSeed(opts.seed, 13));
    this.rngIdx = new Rng(mixSeed(opts.seed, 17));
    this.seqGapPending = this.opts.faults.seqGapAt !== undefined;
    this.crossedPending = this.opts.faults.crossedBookAt !== undefined;
  }

  get start(): TsUs {
    return this.startUs;
  }

  get end(): TsUs {
    return this.endUs;
  }

  get marketsCreated(): number {
    return this.marketCount;
  }

  // ---- emission --------------------------------------------------------------------------------

  /** Receipt time for a frame planned at `t`: never earlier than the previous frame. */
  private stamp(t: TsUs): TsUs {
    const r = Math.max(Math.round(t), this.lastRecv);
    this.lastRecv = r;
    return r;
  }

  private push(source: Source, connId: string, tsRecv: TsUs, text: string, dir: "recv" | "send" = "recv"): void {
    if (tsRecv >= this.endUs) return;
    this.out.push({ source, connId, tsRecv, dir, text });
  }

  /** Direct mode: a hot frame's events, built here rather than parsed from its text. */
  private pushEvent(source: Source, connId: string, tsRecv: TsUs, e: EngineEvent): void {
    if (tsRecv >= this.endUs) return;
    this.out.push({ source, connId, tsRecv, dir: "recv", text: "", events: [e] });
  }

  private nextSeq(sid: number): number {
    const s = (this.seqBySid.get(sid) ?? 0) + 1;
    this.seqBySid.set(sid, s);
    return s;
  }

  private schedule(t: TsUs, run: () => void): void {
    const a: Agenda = { t, order: this.agendaOrder++, run };
    // Keep sorted by (t, order); inserts are rare.
    let lo = 0;
    let hi = this.agenda.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const x = this.agenda[mid]!;
      if (x.t < t || (x.t === t && x.order < a.order)) lo = mid + 1;
      else hi = mid;
    }
    this.agenda.splice(lo, 0, a);
  }

  private spotSilent(t: TsUs): boolean {
    const f = this.opts.faults;
    return f.staleSpotFrom !== undefined && f.staleSpotTo !== undefined && t >= f.staleSpotFrom && t < f.staleSpotTo;
  }

  /** Kalshi exchange timestamp (ms) a few ms before receipt. */
  private kalshiTsMs(recv: TsUs): number {
    return Math.floor((recv - this.rngK.int(1_500, 25_000)) / US_PER_MS);
  }

  // ---- Coinbase frames ---------------------------------------------------------------------------

  private cbFrame(t: TsUs, channel: string, eventsJson: string): void {
    const recv = this.stamp(t);
    const exch = recv - this.rngCb.int(300, 4_000);
    const seq = this.cbSeq++;
    this.push("coinbase", COINBASE_CONN, recv, `{"channel":"${channel}","timestamp":"${isoNanos(exch, this.rngCb)}","sequence_num":${seq},"events":${eventsJson}}`);
  }

  private cbConnect(t: TsUs): void {
    const channels = ["heartbeats", "ticker", "market_trades", ...(this.opts.level2PerSecond > 0 ? ["level2"] : [])];
    const subs: Record<string, string[]> = {};
    let tt = t;
    for (const ch of channels) {
      const cmd = ch === "heartbeats" ? `{"type":"subscribe","channel":"heartbeats"}` : `{"type":"subscribe","product_ids":["${PRODUCT}"],"channel":"${ch}"}`;
      this.push("coinbase", COINBASE_CONN, this.stamp(tt), cmd, "send");
      tt += 700;
    }
    for (const ch of channels) {
      subs[ch] = ch === "heartbeats" ? ["heartbeats"] : [PRODUCT];
      tt += 40_000;
      this.cbFrame(tt, "subscriptions", `[{"subscriptions":${JSON.stringify(subs)}}]`);
      if (ch === "level2") this.cbL2(tt + 2_000, true);
    }
  }

  private cbQuote(t: TsUs): { bid: number; ask: number } {
    const mid = this.path.at(t);
    const spreadCents = this.rngCb.chance(0.8) ? 1 : this.rngCb.int(2, 12);
    const bidCents = Math.floor(mid * 100 - spreadCents / 2);
    return { bid: bidCents / 100, ask: (bidCents + spreadCents) / 100 };
  }

  private cbTicker(t: TsUs): void {
    const { bid, ask } = this.cbQuote(t);
    if (this.cbLast === 0) this.cbLast = this.rngCb.chance(0.5) ? bid : ask;
    const lo = this.path.dayLow;
    const hi = this.path.dayHigh;
    const chg = this.opts.directEvents ? "" : (((this.cbLast - lo) / lo) * 100).toFixed(14);
    const type = this.cbFirstTicker ? "snapshot" : "update";
    this.cbFirstTicker = false;
    // Random draws in the order the text mode has always made them (same stream either way).
    const volume24h = 9000 + this.rngCb.range(0, 500);
    const bidSats = this.rngCb.int(1_000, 90_000_000);
    const askSats = this.rngCb.int(1_000, 90_000_000);
    if (this.opts.directEvents) {
      // cbFrame's draws: the exchange lag, then the synthetic nanosecond digits (which µs drops).
      const recv = this.stamp(t);
      const exch = recv - this.rngCb.int(300, 4_000);
      const seq = this.cbSeq++;
      this.rngCb.int(0, 999);
      // Two-decimal prices and 8-decimal sizes round-trip through their text exactly.
      this.pushEvent("coinbase", COINBASE_CONN, recv, {
        kind: "spot_quote", tsRecv: recv, tsExchange: exch, productId: PRODUCT, bid, ask,
        bidSize: bidSats / 1e8, askSize: askSats / 1e8, last: this.cbLast, seq,
      });
      return;
    }
    const tick =
      `{"type":"ticker","product_id":"${PRODUCT}","price":"${usd2(this.cbLast)}","volume_24_h":"${volume24h.toFixed(8)}",` +
      `"low_24_h":"${usd2(lo)}","high_24_h":"${usd2(hi)}","low_52_w":"15460","high_52_w":"48240",` +
      `"price_percent_chg_24_h":"${chg}","best_bid":"${usd2(bid)}","best_ask":"${usd2(ask)}",` +
      `"best_bid_quantity":"${qty8(bidSats)}","best_ask_quantity":"${qty8(askSats)}"}`;
    this.cbFrame(t, "ticker", `[{"type":"${type}","tickers":[${tick}]}]`);
  }

  private cbTrades(t: TsUs): void {
    const { bid, ask } = this.cbQuote(t);
    const n = this.rngCb.int(1, 4);
    const trades: string[] = [];
    if (this.cbTradeId === 0) this.cbTradeId = 500_000_000 + this.rngCb.int(0, 99_999_999);
    for (let i = 0; i < n; i++) {
      const buyerInitiated = this.rngCb.chance(0.5);
      // Coinbase reports the MAKER side: a buyer-initiated print at the ask is "SELL".
      const price = buyerInitiated ? ask : bid;
      this.cbLast = price;
      const time = formatIsoUs(t - this.rngCb.int(5_000, 240_000));
      trades.push(
        `{"product_id":"${PRODUCT}","trade_id":"${++this.cbTradeId}","price":"${usd2(price)}","size":"${qty8(this.rngCb.int(100, 5_000_000))}","time":"${time}","side":"${buyerInitiated ? "SELL" : "BUY"}"}`,
      );
    }
    this.cbFrame(t, "market_trades", `[{"type":"update","trades":[${trades.join(",")}]}]`);
  }

  private cbL2(t: TsUs, snapshot: boolean): void {
    const { bid, ask } = this.cbQuote(t);
    const time = formatIsoUs(t - 2_000);
    const updates: string[] = [];
    const n = snapshot ? 25 : this.rngCb.int(1, 3);
    for (let i = 0; i < n; i++) {
      for (const side of snapshot ? ["bid", "offer"] : [this.rngCb.chance(0.5) ? "bid" : "offer"]) {
        const off = snapshot ? i * 0.37 : this.rngCb.range(0, 20);
        const px = side === "bid" ? bid - off : ask + off;
        const q = snapshot || this.rngCb.chance(0.7) ? qty8(this.rngCb.int(1_000, 200_000_000)) : "0";
        updates.push(`{"side":"${side}","event_time":"${time}","price_level":"${usd2(px)}","new_quantity":"${q}"}`);
      }
    }
    this.cbFrame(t, "l2_data", `[{"type":"${snapshot ? "snapshot" : "update"}","product_id":"${PRODUCT}","updates":[${updates.join(",")}]}]`);
  }

  private cbHeartbeat(t: TsUs): void {
    const iso = formatIsoUs(t - 1_200);
    const goTime = `${iso.slice(0, 10)} ${iso.slice(11, -1)}${String(this.rngCb.int(0, 999)).padStart(3, "0")} +0000 UTC m=+${(this.hbCounter + 41_000).toFixed(9)}`;
    this.cbFrame(t, "heartbeats", `[{"current_time":"${goTime}","heartbeat_counter":${41_000 + this.hbCounter++}}]`);
  }

  // ---- Kalshi frames -------------------------------------------------------------------------------

  private kSend(t: TsUs, json: string): number {
    const id = ++this.cmdId;
    this.push("kalshi", KALSHI_CONN, this.stamp(t), json.replace("__ID__", String(id)), "send");
    return id;
  }

  private kRecv(t: TsUs, json: string): TsUs {
    const recv = this.stamp(t);
    this.push("kalshi", KALSHI_CONN, recv, json);
    return recv;
  }

  private kConnect(t: TsUs): void {
    const subs: [string, number][] = [
      [`{"id":__ID__,"cmd":"subscribe","params":{"channels":["market_lifecycle_v2"]}}`, SID_LIFECYCLE],
      [`{"id":__ID__,"cmd":"subscribe","params":{"channels":["cfbenchmarks_value"],"index_ids":["BRTI"]}}`, SID_BRTI],
      [`{"id":__ID__,"cmd":"subscribe","params":{"channels":["ticker"]}}`, SID_TICKER],
      [`{"id":__ID__,"cmd":"subscribe","params":{"channels":["trade"]}}`, SID_TRADE],
    ];
    const channelOf = ["", "market_lifecycle_v2", "cfbenchmarks_value", "ticker", "trade"];
    let tt = t;
    for (const [cmd, sid] of subs) {
      const id = this.kSend(tt, cmd);
      tt += this.rngK.int(20_000, 60_000);
      this.kRecv(tt, `{"id":${id},"type":"subscribed","msg":{"channel":"${channelOf[sid]}","sid":${sid}}}`);
    }
    // Events whose market is already open: announce now (REST-bootstrap equivalent), then book-subscribe.
    const firstClose = Math.floor(this.startUs / (3600 * US_PER_S)) * 3600 * US_PER_S + 3600 * US_PER_S;
    const boot: Market[] = [];
    tt += 10_000;
    for (let c = firstClose; c - 3600 * US_PER_S - 30 * US_PER_S <= this.startUs; c += 3600 * US_PER_S) {
      boot.push(...this.createEvent(tt, c));
      tt += 5_000;
    }
    for (let c = firstClose; c < this.endUs + 3600 * US_PER_S; c += 3600 * US_PER_S) {
      const createdAt = c - 3600 * US_PER_S - 30 * US_PER_S;
      if (createdAt > this.startUs) this.schedule(createdAt, () => this.scheduleEvent(c));
    }
    const tickers = boot.map((m) => `"${m.ticker}"`).join(",");
    const id = this.kSend(tt + 2_000, `{"id":__ID__,"cmd":"subscribe","params":{"channels":["orderbook_delta"],"market_tickers":[${tickers}],"use_yes_price":false}}`);
    tt += 40_000;
    this.kRecv(tt, `{"id":${id},"type":"subscribed","msg":{"channel":"orderbook_delta","sid":${SID_BOOK}}}`);
    for (const m of boot) {
      tt += 300;
      this.bookSnapshot(tt, m, null);
      m.inBook = true;
    }
    for (const m of boot) this.schedule(m.closeUs, () => this.closeMarket(m));
  }

  private scheduleEvent(closeUs: TsUs): void {
    const t = this.lastRecv;
    const ms = this.createEvent(t, closeUs);
    const openUs = closeUs - 3600 * US_PER_S;
    this.schedule(openUs + this.rngK.int(50_000, 400_000), () => {
      const tt = this.lastRecv;
      const id = this.kSend(tt, `{"id":__ID__,"cmd":"update_subscription","params":{"sid":${SID_BOOK},"action":"add_markets","market_tickers":[${ms.map((m) => `"${m.ticker}"`).join(",")}]}}`);
      for (const m of ms) m.inBook = true;
      const all = this.markets.filter((m) => m.inBook).map((m) => `"${m.ticker}"`).join(",");
      let t2 = tt + this.rngK.int(20_000, 60_000);
      this.kRecv(t2, `{"id":${id},"sid":${SID_BOOK},"seq":${this.nextSeq(SID_BOOK)},"type":"ok","msg":{"market_tickers":[${all}]}}`);
      for (const m of ms) {
        t2 += 300;
        this.bookSnapshot(t2, m, null);
      }
    });
    for (const m of ms) this.schedule(m.closeUs, () => this.closeMarket(m));
  }

  /** Announce one hourly event: event_lifecycle, then `created` per strike. Returns the markets. */
  private createEvent(t: TsUs, closeUs: TsUs): Market[] {
    const eventTicker = kxbtcdEventTicker(closeUs);
    const openUs = closeUs - 3600 * US_PER_S;
    const spot = this.path.at(Math.min(t, this.endUs));
    const n = this.opts.marketsPerHour;
    const spacing = this.opts.strikeSpacing;
    const centre = Math.round(spot / spacing) * spacing;
    const closeS = Math.floor(closeUs / US_PER_S);
    let tt = t;
    this.kRecv(
      tt,
      `{"type":"event_lifecycle","sid":${SID_LIFECYCLE},"seq":${this.nextSeq(SID_LIFECYCLE)},"msg":{"event_ticker":"${eventTicker}","exchange_index":2,"title":"Bitcoin price on ${formatIsoUs(closeUs).slice(0, 13)}h UTC?","subtitle":"","collateral_return_type":"","series_ticker":"KXBTCD","strike_date":${closeS}}}`,
    );
    const out: Market[] = [];
    for (let i = 0; i < n; i++) {
      const k = centre + (i - Math.floor((n - 1) / 2)) * spacing;
      const floorStrike = k - 0.01;
      const strikeText = floorStrike.toFixed(2);
      const m: Market = {
        ticker: `${eventTicker}-T${strikeText}`,
        marketId: this.rngIdx.uuid(),
        eventTicker,
        floorStrike: Number(strikeText),
        openUs,
        closeUs,
        yes: new Map(),
        no: new Map(),
        queue: [],
        inBook: false,
        volume: 0,
        openInterest: 0,
        dollarVolumeMicros: 0,
        lastPrice: -1,
        lastTradeSize: 0,
        lastTop: "",
      };
      this.markets.push(m);
      this.marketCount++;
      out.push(m);
      const label = `$${k.toLocaleString("en-US")}`;
      tt += this.rngK.int(100, 3_000);
      this.kRecv(
        tt,
        `{"type":"market_lifecycle_v2","sid":${SID_LIFECYCLE},"seq":${this.nextSeq(SID_LIFECYCLE)},"msg":{"market_ticker":"${m.ticker}","event_type":"created","exchange_index":2,` +
          `"open_ts":${Math.floor(openUs / US_PER_S)},"close_ts":${closeS},"price_level_structure":"linear_cent","price_ranges":${PRICE_RANGES_JSON},` +
          `"additional_metadata":{"name":"${label} or above","title":"Bitcoin price at ${formatIsoUs(closeUs).slice(11, 16)} UTC","yes_sub_title":"${label} or above","no_sub_title":"Below ${label}",` +
          `"rules_primary":"If the simple average of the sixty seconds of CF Benchmarks' BRTI before close is above ${strikeText}, then the market resolves to Yes.","rules_secondary":"",` +
          `"can_close_early":false,"event_ticker":"${eventTicker}","expected_expiration_ts":${closeS + 300},"strike_type":"greater","floor_strike":${strikeText}}}}`,
      );
      // The book the makers show from the start.
      for (const d of this.requote(m, t)) this.applyDelta(m, d);
      m.queue = [];
    }
    return out;
  }

  private bookSnapshot(t: TsUs, m: Market, cmdId: number | null): void {
    const side = (levels: Map<PriceE4, CountE2>): string =>
      ascending(levels)
        .map(([p, s]) => `["${formatPriceDollars(p)}","${formatCountFp(s)}"]`)
        .join(",");
    const yes = m.yes.size > 0 ? `,"yes_dollars_fp":[${side(m.yes)}]` : "";
    const no = m.no.size > 0 ? `,"no_dollars_fp":[${side(m.no)}]` : "";
    const idPart = cmdId !== null ? `"id":${cmdId},` : "";
    this.kRecv(t, `{${idPart}"type":"orderbook_snapshot","sid":${SID_BOOK},"seq":${this.nextSeq(SID_BOOK)},"msg":{"market_ticker":"${m.ticker}","market_id":"${m.marketId}"${yes}${no}}}`);
    m.lastTop = "";
  }

  private applyDelta(m: Market, d: QueuedDelta): void {
    const levels = d.side === "yes" ? m.yes : m.no;
    const after = (levels.get(d.price) ?? 0) + d.delta;
    if (after <= 0) levels.delete(d.price);
    else levels.set(d.price, after);
  }

  /** Emit one delta frame (or lose it, for the seq-gap fault) and apply it to the venue book. */
  private emitDelta(t: TsUs, m: Market, d: QueuedDelta): void {
    this.applyDelta(m, d);
    const seq = this.nextSeq(SID_BOOK);
    const f = this.opts.faults;
    if (this.seqGapPending && f.seqGapAt !== undefined && t >= f.seqGapAt) {
      // The frame is lost in transit: the venue moved on, the recorder never sees seq `seq`.
      this.seqGapPending = false;
      this.schedule(t + 250_000, () => this.resnapshot());
      return;
    }
    const recv = this.stamp(t);
    const tsMs = this.kalshiTsMs(recv);
    if (this.opts.directEvents) {
      this.pushEvent("kalshi", KALSHI_CONN, recv, {
        kind: "book_delta", tsRecv: recv, tsExchange: tsMs * US_PER_MS, market: m.ticker, sid: SID_BOOK, seq,
        side: d.side, price: d.price, delta: d.delta, clientOrderId: null,
      });
    } else {
      this.kRecv(
        recv,
        `{"type":"orderbook_delta","sid":${SID_BOOK},"seq":${seq},"msg":{"market_ticker":"${m.ticker}","market_id":"${m.marketId}","price_dollars":"${formatPriceDollars(d.price)}","delta_fp":"${formatCountFp(d.delta)}","side":"${d.side}","ts_ms":${tsMs}}}`,
      );
    }
    this.maybeTicker(recv + 150, m);
  }

  /** After a gap the client asks for fresh snapshots of every market on the book subscription. */
  private resnapshot(): void {
    const live = this.markets.filter((m) => m.inBook);
    if (live.length === 0) return;
    let t = this.lastRecv;
    const id = this.kSend(t, `{"id":__ID__,"cmd":"update_subscription","params":{"sid":${SID_BOOK},"action":"get_snapshot","market_tickers":[${live.map((m) => `"${m.ticker}"`).join(",")}]}}`);
    t += this.rngK.int(20_000, 60_000);
    for (const m of live) {
      t += 200;
      this.bookSnapshot(t, m, id);
    }
  }

  private topKey(m: Market): string {
    const yb = best(m.yes);
    const nb = best(m.no);
    return `${yb}:${yb >= 0 ? m.yes.get(yb) : 0}:${nb}:${nb >= 0 ? m.no.get(nb) : 0}`;
  }

  /** Kalshi pushes a ticker whenever a top-of-book field changes. */
  private maybeTicker(t: TsUs, m: Market): void {
    const key = this.topKey(m);
    if (key === m.lastTop) return;
    m.lastTop = key;
    const yb = best(m.yes);
    const nb = best(m.no);
    const yesBid = yb >= 0 ? yb : 0;
    const yesAsk = nb >= 0 ? PRICE_ONE - nb : PRICE_ONE;
    const recv = this.stamp(t);
    const tsMs = this.kalshiTsMs(recv);
    const last = m.lastPrice >= 0 ? m.lastPrice : 0;
    if (this.opts.directEvents) {
      this.pushEvent("kalshi", KALSHI_CONN, recv, {
        kind: "market_ticker", tsRecv: recv, tsExchange: tsMs * US_PER_MS, market: m.ticker, lastPrice: last, yesBid, yesAsk,
        yesBidSize: yb >= 0 ? m.yes.get(yb)! : 0, yesAskSize: nb >= 0 ? m.no.get(nb)! : 0, volume: m.volume, openInterest: m.openInterest,
      });
      return;
    }
    this.kRecv(
      recv,
      `{"type":"ticker","sid":${SID_TICKER},"msg":{"market_ticker":"${m.ticker}","market_id":"${m.marketId}","price_dollars":"${formatPriceDollars(last)}",` +
        `"yes_bid_dollars":"${formatPriceDollars(yesBid)}","yes_ask_dollars":"${formatPriceDollars(yesAsk)}",` +
        `"yes_bid_size_fp":"${formatCountFp(yb >= 0 ? m.yes.get(yb)! : 0)}","yes_ask_size_fp":"${formatCountFp(nb >= 0 ? m.no.get(nb)! : 0)}",` +
        `"last_trade_size_fp":"${formatCountFp(m.lastTradeSize)}","volume_fp":"${formatCountFp(m.volume)}","open_interest_fp":"${formatCountFp(m.openInterest)}",` +
        `"dollar_volume":${Math.floor(m.dollarVolumeMicros / 1_000_000)},"dollar_open_interest":${Math.floor((m.openInterest * 50) / 100)},` +
        `"ts":${Math.floor(tsMs / 1000)},"ts_ms":${tsMs},"time":"${formatIsoUs(tsMs * US_PER_MS).slice(0, 19)}Z"}}`,
    );
  }

  private fair(m: Market, t: TsUs): number {
    const spot = this.path.at(t);
    return digitalFair(spot, m.floorStrike, (m.closeUs - t) / US_PER_S, this.opts.makerVol);
  }

  private makerSize(): CountE2 {
    const r = this.rngK;
    // Mostly whole contracts; one in five resting sizes has fractional hundredths.
    return r.chance(0.2) ? r.int(1, 50_000) : r.int(1, 500) * 100;
  }

  /** The deltas that take the book to the makers' current target: removals first, then additions. */
  private requote(m: Market, t: TsUs): QueuedDelta[] {
    const r = this.rngK;
    const belief = Math.min(0.999, Math.max(0.001, this.fair(m, t) + 0.015 * r.normal()));
    const half = r.int(1, 3);
    let yesBest = Math.floor(belief * 100 - half);
    let noBest = Math.floor((1 - belief) * 100 - half);
    yesBest = Math.min(98, Math.max(1, yesBest));
    noBest = Math.min(98, Math.max(1, noBest));
    if (yesBest + noBest > 99) noBest = 99 - yesBest;
    const target = (bestCents: number, current: Map<PriceE4, CountE2>): Map<PriceE4, CountE2> => {
      const out = new Map<PriceE4, CountE2>();
      const levels = r.int(1, 3);
      let c = bestCents;
      for (let i = 0; i < levels && c >= 1; i++) {
        const p = c * 100;
        out.set(p, current.get(p) ?? this.makerSize());
        c -= r.chance(0.7) ? 1 : 2;
      }
      return out;
    };
    const tYes = target(yesBest, m.yes);
    const tNo = target(noBest, m.no);
    const removals: QueuedDelta[] = [];
    const additions: QueuedDelta[] = [];
    for (const [side, cur, tgt] of [
      ["yes", m.yes, tYes],
      ["no", m.no, tNo],
    ] as const) {
      for (const [p, s] of cur) if (!tgt.has(p)) removals.push({ side, price: p, delta: -s });
      for (const [p, s] of tgt) if (!cur.has(p)) additions.push({ side, price: p, delta: s });
    }
    return [...removals, ...additions];
  }

  private crosses(m: Market, d: QueuedDelta): boolean {
    if (d.delta <= 0) return false;
    const opp = best(d.side === "yes" ? m.no : m.yes);
    return opp >= 0 && d.price + opp >= PRICE_ONE;
  }

  private deltaSlot(t: TsUs, m: Market): void {
    if (!m.inBook || t >= m.closeUs) return;
    const f = this.opts.faults;
    if (this.crossedPending && f.crossedBookAt !== undefined && t >= f.crossedBookAt && m.no.size > 0) {
      this.crossedPending = false;
      const price = Math.min(9_900, PRICE_ONE - best(m.no) + 100);
      m.queue = [];
      this.emitDelta(t, m, { side: "yes", price, delta: 1_000 });
      return;
    }
    if (m.queue.length === 0) m.queue = this.requote(m, t);
    let d = m.queue.shift();
    if (d && this.crosses(m, d)) {
      // The target moved under a half-done requote: drop it and tweak instead.
      m.queue = [];
      d = undefined;
    }
    if (!d) {
      // Book already on target: a maker tops up or trims a level.
      const sideName: Side = this.rngK.chance(0.5) ? "yes" : "no";
      const levels = sideName === "yes" ? m.yes : m.no;
      const entries = [...levels.entries()];
      if (entries.length === 0) return;
      const [p, s] = entries[this.rngK.int(0, entries.length - 1)]!;
      const change = this.rngK.chance(0.5) || s <= 100 ? this.makerSize() : -this.rngK.int(1, Math.max(1, Math.floor(s / 2)));
      d = { side: sideName, price: p, delta: change };
    }
    this.emitDelta(t, m, d);
  }

  private tradeSlot(t: TsUs, m: Market): void {
    if (!m.inBook || t >= m.closeUs) return;
    const yb = best(m.yes);
    const nb = best(m.no);
    if (yb < 0 || nb < 0) return;
    const yesAsk = PRICE_ONE - nb;
    const view = this.fair(m, t) + 0.03 * this.rngK.normal();
    const takerYes = view * PRICE_ONE > yesAsk ? true : view * PRICE_ONE < yb ? false : this.rngK.chance(0.5);
    // A YES taker lifts the YES ask = hits the best NO bid; a NO taker hits the best YES bid.
    const side: Side = takerYes ? "no" : "yes";
    const levelPrice = takerYes ? nb : yb;
    const levelSize = (takerYes ? m.no : m.yes).get(levelPrice)!;
    const want = this.rngK.chance(0.3) ? this.rngK.int(1, 2_000) : this.rngK.int(1, 50) * 100;
    const count = Math.min(want, levelSize);
    const yesPrice = takerYes ? yesAsk : yb;
    const recv = this.stamp(t);
    const tsMs = this.kalshiTsMs(recv);
    m.volume += count;
    m.openInterest = Math.max(0, m.openInterest + (this.rngK.chance(0.6) ? count : -count));
    m.dollarVolumeMicros += yesPrice * count;
    m.lastPrice = yesPrice;
    m.lastTradeSize = count;
    const outcome = takerYes ? "yes" : "no";
    this.kRecv(
      recv,
      `{"type":"trade","sid":${SID_TRADE},"seq":${this.nextSeq(SID_TRADE)},"msg":{"trade_id":"${this.rngIdx.uuid()}","market_ticker":"${m.ticker}",` +
        `"yes_price_dollars":"${formatPriceDollars(yesPrice)}","no_price_dollars":"${formatPriceDollars(PRICE_ONE - yesPrice)}","count_fp":"${formatCountFp(count)}",` +
        `"taker_outcome_side":"${outcome}","taker_book_side":"${takerYes ? "bid" : "ask"}","taker_side":"${outcome}","is_block_trade":false,"ts":${Math.floor(tsMs / 1000)},"ts_ms":${tsMs}}}`,
    );
    m.queue = [];
    // The ticker after the fill delta carries the new last price even if the top is unchanged.
    m.lastTop = "";
    this.emitDelta(recv + 120, m, { side, price: levelPrice, delta: -count });
  }

  /** At close: makers' orders are cancelled, the market leaves the book subscription, then settles. */
  private closeMarket(m: Market): void {
    let t = m.closeUs + this.rngK.int(500_000, 2_500_000);
    this.schedule(t, () => {
      let tt = this.lastRecv;
      for (const [side, levels] of [
        ["yes", m.yes],
        ["no", m.no],
      ] as const) {
        for (const [p, s] of ascending(levels)) {
          tt += 100;
          this.emitDelta(tt, m, { side, price: p, delta: -s });
        }
      }
      m.inBook = false;
      m.queue = [];
      const id = this.kSend(tt + 5_000, `{"id":__ID__,"cmd":"update_subscription","params":{"sid":${SID_BOOK},"action":"delete_markets","market_tickers":["${m.ticker}"]}}`);
      const all = this.markets.filter((x) => x.inBook).map((x) => `"${x.ticker}"`).join(",");
      this.kRecv(tt + 40_000, `{"id":${id},"sid":${SID_BOOK},"seq":${this.nextSeq(SID_BOOK)},"type":"ok","msg":{"market_tickers":[${all}]}}`);
    });
    t = m.closeUs + this.rngK.int(60, 150) * US_PER_S;
    this.schedule(t, () => {
      // Settled on Kalshi's window (close − 60 s, close] — the print at close counts — not on the CF
      // frame's trailing [t − 60 s, t) average.
      const avg = this.settleAvgAtSecond.get(Math.ceil(m.closeUs / US_PER_S));
      if (avg === undefined) return; // the tape did not cover the settlement window
      const result = avg > m.floorStrike ? "yes" : "no";
      this.settlements.push({ market: m.ticker, floorStrike: m.floorStrike, closeTime: m.closeUs, avg60: avg, result });
      const recv = this.lastRecv;
      this.kRecv(
        recv,
        `{"type":"market_lifecycle_v2","sid":${SID_LIFECYCLE},"seq":${this.nextSeq(SID_LIFECYCLE)},"msg":{"market_ticker":"${m.ticker}","event_type":"determined","exchange_index":2,` +
          `"result":"${result}","settlement_value":"${result === "yes" ? "1.0000" : "0.0000"}","determination_ts":${Math.floor(recv / US_PER_S)}}}`,
      );
      this.schedule(recv + this.rngK.int(30, 90) * US_PER_S, () => {
        const r2 = this.lastRecv;
        this.kRecv(
          r2,
          `{"type":"market_lifecycle_v2","sid":${SID_LIFECYCLE},"seq":${this.nextSeq(SID_LIFECYCLE)},"msg":{"market_ticker":"${m.ticker}","event_type":"settled","exchange_index":2,"settled_ts":${Math.floor(r2 / US_PER_S)}}}`,
        );
        // Forget the market: it no longer trades or settles.
        const i = this.markets.indexOf(m);
        if (i >= 0) this.markets.splice(i, 1);
      });
    });
  }

  /** The BRTI print whose CF source time is exactly second `s`. */
  private brti(s: number, recvPlanned: TsUs): void {
    const sourceUs = s * US_PER_S;
    const value = Math.round((this.path.at(sourceUs) + 1.5 * this.rngK.normal()) * 100) / 100;
    // Trailing window [t − 60 s, t): the prior 60 prints; falls back to the current value when empty.
    const h = this.brtiHistory;
    const prior = h.length;
    let sum = 0;
    for (const v of h) sum += v;
    const avg = prior > 0 ? sum / prior : value;
    this.avgAtSecond.set(s, avg);
    if (this.avgAtSecond.size > 7200) {
      for (const k of this.avgAtSecond.keys()) {
        if (k < s - 7200) this.avgAtSecond.delete(k);
        else break;
      }
    }
    h.push(value);
    if (h.length > 60) h.shift();
    let inclusive = 0;
    for (const v of h) inclusive += v;
    this.settleAvgAtSecond.set(s, inclusive / h.length);
    if (this.settleAvgAtSecond.size > 7200) {
      for (const k of this.settleAvgAtSecond.keys()) {
        if (k < s - 7200) this.settleAvgAtSecond.delete(k);
        else break;
      }
    }
    // In the final minute before a quarter-hour close C, Kalshi adds its running settlement average
    // over (C − 60 s, C]: the prints of seconds C − 59 … s (one a second here), 60 at the close.
    const close = Math.ceil(s / 900) * 900;
    let quarter = "";
    if (s > close - 60) {
      const k = Math.min(s - (close - 60), h.length);
      let qs = 0;
      for (let i = h.length - k; i < h.length; i++) qs += h[i]!;
      quarter = `,"last_60s_windowed_average_15min":{"value":"${(qs / k).toFixed(8)}","window_size":${k},"window_start_ts_ms":${(close - 60) * 1000},"window_end_ts_exclusive":${s * 1000 + 1}}`;
    }
    const recv = this.stamp(recvPlanned);
    const receivedAt = Math.floor((recv - this.rngK.int(1_000, 20_000)) / US_PER_MS);
    const timeMs = s * 1000;
    const data = JSON.stringify(JSON.stringify({ type: "value", id: "BRTI", time: timeMs, value: value.toFixed(2) }));
    this.kRecv(
      recv,
      `{"type":"cfbenchmarks_value","sid":${SID_BRTI},"seq":${this.nextSeq(SID_BRTI)},"msg":{"index_id":"BRTI","received_at":${receivedAt},"data":${data},` +
        `"avg_60s_data":{"value":"${avg.toFixed(8)}","window_size":${prior},"window_start_ts_ms":${timeMs - 60_000},"window_end_ts_exclusive":${timeMs}}${quarter}}}`,
    );
  }

  // ---- the main loop -------------------------------------------------------------------------------

  /** Frames in receipt order, one simulated second at a time. */
  *frames(): Generator<SynthFrame> {
    const o = this.opts;
    this.lastRecv = this.startUs;
    this.cbConnect(this.startUs + 1_000);
    this.kConnect(this.lastRecv + 5_000);
    yield* this.drain();
    // Streaming starts with the first whole second after both handshakes. The 60-s BRTI history is
    // warmed from the minute before it, without emitting (the recorder was not connected then), so
    // the first averages cover a full window.
    const firstS = Math.floor(this.lastRecv / US_PER_S) + 1;
    for (let s = firstS - 60; s < firstS; s++) {
      const v = Math.round(this.path.at(s * US_PER_S) * 100) / 100;
      this.brtiHistory.push(v);
    }
    const lastS = Math.ceil(this.endUs / US_PER_S);
    const slots: Slot[] = [];
    for (let s = firstS; s < lastS; s++) {
      const t0 = s * US_PER_S;
      slots.length = 0;
      const rc = this.rngCb;
      const rk = this.rngK;
      slots.push({ t: t0 + rc.int(0, 999_999), k: 0 });
      for (let i = rc.count(o.spotTicksPerSecond); i > 0; i--) slots.push({ t: t0 + rc.int(0, 999_999), k: 1 });
      if (rc.chance(0.7)) slots.push({ t: t0 + rc.int(0, 999_999), k: 2 });
      if (o.level2PerSecond > 0) for (let i = rc.count(o.level2PerSecond); i > 0; i--) slots.push({ t: t0 + rc.int(0, 999_999), k: 3 });
      slots.push({ t: t0 + rk.int(30_000, 180_000), k: 4, s });
      const tradeP = o.tradesPerMinutePerMarket / 60;
      for (const m of this.markets) {
        if (!m.inBook || t0 >= m.closeUs) continue;
        for (let i = rk.count(o.deltasPerSecondPerMarket); i > 0; i--) slots.push({ t: t0 + rk.int(0, 999_999), k: 5, m });
        if (rk.chance(tradeP)) slots.push({ t: t0 + rk.int(0, 999_999), k: 6, m });
      }
      while (this.agenda.length > 0 && this.agenda[0]!.t < t0 + US_PER_S) {
        const a = this.agenda.shift()!;
        slots.push({ t: a.t, k: 7, a });
      }
      // Stable order: time, then kind, then insertion (Array.prototype.sort is stable).
      slots.sort((a, b) => a.t - b.t || a.k - b.k);
      for (const sl of slots) {
        switch (sl.k) {
          case 0:
            if (!this.spotSilent(sl.t)) this.cbHeartbeat(sl.t);
            break;
          case 1:
            if (!this.spotSilent(sl.t)) this.cbTicker(sl.t);
            break;
          case 2:
            if (!this.spotSilent(sl.t)) this.cbTrades(sl.t);
            break;
          case 3:
            if (!this.spotSilent(sl.t)) this.cbL2(sl.t, false);
            break;
          case 4:
            this.brti(sl.s, sl.t);
            break;
          case 5:
            this.deltaSlot(sl.t, sl.m);
            break;
          case 6:
            this.tradeSlot(sl.t, sl.m);
            break;
          case 7:
            this.stamp(sl.t);
            sl.a.run();
            break;
        }
      }
      yield* this.drain();
    }
  }

  private *drain(): Generator<SynthFrame> {
    const out = this.out;
    this.out = [];
    for (const f of out) yield f;
  }
}

/** Pure generator form: frames in receipt order for the given options and candles. */
export function* synthFrames(opts: SynthOptions, candles: readonly Candle[]): Generator<SynthFrame> {
  yield* new Synthesizer(opts, candles).frames();
}

/** Parse a synthesized frame with the live parsers (use_yes_price=false, as subscribed). */
export function eventsOfFrame(f: RawFrame): { ok: true; events: EngineEvent[] } | { ok: false; error: string } {
  if (f.dir !== "recv") return { ok: true, events: [] };
  if (f.source === "kalshi") {
    const r = parseKalshiFrame(f.text, f.tsRecv, { useYesPrice: false });
    return r.ok ? { ok: true, events: r.events } : r;
  }
  const r = parseCoinbaseFrame(f.text, f.tsRecv);
  return r.ok ? { ok: true, events: r.events } : r;
}

/**
 * Synthesize a capture into `sink`: every frame as raw, then its parsed events (in direct mode no raw
 * frames, and the hot frames' events as built). Flushes the sink once a simulated minute (so a
 * Parquet writer can roll segments) and at the end; does not close it.
 */
export async function synthesize(opts: SynthOptions, sink: TapeSink): Promise<SynthSummary> {
  const synth = new Synthesizer(opts, loadCandles(opts.candleCsvPath));
  const framesBySource: Record<string, number> = {};
  const eventsByKind: Record<string, number> = {};
  let frames = 0;
  let events = 0;
  let rejects = 0;
  let first = -1;
  let last = -1;
  let nextFlush = synth.start + MINUTE_US;
  const withRaw = opts.directEvents !== true;
  for (const f of synth.frames()) {
    if (withRaw) sink.raw(f);
    frames++;
    framesBySource[f.source] = (framesBySource[f.source] ?? 0) + 1;
    if (first < 0) first = f.tsRecv;
    last = f.tsRecv;
    const r = f.events !== undefined ? { ok: true as const, events: f.events } : eventsOfFrame(f);
    if (!r.ok) {
      rejects++;
    } else {
      for (const e of r.events) {
        sink.event(e, f.source);
        events++;
        eventsByKind[e.kind] = (eventsByKind[e.kind] ?? 0) + 1;
      }
    }
    if (f.tsRecv >= nextFlush) {
      await sink.flush();
      nextFlush = f.tsRecv + MINUTE_US;
    }
  }
  await sink.flush();
  return {
    frames,
    events,
    framesBySource,
    eventsByKind,
    parseRejects: rejects,
    markets: synth.marketsCreated,
    settlements: synth.settlements,
    candleDay: synth.candleDay,
    firstTsRecv: first,
    lastTsRecv: last,
  };
}
