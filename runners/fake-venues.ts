/**
 * Start the local fake Kalshi (REST + WS) and fake Coinbase (WS) venues and print the environment
 * that points the collector / paper / live runners at them, one VAR=value per line. The private key
 * is a throwaway generated at start (deleted on exit). Serves until SIGINT/SIGTERM.
 *
 *   npm run fake-venues [-- --rolling-window SECONDS [--series KXBTC15M]]
 *
 * With --rolling-window the fake Kalshi runs in rolling mode: one market per window of that many
 * whole seconds, opened, given its strike, closed, determined and settled (lib/venues/fake). On exit
 * it prints one JSON line `{"fake":"stats",…}` (windows opened, settled) for soak runs.
 */
import { parseArgs } from "node:util";
import { startFakeCoinbase, startFakeKalshi, type FakeCoinbase, type FakeKalshi } from "../lib/venues/fake/index.ts";

let kalshi: FakeKalshi | null = null;
let coinbase: FakeCoinbase | null = null;
let stopping = false;

// Handlers first: a signal during start-up still removes the throwaway key.
const stop = async () => {
  if (stopping) return;
  stopping = true;
  if (kalshi) {
    const st = kalshi.state;
    process.stdout.write(JSON.stringify({ fake: "stats", windowsOpened: st.windowsOpened, settled: st.settlements().length, markets: st.markets.size, upgrades: kalshi.stats.upgrades }) + "\n");
  }
  await Promise.all([kalshi?.close(), coinbase?.close()]);
  process.exit(0);
};
process.once("SIGINT", () => void stop());
process.once("SIGTERM", () => void stop());
process.once("SIGHUP", () => void stop());

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { "rolling-window": { type: "string" }, series: { type: "string" } }, strict: true });
  const windowSeconds = values["rolling-window"] !== undefined ? Number(values["rolling-window"]) : undefined;
  if (windowSeconds !== undefined && !(Number.isInteger(windowSeconds) && windowSeconds >= 1)) {
    process.stderr.write("--rolling-window: a whole number of seconds ≥ 1\n");
    process.exit(2);
  }
  kalshi = await startFakeKalshi({
    flowIntervalMs: windowSeconds !== undefined ? 25 : 100,
    pingIntervalMs: 10_000,
    ...(windowSeconds !== undefined ? { rolling: { windowSeconds, ...(values.series ? { series: values.series } : {}) }, brtiIntervalMs: 250 } : {}),
  });
  coinbase = await startFakeCoinbase({ tickerIntervalMs: 250 });
  if (stopping) return void stop();
  const lines = [
    `KALSHI_REST_URL=${kalshi.restUrl}`,
    `KALSHI_WS_URL=${kalshi.wsUrl}`,
    `COINBASE_WS_URL=${coinbase.wsUrl}`,
    `KALSHI_API_KEY_ID=${kalshi.keyId}`,
    `KALSHI_PRIVATE_KEY_PATH=${kalshi.privateKeyPath}`,
    `KALSHI_ENV=demo`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
  // The fakes' timers are unref'd; this keeps the process serving until a signal arrives.
  setInterval(() => {}, 1 << 30);
}

void main();
