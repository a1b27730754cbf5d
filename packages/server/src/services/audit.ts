import type { AuditAction, AuditDiff, AuditPage, AuditQuery, AuditResourceType } from "@outpost/sdk/audit";
import { AuditQuerySchema } from "@outpost/sdk/audit";
import { insertAuditLog, listAuditLogs } from "../db/queries/audit-logs.js";
import { notFound } from "../errors.js";
import { toAuditLog } from "./convert.js";
import type { Deps } from "./deps.js";
import { authorize, type Subject } from "./rbac.js";

/** Fields whose values never appear in an audit diff; the diff only says they changed. */
const SECRET_FIELDS = new Set(["hashed_password", "hashed_secret", "password", "token", "secret"]);
/** Bookkeeping fields that change on every write and say nothing to an auditor. */
const IGNORED_FIELDS = new Set(["updated_at", "last_seen_at", "last_used_at"]);

export interface AuditRecord {
  action: AuditAction;
  resourceType: AuditResourceType;
  resourceId: string;
  resourceName: string;
  old?: object | undefined;
  new?: object | undefined;
  /** Overrides the request's user (e.g. a login attempt names the account tried). */
  userId?: string | null;
}

/** A request's pending audit entry: services fill it in as they learn what changed; HTTP writes it with the status. */
export interface AuditSink {
  set(record: AuditRecord): void;
}

export const noAudit: AuditSink = { set: () => undefined };

function normalise(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (Buffer.isBuffer(v)) return v.toString("hex");
  return v;
}

export function diffObjects(oldObj: object | undefined, newObj: object | undefined): AuditDiff {
  const before = (oldObj ?? {}) as Record<string, unknown>;
  const after = (newObj ?? {}) as Record<string, unknown>;
  const diff: AuditDiff = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (IGNORED_FIELDS.has(key)) continue;
    const o = normalise(before[key]);
    const n = normalise(after[key]);
    if (JSON.stringify(o) === JSON.stringify(n)) continue;
    const secret = SECRET_FIELDS.has(key);
    diff[key] = secret ? { old: "", new: "", secret: true } : { old: o ?? null, new: n ?? null, secret: false };
  }
  return diff;
}

export interface RequestMeta {
  userId: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  statusCode: number;
}

export async function writeAudit(deps: Deps, record: AuditRecord, meta: RequestMeta): Promise<void> {
  await insertAuditLog(deps.db, {
    time: deps.clock.now(),
    user_id: record.userId !== undefined ? record.userId : meta.userId,
    action: record.action,
    resource_type: record.resourceType,
    resource_id: record.resourceId,
    resource_name: record.resourceName,
    diff: diffObjects(record.old, record.new),
    ip: meta.ip,
    user_agent: meta.userAgent?.slice(0, 512) ?? null,
    status_code: meta.statusCode,
    request_id: meta.requestId,
  });
}

export async function listAudit(deps: Deps, subject: Subject, query: AuditQuery): Promise<AuditPage> {
  if (!authorize(subject, "read", { type: "audit_log" })) throw notFound();
  const q = AuditQuerySchema.parse(query);
  const { rows, count } = await listAuditLogs(deps.db, {
    username: q.username,
    action: q.action,
    resourceType: q.resource_type,
    resourceId: q.resource_id,
    status: q.status,
    since: q.since ? new Date(q.since) : undefined,
    until: q.until ? new Date(q.until) : undefined,
    limit: q.limit,
    offset: q.offset,
  });
  return { items: rows.map(toAuditLog), count };
}
