import type { AgentStats, ListeningPort, MetadataResult } from "@outpost/sdk/agents";
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
  lifecycle_changed_at: Date | null;
  version: string | null;
  api_version: number | null;
  first_connected_at: Date | null;
  last_connected_at: Date | null;
  disconnected_at: Date | null;
  heartbeat_at: Date | null;
  metadata_results: Record<string, MetadataResult>;
  listening_ports: ListeningPort[];
  stats: AgentStats | null;
  last_activity_at: Date | null;
  created_at: Date;
}

const COLUMNS = `id, workspace_id, workspace_build_id, name, resource_address, spec, hashed_token, revoked_at, lifecycle_state, lifecycle_changed_at,
  version, api_version, first_connected_at, last_connected_at, disconnected_at, heartbeat_at, metadata_results, listening_ports, stats, last_activity_at, created_at`;

/** What a kept agent's new row carries over from the row of the build that started it. */
const CARRIED = `lifecycle_state, lifecycle_changed_at, version, api_version, first_connected_at, last_connected_at, disconnected_at, heartbeat_at,
  metadata_results, listening_ports, stats, last_activity_at, logs_count, logs_bytes, logs_overflowed`;

export async function insertAgent(q: Queryable, a: { workspaceId: string; buildId: string; name: string; resourceAddress: string; spec: unknown; hashedToken: Buffer; now: Date }): Promise<string> {
  const { rows } = await q.query<{ id: string }>(
    `INSERT INTO workspace_agents (workspace_id, workspace_build_id, name, resource_address, spec, hashed_token, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (workspace_build_id, name) DO UPDATE SET hashed_token = EXCLUDED.hashed_token, spec = EXCLUDED.spec, resource_address = EXCLUDED.resource_address
     RETURNING id`,
    [a.workspaceId, a.buildId, a.name, a.resourceAddress, JSON.stringify(a.spec), a.hashedToken, a.now],
  );
  return rows[0]!.id;
}

/** A kept agent keeps running with its token: its state and logs move to the new build's row. */
export async function carryAgentState(q: Queryable, fromId: string, toId: string): Promise<void> {
  await q.query(`UPDATE workspace_agents SET (${CARRIED}) = (SELECT ${CARRIED} FROM workspace_agents WHERE id = $1) WHERE id = $2`, [fromId, toId]);
  await q.query("UPDATE workspace_agent_logs SET agent_id = $2 WHERE agent_id = $1", [fromId, toId]);
}

/** The live (not revoked) agents of a workspace, newest build first. */
export async function liveAgents(q: Queryable, workspaceId: string): Promise<AgentRow[]> {
  const { rows } = await q.query<AgentRow>(`SELECT ${COLUMNS} FROM workspace_agents WHERE workspace_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, name`, [workspaceId]);
  return rows;
}

export async function getAgent(q: Queryable, id: string): Promise<AgentRow | undefined> {
  const { rows } = await q.query<AgentRow>(`SELECT ${COLUMNS} FROM workspace_agents WHERE id = $1`, [id]);
  return rows[0];
}

export async function agentByTokenHash(q: Queryable, hash: Buffer): Promise<AgentRow | undefined> {
  const { rows } = await q.query<AgentRow>(`SELECT ${COLUMNS} FROM workspace_agents WHERE hashed_token = $1 AND revoked_at IS NULL`, [hash]);
  return rows[0];
}

/** Of these token hashes, the ones still live, with the agent row each belongs to now. */
export async function liveTokenOwners(q: Queryable, hashes: Buffer[]): Promise<{ id: string; hashed_token: Buffer }[]> {
  if (hashes.length === 0) return [];
  const { rows } = await q.query<{ id: string; hashed_token: Buffer }>("SELECT id, hashed_token FROM workspace_agents WHERE hashed_token = ANY($1) AND revoked_at IS NULL", [hashes]);
  return rows;
}

/** Revokes every live agent token of the workspace except those of `keepBuildId`. */
export async function revokeAgents(q: Queryable, workspaceId: string, now: Date, keepBuildId?: string): Promise<void> {
  await q.query("UPDATE workspace_agents SET revoked_at = $2 WHERE workspace_id = $1 AND revoked_at IS NULL AND workspace_build_id IS DISTINCT FROM $3", [workspaceId, now, keepBuildId ?? null]);
}

export async function markAgentConnected(q: Queryable, id: string, now: Date): Promise<void> {
  await q.query(
    "UPDATE workspace_agents SET first_connected_at = coalesce(first_connected_at, $2), last_connected_at = $2, heartbeat_at = $2, disconnected_at = NULL WHERE id = $1",
    [id, now],
  );
}

export async function markAgentsDisconnected(q: Queryable, ids: string[], now: Date): Promise<void> {
  if (ids.length === 0) return;
  await q.query("UPDATE workspace_agents SET disconnected_at = $2 WHERE id = ANY($1)", [ids, now]);
}

/**
 * At start-up no connection is held by this server: rows that still read connected are left over from
 * a previous run. (A replica's own agents re-assert themselves at its next heartbeat.)
 */
export async function disconnectStaleAgents(q: Queryable, now: Date): Promise<number> {
  const { rowCount } = await q.query(
    "UPDATE workspace_agents SET disconnected_at = $1 WHERE first_connected_at IS NOT NULL AND (disconnected_at IS NULL OR disconnected_at < last_connected_at)",
    [now],
  );
  return rowCount ?? 0;
}

/** Refreshes the heartbeat of the connections this server holds (and un-marks a sweep by another replica). */
export async function heartbeatAgents(q: Queryable, ids: string[], now: Date): Promise<void> {
  if (ids.length === 0) return;
  await q.query("UPDATE workspace_agents SET heartbeat_at = $2, disconnected_at = NULL WHERE id = ANY($1)", [ids, now]);
}

export async function setAgentHello(q: Queryable, id: string, version: string, apiVersion: number): Promise<void> {
  await q.query("UPDATE workspace_agents SET version = $2, api_version = $3 WHERE id = $1", [id, version, apiVersion]);
}

export async function setAgentLifecycle(q: Queryable, id: string, state: string, changedAt: Date): Promise<void> {
  await q.query("UPDATE workspace_agents SET lifecycle_state = $2, lifecycle_changed_at = $3 WHERE id = $1", [id, state, changedAt]);
}

/** Merges results by key: a key keeps its latest result until a newer one comes. */
export async function mergeAgentMetadata(q: Queryable, id: string, results: Record<string, MetadataResult>): Promise<void> {
  await q.query("UPDATE workspace_agents SET metadata_results = metadata_results || $2::jsonb WHERE id = $1", [id, JSON.stringify(results)]);
}

export async function setAgentPorts(q: Queryable, id: string, ports: ListeningPort[]): Promise<void> {
  await q.query("UPDATE workspace_agents SET listening_ports = $2::jsonb WHERE id = $1", [id, JSON.stringify(ports)]);
}

export async function setAgentStats(q: Queryable, id: string, stats: AgentStats): Promise<void> {
  await q.query("UPDATE workspace_agents SET stats = $2::jsonb, last_activity_at = greatest(last_activity_at, $3::timestamptz) WHERE id = $1", [
    id,
    JSON.stringify(stats),
    stats.last_activity_at,
  ]);
}
