// `outpost ssh`, `outpost ssh --stdio` and the bundled `outpost agent` against a real server, with the
// real agent running in this process (agent-world.ts) and the real OpenSSH client.
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentWorld, waitFor, type AgentWorld } from "../helpers/agent-world.js";
import { cliSandbox, ROOT, STACK_TRACE } from "../helpers/run-cli.js";

let w: AgentWorld;

beforeAll(async () => {
  w = await agentWorld([["dev", "agented"], ["idle", "agented"], ["sleepy", "agented"], ["pair", "twins"], ["broken", "agented", "--parameter", "fail=true"], ["bundled", "agented"]]);
  const stopped = await w.cli.run(["stop", "sleepy"]);
  if (stopped.code !== 0) throw new Error(`stop: ${stopped.stderr}`);
  w.startAgent("dev.main");
  await w.readyAgent("dev");
}, 120_000);
afterAll(async () => w?.close());

describe("outpost agent (the bundle, as the process driver runs it)", () => {
  it("connects, serves SSH, and shuts down cleanly on SIGTERM", async () => {
    const child = spawn(process.execPath, [path.join(ROOT, "packages/cli/dist/outpost.js"), "agent"], {
      env: { PATH: process.env.PATH, HOME: w.cli.home, OUTPOST_AGENT_URL: w.s.url, OUTPOST_AGENT_TOKEN: w.daemon.agentTokens.get("bundled.main")! },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on("close", r));
    try {
      await w.readyAgent("bundled");
      const r = await w.cli.run(["ssh", "bundled", "--", "echo", "from-the-bundle"]);
      expect(r.stdout).toBe("from-the-bundle\n");
      expect(r.code).toBe(0);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain("INFO  connected to the server");
    expect(stderr).toContain("INFO  received signal, shutting down signal=SIGTERM");
    expect(stderr).not.toMatch(STACK_TRACE);
    await waitFor("the agent off", async () => ((await w.agentOf("bundled"))?.status === "disconnected" ? true : undefined));
    expect((await w.agentOf("bundled"))?.lifecycle_state).toBe("off");
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
      const r = await w.cli.run(["ssh", "--stdio", host]);
      expect(r.code, host).toBe(1);
      for (const m of messages) expect(r.stderr, host).toContain(m);
      expect(r.stdout).toBe("");
      expect(r.stderr).not.toMatch(STACK_TRACE);
    }
  });

  it("refuses a malformed host (exit 2) and says when you are not logged in", async () => {
    const bad = await w.cli.run(["ssh", "--stdio", "outpost.a--b--c"]);
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
    w.startAgent("idle.main");
    const agent = await w.readyAgent("idle");
    const session = () => {
      const child = spawn(process.execPath, [path.join(ROOT, "packages/cli/dist/outpost.js"), "ssh", "--stdio", "outpost.idle"], {
        env: { ...process.env, HOME: w.cli.home, OUTPOST_CONFIG_DIR: w.cli.configDir, OUTPOST_URL: "", OUTPOST_SESSION_TOKEN: "" },
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
    w.s.deps.agentConns.get(agent!.id)!.terminate("cut by the test");
    expect(await cut.exited).toBe(1);
    expect(cut.out.stderr).toMatch(/^outpost: connection to workspace idle lost: the agent went away: /);
    // The agent reconnects by itself; then it shuts down, resetting its sessions.
    await waitFor("the agent back", async () => ((await w.agentOf("idle"))?.status === "connected" ? true : undefined));
    const shutdown = session();
    await shutdown.banner();
    await w.running.get("idle.main")!.stop();
    expect(await shutdown.exited).toBe(1);
    expect(shutdown.out.stderr).toMatch(/^outpost: connection to workspace idle lost: the agent closed the connection: /);
  });
});

describe("outpost ssh", () => {
  it("runs a command through OpenSSH and the ProxyCommand, with its exit code, stdin and agent choice", async () => {
    const ok = await w.cli.run(["ssh", "dev", "--", "echo", "ok"]);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toBe("ok\n");
    expect(ok.code).toBe(0);
    const code = await w.cli.run(["ssh", "dev.main", "--", "sh -c 'cat; exit 7'"], { stdin: "from stdin\n" });
    expect(code.stdout).toBe("from stdin\n");
    expect(code.code).toBe(7);
  });

  it("works as plain `ssh outpost.NAME` after config-ssh", async () => {
    const config = path.join(w.cli.home, "ssh_config");
    const written = await w.cli.run(["config-ssh", "-y", "--ssh-config-file", config]);
    expect(written.code).toBe(0);
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn("ssh", ["-F", config, "outpost.owner--dev.main", "echo", "via-config"], { env: { ...process.env, HOME: w.cli.home, OUTPOST_CONFIG_DIR: w.cli.configDir } });
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
    const stopped = await w.cli.run(["ssh", "sleepy", "--", "true"]);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toBe("error: workspace owner/sleepy is stopped; start it with `outpost start owner/sleepy`\n");
    const pair = await w.cli.run(["ssh", "pair"]);
    expect(pair.code).toBe(2);
    expect(pair.stderr).toContain("error: workspace owner/pair has 2 agents: say which one\n  its agents: main, side\n  e.g. owner/pair.main");
    const unknown = await w.cli.run(["ssh", "pair.third"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("error: workspace owner/pair has no agent named third\n  its agents: main, side");
    const flags = await w.cli.run(["ssh", "-L", "nonsense", "dev"]);
    expect(flags.code).toBe(2);
    expect(flags.stderr).toContain('error: invalid value for -L/--local-forward: "nonsense"');
  });

  it("waits for the agent to connect, naming the stage", async () => {
    const pending = w.cli.run(["ssh", "pair.side", "--", "echo", "side-ok"]);
    await new Promise((r) => setTimeout(r, 1500));
    w.startAgent("pair.side");
    const r = await pending;
    expect(r.stderr).toContain("… waiting for agent side to connect\n");
    expect(r.stdout).toBe("side-ok\n");
    expect(r.code).toBe(0);
  });

  it("waits for a queued build, then for the agent", async () => {
    await w.daemon.stop(); // the build stays queued until the daemon runs again
    const created = await w.cli.run(["create", "late", "-t", "agented", "--no-follow"]);
    expect(created.code).toBe(0);
    // Streamed, so the daemon starts only once the CLI has said the build is queued (not after a guess).
    const child = spawn(process.execPath, [path.join(ROOT, "packages/cli/dist/outpost.js"), "ssh", "late", "--", "echo", "late-ok"], {
      env: { ...process.env, HOME: w.cli.home, OUTPOST_CONFIG_DIR: w.cli.configDir, OUTPOST_URL: "", OUTPOST_SESSION_TOKEN: "", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const r = { stdout: "", stderr: "", code: null as number | null };
    child.stdout.setEncoding("utf8").on("data", (d: string) => (r.stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (r.stderr += d));
    const pending = new Promise<void>((done) => child.on("close", (code) => ((r.code = code), done())));
    await waitFor("the CLI to report the queued build", async () => (r.stderr.includes("queued for a provisioner") ? true : undefined));
    w.daemon.start();
    await waitFor("the token of late", async () => (w.daemon.agentTokens.has("late.main") ? true : undefined));
    await new Promise((r) => setTimeout(r, 700));
    w.startAgent("late.main");
    await pending;
    expect(r.stderr).toMatch(/^… waiting for the build \(queued for a provisioner\)\n(… waiting for the build\n)?… waiting for agent main to connect\n(… startup script running\n)?$/);
    expect(r.stdout).toBe("late-ok\n");
    expect(r.code).toBe(0);
  });

  it("says how to install OpenSSH when ssh is missing", async () => {
    const r = await w.cli.run(["ssh", "dev", "--", "true"], { env: { PATH: "/nonexistent" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: ssh (the OpenSSH client) is not installed\n  install it, e.g. `apt install openssh-client`");
  });

  it("on a terminal, offers to start a stopped workspace, shows the build, then connects", async () => {
    const before = w.daemon.agentTokens.get("sleepy.main");
    const pending = w.cli.runInTerminal(["ssh", "sleepy", "--", "echo", "awake"], [{ expect: "Workspace owner/sleepy is stopped. Start it? [Y/n]", send: "" }]);
    await waitFor("a new token for sleepy", async () => (w.daemon.agentTokens.get("sleepy.main") !== before ? true : undefined), 20_000);
    w.startAgent("sleepy.main");
    const r = await pending;
    expect(r.stdout).toContain("Starting owner/sleepy (build #3");
    expect(r.stdout).toContain("Build #3 (start) of owner/sleepy succeeded");
    expect(r.stdout).toContain("awake");
    expect(r.code).toBe(0);
  });
});

describe("a failed startup script", () => {
  it("is a warning for ssh, and exit 1 for logs -f", async () => {
    w.startAgent("broken.main");
    await waitFor("start_error", async () => ((await w.agentOf("broken"))?.lifecycle_state === "start_error" ? true : undefined));
    const r = await w.cli.run(["ssh", "broken", "--", "echo", "still-in"]);
    expect(r.stderr).toBe("warning: the startup script of agent main failed; see `outpost logs owner/broken`\n");
    expect(r.stdout).toBe("still-in\n");
    expect(r.code).toBe(0);
    const logs = await w.cli.run(["logs", "broken", "-f"]);
    expect(logs.stdout).toContain("startup (main) | about to fail\n");
    expect(logs.stderr).toBe("the startup script of agent main failed\n");
    expect(logs.code).toBe(1);
  });
});
