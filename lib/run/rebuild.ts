/**
 * Rebuild the audit rows a crash lost. The store is written in batches (every few seconds), so a
 * `kill -9` loses the tail of each table; the tape (journal, recovered on the next start) holds every
 * event the session consumed. A paper session is a pure function of those events (that is what parity
 * checks), so replaying its tape with the stored configuration re-derives every record, in order: the
 * rows a table lacks are exactly the last ones of its re-derived sequence, and only those are appended.
 *
 * Live sessions are refused: their executions came from the venue, which a replay does not re-run.
 */
import type { AuditRecord } from "../core/records.ts";
import { AUDIT_SPECS, AuditWriter, openStore, queryObjects, type RunInfo } from "../store/db.ts";
import { configFromJson, replayTape } from "./parity.ts";

export interface RebuildReport {
  readonly runId: string;
  readonly mode: string;
  /** Rows per table before, re-derived from the tape, and appended. */
  readonly tables: Record<string, { stored: number; derived: number; added: number }>;
  readonly added: number;
  readonly events: number;
}

export async function rebuildStore(o: { tapeDir: string; runId: string; dbPath: string }): Promise<RebuildReport> {
  const store = await openStore(o.dbPath);
  try {
    const runs = await queryObjects(store, `SELECT mode, config_json FROM runs WHERE run_id = $1`, [o.runId]);
    const run = runs[0];
    if (!run) throw new Error(`run ${o.runId} is not in ${o.dbPath}`);
    const mode = String(run.mode);
    if (mode !== "paper" && mode !== "replay") {
      throw new Error(`run ${o.runId} is a ${mode} run: only paper/replay runs can be rebuilt (a replay does not re-run the venue's executions)`);
    }
    const { records, events } = await replayTape(o.tapeDir, configFromJson(String(run.config_json)));
    const derived = new Map<string, AuditRecord[]>();
    for (const r of records) {
      const t = AUDIT_SPECS[r.kind].table;
      const list = derived.get(t) ?? [];
      list.push(r);
      derived.set(t, list);
    }
    const tables: RebuildReport["tables"] = {};
    const missing: AuditRecord[] = [];
    for (const [t, list] of derived) {
      const n = Number((await queryObjects(store, `SELECT count(*)::INTEGER AS n FROM ${t} WHERE run_id = $1`, [o.runId]))[0]?.n ?? 0);
      if (n > list.length) throw new Error(`${t}: the store holds ${n} rows of run ${o.runId} but its tape derives only ${list.length}: wrong tape or run?`);
      tables[t] = { stored: n, derived: list.length, added: list.length - n };
      missing.push(...list.slice(n));
    }
    if (missing.length > 0) {
      // Records go back in their original order (replay order), so per-table order is kept.
      const order = new Map(records.map((r, i) => [r, i]));
      missing.sort((a, b) => order.get(a)! - order.get(b)!);
      const writer = new AuditWriter(store, o.runId, mode as RunInfo["mode"]);
      for (const r of missing) writer.write(r);
      await writer.close();
    }
    return { runId: o.runId, mode, tables, added: missing.length, events };
  } finally {
    await store.close();
  }
}
