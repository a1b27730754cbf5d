import { spawn } from "node:child_process";
import os from "node:os";
import { waitForAgent } from "../agent-wait.js";
import { authedClient } from "../client.js";
import { CliError, type CliContext } from "../context.js";
import { parseSubArgs } from "../subcommands.js";
import { parseWorkspaceTarget, sshHostOf } from "../workspace-target.js";

const HELP = `Usage: outpost ssh [options] WORKSPACE [-- COMMAND [ARG...]]

Opens a shell in a workspace (or runs COMMAND there) with your OpenSSH client, through the Outpost
server: no inbound port on the workspace. A stopped workspace is started (after asking, on a
terminal); the command waits for the agent to connect, and for its startup script when the template
makes logins wait for it. Exits with the remote command's exit code.

WORKSPACE:
  NAME | NAME.AGENT | OWNER/NAME | OWNER/NAME.AGENT     .AGENT picks one agent of several
  outpost.NAME[.AGENT] | outpost.OWNER--NAME[.AGENT]    the SSH host form (see \`outpost config-ssh\`)

Options:
  -A, --forward-agent           forward your SSH agent (ssh -A)
  -L, --local-forward SPEC      ssh -L [BIND:]PORT:HOST:HOSTPORT; repeat for more
  -R, --remote-forward SPEC     ssh -R [BIND:]PORT:HOST:HOSTPORT; repeat for more
  -t, --tty                     force a terminal for COMMAND (ssh -t)
  --no-wait                     connect without waiting for a blocking startup script
  --stdio HOST                  be the ProxyCommand (outpost ssh --stdio HOST): carry stdin and
                                stdout to the SSH server of HOST's agent

Examples:
  outpost ssh dev
  outpost ssh kim/dev.main -- uname -a
  outpost ssh -L 8080:localhost:8080 dev
  scp file.txt outpost.dev:   (after \`outpost config-ssh\`)`;

/** A word for `sh -c` (ProxyCommand runs through the user's shell), with `%` escaped for ssh's own expansion. */
function shellWord(s: string): string {
  const escaped = s.replaceAll("%", "%%");
  return /^[A-Za-z0-9_./:@+=-]+$/.test(escaped) ? escaped : `'${escaped.replaceAll("'", `'\\''`)}'`;
}

/** The OpenSSH arguments for a host through our ProxyCommand. */
export function sshArgs(self: { node: string; script: string }, host: string, o: { forwardAgent?: boolean; local?: string[]; remote?: string[]; tty?: boolean; command: string[] }): string[] {
  const proxy = `${shellWord(self.node)} ${shellWord(self.script)} ssh --stdio %h`;
  return [
    "-o", `ProxyCommand=${proxy}`,
    // Both ends are authenticated by the tunnel (session token, agent token); host keys change with
    // every rebuild, so pinning them would only produce false alarms.
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    ...(o.forwardAgent ? ["-A"] : []),
    ...(o.local ?? []).flatMap((s) => ["-L", s]),
    ...(o.remote ?? []).flatMap((s) => ["-R", s]),
    ...(o.tty ? ["-t"] : []),
    host,
    ...o.command,
  ];
}

const FORWARD = /^(?:[^\s:]+:)?\d{1,5}:[^\s]+$/;

function checkForwards(flag: string, specs: string[]): void {
  for (const spec of specs) {
    if (!FORWARD.test(spec)) throw new CliError(`invalid value for ${flag}: ${JSON.stringify(spec)}`, ["expected [BIND:]PORT:HOST:HOSTPORT (or a socket path), as for ssh"], 2);
  }
}

/** Runs ssh with our stdio; resolves its exit code (128+signal when killed). */
function runSsh(args: string[], env: CliContext["env"]): Promise<number> {
  return new Promise((resolve, reject) => {
    // The ProxyCommand inherits this environment: OUTPOST_URL, OUTPOST_SESSION_TOKEN, OUTPOST_CONFIG_DIR.
    const child = spawn("ssh", args, { stdio: "inherit", env: env as NodeJS.ProcessEnv });
    // Ctrl-C belongs to the remote session (ssh passes it on, or exits): we wait for ssh either way.
    const ignore = () => {};
    process.on("SIGINT", ignore);
    const done = () => process.off("SIGINT", ignore);
    child.on("error", (err: NodeJS.ErrnoException) => {
      done();
      if (err.code === "ENOENT") reject(new CliError("ssh (the OpenSSH client) is not installed", ["install it, e.g. `apt install openssh-client`, `dnf install openssh-clients` or `brew install openssh`"]));
      else reject(err);
    });
    child.on("exit", (code, signal) => {
      done();
      resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0));
    });
  });
}

export async function run(ctx: CliContext): Promise<number> {
  // `ssh --stdio HOST` never gets here: entry.ts runs it before loading the command table.
  if (ctx.argv.includes("--stdio")) throw new CliError("--stdio comes right after ssh", ["usage: outpost ssh --stdio HOST"], 2);
  const dashes = ctx.argv.indexOf("--");
  const command = dashes >= 0 ? ctx.argv.slice(dashes + 1) : [];
  const a = parseSubArgs(
    { ...ctx, argv: dashes >= 0 ? ctx.argv.slice(0, dashes) : ctx.argv },
    {
      usage: HELP,
      options: {
        "forward-agent": { type: "boolean", short: "A" },
        "local-forward": { type: "string", short: "L", multiple: true },
        "remote-forward": { type: "string", short: "R", multiple: true },
        tty: { type: "boolean", short: "t" },
        "no-wait": { type: "boolean" },
      },
      positionals: ["WORKSPACE"],
    },
  );
  if (a.help) return 0;
  const v = a.values as { "forward-agent"?: boolean; "local-forward"?: string[]; "remote-forward"?: string[]; tty?: boolean; "no-wait"?: boolean };
  const target = parseWorkspaceTarget(a.positionals[0]!);
  checkForwards("-L/--local-forward", v["local-forward"] ?? []);
  checkForwards("-R/--remote-forward", v["remote-forward"] ?? []);
  if (!ctx.self) throw new CliError("cannot tell where this CLI is installed (needed for the ProxyCommand)");
  const client = await authedClient(ctx);
  const { agent } = await waitForAgent(ctx, client, target, { waitForStartup: !v["no-wait"] });
  const host = sshHostOf({ ...target, agent: agent.name });
  return runSsh(sshArgs(ctx.self, host, { forwardAgent: v["forward-agent"], local: v["local-forward"], remote: v["remote-forward"], tty: v.tty, command }), ctx.env);
}
