/**
 * A small synthesized capture for sweep tests: four hours across UTC midnight (two date partitions)
 * and the eight-config sweep they run over it.
 */
import { join, resolve } from "node:path";
import { DEFAULT_ENGINE_CONFIG, type EngineConfigOverrides } from "../../lib/core/config.ts";
import { synthesize } from "../../lib/tape/synth.ts";
import { openTapeWriter } from "../../lib/tape/writer.ts";

export const ROOT = resolve(import.meta.dirname, "../..");
const CSV = join(ROOT, "fixtures/data/btc_usd_ohlc_2023/binanceus_btcusd_1m_2023-03-01_to_2023-03-14.csv");

export async function synthSweepTape(dir: string): Promise<void> {
  const w = await openTapeWriter({ dir });
  await synthesize(
    { seed: 23, startDay: "2026-11-23", startHour: 22, hours: 4, candleCsvPath: CSV, candleDay: "2023-03-09",
      marketsPerHour: 3, spotTicksPerSecond: 1, deltasPerSecondPerMarket: 0.2, level2PerSecond: 0, tradesPerMinutePerMarket: 1 },
    w,
  );
  await w.close();
}

/** Eight configs that trade differently (thresholds, spread filter, maker/taker, vol model). */
export const SWEEP_CONFIGS: EngineConfigOverrides[] = [
  {},
  { strategy: { evMin: 0.01 } },
  { strategy: { evMin: 0.08 } },
  { strategy: { spreadMaxTicks: 2 } },
  { strategy: { execution: "maker", evMin: 0.02 } },
  { vol: { method: "window" } },
  { model: { shrinkToHalf: 0.2 } },
  { strategy: { evMin: 0.03, evalIntervalSeconds: 3 } },
];

export const BASE = DEFAULT_ENGINE_CONFIG;
