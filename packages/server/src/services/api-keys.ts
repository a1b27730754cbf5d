import { createHash, randomInt, timingSafeEqual } from "node:crypto";
import { API_KEY_ID_LENGTH, API_KEY_PATTERN, API_KEY_SECRET_LENGTH, type ApiKey, type CreateTokenRequest, type CreateTokenResponse } from "@outpost/sdk/api-keys";
import { deleteApiKey, getApiKey, getTokenByName, insertApiKey, listTokens, touchApiKey, type ApiKeyRow } from "../db/queries/api-keys.js";
import { getUserById, type UserRow } from "../db/queries/users.js";
import { uniqueViolation } from "../db/pool.js";
import { ApiError, invalidField, notFound, unauthenticated } from "../errors.js";
import type { AuditSink } from "./audit.js";
import { toApiKey } from "./convert.js";
import type { Deps } from "./deps.js";
import { authorize, type Subject } from "./rbac.js";

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
// last_used_at is bookkeeping; writing it on every request would turn each read into a write.
const TOUCH_INTERVAL_MS = 60_000;

function randomString(length: number): string {
  let s = "";
  for (let i = 0; i < length; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

export function hashSecret(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}

export interface NewKey {
  userId: string;
  name: string;
  loginType: "password" | "token";
  lifetimeMs: number;
}

export async function createApiKey(deps: Deps, k: NewKey): Promise<{ key: string; row: ApiKeyRow }> {
  const id = randomString(API_KEY_ID_LENGTH);
  const secret = randomString(API_KEY_SECRET_LENGTH);
  const now = deps.clock.now();
  const row = await insertApiKey(deps.db, {
    id,
    hashed_secret: hashSecret(secret),
    user_id: k.userId,
    name: k.name,
    login_type: k.loginType,
    lifetime_seconds: Math.max(1, Math.round(k.lifetimeMs / 1000)),
    created_at: now,
    expires_at: new Date(now.getTime() + k.lifetimeMs),
  });
  return { key: `${id}-${secret}`, row };
}

/** Resolves a presented `ID-SECRET` to its key and active user, or throws 401 saying why. */
export async function authenticateKey(deps: Deps, presented: string): Promise<{ key: ApiKeyRow; user: UserRow }> {
  const m = API_KEY_PATTERN.exec(presented);
  if (!m) throw unauthenticated("invalid session token", "the token is not in ID-SECRET form");
  const key = await getApiKey(deps.db, m[1]!);
  const given = hashSecret(m[2]!);
  if (!key || key.hashed_secret.length !== given.length || !timingSafeEqual(key.hashed_secret, given)) {
    throw unauthenticated("invalid session token", "the token does not exist or was deleted; log in again");
  }
  const now = deps.clock.now();
  if (key.expires_at.getTime() <= now.getTime()) throw unauthenticated("session token expired", `expired at ${key.expires_at.toISOString()}; log in again`);
  const user = await getUserById(deps.db, key.user_id);
  if (!user) throw unauthenticated("invalid session token", "the token's user was deleted");
  if (user.status !== "active") throw unauthenticated("account suspended", "ask an administrator to activate your account");
  if (!key.last_used_at || now.getTime() - key.last_used_at.getTime() > TOUCH_INTERVAL_MS) {
    await touchApiKey(deps.db, key.id, now);
  }
  return { key, user };
}

function tokenObject(ownerId: string) {
  return { type: "api_key" as const, ownerId };
}

export async function createToken(deps: Deps, subject: Subject, owner: UserRow, req: CreateTokenRequest, audit: AuditSink): Promise<CreateTokenResponse> {
  if (!authorize(subject, "create", tokenObject(owner.id))) {
    throw authorize(subject, "read", tokenObject(owner.id)) ? new ApiError("FORBIDDEN", "you may not create tokens for this user") : notFound("user");
  }
  const lifetimeMs = req.lifetime_seconds !== undefined ? req.lifetime_seconds * 1000 : deps.config.defaultTokenLifetimeMs;
  // lifetime_seconds is a 32-bit column (about 68 years): a longer deployment maximum cannot be honoured.
  const maxSeconds = Math.min(Math.floor(deps.config.maxTokenLifetimeMs / 1000), 2_147_483_647);
  if (lifetimeMs > maxSeconds * 1000) {
    throw invalidField("lifetime_seconds", `must be at most ${maxSeconds} seconds (the deployment's maximum token lifetime)`);
  }
  try {
    const { key, row } = await createApiKey(deps, { userId: owner.id, name: req.name, loginType: "token", lifetimeMs });
    audit.set({ action: "create", resourceType: "api_key", resourceId: row.id, resourceName: row.name, new: row });
    return { key, token: toApiKey(row) };
  } catch (err) {
    if (uniqueViolation(err)) throw new ApiError("CONFLICT", `a token named "${req.name}" already exists`, undefined, [{ field: "name", detail: "is already in use" }]);
    throw err;
  }
}

export async function listUserTokens(deps: Deps, subject: Subject, owner: UserRow): Promise<ApiKey[]> {
  if (!authorize(subject, "read", tokenObject(owner.id))) throw notFound("user");
  return (await listTokens(deps.db, owner.id)).map(toApiKey);
}

async function findKey(deps: Deps, subject: Subject, owner: UserRow, idOrName: string): Promise<ApiKeyRow> {
  if (!authorize(subject, "read", tokenObject(owner.id))) throw notFound("user");
  const byId = await getApiKey(deps.db, idOrName);
  const key = byId && byId.user_id === owner.id ? byId : await getTokenByName(deps.db, owner.id, idOrName);
  if (!key) throw notFound("token");
  return key;
}

export async function getUserKey(deps: Deps, subject: Subject, owner: UserRow, idOrName: string): Promise<ApiKey> {
  return toApiKey(await findKey(deps, subject, owner, idOrName));
}

export async function deleteUserKey(deps: Deps, subject: Subject, owner: UserRow, idOrName: string, audit: AuditSink): Promise<void> {
  const key = await findKey(deps, subject, owner, idOrName);
  if (!authorize(subject, "delete", tokenObject(owner.id))) throw new ApiError("FORBIDDEN", "you may not delete this user's tokens");
  audit.set({ action: "delete", resourceType: "api_key", resourceId: key.id, resourceName: key.name, old: key });
  if (!(await deleteApiKey(deps.db, key.id))) throw notFound("token");
}
