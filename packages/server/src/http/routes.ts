import type { RouteDef } from "./route.js";
import { apiKeyRoutes } from "./routes/api-keys.js";
import { auditRoutes } from "./routes/audit.js";
import { metaRoutes } from "./routes/meta.js";
import { sessionRoutes } from "./routes/sessions.js";
import { userRoutes } from "./routes/users.js";
import { agentRoutes } from "./routes/agents.js";
import { agentBinaryRoutes } from "./routes/agent-binary.js";
import { agentConnectRoutes } from "./routes/agent-connect.js";
import { jobRoutes } from "./routes/jobs.js";
import { templateRoutes } from "./routes/templates.js";
import { workspaceRoutes } from "./routes/workspaces.js";

/** Every route the server serves; the authz matrix test walks this list. */
export function allRoutes(): RouteDef[] {
  return [...metaRoutes, ...sessionRoutes, ...userRoutes, ...apiKeyRoutes, ...auditRoutes, ...templateRoutes, ...workspaceRoutes, ...jobRoutes, ...agentRoutes, ...agentConnectRoutes, ...agentBinaryRoutes];
}
