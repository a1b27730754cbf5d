import {
  BuildParamSchema,
  CreateBuildRequestSchema,
  CreateWorkspaceRequestSchema,
  ListWorkspacesQuerySchema,
  UserWorkspaceParamSchema,
  WorkspaceParamSchema,
} from "@outpost/sdk/workspaces";
import { UserParamSchema } from "@outpost/sdk/users";
import * as workspaces from "../../services/workspaces.js";
import { watchWorkspace } from "../../services/workspace-watch.js";
import { route, type RouteDef } from "../route.js";
import { upgradeRequired } from "../../errors.js";

export const workspaceRoutes: RouteDef[] = [
  route({
    method: "GET",
    url: "/api/v2/workspaces",
    authenticated: true,
    action: "read:workspace",
    summary: "List workspaces: owner=me (default), a username, or all; q, template, status filters",
    query: ListWorkspacesQuerySchema,
    handler: async ({ deps, caller, query }) => workspaces.listWorkspaces(deps, caller.subject, query),
  }),
  route({
    method: "POST",
    url: "/api/v2/users/:user/workspaces",
    authenticated: true,
    action: "create:workspace",
    summary: "Create a workspace from a template and queue its first (start) build",
    params: UserParamSchema,
    body: CreateWorkspaceRequestSchema,
    handler: async ({ deps, caller, params, body, audit, status }) => {
      status(201);
      return workspaces.createWorkspace(deps, caller.subject, params.user, body, audit);
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/users/:user/workspaces/:workspace",
    authenticated: true,
    action: "read:workspace",
    summary: "Get a workspace by owner and name",
    params: UserWorkspaceParamSchema,
    handler: async ({ deps, caller, params }) => workspaces.workspaceView(deps, await workspaces.resolveWorkspaceByName(deps, caller.subject, params.user, params.workspace)),
  }),
  route({
    method: "GET",
    url: "/api/v2/workspaces/:workspace",
    authenticated: true,
    action: "read:workspace",
    summary: "Get a workspace by id",
    params: WorkspaceParamSchema,
    handler: async ({ deps, caller, params }) => workspaces.workspaceView(deps, await workspaces.resolveWorkspace(deps, caller.subject, params.workspace)),
  }),
  route({
    method: "GET",
    url: "/api/v2/workspaces/:workspace/watch",
    authenticated: true,
    action: "read:workspace",
    summary: "The workspace (WebSocket): {\"type\":\"workspace\"} now and on every change of it, its builds or its agents",
    params: WorkspaceParamSchema,
    beforeUpgrade: async ({ deps, caller, params }) => void (await workspaces.resolveWorkspace(deps, caller.subject, params.workspace)),
    websocket: async (socket, { deps, params, signal }) => {
      // A slow reader skips intermediate states: it gets the latest one once it catches up.
      const emit = (workspace: unknown) => {
        if (socket.readyState !== socket.OPEN || socket.bufferedAmount > 1024 * 1024) return false;
        socket.send(JSON.stringify({ type: "workspace", workspace }));
        return true;
      };
      if ((await watchWorkspace(deps, params.workspace, emit, signal)) === "deleted" && socket.readyState === socket.OPEN) socket.close(1000, "workspace deleted");
    },
    handler: async ({ deps, caller, params }) => {
      await workspaces.resolveWorkspace(deps, caller.subject, params.workspace);
      throw upgradeRequired();
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/workspaces/:workspace/builds",
    authenticated: true,
    action: "read:workspace",
    summary: "A workspace's builds, newest first",
    params: WorkspaceParamSchema,
    handler: async ({ deps, caller, params }) => workspaces.listBuilds(deps, await workspaces.resolveWorkspace(deps, caller.subject, params.workspace)),
  }),
  route({
    method: "POST",
    url: "/api/v2/workspaces/:workspace/builds",
    authenticated: true,
    action: "build:workspace",
    summary: "Start, stop, update (template_version_id) or delete a workspace",
    params: WorkspaceParamSchema,
    body: CreateBuildRequestSchema,
    handler: async ({ deps, caller, params, body, audit, status }) => {
      const w = await workspaces.resolveWorkspace(deps, caller.subject, params.workspace);
      status(201);
      return workspaces.createBuild(deps, caller.subject, w, body, audit);
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/workspacebuilds/:build",
    authenticated: true,
    action: "read:workspace",
    summary: "Get a build",
    params: BuildParamSchema,
    handler: async ({ deps, caller, params }) => workspaces.buildView(deps, (await workspaces.resolveBuild(deps, caller.subject, params.build)).build),
  }),
  route({
    method: "PATCH",
    url: "/api/v2/workspacebuilds/:build/cancel",
    authenticated: true,
    action: "build:workspace",
    summary: "Cancel a pending or running build",
    params: BuildParamSchema,
    handler: async ({ deps, caller, params, audit }) => {
      const { build, workspace } = await workspaces.resolveBuild(deps, caller.subject, params.build);
      return workspaces.cancelBuild(deps, caller.subject, build, workspace, audit);
    },
  }),
];
