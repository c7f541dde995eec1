/**
 * Structured JSON-lines logger for the IO side (collector, paper, live, venue clients).
 *
 * Every record passes through `redact` before it is serialized: values under secret-looking keys
 * (signature, private key, auth headers, ...) are replaced, PEM blocks and long base64 runs inside
 * any string are cut out, and exact strings registered with `registerSecret` never appear. A logger
 * that can print a signature is a bug, so redaction is not optional and has no switch.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose records all carry `fields` (e.g. { component: "kalshi-ws" }). */
  child(fields: LogFields): Logger;
  /** Lines that could not be written to the log file (shared by a logger and its children). */
  writeFailures?(): number;
}

export interface LoggerOptions {
  /** JSON-lines file (created with its directory). */
  path?: string;
  /** Also print each record to stdout. */
  stdout?: boolean;
  /** Minimum level written (default "info"). */
  level?: LogLevel;
  /** Extra destination, e.g. an array collector in tests. Receives the final JSON line. */
  sink?: (line: string) => void;
  /** Wall clock for the `ts` field; injectable for tests. */
  now?: () => number;
}

const REDACTED = "[REDACTED]";

/** Keys whose values are secrets whatever they contain (case-insensitive, `-`/`_` ignored). */
const SECRET_KEY_RE =
  /(signature|privatekey|private_key|secret|password|passphrase|authorization|jwt|token|pem|kalshiaccesskey|kalshiaccesssignature|apikey|accesskey|credential)/i;

const PEM_RE = /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)/g;
/** A long run of base64: RSA signatures (344 chars for 2048-bit keys) and DER key bodies. */
const LONG_B64_RE = /[A-Za-z0-9+/]{80,}={0,2}/g;
/** `KALSHI-ACCESS-SIGNATURE: xyz` / `KALSHI-ACCESS-SIGNATURE=xyz` inside free text. */
const HEADER_TEXT_RE = /(KALSHI-ACCESS-(?:SIGNATURE|KEY)|signature)(["']?\s*[:=]\s*["']?)([^\s"',&}]+)/gi;

const registeredSecrets = new Set<string>();

/** Make an exact string (key id, a signature, a token) unprintable through any logger. */
export function registerSecret(secret: string): void {
  if (secret.length >= 6) registeredSecrets.add(secret);
}

export function redactString(s: string): string {
  let out = s.replace(PEM_RE, "[REDACTED PEM]").replace(HEADER_TEXT_RE, `$1$2${REDACTED}`).replace(LONG_B64_RE, REDACTED);
  for (const secret of registeredSecrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

function isSecretKey(key: string): boolean {
  return SECRET_KEY_RE.test(key.replace(/[-_\s]/g, ""));
}

/** Deep copy with secrets removed; Errors become { name, message } (stack text redacted too). */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return "[depth]";
  if (typeof value === "string") return redactString(value);
  if (value === null || typeof value !== "object") {
    if (typeof value === "bigint") return value.toString();
    return value;
  }
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: redactString(value.message) };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = redact(code, depth + 1);
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (typeof (value as { toJSON?: unknown }).toJSON === "function" && !(value instanceof Date)) {
    return redact((value as { toJSON: () => unknown }).toJSON(), depth + 1);
  }
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Map) return redact(Object.fromEntries(value), depth + 1);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = isSecretKey(k) ? REDACTED : redact(v, depth + 1);
  }
  return out;
}

class JsonLogger implements Logger {
  constructor(
    private readonly opts: LoggerOptions,
    private readonly base: LogFields,
    private readonly stats: { failures: number } = { failures: 0 },
  ) {}

  writeFailures(): number {
    return this.stats.failures;
  }

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVEL_RANK[level] < LEVEL_RANK[this.opts.level ?? "info"]) return;
    const record = redact({ ...this.base, ...fields }) as Record<string, unknown>;
    const ts = new Date((this.opts.now ?? Date.now)()).toISOString();
    let line: string;
    try {
      line = JSON.stringify({ ts, level, msg: redactString(msg), ...record });
    } catch {
      line = JSON.stringify({ ts, level, msg: redactString(msg), note: "unserializable fields" });
    }
    if (this.opts.sink) this.opts.sink(line);
    if (this.opts.stdout) process.stdout.write(line + "\n");
    if (this.opts.path) {
      try {
        appendFileSync(this.opts.path, line + "\n");
      } catch {
        // Logging must never take the process down; the stdout copy (if any) still went out. The
        // runner reads the count at exit: a lost log line makes the exit code non-zero.
        this.stats.failures++;
      }
    }
  }

  debug(msg: string, fields?: LogFields): void {
    this.write("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write("error", msg, fields);
  }
  child(fields: LogFields): Logger {
    return new JsonLogger(this.opts, { ...this.base, ...fields }, this.stats);
  }
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  if (opts.path) mkdirSync(dirname(opts.path), { recursive: true });
  return new JsonLogger(opts, {});
}

/** A logger that drops everything (default for library code when none is given). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
