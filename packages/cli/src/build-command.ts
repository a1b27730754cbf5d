// The shared front of the commands that build an existing workspace with parameters: start, restart, update.
import type { FleetClient } from "@outpost/sdk/client-fleet";
import type { Workspace } from "@outpost/sdk/workspaces";
import { authedClient } from "./client.js";
import type { CliContext } from "./context.js";
import { givenParameters, resolveParameters, type GivenValue } from "./parameters.js";
import { parseSubArgs } from "./subcommands.js";
import { buildParameterValues, findWorkspace, parseWorkspaceRef, versionById } from "./workspace-helpers.js";

export interface BuildCommand {
  client: FleetClient;
  ws: Workspace;
  /** Values from --parameter and --rich-parameter-file, not checked yet. */
  given: Record<string, GivenValue>;
  follow: boolean;
}

/** Parses `NAME [--parameter ...] [--rich-parameter-file F] [--no-follow]` and finds the workspace; undefined after --help. */
export async function parseBuildCommand(ctx: CliContext, usage: string): Promise<BuildCommand | undefined> {
  const a = parseSubArgs(ctx, {
    usage,
    options: { parameter: { type: "string", multiple: true }, "rich-parameter-file": { type: "string" }, "no-follow": { type: "boolean" } },
    positionals: ["NAME"],
  });
  if (a.help) return undefined;
  const v = a.values as { parameter?: string[]; "rich-parameter-file"?: string; "no-follow"?: boolean };
  const ref = parseWorkspaceRef(a.positionals[0]!);
  const given = await givenParameters(v.parameter, v["rich-parameter-file"]);
  const client = await authedClient(ctx);
  return { client, ws: await findWorkspace(client, ref), given, follow: !v["no-follow"] };
}

/** Given values checked against the workspace's current version (changes to mutable parameters), before any build. */
export async function changedParameters(ctx: CliContext, { client, ws, given }: BuildCommand): Promise<Record<string, GivenValue>> {
  if (Object.keys(given).length === 0) return {};
  const version = await versionById(client, ws.template.name, ws.latest_build.template_version_id);
  return resolveParameters(ctx, {
    specs: version.parameters,
    given,
    previous: buildParameterValues(ws.latest_build),
    mode: "build",
    source: `template ${ws.template.name} version ${version.name}`,
  });
}
