import { AgentLogsQuerySchema, AgentParamSchema } from "@outpost/sdk/agents";
import { AGENT_RPC_PATH } from "@outpost/sdk/agent-rpc";
import { upgradeRequired } from "../../errors.js";
import { waitForAgentLogs } from "../../services/agent-logs.js";
import { resolveAgent } from "../../services/agent-streams.js";
import { agentManifest, authenticateAgent, toAgent } from "../../services/agents.js";
import { acceptAgent, presentedAgentToken, runAgentSocket, type AgentUpgrade } from "../agent-socket.js";
import { route, type RouteDef } from "../route.js";

export const agentRoutes: RouteDef[] = [
  // The agent API, authenticated by the agent token from the workspace's environment.
  route({
    method: "GET",
    url: "/api/v2/workspaceagents/me/manifest",
    authenticated: false,
    action: "agent",
    summary: "What the calling agent should run: directory, environment, startup script, apps, metadata",
    handler: async ({ deps, request }) => agentManifest(deps, await authenticateAgent(deps, presentedAgentToken(request))),
  }),
  route({
    method: "GET",
    url: AGENT_RPC_PATH,
    authenticated: false,
    action: "agent",
    summary: "The agent's tunnel (WebSocket, agent token and Outpost-Agent-Api-Version headers): a mux carrying its reports and the server's ssh/tcp/pty streams",
    beforeUpgrade: async ({ deps, request }): Promise<AgentUpgrade> => acceptAgent(deps, request),
    websocket: (socket, { deps }, upgrade) => runAgentSocket(deps, socket, upgrade),
    handler: async ({ deps, request }) => {
      await acceptAgent(deps, request);
      throw upgradeRequired();
    },
  }),
  // --- for users: whoever may read the workspace ---
  route({
    method: "GET",
    url: "/api/v2/workspaceagents/:agent",
    authenticated: true,
    action: "read:workspace",
    summary: "An agent: status, lifecycle, version, metadata results, listening ports, stats",
    params: AgentParamSchema,
    handler: async ({ deps, caller, params }) => toAgent((await resolveAgent(deps, caller.subject, params.agent)).agent, deps.clock.now()),
  }),
  route({
    method: "GET",
    url: "/api/v2/workspaceagents/:agent/logs",
    authenticated: true,
    action: "read:workspace",
    summary: "An agent's logs after an offset, with the agent; `wait` long-polls for new lines or a lifecycle change (also a WebSocket of lines)",
    params: AgentParamSchema,
    query: AgentLogsQuerySchema,
    handler: async ({ deps, caller, params, query, signal }) => {
      await resolveAgent(deps, caller.subject, params.agent);
      return waitForAgentLogs(deps, params.agent, query.after, query.wait, signal);
    },
    beforeUpgrade: async ({ deps, caller, params }) => void (await resolveAgent(deps, caller.subject, params.agent)),
    // Lines as {"type":"log","log":...}; the agent as {"type":"agent","agent":...} whenever its lifecycle changes.
    websocket: async (socket, { deps, params, query, signal }) => {
      let after = query.after;
      let lifecycle: string | undefined;
      while (!signal.aborted) {
        const { logs, agent } = await waitForAgentLogs(deps, params.agent, after, 25, signal);
        if (signal.aborted || socket.readyState !== socket.OPEN) return;
        for (const log of logs) socket.send(JSON.stringify({ type: "log", log }));
        after = logs.at(-1)?.id ?? after;
        if (agent.lifecycle_state !== lifecycle) socket.send(JSON.stringify({ type: "agent", agent }));
        lifecycle = agent.lifecycle_state;
      }
    },
  }),
];
