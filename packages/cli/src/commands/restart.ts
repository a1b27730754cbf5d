import { changedParameters, parseBuildCommand } from "../build-command.js";
import type { CliContext } from "../context.js";
import { runBuild } from "../workspace-helpers.js";

const HELP = `Usage: outpost restart NAME [options]

Stops a workspace (unless it is stopped already) and starts it again on the same template version,
printing both builds' logs. The stop is always waited for; --no-follow returns once the start is queued. NAME is yours, or
OWNER/NAME (admins).

Options:
  --parameter NAME=VALUE         change a mutable parameter for the start; repeat for more
  --rich-parameter-file FILE     parameter values from a JSON or YAML file
  --no-follow                    return once the start build is queued`;

export async function run(ctx: CliContext): Promise<number> {
  const cmd = await parseBuildCommand(ctx, HELP);
  if (!cmd) return 0;
  // Checked before stopping, so a typo does not leave the workspace stopped.
  const parameters = await changedParameters(ctx, cmd);
  // A stopped workspace only needs the start.
  if (cmd.ws.status !== "stopped") await runBuild(ctx, cmd.client, cmd.ws, { transition: "stop" }, true);
  await runBuild(ctx, cmd.client, cmd.ws, { transition: "start", parameters }, cmd.follow);
  return 0;
}
