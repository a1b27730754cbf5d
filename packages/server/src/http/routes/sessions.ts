import { SESSION_COOKIE, LoginRequestSchema } from "@outpost/sdk/auth";
import { CreateFirstUserRequestSchema } from "@outpost/sdk/users";
import { login, logout } from "../../services/auth.js";
import { createFirstUser, isSetupDone } from "../../services/users.js";
import { route, type RouteDef } from "../route.js";

export const sessionRoutes: RouteDef[] = [
  route({
    method: "GET",
    url: "/api/v2/users/first",
    authenticated: false,
    action: "public",
    summary: "Whether the first user (site owner) has been created",
    handler: async ({ deps }) => ({ setup_done: await isSetupDone(deps) }),
  }),
  route({
    method: "POST",
    url: "/api/v2/users/first",
    authenticated: false,
    action: "public",
    summary: "Create the first user as site owner (409 once any user exists)",
    body: CreateFirstUserRequestSchema,
    handler: async ({ deps, body, audit, status }) => {
      status(201);
      return createFirstUser(deps, body, audit);
    },
  }),
  route({
    method: "POST",
    url: "/api/v2/users/login",
    authenticated: false,
    action: "public",
    summary: "Log in with email and password; returns a session token and sets the session cookie",
    body: LoginRequestSchema,
    handler: async ({ deps, body, ip, audit, reply, status }) => {
      const { key } = await login(deps, body, ip, audit);
      reply.setCookie(SESSION_COOKIE, key, {
        path: "/",
        httpOnly: true,
        sameSite: "lax",
        secure: deps.config.secureAuthCookie,
        maxAge: Math.floor(deps.config.sessionDurationMs / 1000),
      });
      status(201);
      return { session_token: key };
    },
  }),
  route({
    method: "POST",
    url: "/api/v2/users/logout",
    authenticated: true,
    action: "session",
    summary: "End the current session (deletes the key used for this request) and clear the cookie",
    handler: async ({ deps, caller, audit, reply }) => {
      await logout(deps, caller.key, caller.user, audit);
      reply.clearCookie(SESSION_COOKIE, { path: "/" });
      return undefined;
    },
  }),
];
