// The single-executable agent (scripts/build-agent.mjs): built (or taken from its cache when nothing
// changed), then run on this host and inside the outpost/base image, which has no Node. `--self-test`
// proves the native parts work there: ssh2's crypto addon (a real SSH handshake + exec with the ciphers
// the addon implements), node-pty (a PTY running /bin/sh) and bufferutil.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { candidateDirs, mountOptions } from "../../src/sea-addons.js";
import { DEFAULT_DOCKER_SOCKET, ensureDocker, findBaseImage } from "../../../../test/docker-setup.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const BIN = path.join(root, "packages/agent/dist/outpost-agent-linux-amd64");
const version = (JSON.parse(readFileSync(path.join(root, "packages/agent/package.json"), "utf8")) as { version: string }).version;

/** A SEA honours NODE_OPTIONS (vitest or a developer's shell may set it): the agent runs without it. */
function agentEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

function run(cmd: string, args: string[], timeout = 60_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: "utf8", env: agentEnv(), timeout });
}

function expectSelfTestPassed(r: SpawnSyncReturns<string>): void {
  const out = `${r.stdout}${r.stderr}`;
  expect(r.status, out).toBe(0);
  expect(r.stdout).toMatch(/^ssh-crypto-ok$/m);
  expect(r.stdout).toMatch(/^bufferutil-ok$/m);
  expect(r.stdout).toMatch(/^pty-ok$/m);
  expect(r.stdout).toMatch(/^ssh-ok \d+$/m);
}

let buildOutput = "";

beforeAll(() => {
  // The build verifies the binary too; from its cache (inputs unchanged) it takes about a second.
  const r = spawnSync(process.execPath, [path.join(root, "scripts/build-agent.mjs")], { cwd: root, encoding: "utf8", env: agentEnv(), timeout: 600_000 });
  buildOutput = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`node scripts/build-agent.mjs failed (exit ${r.status ?? r.signal}):\n${buildOutput}`);
}, 600_000);

describe("agent binary on this host", () => {
  it("is one executable with its sha256 and manifest next to it", () => {
    const bytes = readFileSync(BIN);
    const hash = createHash("sha256").update(bytes).digest("hex");
    expect(readFileSync(`${BIN}.sha256`, "utf8")).toBe(`${hash}  outpost-agent-linux-amd64\n`);
    const manifest = JSON.parse(readFileSync(`${BIN}.json`, "utf8")) as { sha256: string; size: number; version: string };
    expect(manifest).toMatchObject({ sha256: hash, size: bytes.length, version });
    expect(statSync(BIN).mode & 0o111).not.toBe(0);
    expect(bytes.includes("NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1")).toBe(true); // the fuse is flipped: a SEA
  });

  it("a second build with unchanged inputs comes from the cache", () => {
    const before = statSync(BIN).mtimeMs;
    const r = run(process.execPath, [path.join(root, "scripts/build-agent.mjs")], 120_000);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/agent binary up to date/);
    expect(statSync(BIN).mtimeMs).toBe(before);
  }, 120_000);

  it("--version prints the version", () => {
    const r = run(BIN, ["--version"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`outpost-agent ${version}\n`);
  });

  it("--self-test loads ssh2's crypto addon, node-pty and bufferutil and completes SSH and PTY round trips", () => {
    expectSelfTestPassed(run(BIN, ["--self-test"]));
  });

  it("a cache location that cannot be created falls through to the per-user temp directory", () => {
    // Nothing can be created under /proc: the addons must land in the per-user temp directory.
    const env = { ...agentEnv(), HOME: "/proc/outpost-no-home", TMPDIR: "/proc/outpost-no-tmp" };
    const r = spawnSync(BIN, ["--self-test"], { encoding: "utf8", env, timeout: 60_000 });
    expectSelfTestPassed(r);
  });
});

describe("cache directory choice (sea-addons)", () => {
  const mountinfo = [
    "22 1 0:21 / / rw,relatime - overlay overlay rw",
    "23 22 0:22 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k",
    "24 22 0:23 / /tmp rw,nosuid,nodev - tmpfs tmpfs rw",
    "25 24 0:24 / /tmp/with\\040space rw,noexec - tmpfs tmpfs rw",
    "26 22 0:25 / /home ro,relatime - ext4 /dev/sda1 rw",
  ].join("\n");

  it("finds the options of the innermost mount", () => {
    expect(mountOptions("/dev/shm/outpost-agent-0", mountinfo)).toContain("noexec");
    expect(mountOptions("/dev/shmx", mountinfo)).not.toContain("noexec");
    expect(mountOptions("/tmp/outpost-agent-0", mountinfo)).not.toContain("noexec");
    expect(mountOptions("/tmp/with space/x", mountinfo)).toContain("noexec");
    expect(mountOptions("/home/dev/.cache", mountinfo)).toContain("ro");
    expect(mountOptions("/root/.cache", mountinfo)).not.toContain("noexec");
  });

  it("tries ~/.cache, then per-user temp directories", () => {
    const uid = process.getuid?.() ?? "user";
    expect(candidateDirs("/home/dev", "/scratch")).toEqual([
      "/home/dev/.cache/outpost-agent",
      `/scratch/outpost-agent-${uid}`,
      `/tmp/outpost-agent-${uid}`,
      `/var/tmp/outpost-agent-${uid}`,
      `/dev/shm/outpost-agent-${uid}`,
    ]);
    expect(candidateDirs("relative", "/tmp")[0]).toBe(`/tmp/outpost-agent-${uid}`);
  });
});

// --- inside outpost/base (no Node) ---------------------------------------------------------------
const dockerReady = await ensureDocker(DEFAULT_DOCKER_SOCKET);
const baseImage = dockerReady.ok ? await findBaseImage({ build: true }) : undefined;
const dockerSkip = !dockerReady.ok ? dockerReady.reason : baseImage && "reason" in baseImage ? baseImage.reason : undefined;
const IMAGE = baseImage && "image" in baseImage ? baseImage.image : "outpost/base";

describe(`agent binary in ${IMAGE}${dockerSkip ? ` (no Docker: ${dockerSkip})` : ""}`, () => {
  const docker = (...args: string[]) => run("docker", ["run", "--rm", "--network", "none", "-v", `${BIN}:/outpost-agent:ro`, ...args], 120_000);

  it("runs --version and --self-test as PID 1 in an image without Node, as root and as a user without a home", (ctx) => {
    if (dockerSkip) {
      // CI has Docker and the image (.ci/run provides both): there a missing engine is a failure.
      if (process.env.CI) throw new Error(`CI is set but Docker is not usable: ${dockerSkip}`);
      ctx.skip(`no Docker engine or image: ${dockerSkip}`);
    }
    const noNode = docker(IMAGE, "sh", "-c", "command -v node || echo no-node");
    expect(noNode.stdout.trim(), noNode.stderr).toBe("no-node");

    const v = docker(IMAGE, "/outpost-agent", "--version");
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout).toBe(`outpost-agent ${version}\n`);

    expectSelfTestPassed(docker(IMAGE, "/outpost-agent", "--self-test"));
    // uid 65534 has no writable home: the addons land in /tmp/outpost-agent-65534.
    expectSelfTestPassed(docker("--user", "65534:65534", IMAGE, "/outpost-agent", "--self-test"));
  }, 180_000);
});
