// System test (issue: workspace agent): a real server and database, a real provisioner daemon with the
// process driver starting the real agent (`outpost agent`), the real CLI writing ~/.ssh/config with
// `outpost config-ssh`, and the real OpenSSH tools (ssh, scp, sftp, rsync) going through
// `ProxyCommand outpost ssh --stdio` -> server relay -> agent tunnel -> the agent's SSH server.
import { execFile, spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { agentPtyPath } from "@outpost/sdk/agents";
import { SESSION_TOKEN_HEADER } from "@outpost/sdk/auth";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import type { Workspace } from "@outpost/sdk/workspaces";
import { runDaemon } from "../packages/provisioner/src/daemon.js";
import { ProcessDriver } from "../packages/provisioner/src/drivers/process.js";
import { realAgentCommand } from "../packages/provisioner/test/helpers/agent-command.js";
import { killWorkspaceProcesses } from "../packages/provisioner/test/helpers/process-cleanup.js";
import { cliSandbox, ensureCliBuilt, type CliSandbox } from "../packages/cli/test/helpers/run-cli.js";
import { daemonClient, tarOf, userClient } from "../packages/server/test/helpers/fleet.js";
import { createTestServer, setupOwner, type TestServer } from "../packages/server/test/helpers/test-server.js";
import { freePort, until } from "./helpers.js";

const run = promisify(execFile);

const TEMPLATE = `import { agent, defineTemplate, processDriver } from "@outpost/template";
export default defineTemplate({
  build: ({ workspace }) => [
    workspace.transition === "start" &&
      processDriver.agent({
        agent: agent({
          startupScript: "echo startup-script-says-hello; mkdir -p project; echo ready > project/marker",
          metadata: [{ key: "answer", displayName: "Answer", script: "echo 42", interval: 1 }],
        }),
      }),
  ],
});
`;

let s: TestServer;
let owner: FleetClient;
let token: string;
let cli: CliSandbox;
let sshConfig: string;
let dataDir: string;
let scratch: string;
const stop = new AbortController();
let daemon: Promise<void> | undefined;
let ws: Workspace;


/** Environment for OpenSSH tools: the sandbox HOME (so the ProxyCommand finds the CLI session). */
function sshEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: cli.home, OUTPOST_CONFIG_DIR: cli.configDir, LANG: "C.UTF-8" };
  return env;
}

async function ssh(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", ["-F", sshConfig, ...args], { env: sshEnv(), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

async function tool(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await run(cmd, args, { env: sshEnv(), maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
  return stdout;
}

async function sha256(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** A TCP service "in the workspace" (the process driver's workspace is this host). */
async function echoServer(): Promise<{ port: number; close(): void }> {
  const server = net.createServer((sock) => sock.pipe(sock));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** Sends `text` to a forwarded port and reads the echo (no FIN: ssh2 closes a forwarded channel at the first EOF). */
/** Sends `text`, then FIN, and reads until the other side closes: the reply must survive the half-close. */
async function halfClosedRoundTrip(port: number, text: string): Promise<string> {
  const sock = net.connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => sock.once("connect", resolve).once("error", reject));
  sock.end(text);
  let out = "";
  for await (const chunk of sock) out += String(chunk);
  return out;
}

async function roundTrip(port: number, text: string): Promise<string> {
  const sock = net.connect(port, "127.0.0.1");
  try {
    await new Promise<void>((resolve, reject) => sock.once("connect", resolve).once("error", reject));
    sock.write(text);
    let out = "";
    for await (const chunk of sock) {
      out += String(chunk);
      if (out.length >= text.length) break;
    }
    return out;
  } finally {
    sock.destroy();
  }
}

beforeAll(async () => {
  await ensureCliBuilt();
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-e2e-ssh-"));
  dataDir = path.join(scratch, "data");
  s = await createTestServer({ listen: true });
  token = await setupOwner(s);
  owner = userClient(s, token);
  daemon = runDaemon({ client: daemonClient(s), name: "e2e-ssh", drivers: [new ProcessDriver({ dataDir, agentCommand: await realAgentCommand() })], signal: stop.signal });
  const { hash } = await owner.uploadFile(tarOf({ "template.ts": TEMPLATE }));
  const v = await owner.createTemplateVersion("local", { file_hash: hash });
  await until("the template import", async () => (await owner.templateVersion("local", v.id)).job.status === "succeeded");

  cli = await cliSandbox();
  const login = await cli.run(["login", s.url, "--token", token]);
  expect(login.code, login.stderr).toBe(0);
  const configured = await cli.run(["config-ssh", "-y"]);
  expect(configured.code, configured.stderr).toBe(0);
  sshConfig = path.join(cli.home, ".ssh", "config");

  ws = await owner.createWorkspace("me", { name: "box", template: "local" });
  await until("the agent to be ready", async () => {
    const w = await owner.workspace(ws.id);
    return w.agents[0]?.status === "connected" && w.agents[0].lifecycle_state === "ready" && w;
  }).catch(async (err: Error) => {
    // Say why: the build, the agent as the server sees it, and the agent's own log.
    const w = await owner.workspace(ws.id);
    const agentLog = await fs.readFile(path.join(dataDir, "workspaces", ws.id, ".outpost", "agent-main.log"), "utf8").catch((e: Error) => e.message);
    const buildLog = (await owner.buildLogs(w.latest_build.id)).logs.map((l) => l.output).join("\n");
    throw new Error(`${err.message}: ${JSON.stringify({ status: w.status, agents: w.agents })}\nbuild log:\n${buildLog}\nagent log:\n${agentLog}`);
  });
}, 180_000);

afterAll(async () => {
  stop.abort();
  await daemon?.catch(() => undefined);
  if (dataDir) await killWorkspaceProcesses(dataDir);
  await s?.close();
  await cli?.cleanup();
  if (scratch) await fs.rm(scratch, { recursive: true, force: true });
});

describe("OpenSSH through the agent", () => {
  it("runs commands with their output, stderr and exit codes", async () => {
    const ok = await ssh(["outpost.box", "echo ok; echo to-stderr >&2"]);
    expect(ok).toMatchObject({ code: 0, stdout: "ok\n" });
    expect(ok.stderr).toContain("to-stderr");
    expect((await ssh(["outpost.box", "exit 42"])).code).toBe(42);
    expect((await ssh(["outpost.box", "false"])).code).toBe(1);
    const piped = await ssh(["outpost.box", "wc -c"], { input: "x".repeat(1000) });
    expect(piped.stdout.trim()).toBe("1000");
    // The session starts in the agent's directory, where the startup script ran.
    expect((await ssh(["outpost.box", "cat project/marker"])).stdout).toBe("ready\n");
  });

  it("copies files both ways with scp (sftp and legacy modes), sftp and rsync", async () => {
    const local = path.join(scratch, "up.txt");
    await fs.writeFile(local, "uploaded with scp\n");
    await tool("scp", ["-F", sshConfig, "-q", local, "outpost.box:scp-up.txt"]);
    expect((await ssh(["outpost.box", "cat scp-up.txt"])).stdout).toBe("uploaded with scp\n");
    await tool("scp", ["-F", sshConfig, "-q", "-O", local, "outpost.box:scp-legacy.txt"]);
    await tool("scp", ["-F", sshConfig, "-q", "outpost.box:scp-legacy.txt", path.join(scratch, "down.txt")]);
    expect(await fs.readFile(path.join(scratch, "down.txt"), "utf8")).toBe("uploaded with scp\n");

    const batch = path.join(scratch, "sftp.batch");
    await fs.writeFile(batch, [`mkdir sftp-dir`, `put ${local} sftp-dir/put.txt`, `ls sftp-dir`, `get sftp-dir/put.txt ${path.join(scratch, "sftp-get.txt")}`, `rm sftp-dir/put.txt`, `rmdir sftp-dir`].join("\n"));
    const listing = await tool("sftp", ["-F", sshConfig, "-b", batch, "outpost.box"]);
    expect(listing).toContain("put.txt");
    expect(await fs.readFile(path.join(scratch, "sftp-get.txt"), "utf8")).toBe("uploaded with scp\n");
    expect((await ssh(["outpost.box", "test -e sftp-dir; echo $?"])).stdout).toBe("1\n");

    const tree = path.join(scratch, "tree");
    await fs.mkdir(path.join(tree, "sub"), { recursive: true });
    await fs.writeFile(path.join(tree, "a.txt"), "alpha\n");
    await fs.writeFile(path.join(tree, "sub", "b.txt"), "beta\n");
    const rsh = `ssh -F ${sshConfig}`;
    await tool("rsync", ["-a", "-e", rsh, `${tree}/`, "outpost.box:synced/"]);
    expect((await ssh(["outpost.box", "cat synced/a.txt synced/sub/b.txt"])).stdout).toBe("alpha\nbeta\n");
    await tool("rsync", ["-a", "-e", rsh, "outpost.box:synced/", path.join(scratch, "back/")]);
    expect(await fs.readFile(path.join(scratch, "back", "sub", "b.txt"), "utf8")).toBe("beta\n");
  });

  it("offers `outpost dotfiles` in sessions (the CLI that runs the agent), idempotent", async () => {
    const repo = path.join(scratch, "dots");
    await fs.mkdir(repo, { recursive: true });
    await fs.writeFile(path.join(repo, "install.sh"), 'echo "install ran" >> "$HOME/dotfiles-runs"\n', { mode: 0o755 });
    const git = (...args: string[]) => run("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: repo });
    await git("init", "-q", "-b", "main");
    await git("add", ".");
    await git("commit", "-qm", "dotfiles");
    for (let i = 0; i < 2; i++) {
      const r = await ssh(["outpost.box", `outpost dotfiles file://${repo}`]);
      expect(r.code, r.stderr).toBe(0);
    }
    expect((await ssh(["outpost.box", 'cat "$HOME/dotfiles-runs"'])).stdout).toBe("install ran\ninstall ran\n");
  });

  it("moves 100 MB each way intact", async () => {
    const up = path.join(scratch, "big.bin");
    await run("sh", ["-c", `head -c 100000000 /dev/urandom > '${up}'`]);
    const want = await sha256(up);
    await tool("scp", ["-F", sshConfig, "-q", up, "outpost.box:big.bin"]);
    expect((await ssh(["outpost.box", "sha256sum big.bin"])).stdout.split(" ")[0]).toBe(want);
    const down = path.join(scratch, "big-back.bin");
    await run("sh", ["-c", `ssh -F '${sshConfig}' outpost.box 'cat big.bin' > '${down}'`], { env: sshEnv(), timeout: 120_000 });
    expect(await sha256(down)).toBe(want);
  }, 240_000);

  it("forwards a local port with ssh -L and with outpost port-forward", async () => {
    const echo = await echoServer();
    const lport = await freePort();
    const tunnel = spawn("ssh", ["-F", sshConfig, "-N", "-o", "ExitOnForwardFailure=yes", "-L", `${lport}:127.0.0.1:${echo.port}`, "outpost.box"], { env: sshEnv(), stdio: "ignore" });
    try {
      expect(await until("ssh -L to forward", () => roundTrip(lport, "through ssh -L"), 20_000)).toBe("through ssh -L");
    } finally {
      tunnel.kill();
    }
    const fport = await freePort();
    const pf = spawn(process.execPath, [path.join(import.meta.dirname, "../packages/cli/bin/outpost.mjs"), "port-forward", "box", "--tcp", `${fport}:${echo.port}`], {
      env: { ...sshEnv(), NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let pfErr = "";
    pf.stderr.setEncoding("utf8").on("data", (d: string) => (pfErr += d));
    try {
      const got = await until("outpost port-forward", () => halfClosedRoundTrip(fport, "through port-forward"), 20_000).catch((err: Error) => {
        throw new Error(`${err.message}; port-forward said: ${pfErr}`);
      });
      expect(got).toBe("through port-forward");
    } finally {
      pf.kill("SIGINT");
      echo.close();
    }
    expect(pfErr).not.toContain("Error");
  });

  it("shows the agent's state: connected, ready, startup logs, metadata, listening ports, activity", async () => {
    const echo = await echoServer();
    try {
      const agent = await until("the metadata and the port to show", async () => {
        const a = (await owner.workspace(ws.id)).agents[0]!;
        return a.metadata.some((m) => m.result?.value === "42") && a.listening_ports.some((p) => p.port === echo.port) && a;
      });
      expect(agent).toMatchObject({ status: "connected", lifecycle_state: "ready" });
      expect(agent.version).toMatch(/\d+\.\d+\.\d+/);
    } finally {
      echo.close();
    }
    const logs = await owner.agentLogs((await owner.workspace(ws.id)).agents[0]!.id);
    expect(logs.logs.map((l) => l.output)).toContain("startup-script-says-hello");
    const shown = await cli.run(["show", "box"]);
    expect(shown.stdout).toMatch(/main/);
    expect(shown.stdout).toMatch(/ready/);
    const cliLogs = await cli.run(["logs", "box"]);
    expect(cliLogs.stdout + cliLogs.stderr).toContain("startup-script-says-hello");
    expect((await owner.workspace(ws.id)).last_used_at).not.toBeNull();
  });

  it("keeps a terminal across reconnects: scrollback replay and resize", async () => {
    const agentId = (await owner.workspace(ws.id)).agents[0]!.id;
    const id = randomUUID();
    const url = (w: number, h: number) => `${s.url.replace("http", "ws")}${agentPtyPath(agentId)}?reconnect=${id}&width=${w}&height=${h}`;
    const open = (w: number, h: number) => {
      const sock = new WebSocket(url(w, h), { headers: { [SESSION_TOKEN_HEADER]: token }, perMessageDeflate: false });
      let out = "";
      sock.on("message", (d, binary) => {
        if (binary) out += Buffer.from(d as Buffer).toString("utf8");
      });
      return { sock, output: () => out, ready: new Promise((r, j) => sock.once("open", r).once("error", j)) };
    };
    const first = open(100, 30);
    await first.ready;
    first.sock.send(JSON.stringify({ data: "echo term-$((6*7))\r" }));
    await until("the terminal to echo", async () => first.output().includes("term-42"), 20_000);
    first.sock.close();

    const second = open(120, 40);
    await second.ready;
    await until("the scrollback replay", async () => second.output().includes("term-42"), 20_000);
    second.sock.send(JSON.stringify({ height: 33, width: 111 }));
    second.sock.send(JSON.stringify({ data: "stty size\r" }));
    await until("the resized terminal", async () => second.output().includes("33 111"), 20_000);
    second.sock.send(JSON.stringify({ data: "exit\r" }));
    await until("the terminal to close", async () => second.sock.readyState === WebSocket.CLOSED, 20_000);
  });

  it("refuses SSH to a stopped workspace with a message that says how to start it", async () => {
    const other = await owner.createWorkspace("me", { name: "sleepy", template: "local" });
    await until("sleepy to run", async () => (await owner.workspace(other.id)).status === "running");
    const stopBuild = await owner.createBuild(other.id, { transition: "stop" });
    await until("sleepy to stop", async () => (await owner.build(stopBuild.id)).status === "stopped");
    const r = await ssh(["outpost.sleepy", "true"]);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/stopped/);
    expect(r.stderr).toMatch(/outpost start sleepy/);
  });
});

