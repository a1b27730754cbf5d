import { z } from "zod";

/** The agent <-> server protocol version; both sides refuse a mismatch with a clear message. */
export const AGENT_API_VERSION = 1;

/** Agents authenticate with the token the provisioner put in their environment. */
export const AGENT_TOKEN_HEADER = "Outpost-Agent-Token";
export const AGENT_TOKEN_ENV = "OUTPOST_AGENT_TOKEN";
export const AGENT_URL_ENV = "OUTPOST_AGENT_URL";

export const AgentLifecycleSchema = z.enum(["created", "starting", "ready", "start_error", "start_timeout", "shutting_down", "off"]);
export type AgentLifecycle = z.infer<typeof AgentLifecycleSchema>;

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
