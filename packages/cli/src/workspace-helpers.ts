// Shared by the workspace commands (create, start, stop, restart, delete, update, show, logs, cancel).
import type { FleetClient } from "@outpost/sdk/client-fleet";
import { usernameSchema } from "@outpost/sdk/names";
import type { WorkspaceTransition } from "@outpost/sdk/provisioner";
import type { TemplateVersion } from "@outpost/sdk/templates";
import { workspaceNameSchema, type CreateBuildRequest, type Workspace, type WorkspaceBuild } from "@outpost/sdk/workspaces";
import { CliError, type CliContext } from "./context.js";
import { shortDuration } from "./duration.js";
import { printJobLogs } from "./follow.js";
import { checkValue } from "./subcommands.js";

export interface WorkspaceRef {
  /** `me` or a username. */
  owner: string;
  name: string;
}

/** `NAME` (yours) or `OWNER/NAME` (someone else's, for admins); checked locally (exit 2). */
export function parseWorkspaceRef(value: string): WorkspaceRef {
  const parts = value.split("/");
  if (parts.length > 2) throw new CliError(`invalid workspace ${JSON.stringify(value)}`, ["use NAME or OWNER/NAME"], 2);
  const [owner, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : ["me", parts[0]!];
  if (owner !== "me") checkValue("workspace owner", usernameSchema, owner);
  checkValue("workspace name", workspaceNameSchema, name);
  return { owner, name };
}

export function workspaceLabel(ws: Pick<Workspace, "owner" | "name">): string {
  return `${ws.owner.username}/${ws.name}`;
}

export async function findWorkspace(client: FleetClient, ref: WorkspaceRef): Promise<Workspace> {
  return client.workspaceByName(ref.owner, ref.name);
}

/** Values of a build's parameters by name. */
export function buildParameterValues(build: Pick<WorkspaceBuild, "parameters">): Record<string, unknown> {
  return Object.fromEntries(build.parameters.map((p) => [p.name, p.value]));
}

/** A version of a template by id (the API takes a version's name or id). */
export async function versionById(client: FleetClient, template: string, id: string): Promise<TemplateVersion> {
  return client.templateVersion(template, id);
}

/** Asks "QUESTION [y/N]" on a terminal; without one, `yes` must have been given (else exit 2). */
export async function confirm(ctx: CliContext, question: string, opts: { yes?: boolean; defaultYes?: boolean; what: string }): Promise<boolean> {
  if (opts.yes) return true;
  if (!ctx.io.interactive) throw new CliError(`refusing to ${opts.what} without confirmation`, ["not running in a terminal: pass -y (--yes) to confirm"], 2);
  const answer = (await ctx.io.prompt(`${question} ${opts.defaultYes ? "[Y/n]" : "[y/N]"}`)).trim();
  if (answer === "") return opts.defaultYes === true;
  return /^y(es)?$/i.test(answer);
}

const DOING: Record<WorkspaceTransition, string> = { start: "Starting", stop: "Stopping", delete: "Deleting" };

function buildDuration(b: WorkspaceBuild): string {
  const { started_at, completed_at } = b.job;
  if (!started_at || !completed_at) return "";
  const ms = Date.parse(completed_at) - Date.parse(started_at);
  return ` in ${ms < 10_000 ? `${(Math.max(ms, 0) / 1000).toFixed(1)}s` : shortDuration(ms)}`;
}

/** Follows a build's job logs; with `follow`, waits for the end and turns a failed build into exit 1. */
export async function followBuild(ctx: CliContext, client: FleetClient, ws: Pick<Workspace, "owner" | "name">, build: WorkspaceBuild, follow: boolean): Promise<WorkspaceBuild> {
  const label = workspaceLabel(ws);
  if (!follow) {
    ctx.io.err(`Build #${build.build_number} (${build.transition}) of ${label} queued; follow it with \`outpost logs ${label} -f\`.`);
    return build;
  }
  const job = await printJobLogs(ctx, (after, wait) => client.buildLogs(build.id, after, wait), { follow: true });
  const done = await client.build(build.id);
  if (job.status === "succeeded") {
    ctx.io.err(`Build #${done.build_number} (${done.transition}) of ${label} succeeded${buildDuration(done)}: ${done.status}.`);
    return done;
  }
  if (job.status === "canceled") throw new CliError(`build #${done.build_number} (${done.transition}) of ${label} was canceled`, [`the workspace is ${done.status}`]);
  throw new CliError(`build #${done.build_number} (${done.transition}) of ${label} failed`, [...(job.error ?? "no error message").split("\n"), `the workspace is ${done.status}; see \`outpost logs ${label} --build ${done.build_number}\``]);
}

/** Starts a build of the given transition and follows it (unless `follow` is false). */
export async function runBuild(
  ctx: CliContext,
  client: FleetClient,
  ws: Workspace,
  body: CreateBuildRequest,
  follow: boolean,
): Promise<WorkspaceBuild> {
  const build = await client.createBuild(ws.id, body);
  ctx.io.err(`${DOING[body.transition]} ${workspaceLabel(ws)} (build #${build.build_number}, template version ${build.template_version_name})`);
  return followBuild(ctx, client, ws, build, follow);
}

/** Flags every build-starting command shares. */
export const FOLLOW_OPTIONS = { "no-follow": { type: "boolean" } } as const;
