/**
 * Small swappable models of the simulated venue: latency and queue position. Each is an interface of
 * one or two methods so a user can drop in their own (a measured latency distribution, a probabilistic
 * queue) without touching the venue.
 */
import type { BookDelta, PublicTrade } from "../core/events.ts";
import { mulberry32 } from "../core/prng.ts";
import type { CountE2, TsUs } from "../core/units.ts";

// ---- Latency --------------------------------------------------------------------------------------

export interface LatencyModel {
  /** Decision → order reaches the matching engine (µs). */
  entryUs(ts: TsUs): number;
  /** Matching engine → our process sees the result (µs). */
  responseUs(ts: TsUs): number;
}

export class ConstantLatency implements LatencyModel {
  constructor(
    private readonly entry: number,
    private readonly response: number,
  ) {}
  entryUs(): number {
    return this.entry;
  }
  responseUs(): number {
    return this.response;
  }
}

/** Draws from measured samples (µs) with a seeded PRNG, so replays stay deterministic. */
export class SampledLatency implements LatencyModel {
  private readonly rng: () => number;
  constructor(
    private readonly entrySamples: readonly number[],
    private readonly responseSamples: readonly number[],
    seed: number,
  ) {
    if (entrySamples.length === 0 || responseSamples.length === 0) throw new Error("SampledLatency needs samples");
    this.rng = mulberry32(seed);
  }
  entryUs(): number {
    return this.entrySamples[Math.floor(this.rng() * this.entrySamples.length)]!;
  }
  responseUs(): number {
    return this.responseSamples[Math.floor(this.rng() * this.responseSamples.length)]!;
  }
}

// ---- Queue position of resting orders --------------------------------------------------------

/** What a queue model knows about one of our resting orders. */
export interface RestingView {
  readonly market: string;
  /** The bid ladder we rest in and our own-leg price there. */
  readonly side: "yes" | "no";
  readonly price: number;
  remaining: CountE2;
  /** Model state: contracts ahead of us. */
  queueAhead: CountE2;
}

export interface QueueModel {
  /** Our order starts resting; `displayed` is the recorded size at our price at that moment. */
  onRest(order: RestingView, displayed: CountE2): void;
  /** A public trade printed; returns how much of it fills our order (0 … remaining). */
  onTrade(order: RestingView, trade: PublicTrade): CountE2;
  /** The recorded book changed at some level of our market. */
  onDelta(order: RestingView, delta: BookDelta): void;
}

/**
 * Conservative: everything displayed at our price when we arrive is ahead of us; only trades at our
 * price (or through it) reduce it; cancellations are assumed to come from behind us. We fill only
 * from trade volume left after the queue ahead is exhausted.
 */
export class ConservativeQueue implements QueueModel {
  onRest(order: RestingView, displayed: CountE2): void {
    order.queueAhead = displayed;
  }

  onTrade(order: RestingView, trade: PublicTrade): CountE2 {
    if (trade.market !== order.market) return 0;
    // A taker buying NO sells into YES bids at yesPrice; a taker buying YES sells into NO bids at 1 − yesPrice.
    const hitsOurSide = order.side === "yes" ? trade.takerSide === "no" : trade.takerSide === "yes";
    if (!hitsOurSide) return 0;
    const tradeOwnPrice = order.side === "yes" ? trade.yesPrice : 10_000 - trade.yesPrice;
    if (tradeOwnPrice > order.price) return 0; // traded above our bid: levels ahead of ours absorbed it
    let volume = trade.count;
    if (tradeOwnPrice === order.price) {
      const used = Math.min(order.queueAhead, volume);
      order.queueAhead -= used;
      volume -= used;
    } else {
      // Printed through our price: everything at our level, us included, was taken first.
      order.queueAhead = 0;
    }
    return Math.min(volume, order.remaining);
  }

  onDelta(): void {
    // Conservative: cancellations do not move us forward.
  }
}
