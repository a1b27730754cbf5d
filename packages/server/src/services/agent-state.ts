// Persists what a connected agent reports on its control stream: hello (version), lifecycle, logs,
// metadata results, listening ports and stats; then tells watchers (outpost_agent_logs for log
// followers, a throttled outpost_workspace for workspace watchers).
import type { AgentLogLine, MetadataResult } from "@outpost/sdk/agents";
import type { AgentMessage } from "@outpost/sdk/agent-rpc";
import { withTx } from "../db/pool.js";
import { publish } from "../db/pubsub.js";
import { appendAgentLogs } from "../db/queries/workspace-agent-logs.js";
import { mergeAgentMetadata, setAgentHello, setAgentLifecycle, setAgentPorts, setAgentStats } from "../db/queries/workspace-agents.js";
import type { AgentConnection } from "./agent-connection.js";
import type { Deps } from "./deps.js";

/** Most log lines stored in one insert when consecutive messages are merged. */
const MAX_LOG_BATCH = 5000;

export interface AgentSession {
  conn: AgentConnection;
  /** Metadata keys the template declares: results for other keys are ignored (they would only grow the row). */
  declaredMetadata: Set<string>;
  /** The last activity time the agent reported, to notice when it moves. */
  lastActivity?: string;
}

/** Applies a batch of messages in order; consecutive log messages of one source become one insert. */
export async function persistAgentMessages(deps: Deps, session: AgentSession, messages: AgentMessage[]): Promise<void> {
  const { conn } = session;
  const db = deps.db;
  let logsChanged = false;
  let viewChanged = false;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    switch (m.type) {
      case "hello":
        conn.hello = { version: m.version, api_version: m.api_version, os: m.os, arch: m.arch, hostname: m.hostname };
        await setAgentHello(db, conn.agentId, m.version, m.api_version);
        viewChanged = true;
        break;
      case "lifecycle":
        await setAgentLifecycle(db, conn.agentId, m.state, new Date(m.changed_at));
        // Log followers stop when the startup is over: wake them too.
        logsChanged = viewChanged = true;
        break;
      case "logs": {
        const lines: AgentLogLine[] = [...m.lines];
        for (let next = messages[i + 1]; next?.type === "logs" && next.source === m.source && lines.length + next.lines.length <= MAX_LOG_BATCH; next = messages[i + 1]) {
          lines.push(...next.lines);
          i++;
        }
        const stored = await withTx(db, (q) => appendAgentLogs(q, conn.agentId, m.source, lines, deps.clock.now()));
        if (stored > 0) logsChanged = true;
        break;
      }
      case "metadata": {
        const results: Record<string, MetadataResult> = {};
        for (const item of m.items) if (session.declaredMetadata.has(item.key)) results[item.key] = item;
        if (Object.keys(results).length === 0) break;
        await mergeAgentMetadata(db, conn.agentId, results);
        viewChanged = true;
        break;
      }
      case "ports":
        await setAgentPorts(db, conn.agentId, m.ports);
        viewChanged = true;
        break;
      case "stats": {
        await setAgentStats(db, conn.agentId, m.stats);
        const at = m.stats.last_activity_at;
        if (at && at !== session.lastActivity) {
          session.lastActivity = at;
          await deps.agentConns.touchActivity(conn.workspaceId);
        }
        viewChanged = true;
        break;
      }
    }
  }
  if (logsChanged) await publish(db, "outpost_agent_logs", conn.agentId);
  if (viewChanged) deps.agentConns.notifyWorkspace(conn.workspaceId);
}
