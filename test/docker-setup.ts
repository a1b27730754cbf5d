// Test helper: a reachable Docker engine and a local workspace base image, or the reason why not.
// This machine has docker.io but nothing starts dockerd for us, and no registry is reachable, so the
// helper starts dockerd (bridge and iptables off: containers use the host network or none) and, when
// allowed, builds outpost/base with scripts/build-base-image.sh (cached under /var/cache/outpost).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, openSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export type DockerReady = { ok: true; socketPath: string } | { ok: false; reason: string };

/** One Engine API request over the unix socket: [status, body], or an error message. */
function request(socketPath: string, method: string, urlPath: string, timeoutMs = 3000): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath, method, path: urlPath, timeout: timeoutMs }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err) => resolve({ error: err.message }));
    req.end();
  });
}

/** undefined when the engine answers /_ping, else why not. */
export async function pingDocker(socketPath = DEFAULT_DOCKER_SOCKET): Promise<string | undefined> {
  const res = await request(socketPath, "GET", "/_ping");
  if ("error" in res) return res.error;
  return res.status === 200 ? undefined : `/_ping answered ${res.status}`;
}

function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * Makes sure a Docker engine answers on `socketPath`: when none does and this is the default socket,
 * starts `dockerd --bridge=none --iptables=false --ip6tables=false` (left running for later runs;
 * log in /tmp/outpost-test-dockerd.log) and waits up to 30 s for it.
 */
export async function ensureDocker(socketPath = DEFAULT_DOCKER_SOCKET): Promise<DockerReady> {
  const first = await pingDocker(socketPath);
  if (first === undefined) return { ok: true, socketPath };
  if (socketPath !== DEFAULT_DOCKER_SOCKET) return { ok: false, reason: `no Docker engine at ${socketPath}: ${first}` };
  const dockerd = existsSync("/usr/sbin/dockerd") ? "/usr/sbin/dockerd" : which("dockerd");
  if (!dockerd) return { ok: false, reason: `no Docker engine at ${socketPath} (${first}) and dockerd is not installed (apt-get install docker.io)` };
  if (process.getuid?.() !== 0) return { ok: false, reason: `no Docker engine at ${socketPath} (${first}), and starting dockerd needs root` };
  const log = openSync("/tmp/outpost-test-dockerd.log", "a");
  const child = spawn(dockerd, ["--bridge=none", "--iptables=false", "--ip6tables=false"], { detached: true, stdio: ["ignore", log, log] });
  child.unref();
  const deadline = Date.now() + 30_000;
  let last = first;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const err = await pingDocker(socketPath);
    if (err === undefined) return { ok: true, socketPath };
    last = err;
    if (child.exitCode !== null) return { ok: false, reason: `dockerd exited with code ${child.exitCode}; see /tmp/outpost-test-dockerd.log` };
  }
  return { ok: false, reason: `started dockerd, but it did not answer within 30 s (${last}); see /tmp/outpost-test-dockerd.log` };
}

/** Whether the engine has an image with this reference. */
export async function hasImage(ref: string, socketPath = DEFAULT_DOCKER_SOCKET): Promise<boolean> {
  const res = await request(socketPath, "GET", `/images/${encodeURIComponent(ref)}/json`);
  return !("error" in res) && res.status === 200;
}

/**
 * The workspace base image to test with: `outpost/base` if present, else `outpost/base:probe`.
 * When neither exists and `build` is set, runs scripts/build-base-image.sh (about a minute the first
 * time, seconds from its cached rootfs) and returns outpost/base if that worked.
 */
export async function findBaseImage(opts: { socketPath?: string; build?: boolean } = {}): Promise<{ image: string } | { reason: string }> {
  const socketPath = opts.socketPath ?? DEFAULT_DOCKER_SOCKET;
  for (const ref of ["outpost/base:latest", "outpost/base:probe"]) if (await hasImage(ref, socketPath)) return { image: ref };
  if (!opts.build) return { reason: "neither outpost/base nor outpost/base:probe is on the Docker host; run scripts/build-base-image.sh" };
  if (!which("debootstrap")) return { reason: "no outpost/base image, and debootstrap (to build it) is not installed: apt-get install debootstrap, then scripts/build-base-image.sh" };
  const r = spawnSync("bash", [path.join(root, "scripts/build-base-image.sh")], { encoding: "utf8", timeout: 600_000 });
  if (r.status !== 0 || !(await hasImage("outpost/base:latest", socketPath))) {
    return { reason: `scripts/build-base-image.sh failed (exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ")}` };
  }
  return { image: "outpost/base:latest" };
}
