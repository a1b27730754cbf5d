/** Where the docker driver bind-mounts the agent binary; the init script runs it from there when present. */
export const AGENT_MOUNT_PATH = "/opt/outpost/bin/outpost-agent";

/**
 * The agent's init script (POSIX sh): what a workspace runs to start its agent, like Coder's
 * `init_script`. It needs `OUTPOST_AGENT_URL` and `OUTPOST_AGENT_TOKEN` in its environment (the
 * provisioner sets both on every resource with an agent). It runs the binary the docker driver
 * mounted at AGENT_MOUNT_PATH; otherwise it downloads it from the server with curl, else wget,
 * retrying with backoff while the server is unreachable, and skips the download when the cached
 * copy's sha256 matches the server's. A template with its own container command runs it as
 * `command: ["sh", "-c", AGENT_INIT_SCRIPT]`, or at the end of its own entrypoint.
 */
export const AGENT_INIT_SCRIPT = `set -u
say() { echo "outpost-agent-init: $*" >&2; }
if [ -z "\${OUTPOST_AGENT_URL:-}" ] || [ -z "\${OUTPOST_AGENT_TOKEN:-}" ]; then
  say "OUTPOST_AGENT_URL and OUTPOST_AGENT_TOKEN must be set (the provisioner sets them)"; exit 1
fi
unset NODE_OPTIONS
if [ -x ${AGENT_MOUNT_PATH} ]; then exec ${AGENT_MOUNT_PATH}; fi
case "$(uname -m)" in x86_64|amd64) ;; *) say "no agent build for $(uname -m) yet (only x86_64)"; exit 1;; esac
dir="\${OUTPOST_AGENT_CACHE_DIR:-\${TMPDIR:-/tmp}/outpost}"
mkdir -p "$dir" || exit 1
bin="$dir/outpost-agent"
url="\${OUTPOST_AGENT_URL%/}/bin/outpost-agent-linux-amd64"
fetch() {
  if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 2 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then wget -q -O "$2" "$1"
  else say "neither curl nor wget is installed: cannot download the agent from $1"; exit 1; fi
}
delay=1
while :; do
  if fetch "$url.sha256" "$dir/want.sha256"; then
    want=$(cut -d' ' -f1 "$dir/want.sha256")
    have=$( [ -x "$bin" ] && command -v sha256sum >/dev/null 2>&1 && sha256sum "$bin" | cut -d' ' -f1)
    if [ -n "$want" ] && [ "$want" = "$have" ]; then break; fi
    if fetch "$url" "$bin.tmp"; then chmod +x "$bin.tmp" && mv -f "$bin.tmp" "$bin" && break; fi
  fi
  say "cannot download the agent from $url; retrying in \${delay}s"
  sleep "$delay"
  [ "$delay" -lt 30 ] && delay=$((delay * 2))
done
exec "$bin"
`;
