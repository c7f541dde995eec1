/**
 * Executes every notebook's code cells with Deno so the notebooks never rot. Offline by construction:
 * npm packages come from the repo's node_modules (--node-modules-dir=manual), remote modules are refused
 * (--cached-only), the Deno cache is a fresh temp dir, and where the kernel allows it the process runs in
 * a new network namespace with no interfaces (unshare -rn).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const NB_DIR = join(ROOT, "notebooks");
const DENO = join(ROOT, "node_modules", ".bin", "deno");
const denoDir = mkdtempSync(join(tmpdir(), "deno-nb-"));
afterAll(() => rmSync(denoDir, { recursive: true, force: true }));

const Notebook = z.object({
  metadata: z.object({ kernelspec: z.object({ name: z.string() }) }),
  cells: z.array(z.object({ cell_type: z.string(), source: z.union([z.string(), z.array(z.string())]) })),
});

const canUnshare = spawnSync("unshare", ["-rn", "true"]).status === 0;
const notebooks = readdirSync(NB_DIR).filter((f) => f.endsWith(".ipynb")).sort();

describe("notebooks", () => {
  it("there are at least two Deno notebooks", () => {
    expect(notebooks.length).toBeGreaterThanOrEqual(2);
    expect(existsSync(DENO)).toBe(true);
  });

  for (const file of notebooks) {
    it(`${file} runs top to bottom with exit 0`, () => {
      const nb = Notebook.parse(JSON.parse(readFileSync(join(NB_DIR, file), "utf8")));
      expect(nb.metadata.kernelspec.name).toBe("deno");
      const code = nb.cells
        .filter((c) => c.cell_type === "code")
        .map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source))
        .join("\n\n");
      expect(code.length).toBeGreaterThan(0);
      // Written next to the notebook so its relative imports (../lib/…) resolve as in Jupyter.
      const script = join(NB_DIR, `.nbtest-${file.replace(/\.ipynb$/, "")}-${process.pid}.ts`);
      writeFileSync(script, code);
      try {
        const args = ["run", "-A", "--node-modules-dir=manual", "--cached-only", script];
        const cmd = canUnshare ? "unshare" : DENO;
        const r = spawnSync(cmd, canUnshare ? ["-rn", DENO, ...args] : args, {
          cwd: NB_DIR,
          encoding: "utf8",
          timeout: 120_000,
          env: { ...process.env, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
        });
        if (r.status !== 0) console.error(r.stdout, r.stderr);
        expect(r.status).toBe(0);
        expect(r.stdout.trim().length).toBeGreaterThan(0);
      } finally {
        rmSync(script, { force: true });
      }
    });
  }
});
