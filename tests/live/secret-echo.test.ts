/**
 * A hostile or buggy venue (or proxy) answers with an error body that echoes the signed headers.
 * Rule: secrets never reach logs, errors, tapes. The key id and the signature must not appear in
 * the thrown error, in the order_update the transport emits (tape + audit store), or in the
 * operator's cancel-all line (stdout, not passed through the logger).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { EngineEvent } from "../../lib/core/events.ts";
import { KalshiTransport } from "../../lib/exec/kalshi-transport.ts";
import { cancelReportText } from "../../lib/live/runtime.ts";
import { KalshiSigner } from "../../lib/venues/kalshi/auth.ts";
import { KalshiRestClient } from "../../lib/venues/kalshi/rest.ts";

const KEY_ID = "3f6d1b2e-9c41-4b7a-8e2f-5a0c7d9e1b23";
const seenSigs: string[] = [];
let server: Server;
let url = "";
beforeAll(async () => {
  server = createServer((req, res) => {
    const sig = String(req.headers["kalshi-access-signature"] ?? "");
    const key = String(req.headers["kalshi-access-key"] ?? "");
    seenSigs.push(sig);
    // Echo: the code is the key id, the message quotes key and signature (short message, as some gateways do).
    res.writeHead(401, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { code: `bad_key_${key}`, message: `key=${key} sig=${sig.slice(0, 60)}` } }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/trade-api/v2`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

function signer(): KalshiSigner {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return KalshiSigner.fromPem(KEY_ID, privateKey.export({ type: "pkcs8", format: "pem" }).toString());
}

const leaks = (s: string) => s.includes(KEY_ID) || seenSigs.some((sig) => sig.length > 0 && s.includes(sig.slice(0, 60)));

it("error texts and emitted events carry no key id / signature echoed by the venue", async () => {
  const rest = new KalshiRestClient({ restUrl: url, signer: signer(), timeoutMs: 1000, maxReadRetries: 0 });
  const emitted: EngineEvent[] = [];
  const t = new KalshiTransport({ rest, emit: (e) => emitted.push(e), resolveDelayMs: 20, absentGraceMs: 50 });
  t.place({ kind: "place_order", ts: 1, clientOrderId: "s-1", market: "KXBTCD-X", outcome: "yes", action: "buy", price: 500, count: 100, tif: "good_till_canceled", postOnly: false, reduceOnly: false, evalId: "e" });
  await t.idle();
  const report = await t.cancelAllAndConfirm("test");
  const texts = [
    ...emitted.map((e) => JSON.stringify(e)),
    cancelReportText("KILL SWITCH", report),
  ];
  let thrown = "";
  try { await rest.getBalance(); } catch (e) { thrown = (e as Error).message; }
  texts.push(thrown);
  t.close(); rest.close();
  expect(texts.filter(leaks)).toEqual([]);
});
