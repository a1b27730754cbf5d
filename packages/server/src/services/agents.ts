import { createHash, timingSafeEqual } from "node:crypto";
import { AGENT_API_VERSION, type AgentManifest, type ReportedAgent, type WorkspaceAgent } from "@outpost/sdk/agents";
import type { Queryable } from "../db/pool.js";
import { getUserById } from "../db/queries/users.js";
import { publish } from "../db/pubsub.js";
import { agentByTokenHash, carryAgentState, insertAgent, liveAgents, revokeAgents, type AgentRow } from "../db/queries/workspace-agents.js";
import type { BuildRow } from "../db/queries/workspace-builds.js";
import { getWorkspace } from "../db/queries/workspaces.js";
import { ApiError, unauthenticated } from "../errors.js";
import type { Deps } from "./deps.js";

export function hashAgentToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/**
 * Records a build's agents. A start keeps only its own agents' tokens (older builds' are revoked); an
 * agent whose resource was kept as it was carries its token, state and logs over from the build that
 * started it (its live connection stays up). A stop or delete revokes every token of the workspace.
 * Servers holding a revoked agent's connection close it when this transaction commits.
 */
export async function recordBuildAgents(q: Queryable, deps: Deps, build: BuildRow, reported: ReportedAgent[]): Promise<void> {
  const now = deps.clock.now();
  await publish(q, "outpost_agents_revoked", build.workspace_id);
  if (build.transition !== "start") {
    await revokeAgents(q, build.workspace_id, now);
    return;
  }
  const previous = await liveAgents(q, build.workspace_id);
  // Older builds' tokens go first: a kept agent's token moves to this build's row (tokens are unique).
  await revokeAgents(q, build.workspace_id, now, build.id);
  for (const a of reported) {
    let hash: Buffer | undefined = a.token ? hashAgentToken(a.token) : undefined;
    const kept = !hash && a.keep ? previous.find((p) => p.name === a.name && p.resource_address === a.resource_address) : undefined;
    hash ??= kept?.hashed_token;
    // A kept agent with no earlier token (created before tokens existed) simply has none that works.
    if (!hash) continue;
    const id = await insertAgent(q, { workspaceId: build.workspace_id, buildId: build.id, name: a.name, resourceAddress: a.resource_address, spec: a.spec, hashedToken: hash, now });
    if (kept && kept.id !== id) await carryAgentState(q, kept.id, id);
  }
}

/** How often a server holding an agent's connection refreshes `heartbeat_at`. */
export const AGENT_HEARTBEAT_MS = 30_000;
/** A connection whose heartbeat is older than this is not held by any running server. */
const HEARTBEAT_STALE_MS = 3 * AGENT_HEARTBEAT_MS;

/**
 * connected: a server holds the agent's connection now (connected since its last disconnect, and that
 * server's heartbeat is fresh: a crashed server's rows go stale). connecting/timeout: never connected,
 * within or past the template's connection timeout.
 */
function agentStatus(row: AgentRow, now: Date): WorkspaceAgent["status"] {
  if (!row.first_connected_at) {
    const timeout = Number(row.spec.connectionTimeoutSeconds ?? 120) * 1000;
    return timeout > 0 && now.getTime() - row.created_at.getTime() > timeout ? "timeout" : "connecting";
  }
  if (row.disconnected_at && (!row.last_connected_at || row.disconnected_at >= row.last_connected_at)) return "disconnected";
  const beat = row.heartbeat_at ?? row.last_connected_at;
  return beat && now.getTime() - beat.getTime() <= HEARTBEAT_STALE_MS ? "connected" : "disconnected";
}

type AgentSpecView = {
  os?: string;
  arch?: string;
  dir?: string;
  apps?: Record<string, unknown>[];
  startupScriptBehavior?: "non-blocking" | "blocking";
  connectionTimeoutSeconds?: number;
  metadata?: { key?: unknown; displayName?: unknown; interval?: unknown }[];
};

/** Metadata as declared in the template, each with its latest result. */
function metadataView(spec: AgentSpecView, results: AgentRow["metadata_results"]): WorkspaceAgent["metadata"] {
  return (spec.metadata ?? [])
    .filter((m) => typeof m.key === "string")
    .map((m) => {
      const key = m.key as string;
      return { key, display_name: typeof m.displayName === "string" ? m.displayName : key, interval: Number(m.interval ?? 0) || 0, result: results?.[key] ?? null };
    });
}

export function toAgent(row: AgentRow, now: Date): WorkspaceAgent {
  const spec = row.spec as AgentSpecView;
  return {
    id: row.id,
    name: row.name,
    resource_address: row.resource_address,
    status: agentStatus(row, now),
    lifecycle_state: row.lifecycle_state as WorkspaceAgent["lifecycle_state"],
    lifecycle_changed_at: row.lifecycle_changed_at?.toISOString() ?? null,
    os: spec.os ?? "linux",
    arch: spec.arch ?? "amd64",
    directory: spec.dir ?? "",
    apps: spec.apps ?? [],
    version: row.version,
    api_version: row.api_version,
    startup_script_behavior: spec.startupScriptBehavior ?? "non-blocking",
    connection_timeout_seconds: spec.connectionTimeoutSeconds ?? 120,
    metadata: metadataView(spec, row.metadata_results),
    listening_ports: row.listening_ports ?? [],
    stats: row.stats,
    first_connected_at: row.first_connected_at?.toISOString() ?? null,
    last_connected_at: row.last_connected_at?.toISOString() ?? null,
    disconnected_at: row.disconnected_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
  };
}

export async function workspaceAgents(deps: Deps, workspaceId: string): Promise<WorkspaceAgent[]> {
  const now = deps.clock.now();
  return (await liveAgents(deps.db, workspaceId)).map((r) => toAgent(r, now)).sort((a, b) => a.name.localeCompare(b.name));
}

/** The agent a presented token belongs to; 401 (with why) for a wrong, revoked or stale token. */
export async function authenticateAgent(deps: Deps, presented: string | undefined): Promise<AgentRow> {
  if (!presented) throw unauthenticated("agent token required", "send it in the Outpost-Agent-Token header");
  const hash = hashAgentToken(presented);
  const row = await agentByTokenHash(deps.db, hash);
  if (!row || !timingSafeEqual(row.hashed_token, hash)) {
    throw unauthenticated("invalid agent token", "the workspace was stopped, deleted or rebuilt since this agent started; it will get a new token at the next start");
  }
  return row;
}

export async function agentManifest(deps: Deps, agent: AgentRow): Promise<AgentManifest> {
  const workspace = await getWorkspace(deps.db, agent.workspace_id);
  if (!workspace) throw new ApiError("NOT_FOUND", "workspace not found", "the workspace of this agent was deleted");
  const owner = await getUserById(deps.db, workspace.owner_id);
  const spec = agent.spec as {
    dir?: string;
    env?: Record<string, string>;
    startupScript?: string;
    startupScriptBehavior?: "non-blocking" | "blocking";
    startupScriptTimeoutSeconds?: number;
    connectionTimeoutSeconds?: number;
    apps?: Record<string, unknown>[];
    metadata?: Record<string, unknown>[];
  };
  return {
    api_version: AGENT_API_VERSION,
    agent_id: agent.id,
    agent_name: agent.name,
    workspace_id: workspace.id,
    workspace_name: workspace.name,
    owner_username: owner?.username ?? "",
    directory: spec.dir ?? "",
    env: spec.env ?? {},
    startup_script: spec.startupScript ?? "",
    startup_script_behavior: spec.startupScriptBehavior ?? "non-blocking",
    startup_script_timeout_seconds: spec.startupScriptTimeoutSeconds ?? 0,
    connection_timeout_seconds: spec.connectionTimeoutSeconds ?? 120,
    apps: spec.apps ?? [],
    metadata: spec.metadata ?? [],
  };
}
