/**
 * tsx runners/replay.ts [--tape DIR] [--from DATE --to DATE] [--config FILE] [--sweep FILE]
 *                       [--json] [--from-raw] [--db PATH | --no-store] [--run-id ID] [--grace SECONDS]
 *                       [--latency-ms ENTRY[,RESPONSE]] [--latency-samples FILE] [--seed N] [--workers N] [--warmup SECONDS]
 *                       [--models LIST|none]
 *                       [--allow-empty]
 *
 * Replays captured days through the engine and the simulated venue, in receipt-time order, and
 * prints a summary (one JSON object with --json). With no arguments it replays the bundled sample
 * tape in fixtures/. Audit records go to the DuckDB store (DB_PATH) unless --no-store. With a store,
 * the models of --models (default: every built-in of lib/core/models.ts) are scored side by side on
 * the first config's evaluations into the `forecasts` table; trades still come from cfg.model.name.
 * --workers N splits a --sweep's configs over N threads (same output as one thread). --warmup S first
 * replays the S seconds of tape before --from without trading or records, so the first day starts
 * with warm books, volatility and index.
 * Exit codes: 0 replayed; 2 bad arguments (impossible or inverted dates, --tape not a tape directory,
 * a non-numeric --grace, …) or a failed read; 3 the selection held no events (0 with --allow-empty).
 */
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, parseEngineOverrides } from "../lib/config.ts";
import { mergeEngineConfig, type EngineConfig } from "../lib/core/config.ts";
import { formatIsoUs, type TsUs } from "../lib/core/units.ts";
import { Replay, RawReparser, type ReplayTarget } from "../lib/run/replay.ts";
import { latencyFactory, runSweep, type LatencySpec, type SweepJob } from "../lib/run/sweep.ts";
import type { AuditRecord } from "../lib/core/records.ts";
import { AuditWriter, beginRun, ForecastWriter, openStore, resolveDbPath, type Store } from "../lib/store/db.ts";
import { defaultModelRegistry } from "../lib/core/models.ts";
import { readTapeRaw } from "../lib/tape/reader.ts";
import { checkReplayArgs } from "../lib/run/replay-args.ts";

const SAMPLE_TAPE = "fixtures/tapes/sample";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      tape: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      config: { type: "string" },
      sweep: { type: "string" },
      json: { type: "boolean", default: false },
      "from-raw": { type: "boolean", default: false },
      db: { type: "string" },
      "no-store": { type: "boolean", default: false },
      "run-id": { type: "string" },
      grace: { type: "string" },
      warmup: { type: "string" },
      "latency-ms": { type: "string" },
      "latency-samples": { type: "string" },
      seed: { type: "string", default: "1" },
      workers: { type: "string", default: "1" },
      models: { type: "string", default: "diffusion,student-t,jump-robust,market-implied,ewma-lognormal" },
      "allow-empty": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    const doc = readFileSync(new URL(import.meta.url)).toString().split("*/")[0]!;
    process.stdout.write(doc.replace(/^\/\*\*?\n?/, "").replace(/^ \* ?/gm, "").trim() + "\n");
    return 0;
  }
  const tape = resolve(values.tape ?? SAMPLE_TAPE);
  const checked = await checkReplayArgs({ tape, from: values.from, to: values.to, grace: values.grace, seed: values.seed, warmup: values.warmup });
  if (values.warmup !== undefined && values["from-raw"]) checked.problems.push("--warmup does not apply with --from-raw");
  if (checked.problems.length > 0) throw new ConfigError(checked.problems);
  const warmupSeconds = values.warmup !== undefined ? Number(values.warmup) : 0;

  const overrides = values.config ? parseEngineOverrides(JSON.parse(readFileSync(values.config, "utf8")), values.config) : undefined;
  const base = loadConfig(process.env, overrides).engine;
  const configs: EngineConfig[] = values.sweep ? sweepConfigs(base, values.sweep) : [base];
  const grace = values.grace !== undefined ? Number(values.grace) : undefined;
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new ConfigError([`--workers: expected an integer 1–64, got ${JSON.stringify(values.workers)}`]);

  let store: Store | null = null;
  let writer: AuditWriter | null = null;
  const runId = values["run-id"] ?? `replay-${randomUUID()}`;
  if (!values["no-store"]) {
    store = await openStore(resolveDbPath(values.db));
    await beginRun(store, { runId, mode: "replay", startedTs: Date.now() * 1000, configJson: JSON.stringify(configs[0]), tape });
    writer = new AuditWriter(store, runId, "replay");
  }
  const registry = defaultModelRegistry();
  const modelNames = values.models === "none" ? [] : values.models!.split(",").map((m) => m.trim()).filter(Boolean);
  for (const m of modelNames) if (!registry.has(m)) throw new ConfigError([`--models: unknown model "${m}" (known: ${registry.names().join(", ")})`]);
  const forecastWriter = store && modelNames.length ? new ForecastWriter(store, runId, "replay") : null;
  const c0 = configs[0]!;
  const forecasts: ReplayTarget["forecasts"] = forecastWriter
    ? {
        models: modelNames.map((m) => registry.create({ name: m, params: m === c0.model.name ? c0.model.params : undefined }, c0.model)),
        onForecast: (r) => forecastWriter.write(r),
      }
    : undefined;
  const latency = latencySpec(values["latency-ms"], values["latency-samples"], Number(values.seed));
  const progress = new Progress(process.stderr.isTTY && !values.json);
  const opts = { from: values.from, to: values.to };
  const extra: Record<string, unknown> = { tape: values.tape ?? SAMPLE_TAPE };
  if (values["run-id"]) extra.run_id = runId;
  const onRecord = writer ? (r: AuditRecord) => writer!.write(r) : undefined;
  const started = performance.now();
  let summaries: Record<string, unknown>[];
  let stats: { events: number; firstTs: TsUs; lastTs: TsUs; outOfOrder: number };
  if (values["from-raw"]) {
    const targets: ReplayTarget[] = configs.map((config, i) => ({ config, onRecord: i === 0 ? onRecord : undefined, forecasts: i === 0 ? forecasts : undefined }));
    const replay = new Replay(targets, { settlementGraceSeconds: grace, latency: latencyFactory(latency) });
    const reparser = new RawReparser();
    for await (const batch of readTapeRaw(tape, opts)) {
      for (const f of batch) for (const e of reparser.parse(f)) replay.feed(e);
      progress.tick(replay.stats.events, replay.stats.lastTs);
    }
    replay.finish();
    extra.raw = { frames: reparser.frames, rejects: reparser.rejects, refusedEntries: reparser.refusedEntries };
    summaries = replay.results.map((_, i) => replay.summaryJSON(i, extra));
    stats = replay.stats;
  } else {
    const job: SweepJob = { tape, ...opts, configs, settlementGraceSeconds: grace, latency, extra, ...(warmupSeconds > 0 ? { warmupSeconds } : {}) };
    const r = await runSweep(job, workers, { onRecord, forecasts, onProgress: (n, ts) => progress.tick(n, ts) });
    summaries = r.summaries;
    stats = r;
  }
  progress.done();
  const seconds = (performance.now() - started) / 1000;
  if (writer) await writer.close();
  if (forecastWriter) await forecastWriter.close();
  if (store) await store.close();

  const out = configs.length === 1 ? summaries[0]! : { configs: configs.length, summaries };
  if (values.json) process.stdout.write(JSON.stringify(out) + "\n");
  else printHuman(summaries[0]!, stats.firstTs, stats.lastTs);
  process.stderr.write(
    `replayed ${stats.events} events in ${seconds.toFixed(2)} s` +
      (store ? ` · run ${runId} → ${store.path}` : "") +
      (stats.outOfOrder > 0 ? ` · WARNING ${stats.outOfOrder} events out of order` : "") +
      "\n",
  );
  if (stats.events === 0 && !values["allow-empty"]) {
    // Nothing replayed is a failed run (a wrong --from/--to, an unrolled journal), not a result.
    process.stderr.write(`replay: the selection holds no events (tape ${tape}${values.from || values.to ? `, days ${values.from ?? "…"}..${values.to ?? "…"}` : ""}; tape days ${checked.days[0]}..${checked.days.at(-1)}). Pass --allow-empty to accept an empty replay. Exit 3.\n`);
    return 3;
  }
  return 0;
}

/**
 * The simulated order latency: constant (default 50 ms each way), or drawn with a seeded PRNG from
 * measured samples — a JSON file {"entry_ms": [...], "response_ms": [...]}.
 */
function latencySpec(constantMs: string | undefined, samplesFile: string | undefined, seed: number): LatencySpec | undefined {
  if (samplesFile) {
    const j = JSON.parse(readFileSync(samplesFile, "utf8")) as { entry_ms?: unknown; response_ms?: unknown };
    const list = (x: unknown, what: string): number[] => {
      if (!Array.isArray(x) || x.length === 0 || !x.every((v) => typeof v === "number" && v >= 0)) {
        throw new ConfigError([`--latency-samples ${samplesFile}: ${what} must be a non-empty array of milliseconds`]);
      }
      return x.map((v: number) => Math.round(v * 1000));
    };
    const entry = list(j.entry_ms, "entry_ms");
    const response = list(j.response_ms, "response_ms");
    return { kind: "sampled", entryUs: entry, responseUs: response, seed };
  }
  if (constantMs) {
    const parts = constantMs.split(",").map(Number);
    if (parts.length > 2 || parts.some((x) => !Number.isFinite(x) || x < 0)) throw new ConfigError([`--latency-ms: expected ENTRY[,RESPONSE] in ms, got ${constantMs}`]);
    const entry = Math.round(parts[0]! * 1000);
    const response = Math.round((parts[1] ?? parts[0]!) * 1000);
    return { kind: "constant", entryUs: entry, responseUs: response };
  }
  return undefined;
}

function sweepConfigs(base: EngineConfig, file: string): EngineConfig[] {
  const list = JSON.parse(readFileSync(file, "utf8")) as unknown;
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError([`--sweep ${file}: expected a non-empty JSON array of config overrides`]);
  return list.map((o, i) => mergeEngineConfig(base, parseEngineOverrides(o, `${file}[${i}]`)));
}

function printHuman(s: Record<string, unknown>, first: TsUs, last: TsUs): void {
  const lines: string[] = [];
  const n = (k: string) => s[k];
  lines.push(`Replay of ${String(n("tape"))}${first >= 0 ? `  (${formatIsoUs(first)} → ${formatIsoUs(last)})` : ""}`);
  lines.push(`  events ${n("events")} · markets ${n("markets")} · opportunities ${n("opportunities")} · trades ${n("trades")}`);
  const reasons = s.opportunities_by_reason as Record<string, number>;
  lines.push(`  by reason: ${Object.entries(reasons).map(([k, v]) => `${k} ${v}`).join(", ") || "none"}`);
  lines.push(`  orders ${n("orders")} (rejected ${n("orders_rejected")}) · fills ${n("fills")} · contracts ${n("contracts")} · fees $${Number(n("fees_usd")).toFixed(2)}`);
  const corrections = Number(n("settlement_corrections") ?? 0);
  lines.push(`  settlements ${n("settlements")} ${JSON.stringify(n("settlement_sources"))}${corrections > 0 ? ` (${corrections} fallback result(s) overruled by a later venue result)` : ""} · settlement PnL $${Number(n("settlement_pnl_usd")).toFixed(2)} · realized PnL $${Number(n("realized_pnl_usd")).toFixed(2)} · open positions ${n("open_positions")}`);
  const sc = s.scores as Record<string, number | null>;
  const f = (x: number | null | undefined) => (x === null || x === undefined ? "n/a" : x.toFixed(4));
  lines.push(`  forecasts scored ${sc.n} on ${sc.markets} settled markets: Brier model ${f(sc.brier_model)} vs market ${f(sc.brier_market)} · log-loss model ${f(sc.log_loss_model)} vs market ${f(sc.log_loss_market)}`);
  lines.push(`  risk ${n("risk_state")} · inconsistencies ${n("inconsistencies")}`);
  const w = s.venue_writes as { tokens: number; amends: number; cancels: number; rate_limited: number } | undefined;
  if (w) lines.push(`  venue writes: ${w.tokens} tokens · amends ${w.amends} · cancels ${w.cancels} · rate-limited (429) ${w.rate_limited}`);
  process.stdout.write(lines.join("\n") + "\n");
}

/** A one-line progress indicator on a TTY (stderr), redrawn at most a few times a second. */
class Progress {
  private last = 0;
  constructor(private readonly on: boolean) {}
  tick(events: number, ts: TsUs): void {
    if (!this.on) return;
    const now = performance.now();
    if (now - this.last < 250) return;
    this.last = now;
    process.stderr.write(`\r  ${events.toLocaleString("en-US")} events · tape time ${ts > 0 ? formatIsoUs(ts).slice(0, 19) : "-"}   `);
  }
  done(): void {
    if (this.on) process.stderr.write("\r\x1b[K");
  }
}


main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`replay failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
