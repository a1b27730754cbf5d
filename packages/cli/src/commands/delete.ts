import { authedClient } from "../client.js";
import { CliError, type CliContext } from "../context.js";
import { parseSubArgs } from "../subcommands.js";
import { confirm, findWorkspace, parseWorkspaceRef, runBuild, workspaceLabel } from "../workspace-helpers.js";

const HELP = `Usage: outpost delete NAME [-y] [--orphan] [--no-follow]

Deletes a workspace and every resource it has, including persistent ones such as the home volume.
Asks for confirmation in a terminal; without one, -y is required. NAME is yours, or OWNER/NAME
(admins).

Options:
  -y, --yes               do not ask for confirmation
  --orphan                forget the resources without removing them (when the infrastructure is
                          already gone and a normal delete fails)
  --no-follow             return once the build is queued instead of following its logs`;

export async function run(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, {
    usage: HELP,
    options: { yes: { type: "boolean", short: "y" }, orphan: { type: "boolean" }, "no-follow": { type: "boolean" } },
    positionals: ["NAME"],
  });
  if (a.help) return 0;
  const v = a.values as { yes?: boolean; orphan?: boolean; "no-follow"?: boolean };
  const ref = parseWorkspaceRef(a.positionals[0]!);
  if (!v.yes && !ctx.io.interactive) {
    throw new CliError(`refusing to delete ${a.positionals[0]} without confirmation`, ["not running in a terminal: pass -y (--yes) to confirm"], 2);
  }
  const client = await authedClient(ctx);
  // Looked up first: a typo answers "not found" before anything is asked.
  const ws = await findWorkspace(client, ref);
  const what = v.orphan ? "Its resources are forgotten, not removed." : "All its resources, including its home volume, are removed.";
  if (!(await confirm(ctx, `Delete workspace ${workspaceLabel(ws)}? ${what}`, { yes: v.yes, what: "delete" }))) {
    ctx.io.err("Not deleted.");
    return 1;
  }
  await runBuild(ctx, client, ws, { transition: "delete", orphan: v.orphan === true }, !v["no-follow"]);
  return 0;
}
