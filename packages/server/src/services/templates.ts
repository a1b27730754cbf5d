import { createHash } from "node:crypto";
import { MAX_TEMPLATE_ARCHIVE_BYTES, type CreateTemplateVersionRequest, type Template, type TemplatePlan, type TemplateVersion, type UpdateTemplateRequest } from "@outpost/sdk/templates";
import { templateNameSchema } from "@outpost/sdk/templates";
import { withTx } from "../db/pool.js";
import { fileExists, getFile, insertFile } from "../db/queries/files.js";
import { getDryRunJob, getJob, type JobRow } from "../db/queries/provisioner-jobs.js";
import { listTemplateWorkspaces } from "../db/queries/workspaces.js";
import * as tq from "../db/queries/templates.js";
import type { TemplateRow } from "../db/queries/templates.js";
import * as vq from "../db/queries/template-versions.js";
import type { TemplateVersionRow } from "../db/queries/template-versions.js";
import { ApiError, conflictIfTaken, forbidden, invalidField, notFound } from "../errors.js";
import type { AuditSink } from "./audit.js";
import { toJob, toTemplate, toTemplateVersion } from "./convert-fleet.js";
import type { Deps } from "./deps.js";
import { createJob } from "./provisioner-jobs.js";
import { authorize, type Subject } from "./rbac.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isTar(data: Buffer): boolean {
  // POSIX and GNU tar both put "ustar" at offset 257 of the first header block.
  return data.length >= 512 && data.subarray(257, 262).toString("latin1") === "ustar";
}

export async function uploadFile(deps: Deps, subject: Subject, data: Buffer): Promise<{ hash: string; size: number }> {
  if (!authorize(subject, "create", { type: "file" })) throw forbidden("only template admins may upload template archives");
  if (data.length > MAX_TEMPLATE_ARCHIVE_BYTES) throw new ApiError("PAYLOAD_TOO_LARGE", "template archive is too large", `the limit is ${MAX_TEMPLATE_ARCHIVE_BYTES} bytes`);
  if (!isTar(data)) throw invalidField("body", "is not a tar archive", "the upload must be a tar archive of the template folder");
  const hash = createHash("sha256").update(data).digest("hex");
  await insertFile(deps.db, { hash, data, createdBy: subject.userId });
  return { hash, size: data.length };
}

export async function downloadFile(deps: Deps, subject: Subject, hash: string): Promise<Buffer> {
  if (!authorize(subject, "read", { type: "file" })) throw notFound("file");
  const file = await getFile(deps.db, hash);
  if (!file) throw notFound("file");
  return file.data;
}

/** Any user may read templates; a missing or deleted one is 404. */
export async function resolveTemplate(deps: Deps, subject: Subject, ref: string): Promise<TemplateRow> {
  const row = UUID.test(ref) ? await tq.getTemplateById(deps.db, ref) : await tq.getTemplateByName(deps.db, ref);
  if (!row || !authorize(subject, "read", { type: "template" })) throw notFound("template");
  return row;
}

export async function listTemplates(deps: Deps, subject: Subject): Promise<Template[]> {
  if (!authorize(subject, "read", { type: "template" })) return [];
  return (await tq.listTemplates(deps.db)).map(toTemplate);
}

export async function updateTemplate(deps: Deps, subject: Subject, t: TemplateRow, req: UpdateTemplateRequest, audit: AuditSink): Promise<Template> {
  if (!authorize(subject, "update", { type: "template" })) throw forbidden("only template admins may change templates");
  const next = { display_name: req.display_name ?? t.display_name, description: req.description ?? t.description, icon: req.icon ?? t.icon };
  await tq.updateTemplate(deps.db, t.id, next);
  const row = (await tq.getTemplateById(deps.db, t.id))!;
  audit.set({ action: "write", resourceType: "template", resourceId: t.id, resourceName: t.name, old: t, new: row });
  return toTemplate(row);
}

export async function deleteTemplate(deps: Deps, subject: Subject, t: TemplateRow, audit: AuditSink): Promise<void> {
  if (!authorize(subject, "delete", { type: "template" })) throw forbidden("only template admins may delete templates");
  if (t.workspace_count > 0) throw new ApiError("CONFLICT", `template ${t.name} is used by ${t.workspace_count} workspace(s)`, "delete those workspaces first");
  await tq.softDeleteTemplate(deps.db, t.id);
  audit.set({ action: "delete", resourceType: "template", resourceId: t.id, resourceName: t.name, old: t });
}

export async function versionView(deps: Deps, v: TemplateVersionRow): Promise<TemplateVersion> {
  const job = (await getJob(deps.db, v.job_id))!;
  const template = await tq.getTemplateById(deps.db, v.template_id);
  return toTemplateVersion(v, job, template?.active_version_id ?? null);
}

/** Pushes a version: creates the template on first push, queues the import job. */
export async function createVersion(deps: Deps, subject: Subject, templateName: string, req: CreateTemplateVersionRequest, audit: AuditSink): Promise<TemplateVersion> {
  if (!authorize(subject, "create", { type: "template" })) throw forbidden("only template admins may push templates");
  const name = templateNameSchema.safeParse(templateName);
  if (!name.success) throw invalidField("template", name.error.issues[0]!.message, "invalid template name");
  if (!(await fileExists(deps.db, req.file_hash))) throw invalidField("file_hash", "no uploaded file has this hash; upload it with POST /api/v2/files first");
  const versionId = await withTx(deps.db, async (tx) => {
    await tq.lockTemplatePushes(tx);
    let template = await tq.getTemplateByName(tx, templateName);
    let created = false;
    if (!template) {
      const id = await tq.insertTemplate(tx, { name: templateName, displayName: req.display_name ?? "", description: req.description ?? "", createdBy: subject.userId }).catch((err) => conflictIfTaken(err, "template", templateName));
      template = (await tq.getTemplateById(tx, id))!;
      created = true;
    }
    const versionName = req.name ?? `v${(await vq.countTemplateVersions(tx, template.id)) + 1}`;
    if (await vq.getTemplateVersionByName(tx, template.id, versionName)) {
      throw new ApiError("CONFLICT", `template ${templateName} already has a version named ${versionName}`, undefined, [{ field: "name", detail: "is already in use" }]);
    }
    const tags = req.provisioner_tags ?? {};
    const jobId = await createJob(tx, deps, { type: "template_version_import", fileHash: req.file_hash, tags, input: {}, initiatorId: subject.userId });
    const id = await vq.insertTemplateVersion(tx, {
      templateId: template.id,
      name: versionName,
      message: req.message ?? "",
      fileHash: req.file_hash,
      jobId,
      activate: req.activate ?? true,
      createdBy: subject.userId,
      tags,
    });
    if (created) audit.set({ action: "create", resourceType: "template", resourceId: template.id, resourceName: template.name, new: template });
    return id;
  });
  const version = (await vq.getTemplateVersion(deps.db, versionId))!;
  // A push is one request: the template's creation (first push) or the new version is what the log records.
  audit.set({ action: "create", resourceType: "template_version", resourceId: version.id, resourceName: `${version.template_name}@${version.name}`, new: { name: version.name, message: version.message, file_hash: version.file_hash } });
  return versionView(deps, version);
}

export async function resolveVersion(deps: Deps, subject: Subject, template: TemplateRow, ref: string): Promise<TemplateVersionRow> {
  const v = UUID.test(ref) ? await vq.getTemplateVersion(deps.db, ref) : await vq.getTemplateVersionByName(deps.db, template.id, ref);
  if (!v || v.template_id !== template.id || !authorize(subject, "read", { type: "template" })) throw notFound("template version");
  return v;
}

export async function listVersions(deps: Deps, template: TemplateRow, includeArchived: boolean): Promise<TemplateVersion[]> {
  const rows = await vq.listTemplateVersions(deps.db, template.id, includeArchived);
  return Promise.all(rows.map((v) => versionView(deps, v)));
}

export async function activateVersion(deps: Deps, subject: Subject, template: TemplateRow, version: TemplateVersionRow, audit: AuditSink): Promise<Template> {
  if (!authorize(subject, "update", { type: "template" })) throw forbidden("only template admins may change the active version");
  const job = (await getJob(deps.db, version.job_id))!;
  if (job.status !== "succeeded") throw new ApiError("PRECONDITION_FAILED", `version ${version.name} cannot be activated: its import ${job.status}`, job.error ?? undefined);
  if (version.archived) throw new ApiError("PRECONDITION_FAILED", `version ${version.name} is archived`, "unarchive it first");
  await tq.setActiveVersion(deps.db, template.id, version.id);
  audit.set({ action: "write", resourceType: "template", resourceId: template.id, resourceName: template.name, old: { active_version_id: template.active_version_id }, new: { active_version_id: version.id } });
  return toTemplate((await tq.getTemplateById(deps.db, template.id))!);
}

export async function archiveVersion(deps: Deps, subject: Subject, template: TemplateRow, version: TemplateVersionRow, archived: boolean, audit: AuditSink): Promise<TemplateVersion> {
  if (!authorize(subject, "update", { type: "template" })) throw forbidden("only template admins may archive versions");
  if (archived && template.active_version_id === version.id) throw new ApiError("PRECONDITION_FAILED", `version ${version.name} is active`, "activate another version before archiving this one");
  await vq.setVersionArchived(deps.db, version.id, archived);
  audit.set({ action: "write", resourceType: "template_version", resourceId: version.id, resourceName: `${template.name}@${version.name}`, old: { archived: version.archived }, new: { archived } });
  return versionView(deps, (await vq.getTemplateVersion(deps.db, version.id))!);
}

function planView(job: JobRow, names: Map<string, { name: string; owner: string }>): TemplatePlan {
  const result = (job.result ?? { workspaces: [] }) as { workspaces: { workspace_id: string; lines: string[]; error?: string }[] };
  return {
    id: job.id,
    job: toJob(job),
    workspaces: result.workspaces.map((w) => ({
      workspace_id: w.workspace_id,
      workspace_name: names.get(w.workspace_id)?.name ?? "(deleted)",
      owner: names.get(w.workspace_id)?.owner ?? "",
      lines: w.lines,
      error: w.error ?? null,
    })),
  };
}

async function workspaceNames(deps: Deps, templateId: string): Promise<Map<string, { name: string; owner: string }>> {
  return new Map((await listTemplateWorkspaces(deps.db, templateId)).map((w) => [w.id, { name: w.name, owner: w.owner_username }]));
}

/** Queues a dry run: what pushing this archive would change in each workspace of the template. */
export async function createPlan(deps: Deps, subject: Subject, template: TemplateRow, fileHash: string): Promise<TemplatePlan> {
  if (!authorize(subject, "update", { type: "template" })) throw forbidden("only template admins may plan template changes");
  if (!(await fileExists(deps.db, fileHash))) throw invalidField("file_hash", "no uploaded file has this hash; upload it with POST /api/v2/files first");
  const active = template.active_version_id ? await vq.getTemplateVersion(deps.db, template.active_version_id) : undefined;
  const jobId = await createJob(deps.db, deps, { type: "template_version_dry_run", fileHash, tags: active?.provisioner_tags ?? {}, input: { template_id: template.id }, initiatorId: subject.userId });
  return planView((await getJob(deps.db, jobId))!, await workspaceNames(deps, template.id));
}

export async function getPlan(deps: Deps, subject: Subject, template: TemplateRow, planId: string): Promise<TemplatePlan> {
  if (!authorize(subject, "update", { type: "template" })) throw notFound("plan");
  const job = await getDryRunJob(deps.db, planId, template.id);
  if (!job) throw notFound("plan");
  return planView(job, await workspaceNames(deps, template.id));
}

/** The dry run's job, for its logs (template admins only). */
export async function planJob(deps: Deps, subject: Subject, planId: string): Promise<JobRow> {
  const job = await getJob(deps.db, planId);
  if (!job || job.type !== "template_version_dry_run" || !authorize(subject, "update", { type: "template" })) throw notFound("plan");
  return job;
}
