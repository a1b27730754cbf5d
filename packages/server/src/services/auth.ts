import type { LoginRequest } from "@outpost/sdk/auth";
import { deleteApiKey, type ApiKeyRow } from "../db/queries/api-keys.js";
import { getUserByEmail, type UserRow } from "../db/queries/users.js";
import { ApiError, unauthenticated } from "../errors.js";
import { createApiKey } from "./api-keys.js";
import type { AuditSink } from "./audit.js";
import type { Deps } from "./deps.js";
import { dummyPasswordHash, verifyPassword } from "./passwords.js";

const IP_WINDOW_MS = 60_000;
const ACCOUNT_WINDOW_MS = 15 * 60_000;

function rateLimited(seconds: number, why: string): ApiError {
  return new ApiError("RATE_LIMITED", "too many login attempts", `${why}; try again in ${seconds} s`, undefined, { "retry-after": String(seconds) });
}

/** Checks the password and opens a session. Limits attempts per IP and failed attempts per account. */
export async function login(deps: Deps, req: LoginRequest, ip: string, audit: AuditSink): Promise<{ key: string; user: UserRow }> {
  const { config, loginLimiter } = deps;
  const account = `account:${req.email.toLowerCase()}`;
  const ipWait = loginLimiter.hit(`ip:${ip}`, config.loginRateLimitIp, IP_WINDOW_MS);
  if (ipWait) throw rateLimited(ipWait, "too many attempts from your address");
  const accountWait = loginLimiter.blockedFor(account, config.loginRateLimitAccount, ACCOUNT_WINDOW_MS);
  if (accountWait) throw rateLimited(accountWait, "too many failed attempts for this account");

  const user = await getUserByEmail(deps.db, req.email);
  audit.set({ action: "login", resourceType: "user", resourceId: user?.id ?? "", resourceName: user?.username ?? req.email.slice(0, 254), userId: user?.id ?? null });
  const ok = user ? await verifyPassword(user.hashed_password, req.password) : await verifyPassword(await dummyPasswordHash(), req.password).then(() => false);
  if (!user || !ok) {
    loginLimiter.hit(account, config.loginRateLimitAccount, ACCOUNT_WINDOW_MS);
    throw unauthenticated("incorrect email or password");
  }
  if (user.status !== "active") throw unauthenticated("account suspended", "ask an administrator to activate your account");
  loginLimiter.reset(account);
  const { key } = await createApiKey(deps, { userId: user.id, name: "session", loginType: "password", lifetimeMs: config.sessionDurationMs });
  return { key, user };
}

export async function logout(deps: Deps, key: ApiKeyRow, user: UserRow, audit: AuditSink): Promise<void> {
  audit.set({ action: "logout", resourceType: "user", resourceId: user.id, resourceName: user.username });
  await deleteApiKey(deps.db, key.id);
}
