import { z } from "zod";
import {
  CreateUserRequestSchema,
  ListUsersQuerySchema,
  UpdatePasswordRequestSchema,
  UpdateProfileRequestSchema,
  UpdateRolesRequestSchema,
  UserParamSchema,
} from "@outpost/sdk/users";
import { toUser } from "../../services/convert.js";
import * as users from "../../services/users.js";
import { route, type RouteDef } from "../route.js";

const StatusParamSchema = z.strictObject({ user: z.string().min(1).max(64), status: z.enum(["suspend", "activate"]) });

export const userRoutes: RouteDef[] = [
  route({
    method: "GET",
    url: "/api/v2/users",
    authenticated: true,
    action: "read:user",
    summary: "List users with search (q), status and role filters and pagination",
    query: ListUsersQuerySchema,
    handler: async ({ deps, caller, query }) => users.listUsers(deps, caller.subject, query),
  }),
  route({
    method: "POST",
    url: "/api/v2/users",
    authenticated: true,
    action: "create:user",
    summary: "Create a user (owner, user-admin)",
    body: CreateUserRequestSchema,
    handler: async ({ deps, caller, body, audit, status }) => {
      status(201);
      return users.createUser(deps, caller.subject, body, audit);
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/users/:user",
    authenticated: true,
    action: "read:user",
    summary: "Get a user by `me`, username or id",
    params: UserParamSchema,
    handler: async ({ deps, caller, params }) => toUser(await users.resolveUser(deps, caller.subject, params.user)),
  }),
  route({
    method: "PUT",
    url: "/api/v2/users/:user/profile",
    authenticated: true,
    action: "update:user",
    summary: "Update username and display name",
    params: UserParamSchema,
    body: UpdateProfileRequestSchema,
    handler: async ({ deps, caller, params, body, audit }) => {
      const target = await users.resolveUser(deps, caller.subject, params.user);
      return users.updateProfile(deps, caller.subject, target, body, audit);
    },
  }),
  route({
    method: "PUT",
    url: "/api/v2/users/:user/password",
    authenticated: true,
    action: "update_password:user",
    summary: "Change a password (your own needs old_password); ends the user's other sessions",
    params: UserParamSchema,
    body: UpdatePasswordRequestSchema,
    handler: async ({ deps, caller, params, body, audit }) => {
      const target = await users.resolveUser(deps, caller.subject, params.user);
      await users.updatePassword(deps, caller.subject, target, body, caller.key.id, audit);
      return undefined;
    },
  }),
  route({
    method: "PUT",
    url: "/api/v2/users/:user/status/:status",
    authenticated: true,
    action: "update_status:user",
    summary: "Suspend or activate a user",
    params: StatusParamSchema,
    handler: async ({ deps, caller, params, audit }) => {
      const target = await users.resolveUser(deps, caller.subject, params.user);
      return users.setStatus(deps, caller.subject, target, params.status === "suspend" ? "suspended" : "active", audit);
    },
  }),
  route({
    method: "PUT",
    url: "/api/v2/users/:user/roles",
    authenticated: true,
    action: "assign_role:user",
    summary: "Replace a user's site roles",
    params: UserParamSchema,
    body: UpdateRolesRequestSchema,
    handler: async ({ deps, caller, params, body, audit }) => {
      const target = await users.resolveUser(deps, caller.subject, params.user);
      return users.setRoles(deps, caller.subject, target, body.roles, audit);
    },
  }),
  route({
    method: "DELETE",
    url: "/api/v2/users/:user",
    authenticated: true,
    action: "delete:user",
    summary: "Delete a user (soft: their name and email become free; their keys are revoked)",
    params: UserParamSchema,
    handler: async ({ deps, caller, params, audit }) => {
      const target = await users.resolveUser(deps, caller.subject, params.user);
      await users.deleteUser(deps, caller.subject, target, audit);
      return undefined;
    },
  }),
];
