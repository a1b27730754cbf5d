// The agent's WebSocket (AGENT_RPC_PATH): authentication and version checks before the upgrade, then a
// Mux over the socket (binary messages, one frame each), registered in deps.agentConns.
import { AGENT_API_VERSION, AGENT_BINARY_PATH, AGENT_TOKEN_HEADER, type AgentManifest } from "@outpost/sdk/agents";
import { AGENT_CLOSE, AGENT_VERSION_HEADER } from "@outpost/sdk/agent-rpc";
import { Mux } from "@outpost/sdk/mux";
import type { FastifyRequest } from "fastify";
import type { AgentRow } from "../db/queries/workspace-agents.js";
import { ApiError } from "../errors.js";
import { AgentConnection } from "../services/agent-connection.js";
import { serveAgent } from "../services/agent-rpc.js";
import { agentManifest, authenticateAgent } from "../services/agents.js";
import type { Deps } from "../services/deps.js";
import type { LiveSocket } from "./route.js";

export const AGENT_KEEPALIVE = { intervalMs: 15_000, timeoutMs: 45_000 } as const;

export function presentedAgentToken(request: FastifyRequest): string | undefined {
  const header = request.headers[AGENT_TOKEN_HEADER.toLowerCase()];
  if (typeof header === "string" && header) return header;
  return /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
}

/** The agent's protocol version header: 400 when missing or garbled, 426 when it is not ours. */
function checkApiVersion(deps: Deps, request: FastifyRequest): void {
  const raw = request.headers[AGENT_VERSION_HEADER.toLowerCase()];
  const field = `headers.${AGENT_VERSION_HEADER}`;
  if (typeof raw !== "string" || !/^\d{1,9}$/.test(raw.trim())) {
    throw new ApiError("INVALID_INPUT", `missing or malformed ${AGENT_VERSION_HEADER} header`, `send the agent's protocol version; this server speaks version ${AGENT_API_VERSION}`, [
      { field, detail: raw === undefined ? "is required" : "must be an integer" },
    ]);
  }
  const version = Number(raw.trim());
  if (version === AGENT_API_VERSION) return;
  const binary = `${deps.config.accessUrl}${AGENT_BINARY_PATH}`;
  throw new ApiError(
    "UPGRADE_REQUIRED",
    `agent protocol version ${version} does not match the server's version ${AGENT_API_VERSION}: run the agent this server serves at ${binary}`,
    version < AGENT_API_VERSION
      ? `the agent is older than the server: download ${binary}, replace the agent with it and restart it (or rebuild the workspace, whose init script fetches it)`
      : `the agent is newer than the server: upgrade the server, or run the agent it serves at ${binary}`,
  );
}

export interface AgentUpgrade {
  agent: AgentRow;
  manifest: AgentManifest;
}

/** Everything decided before the upgrade: 401 (token), 400/426 (version), 404 (workspace gone). */
export async function acceptAgent(deps: Deps, request: FastifyRequest): Promise<AgentUpgrade> {
  const agent = await authenticateAgent(deps, presentedAgentToken(request));
  checkApiVersion(deps, request);
  return { agent, manifest: await agentManifest(deps, agent) };
}

/** Runs the agent's connection on an upgraded socket. Synchronous up to the listeners (no message is lost). */
export function runAgentSocket(deps: Deps, socket: LiveSocket, { agent, manifest }: AgentUpgrade): void {
  const mux = new Mux({ isInitiator: false, send: (frame) => socket.send(frame, { binary: true }), keepalive: AGENT_KEEPALIVE });
  const conn = new AgentConnection(
    mux,
    { close: (code, reason) => socket.close(code, reason), terminate: () => socket.terminate() },
    { agentId: agent.id, agentName: agent.name, workspaceId: agent.workspace_id, hashedToken: agent.hashed_token, connectedAt: deps.clock.now() },
  );
  socket.on("message", (data, isBinary) => {
    if (!isBinary) return conn.close(AGENT_CLOSE.PROTOCOL, "text frames are not part of the agent protocol: send mux frames as binary messages");
    mux.receive(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : new Uint8Array(data));
  });
  socket.on("close", () => {
    mux.destroy("websocket closed");
    void deps.agentConns.detach(conn).catch((err) => deps.logger.warn({ err, agentId: conn.agentId }, "recording an agent disconnect failed"));
  });
  void mux.closed.then((err) => {
    if (err.code === "TIMEOUT") {
      deps.logger.info({ agentId: conn.agentId, reason: err.message }, "agent connection timed out");
      conn.terminate(err.message);
    } else if (err.code === "PROTOCOL") {
      deps.logger.warn({ agentId: conn.agentId, reason: err.message }, "agent mux protocol error");
      conn.close(AGENT_CLOSE.PROTOCOL, err.message);
    } else {
      conn.close(1000, err.message);
    }
  });
  deps.agentConns.attach(conn).catch((err) => deps.logger.warn({ err, agentId: conn.agentId }, "recording an agent connect failed"));
  void serveAgent(deps, conn, manifest);
}
