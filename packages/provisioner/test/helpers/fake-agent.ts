// A stand-in for the workspace agent in driver tests: the drivers only start "the agent" with its
// environment, in its directory, as its user, and stop it; what the real agent does (the startup
// script, the tunnel) is tested in packages/agent. This one runs $FAKE_STARTUP in the background,
// logs to $FAKE_AGENT_LOG (default ~/.outpost/startup.log), and exits promptly on SIGTERM.
import { chmodSync, writeFileSync } from "node:fs";
import path from "node:path";

export const FAKE_DONE_MARKER = "[fake-agent] startup script exited with code";

export const FAKE_AGENT_SH = `#!/bin/sh
log="\${FAKE_AGENT_LOG:-$HOME/.outpost/startup.log}"
s=; p=
trap 'kill $s $p 2>/dev/null; exit 0' TERM INT HUP
mkdir -p "$(dirname "$log")" 2>/dev/null
echo "[fake-agent] started as $(id -un) in $(pwd) home=$HOME token=$OUTPOST_AGENT_TOKEN url=$OUTPOST_AGENT_URL" >>"$log"
if [ -n "\${FAKE_STARTUP:-}" ]; then
  ( sh -c "$FAKE_STARTUP"; echo "${FAKE_DONE_MARKER} $?" ) </dev/null >>"$log" 2>&1 &
  p=$!
fi
while :; do
  sleep 86400 &
  s=$!
  wait $s
done
`;

/** Writes the fake agent into `dir` (world-readable, executable: containers run it as dev). */
export function writeFakeAgent(dir: string): string {
  const file = path.join(dir, "fake-outpost-agent");
  writeFileSync(file, FAKE_AGENT_SH);
  chmodSync(file, 0o755);
  return file;
}
