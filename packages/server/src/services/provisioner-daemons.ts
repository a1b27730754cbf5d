import type { ProvisionerDaemon, ProvisionerKey, RegisterDaemonRequest, Tags } from "@outpost/sdk/provisioner";
import * as dq from "../db/queries/provisioner-daemons.js";
import { ApiError, conflictIfTaken, forbidden, notFound } from "../errors.js";
import type { AuditSink } from "./audit.js";
import { toDaemon, toProvisionerKey } from "./convert-fleet.js";
import type { Deps } from "./deps.js";
import { hashKeySecret, newKeySecret, type DaemonAuth } from "./provisioner-auth.js";
import { authorize, type Subject } from "./rbac.js";

// A daemon not seen for this long is no longer listed.
const DAEMON_LIST_WINDOW_MS = 10 * 60_000;

export async function registerDaemon(deps: Deps, auth: DaemonAuth, req: RegisterDaemonRequest): Promise<ProvisionerDaemon> {
  const tags: Tags = { ...(req.tags ?? {}), ...auth.tags };
  const row = await dq.insertDaemon(deps.db, { name: req.name, tags, version: req.version ?? "", keyId: auth.keyId, now: deps.clock.now() });
  return toDaemon(row);
}

export async function listDaemons(deps: Deps, subject: Subject): Promise<ProvisionerDaemon[]> {
  if (!authorize(subject, "read", { type: "provisioner_daemon" })) throw notFound();
  const since = new Date(deps.clock.now().getTime() - DAEMON_LIST_WINDOW_MS);
  return (await dq.listDaemons(deps.db, since)).map(toDaemon);
}

export async function createKey(deps: Deps, subject: Subject, name: string, tags: Tags, audit: AuditSink): Promise<{ key: string; provisioner_key: ProvisionerKey }> {
  if (!authorize(subject, "create", { type: "provisioner_key" })) throw forbidden("only owners may create provisioner keys");
  const secret = newKeySecret();
  const row = await dq.insertProvisionerKey(deps.db, { name, hashedSecret: hashKeySecret(secret), tags, createdBy: subject.userId }).catch((err) => conflictIfTaken(err, "name", name));
  audit.set({ action: "create", resourceType: "provisioner_key", resourceId: row.id, resourceName: row.name, new: { name: row.name, tags: row.tags, hashed_secret: row.hashed_secret } });
  return { key: `${row.id}:${secret}`, provisioner_key: toProvisionerKey(row) };
}

export async function listKeys(deps: Deps, subject: Subject): Promise<ProvisionerKey[]> {
  if (!authorize(subject, "read", { type: "provisioner_key" })) throw notFound();
  return (await dq.listProvisionerKeys(deps.db)).map(toProvisionerKey);
}

export async function deleteKey(deps: Deps, subject: Subject, name: string, audit: AuditSink): Promise<void> {
  if (!authorize(subject, "delete", { type: "provisioner_key" })) throw authorize(subject, "read", { type: "provisioner_key" }) ? forbidden() : notFound("provisioner key");
  const row = await dq.deleteProvisionerKey(deps.db, name);
  if (!row) throw new ApiError("NOT_FOUND", `provisioner key ${name} not found`);
  audit.set({ action: "delete", resourceType: "provisioner_key", resourceId: row.id, resourceName: row.name, old: { name: row.name, tags: row.tags } });
}
