/**
 * The capture format's two layers, as seen by producers (collector, paper/live runners, synthesizer)
 * and consumers (replayer, verifier). The Parquet layout itself lives in lib/tape/schema.ts.
 */
import type { EngineEvent, Source } from "../core/events.ts";
import type { TsUs } from "../core/units.ts";

/** Layer 1: a frame exactly as received (or sent: our subscribe commands, never credentials). */
export interface RawFrame {
  readonly source: Source;
  /** Identifies one connection; a reconnect gets a new id. */
  readonly connId: string;
  readonly tsRecv: TsUs;
  readonly dir: "recv" | "send";
  readonly text: string;
}

/** Where producers put what they capture. Implementations: the Parquet tape writer, in-memory sinks in tests. */
export interface TapeSink {
  raw(frame: RawFrame): void;
  /** Layer 2: a normalized event, tagged with the source it came from. */
  event(e: EngineEvent, source: Source): void;
  /** Make everything written so far durable (journal flushed). */
  flush(): Promise<void>;
  /** Flush, roll the open segment into Parquet, release resources. */
  close(): Promise<void>;
}

/** A tape event as read back, with its ordering key and stable tie-break. */
export interface TapeEvent {
  readonly source: Source;
  readonly event: EngineEvent;
}
