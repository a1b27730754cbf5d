// `outpost logs`' second part: each agent's startup script (and agent) log lines, after the build's.
import type { AgentLog, AgentLogsResponse, WorkspaceAgent } from "@outpost/sdk/agents";
import { FINAL_LIFECYCLES } from "./agent-view.js";
import type { CliContext } from "./context.js";
import { fetchRetrying } from "./follow.js";

export type FetchAgentLogs = (after: number, waitSeconds: number) => Promise<AgentLogsResponse>;

/** One line as printed: `startup (main) | line`, like the build's `stage | line`. */
export function formatAgentLog(agentName: string, log: Pick<AgentLog, "source" | "output">): string {
  return `${log.source === "startup_script" ? "startup" : "agent"} (${agentName}) | ${log.output}`;
}

function describe(a: WorkspaceAgent): string {
  if (a.status !== "connected") return `agent ${a.name}: ${a.status === "connecting" ? "waiting for it to connect" : a.status}`;
  return `agent ${a.name}: ${a.lifecycle_state === "created" || a.lifecycle_state === "starting" ? "startup script running" : a.lifecycle_state}`;
}

/**
 * Prints an agent's log lines from the start; with `follow`, long-polls until its lifecycle is final
 * (ready, start_error, start_timeout), then reads once more so no line stored before that is lost.
 * Returns the agent as last seen.
 */
export async function printAgentLogs(
  ctx: CliContext,
  agentName: string,
  fetchLogs: FetchAgentLogs,
  opts: { follow: boolean; waitSeconds?: number; sleep?: (ms: number) => Promise<void> },
): Promise<WorkspaceAgent> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let after = 0;
  let final = false;
  let drained = false;
  let first = true;
  let lastState = "";
  for (;;) {
    // Long-poll only while something can still happen: the server answers early on a new line or a
    // lifecycle change.
    const wait = opts.follow && !first && !final ? (opts.waitSeconds ?? 25) : 0;
    const res: AgentLogsResponse = await fetchRetrying(ctx, opts.follow, sleep, () => fetchLogs(after, wait));
    first = false;
    for (const log of res.logs) {
      ctx.io.out(formatAgentLog(agentName, log));
      after = Math.max(after, log.id);
    }
    final = FINAL_LIFECYCLES.has(res.agent.lifecycle_state);
    if (res.logs.length > 0) continue; // pages: read until nothing new
    if (!opts.follow) return res.agent;
    // Once final, read once more: a line stored just before the state changed is not lost.
    if (final) {
      if (drained) return res.agent;
      drained = true;
      continue;
    }
    const state = describe(res.agent);
    if (ctx.io.interactive && state !== lastState) ctx.io.err(`… ${state}`);
    lastState = state;
  }
}
