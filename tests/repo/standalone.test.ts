/**
 * The repository stands alone: no tracked file points outside it (a sibling `shared/` folder, a
 * developer's home or work directory), and the bundled real data matches its published checksums.
 * A fresh clone in an empty folder must find everything it runs.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const SELF = relative(ROOT, import.meta.filename);

/** Tracked files (git ls-files); without a .git (e.g. an exported tarball) every file outside the ignored folders. */
function trackedFiles(): string[] {
  const r = spawnSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" });
  if (r.status === 0 && r.stdout.length > 0) return r.stdout.split("\0").filter((f) => f.length > 0 && existsSync(join(ROOT, f)));
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const rel = dir === "" ? name : `${dir}/${name}`;
      if (["node_modules", ".git", "data"].includes(rel)) continue;
      if (statSync(join(ROOT, rel)).isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  walk("");
  return out;
}

/**
 * Forbidden references. System locations a deployment guide legitimately names (/var/lib, /opt, /usr,
 * /etc, /dev/null) are not in the list; /tmp/ is allowed only where listed below.
 */
const FORBIDDEN: readonly { name: string; re: RegExp }[] = [
  { name: "a sibling shared/ folder", re: /\.\.[\\/]+shared\b/ },
  { name: "the shared data set", re: /\bshared[\\/]+(data|reference|spec)\b/ },
  { name: "an absolute work path", re: /(^|[^\w.])\/work\// },
  { name: "a home directory", re: /(^|[^\w.])\/(home|root|Users)\// },
  { name: "a fixed temp path", re: /(^|[^\w.])\/tmp\// },
  { name: "a Windows drive path", re: /\b[A-Za-z]:\\\\?[A-Za-z]/ },
];
/** file → names of patterns allowed in it (and why). */
const ALLOW: Readonly<Record<string, readonly string[]>> = {
  ".gitignore": ["a fixed temp path"], // ignores the repo-local tmp/ folder ("/tmp/" anchored at the root)
  [SELF]: FORBIDDEN.map((f) => f.name), // the patterns themselves
};

function isBinary(buf: Buffer): boolean {
  return buf.subarray(0, 8000).includes(0);
}

describe("the repository stands alone", () => {
  const files = trackedFiles();

  it("lists its files", () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files).toContain("package.json");
  });

  it("no tracked file names the sibling shared folder, its data set or an absolute machine path", () => {
    const hits: string[] = [];
    for (const f of files) {
      const buf = readFileSync(join(ROOT, f));
      if (isBinary(buf) || f.endsWith(".gz") || f.endsWith(".parquet")) continue;
      const lines = buf.toString("utf8").split("\n");
      for (const { name, re } of FORBIDDEN) {
        if (ALLOW[f]?.includes(name)) continue;
        lines.forEach((line, i) => {
          if (re.test(line)) hits.push(`${f}:${i + 1}: ${name}: ${line.trim().slice(0, 120)}`);
        });
      }
    }
    expect(hits).toEqual([]);
  });

  it("the checker catches what it should (oracle on hand-written lines)", () => {
    // Assembled from pieces so that this file itself names no outside path.
    const p = (...parts: string[]) => parts.join("/");
    const bad = [
      `const CSV = "${p("", "work", "shared", "data", "x.csv")}";`,
      `resolve(ROOT, "${p("..", "shared", "data", "btc.csv")}")`,
      `cat ${p("", "home", "alice", "x")}`,
      `DATA = \`\${cwd}/${p("..", "..", "shared", "data")}\``,
      `mkdtemp("${p("", "tmp", "fixed")}")`,
    ];
    const good = ["DB_PATH=/var/lib/kalshi-btc/kalshi.duckdb", "fixtures/data/btc_usd_ohlc_2023/x.csv", "the shared wiring", "2>/dev/null", "lib/work/x.ts"];
    for (const l of bad) expect(FORBIDDEN.some(({ re }) => re.test(l)), l).toBe(true);
    for (const l of good) expect(FORBIDDEN.some(({ re }) => re.test(l)), l).toBe(false);
  });

  it("the bundled real data matches fixtures/data/SHA256SUMS and every folder has a README", () => {
    const dataDir = join(ROOT, "fixtures", "data");
    const sums = readFileSync(join(dataDir, "SHA256SUMS"), "utf8").trim().split("\n");
    expect(sums.length).toBeGreaterThan(0);
    const listed = new Set<string>();
    for (const line of sums) {
      const m = /^([0-9a-f]{64})\s+\*?(?:\.\/)?(.+)$/.exec(line.trim());
      expect(m, line).not.toBeNull();
      const [, hash, file] = m!;
      listed.add(file!);
      expect(createHash("sha256").update(readFileSync(join(dataDir, file!))).digest("hex"), file).toBe(hash);
    }
    for (const folder of readdirSync(dataDir).filter((n) => statSync(join(dataDir, n)).isDirectory())) {
      expect(existsSync(join(dataDir, folder, "README.md")), folder).toBe(true);
      for (const f of readdirSync(join(dataDir, folder)).filter((n) => n !== "README.md")) expect(listed.has(`${folder}/${f}`), `${folder}/${f} in SHA256SUMS`).toBe(true);
    }
  });
});
