/**
 * Secrets never reach log output: run real clients (REST with faults, WS with a rejected key and
 * with query-string auth) with a capturing logger, then grep everything logged for the PEM, the
 * key id and every signature the fake venue received.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, redact, redactString } from "../../lib/live/logger.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiRestClient } from "../../lib/venues/kalshi/rest.ts";
import { KalshiWsClient } from "../../lib/venues/kalshi/ws.ts";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { waitFor } from "./helpers.ts";

let fake: FakeKalshi;
beforeAll(async () => {
  fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0 });
});
afterAll(async () => {
  await fake.close();
});

function pemBody(pem: string): string[] {
  // Lines of the base64 body: none may appear anywhere in the output.
  return pem.split("\n").filter((l) => l && !l.startsWith("-----"));
}

describe("logger redaction", () => {
  it("redacts secret keys, auth headers, PEM blocks and long base64 runs", () => {
    const pem = readFileSync(fake.privateKeyPath, "utf8");
    const signer = KalshiSigner.fromFile(fake.keyId, fake.privateKeyPath);
    const headers = signer.headers("GET", "/trade-api/v2/portfolio/balance");
    const sig = headers["KALSHI-ACCESS-SIGNATURE"]!;
    const lines: string[] = [];
    const log = createLogger({ sink: (l) => lines.push(l), level: "debug" });
    log.info("request", { headers, privateKey: pem, nested: { apiSecret: "hunter2hunter2" } });
    log.warn(`failed with KALSHI-ACCESS-SIGNATURE: ${sig} and key ${pem}`);
    log.error("error object", { err: new Error(`boom ${sig}`) });
    log.debug("signer", { signer });
    const out = lines.join("\n");
    expect(out).not.toContain(sig);
    expect(out).not.toContain(fake.keyId);
    expect(out).not.toContain("hunter2hunter2");
    expect(out).not.toContain("BEGIN PRIVATE KEY");
    for (const l of pemBody(pem)) expect(out).not.toContain(l);
    expect(out).toContain("[REDACTED]");
    // Ordinary fields survive.
    expect(redact({ market: "KXBTCD-26SEP2917-T109999.99", count: 3 })).toEqual({ market: "KXBTCD-26SEP2917-T109999.99", count: 3 });
    expect(redactString("plain text")).toBe("plain text");
  });

  it("nothing secret in the output of real clients, including failures", async () => {
    const lines: string[] = [];
    const log = createLogger({ sink: (l) => lines.push(l), level: "debug" });
    const signer = KalshiSigner.fromFile(fake.keyId, fake.privateKeyPath);
    const rest = new KalshiRestClient({ restUrl: fake.restUrl, signer, logger: log, backoffBaseMs: 5, timeoutMs: 300 });
    fake.faults.rest("GET /markets", { kind: 429, count: 2 });
    await rest.discoverMarkets();
    fake.faults.rest("POST /portfolio/events/orders", { kind: 500, apply: true });
    const t = fake.state.tickers()[0]!;
    await rest
      .createOrderV2({ ticker: t, client_order_id: "x1", side: "bid", count: "1.00", price: "0.1000", time_in_force: "good_till_canceled", self_trade_prevention_type: "taker_at_cross" })
      .catch((e: unknown) => log.error("create failed", { err: e }));
    fake.faults.rest("GET /portfolio/balance", { kind: "timeout", count: 1 });
    await rest.getBalance();
    rest.close();

    // WS: a key the venue does not accept, then query-string auth (the URL carries a signature).
    const bad = new KalshiWsClient({ wsUrl: fake.wsUrl, signer: KalshiSigner.fromPem(fake.keyId, readFileSync(fake.privateKeyPath, "utf8")), markets: [t], logger: log, reconnectBaseMs: 10 });
    fake.faults.rejectUpgrades(2);
    bad.start();
    await waitFor(() => bad.stats.authFailures >= 2 && bad.connected, 5000, "rejected twice then connected");
    await bad.close();
    const q = new KalshiWsClient({ wsUrl: fake.wsUrl, signer, authMode: "query", markets: [t], logger: log, channels: ["orderbook_delta"] });
    q.start();
    await waitFor(() => q.connected, 3000, "query auth");
    fake.faults.dropConnections();
    await waitFor(() => q.stats.connects === 2, 3000, "query reconnect");
    await q.close();

    const out = lines.join("\n");
    expect(lines.length).toBeGreaterThan(5);
    expect(out).toMatch(/outcome unknown|write outcome unknown/);
    expect(out).not.toContain(fake.keyId);
    expect(out).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
    for (const l of pemBody(readFileSync(fake.privateKeyPath, "utf8"))) expect(out).not.toContain(l);
    expect(out).not.toMatch(/[A-Za-z0-9+/]{80,}/); // no signature-sized base64 at all
    expect(out).not.toMatch(/signature=/i);
  });
});
