import type { Queryable } from "../pool.js";

export interface AgentRow {
  id: string;
  workspace_id: string;
  workspace_build_id: string;
  name: string;
  resource_address: string;
  spec: Record<string, unknown>;
  hashed_token: Buffer;
  revoked_at: Date | null;
  lifecycle_state: string;
  first_connected_at: Date | null;
  last_connected_at: Date | null;
  disconnected_at: Date | null;
  created_at: Date;
}

const COLUMNS = "id, workspace_id, workspace_build_id, name, resource_address, spec, hashed_token, revoked_at, lifecycle_state, first_connected_at, last_connected_at, disconnected_at, created_at";

export async function insertAgent(q: Queryable, a: { workspaceId: string; buildId: string; name: string; resourceAddress: string; spec: unknown; hashedToken: Buffer; now: Date }): Promise<void> {
  await q.query(
    `INSERT INTO workspace_agents (workspace_id, workspace_build_id, name, resource_address, spec, hashed_token, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (workspace_build_id, name) DO UPDATE SET hashed_token = EXCLUDED.hashed_token, spec = EXCLUDED.spec, resource_address = EXCLUDED.resource_address`,
    [a.workspaceId, a.buildId, a.name, a.resourceAddress, JSON.stringify(a.spec), a.hashedToken, a.now],
  );
}

/** The live (not revoked) agents of a workspace, newest build first. */
export async function liveAgents(q: Queryable, workspaceId: string): Promise<AgentRow[]> {
  const { rows } = await q.query<AgentRow>(`SELECT ${COLUMNS} FROM workspace_agents WHERE workspace_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, name`, [workspaceId]);
  return rows;
}

export async function agentByTokenHash(q: Queryable, hash: Buffer): Promise<AgentRow | undefined> {
  const { rows } = await q.query<AgentRow>(`SELECT ${COLUMNS} FROM workspace_agents WHERE hashed_token = $1 AND revoked_at IS NULL`, [hash]);
  return rows[0];
}

/** Revokes every live agent token of the workspace except those of `keepBuildId`. */
export async function revokeAgents(q: Queryable, workspaceId: string, now: Date, keepBuildId?: string): Promise<void> {
  await q.query("UPDATE workspace_agents SET revoked_at = $2 WHERE workspace_id = $1 AND revoked_at IS NULL AND workspace_build_id IS DISTINCT FROM $3", [workspaceId, now, keepBuildId ?? null]);
}
