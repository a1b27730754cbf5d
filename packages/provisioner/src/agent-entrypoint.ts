import type { AgentSpec } from "@outpost/template/agent";

/** Where the placeholder entrypoint writes the startup script's output inside a container. */
export const CONTAINER_STARTUP_LOG = "/tmp/outpost-startup.log";

/** The line the entrypoint appends to the startup log when the startup script has finished. */
export const STARTUP_DONE_MARKER = "[outpost] startup script exited with code";

export interface EntrypointOptions {
  /** Startup script log file. Default CONTAINER_STARTUP_LOG; the process driver passes `<dir>/.outpost/startup.log`. */
  logFile?: string;
  /** Directory to run the startup script in. Default `agent.dir` (the process driver resolves it itself). */
  dir?: string;
}

// $1 = startup script, $2 = log file, $3 = directory. POSIX sh only: the image may have no bash.
// The startup script runs in the background (a script that never ends, like a dev server, does not
// hold the workspace back), with bash when the image has it. Then the shell waits on a `sleep` it can
// interrupt: `wait` returns as soon as a trapped signal arrives, so SIGTERM (docker stop, or the
// process driver killing the group) ends the workspace at once instead of after a grace period.
const SCRIPT = `
s=; p=
trap 'kill $s $p 2>/dev/null; exit 0' TERM INT HUP
mkdir -p "$(dirname "$2")" 2>/dev/null
if [ -n "$3" ]; then cd "$3" 2>/dev/null || echo "[outpost] cannot enter $3, staying in $(pwd)" >>"$2"; fi
if [ -n "$1" ]; then
  (
    echo "[outpost] running startup script in $(pwd)"
    if command -v bash >/dev/null 2>&1; then bash -c "$1"; else sh -c "$1"; fi
    echo "${STARTUP_DONE_MARKER} $?"
  ) </dev/null >>"$2" 2>&1 &
  p=$!
fi
while :; do
  sleep 86400 &
  s=$!
  wait $s
done
`.trim();

/**
 * The command a workspace runs for its agent: the container command of a `docker_container` with
 * an agent (when the template gives no `command`), and the process the `process` driver starts.
 *
 * PLACEHOLDER until the workspace agent lands (a later issue replaces this one function with one that
 * fetches or mounts `outpost-agent` and execs it). For now it runs the agent's `startupScript` from
 * `agent.dir`, output to a log file (CONTAINER_STARTUP_LOG in a container, `<dir>/.outpost/startup.log`
 * for the process driver), and keeps the workspace alive until SIGTERM, which stops it promptly.
 */
export function agentEntrypoint(agent: AgentSpec, opts: EntrypointOptions = {}): string[] {
  return ["/bin/sh", "-c", SCRIPT, "outpost-agent", agent.startupScript ?? "", opts.logFile ?? CONTAINER_STARTUP_LOG, opts.dir ?? agent.dir ?? ""];
}
