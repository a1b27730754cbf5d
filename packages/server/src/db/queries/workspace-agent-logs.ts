import type { AgentLogLine } from "@outpost/sdk/agents";
import type { Queryable } from "../pool.js";

export interface AgentLogRow {
  id: number;
  created_at: Date;
  level: AgentLogLine["level"];
  source: "startup_script" | "agent";
  output: string;
}

/** An agent's stored logs stop here (lines, and bytes of output); then one marker line says so. */
export const AGENT_LOG_LIMITS = { lines: 10_000, bytes: 5 * 1024 * 1024 } as const;
export const LOG_LIMIT_MARKER = `log limit reached (${AGENT_LOG_LIMITS.lines} lines or ${AGENT_LOG_LIMITS.bytes / 1024 / 1024} MiB per agent): later lines are dropped`;

/**
 * Appends lines within the agent's cap, in one transaction holding the agent's row lock (counters and
 * lines agree). Past the cap, stores the marker line once and drops the rest. Returns how many were stored.
 */
export async function appendAgentLogs(q: Queryable, agentId: string, source: AgentLogRow["source"], lines: AgentLogLine[], now: Date): Promise<number> {
  const { rows } = await q.query<{ logs_count: number; logs_bytes: string; logs_overflowed: boolean }>(
    "SELECT logs_count, logs_bytes, logs_overflowed FROM workspace_agents WHERE id = $1 FOR UPDATE",
    [agentId],
  );
  const row = rows[0];
  if (!row || row.logs_overflowed) return 0;
  let count = row.logs_count;
  let bytes = Number(row.logs_bytes);
  const kept: AgentLogLine[] = [];
  let overflow = false;
  for (const line of lines) {
    const size = Buffer.byteLength(line.output);
    if (count + 1 > AGENT_LOG_LIMITS.lines - 1 || bytes + size > AGENT_LOG_LIMITS.bytes) {
      overflow = true;
      break;
    }
    kept.push(line);
    count++;
    bytes += size;
  }
  if (overflow) kept.push({ created_at: now.toISOString(), level: "warn", output: LOG_LIMIT_MARKER });
  if (kept.length > 0) {
    await q.query(
      `INSERT INTO workspace_agent_logs (agent_id, created_at, level, source, output)
       SELECT $1, l.created_at, l.level, $2, l.output FROM jsonb_to_recordset($3::jsonb) AS l(created_at timestamptz, level text, output text)`,
      [agentId, source, JSON.stringify(kept)],
    );
  }
  await q.query("UPDATE workspace_agents SET logs_count = $2, logs_bytes = $3, logs_overflowed = $4 WHERE id = $1", [agentId, count + (overflow ? 1 : 0), bytes, overflow]);
  return kept.length;
}

export async function listAgentLogs(q: Queryable, agentId: string, after: number, limit = 1000): Promise<AgentLogRow[]> {
  const { rows } = await q.query<AgentLogRow>(
    "SELECT id::int8::float8 AS id, created_at, level, source, output FROM workspace_agent_logs WHERE agent_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    [agentId, after, limit],
  );
  return rows;
}
