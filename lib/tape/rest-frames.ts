/**
 * REST in the raw layer. Kalshi's WebSocket frames alone do not rebuild a run: market discovery,
 * series fees and position snapshots come over REST. Runners record each 2xx REST answer as a raw
 * frame on conn_id "rest" — {"rest": "GET /markets", "path": …, "body": …} — and every event they
 * built from REST (or merged from several answers and frames, or synthesized like feed health) as
 * {"derived": event} on the same
 * conn_id, at the event's own receipt time. `RawReparser` (lib/run/replay.ts) turns the derived
 * frames back into those events, so `--from-raw` replays what the run consumed.
 */
import type { EngineEvent, Source } from "../core/events.ts";
import type { RawFrame } from "./types.ts";

export const REST_CONN = "rest";

export function restAnswerFrame(a: { readonly method: string; readonly route: string; readonly path: string; readonly body: unknown }, tsRecv: number): RawFrame {
  const rest = a.route.startsWith(`${a.method} `) ? a.route : `${a.method} ${a.route}`;
  return { source: "kalshi", connId: REST_CONN, tsRecv, dir: "recv", text: JSON.stringify({ rest, path: a.path, body: a.body }) };
}

export function derivedFrame(e: EngineEvent, source: Source): RawFrame {
  return { source, connId: REST_CONN, tsRecv: e.tsRecv, dir: "recv", text: JSON.stringify({ derived: e }) };
}
