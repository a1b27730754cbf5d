import type { Workspace } from "@outpost/sdk/workspaces";
import { getWorkspaceIncludingDeleted } from "../db/queries/workspaces.js";
import type { Deps } from "./deps.js";
import { workspaceView } from "./workspaces.js";

/** Changes arriving within this window are sent as one. */
const DEBOUNCE_MS = 100;
/** Re-read even without a notification: they are hints, and some changes are time-based (agent timeout). */
const RECHECK_MS = 30_000;

/**
 * Calls `emit` with the workspace now and again whenever it changes (its builds, its agents, its use),
 * until `signal` aborts or the workspace is deleted (the deleted view is the last one). `emit` returns
 * false when it could not deliver (a slow client): that view is retried at the next change.
 */
export async function watchWorkspace(deps: Deps, workspaceId: string, emit: (w: Workspace) => boolean, signal: AbortSignal): Promise<"deleted" | "aborted"> {
  let jobId: string | undefined;
  let dirty = true;
  let wake: (() => void) | undefined;
  const poke = () => {
    dirty = true;
    wake?.();
  };
  const unsubs = [
    deps.pubsub.subscribe("outpost_workspace", (p) => p === workspaceId && poke()),
    // A build's progress (queued, running, done) shows up as its job's status.
    deps.pubsub.subscribe("outpost_job_status", (p) => p === jobId && poke()),
  ];
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort);
  let last = "";
  try {
    while (!signal.aborted) {
      if (dirty) {
        dirty = false;
        const row = await getWorkspaceIncludingDeleted(deps.db, workspaceId);
        if (!row) return "deleted";
        const view = await workspaceView(deps, row);
        jobId = view.latest_build.job.id;
        const json = JSON.stringify(view);
        if (json !== last && !signal.aborted && emit(view)) last = json;
        if (view.status === "deleted") return "deleted";
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          dirty = true;
          resolve();
        }, RECHECK_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (dirty || signal.aborted) wake();
      });
      wake = undefined;
      if (!signal.aborted) await new Promise((r) => setTimeout(r, DEBOUNCE_MS));
    }
    return "aborted";
  } finally {
    unsubs.forEach((u) => u());
    signal.removeEventListener("abort", onAbort);
  }
}
