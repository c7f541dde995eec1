/**
 * The replay runner refuses impossible arguments with exit 2 and a message naming the flag, and an
 * empty selection is a failure (exit 3) unless --allow-empty (issue 14). Runs the real CLI.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isCalendarDay } from "../../lib/run/replay-args.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const tmp = mkdtempSync(join(tmpdir(), "kbe-replay-args-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function replay(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "runners/replay.ts"), "--no-store", "--json", ...args], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

/** No line may announce an exit code other than the real one. */
function consistent(r: { code: number | null; out: string }): void {
  for (const m of r.out.matchAll(/Exit (\d+)/g)) expect(Number(m[1])).toBe(r.code);
}

describe("replay argument validation", () => {
  it("calendar days: real ones pass, impossible ones do not", () => {
    expect(isCalendarDay("2024-02-29")).toBe(true);
    expect(isCalendarDay("2026-02-29")).toBe(false);
    expect(isCalendarDay("2026-02-30")).toBe(false);
    expect(isCalendarDay("2026-13-01")).toBe(false);
    expect(isCalendarDay("2026-11-23")).toBe(true);
  });

  const cases: [string, string[], RegExp][] = [
    ["inverted --from/--to", ["--from", "2026-11-24", "--to", "2026-11-23"], /--from 2026-11-24 is after --to 2026-11-23/],
    ["an impossible date", ["--from", "2026-02-30"], /--from: expected a calendar day/],
    ["--tape naming a file", ["--tape", join(tmp, "a-file.parquet")], /--tape: .* is a file/],
    ["--tape naming an empty folder", ["--tape", tmp], /--tape: .* holds no tape days/],
    ["a non-numeric --grace", ["--grace", "soon"], /--grace: expected seconds/],
    ["a negative --warmup", ["--from", "2026-11-23", "--warmup=-5"], /--warmup: expected seconds/],
    ["--warmup without --from", ["--warmup", "3600"], /--warmup: needs --from/],
    ["--warmup with --from-raw", ["--from", "2026-11-23", "--warmup", "60", "--from-raw"], /--warmup does not apply with --from-raw/],
  ];
  writeFileSync(join(tmp, "a-file.parquet"), "not a tape");
  for (const [what, args, msg] of cases) {
    it(`${what} → exit 2 with a message`, () => {
      const r = replay(args);
      expect(r.code, r.out).toBe(2);
      expect(r.out).toMatch(msg);
      consistent(r);
    }, 60_000);
  }

  it("an empty selection (days outside the tape) is exit 3; --allow-empty makes it 0", () => {
    const r = replay(["--from", "2001-01-01", "--to", "2001-01-02"]);
    expect(r.code, r.out).toBe(3);
    expect(r.out).toMatch(/no events/);
    consistent(r);
    const ok = replay(["--from", "2001-01-01", "--to", "2001-01-02", "--allow-empty"]);
    expect(ok.code, ok.out).toBe(0);
    consistent(ok);
  }, 60_000);
});
