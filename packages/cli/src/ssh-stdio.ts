// `outpost ssh --stdio HOST`: the ProxyCommand of every SSH connection to a workspace. OpenSSH talks
// to our stdin/stdout; we carry the bytes over one relay WebSocket to the agent's SSH server. It is
// on the connection's critical path, so it does the least: no REST round trip (the server resolves
// the names), no zod, no command table (entry.ts calls it before loading main.ts).
import type { Readable, Writable } from "node:stream";
import { currentSession } from "./config-store.js";
import { CliError, type CliContext } from "./context.js";
import { openRelay, pipeRelay, relayUrl, RelayError } from "./relay.js";
import { parseWorkspaceTarget, targetLabel } from "./workspace-target.js";

export const SSH_STDIO_HELP = `Usage: outpost ssh --stdio HOST

Connects stdin and stdout to the SSH server of a workspace's agent: the ProxyCommand that
\`outpost config-ssh\` and \`outpost ssh\` give OpenSSH. HOST is outpost.[OWNER--]NAME[.AGENT]
(OpenSSH's %h) or [OWNER/]NAME[.AGENT]. Errors go to stderr, prefixed "outpost:".`;

export interface StdioContext extends Pick<CliContext, "env" | "home"> {
  stdin: Readable;
  stdout: Writable;
  /** One line to stderr. */
  err(text: string): void;
}

function report(c: StdioContext, message: string, detail: string[] = [], exitCode = 1): number {
  // OpenSSH shows the ProxyCommand's stderr as is: say who is talking.
  c.err(`outpost: ${message}`);
  for (const d of detail) c.err(`outpost:   ${d}`);
  return exitCode;
}

/** Runs the ProxyCommand; `argv` is what follows `ssh --stdio`. Returns the exit code. */
export async function sshStdio(c: StdioContext, argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    c.err(SSH_STDIO_HELP);
    return 0;
  }
  if (argv.length !== 1) return report(c, argv.length === 0 ? "missing HOST" : `unexpected argument "${argv[1]}"`, ["usage: outpost ssh --stdio HOST"], 2);
  let target;
  try {
    target = parseWorkspaceTarget(argv[0]!);
  } catch (err) {
    if (err instanceof CliError) return report(c, err.message, err.detail, err.exitCode);
    throw err;
  }
  const session = await currentSession(c);
  if (!session) return report(c, "you are not logged in", ["run `outpost login URL` first"]);
  let ws;
  try {
    ws = await openRelay(relayUrl(session.url, target, { kind: "ssh" }), session.token);
  } catch (err) {
    if (err instanceof RelayError) return report(c, err.message, err.detail);
    throw err;
  }
  const end = await pipeRelay(ws, c.stdin, c.stdout);
  if (end.ok) return 0;
  return report(c, `connection to workspace ${targetLabel(target)} lost: ${end.error.message}`, end.error.detail);
}
