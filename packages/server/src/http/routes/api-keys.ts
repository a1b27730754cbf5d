import { z } from "zod";
import { CreateTokenRequestSchema } from "@outpost/sdk/api-keys";
import { UserParamSchema } from "@outpost/sdk/users";
import * as keys from "../../services/api-keys.js";
import { resolveUser } from "../../services/users.js";
import { route, type RouteDef } from "../route.js";

const KeyParamSchema = z.strictObject({ user: z.string().min(1).max(64), key: z.string().min(1).max(64) });

export const apiKeyRoutes: RouteDef[] = [
  route({
    method: "POST",
    url: "/api/v2/users/:user/keys/tokens",
    authenticated: true,
    action: "create:api_key",
    summary: "Create an API token; the key is shown only in this response",
    params: UserParamSchema,
    body: CreateTokenRequestSchema,
    handler: async ({ deps, caller, params, body, audit, status }) => {
      const owner = await resolveUser(deps, caller.subject, params.user);
      status(201);
      return keys.createToken(deps, caller.subject, owner, body, audit);
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/users/:user/keys/tokens",
    authenticated: true,
    action: "read:api_key",
    summary: "List a user's API tokens (never their secrets)",
    params: UserParamSchema,
    handler: async ({ deps, caller, params }) => keys.listUserTokens(deps, caller.subject, await resolveUser(deps, caller.subject, params.user)),
  }),
  route({
    method: "GET",
    url: "/api/v2/users/:user/keys/:key",
    authenticated: true,
    action: "read:api_key",
    summary: "Get one API key by id or token name",
    params: KeyParamSchema,
    handler: async ({ deps, caller, params }) => keys.getUserKey(deps, caller.subject, await resolveUser(deps, caller.subject, params.user), params.key),
  }),
  route({
    method: "DELETE",
    url: "/api/v2/users/:user/keys/:key",
    authenticated: true,
    action: "delete:api_key",
    summary: "Delete an API key by id or token name; it answers 401 from then on",
    params: KeyParamSchema,
    handler: async ({ deps, caller, params, audit }) => {
      await keys.deleteUserKey(deps, caller.subject, await resolveUser(deps, caller.subject, params.user), params.key, audit);
      return undefined;
    },
  }),
];
