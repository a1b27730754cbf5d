import { printAgentLogs } from "../agent-logs.js";
import { FINAL_LIFECYCLES } from "../agent-view.js";
import { authedClient } from "../client.js";
import { CliError, type CliContext } from "../context.js";
import { printJobLogs } from "../follow.js";
import { parseSubArgs } from "../subcommands.js";
import { findWorkspace, parseWorkspaceRef, workspaceLabel } from "../workspace-helpers.js";

const HELP = `Usage: outpost logs NAME [-f] [--build N]

Prints the logs of the workspace's latest build (or build number N) as "stage | line", then
the startup script's output of each agent as "startup (AGENT) | line". With -f, keeps printing
new lines until the build ends and each agent's startup is over (ready, start_error or
start_timeout); exits 1 if the build or a startup script failed. NAME is yours, or OWNER/NAME.

Options:
  -f, --follow            wait for new lines until the build and the agents' startup end
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
  // The agents (and their startup scripts) belong to the latest build, once it started the workspace.
  if (build.id !== ws.latest_build.id || build.transition !== "start" || job.status !== "succeeded") return 0;
  const { agents } = await client.workspace(ws.id);
  let failed = 0;
  for (const agent of agents) {
    const last = await printAgentLogs(ctx, agent.name, (after, wait) => client.agentLogs(agent.id, after, wait), { follow: v.follow === true });
    if (last.lifecycle_state === "start_error") {
      failed++;
      ctx.io.err(`the startup script of agent ${agent.name} failed`);
    } else if (last.lifecycle_state === "start_timeout") {
      ctx.io.err(`the startup script of agent ${agent.name} is still running past its timeout`);
    } else if (!v.follow && !FINAL_LIFECYCLES.has(last.lifecycle_state)) {
      ctx.io.err(`agent ${agent.name} is ${last.status === "connected" ? last.lifecycle_state : last.status}; add -f to follow its startup`);
    }
  }
  return v.follow && failed > 0 ? 1 : 0;
}
