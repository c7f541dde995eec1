/** Shared test helpers for the venue suites (no timing assertions: waits only bound a test). */
import type { EngineEvent, FeedHealth } from "../../lib/core/events.ts";

export async function waitFor(pred: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function health(events: readonly EngineEvent[], status?: FeedHealth["status"]): FeedHealth[] {
  return events.filter((e): e is FeedHealth => e.kind === "feed_health" && (status === undefined || e.status === status));
}
