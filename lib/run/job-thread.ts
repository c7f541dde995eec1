/**
 * Worker-thread entry of JobThread (results.ts): for each job posted to it, run the job, store its
 * result and answer {ok, result} or {ok: false, error}. The thread lives for many jobs.
 */
import { parentPort, threadId } from "node:worker_threads";
import { runAndStore, type JobThreadInput } from "./results.ts";

parentPort!.on("message", (d: JobThreadInput) => {
  runAndStore(d.job, d.tapeDir, d.out, { worker: `${d.worker}:thread-${threadId}`, attempt: d.attempt, codeVersion: d.codeVersion }).then(
    (result) => parentPort!.postMessage({ ok: true, result }),
    (err: unknown) => parentPort!.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
