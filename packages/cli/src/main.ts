import { OutpostError } from "@outpost/sdk/client-error";
import { CliError, type CliContext, type Command } from "./context.js";

interface CommandEntry {
  summary: string;
  load: () => Promise<Command>;
}

// Each command is a separate chunk, imported only when run: `outpost ssh --stdio` must start fast.
const COMMANDS: Record<string, CommandEntry> = {
  login: { summary: "Log in to a deployment (or set up a new one)", load: () => import("./commands/login.js") },
  logout: { summary: "Log out and forget the saved session", load: () => import("./commands/logout.js") },
  whoami: { summary: "Show the logged-in user and deployment", load: () => import("./commands/whoami.js") },
  users: { summary: "Manage users: list, create, show, suspend, activate, delete, roles", load: () => import("./commands/users.js") },
  tokens: { summary: "Manage your API tokens: create, list, delete", load: () => import("./commands/tokens.js") },
  templates: { summary: "Manage templates: init, push, list, show, versions, delete, pull", load: () => import("./commands/templates.js") },
  create: { summary: "Create a workspace from a template", load: () => import("./commands/create.js") },
  list: { summary: "List workspaces", load: () => import("./commands/list.js") },
  show: { summary: "Show a workspace: status, resources, agents, builds", load: () => import("./commands/show.js") },
  start: { summary: "Start a workspace", load: () => import("./commands/start.js") },
  stop: { summary: "Stop a workspace", load: () => import("./commands/stop.js") },
  restart: { summary: "Restart a workspace", load: () => import("./commands/restart.js") },
  update: { summary: "Move a workspace to its template's active version", load: () => import("./commands/update.js") },
  delete: { summary: "Delete a workspace and its resources", load: () => import("./commands/delete.js") },
  logs: { summary: "Print a workspace's build and startup script logs", load: () => import("./commands/logs.js") },
  cancel: { summary: "Cancel a workspace's running build", load: () => import("./commands/cancel.js") },
  provisioner: { summary: "Manage provisioner keys and list provisioner daemons", load: () => import("./commands/provisioner.js") },
  provisionerd: { summary: "Run an external provisioner daemon (provisionerd start)", load: () => import("./commands/provisionerd.js") },
  ssh: { summary: "Open a shell in a workspace, or run a command there (OpenSSH)", load: () => import("./commands/ssh.js") },
  "port-forward": { summary: "Forward local TCP ports to ports inside a workspace", load: () => import("./commands/port-forward.js") },
  "config-ssh": { summary: "Add workspaces to ~/.ssh/config (ssh outpost.WORKSPACE)", load: () => import("./commands/config-ssh.js") },
  dotfiles: { summary: "Inside a workspace: clone your dotfiles and run their install script", load: () => import("./commands/dotfiles.js") },
  agent: { summary: "Run the workspace agent (started by the provisioner inside a workspace)", load: () => import("./commands/agent.js") },
  server: { summary: "Run the Outpost server (embedded PostgreSQL by default)", load: () => import("./commands/server.js") },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    "Outpost: self-hosted remote development workspaces",
    "",
    "Usage: outpost <command> [options]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `outpost <command> --help` for a command's options.",
  ].join("\n");
}

function reportError(ctx: CliContext, err: unknown): number {
  if (err instanceof CliError) {
    ctx.io.err(`error: ${err.message}`);
    for (const d of err.detail) ctx.io.err(`  ${d}`);
    return err.exitCode;
  }
  if (err instanceof OutpostError) {
    ctx.io.err(`error: ${err.message}`);
    if (err.detail) ctx.io.err(`  ${err.detail}`);
    for (const v of err.validations) ctx.io.err(`  ${v.field}: ${v.detail}`);
    if (err.retryAfterSeconds) ctx.io.err(`  retry after ${err.retryAfterSeconds} s`);
    return 1;
  }
  if ((err as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
    ctx.io.err(`error: ${(err as Error).message}`);
    return 2;
  }
  ctx.io.err(`error: ${(err as Error).message ?? String(err)}`);
  return 1;
}

export async function main(ctx: CliContext): Promise<number> {
  const [name, ...rest] = ctx.argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    ctx.io.out(usage());
    return name ? 0 : 2;
  }
  if (name === "--version" || name === "version") {
    ctx.io.out("outpost 0.1.0");
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    ctx.io.err(`error: unknown command "${name}"`);
    ctx.io.err("Run `outpost --help` for the list of commands.");
    return 2;
  }
  try {
    const command = await entry.load();
    return (await command.run({ ...ctx, argv: rest })) ?? 0;
  } catch (err) {
    return reportError(ctx, err);
  }
}
