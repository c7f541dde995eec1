/**
 * A lifecycle frame for a market we hold no record of yet (its `created` frame had no strike we model,
 * or was lost; the REST listing not in yet). Strike patches were kept until the record came; lifecycle
 * frames were dropped, so a listing written before a `close_date_updated` (kalshi-api.md §8.10: REST
 * reads are stale; §9 can_close_early markets move their close) left the market on its old close. The
 * frame is kept and merged over the record when it comes — unless the record was written after it.
 */
import { describe, expect, it } from "vitest";
import type { MarketLifecycle } from "../../lib/core/events.ts";
import { MarketDirectory } from "../../lib/core/markets.ts";
import { parseKalshiFrame, parseKalshiMarket } from "../../lib/venues/kalshi/parse.ts";

const M = "KXBTCD-26SEP2917-T109999.99";
const US = 1_000_000;
const iso = (s: string) => Date.parse(s) * 1000;
const FRAME_AT = iso("2026-09-29T18:00:00Z");
const NEW_CLOSE_S = Date.parse("2026-09-29T19:00:00Z") / 1000;

function lifecycle(msg: Record<string, unknown>, tsRecv = FRAME_AT): MarketLifecycle {
  const r = parseKalshiFrame(JSON.stringify({ type: "market_lifecycle_v2", sid: 13, seq: 4, msg: { market_ticker: M, ...msg } }), tsRecv, { useYesPrice: false });
  if (!r.ok) throw new Error(r.error);
  return r.events.find((e): e is MarketLifecycle => e.kind === "market_lifecycle")!;
}

function listing(updated: string, status = "active") {
  return parseKalshiMarket(
    {
      ticker: M, event_ticker: "KXBTCD-26SEP2917", strike_type: "greater", floor_strike: 109999.99,
      open_time: "2026-09-28T21:00:00Z", close_time: "2026-09-29T21:00:00Z", status, updated_time: updated,
    },
    FRAME_AT + 5 * US,
  );
}

describe("lifecycle frames before the first record", () => {
  it("close_date_updated before a listing written earlier: the moved close wins", () => {
    const d = new MarketDirectory();
    expect(d.lifecycle(lifecycle({ event_type: "close_date_updated", close_ts: NEW_CLOSE_S }))).toBeNull();
    const r = d.upsert(listing("2026-09-29T17:00:00Z"))!;
    expect(r).toMatchObject({ closeTime: NEW_CLOSE_S * US, settleTime: NEW_CLOSE_S * US, status: "active" });
  });

  it("a listing written after the frame holds the venue's word: the frame is not applied", () => {
    const d = new MarketDirectory();
    d.lifecycle(lifecycle({ event_type: "close_date_updated", close_ts: NEW_CLOSE_S }));
    expect(d.upsert(listing("2026-09-29T18:00:10Z"))!.closeTime).toBe(iso("2026-09-29T21:00:00Z"));
  });

  it("deactivated before a listing written earlier: the market is paused, and a later stale listing keeps it so", () => {
    const d = new MarketDirectory();
    d.lifecycle(lifecycle({ event_type: "deactivated", is_deactivated: true }));
    expect(d.upsert(listing("2026-09-29T17:00:00Z"))!.status).toBe("inactive");
    d.upsert({ ...listing("2026-09-29T17:00:00Z"), tsRecv: FRAME_AT + 9 * US });
    expect(d.get(M)!.status).toBe("inactive");
  });

  it("a queued pause does not move a determined listing back", () => {
    const d = new MarketDirectory();
    d.lifecycle(lifecycle({ event_type: "deactivated", is_deactivated: true }));
    const r = parseKalshiMarket(
      { ticker: M, event_ticker: "KXBTCD-26SEP2917", strike_type: "greater", floor_strike: 109999.99, open_time: "2026-09-28T21:00:00Z", close_time: "2026-09-29T21:00:00Z", status: "determined" },
      FRAME_AT + 5 * US,
    );
    expect(d.upsert(r)!.status).toBe("determined");
  });
});
