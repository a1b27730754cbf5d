import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { getProvisionerKey } from "../db/queries/provisioner-daemons.js";
import { unauthenticated } from "../errors.js";
import type { Deps } from "./deps.js";

/** Who a provisioner daemon is: a key's holder, or the server's own built-in daemons (keyId null). */
export interface DaemonAuth {
  keyId: string | null;
  keyName: string;
  /** Tags every daemon of this key carries (a key for `region=eu` only runs eu jobs). */
  tags: Record<string, string>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function hashKeySecret(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}

export function newKeySecret(): string {
  return randomBytes(24).toString("base64url");
}

export async function authenticateDaemon(deps: Deps, presented: string | undefined): Promise<DaemonAuth> {
  if (!presented) throw unauthenticated("provisioner key required", "send it in the Outpost-Provisioner-Key header");
  const builtin = Buffer.from(deps.builtinProvisionerKey);
  const given = Buffer.from(presented);
  if (given.length === builtin.length && timingSafeEqual(given, builtin)) return { keyId: null, keyName: "built-in", tags: {} };
  const sep = presented.indexOf(":");
  const id = presented.slice(0, sep);
  if (sep < 0 || !UUID.test(id)) throw unauthenticated("invalid provisioner key", "a key looks like ID:SECRET, as printed by `outpost provisioner keys create`");
  const key = await getProvisionerKey(deps.db, id);
  const hash = hashKeySecret(presented.slice(sep + 1));
  if (!key || key.hashed_secret.length !== hash.length || !timingSafeEqual(key.hashed_secret, hash)) {
    throw unauthenticated("invalid provisioner key", "the key does not exist or was deleted");
  }
  return { keyId: key.id, keyName: key.name, tags: key.tags };
}
