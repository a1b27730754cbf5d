// The user account and environment an SSH session runs with, close to what sshd builds: the agent's
// environment (the image's PATH and variables), the account from the passwd entry (HOME, USER,
// LOGNAME, SHELL), a default PATH when none is set, the workspace's variables (manifest env,
// OUTPOST_*), the SSH_* variables bash looks at to decide it runs under sshd (it then reads ~/.bashrc
// for `ssh host cmd`), what the client sent (`env` requests: LANG, LC_*, SetEnv; it is the user's own
// workspace, so anything goes), then TERM for PTYs and SSH_AUTH_SOCK for agent forwarding. SSH_TTY is
// not set: the pts name is only known after the spawn.
import os from "node:os";
import { AGENT_TOKEN_ENV } from "@outpost/sdk/agents";
import { loginShell, safeUserInfo } from "../workspace-env.js";

export interface Account {
  username: string;
  uid: number;
  home: string;
  /** Login shell, absolute path. */
  shell: string;
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The account the agent runs as (a uid without a passwd entry still gets a usable answer; a nologin
 * shell is replaced by bash or sh, as for the agent's terminals).
 */
export function currentAccount(): Account {
  const info = safeUserInfo();
  const uid = info?.uid ?? process.getuid?.() ?? 0;
  return { username: info?.username ?? String(uid), uid, home: info?.homedir || os.homedir() || "/", shell: loginShell() };
}

export interface SessionEnvInput {
  account: Account;
  /** The agent's own environment (what main.ts read from process.env). */
  agentEnv: Record<string, string | undefined>;
  /** What the server's `env()` option returns: manifest env and OUTPOST_* (may include the agent's env). */
  extraEnv: Record<string, string>;
  /** Variables the client sent with `env` requests. */
  clientEnv: Record<string, string>;
  /** "client-ip client-port server-ip server-port", as in SSH_CONNECTION. */
  connection: { clientAddress: string; clientPort: number; serverAddress: string; serverPort: number };
  term?: string;
  authSock?: string;
}

/** The agent's secrets and Node options: never in a session. */
const WITHHELD = new Set([AGENT_TOKEN_ENV, "NODE_OPTIONS"]);
/** What describes the agent's own terminal, agent socket or SSH connection rather than the client's. */
const PER_SESSION = new Set(["TERM", "SSH_TTY", "SSH_AUTH_SOCK", "SSH_CLIENT", "SSH_CONNECTION", "SSH_ORIGINAL_COMMAND"]);

function inherit(into: Record<string, string>, from: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(from)) {
    if (value !== undefined && !WITHHELD.has(key) && !PER_SESSION.has(key)) into[key] = value;
  }
}

export function sessionEnv(input: SessionEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  inherit(env, input.agentEnv);
  const { account, connection: c } = input;
  env.HOME = account.home;
  env.USER = account.username;
  env.LOGNAME = account.username;
  env.SHELL = account.shell;
  if (!env.PATH) env.PATH = DEFAULT_PATH;
  inherit(env, input.extraEnv);
  env.SSH_CLIENT = `${c.clientAddress} ${c.clientPort} ${c.serverPort}`;
  env.SSH_CONNECTION = `${c.clientAddress} ${c.clientPort} ${c.serverAddress} ${c.serverPort}`;
  Object.assign(env, input.clientEnv);
  if (input.term !== undefined) env.TERM = input.term;
  if (input.authSock !== undefined) env.SSH_AUTH_SOCK = input.authSock;
  return env;
}

/** argv for a session: the login shell for `shell`, `$SHELL -c command` for `exec` (as sshd does). */
export function sessionCommand(shell: string, command: string | undefined): { file: string; args: string[] } {
  if (command === undefined) return { file: shell, args: ["-l"] };
  return { file: shell, args: ["-c", command] };
}
