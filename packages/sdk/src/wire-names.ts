// The few names of the wire contract that a fast, zod-free client needs (the CLI's `ssh --stdio`
// ProxyCommand starts on every SSH connection, and loading zod costs more than the rest of its start).
// No imports: the modules with the schemas import these from here.

/** Clients send their session token in this header (or the session cookie). */
export const SESSION_TOKEN_HEADER = "Outpost-Session-Token";

/** Usernames and workspace names: lowercase letters, digits and single dashes, at most 32. */
export const NAME_PATTERN = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,31}$/;

/** Agent names (the template's `agent({ name })`, `outpost ssh WS.NAME`): lowercase letters, digits, dashes. */
export const AGENT_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

/** Client relay to an agent by id (see the contract in agents.ts). */
export const agentConnectPath = (agentId: string): string => `/api/v2/workspaceagents/${encodeURIComponent(agentId)}/connect`;
/** The same by names, so `outpost ssh --stdio` needs one request: `?agent=NAME` picks one of several. */
export const workspaceConnectPath = (user: string, workspace: string): string => `/api/v2/users/${encodeURIComponent(user)}/workspaces/${encodeURIComponent(workspace)}/connect`;
