import { authedClient } from "../client.js";
import type { CliContext } from "../context.js";
import { givenParameters, resolveParameters } from "../parameters.js";
import { parseSubArgs } from "../subcommands.js";
import { buildParameterValues, findWorkspace, parseWorkspaceRef, runBuild, versionById, workspaceLabel } from "../workspace-helpers.js";

const HELP = `Usage: outpost start NAME [options]

Starts a stopped workspace on the template version of its latest build, printing the build's logs
until it is done. NAME is yours, or OWNER/NAME (admins). \`outpost update\` moves a workspace to the
template's active version instead.

Options:
  --parameter NAME=VALUE         change a mutable parameter for this and later builds; repeat for more
  --rich-parameter-file FILE     parameter values from a JSON or YAML file
  --no-follow                    return once the build is queued instead of following its logs`;

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
    const version = await versionById(client, ws.template.name, ws.latest_build.template_version_id);
    parameters = await resolveParameters(ctx, {
      specs: version.parameters,
      given,
      previous: buildParameterValues(ws.latest_build),
      mode: "build",
      source: `template ${ws.template.name} version ${version.name}`,
    });
  }
  await runBuild(ctx, client, ws, { transition: "start", parameters }, !v["no-follow"]);
  if (ws.outdated) ctx.io.err(`A newer template version is available: \`outpost update ${workspaceLabel(ws)}\`.`);
  return 0;
}
