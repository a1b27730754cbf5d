import type { JobLog, ProvisionerDaemon, ProvisionerJob, ProvisionerKey, ResourceSummary } from "@outpost/sdk/provisioner";
import type { Template, TemplateVersion } from "@outpost/sdk/templates";
import type { WorkspaceBuild, WorkspaceStatus } from "@outpost/sdk/workspaces";
import type { JobLogRow } from "../db/queries/provisioner-job-logs.js";
import type { DaemonRow, ProvisionerKeyRow } from "../db/queries/provisioner-daemons.js";
import type { JobRow } from "../db/queries/provisioner-jobs.js";
import type { TemplateRow } from "../db/queries/templates.js";
import type { TemplateVersionRow } from "../db/queries/template-versions.js";
import type { BuildRow } from "../db/queries/workspace-builds.js";

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function toJob(row: JobRow): ProvisionerJob {
  return {
    id: row.id,
    type: row.type,
    status: row.status,
    error: row.error,
    tags: row.tags,
    worker_id: row.worker_id,
    created_at: row.created_at.toISOString(),
    started_at: iso(row.started_at),
    completed_at: iso(row.completed_at),
    canceled_at: iso(row.canceled_at),
    queue_position: row.queue_position,
  };
}

export function toJobLog(row: JobLogRow): JobLog {
  return { id: row.id, created_at: row.created_at.toISOString(), stage: row.stage, level: row.level, output: row.output };
}

export function toTemplate(row: TemplateRow): Template {
  return {
    id: row.id,
    name: row.name,
    display_name: row.display_name,
    description: row.description,
    icon: row.icon,
    active_version_id: row.active_version_id,
    created_by: row.created_by && row.created_by_username ? { id: row.created_by, username: row.created_by_username } : null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    workspace_count: row.workspace_count,
  };
}

/** A resource as the API shows it, from either a stored resource or a state entry. */
export function summariseResource(r: Record<string, unknown>): ResourceSummary {
  const type = String(r.type ?? "");
  const name = String(r.name ?? "");
  const agent = (r.agent as { name?: string } | undefined)?.name ?? null;
  return { address: `${type}.${name}`, type, name, agent, daily_cost: typeof r.dailyCost === "number" ? r.dailyCost : 0 };
}

export function toTemplateVersion(row: TemplateVersionRow, job: JobRow, activeVersionId: string | null): TemplateVersion {
  return {
    id: row.id,
    template_id: row.template_id,
    template_name: row.template_name,
    name: row.name,
    message: row.message,
    job: toJob(job),
    parameters: row.parameters as TemplateVersion["parameters"],
    resources: row.resources.map(summariseResource),
    archived: row.archived,
    active: row.id === activeVersionId,
    provisioner_tags: row.provisioner_tags,
    file_hash: row.file_hash,
    created_by: row.created_by && row.created_by_username ? { id: row.created_by, username: row.created_by_username } : null,
    created_at: row.created_at.toISOString(),
  };
}

/** Workspace status follows from the latest build's transition and its job's status. */
export function buildStatus(transition: BuildRow["transition"], job: JobRow["status"]): WorkspaceStatus {
  switch (job) {
    case "pending":
      return "pending";
    case "running":
      return transition === "start" ? "starting" : transition === "stop" ? "stopping" : "deleting";
    case "succeeded":
      return transition === "start" ? "running" : transition === "stop" ? "stopped" : "deleted";
    case "failed":
      return "failed";
    case "canceling":
      return "canceling";
    case "canceled":
      return "canceled";
  }
}

export function toBuild(row: BuildRow, job: JobRow, timings: { stage: string; started_at: Date; ended_at: Date }[]): WorkspaceBuild {
  return {
    id: row.id,
    workspace_id: row.workspace_id,
    workspace_name: row.workspace_name,
    build_number: row.build_number,
    transition: row.transition,
    status: buildStatus(row.transition, job.status),
    reason: row.reason,
    initiator: row.initiator_id && row.initiator_username ? { id: row.initiator_id, username: row.initiator_username } : null,
    template_version_id: row.template_version_id,
    template_version_name: row.template_version_name,
    job: toJob(job),
    parameters: row.parameters,
    resources: (row.state ?? []).map((s) => summariseResource(s.resource)),
    daily_cost: row.daily_cost,
    created_at: row.created_at.toISOString(),
    timings: timings.map((t) => ({ stage: t.stage, started_at: t.started_at.toISOString(), ended_at: t.ended_at.toISOString() })),
  };
}

export function toDaemon(row: DaemonRow): ProvisionerDaemon {
  return {
    id: row.id,
    name: row.name,
    tags: row.tags,
    version: row.version,
    key_name: row.key_name,
    created_at: row.created_at.toISOString(),
    last_seen_at: iso(row.last_seen_at),
    current_job_id: row.current_job_id,
  };
}

export function toProvisionerKey(row: ProvisionerKeyRow): ProvisionerKey {
  return { id: row.id, name: row.name, tags: row.tags, created_at: row.created_at.toISOString() };
}
