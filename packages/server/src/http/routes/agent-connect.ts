// Client relays into a workspace (WebSocket of raw bytes): ssh or tcp:PORT by agent id or by names, and
// the reconnecting terminal. Every check, and opening the stream on the agent, happens before the
// upgrade: a refusal is a plain HTTP error (404, 403, 409 not running, 503 agent not connected, 502 the
// agent refused, e.g. nothing listens on the port). Without an upgrade the checks run and answer 426.
import { AgentParamSchema, ConnectQuerySchema, PtyQuerySchema } from "@outpost/sdk/agents";
import { encodeNdjson, STREAM_KIND, type PtyInit } from "@outpost/sdk/agent-rpc";
import type { MuxStream } from "@outpost/sdk/mux";
import { UserWorkspaceParamSchema } from "@outpost/sdk/workspaces";
import type { AgentConnection } from "../../services/agent-connection.js";
import { connectableAgent, openAgentStream, resolveAgent, resolveAgentByName } from "../../services/agent-streams.js";
import type { Deps } from "../../services/deps.js";
import { ptyInput, rawBytes, relay } from "../relay.js";
import { route, type LiveSocket, type RouteDef } from "../route.js";
import { upgradeRequired } from "../../errors.js";

interface Opened {
  conn: AgentConnection;
  stream: MuxStream;
  /** The relay owns the stream from now on (the pre-upgrade cleanup is disarmed). */
  adopt(): void;
}

const kindOf = (q: { kind: "ssh" | "tcp"; port?: number }) => (q.kind === "ssh" ? STREAM_KIND.ssh : STREAM_KIND.tcp(q.port!));

/** Opens the stream; if the upgrade never happens (the client left), `signal` resets it. */
async function open(conn: AgentConnection, kind: string, signal: AbortSignal, init?: Uint8Array): Promise<Opened> {
  const stream = await openAgentStream(conn, kind);
  const abandon = () => stream.reset("the client went away before the upgrade");
  signal.addEventListener("abort", abandon, { once: true });
  if (signal.aborted) abandon();
  if (init) stream.write(init).catch(() => undefined);
  return { conn, stream, adopt: () => signal.removeEventListener("abort", abandon) };
}

function startRelay(deps: Deps, socket: LiveSocket, { conn, stream, adopt }: Opened, signal: AbortSignal, pty: boolean): void {
  adopt();
  const release = deps.agentConns.trackRelay(conn.workspaceId);
  relay(socket, stream, { encodeInput: pty ? ptyInput : rawBytes, halfClose: !pty, onEnd: release, signal });
}

export const agentConnectRoutes: RouteDef[] = [
  route({
    method: "GET",
    url: "/api/v2/workspaceagents/:agent/connect",
    authenticated: true,
    action: "ssh:workspace",
    summary: "Relay to the agent (WebSocket of raw bytes): kind=ssh, or kind=tcp&port=N inside the workspace",
    params: AgentParamSchema,
    query: ConnectQuerySchema,
    beforeUpgrade: async ({ deps, caller, params, query, signal }) => {
      const conn = await connectableAgent(deps, caller.subject, await resolveAgent(deps, caller.subject, params.agent));
      return open(conn, kindOf(query), signal);
    },
    websocket: (socket, { deps, signal }, opened) => startRelay(deps, socket, opened, signal, false),
    handler: async ({ deps, caller, params }) => {
      await connectableAgent(deps, caller.subject, await resolveAgent(deps, caller.subject, params.agent));
      throw upgradeRequired();
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/users/:user/workspaces/:workspace/connect",
    authenticated: true,
    action: "ssh:workspace",
    summary: "The same relay by names (`outpost ssh --stdio`): `agent` picks one of several agents",
    params: UserWorkspaceParamSchema,
    query: ConnectQuerySchema,
    beforeUpgrade: async ({ deps, caller, params, query, signal }) => {
      const target = await resolveAgentByName(deps, caller.subject, params.user, params.workspace, query.agent);
      return open(await connectableAgent(deps, caller.subject, target), kindOf(query), signal);
    },
    websocket: (socket, { deps, signal }, opened) => startRelay(deps, socket, opened, signal, false),
    handler: async ({ deps, caller, params, query }) => {
      const target = await resolveAgentByName(deps, caller.subject, params.user, params.workspace, query.agent);
      await connectableAgent(deps, caller.subject, target);
      throw upgradeRequired();
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/workspaceagents/:agent/pty",
    authenticated: true,
    action: "ssh:workspace",
    summary: "Reconnecting terminal (WebSocket): PtyInput JSON text frames in, the terminal's output as binary frames out",
    params: AgentParamSchema,
    query: PtyQuerySchema,
    beforeUpgrade: async ({ deps, caller, params, query, signal }) => {
      const conn = await connectableAgent(deps, caller.subject, await resolveAgent(deps, caller.subject, params.agent));
      const init: PtyInit = { id: query.reconnect, width: query.width, height: query.height, ...(query.command !== undefined ? { command: query.command } : {}) };
      return open(conn, STREAM_KIND.pty, signal, encodeNdjson(init));
    },
    websocket: (socket, { deps, signal }, opened) => startRelay(deps, socket, opened, signal, true),
    handler: async ({ deps, caller, params }) => {
      await connectableAgent(deps, caller.subject, await resolveAgent(deps, caller.subject, params.agent));
      throw upgradeRequired();
    },
  }),
];
