/**
 * How the library opens DuckDB instances of its own (the tape reader, writer and verifier, the bulk
 * bench writer, the audit store). Shared by lib/tape and lib/store.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";

/** Hand freed memory back to the OS after each task (DuckDB's allocator otherwise keeps up to 128 MB). */
export const RETURN_FREED_MEMORY = { allocator_flush_threshold: "8MB", allocator_background_threads: "true" } as const;

export interface MemoryDuckDB {
  readonly instance: DuckDBInstance;
  /** Where the instance spills: a folder of its own. */
  readonly tempDirectory: string;
  /** Close the instance (its connections first) and remove the spill folder. */
  dispose(): void;
}

/**
 * An in-memory DuckDB that spills into a fresh folder of its own. The default for in-memory
 * databases, ./.tmp under a file name every process uses, is shared by every instance started in
 * the same folder: two bench builders spilling at once corrupted each other's file, one of them
 * with a segfault (tests/store/temp-dir.test.ts).
 */
export async function createMemoryDuckDB(prefix: string, options: Record<string, string> = {}): Promise<MemoryDuckDB> {
  const tempDirectory = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(":memory:", { ...options, temp_directory: tempDirectory });
  } catch (err) {
    fs.rmSync(tempDirectory, { recursive: true, force: true });
    throw err;
  }
  return {
    instance,
    tempDirectory,
    dispose() {
      instance.closeSync();
      fs.rmSync(tempDirectory, { recursive: true, force: true });
    },
  };
}
