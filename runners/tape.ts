/**
 * Tape tools.
 *   tsx runners/tape.ts verify <dir> [--json] [--stale-spot S] [--stale-kalshi S]   health check; exit 1 on problems
 *   tsx runners/tape.ts info <dir>                                                  days and counts
 *   tsx runners/tape.ts rebuild-store <dir> [--run ID] [--db PATH]                  append the audit rows a crash lost
 *                                                      (paper runs; ID defaults to the tape folder's name)
 *   tsx runners/tape.ts recover <dir>                                               roll journals a crashed run left
 *                                                      (in <dir> and each run tape under it); exit 1 if one fails
 *   tsx runners/tape.ts bench [--events N] [--dir D]                                write then read N synthetic events
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { formatVerifyReport, verifyTape } from "../lib/tape/verify.ts";
import { listTapeDays, readTapeEvents } from "../lib/tape/reader.ts";
import { openTapeWriter, recoverTapes } from "../lib/tape/writer.ts";
import { rebuildStore } from "../lib/run/rebuild.ts";
import { resolveDbPath } from "../lib/store/db.ts";
import type { EngineEvent, Source } from "../lib/core/events.ts";

const USAGE = `usage:
  tape verify <dir> [--json] [--stale-spot SECONDS] [--stale-kalshi SECONDS]
  tape info <dir>
  tape recover <dir>
  tape rebuild-store <dir> [--run ID] [--db PATH]
  tape bench [--events N] [--dir DIR]`;

function positiveNumber(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      "stale-spot": { type: "string" },
      "stale-kalshi": { type: "string" },
      events: { type: "string" },
      dir: { type: "string" },
      run: { type: "string" },
      db: { type: "string" },
    },
  });
  const [cmd, dir] = positionals;
  if (cmd === "verify" && dir) {
    const report = await verifyTape(dir, {
      staleSpotSeconds: positiveNumber(values["stale-spot"], "stale-spot"),
      staleKalshiSeconds: positiveNumber(values["stale-kalshi"], "stale-kalshi"),
    });
    console.log(values.json ? JSON.stringify(report, null, 2) : formatVerifyReport(report));
    return report.healthy ? 0 : 1;
  }
  if (cmd === "info" && dir) {
    const report = await verifyTape(dir);
    console.log(`days: ${(await listTapeDays(dir)).join(", ") || "(none)"}`);
    for (const c of report.days) console.log(`${c.day} ${c.source}: ${c.rawFrames} raw, ${c.events} events, ${c.files} files`);
    return 0;
  }
  if (cmd === "rebuild-store" && dir) {
    // A crashed run's journal must be Parquet first.
    for (const r of await recoverTapes(dir)) if (r.problem) throw new Error(`${r.dir}: ${r.problem}`);
    const runId = values.run ?? path.basename(path.resolve(dir));
    const r = await rebuildStore({ tapeDir: dir, runId, dbPath: resolveDbPath(values.db) });
    for (const [t, c] of Object.entries(r.tables)) console.log(`${t}: ${c.stored} stored, ${c.derived} from the tape, ${c.added} added`);
    console.log(`run ${r.runId} (${r.mode}): ${r.added} row(s) added from ${r.events} tape events`);
    return 0;
  }
  if (cmd === "recover" && dir) {
    const results = await recoverTapes(dir);
    if (results.length === 0) console.log(`${dir}: no journals to recover`);
    for (const r of results) {
      console.log(
        r.problem
          ? `${r.dir}: NOT recovered (${r.problem})`
          : `${r.dir}: recovered ${r.journals} journal(s); ${r.droppedPartialLines} torn line(s) dropped, ${r.quarantinedLines} malformed line(s) quarantined`,
      );
    }
    return results.some((r) => r.problem) ? 1 : 0;
  }
  if (cmd === "bench") {
    const n = positiveNumber(values.events, "events") ?? 2_000_000;
    await bench(Math.round(n), values.dir);
    return 0;
  }
  console.error(USAGE);
  return 2;
}

/** Synthetic mix of the hot kinds, roughly as a collector sees them. */
function syntheticEvent(i: number, t0: number): [EngineEvent, Source] {
  const tsRecv = t0 + i * 1000;
  const r = i % 10;
  if (r < 4) {
    return [
      {
        kind: "book_delta",
        tsRecv,
        tsExchange: tsRecv - 500,
        market: `KXBTCD-26FEB1217-T${70000 + (i % 20) * 250 - 0.01}`,
        sid: 2,
        seq: i,
        side: i % 2 ? "yes" : "no",
        price: 100 * (i % 99) + 100,
        delta: (i % 7) * 100 - 300,
        clientOrderId: null,
      },
      "kalshi",
    ];
  }
  if (r < 8) {
    return [
      {
        kind: "spot_quote",
        tsRecv,
        tsExchange: tsRecv - 800,
        productId: "BTC-USD",
        bid: 97000 + (i % 100) / 100,
        ask: 97000.5 + (i % 100) / 100,
        bidSize: 0.5,
        askSize: 0.25,
        last: 97000.25,
        seq: i,
      },
      "coinbase",
    ];
  }
  if (r === 8) {
    return [
      { kind: "index_value", tsRecv, tsExchange: null, indexId: "BRTI", value: 97000.1, avg60s: 96999.9, quarterAvg: Number.NaN, quarterTicks: 0, sid: 1, seq: i },
      "kalshi",
    ];
  }
  return [
    {
      kind: "public_trade",
      tsRecv,
      tsExchange: tsRecv - 300,
      market: "KXBTCD-26FEB1217-T72749.99",
      tradeId: `d91bc706-ee49-470d-82d8-${String(i).padStart(12, "0")}`,
      yesPrice: 5600,
      count: 1000,
      takerSide: "yes",
      sid: 12,
      seq: i,
    },
    "kalshi",
  ];
}

async function bench(n: number, dirArg: string | undefined): Promise<void> {
  const dir = dirArg ?? fs.mkdtempSync(path.join(os.tmpdir(), "tape-bench-"));
  const t0 = Date.UTC(2026, 1, 12, 0, 0, 0) * 1000;
  if (!fs.existsSync(path.join(dir, "events"))) {
    const w = await openTapeWriter({ dir, segmentSeconds: 3600 });
    let start = performance.now();
    for (let i = 0; i < n; i++) {
      const [e, s] = syntheticEvent(i, t0);
      w.event(e, s);
    }
    const appendMs = performance.now() - start;
    start = performance.now();
    await w.close();
    const closeMs = performance.now() - start;
    console.log(
      `write: ${n} events appended in ${appendMs.toFixed(0)} ms (${((n / appendMs) * 1000).toFixed(0)}/s), ` +
        `final roll ${closeMs.toFixed(0)} ms`,
    );
  }
  for (let rep = 0; rep < 3; rep++) {
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    let count = 0;
    let check = 0;
    for await (const batch of readTapeEvents(dir)) {
      count += batch.length;
      check += batch[batch.length - 1]!.event.tsRecv;
    }
    const ms = performance.now() - start;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    console.log(
      `read #${rep + 1}: ${count} events in ${ms.toFixed(0)} ms = ${((count / ms) * 1000).toFixed(0)} events/s ` +
        `(process CPU ${cpuMs.toFixed(0)} ms incl. DuckDB threads; checksum ${check > 0 ? "ok" : "?"})`,
    );
  }
  if (!dirArg) fs.rmSync(dir, { recursive: true, force: true });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  },
);
