// System test (issue: workspace agent) on Docker: the `docker` starter in the Node-less outpost/base
// image, two ways of getting the agent in: the docker driver bind-mounting the single-executable
// agent, and the init script downloading it from the server (/bin/outpost-agent-linux-amd64). Then the
// real OpenSSH client reaches the container as its user, through the relay.
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import type { Workspace } from "@outpost/sdk/workspaces";
import { runDaemon } from "../packages/provisioner/src/daemon.js";
import { DockerDriver } from "../packages/provisioner/src/drivers/docker.js";
import { cliSandbox, ensureCliBuilt, type CliSandbox } from "../packages/cli/test/helpers/run-cli.js";
import { daemonClient, userClient } from "../packages/server/test/helpers/fleet.js";
import { createTestServer, setupOwner, type TestServer } from "../packages/server/test/helpers/test-server.js";
import { dockerReady } from "./docker-ready.js";
import { until } from "./helpers.js";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..");
const agentBinary = path.join(root, "packages/agent/dist/outpost-agent-linux-amd64");
const ready = await dockerReady();

let s: TestServer;
let owner: FleetClient;
let token: string;
let cli: CliSandbox;
const stop = new AbortController();
const daemons: Promise<void>[] = [];
const docker = new Docker({ socketPath: "/var/run/docker.sock" });
const created: string[] = [];


async function startWorkspace(name: string, tag: string): Promise<Workspace> {
  const ws = await owner.createWorkspace("me", { name, template: tag, parameters: { cpus: 1, memory_mb: 512 } });
  created.push(ws.id);
  return until(`${name}'s agent to be ready`, async () => {
    const w = await owner.workspace(ws.id);
    if (w.latest_build.job.status === "failed") throw new Error(`build failed: ${w.latest_build.job.error}`);
    return w.agents[0]?.status === "connected" && w.agents[0].lifecycle_state === "ready" && w;
  }, 120_000).catch(async (err: Error) => {
    const logs = await docker.getContainer(`outpost-${ws.id}-main`).logs({ stdout: true, stderr: true, tail: 30 }).catch((e: Error) => e.message);
    throw new Error(`${err.message}; agent: ${JSON.stringify((await owner.workspace(ws.id)).agents)}; container log: ${String(logs)}`);
  });
}

async function pushStarter(template: string, tags: Record<string, string>): Promise<void> {
  const tar = new Uint8Array(execFileSync("tar", ["-c", "-C", path.join(root, "examples/templates/docker"), "."]));
  const { hash } = await owner.uploadFile(tar);
  const v = await owner.createTemplateVersion(template, { file_hash: hash, provisioner_tags: tags });
  await until("the import", async () => {
    const got = await owner.templateVersion(template, v.id);
    if (got.job.status === "failed") throw new Error(`import failed: ${got.job.error}`);
    return got.job.status === "succeeded";
  });
}

function ssh(args: string[]) {
  return run("ssh", ["-F", path.join(cli.home, ".ssh", "config"), ...args], { env: { PATH: process.env.PATH, HOME: cli.home, OUTPOST_CONFIG_DIR: cli.configDir }, timeout: 60_000 });
}

beforeAll(async () => {
  if (!ready.ok) return;
  await ensureCliBuilt();
  await fs.access(agentBinary); // built by `npm test` (scripts/build-agent.mjs)
  s = await createTestServer({ listen: true });
  token = await setupOwner(s);
  owner = userClient(s, token);
  // Two daemons, routed by tag: one mounts the agent binary, the other leaves the download to the init script.
  daemons.push(runDaemon({ client: daemonClient(s), name: "e2e-mount", tags: { agent: "mount" }, drivers: [new DockerDriver({ agentBinaryPath: agentBinary })], signal: stop.signal }));
  daemons.push(runDaemon({ client: daemonClient(s), name: "e2e-download", tags: { agent: "download" }, drivers: [new DockerDriver()], signal: stop.signal }));
  await pushStarter("docker-mount", { agent: "mount" });
  await pushStarter("docker-download", { agent: "download" });
  cli = await cliSandbox();
  expect((await cli.run(["login", s.url, "--token", token])).code).toBe(0);
  expect((await cli.run(["config-ssh", "-y"])).code).toBe(0);
}, 240_000);

afterAll(async () => {
  stop.abort();
  await Promise.allSettled(daemons);
  for (const id of created) {
    await docker.getContainer(`outpost-${id}-main`).remove({ force: true }).catch(() => undefined);
    await docker.getVolume(`outpost-${id}-home`).remove().catch(() => undefined);
  }
  await s?.close();
  await cli?.cleanup();
});

describe.skipIf(!ready.ok)(`the agent in a Docker workspace${ready.ok ? "" : ` (skipped: ${ready.reason})`}`, () => {
  it("runs the mounted agent binary in outpost/base (no Node there) and serves OpenSSH as the image's user", async () => {
    const ws = await startWorkspace("mounted", "docker-mount");
    const info = await docker.getContainer(`outpost-${ws.id}-main`).inspect();
    expect(info.Mounts.some((m) => m.Destination === "/opt/outpost/bin/outpost-agent" && !m.RW)).toBe(true);
    const { stdout } = await ssh(["outpost.mounted", "id -un; pwd; echo $HOME; command -v node || echo no-node"]);
    expect(stdout.split("\n")).toEqual(["dev", "/home/dev", "/home/dev", "no-node", ""]);
    // sftp through the image's sftp-server, rsync through the image's rsync.
    const local = path.join(cli.home, "hello.txt");
    await fs.writeFile(local, "to the container\n");
    await run("scp", ["-F", path.join(cli.home, ".ssh", "config"), "-q", local, "outpost.mounted:hello.txt"], { env: { PATH: process.env.PATH, HOME: cli.home, OUTPOST_CONFIG_DIR: cli.configDir } });
    expect((await ssh(["outpost.mounted", "cat /home/dev/hello.txt"])).stdout).toBe("to the container\n");
    // `outpost` inside the container is the agent binary: dotfiles work without Node or the CLI.
    const dots = await ssh([
      "outpost.mounted",
      'set -e; mkdir -p dots; cd dots; printf "echo installed-by-dotfiles > $HOME/dotfiles-ran\\n" > install.sh; git init -q -b main; git -c user.name=t -c user.email=t@example.com add .; git -c user.name=t -c user.email=t@example.com commit -qm d; cd; outpost dotfiles file:///home/dev/dots; cat dotfiles-ran',
    ]);
    expect(dots.stdout).toContain("installed-by-dotfiles");
    const agent = (await owner.workspace(ws.id)).agents[0]!;
    expect(agent.metadata.map((m) => m.key)).toEqual(["load", "home_disk"]);
    await until("the metadata results", async () => (await owner.agent(agent.id)).metadata.every((m) => m.result !== null));
  });

  it("downloads the agent from the server when it is not mounted", async () => {
    const ws = await startWorkspace("downloaded", "docker-download");
    const info = await docker.getContainer(`outpost-${ws.id}-main`).inspect();
    expect(info.Mounts.some((m) => m.Destination === "/opt/outpost/bin/outpost-agent")).toBe(false);
    const { stdout } = await ssh(["outpost.downloaded", "sha256sum /tmp/outpost/outpost-agent | cut -d' ' -f1"]);
    const served = await (await fetch(`${s.url}/bin/outpost-agent-linux-amd64.sha256`)).text();
    expect(stdout.trim()).toBe(served.split(" ")[0]);
  });
});
