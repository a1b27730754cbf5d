import { AuditQuerySchema } from "@outpost/sdk/audit";
import { listAudit } from "../../services/audit.js";
import { route, type RouteDef } from "../route.js";

export const auditRoutes: RouteDef[] = [
  route({
    method: "GET",
    url: "/api/v2/audit",
    authenticated: true,
    action: "read:audit_log",
    summary: "Audit log, newest first, filtered by username, action, resource_type, resource_id, status, since, until",
    query: AuditQuerySchema,
    handler: async ({ deps, caller, query }) => listAudit(deps, caller.subject, query),
  }),
];
