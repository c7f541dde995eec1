/**
 * Kalshi request signing (reference §2): RSA-PSS over SHA-256 with salt length = digest length,
 * message = timestamp_ms + METHOD + path, where path starts at /trade-api/ and carries no query
 * string and no body. The same three headers sign the WebSocket upgrade (GET + the WS URL's path).
 *
 * The private key lives in a KeyObject that this module never serializes; errors are rewritten so
 * no key material or signature text reaches a message, a log line or a stack.
 */
import { constants, createPrivateKey, sign, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { registerSecret } from "../../live/logger.ts";

export type KalshiEnv = "demo" | "prod";

/** Recommended hosts (reference §1). */
export const KALSHI_HOSTS: Readonly<Record<KalshiEnv, { readonly restUrl: string; readonly wsUrl: string }>> = {
  prod: {
    restUrl: "https://external-api.kalshi.com/trade-api/v2",
    wsUrl: "wss://external-api-ws.kalshi.com/trade-api/ws/v2",
  },
  demo: {
    restUrl: "https://external-api.demo.kalshi.co/trade-api/v2",
    wsUrl: "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
  },
};

export interface KalshiEndpoints {
  readonly restUrl: string;
  readonly wsUrl: string;
}

/** Hosts for an environment, with optional overrides (fake venues, the shared elections hosts). */
export function kalshiEndpoints(env: KalshiEnv, overrides: { restUrl?: string; wsUrl?: string } = {}): KalshiEndpoints {
  const base = KALSHI_HOSTS[env];
  return {
    restUrl: (overrides.restUrl ?? base.restUrl).replace(/\/+$/, ""),
    wsUrl: overrides.wsUrl ?? base.wsUrl,
  };
}

export const HEADER_KEY = "KALSHI-ACCESS-KEY";
export const HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP";
export const HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE";

export type WsAuthMode = "header" | "query";

/** Query parameter names for WS query auth. Kalshi documents none (UNCERTAIN), hence configurable. */
export interface WsQueryNames {
  readonly key: string;
  readonly signature: string;
  readonly timestamp: string;
}

export const DEFAULT_WS_QUERY_NAMES: WsQueryNames = { key: "api_key", signature: "signature", timestamp: "timestamp" };

/** A failure to load or use credentials. The message never contains key material. */
export class KalshiAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KalshiAuthError";
  }
}

/**
 * The path that is signed for a URL or path: pathname only (query and fragment dropped). Relative
 * paths are taken as-is up to `?`.
 */
export function signingPath(urlOrPath: string): string {
  if (/^[a-z]+:\/\//i.test(urlOrPath)) return new URL(urlOrPath).pathname;
  const q = urlOrPath.search(/[?#]/);
  return q >= 0 ? urlOrPath.slice(0, q) : urlOrPath;
}

/** The exact signed message (exported so the fake venue verifies the same construction). */
export function signingMessage(timestampMs: string, method: string, path: string): string {
  return timestampMs + method.toUpperCase() + signingPath(path);
}

export class KalshiSigner {
  readonly #key: KeyObject;

  private constructor(
    readonly keyId: string,
    key: KeyObject,
  ) {
    this.#key = key;
    registerSecret(keyId);
  }

  /** From PEM text (PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY"). */
  static fromPem(keyId: string, pem: string): KalshiSigner {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: pem, format: "pem" });
    } catch {
      throw new KalshiAuthError("private key could not be parsed (expected an RSA PEM, PKCS#1 or PKCS#8)");
    }
    if (key.asymmetricKeyType !== "rsa") throw new KalshiAuthError("private key is not an RSA key");
    if (!keyId) throw new KalshiAuthError("API key id is empty");
    return new KalshiSigner(keyId, key);
  }

  static fromFile(keyId: string, privateKeyPath: string): KalshiSigner {
    let pem: string;
    try {
      pem = readFileSync(privateKeyPath, "utf8");
    } catch (e) {
      const code = (e as { code?: string }).code ?? "unknown";
      throw new KalshiAuthError(`private key file could not be read (${code})`);
    }
    return KalshiSigner.fromPem(keyId, pem);
  }

  /** base64 RSA-PSS-SHA256 signature of the message (randomized: differs on every call). */
  signMessage(message: string): string {
    try {
      const sig = sign("sha256", Buffer.from(message, "utf8"), {
        key: this.#key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      }).toString("base64");
      return sig;
    } catch {
      throw new KalshiAuthError("signing failed");
    }
  }

  /** The three auth headers for one request. Sign immediately before sending; re-sign on retry. */
  headers(method: string, urlOrPath: string, timestampMs: number = Date.now()): Record<string, string> {
    const ts = String(Math.trunc(timestampMs));
    const signature = this.signMessage(signingMessage(ts, method, urlOrPath));
    return { [HEADER_KEY]: this.keyId, [HEADER_TIMESTAMP]: ts, [HEADER_SIGNATURE]: signature };
  }

  /**
   * What to open a WebSocket with: signed upgrade headers (default), or the same three values as
   * query parameters. The returned URL may contain a signature: never log it.
   */
  wsAuth(
    wsUrl: string,
    mode: WsAuthMode = "header",
    names: WsQueryNames = DEFAULT_WS_QUERY_NAMES,
    timestampMs: number = Date.now(),
  ): { url: string; headers: Record<string, string> } {
    const h = this.headers("GET", wsUrl, timestampMs);
    if (mode === "header") return { url: wsUrl, headers: h };
    const u = new URL(wsUrl);
    u.searchParams.set(names.key, h[HEADER_KEY]!);
    u.searchParams.set(names.timestamp, h[HEADER_TIMESTAMP]!);
    u.searchParams.set(names.signature, h[HEADER_SIGNATURE]!);
    return { url: u.toString(), headers: {} };
  }

  toJSON(): unknown {
    return { keyId: "[REDACTED]" };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "KalshiSigner { [REDACTED] }";
  }
}
