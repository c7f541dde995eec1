/** Worker-thread entry of runInWorker (lib/run/sweep.ts): run the job it was given, post the result. */
import { parentPort, workerData } from "node:worker_threads";
import { runSweepJob, type SweepJob } from "./sweep.ts";

runSweepJob(workerData as SweepJob).then(
  (result) => parentPort!.postMessage({ ok: true, result }),
  (err: unknown) => parentPort!.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
);
