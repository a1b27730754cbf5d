import { AGENT_TOKEN_HEADER } from "@outpost/sdk/agents";
import { agentManifest, authenticateAgent } from "../../services/agents.js";
import { route, type RouteDef } from "../route.js";

export const agentRoutes: RouteDef[] = [
  // The agent API, authenticated by the agent token from the workspace's environment.
  route({
    method: "GET",
    url: "/api/v2/workspaceagents/me/manifest",
    authenticated: false,
    action: "agent",
    summary: "What the calling agent should run: directory, environment, startup script, apps, metadata",
    handler: async ({ deps, request }) => {
      const header = request.headers[AGENT_TOKEN_HEADER.toLowerCase()];
      const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
      return agentManifest(deps, await authenticateAgent(deps, typeof header === "string" ? header : bearer));
    },
  }),
];
