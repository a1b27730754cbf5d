import { z } from "zod";
import {
  AcquireJobRequestSchema,
  AppendLogsRequestSchema,
  CompleteJobRequestSchema,
  CreateProvisionerKeyRequestSchema,
  FailJobRequestSchema,
  PROVISIONER_KEY_HEADER,
  RegisterDaemonRequestSchema,
} from "@outpost/sdk/provisioner";
import { getTemplateVersion } from "../../db/queries/template-versions.js";
import { notFound } from "../../errors.js";
import { authenticateDaemon } from "../../services/provisioner-auth.js";
import * as daemons from "../../services/provisioner-daemons.js";
import * as jobs from "../../services/provisioner-jobs.js";
import { authorize } from "../../services/rbac.js";
import { planJob } from "../../services/templates.js";
import { resolveBuild } from "../../services/workspaces.js";
import type { Deps } from "../../services/deps.js";
import { route, type LiveSocket, type RouteContext, type RouteDef } from "../route.js";

const LogsQuerySchema = z.strictObject({
  after: z.coerce.number().int().min(0).default(0),
  /** Long-poll: seconds to wait for new logs while the job runs. */
  wait: z.coerce.number().int().min(0).max(30).default(0),
});
const IdParam = (name: string) => z.strictObject({ [name]: z.string().uuid(`must be an id`) });
const JobParamSchema = z.strictObject({ job: z.string().uuid("must be a job id") });

/** Live logs over a WebSocket: replay after `after`, then each new line, then `end` with the job. (The job is resolved before the upgrade.) */
async function streamLogs(socket: LiveSocket, deps: Deps, jobId: string, after: number, signal: AbortSignal): Promise<void> {
  let cursor = after;
  while (!signal.aborted) {
    const { logs, job } = await jobs.waitForLogs(deps, jobId, cursor, 25, signal);
    for (const log of logs) socket.send(JSON.stringify({ type: "log", log }));
    cursor = logs.at(-1)?.id ?? cursor;
    if (job.completed_at && logs.length === 0) {
      socket.send(JSON.stringify({ type: "end", job }));
      socket.close(1000, "job ended");
      return;
    }
  }
}

function daemonAuth(ctx: Pick<RouteContext<unknown, unknown, unknown, boolean>, "deps" | "request">) {
  const header = ctx.request.headers[PROVISIONER_KEY_HEADER.toLowerCase()];
  return authenticateDaemon(ctx.deps, typeof header === "string" ? header : undefined);
}

export const jobRoutes: RouteDef[] = [
  route({
    method: "GET",
    url: "/api/v2/templateversions/:version/logs",
    authenticated: true,
    action: "read:template",
    summary: "Import job logs of a template version after an offset; `wait` long-polls while it runs",
    params: IdParam("version"),
    query: LogsQuerySchema,
    handler: async ({ deps, caller, params, query, signal }) => {
      const version = await getTemplateVersion(deps.db, params.version as string);
      if (!version || !authorize(caller.subject, "read", { type: "template" })) throw notFound("template version");
      return jobs.waitForLogs(deps, version.job_id, query.after, query.wait, signal);
    },
    beforeUpgrade: async ({ deps, caller, params }) => {
      const version = await getTemplateVersion(deps.db, params.version as string);
      if (!version || !authorize(caller.subject, "read", { type: "template" })) throw notFound("template version");
      return version.job_id;
    },
    websocket: (socket, { deps, query, signal }, jobId) => streamLogs(socket, deps, jobId, query.after, signal),
  }),
  route({
    method: "GET",
    url: "/api/v2/templateplans/:plan/logs",
    authenticated: true,
    action: "update:template",
    summary: "Logs of a dry run (templates plan); `wait` long-polls while it runs",
    params: IdParam("plan"),
    query: LogsQuerySchema,
    handler: async ({ deps, caller, params, query, signal }) => {
      const job = await planJob(deps, caller.subject, params.plan as string);
      return jobs.waitForLogs(deps, job.id, query.after, query.wait, signal);
    },
    beforeUpgrade: async ({ deps, caller, params }) => (await planJob(deps, caller.subject, params.plan as string)).id,
    websocket: (socket, { deps, query, signal }, jobId) => streamLogs(socket, deps, jobId, query.after, signal),
  }),
  route({
    method: "GET",
    url: "/api/v2/workspacebuilds/:build/logs",
    authenticated: true,
    action: "read:workspace",
    summary: "Build logs after an offset; `wait` long-polls while the build runs",
    params: IdParam("build"),
    query: LogsQuerySchema,
    handler: async ({ deps, caller, params, query, signal }) => {
      const { build } = await resolveBuild(deps, caller.subject, params.build as string);
      return jobs.waitForLogs(deps, build.job_id, query.after, query.wait, signal);
    },
    beforeUpgrade: async ({ deps, caller, params }) => (await resolveBuild(deps, caller.subject, params.build as string)).build.job_id,
    websocket: (socket, { deps, query, signal }, jobId) => streamLogs(socket, deps, jobId, query.after, signal),
  }),
  route({
    method: "GET",
    url: "/api/v2/provisionerdaemons",
    authenticated: true,
    action: "read:provisioner_daemon",
    summary: "Provisioner daemons seen in the last 10 minutes, with their current job",
    handler: async ({ deps, caller }) => daemons.listDaemons(deps, caller.subject),
  }),
  route({
    method: "POST",
    url: "/api/v2/provisionerkeys",
    authenticated: true,
    action: "create:provisioner_key",
    summary: "Create a provisioner key for external daemons; the key is shown only in this response",
    body: CreateProvisionerKeyRequestSchema,
    handler: async ({ deps, caller, body, audit, status }) => {
      status(201);
      return daemons.createKey(deps, caller.subject, body.name, body.tags, audit);
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/provisionerkeys",
    authenticated: true,
    action: "read:provisioner_key",
    summary: "List provisioner keys",
    handler: async ({ deps, caller }) => daemons.listKeys(deps, caller.subject),
  }),
  route({
    method: "DELETE",
    url: "/api/v2/provisionerkeys/:name",
    authenticated: true,
    action: "delete:provisioner_key",
    summary: "Delete a provisioner key; its daemons are refused from then on",
    params: z.strictObject({ name: z.string().min(1).max(64) }),
    handler: async ({ deps, caller, params, audit }) => {
      await daemons.deleteKey(deps, caller.subject, params.name, audit);
      return undefined;
    },
  }),
  // --- provisioner daemon API (authenticated by the Outpost-Provisioner-Key header) ---
  route({
    method: "POST",
    url: "/api/v2/provisionerdaemons",
    authenticated: false,
    action: "provisioner",
    summary: "Register a provisioner daemon (provisioner key)",
    body: RegisterDaemonRequestSchema,
    handler: async (ctx) => {
      ctx.status(201);
      return daemons.registerDaemon(ctx.deps, await daemonAuth(ctx), ctx.body);
    },
  }),
  route({
    method: "POST",
    url: "/api/v2/provisionerdaemons/:daemon/acquire",
    authenticated: false,
    action: "provisioner",
    summary: "Take the next job for this daemon, waiting up to wait_seconds (204 when none)",
    params: IdParam("daemon"),
    body: AcquireJobRequestSchema,
    handler: async (ctx) => jobs.acquire(ctx.deps, await daemonAuth(ctx), ctx.params.daemon as string, ctx.body.wait_seconds, ctx.signal),
  }),
  route({
    method: "POST",
    url: "/api/v2/provisionerjobs/:job/heartbeat",
    authenticated: false,
    action: "provisioner",
    summary: "Keep a running job alive; answers whether cancellation was requested",
    params: JobParamSchema,
    handler: async (ctx) => jobs.heartbeat(ctx.deps, await daemonAuth(ctx), ctx.params.job),
  }),
  route({
    method: "POST",
    url: "/api/v2/provisionerjobs/:job/logs",
    authenticated: false,
    action: "provisioner",
    summary: "Append log lines to a running job",
    params: JobParamSchema,
    body: AppendLogsRequestSchema,
    handler: async (ctx) => {
      await jobs.appendLogs(ctx.deps, await daemonAuth(ctx), ctx.params.job, ctx.body.logs);
      return undefined;
    },
  }),
  route({
    method: "POST",
    url: "/api/v2/provisionerjobs/:job/complete",
    authenticated: false,
    action: "provisioner",
    summary: "Finish a job successfully with its result",
    params: JobParamSchema,
    body: CompleteJobRequestSchema,
    handler: async (ctx) => {
      await jobs.complete(ctx.deps, await daemonAuth(ctx), ctx.params.job, ctx.body);
      return undefined;
    },
  }),
  route({
    method: "POST",
    url: "/api/v2/provisionerjobs/:job/fail",
    authenticated: false,
    action: "provisioner",
    summary: "Fail a job with an error (and, for builds, the state it reached)",
    params: JobParamSchema,
    body: FailJobRequestSchema,
    handler: async (ctx) => {
      await jobs.fail(ctx.deps, await daemonAuth(ctx), ctx.params.job, ctx.body);
      return undefined;
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/provisionerjobs/:job/archive",
    authenticated: false,
    action: "provisioner",
    summary: "The template archive of a job the daemon is running",
    params: JobParamSchema,
    handler: async (ctx) => ctx.reply.type("application/x-tar").send(await jobs.jobArchive(ctx.deps, await daemonAuth(ctx), ctx.params.job)),
  }),
];
