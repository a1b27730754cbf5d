import { z } from "zod";

/** The agent <-> server protocol version; both sides refuse a mismatch with a clear message. */
export const AGENT_API_VERSION = 1;

/** Agents authenticate with the token the provisioner put in their environment. */
export const AGENT_TOKEN_HEADER = "Outpost-Agent-Token";
export const AGENT_TOKEN_ENV = "OUTPOST_AGENT_TOKEN";
export const AGENT_URL_ENV = "OUTPOST_AGENT_URL";

export const AgentLifecycleSchema = z.enum(["created", "starting", "ready", "start_error", "start_timeout", "shutting_down", "off"]);
export type AgentLifecycle = z.infer<typeof AgentLifecycleSchema>;

const timestamp = z.string().datetime({ offset: true });

export const AgentLogLevelSchema = z.enum(["info", "warn", "error"]);

export const AgentLogLineSchema = z.strictObject({
  created_at: timestamp,
  level: AgentLogLevelSchema,
  output: z.string().max(16_384),
});
export type AgentLogLine = z.infer<typeof AgentLogLineSchema>;

export const MetadataResultSchema = z.strictObject({
  key: z.string().max(64),
  value: z.string().max(16_384),
  error: z.string().max(4096),
  collected_at: timestamp,
});
export type MetadataResult = z.infer<typeof MetadataResultSchema>;

export const ListeningPortSchema = z.strictObject({
  port: z.number().int().min(1).max(65535),
  network: z.literal("tcp"),
  process_name: z.string().max(256).optional(),
});
export type ListeningPort = z.infer<typeof ListeningPortSchema>;

export const SESSION_KINDS = ["ssh", "pty", "tcp"] as const;
export const SessionKindSchema = z.enum(SESSION_KINDS);
export type SessionKind = z.infer<typeof SessionKindSchema>;

export const AgentStatsSchema = z.strictObject({
  /** Open sessions by kind, now. */
  sessions: z.strictObject({ ssh: z.number().int().min(0), pty: z.number().int().min(0), tcp: z.number().int().min(0) }),
  /** Bytes through the agent's streams since it started (both directions). */
  rx_bytes: z.number().int().min(0),
  tx_bytes: z.number().int().min(0),
  /** Last time a session was opened or carried data; null before the first. */
  last_activity_at: timestamp.nullable(),
});
export type AgentStats = z.infer<typeof AgentStatsSchema>;

export const AgentStatusSchema = z.enum(["connecting", "connected", "disconnected", "timeout"]);

export const WorkspaceAgentSchema = z.object({
  id: z.string().uuid(),
  name: z.string(),
  resource_address: z.string(),
  status: AgentStatusSchema,
  lifecycle_state: AgentLifecycleSchema,
  os: z.string(),
  arch: z.string(),
  directory: z.string(),
  apps: z.array(z.record(z.string(), z.unknown())),
  /** The agent binary's version and protocol, as it said in its hello (null before it connected). */
  version: z.string().nullable(),
  api_version: z.number().int().nullable(),
  startup_script_behavior: z.enum(["non-blocking", "blocking"]),
  connection_timeout_seconds: z.number().int(),
  lifecycle_changed_at: z.string().nullable(),
  /** Metadata items as declared in the template, with their latest results (null before the first). */
  metadata: z.array(z.object({ key: z.string(), display_name: z.string(), interval: z.number().int(), result: MetadataResultSchema.nullable() })),
  listening_ports: z.array(ListeningPortSchema),
  stats: AgentStatsSchema.nullable(),
  first_connected_at: z.string().nullable(),
  last_connected_at: z.string().nullable(),
  disconnected_at: z.string().nullable(),
  created_at: z.string(),
});
export type WorkspaceAgent = z.infer<typeof WorkspaceAgentSchema>;

/** What an agent needs to do its job, fetched with its token at start. */
export const AgentManifestSchema = z.object({
  api_version: z.number().int(),
  agent_id: z.string().uuid(),
  agent_name: z.string(),
  workspace_id: z.string().uuid(),
  workspace_name: z.string(),
  owner_username: z.string(),
  directory: z.string(),
  env: z.record(z.string(), z.string()),
  startup_script: z.string(),
  startup_script_behavior: z.enum(["non-blocking", "blocking"]),
  /** The startup script's time limit; past it the lifecycle becomes start_timeout (0: none). */
  startup_script_timeout_seconds: z.number().int().min(0),
  connection_timeout_seconds: z.number().int(),
  apps: z.array(z.record(z.string(), z.unknown())),
  metadata: z.array(z.record(z.string(), z.unknown())),
});
export type AgentManifest = z.infer<typeof AgentManifestSchema>;

/** How a build's agents come back from the provisioner: a new token, or the previous build's kept. */
export const ReportedAgentSchema = z.strictObject({
  name: z.string().min(1).max(64),
  resource_address: z.string().max(300),
  spec: z.record(z.string(), z.unknown()),
  /** Set when the provisioner started the agent with a new token. */
  token: z.string().min(32).max(256).optional(),
  /** Set when the resource holding the agent was kept as it was: its running agent keeps its token. */
  keep: z.boolean().optional(),
});
export type ReportedAgent = z.infer<typeof ReportedAgentSchema>;

export const AgentLogSchema = z.object({
  id: z.number().int(),
  created_at: z.string(),
  level: AgentLogLevelSchema,
  source: z.enum(["startup_script", "agent"]),
  output: z.string(),
});
export type AgentLog = z.infer<typeof AgentLogSchema>;

/**
 * `GET /api/v2/workspaceagents/:agent/logs?after&wait` -> AgentLogsResponse (1000 lines at most per page).
 * `wait` returns early on new lines or a lifecycle change. As a WebSocket: `{"type":"log","log":AgentLog}`
 * for each line and `{"type":"agent","agent":WorkspaceAgent}` at first and on each lifecycle change.
 * An agent stores 10,000 lines / 5 MiB of logs; then one warn line says so and later lines are dropped.
 */
export const AgentLogsQuerySchema = z.strictObject({
  /** Only logs with an id above this (the last one seen). */
  after: z.coerce.number().int().min(0).default(0),
  /** Long-poll up to this many seconds while nothing new is there. */
  wait: z.coerce.number().int().min(0).max(60).default(0),
});

export const AgentLogsResponseSchema = z.object({ logs: z.array(AgentLogSchema), agent: z.lazy(() => WorkspaceAgentSchema) });
export type AgentLogsResponse = z.infer<typeof AgentLogsResponseSchema>;

export const AgentParamSchema = z.strictObject({ agent: z.string().uuid("must be an agent id") });

/**
 * Client relay: `GET agentConnectPath(agent)?kind=ssh|tcp&port=N` upgraded to a WebSocket of raw bytes
 * (binary frames; a text frame from the client is bytes too). Only the workspace's owner (and site
 * owners) may connect. The server checks everything AND opens the stream on the agent before the upgrade,
 * so every refusal is a plain HTTP response with the API error body: 401; 404 (no such agent, or a
 * workspace you cannot see); 403 (you can see it, not enter it); 400 (query); 409 (workspace stopped:
 * the message says `outpost start WS`); 503 (agent not connected: its status and last connection in
 * `detail`; or no answer within 15 s); 502 BAD_GATEWAY (the agent refused the stream, with its reason,
 * e.g. "nothing listens on 127.0.0.1:8080"). Without an upgrade, a request that passes the checks gets 426.
 * Once upgraded: the agent ending its side closes with 1000; an empty binary message from the client is
 * its end-of-input (a half-close: the agent sees EOF and the relay goes on until the agent ends too); the
 * client closing ends the upload (the agent sees EOF and has 5 s to finish); the agent resetting the stream sends a text frame
 * `{"type":"error","error":{"code":"BAD_GATEWAY",...}}` and closes 4502; the agent going away: UNAVAILABLE
 * and 4503; server shutdown: 1001. Every relay counts as use of the workspace.
 */
export { agentConnectPath, workspaceConnectPath } from "./wire-names.js";
export const ConnectQuerySchema = z.strictObject({
  kind: z.enum(["ssh", "tcp"]),
  port: z.coerce.number().int().min(1, "must be a TCP port (1-65535)").max(65535, "must be a TCP port (1-65535)").optional(),
  agent: z.string().max(64).optional(),
}).refine((q) => q.kind !== "tcp" || q.port !== undefined, { path: ["port"], message: "is required with kind=tcp" });

/**
 * Reconnecting terminal: `GET agentPtyPath(agent)?reconnect=UUID&width=W&height=H[&command=...]` upgraded
 * to a WebSocket. The client sends `PtyInput` JSON text frames; the server sends the terminal's output as
 * binary frames, starting with the scrollback when `reconnect` names an existing terminal. Refusals and
 * close codes as for the relay above; input that is not PtyInput JSON in a text frame ends it with an
 * error frame (INVALID_INPUT, naming the field) and close 4400.
 */
export const agentPtyPath = (agentId: string): string => `/api/v2/workspaceagents/${encodeURIComponent(agentId)}/pty`;
export const PtyQuerySchema = z.strictObject({
  reconnect: z.string().uuid("must be a UUID (the terminal's reconnect id)"),
  width: z.coerce.number().int().min(1).max(1000).default(80),
  height: z.coerce.number().int().min(1).max(1000).default(24),
  command: z.string().max(4096).optional(),
});

/**
 * `GET /api/v2/workspaces/:id/watch` (WebSocket, for whoever may read the workspace, else 404 before the
 * upgrade): `{"type":"workspace","workspace":Workspace}` at once and again on every change of the
 * workspace, its builds or its agents (changes within ~100 ms come as one; a slow reader gets the latest).
 * A deleted workspace's last view is followed by close 1000.
 */
export const workspaceWatchPath = (workspaceId: string): string => `/api/v2/workspaces/${encodeURIComponent(workspaceId)}/watch`;

/**
 * Where the server serves the agent binary (and `.sha256` next to it, in sha256sum format). Public; the
 * ETag is the sha256 (`If-None-Match` answers 304); 404 when the server has none built.
 */
export const AGENT_BINARY_PATH = "/bin/outpost-agent-linux-amd64";
