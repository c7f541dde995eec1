/**
 * Checks of the replay runner's arguments before anything is read. Every problem is a message naming
 * the flag; the runner exits 2 when there is any. Dates must be real calendar days (2026-02-30 is not),
 * --from must not be after --to, --tape must be a directory holding tape days, --grace a number ≥ 0,
 * --warmup a number of seconds ≥ 0 with a --from to count back from.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { listTapeDays } from "../tape/reader.ts";

export interface ReplayArgs {
  readonly tape: string;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly grace?: string | undefined;
  readonly seed?: string | undefined;
  readonly warmup?: string | undefined;
}

/** True when `s` is YYYY-MM-DD naming a day that exists in the Gregorian calendar. */
export function isCalendarDay(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

/** Problems with the arguments (empty = fine). `days` are the tape's days when the tape is usable. */
/** A flag's value as seconds ≥ 0; null (and a problem noted) when it is not one, or not given. */
function secondsAtLeastZero(flag: string, v: string | undefined, problems: string[]): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) {
    problems.push(`${flag}: expected seconds ≥ 0, got ${JSON.stringify(v)}`);
    return null;
  }
  return n;
}

export async function checkReplayArgs(a: ReplayArgs): Promise<{ problems: string[]; days: string[] }> {
  const problems: string[] = [];
  for (const [flag, v] of [["--from", a.from], ["--to", a.to]] as const) {
    if (v !== undefined && !isCalendarDay(v)) problems.push(`${flag}: expected a calendar day YYYY-MM-DD, got ${JSON.stringify(v)}`);
  }
  if (a.from !== undefined && a.to !== undefined && isCalendarDay(a.from) && isCalendarDay(a.to) && a.from > a.to) {
    problems.push(`--from ${a.from} is after --to ${a.to}`);
  }
  secondsAtLeastZero("--grace", a.grace, problems);
  const warmup = secondsAtLeastZero("--warmup", a.warmup, problems);
  if (warmup !== null && warmup > 0 && a.from === undefined) problems.push("--warmup: needs --from (the warm-up is the tape before that day)");
  if (a.seed !== undefined && !/^-?\d+$/.test(a.seed)) problems.push(`--seed: expected an integer, got ${JSON.stringify(a.seed)}`);
  let days: string[] = [];
  if (!existsSync(a.tape)) problems.push(`--tape: no such directory ${a.tape}`);
  else if (!statSync(a.tape).isDirectory()) problems.push(`--tape: ${a.tape} is a file; expected a tape directory (holding events/ and raw/)`);
  else {
    days = await listTapeDays(a.tape);
    if (days.length === 0) {
      const subs = readdirSync(a.tape, { withFileTypes: true }).filter((d) => d.isDirectory() && existsSync(join(a.tape, d.name, "events")));
      problems.push(
        `--tape: ${a.tape} holds no tape days (no events/date=… or raw/date=… folders)` +
          (subs.length > 0 ? `; it has run tapes inside, e.g. ${join(a.tape, subs[0]!.name)}` : ""),
      );
    }
  }
  return { problems, days };
}
