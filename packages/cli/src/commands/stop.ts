import { authedClient } from "../client.js";
import type { CliContext } from "../context.js";
import { parseSubArgs } from "../subcommands.js";
import { findWorkspace, parseWorkspaceRef, runBuild } from "../workspace-helpers.js";

const HELP = `Usage: outpost stop NAME [--no-follow]

Stops a workspace: its compute (the container, the agent process) is removed, and what the template
keeps across stops (such as the home volume) stays. Stopping a workspace that is still starting
cancels the start first. NAME is yours, or OWNER/NAME (admins).

Options:
  --no-follow             return once the build is queued instead of following its logs`;

export async function run(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: HELP, options: { "no-follow": { type: "boolean" } }, positionals: ["NAME"] });
  if (a.help) return 0;
  const v = a.values as { "no-follow"?: boolean };
  const ref = parseWorkspaceRef(a.positionals[0]!);
  const client = await authedClient(ctx);
  const ws = await findWorkspace(client, ref);
  await runBuild(ctx, client, ws, { transition: "stop" }, !v["no-follow"]);
  return 0;
}
