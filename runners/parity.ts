/**
 * tsx runners/parity.ts --tape DIR --run ID [--db PATH] [--json]
 *
 * Replays a recorded paper (or live) tape through the replayer with the configuration the session
 * stored, and compares the decision and order-intent sequence (paper: also every order change and
 * fill) with what the session recorded in the store under run ID. Prints IDENTICAL or the first
 * difference; exit 0 when identical, 1 when not, 2 on bad input or a tape without events.
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { checkParity, formatParity } from "../lib/run/parity.ts";
import { resolveDbPath } from "../lib/store/db.ts";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      tape: { type: "string" },
      run: { type: "string" },
      db: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help || !values.tape || !values.run) {
    process.stdout.write("usage: tsx runners/parity.ts --tape DIR --run ID [--db PATH] [--json]\n");
    return values.help ? 0 : 2;
  }
  if (!existsSync(values.tape)) {
    process.stderr.write(`--tape: no such directory ${values.tape}\n`);
    return 2;
  }
  const dbPath = resolveDbPath(values.db);
  if (!existsSync(dbPath)) {
    process.stderr.write(`--db: no such store ${dbPath}\n`);
    return 2;
  }
  const report = await checkParity({ tapeDir: values.tape, runId: values.run, dbPath });
  if (report.eventsReplayed === 0) {
    // An empty tape (an unrolled journal, a wrong folder) proves nothing: never "identical".
    process.stderr.write(`parity: the tape ${values.tape} holds no events (run \`npm run tape -- recover ${values.tape}\` if a run crashed). Exit 2.\n`);
    return 2;
  }
  process.stdout.write((values.json ? JSON.stringify(report) : formatParity(report)) + "\n");
  return report.identical ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`parity failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
