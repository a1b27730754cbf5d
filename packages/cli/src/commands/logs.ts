import { authedClient } from "../client.js";
import { CliError, type CliContext } from "../context.js";
import { printJobLogs } from "../follow.js";
import { parseSubArgs } from "../subcommands.js";
import { findWorkspace, parseWorkspaceRef, workspaceLabel } from "../workspace-helpers.js";

const HELP = `Usage: outpost logs NAME [-f] [--build N]

Prints the logs of the workspace's latest build (or build number N) as "stage | line".
With -f, keeps printing new lines until the build ends, and exits 1 if it failed.
NAME is yours, or OWNER/NAME (admins).

Options:
  -f, --follow            wait for new lines until the build ends
  --build N               the build number (see \`outpost show NAME\`); default the latest`;

export async function run(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: HELP, options: { follow: { type: "boolean", short: "f" }, build: { type: "string" } }, positionals: ["NAME"] });
  if (a.help) return 0;
  const v = a.values as { follow?: boolean; build?: string };
  const ref = parseWorkspaceRef(a.positionals[0]!);
  let number: number | undefined;
  if (v.build !== undefined) {
    if (!/^[1-9]\d{0,8}$/.test(v.build)) throw new CliError(`invalid value for --build: ${JSON.stringify(v.build)}`, ["expected a build number: 1, 2, ..."], 2);
    number = Number(v.build);
  }
  const client = await authedClient(ctx);
  const ws = await findWorkspace(client, ref);
  let build = ws.latest_build;
  if (number !== undefined && number !== build.build_number) {
    const found = (await client.workspaceBuilds(ws.id)).find((b) => b.build_number === number);
    if (!found) throw new CliError(`${workspaceLabel(ws)} has no build #${number}`, [`its latest build is #${ws.latest_build.build_number}`]);
    build = found;
  }
  const job = await printJobLogs(ctx, (after, wait) => client.buildLogs(build.id, after, wait), { follow: v.follow === true });
  if (v.follow && job.status === "failed") throw new CliError(`build #${build.build_number} (${build.transition}) failed`, (job.error ?? "").split("\n").filter(Boolean));
  if (v.follow && job.status === "canceled") throw new CliError(`build #${build.build_number} (${build.transition}) was canceled`);
  if (!v.follow && (job.status === "pending" || job.status === "running")) ctx.io.err(`build #${build.build_number} is ${job.status}; add -f to follow it`);
  return 0;
}
