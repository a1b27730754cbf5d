// `outpost port-forward`, `outpost agent`'s environment, and the agents in `show`, `list` and `logs`,
// against a real server with the real agent running in this process (agent-world.ts).
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Workspace } from "@outpost/sdk/workspaces";
import { agentWorld, waitFor, type AgentWorld } from "../helpers/agent-world.js";
import { ROOT, STACK_TRACE } from "../helpers/run-cli.js";

let w: AgentWorld;

beforeAll(async () => {
  w = await agentWorld([["dev", "agented"], ["idle", "agented"], ["pair", "twins"]]);
  w.startAgent("dev.main");
  await w.readyAgent("dev");
}, 120_000);
afterAll(async () => w?.close());

describe("outpost agent", () => {
  it("refuses to start without its URL and token, naming them", async () => {
    const r = await w.cli.run(["agent"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: OUTPOST_AGENT_URL and OUTPOST_AGENT_TOKEN must be set");
    const half = await w.cli.run(["agent"], { env: { OUTPOST_AGENT_URL: w.s.url } });
    expect(half.code).toBe(2);
    expect(half.stderr).toContain("error: OUTPOST_AGENT_TOKEN must be set");
    const level = await w.cli.run(["agent"], { env: { OUTPOST_AGENT_URL: w.s.url, OUTPOST_AGENT_TOKEN: "x".repeat(43), OUTPOST_AGENT_LOG_LEVEL: "loud" } });
    expect(level.code).toBe(2);
    expect(level.stderr).toContain('OUTPOST_AGENT_LOG_LEVEL must be debug, info, warn or error, got "loud"');
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
      const r = await w.cli.run(["port-forward", "dev", ...flags], { env: { OUTPOST_URL: "http://127.0.0.1:9" } });
      expect(r.code, flags.join(" ")).toBe(2);
      expect(r.stderr, flags.join(" ")).toContain(message);
      expect(r.stderr).not.toMatch(STACK_TRACE);
    }
    const badTarget = await w.cli.run(["port-forward", "a/b/c", "--tcp", "80"]);
    expect(badTarget.code).toBe(2);
    expect(badTarget.stderr).toContain('invalid workspace "a/b/c"');
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
      env: { ...process.env, HOME: w.cli.home, OUTPOST_CONFIG_DIR: w.cli.configDir },
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
    await waitFor("metadata", async () => ((await w.agentOf("dev"))?.metadata[0]?.result ? true : undefined));
    const r = await w.cli.run(["show", "dev"]);
    expect(r.code).toBe(0);
    const section = r.stdout.slice(r.stdout.indexOf("Agents:"), r.stdout.indexOf("Builds:"));
    expect(section).toMatch(/^ {2}main$/m);
    expect(section).toMatch(/^ {4}status: +connected since \d+[smhd] ago$/m);
    expect(section).toMatch(/^ {4}lifecycle: +ready since \d+[smhd] ago \(logins wait for the startup script\)$/m);
    expect(section).toMatch(/^ {4}version: +0\.1\.0 \(linux\/amd64, protocol 1\)$/m);
    expect(section).toMatch(/^ {4}metadata: +Greeting: hi there$/m);
    expect(section).toMatch(/^ {4}ports: +/m);
    expect(section).toMatch(/^ {4}sessions: +ssh \d+, terminal \d+, tcp \d+; last activity /m);
    const json = JSON.parse((await w.cli.run(["show", "dev", "-o", "json"])).stdout) as Workspace;
    expect(json.agents[0]).toMatchObject({ name: "main", status: "connected", lifecycle_state: "ready", version: "0.1.0" });
  });

  it("list shows each workspace's agents", async () => {
    const r = await w.cli.run(["list"]);
    expect(r.stdout).toMatch(/^owner\/dev\s+agented\s+running\s+main \(ready\)\s+/m);
    expect(r.stdout).toMatch(/^owner\/pair\s+twins\s+running\s+main \([a-z_]+\), side \([a-z_]+\)\s+/m);
    expect(r.stdout).toMatch(/^owner\/idle\s+agented\s+running\s+main \(connecting\)\s+/m);
  });

  it("logs prints the startup script after the build; -f waits for the agents' startup", async () => {
    const r = await w.cli.run(["logs", "dev"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("startup (main) | hello from startup\nstartup (main) | second line\n");
    expect(r.stdout.indexOf("apply |")).toBeLessThan(r.stdout.indexOf("startup (main)"));
    // -f on a workspace whose agents have not connected yet: it waits for both.
    const following = w.cli.run(["logs", "pair", "-f"]);
    await new Promise((res) => setTimeout(res, 1000));
    for (const key of ["pair.main", "pair.side"]) if (!w.running.has(key)) w.startAgent(key);
    const f = await following;
    expect(f.stderr).toBe("");
    expect(f.stdout).toMatch(/^apply \| \+ process_agent\.main$/m);
    expect(f.code).toBe(0);
    expect(((await w.ws("pair")).agents).map((a) => a.lifecycle_state)).toEqual(["ready", "ready"]);
  });
});
