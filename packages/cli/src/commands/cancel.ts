import { authedClient } from "../client.js";
import { CliError, type CliContext } from "../context.js";
import { parseSubArgs } from "../subcommands.js";
import { findWorkspace, parseWorkspaceRef, workspaceLabel } from "../workspace-helpers.js";

const HELP = `Usage: outpost cancel NAME

Cancels the workspace's running or queued build. The provisioner stops at the next safe point and
records the state reached, so a later build can carry on from there. NAME is yours, or OWNER/NAME
(admins).`;

export async function run(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: HELP, options: {}, positionals: ["NAME"] });
  if (a.help) return 0;
  const ref = parseWorkspaceRef(a.positionals[0]!);
  const client = await authedClient(ctx);
  const ws = await findWorkspace(client, ref);
  const b = ws.latest_build;
  if (b.job.status !== "pending" && b.job.status !== "running") {
    throw new CliError(`${workspaceLabel(ws)} has no build to cancel`, [`its latest build #${b.build_number} (${b.transition}) is ${b.job.status}`]);
  }
  const canceled = await client.cancelBuild(b.id);
  ctx.io.out(`Canceling build #${canceled.build_number} (${canceled.transition}) of ${workspaceLabel(ws)}: the job is ${canceled.job.status}.`);
  return 0;
}
