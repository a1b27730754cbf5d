import { authedClient } from "../client.js";
import type { CliContext } from "../context.js";
import { givenParameters, resolveParameters } from "../parameters.js";
import { parseSubArgs } from "../subcommands.js";
import { buildParameterValues, findWorkspace, parseWorkspaceRef, runBuild, versionById } from "../workspace-helpers.js";

const HELP = `Usage: outpost restart NAME [options]

Stops a workspace (unless it is stopped already) and starts it again on the same template version,
printing both builds' logs. The stop is always waited for; --no-follow returns once the start is queued. NAME is yours, or
OWNER/NAME (admins).

Options:
  --parameter NAME=VALUE         change a mutable parameter for the start; repeat for more
  --rich-parameter-file FILE     parameter values from a JSON or YAML file
  --no-follow                    return once the start build is queued`;

export async function run(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, {
    usage: HELP,
    options: { parameter: { type: "string", multiple: true }, "rich-parameter-file": { type: "string" }, "no-follow": { type: "boolean" } },
    positionals: ["NAME"],
  });
  if (a.help) return 0;
  const v = a.values as { parameter?: string[]; "rich-parameter-file"?: string; "no-follow"?: boolean };
  const ref = parseWorkspaceRef(a.positionals[0]!);
  const given = await givenParameters(v.parameter, v["rich-parameter-file"]);
  const client = await authedClient(ctx);
  const ws = await findWorkspace(client, ref);
  let parameters = {};
  if (Object.keys(given).length > 0) {
    // Checked before stopping, so a typo does not leave the workspace stopped.
    const version = await versionById(client, ws.template.name, ws.latest_build.template_version_id);
    parameters = await resolveParameters(ctx, {
      specs: version.parameters,
      given,
      previous: buildParameterValues(ws.latest_build),
      mode: "build",
      source: `template ${ws.template.name} version ${version.name}`,
    });
  }
  // A stopped workspace only needs the start.
  if (ws.status !== "stopped") await runBuild(ctx, client, ws, { transition: "stop" }, true);
  await runBuild(ctx, client, ws, { transition: "start", parameters }, !v["no-follow"]);
  return 0;
}
