import { z } from "zod";
import { WorkspaceAgentSchema } from "./agents.js";
import { NAME_PATTERN } from "./names.js";
import { PaginationQuerySchema, pageSchema } from "./pagination.js";
import { ProvisionerJobSchema, ResourceSummarySchema, WorkspaceTransitionSchema } from "./provisioner.js";
import { UserRefSchema } from "./templates.js";

export const workspaceNameSchema = z
  .string()
  .min(1, "must not be empty")
  .max(32, "must be at most 32 characters")
  .regex(NAME_PATTERN, "must be lowercase letters, digits and single dashes, starting and ending with a letter or digit");

export const WORKSPACE_STATUSES = ["pending", "starting", "running", "stopping", "stopped", "failed", "canceling", "canceled", "deleting", "deleted"] as const;
export const WorkspaceStatusSchema = z.enum(WORKSPACE_STATUSES);
export type WorkspaceStatus = z.infer<typeof WorkspaceStatusSchema>;

export const BuildReasonSchema = z.enum(["initiator", "autostart", "autostop", "idle", "dormancy", "failure"]);
export type BuildReason = z.infer<typeof BuildReasonSchema>;

export const ParameterValueSchema = z.object({ name: z.string(), value: z.unknown() });

export const StageTimingSchema = z.object({ stage: z.string(), started_at: z.string(), ended_at: z.string() });

export const WorkspaceBuildSchema = z.object({
  id: z.string().uuid(),
  workspace_id: z.string().uuid(),
  workspace_name: z.string(),
  build_number: z.number().int(),
  transition: WorkspaceTransitionSchema,
  status: WorkspaceStatusSchema,
  reason: BuildReasonSchema,
  initiator: UserRefSchema.nullable(),
  template_version_id: z.string().uuid(),
  template_version_name: z.string(),
  job: ProvisionerJobSchema,
  parameters: z.array(ParameterValueSchema),
  resources: z.array(ResourceSummarySchema),
  daily_cost: z.number().int(),
  created_at: z.string(),
  timings: z.array(StageTimingSchema),
});
export type WorkspaceBuild = z.infer<typeof WorkspaceBuildSchema>;

export const WorkspaceSchema = z.object({
  id: z.string().uuid(),
  name: z.string(),
  owner: UserRefSchema,
  template: z.object({ id: z.string().uuid(), name: z.string(), active_version_id: z.string().uuid().nullable() }),
  /** The template version of the latest build differs from the template's active version. */
  outdated: z.boolean(),
  status: WorkspaceStatusSchema,
  latest_build: WorkspaceBuildSchema,
  /** The agents of the running workspace (none when stopped: a stop revokes their tokens). */
  agents: z.array(WorkspaceAgentSchema),
  created_at: z.string(),
  updated_at: z.string(),
  last_used_at: z.string().nullable(),
});
export type Workspace = z.infer<typeof WorkspaceSchema>;

export const WorkspacePageSchema = pageSchema(WorkspaceSchema);

/** Parameter values as given: numbers/bools as JSON, or strings (from `--parameter k=v`). */
export const ParameterInputSchema = z.record(z.string().max(64), z.union([z.string().max(65_536), z.number(), z.boolean(), z.array(z.string().max(4096)).max(256)]));

export const CreateWorkspaceRequestSchema = z.strictObject({
  name: workspaceNameSchema,
  /** Template name or id. */
  template: z.string().min(1).max(64),
  template_version_id: z.string().uuid().optional(),
  parameters: ParameterInputSchema.default({}),
});
export type CreateWorkspaceRequest = z.input<typeof CreateWorkspaceRequestSchema>;

export const CreateBuildRequestSchema = z.strictObject({
  transition: WorkspaceTransitionSchema,
  /** Build a different version (update); default: the latest build's version. */
  template_version_id: z.string().uuid().optional(),
  parameters: ParameterInputSchema.default({}),
  /** Delete only: forget the resources without removing them (when the infrastructure is gone). */
  orphan: z.boolean().default(false),
});
export type CreateBuildRequest = z.input<typeof CreateBuildRequestSchema>;

export const ListWorkspacesQuerySchema = PaginationQuerySchema.extend({
  /** `me` (default), a username, or `all` (admins). */
  owner: z.string().max(64).default("me"),
  q: z.string().max(256).optional(),
  template: z.string().max(64).optional(),
  status: WorkspaceStatusSchema.optional(),
}).strict();
export type ListWorkspacesQuery = Partial<z.output<typeof ListWorkspacesQuerySchema>>;

export const WorkspaceParamSchema = z.strictObject({ workspace: z.string().uuid("must be a workspace id") });
export const BuildParamSchema = z.strictObject({ build: z.string().uuid("must be a build id") });
export const UserWorkspaceParamSchema = z.strictObject({ user: z.string().min(1).max(64), workspace: z.string().min(1).max(64) });
