export { startFakeKalshi, type FakeKalshi, type FakeKalshiOptions, type FakeKalshiFaults, type RestFault } from "./kalshi.ts";
export { startFakeCoinbase, type FakeCoinbase, type FakeCoinbaseOptions, type FakeCoinbaseFaults } from "./coinbase.ts";
export { FakeKalshiState } from "./kalshi-state.ts";
