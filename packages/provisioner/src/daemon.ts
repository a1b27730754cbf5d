import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import { OutpostError } from "@outpost/sdk/client-error";
import { AGENT_TOKEN_ENV, AGENT_URL_ENV } from "@outpost/sdk/agents";
import type { AcquiredJob, Tags } from "@outpost/sdk/provisioner";
import type { AgentSpec } from "@outpost/template/agent";
import type { Resource } from "@outpost/template/resources";
import { applyPlan } from "./apply.js";
import { errorMessage, sleep } from "./drivers/common.js";
import type { Driver } from "./drivers/driver.js";
import { extractArchive } from "./archive.js";
import { withContextHashes } from "./context-hash.js";
import { JobLogger } from "./job-logger.js";
import { describePlan, plan, type ResourceState } from "./plan.js";
import { loadTemplate } from "./template-loader.js";

export interface DaemonLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface DaemonOptions {
  client: FleetClient;
  name: string;
  tags?: Tags;
  version?: string;
  drivers: Driver[];
  /** Where job folders are extracted (one temporary folder per job). */
  workDir?: string;
  /** How long template code may run. */
  templateTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  logger?: DaemonLogger;
  signal: AbortSignal;
}

const quiet: DaemonLogger = { info: () => undefined, warn: () => undefined };

/**
 * A provisioner daemon: registers, then takes jobs one at a time (long-poll), runs each (template
 * import, or a workspace build: plan against the previous state, apply through the drivers) while
 * heartbeating, ships logs, and reports the result. Only the server's API is used. Runs until `signal`.
 */
export async function runDaemon(opts: DaemonOptions): Promise<void> {
  const log = opts.logger ?? quiet;
  let daemonId: string | undefined;
  let backoff = 500;
  while (!opts.signal.aborted) {
    try {
      daemonId ??= (await opts.client.registerDaemon({ name: opts.name, tags: opts.tags ?? {}, version: opts.version ?? "" })).id;
      const job = await opts.client.acquireJob(daemonId, 25, opts.signal);
      backoff = 500;
      if (job) await runJob(opts, job, log);
    } catch (err) {
      if (opts.signal.aborted) break;
      // A deleted key or a daemon the server forgot: register again; anything else: back off and retry.
      if (err instanceof OutpostError && err.status === 404) daemonId = undefined;
      log.warn(`provisioner daemon ${opts.name}: ${errorMessage(err)}; retrying in ${Math.round(backoff / 1000)} s`);
      await sleep(backoff + Math.random() * backoff, opts.signal).catch(() => undefined);
      backoff = Math.min(backoff * 2, 30_000);
    }
  }
}

async function runJob(opts: DaemonOptions, job: AcquiredJob, log: DaemonLogger): Promise<void> {
  const { client } = opts;
  const logger = new JobLogger(async (logs) => {
    await client.appendJobLogs(job.id, logs);
  });
  const cancel = new AbortController();
  const onStop = () => cancel.abort();
  opts.signal.addEventListener("abort", onStop);
  const heartbeat = setInterval(() => {
    client.heartbeatJob(job.id).then(
      (r) => r.cancel_requested && !cancel.signal.aborted && (logger.log("warn", "cancel requested: stopping"), cancel.abort()),
      (err) => err instanceof OutpostError && err.status === 409 && cancel.abort(),
    );
  }, opts.heartbeatIntervalMs ?? 5000);
  log.info(`provisioner daemon ${opts.name}: running ${job.type} ${job.id}`);
  try {
    logger.setStage("Setting up");
    const { dir, bundle } = await templateFolder(opts, job);
    if (job.type === "template_version_import") await runImport(opts, job, dir, logger);
    else if (job.type === "template_version_dry_run") await runDryRun(opts, job, dir, bundle, logger);
    else await runBuild(opts, job, dir, bundle, logger, cancel.signal);
  } catch (err) {
    logger.log("error", errorMessage(err));
    await logger.flush();
    await client.failJob(job.id, { error: errorMessage(err).slice(0, 8192) }).catch((e) => log.warn(`failing job ${job.id}: ${errorMessage(e)}`));
  } finally {
    clearInterval(heartbeat);
    opts.signal.removeEventListener("abort", onStop);
    await logger.flush();
  }
}

/**
 * The job's template folder, extracted once per archive: archives are immutable and addressed by
 * their hash, so later builds of a version reuse the folder and its bundled template code.
 */
async function templateFolder(opts: DaemonOptions, job: AcquiredJob): Promise<{ dir: string; bundle: string }> {
  const root = path.join(opts.workDir ?? os.tmpdir(), "outpost-templates");
  const dir = path.join(root, job.file_hash);
  const bundle = `${dir}.bundle.mjs`;
  if (existsSync(dir)) return { dir, bundle };
  await fs.mkdir(root, { recursive: true });
  const partial = await fs.mkdtemp(path.join(root, `.${job.file_hash.slice(0, 12)}-`));
  try {
    await extractArchive(await opts.client.jobArchive(job.id), partial);
    // Renamed into place whole: another daemon never sees a half-extracted folder.
    await fs.rename(partial, dir).catch((err: NodeJS.ErrnoException) => {
      if (!existsSync(dir)) throw err;
    });
  } finally {
    await fs.rm(partial, { recursive: true, force: true });
  }
  return { dir, bundle };
}

async function runImport(opts: DaemonOptions, job: AcquiredJob, dir: string, logger: JobLogger): Promise<void> {
  logger.setStage("Parsing template");
  const onLog = (level: "info" | "warn" | "error", line: string) => logger.log(level, line);
  const loaded = await loadTemplate({ dir, typecheck: true, timeoutMs: opts.templateTimeoutMs, onLog }, { mode: "import" });
  const parameters = Object.entries(loaded.parameters).map(([name, spec]) => ({ name, spec }));
  logger.log("info", `parameters: ${parameters.map((p) => p.name).join(", ") || "(none)"}`);
  // A preview of what a start creates, with every parameter at its default (skipped when that is not possible).
  logger.setStage("Detecting resources");
  const defaults = Object.fromEntries(parameters.map((p) => [p.name, (p.spec as { default?: unknown }).default]));
  const preview = await loadTemplate(
    { dir, timeoutMs: opts.templateTimeoutMs, onLog },
    {
      mode: "build",
      context: {
        workspace: { id: "00000000-0000-4000-8000-000000000000", name: "preview", transition: "start", accessUrl: "" },
        owner: { id: "00000000-0000-4000-8000-000000000000", username: "preview", email: "preview@example.com", name: "" },
        params: defaults,
      },
    },
  ).catch((err) => {
    logger.log("warn", `no resource preview: ${errorMessage(err)}`);
    return { resources: [] };
  });
  for (const r of preview.resources as Resource[]) logger.log("info", `${r.type}.${r.name}`);
  await logger.flush();
  await opts.client.completeJob(job.id, { import: { parameters, resources: preview.resources as Record<string, unknown>[] } });
}

async function runBuild(opts: DaemonOptions, job: AcquiredJob, dir: string, bundle: string, logger: JobLogger, signal: AbortSignal): Promise<void> {
  const b = job.build!;
  if (b.orphan) {
    logger.setStage("Orphaning");
    logger.log("warn", "delete --orphan: the workspace's resources are forgotten, not removed; remove them by hand if they still exist");
    await logger.flush();
    await opts.client.completeJob(job.id, { build: { state: [] } });
    return;
  }
  logger.setStage("Evaluating template");
  const loaded = await loadTemplate(
    { dir, timeoutMs: opts.templateTimeoutMs, onLog: (level, line) => logger.log(level, line), bundleCache: bundle },
    { mode: "build", context: { workspace: b.workspace, owner: b.owner, params: b.parameters } },
  );
  const previous = b.previous_state as unknown as ResourceState[];
  const actions = plan(previous, await withContextHashes(loaded.resources as Resource[], dir));
  logger.setStage("Planning");
  const lines = describePlan(actions);
  for (const line of lines.length ? lines : ["no changes"]) logger.log("info", line);
  logger.setStage("Applying");
  // Each agent (re)started by this build gets a new token in its environment; the server keeps its hash.
  const tokens = new Map<string, string>();
  const agentToken = (name: string) => {
    if (!tokens.has(name)) tokens.set(name, randomBytes(32).toString("base64url"));
    return tokens.get(name)!;
  };
  const result = await applyPlan({
    actions,
    drivers: opts.drivers,
    ctx: {
      workspaceId: b.workspace.id,
      transition: b.workspace.transition,
      templateDir: dir,
      log: (level, line) => logger.log(level, line),
      signal,
      agentEnv: (agent) => ({ [AGENT_URL_ENV]: b.workspace.accessUrl, [AGENT_TOKEN_ENV]: agentToken(agent.name), OUTPOST_AGENT_NAME: agent.name }),
      outputsOf: () => undefined,
    },
  });
  const state = result.state.map((s) => ({ address: s.address, resource: s.resource as never, outputs: s.outputs }));
  // The agents in the resulting state: a new token where this build started them, else kept.
  const agents = result.state.flatMap((s) => {
    const agent = (s.resource as { agent?: AgentSpec }).agent;
    if (!agent) return [];
    const token = tokens.get(agent.name);
    return [{ name: agent.name, resource_address: s.address, spec: agent as unknown as Record<string, unknown>, ...(token ? { token } : { keep: true }) }];
  });
  await logger.flush();
  if (result.error) {
    logger.log("error", signal.aborted ? "canceled" : errorMessage(result.error));
    await logger.flush();
    await opts.client.failJob(job.id, { error: signal.aborted ? "the build was canceled" : errorMessage(result.error).slice(0, 8192), state, agents });
    return;
  }
  logger.setStage("Done");
  await logger.flush();
  await opts.client.completeJob(job.id, { build: { state, agents } });
}

/** `templates plan`: the candidate archive planned against every workspace of the template; nothing applied. */
async function runDryRun(opts: DaemonOptions, job: AcquiredJob, dir: string, bundle: string, logger: JobLogger): Promise<void> {
  const onLog = (level: "info" | "warn" | "error", line: string) => logger.log(level, line);
  logger.setStage("Parsing template");
  const { parameters } = await loadTemplate({ dir, typecheck: true, timeoutMs: opts.templateTimeoutMs, onLog }, { mode: "import" });
  const results: { workspace_id: string; lines: string[]; error?: string }[] = [];
  for (const target of job.dry_run!.workspaces) {
    logger.setStage(`Planning ${target.owner.username}/${target.workspace.name}`);
    try {
      // Parameters new in this archive take their defaults, as `outpost update` would ask for them.
      const params: Record<string, unknown> = {};
      for (const [name, spec] of Object.entries(parameters)) params[name] = name in target.parameters ? target.parameters[name] : (spec as { default?: unknown }).default;
      const loaded = await loadTemplate({ dir, timeoutMs: opts.templateTimeoutMs, onLog, bundleCache: bundle }, { mode: "build", context: { workspace: target.workspace, owner: target.owner, params } });
      const lines = describePlan(plan(target.previous_state as unknown as ResourceState[], await withContextHashes(loaded.resources as Resource[], dir)));
      for (const line of lines.length ? lines : ["no changes"]) logger.log("info", line);
      results.push({ workspace_id: target.workspace.id, lines });
    } catch (err) {
      logger.log("error", errorMessage(err));
      results.push({ workspace_id: target.workspace.id, lines: [], error: errorMessage(err).slice(0, 8192) });
    }
  }
  await logger.flush();
  await opts.client.completeJob(job.id, { plan: { workspaces: results } });
}
