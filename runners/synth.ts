/**
 * Write a synthetic capture day to a Parquet tape.
 *
 *   tsx runners/synth.ts --out DIR --seed N --day YYYY-MM-DD --hours H [--csv PATH]
 *        [--start-hour H] [--markets N] [--spot-rate R] [--delta-rate R] [--candle-day YYYY-MM-DD]
 *        [--seq-gap-at ISO] [--stale-spot-from ISO --stale-spot-to ISO] [--crossed-at ISO]
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { parseIsoToUs } from "../lib/core/units.ts";
import { synthesize, type SynthFaults } from "../lib/tape/synth.ts";
import { openTapeWriter } from "../lib/tape/writer.ts";
import { BINANCE_BTCUSD_1M_CSV } from "../fixtures/data/paths.ts";

const DEFAULT_CSV = BINANCE_BTCUSD_1M_CSV;

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "expected YYYY-MM-DD");
const num = (min: number) => z.coerce.number().refine((v) => Number.isFinite(v) && v >= min, `must be a number ≥ ${min}`);
const iso = z
  .string()
  .transform((s, ctx) => {
    try {
      return parseIsoToUs(s);
    } catch {
      ctx.addIssue({ code: "custom", message: "expected an ISO-8601 instant" });
      return z.NEVER;
    }
  })
  .optional();

const Args = z.object({
  out: z.string().min(1),
  seed: z.coerce.number().int(),
  day,
  hours: num(0.001),
  csv: z.string().min(1).default(DEFAULT_CSV),
  "start-hour": num(0).default(0),
  markets: num(1).default(11),
  "spot-rate": num(0).default(4),
  "delta-rate": num(0).default(0.5),
  "candle-day": day.optional(),
  "seq-gap-at": iso,
  "stale-spot-from": iso,
  "stale-spot-to": iso,
  "crossed-at": iso,
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: "string" },
      seed: { type: "string" },
      day: { type: "string" },
      hours: { type: "string" },
      csv: { type: "string" },
      "start-hour": { type: "string" },
      markets: { type: "string" },
      "spot-rate": { type: "string" },
      "delta-rate": { type: "string" },
      "candle-day": { type: "string" },
      "seq-gap-at": { type: "string" },
      "stale-spot-from": { type: "string" },
      "stale-spot-to": { type: "string" },
      "crossed-at": { type: "string" },
    },
    strict: true,
  });
  const parsed = Args.safeParse(values);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("\n");
    process.stderr.write(`${msg}\nusage: tsx runners/synth.ts --out DIR --seed N --day YYYY-MM-DD --hours H [--csv PATH]\n`);
    process.exitCode = 2;
    return;
  }
  const a = parsed.data;
  const faults: SynthFaults = {
    ...(a["seq-gap-at"] !== undefined ? { seqGapAt: a["seq-gap-at"] } : {}),
    ...(a["stale-spot-from"] !== undefined ? { staleSpotFrom: a["stale-spot-from"] } : {}),
    ...(a["stale-spot-to"] !== undefined ? { staleSpotTo: a["stale-spot-to"] } : {}),
    ...(a["crossed-at"] !== undefined ? { crossedBookAt: a["crossed-at"] } : {}),
  };
  const sink = await openTapeWriter({ dir: a.out });
  try {
    const summary = await synthesize(
      {
        seed: a.seed,
        startDay: a.day,
        hours: a.hours,
        startHour: a["start-hour"],
        candleCsvPath: a.csv,
        marketsPerHour: a.markets,
        spotTicksPerSecond: a["spot-rate"],
        deltasPerSecondPerMarket: a["delta-rate"],
        ...(a["candle-day"] !== undefined ? { candleDay: a["candle-day"] } : {}),
        faults,
      },
      sink,
    );
    process.stdout.write(`${JSON.stringify({ ...summary, settlements: summary.settlements.length }, null, 2)}\n`);
  } finally {
    await sink.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`synth failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
