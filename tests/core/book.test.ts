import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { BookRegistry, OrderBook, SharedBookFeed, askFromOppositeBid, topOfBook } from "../../lib/core/book.ts";
import type { BookDelta, BookSnapshot } from "../../lib/core/events.ts";

const M = "KXBTCD-26NOV2517-T99999.99";
function snap(seq: number, yes: [number, number][], no: [number, number][], sid = 1, market = M): BookSnapshot {
  return { kind: "book_snapshot", tsRecv: seq, tsExchange: null, market, sid, seq, yesBids: yes, noBids: no };
}
function delta(seq: number, side: "yes" | "no", price: number, d: number, sid = 1, market = M): BookDelta {
  return { kind: "book_delta", tsRecv: seq, tsExchange: null, market, sid, seq, side, price, delta: d, clientOrderId: null };
}

describe("derived asks (the one function)", () => {
  test("best_yes_ask = 1 − best_no_bid; best_no_ask = 1 − best_yes_bid", () => {
    // Reference example: NO bids up to 0.56 → YES ask 0.44; YES bid 0.42 → NO ask 0.58.
    const t = topOfBook(4200, 1300, 5600, 1700);
    expect(t.yesAsk).toBe(4400);
    expect(t.yesAskSize).toBe(1700);
    expect(t.noAsk).toBe(5800);
    expect(t.noAskSize).toBe(1300);
    expect(askFromOppositeBid(5600)).toBe(4400);
  });
  test("an empty side gives no ask on the other leg", () => {
    const t = topOfBook(-1, 0, 5600, 100);
    expect(t.noAsk).toBe(-1);
    expect(t.yesAsk).toBe(4400);
  });
});

describe("order book snapshot + deltas", () => {
  test("the REST reference example book", () => {
    const b = new OrderBook(M);
    b.applySnapshot(snap(1, [[100, 20000], [4100, 1000], [4200, 1300]], [[100, 10000], [4500, 2000], [5600, 1700]]));
    const t = b.top();
    expect([t.yesBid, t.yesAsk, t.noBid, t.noAsk]).toEqual([4200, 4400, 5600, 5800]);
    // Depth: buying YES up to $0.55 takes NO bids ≥ 0.45: 17.00 + 20.00 contracts.
    expect(b.sizeAvailableToBuy("yes", 5500)).toBe(3700);
    expect(b.sizeAvailableToBuy("yes", 4400)).toBe(1700);
    expect(b.sizeAvailableToBuy("yes", 4300)).toBe(0);
    // Selling YES down to 0.41 hits YES bids 0.42 and 0.41.
    expect(b.sizeAvailableToSell("yes", 4100)).toBe(2300);
    expect([...b.asks("no")].slice(0, 2)).toEqual([[5800, 1300], [5900, 1000]]);
  });
  test("signed deltas apply exactly; a level vanishes when it nets to zero", () => {
    const b = new OrderBook(M);
    b.applySnapshot(snap(1, [[4200, 3550]], []));
    expect(b.applyDelta(delta(2, "yes", 4200, -3550))).toBeNull();
    expect(b.top().yesBid).toBe(-1);
    b.applyDelta(delta(3, "yes", 4300, 7477));
    b.applyDelta(delta(4, "yes", 4300, -7400));
    expect(b.top().yesBid).toBe(4300);
    expect(b.top().yesBidSize).toBe(77);
  });
  test("negative size is reported", () => {
    const b = new OrderBook(M);
    b.applySnapshot(snap(1, [[4200, 100]], []));
    expect(b.applyDelta(delta(2, "yes", 4200, -200))).toEqual({ kind: "negative_size", side: "yes", price: 4200, size: -100 });
  });
  test("crossed book is detected (YES bid + NO bid ≥ $1)", () => {
    const b = new OrderBook(M);
    expect(b.applySnapshot(snap(1, [[4200, 100]], [[5700, 100]]))).toEqual([]);
    expect(b.applyDelta(delta(2, "no", 5800, 100))).toEqual({ kind: "crossed", yesBid: 4200, noBid: 5800 });
  });
  test("matches a naive second implementation over random delta sequences", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 99 }), fc.integer({ min: -500, max: 500 })), { maxLength: 300 }),
        (ops) => {
          const b = new OrderBook(M);
          b.applySnapshot(snap(0, [], []));
          const naive = { yes: new Map<number, number>(), no: new Map<number, number>() };
          let seq = 1;
          for (const [isYes, cents, d] of ops) {
            const side = isYes ? "yes" : "no";
            const price = cents * 100;
            b.applyDelta(delta(seq++, side, price, d));
            const m = naive[side];
            const v = (m.get(price) ?? 0) + d;
            if (v <= 0) m.delete(price);
            else m.set(price, v);
          }
          const best = (m: Map<number, number>) => (m.size ? Math.max(...m.keys()) : -1);
          const t = b.top();
          return t.yesBid === best(naive.yes) && t.noBid === best(naive.no) &&
            JSON.stringify(b.levels().yesBids) === JSON.stringify([...naive.yes.entries()].sort((a, c) => a[0] - c[0]));
        },
      ),
    );
  });
});

describe("registry: seq per subscription", () => {
  test("a gap marks every book of that sid stale until each gets a snapshot", () => {
    const r = new BookRegistry();
    const A = "A", B = "B", C = "C";
    r.applySnapshot(snap(1, [[4000, 100]], [], 7, A));
    r.applySnapshot(snap(2, [[4000, 100]], [], 7, B));
    r.applySnapshot(snap(1, [[4000, 100]], [], 8, C)); // other subscription
    expect(r.applyDelta(delta(3, "yes", 4000, 5, 7, A)).applied).toBe(true);
    const g = r.applyDelta(delta(5, "yes", 4000, 5, 7, B)); // seq 4 lost
    expect(g.gap).toEqual({ sid: 7, expected: 4, got: 5, markets: [A, B] });
    expect(g.applied).toBe(false);
    expect(r.get(A)!.stale && r.get(B)!.stale).toBe(true);
    expect(r.get(C)!.stale).toBe(false);
    // Deltas to a stale book are ignored.
    expect(r.applyDelta(delta(6, "yes", 4000, 5, 7, A)).applied).toBe(false);
    expect(r.get(A)!.top().yesBidSize).toBe(105);
    // The re-snapshot heals A only.
    r.applySnapshot(snap(7, [[4100, 100]], [], 7, A));
    expect(r.get(A)!.stale).toBe(false);
    expect(r.get(B)!.stale).toBe(true);
    expect(r.applyDelta(delta(8, "yes", 4100, 1, 7, A)).applied).toBe(true);
  });
  test("resetAll (reconnect) forgets seq and marks all stale", () => {
    const r = new BookRegistry();
    r.applySnapshot(snap(10, [], [], 1, "A"));
    r.resetAll();
    expect(r.get("A")!.stale).toBe(true);
    expect(r.applySnapshot(snap(1, [], [], 3, "A")).gap).toBeNull();
  });
});

describe("the shared book feed of a sweep", () => {
  test("one delta moves the books once, even when a session retires another market in between", () => {
    // Sessions of a sweep each hand the same event to the shared feed. When one of them settles a
    // market at that event (the settlement fallback) and retires its book, the next session's call
    // must still see the delta as already applied — not apply it again (a repeated seq → a false gap).
    const feed = new SharedBookFeed();
    const other = "KXBTCD-26NOV2517-T100499.99";
    feed.apply(snap(1, [[4000, 1000]], [[5000, 1000]]));
    feed.apply(snap(2, [[3000, 500]], [], 1, other));
    const d = delta(3, "yes", 4000, 200);
    const first = feed.apply(d);
    feed.retire({ market: other });
    const second = feed.apply(d);
    expect(second).toBe(first);
    expect(second.gap).toBeNull();
    expect(feed.registry.get(M)!.top().yesBidSize).toBe(1200);
    expect(feed.registry.get(M)!.stale).toBe(false);
  });
});

describe("BookRegistry: markets that move or go away (hostile venue review)", () => {
  test("a market re-snapshotted on a new sid leaves the old sid: a late gap there does not touch its fresh book", () => {
    const r = new BookRegistry();
    r.applySnapshot(snap(1, [[4000, 100]], [], 1));
    r.applySnapshot(snap(1, [[4000, 100]], [], 2)); // resubscribed: a new sid, a fresh book
    expect(r.marketsOnSid(1)).toEqual([]); // before: still a member of sid 1
    expect(r.marketsOnSid(2)).toEqual([M]);
    const late = r.applyDelta(delta(9, "yes", 4000, -100, 1, "KXBTCD-26NOV2517-T100249.99")); // sid 1 jumps 1 → 9
    expect(late.gap?.markets).toEqual(["KXBTCD-26NOV2517-T100249.99"]);
    expect(r.get(M)!.stale).toBe(false);
  });

  test("a removed market's late deltas count their seq but build no book again; a snapshot brings it back", () => {
    const r = new BookRegistry();
    r.applySnapshot(snap(1, [[4000, 1000]], []));
    r.remove(M);
    // The venue cancels resting orders after the close: deltas on the still-live sid.
    expect(r.applyDelta(delta(2, "yes", 4000, -1000))).toMatchObject({ applied: false, gap: null });
    expect(r.get(M)).toBeUndefined(); // before: a new 160 KB book, never released again
    expect(r.applyDelta(delta(4, "yes", 4000, 100)).gap).toMatchObject({ expected: 3, got: 4 }); // the seq still counts
    r.applySnapshot(snap(5, [[4100, 300]], []));
    expect(r.get(M)!.top().yesBid).toBe(4100);
  });
});
