import type { WorkspaceBuild } from "@outpost/sdk/workspaces";
import { agentDetail } from "../agent-view.js";
import { authedClient } from "../client.js";
import type { CliContext } from "../context.js";
import { shortDuration } from "../duration.js";
import { ago, json, parseFormat, table } from "../output.js";
import { formatValue } from "../parameters.js";
import { parseSubArgs } from "../subcommands.js";
import { findWorkspace, parseWorkspaceRef, workspaceLabel } from "../workspace-helpers.js";

const HELP = `Usage: outpost show NAME [-o json]

Shows a workspace: status, template and version, parameters, the resources of its latest build,
its agents (connection, lifecycle, version, directory, metadata, listening ports, sessions) and its
build history. NAME is yours, or OWNER/NAME (admins).

Options:
  -o, --output FORMAT     text (default) or json (the workspace, with its "agents", and a "builds" list)`;

function duration(b: WorkspaceBuild): string {
  const { started_at, completed_at } = b.job;
  if (!started_at) return "-";
  if (!completed_at) return "running";
  return shortDuration(Date.parse(completed_at) - Date.parse(started_at));
}

export async function run(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: HELP, options: { output: { type: "string", short: "o" } }, positionals: ["NAME"] });
  if (a.help) return 0;
  const v = a.values as { output?: string };
  const format = parseFormat(v.output === "text" ? undefined : v.output);
  const ref = parseWorkspaceRef(a.positionals[0]!);
  const client = await authedClient(ctx);
  const ws = await findWorkspace(client, ref);
  const builds = [...(await client.workspaceBuilds(ws.id))].sort((x, y) => y.build_number - x.build_number);
  if (format === "json") {
    ctx.io.out(json({ ...ws, builds }));
    return 0;
  }
  const b = ws.latest_build;
  const rows: [string, string][] = [
    ["workspace", workspaceLabel(ws)],
    ["id", ws.id],
    ["status", ws.status],
    ["template", `${ws.template.name}, version ${b.template_version_name}${ws.outdated ? " (outdated: run `outpost update " + workspaceLabel(ws) + "`)" : ""}`],
    ["latest build", `#${b.build_number} ${b.transition}, ${b.job.status}${b.initiator ? ` by ${b.initiator.username}` : ""}, ${ago(b.created_at)}${b.job.error ? `: ${b.job.error.split("\n")[0]}` : ""}`],
    ["created", `${ws.created_at} (${ago(ws.created_at)})`],
    ["last used", ago(ws.last_used_at)],
  ];
  if (b.daily_cost > 0) rows.push(["daily cost", String(b.daily_cost)]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  const lines = rows.map(([k, val]) => `${(k + ":").padEnd(width)}  ${val}`);
  if (b.parameters.length > 0) {
    lines.push("", "Parameters:");
    for (const p of b.parameters) lines.push(`  ${p.name} = ${p.value === "" ? '""' : formatValue(p.value)}`);
  }
  lines.push("", `Resources (build #${b.build_number}):`);
  if (b.resources.length === 0) lines.push("  none");
  else lines.push(...table(["address", "agent", "daily cost"], b.resources.map((r) => [r.address, r.agent ?? "-", String(r.daily_cost)])).split("\n").map((l) => `  ${l}`));
  if (ws.agents.length > 0) {
    lines.push("", "Agents:");
    for (const agent of ws.agents) lines.push(`  ${agent.name}`, ...agentDetail(agent).map((l) => `    ${l}`));
  }
  lines.push("", "Builds:");
  lines.push(
    ...table(
      ["#", "transition", "status", "version", "by", "reason", "created", "took"],
      builds.map((x) => [String(x.build_number), x.transition, x.job.status, x.template_version_name, x.initiator?.username ?? "-", x.reason, ago(x.created_at), duration(x)]),
    )
      .split("\n")
      .map((l) => `  ${l}`),
  );
  ctx.io.out(lines.join("\n"));
  return 0;
}
