/**
 * Signing: the signature must verify under the public key for the documented message
 * (timestamp_ms + METHOD + path without query), checked with node:crypto directly (independent of
 * the signer), and the fake must reject bad / missing / expired signatures on REST and the WS upgrade.
 */
import { constants, createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KalshiAuthError, KalshiSigner, kalshiEndpoints, signingPath } from "../../lib/venues/kalshi/auth.ts";
import { KalshiHttpError, KalshiRestClient } from "../../lib/venues/kalshi/rest.ts";
import { KalshiWsClient } from "../../lib/venues/kalshi/ws.ts";
import { startFakeKalshi, type FakeKalshi } from "../../lib/venues/fake/index.ts";
import { waitFor } from "./helpers.ts";

let fake: FakeKalshi;
let dir: string;
let wrongKeyPath: string;

beforeAll(async () => {
  fake = await startFakeKalshi({ flowIntervalMs: 0, brtiIntervalMs: 0, tickerIntervalMs: 0 });
  dir = mkdtempSync(join(tmpdir(), "auth-test-"));
  const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
  wrongKeyPath = join(dir, "other.pem");
  writeFileSync(wrongKeyPath, other.privateKey.export({ type: "pkcs1", format: "pem" }).toString());
});

afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function pssVerify(publicKeyPem: string, message: string, sigB64: string): boolean {
  return verify("sha256", Buffer.from(message), { key: createPublicKey(publicKeyPem), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, Buffer.from(sigB64, "base64"));
}

describe("KalshiSigner", () => {
  it("signs timestamp + METHOD + path (query dropped) with RSA-PSS SHA-256, salt 32", () => {
    const s = KalshiSigner.fromFile(fake.keyId, fake.privateKeyPath);
    const h = s.headers("get", "https://demo-api.kalshi.co/trade-api/v2/portfolio/orders?limit=5", 1703123456789);
    expect(h["KALSHI-ACCESS-KEY"]).toBe(fake.keyId);
    expect(h["KALSHI-ACCESS-TIMESTAMP"]).toBe("1703123456789");
    // Reference §2.2 example: GET /trade-api/v2/portfolio/orders?limit=5 signs this exact string.
    expect(pssVerify(fake.publicKeyPem, "1703123456789GET/trade-api/v2/portfolio/orders", h["KALSHI-ACCESS-SIGNATURE"]!)).toBe(true);
    expect(pssVerify(fake.publicKeyPem, "1703123456789GET/trade-api/v2/portfolio/orders?limit=5", h["KALSHI-ACCESS-SIGNATURE"]!)).toBe(false);
    // PSS is randomized: two signatures of one message differ, both verify.
    const h2 = s.headers("GET", "/trade-api/v2/portfolio/orders", 1703123456789);
    expect(h2["KALSHI-ACCESS-SIGNATURE"]).not.toBe(h["KALSHI-ACCESS-SIGNATURE"]);
    expect(pssVerify(fake.publicKeyPem, "1703123456789GET/trade-api/v2/portfolio/orders", h2["KALSHI-ACCESS-SIGNATURE"]!)).toBe(true);
  });

  it("signs the WS upgrade as GET + the WS URL's path", () => {
    const s = KalshiSigner.fromFile(fake.keyId, fake.privateKeyPath);
    const a = s.wsAuth("wss://external-api-ws.kalshi.com/trade-api/ws/v2", "header", undefined, 1790000000000);
    expect(pssVerify(fake.publicKeyPem, "1790000000000GET/trade-api/ws/v2", a.headers["KALSHI-ACCESS-SIGNATURE"]!)).toBe(true);
    const q = s.wsAuth("wss://x/trade-api/ws/v2", "query", { key: "k", signature: "sig", timestamp: "ts" }, 1790000000000);
    const u = new URL(q.url);
    expect(q.headers).toEqual({});
    expect(u.searchParams.get("k")).toBe(fake.keyId);
    expect(u.searchParams.get("ts")).toBe("1790000000000");
    expect(pssVerify(fake.publicKeyPem, "1790000000000GET/trade-api/ws/v2", u.searchParams.get("sig")!)).toBe(true);
  });

  it("loads PKCS#1 and PKCS#8 keys; failures name no key material", () => {
    expect(() => KalshiSigner.fromFile("id", wrongKeyPath)).not.toThrow(); // PKCS#1 file
    expect(() => KalshiSigner.fromFile("id", fake.privateKeyPath)).not.toThrow(); // PKCS#8 file
    expect(() => KalshiSigner.fromFile("id", join(dir, "missing.pem"))).toThrow(KalshiAuthError);
    const junk = "-----BEGIN PRIVATE KEY-----\nAAAAsecretbytes\n-----END PRIVATE KEY-----\n";
    try {
      KalshiSigner.fromPem("id", junk);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(KalshiAuthError);
      expect((e as Error).message).not.toContain("secretbytes");
      expect((e as Error).message).not.toContain("BEGIN");
    }
    expect(JSON.stringify(KalshiSigner.fromFile("id", wrongKeyPath))).not.toContain("PRIVATE");
  });

  it("signing path helpers and environment hosts", () => {
    expect(signingPath("http://127.0.0.1:1/trade-api/v2/markets?limit=1&cursor=x")).toBe("/trade-api/v2/markets");
    expect(signingPath("/trade-api/v2/markets?x=1")).toBe("/trade-api/v2/markets");
    expect(kalshiEndpoints("demo").restUrl).toBe("https://external-api.demo.kalshi.co/trade-api/v2");
    expect(kalshiEndpoints("prod").wsUrl).toBe("wss://external-api-ws.kalshi.com/trade-api/ws/v2");
    expect(kalshiEndpoints("prod", { restUrl: "http://127.0.0.1:9/trade-api/v2/" }).restUrl).toBe("http://127.0.0.1:9/trade-api/v2");
  });
});

describe("fake venue verifies signatures", () => {
  it("REST: good key → 200; wrong key, missing headers, expired timestamp → 401", async () => {
    const good = new KalshiRestClient({ restUrl: fake.restUrl, signer: KalshiSigner.fromFile(fake.keyId, fake.privateKeyPath) });
    expect(await good.getBalance()).toBe(1_000_000_000);
    const bad = new KalshiRestClient({ restUrl: fake.restUrl, signer: KalshiSigner.fromFile(fake.keyId, wrongKeyPath) });
    await expect(bad.getBalance()).rejects.toMatchObject({ name: "KalshiHttpError", status: 401 });
    const rejectedBefore = fake.stats.rejectedRest;
    const none = await fetch(`${fake.restUrl}/portfolio/balance`);
    expect(none.status).toBe(401);
    const signer = KalshiSigner.fromFile(fake.keyId, fake.privateKeyPath);
    const old = await fetch(`${fake.restUrl}/portfolio/balance`, { headers: signer.headers("GET", `${fake.restUrl}/portfolio/balance`, Date.now() - 120_000) });
    expect(old.status).toBe(401);
    // A signature made for another path does not authorize this one.
    const other = await fetch(`${fake.restUrl}/portfolio/balance`, { headers: signer.headers("GET", `${fake.restUrl}/portfolio/positions`) });
    expect(other.status).toBe(401);
    expect(fake.stats.rejectedRest - rejectedBefore).toBe(3);
    good.close();
    bad.close();
  });

  it("WS upgrade: bad signature → 401 and the client keeps retrying without connecting; good → connected", async () => {
    const statuses: number[] = [];
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(fake.wsUrl, { headers: KalshiSigner.fromFile(fake.keyId, wrongKeyPath).wsAuth(fake.wsUrl).headers });
      ws.on("unexpected-response", (_req, res) => {
        statuses.push(res.statusCode ?? 0);
        ws.terminate();
        resolve();
      });
      ws.on("open", () => resolve());
      ws.on("error", () => resolve());
    });
    expect(statuses).toEqual([401]);

    const bad = new KalshiWsClient({ wsUrl: fake.wsUrl, signer: KalshiSigner.fromFile(fake.keyId, wrongKeyPath), markets: fake.state.tickers().slice(0, 1), reconnectBaseMs: 10, reconnectMaxMs: 50 });
    bad.start();
    await waitFor(() => bad.stats.authFailures >= 2, 3000, "two rejected upgrades");
    expect(bad.connected).toBe(false);
    expect(bad.stats.connects).toBe(0);
    await bad.close();

    for (const authMode of ["header", "query"] as const) {
      const good = new KalshiWsClient({ wsUrl: fake.wsUrl, signer: KalshiSigner.fromFile(fake.keyId, fake.privateKeyPath), authMode, markets: fake.state.tickers().slice(0, 1), channels: ["orderbook_delta"] });
      good.start();
      await waitFor(() => good.connected && good.awaitingSnapshots().length === 0, 3000, `${authMode} auth connect`);
      await good.close();
    }
  });
});
