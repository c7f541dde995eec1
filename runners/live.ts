/**
 * tsx runners/live.ts [--seconds N] [--db PATH | --no-store] [--no-tape] [--debug]
 *
 * Live trading: the same loop as paper, but intents go through the order gateway to Kalshi's V2
 * order endpoints. KALSHI_ENV=demo unless set to prod. With TRADING_ENABLED unset (or 0) the gateway
 * refuses every order and says why. Kill switch: Ctrl-C, SIGTERM or the kill file (KILL_FILE) →
 * cancel all, confirm through REST that none rest, exit. See the Deploy section of README.md.
 */
import { runCli } from "../lib/live/runtime.ts";

runCli("live", process.argv.slice(2)).then(
  (r) => process.exit(r.exitCode),
  (err: unknown) => {
    process.stderr.write(`live failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
