import { route, type RouteDef } from "../route.js";

export const metaRoutes: RouteDef[] = [
  route({
    method: "GET",
    url: "/healthz",
    authenticated: false,
    action: "public",
    summary: "Liveness and database check",
    handler: async ({ deps }) => {
      await deps.db.query("SELECT 1");
      return { status: "ok" };
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/buildinfo",
    authenticated: false,
    action: "public",
    summary: "Server version and commit",
    handler: async ({ deps }) => deps.buildInfo,
  }),
];
