/**
 * An in-memory DuckDB spills to `.tmp` under the current directory by default, under a file name that
 * is the same in every process (`duckdb_temp_storage_DEFAULT-0.tmp`). Two such processes in one
 * folder (two bench synth children, two `tape verify` runs) then write the same file: seen here as a
 * read error and a segmentation fault. Every in-memory instance the library opens must spill into a
 * folder of its own.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openStore } from "../../lib/store/db.ts";
import { openBulkEventWriter } from "../../lib/tape/bulk.ts";
import { tempDirs } from "../tape/helpers.ts";

const freshDir = tempDirs("temp-dir-");

describe("in-memory DuckDB spill folders", () => {
  it("an in-memory store spills into a private folder, removed on close", async () => {
    const a = await openStore(":memory:", { memoryLimit: "64MB" });
    const b = await openStore(":memory:", { memoryLimit: "64MB" });
    const tempOf = async (s: typeof a) => String((await s.connection.runAndReadAll(`SELECT current_setting('temp_directory')`)).getRowsJS()[0]![0]);
    const ta = await tempOf(a);
    const tb = await tempOf(b);
    expect(path.isAbsolute(ta)).toBe(true);
    expect(ta).not.toBe(tb);
    expect(path.relative(process.cwd(), ta).startsWith("..")).toBe(true);
    await a.close();
    await b.close();
    expect(fs.existsSync(ta)).toBe(false);
  });

  it("the bulk tape writer's instance spills into a private folder too", async () => {
    const dir = freshDir();
    const w = await openBulkEventWriter({ dir });
    const t = w.tempDirectory;
    expect(path.isAbsolute(t)).toBe(true);
    expect(path.relative(process.cwd(), t).startsWith("..")).toBe(true);
    await w.close();
    expect(fs.existsSync(t)).toBe(false);
  });
});
