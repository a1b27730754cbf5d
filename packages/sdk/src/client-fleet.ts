import { z } from "zod";
import { AgentLogsResponseSchema, WorkspaceAgentSchema } from "./agents.js";
import { OutpostClient } from "./client.js";
import {
  AcquiredJobSchema,
  CreateProvisionerKeyResponseSchema,
  HeartbeatResponseSchema,
  JobLogSchema,
  ProvisionerDaemonSchema,
  ProvisionerJobSchema,
  ProvisionerKeySchema,
  type CompleteJobRequest,
  type FailJobRequest,
  type JobLogInput,
  type RegisterDaemonRequest,
  type Tags,
} from "./provisioner.js";
import {
  TemplatePlanSchema,
  TemplateSchema,
  TemplateVersionSchema,
  UploadFileResponseSchema,
  type CreateTemplateVersionRequest,
  type UpdateTemplateRequest,
} from "./templates.js";
import {
  WorkspaceBuildSchema,
  WorkspacePageSchema,
  WorkspaceSchema,
  type CreateBuildRequest,
  type CreateWorkspaceRequest,
  type ListWorkspacesQuery,
} from "./workspaces.js";

export const JobLogsResponseSchema = z.object({ logs: z.array(JobLogSchema), job: ProvisionerJobSchema });
export type JobLogsResponse = z.infer<typeof JobLogsResponseSchema>;

const enc = encodeURIComponent;

/** Templates, workspaces and provisioner endpoints: the fleet half of the API. */
export class FleetClient extends OutpostClient {
  uploadFile(data: Uint8Array) {
    return this.request("POST", "/api/v2/files", { raw: { data, contentType: "application/x-tar" }, schema: UploadFileResponseSchema });
  }
  downloadFile(hash: string) {
    return this.requestBytes("GET", `/api/v2/files/${enc(hash)}`);
  }

  listTemplates() {
    return this.request("GET", "/api/v2/templates", { schema: z.array(TemplateSchema) });
  }
  template(name: string) {
    return this.request("GET", `/api/v2/templates/${enc(name)}`, { schema: TemplateSchema });
  }
  updateTemplate(name: string, body: UpdateTemplateRequest) {
    return this.request("PATCH", `/api/v2/templates/${enc(name)}`, { body, schema: TemplateSchema });
  }
  deleteTemplate(name: string) {
    return this.request("DELETE", `/api/v2/templates/${enc(name)}`);
  }
  createTemplateVersion(template: string, body: CreateTemplateVersionRequest) {
    return this.request("POST", `/api/v2/templates/${enc(template)}/versions`, { body, schema: TemplateVersionSchema });
  }
  templateVersions(template: string, includeArchived = false) {
    return this.request("GET", `/api/v2/templates/${enc(template)}/versions`, { query: { include_archived: includeArchived }, schema: z.array(TemplateVersionSchema) });
  }
  templateVersion(template: string, version: string) {
    return this.request("GET", `/api/v2/templates/${enc(template)}/versions/${enc(version)}`, { schema: TemplateVersionSchema });
  }
  setActiveVersion(template: string, version: string) {
    return this.request("PUT", `/api/v2/templates/${enc(template)}/active-version`, { body: { version }, schema: TemplateSchema });
  }
  archiveVersion(template: string, version: string, archived = true) {
    return this.request("POST", `/api/v2/templates/${enc(template)}/versions/${enc(version)}/${archived ? "archive" : "unarchive"}`, { schema: TemplateVersionSchema });
  }
  /** Dry run: what pushing this archive would change in each workspace of the template. */
  createTemplatePlan(template: string, fileHash: string) {
    return this.request("POST", `/api/v2/templates/${enc(template)}/plans`, { body: { file_hash: fileHash }, schema: TemplatePlanSchema });
  }
  templatePlan(template: string, planId: string) {
    return this.request("GET", `/api/v2/templates/${enc(template)}/plans/${enc(planId)}`, { schema: TemplatePlanSchema });
  }
  templatePlanLogs(planId: string, after = 0, wait = 0) {
    return this.request("GET", `/api/v2/templateplans/${enc(planId)}/logs`, { query: { after, wait }, schema: JobLogsResponseSchema });
  }
  /** Long-poll: logs after `after`, waiting up to `wait` seconds for new ones while the job runs. */
  templateVersionLogs(versionId: string, after = 0, wait = 0) {
    return this.request("GET", `/api/v2/templateversions/${enc(versionId)}/logs`, { query: { after, wait }, schema: JobLogsResponseSchema });
  }

  listWorkspaces(query: ListWorkspacesQuery = {}) {
    return this.request("GET", "/api/v2/workspaces", { query: query as Record<string, string | number | undefined>, schema: WorkspacePageSchema });
  }
  createWorkspace(user: string, body: CreateWorkspaceRequest) {
    return this.request("POST", `/api/v2/users/${enc(user)}/workspaces`, { body, schema: WorkspaceSchema });
  }
  workspaceByName(user: string, name: string) {
    return this.request("GET", `/api/v2/users/${enc(user)}/workspaces/${enc(name)}`, { schema: WorkspaceSchema });
  }
  workspace(id: string) {
    return this.request("GET", `/api/v2/workspaces/${enc(id)}`, { schema: WorkspaceSchema });
  }
  workspaceBuilds(id: string) {
    return this.request("GET", `/api/v2/workspaces/${enc(id)}/builds`, { schema: z.array(WorkspaceBuildSchema) });
  }
  createBuild(workspaceId: string, body: CreateBuildRequest) {
    return this.request("POST", `/api/v2/workspaces/${enc(workspaceId)}/builds`, { body, schema: WorkspaceBuildSchema });
  }
  build(id: string) {
    return this.request("GET", `/api/v2/workspacebuilds/${enc(id)}`, { schema: WorkspaceBuildSchema });
  }
  cancelBuild(id: string) {
    return this.request("PATCH", `/api/v2/workspacebuilds/${enc(id)}/cancel`, { schema: WorkspaceBuildSchema });
  }
  buildLogs(buildId: string, after = 0, wait = 0) {
    return this.request("GET", `/api/v2/workspacebuilds/${enc(buildId)}/logs`, { query: { after, wait }, schema: JobLogsResponseSchema });
  }

  createProvisionerKey(name: string, tags: Tags = {}) {
    return this.request("POST", "/api/v2/provisionerkeys", { body: { name, tags }, schema: CreateProvisionerKeyResponseSchema });
  }
  listProvisionerKeys() {
    return this.request("GET", "/api/v2/provisionerkeys", { schema: z.array(ProvisionerKeySchema) });
  }
  deleteProvisionerKey(name: string) {
    return this.request("DELETE", `/api/v2/provisionerkeys/${enc(name)}`);
  }
  listProvisionerDaemons() {
    return this.request("GET", "/api/v2/provisionerdaemons", { schema: z.array(ProvisionerDaemonSchema) });
  }

  // --- used by provisioner daemons (authenticated with a provisioner key) ---
  registerDaemon(body: RegisterDaemonRequest) {
    return this.request("POST", "/api/v2/provisionerdaemons", { body, schema: ProvisionerDaemonSchema });
  }
  /** Returns undefined when no job arrived within `waitSeconds`. */
  acquireJob(daemonId: string, waitSeconds = 0, signal?: AbortSignal) {
    return this.request("POST", `/api/v2/provisionerdaemons/${enc(daemonId)}/acquire`, { body: { wait_seconds: waitSeconds }, schema: AcquiredJobSchema.optional(), ...(signal ? { signal } : {}) });
  }
  heartbeatJob(jobId: string) {
    return this.request("POST", `/api/v2/provisionerjobs/${enc(jobId)}/heartbeat`, { schema: HeartbeatResponseSchema });
  }
  appendJobLogs(jobId: string, logs: JobLogInput[]) {
    return this.request("POST", `/api/v2/provisionerjobs/${enc(jobId)}/logs`, { body: { logs } });
  }
  completeJob(jobId: string, body: CompleteJobRequest) {
    return this.request("POST", `/api/v2/provisionerjobs/${enc(jobId)}/complete`, { body });
  }
  jobArchive(jobId: string) {
    return this.requestBytes("GET", `/api/v2/provisionerjobs/${enc(jobId)}/archive`);
  }
  failJob(jobId: string, body: FailJobRequest) {
    return this.request("POST", `/api/v2/provisionerjobs/${enc(jobId)}/fail`, { body });
  }

  agent(agentId: string) {
    return this.request("GET", `/api/v2/workspaceagents/${enc(agentId)}`, { schema: WorkspaceAgentSchema });
  }

  /** Startup script and agent logs after an id; `wait` long-polls (seconds) while there is nothing new. */
  agentLogs(agentId: string, after = 0, wait = 0, signal?: AbortSignal) {
    return this.request("GET", `/api/v2/workspaceagents/${enc(agentId)}/logs`, { query: { after, wait }, schema: AgentLogsResponseSchema, ...(signal ? { signal } : {}) });
  }
}
