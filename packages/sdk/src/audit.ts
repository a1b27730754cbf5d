import { z } from "zod";
import { PaginationQuerySchema, pageSchema } from "./pagination.js";

export const AUDIT_ACTIONS = ["create", "write", "delete", "login", "logout", "register"] as const;
export const AuditActionSchema = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof AuditActionSchema>;

export const AUDIT_RESOURCE_TYPES = ["user", "api_key", "template", "template_version", "workspace", "workspace_build", "provisioner_key"] as const;
export const AuditResourceTypeSchema = z.enum(AUDIT_RESOURCE_TYPES);
export type AuditResourceType = z.infer<typeof AuditResourceTypeSchema>;

export const AuditDiffSchema = z.record(
  z.string(),
  z.object({ old: z.unknown(), new: z.unknown(), secret: z.boolean() }),
);
export type AuditDiff = z.infer<typeof AuditDiffSchema>;

export const AuditLogSchema = z.object({
  id: z.string().uuid(),
  time: z.string(),
  user: z.object({ id: z.string().uuid(), username: z.string() }).nullable(),
  action: AuditActionSchema,
  resource_type: AuditResourceTypeSchema,
  resource_id: z.string(),
  resource_name: z.string(),
  diff: AuditDiffSchema,
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  status_code: z.number().int(),
});
export type AuditLog = z.infer<typeof AuditLogSchema>;

const isoTime = z.string().datetime({ offset: true, message: "must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z" });

export const AuditQuerySchema = PaginationQuerySchema.extend({
  username: z.string().max(64).optional(),
  action: AuditActionSchema.optional(),
  resource_type: AuditResourceTypeSchema.optional(),
  resource_id: z.string().max(64).optional(),
  status: z.enum(["success", "failure"]).optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
}).strict();
export type AuditQuery = Partial<z.output<typeof AuditQuerySchema>>;

export const AuditPageSchema = pageSchema(AuditLogSchema);
export type AuditPage = z.infer<typeof AuditPageSchema>;
