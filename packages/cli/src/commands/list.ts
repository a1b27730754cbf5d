import { MAX_PAGE_LIMIT } from "@outpost/sdk/pagination";
import { WORKSPACE_STATUSES, type Workspace, type WorkspaceStatus } from "@outpost/sdk/workspaces";
import { agentSummary } from "../agent-view.js";
import { authedClient } from "../client.js";
import { CliError, type CliContext } from "../context.js";
import { ago, parseFormat, printList } from "../output.js";
import { parseSubArgs } from "../subcommands.js";
import { workspaceLabel } from "../workspace-helpers.js";

const HELP = `Usage: outpost list [-a] [options]

Lists your workspaces; with -a, everyone's that you can see (admins see all).

Options:
  -a, --all               workspaces of every owner
  -q, --search TEXT       match the workspace name
  --template NAME         only workspaces of this template
  --status STATUS         ${WORKSPACE_STATUSES.join(", ")}
  -o, --output FORMAT     table (default) or json`;

export async function run(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, {
    usage: HELP,
    options: {
      all: { type: "boolean", short: "a" },
      search: { type: "string", short: "q" },
      template: { type: "string" },
      status: { type: "string" },
      output: { type: "string", short: "o" },
    },
  });
  if (a.help) return 0;
  const v = a.values as { all?: boolean; search?: string; template?: string; status?: string; output?: string };
  const format = parseFormat(v.output);
  if (v.status !== undefined && !(WORKSPACE_STATUSES as readonly string[]).includes(v.status)) {
    throw new CliError(`invalid value for --status: ${JSON.stringify(v.status)}`, [`statuses: ${WORKSPACE_STATUSES.join(", ")}`], 2);
  }
  const client = await authedClient(ctx);
  const items: Workspace[] = [];
  for (let offset = 0; ; offset += MAX_PAGE_LIMIT) {
    const page = await client.listWorkspaces({
      owner: v.all ? "all" : "me",
      q: v.search,
      template: v.template,
      status: v.status as WorkspaceStatus | undefined,
      limit: MAX_PAGE_LIMIT,
      offset,
    });
    items.push(...page.items);
    if (page.items.length < MAX_PAGE_LIMIT || items.length >= page.count) break;
  }
  printList(ctx.io, format, items, {
    empty: v.all ? "no workspaces found" : "you have no workspaces; create one with `outpost create NAME -t TEMPLATE`",
    headers: ["workspace", "template", "status", "agents", "last built", "outdated"],
    row: (w) => [workspaceLabel(w), w.template.name, w.status, w.agents.map(agentSummary).join(", ") || "-", ago(w.latest_build.created_at), w.outdated ? "yes" : "no"],
  });
  return 0;
}
