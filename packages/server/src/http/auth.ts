import type { FastifyRequest } from "fastify";
import { CSRF_HEADER, SESSION_COOKIE, SESSION_TOKEN_HEADER } from "@outpost/sdk/auth";
import { touchUserLastSeen } from "../db/queries/users.js";
import { ApiError } from "../errors.js";
import { authenticateKey } from "../services/api-keys.js";
import type { Deps } from "../services/deps.js";
import { subjectOf } from "../services/users.js";
import type { Caller } from "./route.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const LAST_SEEN_INTERVAL_MS = 60_000;

function presentedToken(req: FastifyRequest): { token: string; fromCookie: boolean } | undefined {
  const header = req.headers[SESSION_TOKEN_HEADER.toLowerCase()];
  if (typeof header === "string" && header) return { token: header, fromCookie: false };
  const authz = req.headers.authorization;
  if (authz) {
    const m = /^Bearer\s+(\S+)$/i.exec(authz);
    if (m) return { token: m[1]!, fromCookie: false };
  }
  const cookie = req.cookies?.[SESSION_COOKIE];
  if (cookie) return { token: cookie, fromCookie: true };
  return undefined;
}

/**
 * A cookie is sent by the browser on any request, including one forged by another site; a custom
 * header is not (it needs a CORS preflight we never grant), so cookie-authenticated writes need it.
 */
function checkCsrf(req: FastifyRequest): void {
  // A WebSocket is opened with GET but carries the cookie cross-site too; browsers always send its
  // Origin (and cannot add our header), so the Origin must be this server.
  if (req.headers.upgrade?.toLowerCase() === "websocket") {
    if (!sameOrigin(req)) throw new ApiError("FORBIDDEN", "CSRF check failed", "a WebSocket authenticated by cookie must come from this server's origin");
    return;
  }
  if (SAFE_METHODS.has(req.method)) return;
  if (!req.headers[CSRF_HEADER.toLowerCase()]) {
    throw new ApiError("FORBIDDEN", "CSRF check failed", `requests authenticated by cookie must send the ${CSRF_HEADER} header`);
  }
  const origin = req.headers.origin;
  if (origin && origin !== "null" && !sameOrigin(req)) throw new ApiError("FORBIDDEN", "CSRF check failed", "the request's Origin does not match this server");
}

function sameOrigin(req: FastifyRequest): boolean {
  try {
    return new URL(req.headers.origin ?? "").host === req.headers.host;
  } catch {
    return false;
  }
}

/** Resolves the caller from the request's token; undefined when no token was presented. */
export async function resolveCaller(deps: Deps, req: FastifyRequest): Promise<Caller | undefined> {
  const presented = presentedToken(req);
  if (!presented) return undefined;
  const { key, user } = await authenticateKey(deps, presented.token);
  if (presented.fromCookie) checkCsrf(req);
  const now = deps.clock.now();
  if (!user.last_seen_at || now.getTime() - user.last_seen_at.getTime() > LAST_SEEN_INTERVAL_MS) {
    await touchUserLastSeen(deps.db, user.id, now);
  }
  return { key, user, subject: subjectOf(user) };
}
