// The managed block `outpost config-ssh` keeps in ~/.ssh/config (like coder config-ssh): everything
// between the markers is ours and rewritten on every run; everything else is left byte for byte.

import { HOST_PREFIX } from "./workspace-target.js";

export const BLOCK_START = "# ------------START-OUTPOST------------";
export const BLOCK_END = "# ------------END-OUTPOST------------";

export interface BlockOptions {
  /** Absolute paths: ProxyCommand runs without a shell PATH (never npx or tsx: start time is setup time). */
  node: string;
  script: string;
  /** Reuse one connection per workspace (ControlMaster): later `ssh` commands start in milliseconds. */
  controlMaster: boolean;
  /** Extra `Key value` lines for every outpost host. */
  extraOptions: string[];
  /** Deployment URL, for the comment only (the CLI's saved login decides where it connects). */
  url: string;
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(arg) ? arg : `"${arg.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

export function renderBlock(o: BlockOptions): string {
  const lines = [
    BLOCK_START,
    "# Written by `outpost config-ssh`: edits between these markers are overwritten; remove with",
    "# `outpost config-ssh --remove`.",
    `# Deployment: ${o.url}`,
    `Host ${HOST_PREFIX}*`,
    `  ProxyCommand ${[o.node, o.script, "ssh", "--stdio", "%h"].map(quote).join(" ")}`,
    // The tunnel authenticates both ends (session token to the server, agent token to the agent), and
    // workspaces get new host keys when rebuilt: pinning them would only produce false alarms.
    "  StrictHostKeyChecking no",
    "  UserKnownHostsFile /dev/null",
    "  LogLevel ERROR",
    "  ConnectTimeout 0",
    ...(o.controlMaster ? ["  ControlMaster auto", "  ControlPath ~/.ssh/outpost-%C", "  ControlPersist 10m"] : []),
    ...o.extraOptions.map((opt) => `  ${opt}`),
    BLOCK_END,
  ];
  return lines.join("\n") + "\n";
}

export interface SplitConfig {
  before: string;
  block: string | undefined;
  after: string;
}

/** Finds our block; refuses a file with unbalanced markers rather than guessing what to keep. */
export function splitConfig(text: string): SplitConfig {
  const start = text.indexOf(BLOCK_START);
  const end = text.indexOf(BLOCK_END);
  if (start < 0 && end < 0) return { before: text, block: undefined, after: "" };
  if (start < 0 || end < start || text.indexOf(BLOCK_START, start + 1) >= 0) {
    throw new Error(`the markers of the outpost block are broken (expected one "${BLOCK_START}" followed by one "${BLOCK_END}")`);
  }
  let endOfBlock = end + BLOCK_END.length;
  if (text[endOfBlock] === "\n") endOfBlock++;
  return { before: text.slice(0, start), block: text.slice(start, endOfBlock), after: text.slice(endOfBlock) };
}

/** The file with our block replaced (or appended, or removed when `block` is undefined). */
export function withBlock(text: string, block: string | undefined): string {
  const { before, after } = splitConfig(text);
  if (block === undefined) {
    const joined = before.replace(/\n+$/, "\n") + after.replace(/^\n+/, "");
    return joined === "\n" ? "" : joined;
  }
  // Appended, like coder config-ssh: a Host block at the end never changes the scope of the user's
  // own lines (one placed first would capture their global options below it).
  if (splitConfig(text).block === undefined) return text + (text && !text.endsWith("\n") ? "\n" : "") + (text ? "\n" : "") + block;
  return before + block + after;
}
