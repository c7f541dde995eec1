/**
 * The tournament's "better / worse" label must keep its size with few clusters: two equally good
 * models (each the truth plus independent noise) at 8 settlement times must be told apart in about
 * 5 % of seeded draws, not more. A percentile pairs cluster bootstrap did so in ~15 % (its spread
 * shrinks by (K−1)/K, with normal quantiles); the t(K−1) interval keeps the size. The bound allows
 * 2 Monte-Carlo standard errors at R = 400.
 */
import { expect, it } from "vitest";
import { createRng, normalCdf } from "../../lib/analysis/stats.ts";
import { runTournament } from "../../lib/analysis/tournament.ts";

function gauss(rng: () => number): number {
  let u = 0;
  while (u === 0) u = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

it("two equally good models at K = 8 clusters are called different in at most 5 % (+2 MC SE) of draws", () => {
  const rng = createRng(77);
  const R = 400;
  let flagged = 0;
  for (let r = 0; r < R; r++) {
    const rows = [];
    for (let g = 0; g < 8; g++) {
      const z = gauss(rng); // one shared shock per settlement time: its strikes' outcomes move together
      for (let k = -3; k <= 3; k++) {
        const truth = normalCdf(-k * 0.4);
        const clip = (p: number) => Math.min(0.99, Math.max(0.01, p));
        rows.push({ cluster: `s${g}`, y: z > k * 0.4 ? 1 : 0, p: { A: clip(truth + 0.05 * gauss(rng)), B: clip(truth + 0.05 * gauss(rng)) } });
      }
    }
    if (runTournament(rows, ["A", "B"], "A").scores[1]!.dBrier!.verdict !== "not different") flagged++;
  }
  const se = Math.sqrt((0.05 * 0.95) / R);
  expect(flagged / R).toBeLessThanOrEqual(0.05 + 2 * se);
});
