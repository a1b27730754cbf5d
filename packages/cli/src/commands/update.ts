import { parseBuildCommand } from "../build-command.js";
import { CliError, type CliContext } from "../context.js";
import { resolveParameters } from "../parameters.js";
import { buildParameterValues, runBuild, versionById, workspaceLabel } from "../workspace-helpers.js";

const HELP = `Usage: outpost update NAME [options]

Moves a workspace to its template's active version and starts it there, printing the build's logs.
A running workspace is rebuilt in place: resources that changed are replaced, the others kept. Only parameters that are new in that version are asked
for; the others keep their values. What the template keeps across stops (such as the home volume)
stays. NAME is yours, or OWNER/NAME (admins).

Options:
  --parameter NAME=VALUE         a value for a new parameter, or a change to a mutable one; repeat for more
  --rich-parameter-file FILE     parameter values from a JSON or YAML file
  --no-follow                    return once the build is queued`;

export async function run(ctx: CliContext): Promise<number> {
  const cmd = await parseBuildCommand(ctx, HELP);
  if (!cmd) return 0;
  const { client, ws, given } = cmd;
  const template = await client.template(ws.template.name);
  if (!template.active_version_id) throw new CliError(`template ${template.name} has no active version`);
  const label = workspaceLabel(ws);
  if (template.active_version_id === ws.latest_build.template_version_id) {
    ctx.io.err(`${label} is already on the active version of template ${template.name} (${ws.latest_build.template_version_name}).`);
    return 0;
  }
  const version = await versionById(client, template.name, template.active_version_id);
  const parameters = await resolveParameters(ctx, {
    specs: version.parameters,
    given,
    previous: buildParameterValues(ws.latest_build),
    mode: "update",
    source: `template ${template.name} version ${version.name}`,
  });
  ctx.io.err(`Updating ${label} from version ${ws.latest_build.template_version_name} to ${version.name} of template ${template.name}.`);
  await runBuild(ctx, client, ws, { transition: "start", template_version_id: version.id, parameters }, cmd.follow);
  return 0;
}
