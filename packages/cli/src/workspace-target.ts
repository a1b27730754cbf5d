// How commands name one agent of a workspace, in one place for `ssh`, `port-forward` and the hosts
// `config-ssh` writes:
//
//   [OWNER/]NAME[.AGENT]            on the command line         dev, dev.main, kim/dev, kim/dev.main
//   outpost.[OWNER--]NAME[.AGENT]   as an SSH host (ProxyCommand %h)   outpost.dev, outpost.kim--dev.main
//
// Usernames and workspace names are lowercase letters, digits and *single* dashes, agent names never
// hold a dot: so the first "." ends the workspace and "--" can only separate the owner. Without OWNER
// the workspace is the caller's own ("me"). This file must stay zod-free: `ssh --stdio` parses its
// host with it on every SSH connection, and loading zod costs more than the rest of the start.
import { AGENT_NAME_PATTERN, NAME_PATTERN } from "@outpost/sdk/wire-names";
import { CliError } from "./context.js";

export const HOST_PREFIX = "outpost.";
export const OWNER_SEPARATOR = "--";


export interface WorkspaceTarget {
  /** "me" or a username. */
  owner: string;
  name: string;
  /** Which agent, when the workspace has several; undefined: its only one. */
  agent?: string;
}

const FORMS = ["use NAME, NAME.AGENT, OWNER/NAME or OWNER/NAME.AGENT", `(or the SSH host form ${HOST_PREFIX}NAME, ${HOST_PREFIX}OWNER${OWNER_SEPARATOR}NAME.AGENT)`];

function invalid(value: string, why: string): CliError {
  return new CliError(`invalid workspace ${JSON.stringify(value)}: ${why}`, FORMS, 2);
}

function checked(value: string, owner: string, name: string, agent: string | undefined): WorkspaceTarget {
  if (owner !== "me" && !NAME_PATTERN.test(owner)) throw invalid(value, `owner ${JSON.stringify(owner)} is not a username (lowercase letters, digits and single dashes)`);
  if (!NAME_PATTERN.test(name)) throw invalid(value, `${JSON.stringify(name)} is not a workspace name (lowercase letters, digits and single dashes, at most 32)`);
  if (agent !== undefined && !AGENT_NAME_PATTERN.test(agent)) throw invalid(value, `${JSON.stringify(agent)} is not an agent name (lowercase letters, digits and dashes)`);
  return agent === undefined ? { owner, name } : { owner, name, agent };
}

function splitAgent(value: string, rest: string): [string, string | undefined] {
  const dot = rest.indexOf(".");
  if (dot < 0) return [rest, undefined];
  const agent = rest.slice(dot + 1);
  if (agent === "") throw invalid(value, "nothing after the dot (the agent name)");
  return [rest.slice(0, dot), agent];
}

/** Parses the SSH host form `outpost.[OWNER--]NAME[.AGENT]` (any case: OpenSSH may pass it as typed). */
export function parseSshHost(host: string): WorkspaceTarget {
  const value = host.toLowerCase();
  if (!value.startsWith(HOST_PREFIX)) throw invalid(host, `an SSH host must start with "${HOST_PREFIX}"`);
  const [left, agent] = splitAgent(host, value.slice(HOST_PREFIX.length));
  const parts = left.split(OWNER_SEPARATOR);
  if (parts.length > 2) throw invalid(host, `"${OWNER_SEPARATOR}" may appear once (between owner and workspace)`);
  const [owner, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : ["me", parts[0]!];
  return checked(host, owner, name, agent);
}

/** Parses `[OWNER/]NAME[.AGENT]`, or the SSH host form when it starts with `outpost.`. */
export function parseWorkspaceTarget(value: string): WorkspaceTarget {
  if (value.startsWith(HOST_PREFIX)) return parseSshHost(value);
  const parts = value.split("/");
  if (parts.length > 2) throw invalid(value, 'more than one "/"');
  const [owner, rest] = parts.length === 2 ? [parts[0]!, parts[1]!] : ["me", parts[0]!];
  const [name, agent] = splitAgent(value, rest);
  return checked(value, owner, name, agent);
}

/** The SSH host naming a target: what `outpost ssh` hands to OpenSSH and `config-ssh` matches. */
export function sshHostOf(t: WorkspaceTarget): string {
  return `${HOST_PREFIX}${t.owner === "me" ? "" : `${t.owner}${OWNER_SEPARATOR}`}${t.name}${t.agent ? `.${t.agent}` : ""}`;
}

/** For messages: `NAME[.AGENT]` or `OWNER/NAME[.AGENT]`. */
export function targetLabel(t: WorkspaceTarget): string {
  return `${t.owner === "me" ? "" : `${t.owner}/`}${t.name}${t.agent ? `.${t.agent}` : ""}`;
}
