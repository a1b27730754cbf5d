import type { JobLogsResponse } from "@outpost/sdk/client-fleet";
import { OutpostError } from "@outpost/sdk/client-error";
import type { JobLog, ProvisionerJob } from "@outpost/sdk/provisioner";
import type { CliContext } from "./context.js";
import { shortDuration } from "./duration.js";

export type FetchLogs = (after: number, waitSeconds: number) => Promise<JobLogsResponse>;

export const TERMINAL_JOB_STATUSES = new Set(["succeeded", "failed", "canceled"]);

export function isJobDone(job: Pick<ProvisionerJob, "status">): boolean {
  return TERMINAL_JOB_STATUSES.has(job.status);
}

/** One log line as printed: `stage | line`. */
export function formatLog(log: Pick<JobLog, "stage" | "output">): string {
  return `${log.stage} | ${log.output}`;
}

export interface FollowOptions {
  /** Keep polling until the job is done; otherwise print what is there and return. */
  follow: boolean;
  /** Long-poll wait per request, in seconds. */
  waitSeconds?: number;
  /** Time source and sleep, replaceable in tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

function describeWait(job: ProvisionerJob): string {
  if (job.status === "pending") return job.queue_position > 0 ? `waiting for a provisioner daemon (queue position ${job.queue_position})` : "waiting for a provisioner daemon";
  if (job.status === "running") return "running";
  if (job.status === "canceling") return "canceling";
  return job.status;
}

function transient(err: unknown): boolean {
  return err instanceof OutpostError && (err.status === 0 || err.status === 502 || err.status === 503 || err.status === 504);
}

/**
 * Calls `fetch`; when following, a dropped connection or an unavailable server is retried up to five
 * times with backoff (1 s doubling to 8 s), saying so when interactive. Build and agent logs share it.
 */
export async function fetchRetrying<T>(ctx: CliContext, follow: boolean, sleep: (ms: number) => Promise<void>, fetch: () => Promise<T>): Promise<T> {
  for (let failures = 1; ; failures++) {
    try {
      return await fetch();
    } catch (err) {
      if (!follow || !transient(err) || failures > 5) throw err;
      if (ctx.io.interactive) ctx.io.err(`connection lost (${(err as Error).message}); retrying`);
      await sleep(Math.min(1000 * 2 ** (failures - 1), 8000));
    }
  }
}

/**
 * Prints a provisioner job's logs (`stage | line`, stdout) from the start, and with `follow` keeps
 * long-polling until the job ends. Progress (queued, running, still waiting) goes to stderr when
 * interactive, so stdout holds only log lines. A dropped connection is retried a few times. Returns
 * the job as last seen.
 */
export async function printJobLogs(ctx: CliContext, fetchLogs: FetchLogs, opts: FollowOptions): Promise<ProvisionerJob> {
  const wait = opts.follow ? (opts.waitSeconds ?? 25) : 0;
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = now();
  let after = 0;
  let lastState = "";
  let lastProgressAt = started;
  let drained = false;
  let first = true;
  for (;;) {
    // The first request does not wait, so the job's state (queued, running) shows at once.
    const res: JobLogsResponse = await fetchRetrying(ctx, opts.follow, sleep, () => fetchLogs(after, drained || first ? 0 : wait));
    first = false;
    for (const log of res.logs) {
      // The daemon marks the start of each stage with a `== STAGE` line; the stage column says it already.
      if (log.output !== `== ${log.stage}`) ctx.io.out(formatLog(log));
      after = Math.max(after, log.id);
    }
    const done = isJobDone(res.job);
    // Logs come back in pages: keep reading while there were new lines. Once the job is done, read
    // once more, so lines stored just before it ended are not lost to the race with the job's state.
    if (done && !drained) {
      drained = true;
      continue;
    }
    if (res.logs.length > 0 && (done || !opts.follow)) continue;
    if (done || !opts.follow) return res.job;
    const state = describeWait(res.job);
    if (ctx.io.interactive) {
      if (state !== lastState) {
        ctx.io.err(`… ${state}`);
        lastProgressAt = now();
      } else if (res.logs.length === 0 && now() - lastProgressAt >= 20_000) {
        ctx.io.err(`… still ${state} (${shortDuration(now() - started)})`);
        lastProgressAt = now();
      }
    }
    lastState = state;
  }
}
