// How agents read in `outpost show`, `outpost list` and `outpost logs`.
import type { WorkspaceAgent } from "@outpost/sdk/agents";
import { ago } from "./output.js";

/** "connected since 3m ago", "disconnected since 1h ago", "connecting", "timeout (nothing within 120s)". */
export function agentStatus(a: WorkspaceAgent, now = Date.now()): string {
  switch (a.status) {
    case "connected":
      return `connected${a.last_connected_at ? ` since ${ago(a.last_connected_at, now)}` : ""}`;
    case "disconnected":
      return `disconnected${a.disconnected_at ? ` since ${ago(a.disconnected_at, now)}` : ""}`;
    case "timeout":
      return `timeout (not connected within ${a.connection_timeout_seconds}s)`;
    default:
      return a.first_connected_at ? "connecting" : `connecting (started ${ago(a.created_at, now)})`;
  }
}

export function agentLifecycle(a: WorkspaceAgent, now = Date.now()): string {
  return `${a.lifecycle_state}${a.lifecycle_changed_at ? ` since ${ago(a.lifecycle_changed_at, now)}` : ""}`;
}

/** The lifecycle states after which a startup script no longer changes anything. */
export const FINAL_LIFECYCLES: ReadonlySet<string> = new Set(["ready", "start_error", "start_timeout"]);

/** One word for a list column: the connection when not connected, else the lifecycle. */
export function agentSummary(a: WorkspaceAgent): string {
  return `${a.name} (${a.status === "connected" ? a.lifecycle_state : a.status})`;
}

/** The detail lines of `outpost show`'s Agents section for one agent (unindented). */
export function agentDetail(a: WorkspaceAgent, now = Date.now()): string[] {
  const rows: [string, string[]][] = [
    ["status", [agentStatus(a, now)]],
    ["lifecycle", [`${agentLifecycle(a, now)}${a.startup_script_behavior === "blocking" ? " (logins wait for the startup script)" : ""}`]],
    ["version", [a.version ? `${a.version} (${a.os}/${a.arch}, protocol ${a.api_version ?? "?"})` : `- (${a.os}/${a.arch}, not connected yet)`]],
    ["directory", [a.directory || "-"]],
  ];
  if (a.metadata.length > 0) {
    rows.push([
      "metadata",
      a.metadata.map((m) => {
        const name = m.display_name || m.key;
        if (!m.result) return `${name}: (not collected yet)`;
        if (m.result.error) return `${name}: error: ${m.result.error}`;
        return `${name}: ${m.result.value.trim()}`;
      }),
    ]);
  }
  const ports = [...a.listening_ports].sort((x, y) => x.port - y.port);
  rows.push(["ports", [ports.length === 0 ? "none" : ports.map((p) => `${p.port}${p.process_name ? ` (${p.process_name})` : ""}`).join(", ")]]);
  const s = a.stats;
  rows.push(["sessions", [s ? `ssh ${s.sessions.ssh}, terminal ${s.sessions.pty}, tcp ${s.sessions.tcp}; last activity ${ago(s.last_activity_at, now)}` : "none yet"]]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.flatMap(([k, values]) => values.map((value, i) => `${(i === 0 ? `${k}:` : "").padEnd(width)}  ${value}`));
}
