import { z } from "zod";
import { ReportedAgentSchema } from "./agents.js";
import { NAME_PATTERN } from "./names.js";

export const JOB_STATUSES = ["pending", "running", "succeeded", "failed", "canceling", "canceled"] as const;
export const JobStatusSchema = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof JobStatusSchema>;

export const JobTypeSchema = z.enum(["template_version_import", "workspace_build", "template_version_dry_run"]);
export type JobType = z.infer<typeof JobTypeSchema>;

/** Tags route jobs to daemons: a daemon takes a job when every job tag is among its tags. */
export const TagsSchema = z.record(z.string().regex(/^[a-z0-9_.-]{1,64}$/, "tag names are lowercase letters, digits, '_', '.', '-'"), z.string().max(256)).refine((t) => Object.keys(t).length <= 16, "at most 16 tags");
export type Tags = z.infer<typeof TagsSchema>;

export const ProvisionerJobSchema = z.object({
  id: z.string().uuid(),
  type: JobTypeSchema,
  status: JobStatusSchema,
  error: z.string().nullable(),
  tags: z.record(z.string(), z.string()),
  worker_id: z.string().uuid().nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  completed_at: z.string().nullable(),
  canceled_at: z.string().nullable(),
  /** Position among pending jobs (1 = next), 0 when not pending. */
  queue_position: z.number().int(),
});
export type ProvisionerJob = z.infer<typeof ProvisionerJobSchema>;

export const LogLevelSchema = z.enum(["trace", "debug", "info", "warn", "error"]);
export const JobLogSchema = z.object({
  id: z.number().int(),
  created_at: z.string(),
  stage: z.string(),
  level: LogLevelSchema,
  output: z.string(),
});
export type JobLog = z.infer<typeof JobLogSchema>;

export const JobLogsQuerySchema = z.strictObject({
  /** Return logs with id greater than this (resume after a reconnect). */
  after: z.coerce.number().int().min(0).default(0),
  follow: z.enum(["true", "false"]).optional(),
});

// --- daemon <-> server -------------------------------------------------------------------------

export const PROVISIONER_KEY_HEADER = "Outpost-Provisioner-Key";

export const RegisterDaemonRequestSchema = z.strictObject({
  name: z.string().min(1).max(64).regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, "must be letters, digits, '_', '.', '-'"),
  tags: TagsSchema.default({}),
  version: z.string().max(64).default(""),
});
export type RegisterDaemonRequest = z.input<typeof RegisterDaemonRequestSchema>;

export const ProvisionerDaemonSchema = z.object({
  id: z.string().uuid(),
  name: z.string(),
  tags: z.record(z.string(), z.string()),
  version: z.string(),
  key_name: z.string().nullable(),
  created_at: z.string(),
  last_seen_at: z.string().nullable(),
  current_job_id: z.string().uuid().nullable(),
});
export type ProvisionerDaemon = z.infer<typeof ProvisionerDaemonSchema>;

export const AcquireJobRequestSchema = z.strictObject({
  /** Long-poll: wait up to this long for a job before answering 204. */
  wait_seconds: z.number().int().min(0).max(60).default(0),
});

export const WorkspaceTransitionSchema = z.enum(["start", "stop", "delete"]);
export type WorkspaceTransition = z.infer<typeof WorkspaceTransitionSchema>;

/** One resource recorded after a build: as declared, plus what the driver returned. */
export const ResourceStateSchema = z.object({
  address: z.string().max(300),
  resource: z.record(z.string(), z.unknown()).and(z.object({ type: z.string(), name: z.string() })),
  outputs: z.record(z.string(), z.unknown()),
});
export type ResourceStateDto = z.infer<typeof ResourceStateSchema>;

const BuildTargetSchema = z.object({
  workspace: z.object({ id: z.string().uuid(), name: z.string(), transition: WorkspaceTransitionSchema, accessUrl: z.string() }),
  owner: z.object({ id: z.string().uuid(), username: z.string(), email: z.string(), name: z.string() }),
  parameters: z.record(z.string(), z.unknown()),
  previous_state: z.array(ResourceStateSchema),
});

export const AcquiredJobSchema = z.object({
  id: z.string().uuid(),
  type: JobTypeSchema,
  file_hash: z.string(),
  /** The version being imported or built; null for a dry run of a candidate archive. */
  template_version_id: z.string().uuid().nullable(),
  /** `orphan`: a delete that forgets the resources without touching them (the infrastructure is gone). */
  build: BuildTargetSchema.extend({ workspace_build_id: z.string().uuid(), orphan: z.boolean() }).nullable(),
  /** A dry run (`templates plan`): plan the archive against each of these workspaces, apply nothing. */
  dry_run: z.object({ workspaces: z.array(BuildTargetSchema) }).nullable(),
});
export type AcquiredJob = z.infer<typeof AcquiredJobSchema>;

export const HeartbeatResponseSchema = z.object({ cancel_requested: z.boolean() });

export const JobLogInputSchema = z.strictObject({
  stage: z.string().min(1).max(64),
  level: LogLevelSchema,
  output: z.string().max(65_536),
});
export const AppendLogsRequestSchema = z.strictObject({ logs: z.array(JobLogInputSchema).min(1).max(1000) });
export type JobLogInput = z.infer<typeof JobLogInputSchema>;

export const ResourceSummarySchema = z.object({
  address: z.string(),
  type: z.string(),
  name: z.string(),
  agent: z.string().nullable(),
  daily_cost: z.number().int(),
});
export type ResourceSummary = z.infer<typeof ResourceSummarySchema>;

export const CompleteJobRequestSchema = z.strictObject({
  import: z
    .strictObject({
      parameters: z.array(z.record(z.string(), z.unknown())).max(256),
      resources: z.array(z.record(z.string(), z.unknown())).max(1000),
    })
    .optional(),
  build: z.strictObject({ state: z.array(ResourceStateSchema).max(1000), agents: z.array(ReportedAgentSchema).max(64).default([]) }).optional(),
  plan: z
    .strictObject({
      workspaces: z
        .array(z.strictObject({ workspace_id: z.string().uuid(), lines: z.array(z.string().max(1000)).max(1000), error: z.string().max(8192).optional() }))
        .max(10_000),
    })
    .optional(),
});
export type CompleteJobRequest = z.input<typeof CompleteJobRequestSchema>;

export const FailJobRequestSchema = z.strictObject({
  error: z.string().min(1).max(8192),
  /** A failed build still records the state it reached, so the next build can repair it. */
  state: z.array(ResourceStateSchema).max(1000).optional(),
  /** Agents started before the failure (their tokens must work: the next build may keep them). */
  agents: z.array(ReportedAgentSchema).max(64).optional(),
});
export type FailJobRequest = z.infer<typeof FailJobRequestSchema>;

export const ProvisionerKeySchema = z.object({
  id: z.string().uuid(),
  name: z.string(),
  tags: z.record(z.string(), z.string()),
  created_at: z.string(),
});
export type ProvisionerKey = z.infer<typeof ProvisionerKeySchema>;

export const CreateProvisionerKeyRequestSchema = z.strictObject({
  name: z.string().min(1).max(64).regex(NAME_PATTERN, "must be lowercase letters, digits and single dashes"),
  tags: TagsSchema.default({}),
});
export const CreateProvisionerKeyResponseSchema = z.object({ key: z.string(), provisioner_key: ProvisionerKeySchema });
