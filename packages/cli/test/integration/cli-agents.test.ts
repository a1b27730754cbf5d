// `outpost ssh`, `ssh --stdio`, `port-forward`, `agent` and the agent parts of `show`/`list`/`logs`
// against a real server, with the real agent (runAgent) running in this process on the token a test
// provisioner daemon reported for it, and the real OpenSSH client.
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@outpost/agent/logger";
import { runAgent } from "@outpost/agent/run";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import type { Workspace } from "@outpost/sdk/workspaces";
import { userClient } from "../../../server/test/helpers/fleet.js";
import { createTestServer, setupOwner, type TestServer } from "../../../server/test/helpers/test-server.js";
import { cliSandbox, ensureCliBuilt, ROOT, STACK_TRACE, type CliSandbox } from "../helpers/run-cli.js";
import { TestDaemon } from "../helpers/test-daemon.js";

const TEMPLATE = `import { agent, defineTemplate, param, processDriver } from "@outpost/template";
export default defineTemplate({
  parameters: { fail: param.bool({ default: false }) },
  build({ workspace, params }) {
    const main = agent({
      startupScript: params.fail ? "echo about to fail\\nexit 3" : "echo hello from startup\\necho second line",
      startupScriptBehavior: "blocking",
      metadata: [{ key: "greeting", displayName: "Greeting", script: "echo hi there", interval: 1 }],
    });
    return [workspace.transition === "start" && processDriver.agent({ agent: main })];
  },
});
`;

const TWINS = `import { agent, defineTemplate, processDriver } from "@outpost/template";
export default defineTemplate({
  parameters: {},
  build({ workspace }) {
    if (workspace.transition !== "start") return [];
    return [processDriver.agent({ agent: agent() }), processDriver.agent({ name: "side", agent: agent({ name: "side" }) })];
  },
});
`;

let s: TestServer;
let cli: CliSandbox;
let owner: FleetClient;
let daemon: TestDaemon;
const running = new Map<string, { stop(): Promise<void> }>();

/** Runs the agent `WORKSPACE.AGENT` in this process with the token its latest build got. */
function startAgent(key: string): void {
  const token = daemon.agentTokens.get(key);
  if (!token) throw new Error(`no token for ${key}`);
  const stop = new AbortController();
  const done = runAgent({
    url: s.url,
    token,
    signal: stop.signal,
    log: createLogger({ level: "warn", write: (l) => void process.stderr.write(`[${key}] ${l}`) }),
    env: { PATH: process.env.PATH, HOME: cli.home, LANG: "C.UTF-8", SHELL: "/bin/sh" },
    startupLogPath: null,
    portsIntervalMs: 200,
  });
  running.set(key, {
    stop: async () => {
      stop.abort();
      await done;
      running.delete(key);
    },
  });
}

const ws = (name: string): Promise<Workspace> => owner.workspaceByName("me", name);

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const agentOf = async (name: string) => (await ws(name)).agents[0];
const readyAgent = (name: string) => waitFor(`agent of ${name} ready`, async () => ((await agentOf(name))?.lifecycle_state === "ready" ? agentOf(name) : undefined));

beforeAll(async () => {
  await ensureCliBuilt();
  s = await createTestServer({ listen: true });
  const token = await setupOwner(s);
  owner = userClient(s, token);
  daemon = await TestDaemon.register(s);
  daemon.reportAgents = true;
  cli = await cliSandbox();
  const r = await cli.run(["login", s.url, "--token", token]);
  if (r.code !== 0) throw new Error(`login: ${r.code} ${r.stderr}`);
  for (const [name, text] of [["agented", TEMPLATE], ["twins", TWINS]] as const) {
    await fs.mkdir(path.join(cli.home, name));
    await fs.writeFile(path.join(cli.home, name, "template.ts"), text);
  }
  daemon.start();
  for (const name of ["agented", "twins"]) {
    const pushed = await cli.run(["templates", "push", name, "-d", name, "-y"]);
    if (pushed.code !== 0) throw new Error(`push ${name}: ${pushed.code} ${pushed.stderr}`);
  }
  for (const [name, template, ...flags] of [["dev", "agented"], ["idle", "agented"], ["sleepy", "agented"], ["pair", "twins"], ["broken", "agented", "--parameter", "fail=true"], ["bundled", "agented"]] as const) {
    const created = await cli.run(["create", name, "-t", template, ...flags]);
    if (created.code !== 0) throw new Error(`create ${name}: ${created.code} ${created.stderr}`);
  }
  const stopped = await cli.run(["stop", "sleepy"]);
  if (stopped.code !== 0) throw new Error(`stop: ${stopped.stderr}`);
  startAgent("dev.main");
  await readyAgent("dev");
}, 120_000);

afterAll(async () => {
  for (const a of [...running.values()]) await a.stop();
  await daemon?.stop();
  await s?.close();
  await cli?.cleanup();
});

describe("outpost agent", () => {
  it("refuses to start without its URL and token, naming them", async () => {
    const r = await cli.run(["agent"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: OUTPOST_AGENT_URL and OUTPOST_AGENT_TOKEN must be set");
    const half = await cli.run(["agent"], { env: { OUTPOST_AGENT_URL: s.url } });
    expect(half.code).toBe(2);
    expect(half.stderr).toContain("error: OUTPOST_AGENT_TOKEN must be set");
    const level = await cli.run(["agent"], { env: { OUTPOST_AGENT_URL: s.url, OUTPOST_AGENT_TOKEN: "x".repeat(43), OUTPOST_AGENT_LOG_LEVEL: "loud" } });
    expect(level.code).toBe(2);
    expect(level.stderr).toContain('OUTPOST_AGENT_LOG_LEVEL must be debug, info, warn or error, got "loud"');
  });
});

describe("outpost agent (the bundle, as the process driver runs it)", () => {
  it("connects, serves SSH, and shuts down cleanly on SIGTERM", async () => {
    const child = spawn(process.execPath, [path.join(ROOT, "packages/cli/dist/outpost.js"), "agent"], {
      env: { PATH: process.env.PATH, HOME: cli.home, OUTPOST_AGENT_URL: s.url, OUTPOST_AGENT_TOKEN: daemon.agentTokens.get("bundled.main")! },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on("close", r));
    try {
      await readyAgent("bundled");
      const r = await cli.run(["ssh", "bundled", "--", "echo", "from-the-bundle"]);
      expect(r.stdout).toBe("from-the-bundle\n");
      expect(r.code).toBe(0);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain("INFO  connected to the server");
    expect(stderr).toContain("INFO  received signal, shutting down signal=SIGTERM");
    expect(stderr).not.toMatch(STACK_TRACE);
    await waitFor("the agent off", async () => ((await agentOf("bundled"))?.status === "disconnected" ? true : undefined));
    expect((await agentOf("bundled"))?.lifecycle_state).toBe("off");
  });
});

describe("outpost port-forward flags", () => {
  it("checks every --tcp locally (exit 2, naming the flag) before contacting the server", async () => {
    const cases: [string[], string][] = [
      [[], "error: missing --tcp"],
      [["--tcp", "0"], 'error: invalid value for --tcp: "0"\n  "0" is not a TCP port (1-65535)'],
      [["--tcp", "70000"], '"70000" is not a TCP port (1-65535)'],
      [["--tcp", "8080:http"], '"http" is not a TCP port'],
      [["--tcp", "1:2:3"], 'error: invalid value for --tcp: "1:2:3"'],
      [["--tcp", "-1"], "error:"],
      [["--tcp", "8080", "--tcp", "8080:81"], "error: --tcp 8080 and --tcp 8080:81 both listen on 127.0.0.1:8080"],
    ];
    for (const [flags, message] of cases) {
      const r = await cli.run(["port-forward", "dev", ...flags], { env: { OUTPOST_URL: "http://127.0.0.1:9" } });
      expect(r.code, flags.join(" ")).toBe(2);
      expect(r.stderr, flags.join(" ")).toContain(message);
      expect(r.stderr).not.toMatch(STACK_TRACE);
    }
    const badTarget = await cli.run(["port-forward", "a/b/c", "--tcp", "80"]);
    expect(badTarget.code).toBe(2);
    expect(badTarget.stderr).toContain('invalid workspace "a/b/c"');
  });
});

describe("outpost ssh --stdio (the ProxyCommand)", () => {
  it("prints the server's reason, prefixed outpost:, and exits 1", async () => {
    const cases: [string, string[]][] = [
      ["outpost.nope", ["outpost: workspace", "not found"]],
      ["outpost.sleepy", ["outpost: workspace owner/sleepy is stopped: start it with `outpost start sleepy`"]],
      ["outpost.idle", ['outpost: agent "main" of owner/idle is not connected', "outpost:   status connecting"]],
      ["outpost.dev.nope", ['outpost: workspace owner/dev has no agent "nope"', "outpost:   its agents: main"]],
      ["outpost.pair", ["outpost: workspace owner/pair has 2 agents: name one", "outpost:   query.agent: is required: one of main, side"]],
    ];
    for (const [host, messages] of cases) {
      const r = await cli.run(["ssh", "--stdio", host]);
      expect(r.code, host).toBe(1);
      for (const m of messages) expect(r.stderr, host).toContain(m);
      expect(r.stdout).toBe("");
      expect(r.stderr).not.toMatch(STACK_TRACE);
    }
  });

  it("refuses a malformed host (exit 2) and says when you are not logged in", async () => {
    const bad = await cli.run(["ssh", "--stdio", "outpost.a--b--c"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('outpost: invalid workspace "outpost.a--b--c": "--" may appear once');
    const other = await cliSandbox();
    try {
      const r = await other.run(["ssh", "--stdio", "outpost.dev"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe("outpost: you are not logged in\noutpost:   run `outpost login URL` first\n");
    } finally {
      await other.cleanup();
    }
  });

  it("carries the agent's SSH server, and says so when the connection is lost mid-session", async () => {
    startAgent("idle.main");
    const agent = await readyAgent("idle");
    const session = () => {
      const child = spawn(process.execPath, [path.join(ROOT, "packages/cli/dist/outpost.js"), "ssh", "--stdio", "outpost.idle"], {
        env: { ...process.env, HOME: cli.home, OUTPOST_CONFIG_DIR: cli.configDir, OUTPOST_URL: "", OUTPOST_SESSION_TOKEN: "" },
        stdio: ["pipe", "pipe", "pipe"],
      });
      const out = { stdout: "", stderr: "" };
      child.stdout.setEncoding("latin1").on("data", (d: string) => (out.stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (out.stderr += d));
      const exited = new Promise<number | null>((r) => child.on("close", r));
      return { out, exited, banner: () => waitFor("the SSH banner", async () => (out.stdout.startsWith("SSH-2.0-") ? true : undefined)) };
    };
    // The agent's tunnel breaks (the server drops it): the relay says the agent went away.
    const cut = session();
    await cut.banner();
    s.deps.agentConns.get(agent!.id)!.terminate("cut by the test");
    expect(await cut.exited).toBe(1);
    expect(cut.out.stderr).toMatch(/^outpost: connection to workspace idle lost: the agent went away: /);
    // The agent reconnects by itself; then it shuts down, resetting its sessions.
    await waitFor("the agent back", async () => ((await agentOf("idle"))?.status === "connected" ? true : undefined));
    const shutdown = session();
    await shutdown.banner();
    await running.get("idle.main")!.stop();
    expect(await shutdown.exited).toBe(1);
    expect(shutdown.out.stderr).toMatch(/^outpost: connection to workspace idle lost: the agent closed the connection: /);
  });
});

describe("outpost ssh", () => {
  it("runs a command through OpenSSH and the ProxyCommand, with its exit code, stdin and agent choice", async () => {
    const ok = await cli.run(["ssh", "dev", "--", "echo", "ok"]);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toBe("ok\n");
    expect(ok.code).toBe(0);
    const code = await cli.run(["ssh", "dev.main", "--", "sh -c 'cat; exit 7'"], { stdin: "from stdin\n" });
    expect(code.stdout).toBe("from stdin\n");
    expect(code.code).toBe(7);
  });

  it("works as plain `ssh outpost.NAME` after config-ssh", async () => {
    const config = path.join(cli.home, "ssh_config");
    const written = await cli.run(["config-ssh", "-y", "--ssh-config-file", config]);
    expect(written.code).toBe(0);
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn("ssh", ["-F", config, "outpost.owner--dev.main", "echo", "via-config"], { env: { ...process.env, HOME: cli.home, OUTPOST_CONFIG_DIR: cli.configDir } });
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      child.on("close", (c) => resolve({ code: c, out, err }));
    });
    expect(r.err).toBe("");
    expect(r.out).toBe("via-config\n");
    expect(r.code).toBe(0);
  });

  it("without a terminal: a stopped workspace is an error naming `outpost start`; several agents need a name", async () => {
    const stopped = await cli.run(["ssh", "sleepy", "--", "true"]);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toBe("error: workspace owner/sleepy is stopped; start it with `outpost start owner/sleepy`\n");
    const pair = await cli.run(["ssh", "pair"]);
    expect(pair.code).toBe(2);
    expect(pair.stderr).toContain("error: workspace owner/pair has 2 agents: say which one\n  its agents: main, side\n  e.g. owner/pair.main");
    const unknown = await cli.run(["ssh", "pair.third"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("error: workspace owner/pair has no agent named third\n  its agents: main, side");
    const flags = await cli.run(["ssh", "-L", "nonsense", "dev"]);
    expect(flags.code).toBe(2);
    expect(flags.stderr).toContain('error: invalid value for -L/--local-forward: "nonsense"');
  });

  it("waits for the agent to connect, naming the stage", async () => {
    const pending = cli.run(["ssh", "pair.side", "--", "echo", "side-ok"]);
    await new Promise((r) => setTimeout(r, 1500));
    startAgent("pair.side");
    const r = await pending;
    expect(r.stderr).toContain("… waiting for agent side to connect\n");
    expect(r.stdout).toBe("side-ok\n");
    expect(r.code).toBe(0);
  });

  it("waits for a queued build, then for the agent", async () => {
    await daemon.stop(); // the build stays queued until the daemon runs again
    const created = await cli.run(["create", "late", "-t", "agented", "--no-follow"]);
    expect(created.code).toBe(0);
    const pending = cli.run(["ssh", "late", "--", "echo", "late-ok"]);
    await new Promise((r) => setTimeout(r, 1000));
    daemon.start();
    await waitFor("the token of late", async () => (daemon.agentTokens.has("late.main") ? true : undefined));
    await new Promise((r) => setTimeout(r, 700));
    startAgent("late.main");
    const r = await pending;
    expect(r.stderr).toMatch(/^… waiting for the build \(queued for a provisioner\)\n(… waiting for the build\n)?… waiting for agent main to connect\n(… startup script running\n)?$/);
    expect(r.stdout).toBe("late-ok\n");
    expect(r.code).toBe(0);
  });

  it("says how to install OpenSSH when ssh is missing", async () => {
    const r = await cli.run(["ssh", "dev", "--", "true"], { env: { PATH: "/nonexistent" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: ssh (the OpenSSH client) is not installed\n  install it, e.g. `apt install openssh-client`");
  });

  it("on a terminal, offers to start a stopped workspace, shows the build, then connects", async () => {
    const before = daemon.agentTokens.get("sleepy.main");
    const pending = cli.runInTerminal(["ssh", "sleepy", "--", "echo", "awake"], [{ expect: "Workspace owner/sleepy is stopped. Start it? [Y/n]", send: "" }]);
    await waitFor("a new token for sleepy", async () => (daemon.agentTokens.get("sleepy.main") !== before ? true : undefined), 20_000);
    startAgent("sleepy.main");
    const r = await pending;
    expect(r.stdout).toContain("Starting owner/sleepy (build #3");
    expect(r.stdout).toContain("Build #3 (start) of owner/sleepy succeeded");
    expect(r.stdout).toContain("awake");
    expect(r.code).toBe(0);
  });
});

describe("a failed startup script", () => {
  it("is a warning for ssh, and exit 1 for logs -f", async () => {
    startAgent("broken.main");
    await waitFor("start_error", async () => ((await agentOf("broken"))?.lifecycle_state === "start_error" ? true : undefined));
    const r = await cli.run(["ssh", "broken", "--", "echo", "still-in"]);
    expect(r.stderr).toBe("warning: the startup script of agent main failed; see `outpost logs owner/broken`\n");
    expect(r.stdout).toBe("still-in\n");
    expect(r.code).toBe(0);
    const logs = await cli.run(["logs", "broken", "-f"]);
    expect(logs.stdout).toContain("startup (main) | about to fail\n");
    expect(logs.stderr).toBe("the startup script of agent main failed\n");
    expect(logs.code).toBe(1);
  });
});

describe("outpost port-forward", () => {
  it("forwards local connections to a port inside the workspace; a refused one is reported and the listener stays", async () => {
    const echo = net.createServer((sock) => sock.pipe(sock));
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    const remote = (echo.address() as net.AddressInfo).port;
    const free = async () => {
      const probe = net.createServer();
      await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
      const port = (probe.address() as net.AddressInfo).port;
      await new Promise((r) => probe.close(r));
      return port;
    };
    const [local, dead, deadRemote] = [await free(), await free(), await free()];
    const child = spawn(process.execPath, [path.join(ROOT, "packages/cli/dist/outpost.js"), "port-forward", "dev", "--tcp", `${local}:${remote}`, "--tcp", `${dead}:${deadRemote}`], {
      env: { ...process.env, HOME: cli.home, OUTPOST_CONFIG_DIR: cli.configDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on("close", r));
    try {
      await waitFor("the forwards", async () => (stdout.includes(`127.0.0.1:${dead}`) ? true : undefined));
      expect(stdout).toBe(`Forwarding 127.0.0.1:${local} -> dev:${remote}\nForwarding 127.0.0.1:${dead} -> dev:${deadRemote}\n`);
      const roundTrip = async (payload: Buffer) =>
        new Promise<Buffer>((resolve, reject) => {
          const sock = net.connect(local, "127.0.0.1");
          const chunks: Buffer[] = [];
          sock.on("data", (d) => {
            chunks.push(d);
            if (Buffer.concat(chunks).length >= payload.length) {
              sock.end();
              resolve(Buffer.concat(chunks));
            }
          });
          sock.on("error", reject);
          sock.write(payload);
        });
      const big = Buffer.alloc(2 * 1024 * 1024, 7);
      const [a, b] = await Promise.all([roundTrip(Buffer.from("hello")), roundTrip(big)]);
      expect(a.toString()).toBe("hello");
      expect(b.equals(big)).toBe(true);
      // Nothing listens behind the second forward: that connection is closed with the reason.
      const closed = await new Promise<boolean>((resolve) => {
        const sock = net.connect(dead, "127.0.0.1");
        sock.on("error", () => resolve(true));
        sock.on("close", () => resolve(true));
        sock.resume();
      });
      expect(closed).toBe(true);
      await waitFor("the refusal message", async () => (stderr.includes(`connection 127.0.0.1:${dead} -> dev:${deadRemote} failed:`) ? true : undefined));
      expect(stderr).toContain(`nothing listens on 127.0.0.1:${deadRemote}`);
      // The first forward still works.
      expect((await roundTrip(Buffer.from("again"))).toString()).toBe("again");
    } finally {
      child.kill("SIGINT");
      echo.close();
    }
    expect(await exited).toBe(0);
  });
});

describe("agents in show, list and logs", () => {
  it("show has an Agents section; -o json has the sdk object", async () => {
    await waitFor("metadata", async () => ((await agentOf("dev"))?.metadata[0]?.result ? true : undefined));
    const r = await cli.run(["show", "dev"]);
    expect(r.code).toBe(0);
    const section = r.stdout.slice(r.stdout.indexOf("Agents:"), r.stdout.indexOf("Builds:"));
    expect(section).toMatch(/^ {2}main$/m);
    expect(section).toMatch(/^ {4}status: +connected since \d+[smhd] ago$/m);
    expect(section).toMatch(/^ {4}lifecycle: +ready since \d+[smhd] ago \(logins wait for the startup script\)$/m);
    expect(section).toMatch(/^ {4}version: +0\.1\.0 \(linux\/amd64, protocol 1\)$/m);
    expect(section).toMatch(/^ {4}metadata: +Greeting: hi there$/m);
    expect(section).toMatch(/^ {4}ports: +/m);
    expect(section).toMatch(/^ {4}sessions: +ssh \d+, terminal \d+, tcp \d+; last activity /m);
    const json = JSON.parse((await cli.run(["show", "dev", "-o", "json"])).stdout) as Workspace;
    expect(json.agents[0]).toMatchObject({ name: "main", status: "connected", lifecycle_state: "ready", version: "0.1.0" });
  });

  it("list shows each workspace's agents", async () => {
    const r = await cli.run(["list"]);
    expect(r.stdout).toMatch(/^owner\/dev\s+agented\s+running\s+main \(ready\)\s+/m);
    expect(r.stdout).toMatch(/^owner\/pair\s+twins\s+running\s+main \([a-z_]+\), side \([a-z_]+\)\s+/m);
    expect(r.stdout).toMatch(/^owner\/idle\s+agented\s+running\s+main \(disconnected\)\s+/m);
  });

  it("logs prints the startup script after the build; -f waits for the agents' startup", async () => {
    const r = await cli.run(["logs", "dev"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("startup (main) | hello from startup\nstartup (main) | second line\n");
    expect(r.stdout.indexOf("apply |")).toBeLessThan(r.stdout.indexOf("startup (main)"));
    // -f on a workspace whose agents have not connected yet: it waits for both.
    const following = cli.run(["logs", "pair", "-f"]);
    await new Promise((res) => setTimeout(res, 1000));
    for (const key of ["pair.main", "pair.side"]) if (!running.has(key)) startAgent(key);
    const f = await following;
    expect(f.stderr).toBe("");
    expect(f.stdout).toMatch(/^apply \| \+ process_agent\.main$/m);
    expect(f.code).toBe(0);
    expect(((await ws("pair")).agents).map((a) => a.lifecycle_state)).toEqual(["ready", "ready"]);
  });
});
