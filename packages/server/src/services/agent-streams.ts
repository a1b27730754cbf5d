// Reaching inside a workspace: which agent a client means, whether it may, whether the agent is there,
// and opening a stream on it. Every refusal is a plain API error, decided before any WebSocket upgrade.
import type { MuxStream } from "@outpost/sdk/mux";
import { MuxError } from "@outpost/sdk/mux";
import { getJob } from "../db/queries/provisioner-jobs.js";
import { getAgent, liveAgents, type AgentRow } from "../db/queries/workspace-agents.js";
import { latestBuild } from "../db/queries/workspace-builds.js";
import { getWorkspaceIncludingDeleted, type WorkspaceRow } from "../db/queries/workspaces.js";
import { ApiError, forbidden, notFound } from "../errors.js";
import type { AgentConnection } from "./agent-connection.js";
import { toAgent } from "./agents.js";
import { buildStatus } from "./convert-fleet.js";
import type { Deps } from "./deps.js";
import { authorize, type Subject } from "./rbac.js";
import { resolveWorkspaceByName } from "./workspaces.js";

/** How long the agent has to accept or refuse a stream before the client is told it is unavailable. */
const OPEN_TIMEOUT_MS = 15_000;
/** Workspace states in which nothing runs inside (or soon will not): connecting makes no sense. */
const NOT_RUNNING = new Set(["stopped", "stopping", "deleting", "deleted"]);

export interface AgentTarget {
  agent: AgentRow;
  workspace: WorkspaceRow;
}

const label = (w: WorkspaceRow) => `${w.owner_username}/${w.name}`;

/** An agent whose workspace the subject may read (also of an earlier build or a deleted workspace), else 404. */
export async function resolveAgent(deps: Deps, subject: Subject, agentId: string): Promise<AgentTarget> {
  const agent = await getAgent(deps.db, agentId);
  const workspace = agent ? await getWorkspaceIncludingDeleted(deps.db, agent.workspace_id) : undefined;
  if (!agent || !workspace || !authorize(subject, "read", { type: "workspace", ownerId: workspace.owner_id })) throw notFound("agent");
  return { agent, workspace };
}

/** Only the owner (and site owners) may get inside a workspace they can see: 403 for other readers. */
export function requireSsh(subject: Subject, workspace: WorkspaceRow): void {
  if (!authorize(subject, "ssh", { type: "workspace", ownerId: workspace.owner_id })) throw forbidden("only the workspace's owner may connect to it");
}

async function requireRunning(deps: Deps, subject: Subject, workspace: WorkspaceRow): Promise<void> {
  const latest = await latestBuild(deps.db, workspace.id);
  const job = latest ? await getJob(deps.db, latest.job_id) : undefined;
  const status = latest && job ? buildStatus(latest.transition, job.status) : "deleted";
  if (!NOT_RUNNING.has(status)) return;
  const ref = workspace.owner_id === subject.userId ? workspace.name : label(workspace);
  if (status === "deleted" || status === "deleting") throw new ApiError("CONFLICT", `workspace ${label(workspace)} is ${status}`);
  throw new ApiError("CONFLICT", `workspace ${label(workspace)} is ${status}: start it with \`outpost start ${ref}\``);
}

/** By names, for `outpost ssh --stdio`: one of the workspace's current agents (`agentName` picks among several). */
export async function resolveAgentByName(deps: Deps, subject: Subject, user: string, workspaceName: string, agentName: string | undefined): Promise<AgentTarget> {
  const workspace = await resolveWorkspaceByName(deps, subject, user, workspaceName);
  requireSsh(subject, workspace);
  await requireRunning(deps, subject, workspace);
  const agents = await liveAgents(deps.db, workspace.id);
  const names = agents.map((a) => a.name).sort();
  if (agentName !== undefined) {
    const agent = agents.find((a) => a.name === agentName);
    if (!agent) throw new ApiError("NOT_FOUND", `workspace ${label(workspace)} has no agent "${agentName}"`, names.length ? `its agents: ${names.join(", ")}` : "it has no agents");
    return { agent, workspace };
  }
  if (agents.length === 0) throw new ApiError("NOT_FOUND", `workspace ${label(workspace)} has no agent`, "its template starts none, or its build has not reported one yet");
  if (agents.length > 1) {
    throw new ApiError("INVALID_INPUT", `workspace ${label(workspace)} has ${agents.length} agents: name one`, undefined, [{ field: "query.agent", detail: `is required: one of ${names.join(", ")}` }]);
  }
  return { agent: agents[0]!, workspace };
}

function describeAbsence(agent: AgentRow, now: Date): string {
  const view = toAgent(agent, now);
  const last = view.last_connected_at ? `last connected ${view.last_connected_at}` : "never connected";
  switch (view.status) {
    case "connecting":
      return `status connecting (${last}): the agent has not dialed in since the workspace started; check the workspace's startup with \`outpost logs\``;
    case "timeout":
      return `status timeout (${last}): the agent did not connect within ${view.connection_timeout_seconds} s; check the build logs and the agent's logs`;
    default:
      return `status ${view.status} (${last}): the agent reconnects on its own; try again shortly`;
  }
}

/** The live connection of a target the subject may enter, or 409 (not running) / 503 (agent not connected). */
export async function connectableAgent(deps: Deps, subject: Subject, { agent, workspace }: AgentTarget): Promise<AgentConnection> {
  requireSsh(subject, workspace);
  await requireRunning(deps, subject, workspace);
  if (agent.revoked_at) {
    throw new ApiError("CONFLICT", `agent "${agent.name}" is from an earlier build of ${label(workspace)}`, "the workspace was rebuilt since; connect by workspace name");
  }
  const conn = deps.agentConns.get(agent.id);
  if (!conn || conn.isClosed) {
    throw new ApiError("UNAVAILABLE", `agent "${agent.name}" of ${label(workspace)} is not connected`, describeAbsence(agent, deps.clock.now()));
  }
  return conn;
}

/**
 * Opens a stream of `kind` on the agent. The agent's refusal is a 502 carrying its reason (e.g. nothing
 * listens on the port); no answer in time or the agent going away is a 503.
 */
export async function openAgentStream(conn: AgentConnection, kind: string): Promise<MuxStream> {
  const opening = conn.mux.open(kind);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ApiError("UNAVAILABLE", `agent "${conn.agentName}" did not answer within ${OPEN_TIMEOUT_MS / 1000} s`)), OPEN_TIMEOUT_MS);
  });
  try {
    return await Promise.race([opening, timeout]);
  } catch (err) {
    // Late answers to a request given up on are closed at once.
    opening.then((s) => s.reset("the server gave up waiting"), () => undefined);
    if (err instanceof ApiError) throw err;
    if (err instanceof MuxError && err.code === "REJECTED") throw new ApiError("BAD_GATEWAY", `agent "${conn.agentName}" refused the connection: ${err.message}`);
    throw new ApiError("UNAVAILABLE", `agent "${conn.agentName}" went away: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}
