import { z } from "zod";
import { NAME_PATTERN } from "./names.js";
import { ParamSpecSchema } from "./parameters.js";
import { ProvisionerJobSchema, ResourceSummarySchema, TagsSchema } from "./provisioner.js";

export const templateNameSchema = z
  .string()
  .min(1, "must not be empty")
  .max(32, "must be at most 32 characters")
  .regex(NAME_PATTERN, "must be lowercase letters, digits and single dashes, starting and ending with a letter or digit");

export const versionNameSchema = z
  .string()
  .min(1, "must not be empty")
  .max(64, "must be at most 64 characters")
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, "must be letters, digits, '_', '.', '-'");

export const UserRefSchema = z.object({ id: z.string().uuid(), username: z.string() });

export const TemplateSchema = z.object({
  id: z.string().uuid(),
  name: z.string(),
  display_name: z.string(),
  description: z.string(),
  icon: z.string(),
  active_version_id: z.string().uuid().nullable(),
  created_by: UserRefSchema.nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  workspace_count: z.number().int(),
});
export type Template = z.infer<typeof TemplateSchema>;

export const TemplateParameterSchema = z.object({ name: z.string(), spec: ParamSpecSchema });
export type TemplateParameter = z.infer<typeof TemplateParameterSchema>;

export const TemplateVersionSchema = z.object({
  id: z.string().uuid(),
  template_id: z.string().uuid(),
  template_name: z.string(),
  name: z.string(),
  message: z.string(),
  job: ProvisionerJobSchema,
  parameters: z.array(TemplateParameterSchema),
  resources: z.array(ResourceSummarySchema),
  archived: z.boolean(),
  active: z.boolean(),
  provisioner_tags: z.record(z.string(), z.string()),
  /** The archive's sha256 (GET /api/v2/files/HASH downloads it: `templates pull`). */
  file_hash: z.string(),
  created_by: UserRefSchema.nullable(),
  created_at: z.string(),
});
export type TemplateVersion = z.infer<typeof TemplateVersionSchema>;

export const TemplateParamSchema = z.strictObject({ template: z.string().min(1).max(64) });
export const TemplateVersionParamSchema = z.strictObject({ template: z.string().min(1).max(64), version: z.string().min(1).max(64) });

/** Largest template archive accepted (a tar of the template folder). */
export const MAX_TEMPLATE_ARCHIVE_BYTES = 10 * 1024 * 1024;

export const UploadFileResponseSchema = z.object({ hash: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int() });

export const CreateTemplateVersionRequestSchema = z.strictObject({
  file_hash: z.string().regex(/^[0-9a-f]{64}$/, "must be the sha256 hash returned by POST /api/v2/files"),
  name: versionNameSchema.optional(),
  message: z.string().max(1024).optional(),
  /** Make this the active version once its import succeeds (default true). */
  activate: z.boolean().default(true),
  display_name: z.string().max(64).optional(),
  description: z.string().max(1024).optional(),
  /** Only daemons with these tags import and build this version (e.g. a daemon near a GPU host). */
  provisioner_tags: TagsSchema.optional(),
});
export type CreateTemplateVersionRequest = z.input<typeof CreateTemplateVersionRequestSchema>;

export const UpdateTemplateRequestSchema = z.strictObject({
  display_name: z.string().max(64).optional(),
  description: z.string().max(1024).optional(),
  icon: z.string().max(512).optional(),
});
export type UpdateTemplateRequest = z.infer<typeof UpdateTemplateRequestSchema>;

export const SetActiveVersionRequestSchema = z.strictObject({ version: z.string().min(1).max(64) });

export const ListTemplateVersionsQuerySchema = z.strictObject({ include_archived: z.enum(["true", "false"]).default("false") });

export const CreatePlanRequestSchema = z.strictObject({
  file_hash: z.string().regex(/^[0-9a-f]{64}$/, "must be the sha256 hash returned by POST /api/v2/files"),
});

export const WorkspacePlanSchema = z.object({
  workspace_id: z.string().uuid(),
  workspace_name: z.string(),
  owner: z.string(),
  /** `+ address`, `- address`, `-/+ address (fields)`, `~ address (fields)`; empty when nothing changes. */
  lines: z.array(z.string()),
  error: z.string().nullable(),
});

/** What pushing an archive would do to each existing workspace of a template (a dry run). */
export const TemplatePlanSchema = z.object({
  id: z.string().uuid(),
  job: ProvisionerJobSchema,
  workspaces: z.array(WorkspacePlanSchema),
});
export type TemplatePlan = z.infer<typeof TemplatePlanSchema>;
