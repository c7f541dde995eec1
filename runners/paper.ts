/**
 * tsx runners/paper.ts [--seconds N] [--db PATH | --no-store] [--no-tape] [--debug]
 *
 * Paper trading: live market data (Kalshi WS + Coinbase WS) → the engine → the simulated venue.
 * No real order is ever sent. Every opportunity goes to LOG_PATH and the store (DB_PATH), and the
 * session's own frames and events are recorded as a tape under TAPE_DIR/<run id>, replayable with
 * runners/parity.ts. Stop with Ctrl-C, SIGTERM or the kill file (KILL_FILE).
 */
import { runCli } from "../lib/live/runtime.ts";

runCli("paper", process.argv.slice(2)).then(
  (r) => process.exit(r.exitCode),
  (err: unknown) => {
    process.stderr.write(`paper failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
