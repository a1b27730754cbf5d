import type { CreateBuildRequest, CreateWorkspaceRequest, ListWorkspacesQuery, Workspace, WorkspaceBuild } from "@outpost/sdk/workspaces";
import { ListWorkspacesQuerySchema } from "@outpost/sdk/workspaces";
import { withTx, type Queryable } from "../db/pool.js";
import { stageTimings } from "../db/queries/provisioner-job-logs.js";
import { getJob, requestCancel } from "../db/queries/provisioner-jobs.js";
import { getTemplateVersion, type TemplateVersionRow } from "../db/queries/template-versions.js";
import * as bq from "../db/queries/workspace-builds.js";
import type { BuildRow } from "../db/queries/workspace-builds.js";
import * as wq from "../db/queries/workspaces.js";
import type { WorkspaceRow } from "../db/queries/workspaces.js";
import { publish } from "../db/pubsub.js";
import { ApiError, conflictIfTaken, forbidden, notFound } from "../errors.js";
import type { AuditSink } from "./audit.js";
import { workspaceAgents } from "./agents.js";
import { buildStatus, toBuild } from "./convert-fleet.js";
import type { Deps } from "./deps.js";
import { resolveParameters } from "./parameters.js";
import { cancelJob, createJob } from "./provisioner-jobs.js";
import { authorize, type Subject } from "./rbac.js";
import { resolveTemplate } from "./templates.js";
import { resolveUser } from "./users.js";

const ACTIVE_JOB = new Set(["pending", "running", "canceling"]);

const workspaceObject = (w: { owner_id: string }) => ({ type: "workspace" as const, ownerId: w.owner_id });

export async function buildView(deps: Deps, row: BuildRow): Promise<WorkspaceBuild> {
  const job = (await getJob(deps.db, row.job_id))!;
  return toBuild(row, job, await stageTimings(deps.db, job.id));
}

export async function workspaceView(deps: Deps, w: WorkspaceRow): Promise<Workspace> {
  const latest = (await bq.latestBuild(deps.db, w.id))!;
  const build = await buildView(deps, latest);
  return {
    id: w.id,
    name: w.name,
    owner: { id: w.owner_id, username: w.owner_username },
    template: { id: w.template_id, name: w.template_name, active_version_id: w.template_active_version_id },
    outdated: w.template_active_version_id !== null && latest.template_version_id !== w.template_active_version_id,
    status: build.status,
    latest_build: build,
    agents: await workspaceAgents(deps, w.id),
    created_at: w.created_at.toISOString(),
    updated_at: w.updated_at.toISOString(),
    last_used_at: w.last_used_at?.toISOString() ?? null,
  };
}

/** A workspace the subject may read, or 404. */
export async function resolveWorkspace(deps: Deps, subject: Subject, id: string): Promise<WorkspaceRow> {
  const w = await wq.getWorkspace(deps.db, id);
  if (!w || !authorize(subject, "read", workspaceObject(w))) throw notFound("workspace");
  return w;
}

export async function resolveWorkspaceByName(deps: Deps, subject: Subject, userRef: string, name: string): Promise<WorkspaceRow> {
  const owner = await resolveUser(deps, subject, userRef).catch(() => undefined);
  const w = owner ? await wq.getWorkspaceByOwnerAndName(deps.db, owner.id, name) : undefined;
  if (!w || !authorize(subject, "read", workspaceObject(w))) throw notFound("workspace");
  return w;
}

async function usableVersion(deps: Deps, templateId: string, templateName: string, versionId: string | null | undefined): Promise<TemplateVersionRow> {
  if (!versionId) throw new ApiError("PRECONDITION_FAILED", `template ${templateName} has no active version`, "its first push has not finished importing, or the import failed: push it again");
  const version = await getTemplateVersion(deps.db, versionId);
  if (!version || version.template_id !== templateId) throw new ApiError("INVALID_INPUT", "invalid template version", undefined, [{ field: "template_version_id", detail: `is not a version of template ${templateName}` }]);
  const job = (await getJob(deps.db, version.job_id))!;
  if (job.status !== "succeeded") throw new ApiError("PRECONDITION_FAILED", `version ${version.name} of ${templateName} cannot be used: its import ${job.status}`, job.error ?? undefined);
  return version;
}

async function insertBuildWithJob(
  q: Queryable,
  deps: Deps,
  b: { workspaceId: string; version: TemplateVersionRow; transition: "start" | "stop" | "delete"; initiatorId: string | null; parameters: unknown[]; orphan: boolean; afterJob?: string },
): Promise<string> {
  const jobId = await createJob(q, deps, {
    type: "workspace_build",
    fileHash: b.version.file_hash,
    tags: b.version.provisioner_tags,
    input: { workspace_id: b.workspaceId, ...(b.afterJob ? { after_job: b.afterJob } : {}) },
    initiatorId: b.initiatorId,
  });
  return bq.insertBuild(q, { workspaceId: b.workspaceId, templateVersionId: b.version.id, transition: b.transition, reason: "initiator", initiatorId: b.initiatorId, jobId, parameters: b.parameters, orphan: b.orphan, now: deps.clock.now() });
}

export async function createWorkspace(deps: Deps, subject: Subject, ownerRef: string, req: CreateWorkspaceRequest, audit: AuditSink): Promise<Workspace> {
  const owner = await resolveUser(deps, subject, ownerRef);
  if (!authorize(subject, "create", { type: "workspace", ownerId: owner.id })) throw forbidden("you may not create workspaces for this user");
  const template = await resolveTemplate(deps, subject, req.template);
  const version = await usableVersion(deps, template.id, template.name, req.template_version_id ?? template.active_version_id);
  const parameters = resolveParameters(version.parameters as never, req.parameters ?? {}, undefined, `template ${template.name} version ${version.name}`);
  const id = await withTx(deps.db, async (tx) => {
    const workspaceId = await wq.insertWorkspace(tx, { ownerId: owner.id, templateId: template.id, name: req.name, now: deps.clock.now() }).catch((err) => conflictIfTaken(err, "name", req.name));
    await insertBuildWithJob(tx, deps, { workspaceId, version, transition: "start", initiatorId: subject.userId, parameters, orphan: false });
    return workspaceId;
  });
  const w = (await wq.getWorkspace(deps.db, id))!;
  audit.set({ action: "create", resourceType: "workspace", resourceId: w.id, resourceName: `${owner.username}/${w.name}`, new: { name: w.name, owner: owner.username, template: template.name, version: version.name } });
  return workspaceView(deps, w);
}

export async function listWorkspaces(deps: Deps, subject: Subject, query: ListWorkspacesQuery) {
  const f = ListWorkspacesQuerySchema.parse(query);
  let ownerId: string | undefined;
  if (f.owner === "all") {
    if (!authorize(subject, "read", { type: "workspace" })) ownerId = subject.userId;
  } else {
    const owner = await resolveUser(deps, subject, f.owner);
    if (!authorize(subject, "read", { type: "workspace", ownerId: owner.id })) throw notFound("user");
    ownerId = owner.id;
  }
  const filter = { ownerId, search: f.q, templateName: f.template };
  if (!f.status) {
    const { rows, count } = await wq.listWorkspaces(deps.db, { ...filter, limit: f.limit, offset: f.offset });
    return { items: await Promise.all(rows.map((w) => workspaceView(deps, w))), count };
  }
  // Status is derived from each workspace's latest build, so filter after deriving it.
  const { rows } = await wq.listWorkspaces(deps.db, { ...filter, limit: 10_000, offset: 0 });
  const all = (await Promise.all(rows.map((w) => workspaceView(deps, w)))).filter((w) => w.status === f.status);
  return { items: all.slice(f.offset, f.offset + f.limit), count: all.length };
}

export async function listBuilds(deps: Deps, w: WorkspaceRow): Promise<WorkspaceBuild[]> {
  return Promise.all((await bq.listBuilds(deps.db, w.id)).map((b) => buildView(deps, b)));
}

/** Starts, stops, updates or deletes a workspace by queueing a build. */
export async function createBuild(deps: Deps, subject: Subject, w: WorkspaceRow, req: CreateBuildRequest, audit: AuditSink): Promise<WorkspaceBuild> {
  if (!authorize(subject, req.transition === "delete" ? "delete" : "build", workspaceObject(w))) throw forbidden(`you may not ${req.transition} this workspace`);
  if (req.orphan && req.transition !== "delete") throw new ApiError("INVALID_INPUT", "orphan applies only to delete", undefined, [{ field: "orphan", detail: "is only valid with transition delete" }]);
  const buildId = await withTx(deps.db, async (tx) => {
    await wq.lockWorkspace(tx, w.id);
    const latest = (await bq.latestBuild(tx, w.id))!;
    const latestJob = (await getJob(tx, latest.job_id))!;
    const status = buildStatus(latest.transition, latestJob.status);
    let afterJob: string | undefined;
    if (ACTIVE_JOB.has(latestJob.status)) {
      // Stopping or deleting during a start cancels the start and runs once it has wound down.
      if (req.transition !== "start" && latest.transition === "start" && latestJob.status !== "canceling") {
        await requestCancel(tx, latestJob.id, deps.clock.now());
        await publish(tx, "outpost_job_status", latestJob.id);
        afterJob = latestJob.id;
      } else if (req.transition !== "start" && latestJob.status === "canceling") {
        afterJob = latestJob.id;
      } else {
        throw new ApiError("CONFLICT", `a build is already in progress (#${latest.build_number} ${latest.transition}, ${latestJob.status})`, "wait for it to finish, or cancel it with `outpost cancel`");
      }
    } else if (req.transition === "start" && status === "running" && !req.template_version_id) {
      throw new ApiError("CONFLICT", "the workspace is already running", "use `outpost restart` to rebuild it");
    } else if (req.transition === "stop" && status === "stopped") {
      throw new ApiError("CONFLICT", "the workspace is already stopped");
    }
    const template = (await resolveTemplate(deps, subject, w.template_id));
    const version = req.template_version_id ? await usableVersion(deps, template.id, template.name, req.template_version_id) : (await getTemplateVersion(tx, latest.template_version_id))!;
    const previous = latest.parameters;
    const parameters = req.transition === "start" ? resolveParameters(version.parameters as never, req.parameters ?? {}, previous, `template ${template.name} version ${version.name}`) : previous;
    return insertBuildWithJob(tx, deps, { workspaceId: w.id, version, transition: req.transition, initiatorId: subject.userId, parameters, orphan: req.orphan ?? false, afterJob });
  });
  const build = (await bq.getBuild(deps.db, buildId))!;
  // Watchers follow the new build from here (its job's status changes are the rest).
  await publish(deps.db, "outpost_workspace", w.id);
  audit.set({
    action: req.transition === "delete" ? "delete" : "write",
    resourceType: "workspace_build",
    resourceId: build.id,
    resourceName: `${w.owner_username}/${w.name}#${build.build_number}`,
    new: { transition: build.transition, template_version: build.template_version_name, orphan: build.orphan },
  });
  return buildView(deps, build);
}

export async function resolveBuild(deps: Deps, subject: Subject, id: string): Promise<{ build: BuildRow; workspace: WorkspaceRow }> {
  const build = await bq.getBuild(deps.db, id);
  // Builds of deleted workspaces stay readable (their logs explain the deletion).
  const workspace = build ? await wq.getWorkspaceIncludingDeleted(deps.db, build.workspace_id) : undefined;
  if (!build || !workspace || !authorize(subject, "read", workspaceObject(workspace))) throw notFound("workspace build");
  return { build, workspace };
}

export async function cancelBuild(deps: Deps, subject: Subject, build: BuildRow, w: WorkspaceRow, audit: AuditSink): Promise<WorkspaceBuild> {
  if (!authorize(subject, "build", workspaceObject(w))) throw forbidden("you may not cancel this build");
  await cancelJob(deps, build.job_id);
  audit.set({ action: "write", resourceType: "workspace_build", resourceId: build.id, resourceName: `${w.owner_username}/${w.name}#${build.build_number}`, new: { canceled: true } });
  return buildView(deps, (await bq.getBuild(deps.db, build.id))!);
}
