import type { AcquiredJob, CompleteJobRequest, FailJobRequest, JobLogInput, JobType } from "@outpost/sdk/provisioner";
import { TemplateParameterSchema } from "@outpost/sdk/templates";
import { withTx, type Queryable } from "../db/pool.js";
import { publish } from "../db/pubsub.js";
import { getFile } from "../db/queries/files.js";
import { getDaemon, touchDaemon, type DaemonRow } from "../db/queries/provisioner-daemons.js";
import { insertJobLogs, listJobLogs } from "../db/queries/provisioner-job-logs.js";
import * as jobs from "../db/queries/provisioner-jobs.js";
import type { JobRow } from "../db/queries/provisioner-jobs.js";
import { getTemplateById, setActiveVersion } from "../db/queries/templates.js";
import { getTemplateVersionByJob, setVersionImportResult } from "../db/queries/template-versions.js";
import { getUserById } from "../db/queries/users.js";
import { getBuildByJob, latestBuild, latestState, setBuildState } from "../db/queries/workspace-builds.js";
import { getWorkspaceIncludingDeleted, listTemplateWorkspaces, softDeleteWorkspace } from "../db/queries/workspaces.js";
import { ApiError, invalidField, notFound } from "../errors.js";
import { recordBuildAgents } from "./agents.js";
import { toJob, toJobLog } from "./convert-fleet.js";
import type { Deps } from "./deps.js";
import type { DaemonAuth } from "./provisioner-auth.js";

export async function createJob(
  q: Queryable,
  deps: Deps,
  j: { type: JobType; fileHash: string; tags?: Record<string, string>; input: Record<string, unknown>; initiatorId: string | null },
): Promise<string> {
  const id = await jobs.insertJob(q, { ...j, tags: j.tags ?? {}, now: deps.clock.now() });
  await publish(q, "outpost_jobs_pending", id);
  return id;
}

async function daemonFor(deps: Deps, auth: DaemonAuth, daemonId: string): Promise<DaemonRow> {
  const daemon = await getDaemon(deps.db, daemonId);
  if (!daemon || daemon.key_id !== auth.keyId) throw notFound("provisioner daemon");
  return daemon;
}

/** The job, if it is being run by a daemon of this key. */
async function jobFor(deps: Deps, auth: DaemonAuth, jobId: string): Promise<JobRow> {
  const job = await jobs.getJob(deps.db, jobId);
  if (!job || !job.worker_id) throw notFound("provisioner job");
  const daemon = await getDaemon(deps.db, job.worker_id);
  if (!daemon || daemon.key_id !== auth.keyId) throw notFound("provisioner job");
  return job;
}

async function buildTarget(deps: Deps, workspace: { id: string; name: string; owner_id: string }, transition: "start" | "stop" | "delete", parameters: { name: string; value: unknown }[], orphan: boolean) {
  const owner = (await getUserById(deps.db, workspace.owner_id))!;
  return {
    workspace: { id: workspace.id, name: workspace.name, transition, accessUrl: deps.config.accessUrl },
    owner: { id: owner.id, username: owner.username, email: owner.email, name: owner.name },
    parameters: Object.fromEntries(parameters.map((p) => [p.name, p.value])),
    previous_state: orphan ? [] : ((await latestState(deps.db, workspace.id)) ?? []),
  };
}

async function describeJob(deps: Deps, job: JobRow): Promise<AcquiredJob> {
  const base = { id: job.id, type: job.type, file_hash: job.file_hash, build: null, dry_run: null };
  if (job.type === "template_version_import") {
    return { ...base, template_version_id: (await getTemplateVersionByJob(deps.db, job.id))!.id };
  }
  if (job.type === "template_version_dry_run") {
    // Planned against each workspace as it is now (its latest build's transition and parameters).
    const workspaces = await listTemplateWorkspaces(deps.db, String(job.input.template_id));
    const targets = await Promise.all(
      workspaces.map(async (w) => {
        const latest = (await latestBuild(deps.db, w.id))!;
        return buildTarget(deps, w, latest.transition === "delete" ? "stop" : latest.transition, latest.parameters, false);
      }),
    );
    return { ...base, template_version_id: null, dry_run: { workspaces: targets } };
  }
  const build = (await getBuildByJob(deps.db, job.id))!;
  const workspace = (await getWorkspaceIncludingDeleted(deps.db, build.workspace_id))!;
  const target = await buildTarget(deps, workspace, build.transition, build.parameters, build.orphan);
  return { ...base, template_version_id: build.template_version_id, build: { ...target, workspace_build_id: build.id, orphan: build.orphan } };
}

/** Hands the oldest matching job to the daemon, waiting (long-poll) up to waitSeconds for one. */
export async function acquire(deps: Deps, auth: DaemonAuth, daemonId: string, waitSeconds: number, signal?: AbortSignal): Promise<AcquiredJob | undefined> {
  const daemon = await daemonFor(deps, auth, daemonId);
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    // A daemon that hung up must not be handed a job it will never run.
    if (signal?.aborted) return undefined;
    const pending = deps.pubsub.listen(["outpost_jobs_pending", "outpost_job_status"], () => true);
    try {
      await touchDaemon(deps.db, daemon.id, deps.clock.now());
      const job = await jobs.acquireJob(deps.db, daemon.id, { ...daemon.tags, ...auth.tags }, deps.clock.now());
      if (job) {
        await publish(deps.db, "outpost_job_status", job.id);
        return describeJob(deps, job);
      }
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return undefined;
      // Woken by a new job (or one ending: a queued stop may now run); the timer covers a missed notification.
      await pending.wait(Math.min(left, 2000), signal);
    } finally {
      pending.stop();
    }
  }
}

export async function heartbeat(deps: Deps, auth: DaemonAuth, jobId: string): Promise<{ cancel_requested: boolean }> {
  const job = await jobFor(deps, auth, jobId);
  const status = await jobs.heartbeatJob(deps.db, job.id, job.worker_id!, deps.clock.now());
  await touchDaemon(deps.db, job.worker_id!, deps.clock.now());
  if (!status) throw new ApiError("CONFLICT", `job is ${job.status}`, "it is no longer running; stop working on it");
  return { cancel_requested: status === "canceling" };
}

export async function appendLogs(deps: Deps, auth: DaemonAuth, jobId: string, logs: JobLogInput[]): Promise<void> {
  const job = await jobFor(deps, auth, jobId);
  if (job.completed_at) throw new ApiError("CONFLICT", `job is ${job.status}`, "logs cannot be added to a finished job");
  await insertJobLogs(deps.db, job.id, logs, deps.clock.now());
  await publish(deps.db, "outpost_job_logs", job.id);
}

function dailyCostOf(state: { resource: Record<string, unknown> }[]): number {
  return state.reduce((sum, s) => sum + (typeof s.resource.dailyCost === "number" ? s.resource.dailyCost : 0), 0);
}

export async function complete(deps: Deps, auth: DaemonAuth, jobId: string, body: CompleteJobRequest): Promise<void> {
  const job = await jobFor(deps, auth, jobId);
  await withTx(deps.db, async (tx) => {
    if (job.type === "template_version_import") {
      if (!body.import) throw invalidField("import", "is required to complete an import job");
      const parameters = body.import.parameters.map((p, i) => {
        const parsed = TemplateParameterSchema.safeParse(p);
        if (!parsed.success) throw invalidField(`import.parameters[${i}]`, parsed.error.issues[0]!.message);
        return parsed.data;
      });
      const version = (await getTemplateVersionByJob(tx, job.id))!;
      await setVersionImportResult(tx, version.id, parameters, body.import.resources);
      const template = await getTemplateById(tx, version.template_id);
      if (template && (version.activate_on_import || !template.active_version_id)) await setActiveVersion(tx, template.id, version.id);
    } else if (job.type === "template_version_dry_run") {
      if (!body.plan) throw invalidField("plan", "is required to complete a dry run");
      await jobs.setJobResult(tx, job.id, body.plan);
    } else {
      if (!body.build) throw invalidField("build", "is required to complete a build job");
      const build = (await getBuildByJob(tx, job.id))!;
      await setBuildState(tx, build.id, body.build.state, dailyCostOf(body.build.state));
      await recordBuildAgents(tx, deps, build, body.build.agents ?? []);
      if (build.transition === "delete") await softDeleteWorkspace(tx, build.workspace_id, deps.clock.now());
    }
    if (!(await jobs.finishJob(tx, job.id, "succeeded", null, deps.clock.now()))) throw new ApiError("CONFLICT", `job is already ${job.status}`);
    await publish(tx, "outpost_job_status", job.id);
  });
}

export async function fail(deps: Deps, auth: DaemonAuth, jobId: string, body: FailJobRequest): Promise<void> {
  const job = await jobFor(deps, auth, jobId);
  await withTx(deps.db, async (tx) => {
    if (job.type === "workspace_build" && body.state) {
      const build = (await getBuildByJob(tx, job.id))!;
      await setBuildState(tx, build.id, body.state, dailyCostOf(body.state));
      // A failed stop or delete may have left agents running: only a start's agents are recorded.
      if (body.agents && build.transition === "start") await recordBuildAgents(tx, deps, build, body.agents);
    }
    const status = job.status === "canceling" ? "canceled" : "failed";
    if (!(await jobs.finishJob(tx, job.id, status, body.error, deps.clock.now()))) throw new ApiError("CONFLICT", `job is already ${job.status}`);
    await publish(tx, "outpost_job_status", job.id);
  });
}

export async function cancelJob(deps: Deps, jobId: string): Promise<void> {
  const status = await jobs.requestCancel(deps.db, jobId, deps.clock.now());
  if (!status) {
    const job = await jobs.getJob(deps.db, jobId);
    throw new ApiError("CONFLICT", `the job is already ${job?.status ?? "gone"}`, "only pending or running jobs can be canceled");
  }
  await publish(deps.db, "outpost_job_status", jobId);
}

/** Fails jobs whose daemon stopped heartbeating, so the workspace can be built again. */
export async function failHungJobs(deps: Deps, timeoutMs: number): Promise<string[]> {
  const now = deps.clock.now();
  const hung = await jobs.listHungJobs(deps.db, new Date(now.getTime() - timeoutMs));
  for (const job of hung) {
    const daemon = job.worker_id ? await getDaemon(deps.db, job.worker_id) : undefined;
    const message = `provisioner daemon ${daemon ? `"${daemon.name}" ` : ""}stopped responding (no heartbeat for ${Math.round(timeoutMs / 1000)} s); the job was failed. Run the build again.`;
    if (await jobs.finishJob(deps.db, job.id, "failed", message, now)) {
      await insertJobLogs(deps.db, job.id, [{ stage: "Cleaning up", level: "error", output: message }], now);
      await publish(deps.db, "outpost_job_status", job.id);
      deps.logger.warn({ jobId: job.id, daemon: daemon?.name }, "failed a hung provisioner job");
    }
  }
  return hung.map((j) => j.id);
}

/** Logs after `after`; while the job runs and none are new, waits up to waitSeconds for more. */
export async function waitForLogs(deps: Deps, jobId: string, after: number, waitSeconds: number, signal?: AbortSignal) {
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const change = deps.pubsub.listen(["outpost_job_logs", "outpost_job_status"], (p) => p === jobId);
    try {
      const job = (await jobs.getJob(deps.db, jobId))!;
      const logs = await listJobLogs(deps.db, jobId, after);
      const left = deadline - Date.now();
      if (logs.length > 0 || job.completed_at || left <= 0 || signal?.aborted) return { logs: logs.map(toJobLog), job: toJob(job) };
      await change.wait(Math.min(left, 2000), signal);
    } finally {
      change.stop();
    }
  }
}

/** The template archive of a job this daemon runs (daemons have no session to use /files). */
export async function jobArchive(deps: Deps, auth: DaemonAuth, jobId: string): Promise<Buffer> {
  const job = await jobFor(deps, auth, jobId);
  const file = await getFile(deps.db, job.file_hash);
  if (!file) throw notFound("file");
  return file.data;
}
