import type { AgentLog, AgentLogsResponse } from "@outpost/sdk/agents";
import { listAgentLogs, type AgentLogRow } from "../db/queries/workspace-agent-logs.js";
import { getAgent } from "../db/queries/workspace-agents.js";
import { notFound } from "../errors.js";
import { toAgent } from "./agents.js";
import type { Deps } from "./deps.js";

export function toAgentLog(row: AgentLogRow): AgentLog {
  return { id: row.id, created_at: row.created_at.toISOString(), level: row.level, source: row.source, output: row.output };
}

/**
 * The agent's logs after `after`, with the agent. While none are new, waits up to `waitSeconds` for a
 * line or a lifecycle change (a follower stops once the startup is over), woken by outpost_agent_logs.
 */
export async function waitForAgentLogs(deps: Deps, agentId: string, after: number, waitSeconds: number, signal?: AbortSignal): Promise<AgentLogsResponse> {
  const deadline = Date.now() + waitSeconds * 1000;
  let lifecycle: string | undefined;
  for (;;) {
    const change = deps.pubsub.listen(["outpost_agent_logs"], (p) => p === agentId);
    try {
      const agent = await getAgent(deps.db, agentId);
      if (!agent) throw notFound("agent");
      const logs = await listAgentLogs(deps.db, agentId, after);
      const left = deadline - Date.now();
      const lifecycleChanged = lifecycle !== undefined && lifecycle !== agent.lifecycle_state;
      lifecycle = agent.lifecycle_state;
      if (logs.length > 0 || lifecycleChanged || left <= 0 || signal?.aborted) return { logs: logs.map(toAgentLog), agent: toAgent(agent, deps.clock.now()) };
      // The timer covers a missed notification.
      await change.wait(Math.min(left, 2000), signal);
    } finally {
      change.stop();
    }
  }
}
