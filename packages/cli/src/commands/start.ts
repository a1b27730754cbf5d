import { changedParameters, parseBuildCommand } from "../build-command.js";
import type { CliContext } from "../context.js";
import { runBuild, workspaceLabel } from "../workspace-helpers.js";

const HELP = `Usage: outpost start NAME [options]

Starts a stopped workspace on the template version of its latest build, printing the build's logs
until it is done. NAME is yours, or OWNER/NAME (admins). \`outpost update\` moves a workspace to the
template's active version instead.

Options:
  --parameter NAME=VALUE         change a mutable parameter for this and later builds; repeat for more
  --rich-parameter-file FILE     parameter values from a JSON or YAML file
  --no-follow                    return once the build is queued instead of following its logs`;

export async function run(ctx: CliContext): Promise<number> {
  const cmd = await parseBuildCommand(ctx, HELP);
  if (!cmd) return 0;
  const parameters = await changedParameters(ctx, cmd);
  await runBuild(ctx, cmd.client, cmd.ws, { transition: "start", parameters }, cmd.follow);
  if (cmd.ws.outdated) ctx.io.err(`A newer template version is available: \`outpost update ${workspaceLabel(cmd.ws)}\`.`);
  return 0;
}
