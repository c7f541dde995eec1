/**
 * The one sequence rule for Kalshi subscriptions (reference §3.5), used by the WebSocket client and by
 * the engine's book registry alike:
 *
 *   Every message a subscription (`sid`) sends with a `seq` consumes that number — market data,
 *   control replies (`ok`, `unsubscribed`), subscription-scoped `error`s, lifecycle and event frames,
 *   types we do not know. The first number seen on a sid starts the count; each next one must be
 *   last + 1, anything else is a gap.
 *
 * For the engine to apply the same rule it must see every such number: the parser therefore turns
 * each sequenced frame into at least one event that carries its (sid, seq) — see `sequenceOf` — and a
 * frame with nothing else to say becomes a `subscription_updated` event.
 */
import type { EngineEvent } from "./events.ts";

export interface SeqGap {
  readonly expected: number;
  readonly got: number;
}

export class SeqTracker {
  private readonly last = new Map<number, number>();

  /** Count one message; returns the gap, or null when in order (or the first on its sid). */
  observe(sid: number, seq: number): SeqGap | null {
    const last = this.last.get(sid);
    this.last.set(sid, seq);
    if (last === undefined || seq === last + 1) return null;
    return { expected: last + 1, got: seq };
  }

  tracks(sid: number): boolean {
    return this.last.has(sid);
  }

  forget(sid: number): void {
    this.last.delete(sid);
  }

  /** A new connection: new sids, nothing carries over. */
  reset(): void {
    this.last.clear();
  }
}

/** The (sid, seq) an event carries, or null for unsequenced events. */
export function sequenceOf(e: EngineEvent): { sid: number; seq: number } | null {
  switch (e.kind) {
    case "book_snapshot":
    case "book_delta":
    case "public_trade":
    case "index_value":
    case "market_lifecycle":
    case "subscription_updated":
      return e.sid >= 0 && e.seq >= 0 ? { sid: e.sid, seq: e.seq } : null;
    default:
      return null;
  }
}
