// The startup script with a real shell: lifecycle order, exit codes, timeout (the script keeps
// running), output as batched log lines and in the local file, blocking behaviour.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AgentLifecycle, AgentLogLine } from "@outpost/sdk/agents";
import { systemClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import type { LogSource } from "../../src/outbox.js";
import { runStartupScript, type StartupScriptOptions } from "../../src/startup-script.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "outpost-startup-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: dir, FROM_MANIFEST: "yes" };

function run(script: string, extra: Partial<StartupScriptOptions> = {}) {
  const states: { state: AgentLifecycle; at: number }[] = [];
  const batches: { source: LogSource; lines: AgentLogLine[] }[] = [];
  const started = Date.now();
  const s = runStartupScript({
    script,
    directory: dir,
    env,
    timeoutSeconds: 0,
    clock: systemClock,
    log: silentLogger,
    setLifecycle: (state) => states.push({ state, at: Date.now() - started }),
    sendLogs: (source, lines) => batches.push({ source, lines }),
    ...extra,
  });
  const output = (source: LogSource = "startup_script") => batches.filter((b) => b.source === source).flatMap((b) => b.lines.map((l) => l.output));
  return { s, states: () => states.map((x) => x.state), timed: states, batches, output };
}

describe("startup script", () => {
  it("an empty script makes the agent ready at once", async () => {
    const r = run("  \n");
    expect(r.states()).toEqual(["starting", "ready"]);
    await r.s.finished;
    expect(r.batches).toEqual([]);
  });

  it("runs with bash in the directory with the environment, streams stdout and stderr, then ready", async () => {
    const file = path.join(dir, "startup.log");
    const r = run('echo "shell=$BASH_VERSION"; pwd; echo "env=$FROM_MANIFEST"; echo to-stderr >&2; printf "no newline"', { logFile: file });
    expect(r.states()).toEqual(["starting"]);
    await r.s.finished;
    expect(r.states()).toEqual(["starting", "ready"]);
    const out = r.output();
    expect(out[0]).toMatch(/^shell=\d/); // bash, not sh
    expect(out).toEqual(expect.arrayContaining([dir, "env=yes", "to-stderr", "no newline"]));
    expect(r.output("agent")).toEqual(["startup script finished"]);
    await r.s.stop();
    const local = readFileSync(file, "utf8");
    expect(local).toMatch(/=== startup script started at .* \(.*bash, in .*\) ===/);
    expect(local).toContain("env=yes\n");
    expect(local).toContain("[outpost-agent] startup script finished\n");
  });

  it("falls back to sh when told (no bash) and reports a non-zero exit as start_error", async () => {
    const r = run('echo "bash=${BASH_VERSION:-none}"; exit 3', { shell: "/bin/sh" });
    await r.s.finished;
    expect(r.states()).toEqual(["starting", "start_error"]);
    expect(r.output()).toEqual(["bash=none"]);
    expect(r.output("agent")).toEqual(["startup script exited with code 3"]);
  });

  it("a shell that cannot start is a start_error with the reason", async () => {
    const r = run("true", { shell: "/nonexistent/shell" });
    await r.s.finished;
    expect(r.states()).toEqual(["starting", "start_error"]);
    expect(r.output("agent")[0]).toMatch(/could not start: .*ENOENT/);
  });

  it("batches output lines (about every 250 ms) instead of one message per line", async () => {
    const r = run("for i in $(seq 1 200); do echo line $i; done; sleep 0.6; echo after");
    await r.s.finished;
    const sizes = r.batches.filter((b) => b.source === "startup_script").map((b) => b.lines.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(201);
    expect(sizes.length).toBeLessThanOrEqual(3);
    expect(sizes[0]).toBe(200);
    expect(r.output().at(-1)).toBe("after");
  });

  it("past the timeout: start_timeout, the script keeps running and ends in ready later", async () => {
    const r = run("sleep 1.5; echo done", { timeoutSeconds: 1 });
    let settled = false;
    void r.s.settled.then(() => (settled = true));
    await new Promise((res) => setTimeout(res, 1200));
    expect(r.states()).toEqual(["starting", "start_timeout"]);
    expect(settled).toBe(true); // blocking sessions may go on
    await r.s.finished;
    expect(r.states()).toEqual(["starting", "start_timeout", "ready"]);
    expect(r.output()).toEqual(["done"]);
    expect(r.timed[1]!.at).toBeGreaterThanOrEqual(950);
    expect(r.output("agent")[0]).toMatch(/still running after 1 s/);
  });

  it("blocking: settled resolves only when the script finished", async () => {
    const r = run("sleep 0.4");
    let settled = false;
    void r.s.settled.then(() => (settled = true));
    await new Promise((res) => setTimeout(res, 200));
    expect(settled).toBe(false);
    await r.s.settled;
    expect(r.states()).toEqual(["starting", "ready"]);
  });

  it("stop() kills the script and what it started in the background, without changing the lifecycle", async () => {
    const pidFile = path.join(dir, "bg.pid");
    const r = run(`sleep 300 & echo $! > ${pidFile}; wait`);
    await new Promise((res) => setTimeout(res, 300));
    const bg = Number(readFileSync(pidFile, "utf8"));
    expect(alive(bg)).toBe(true);
    await r.s.stop(1000);
    await r.s.finished;
    expect(r.states()).toEqual(["starting"]);
    expect(r.output("agent")[0]).toMatch(/stopped by the agent's shutdown/);
    await new Promise((res) => setTimeout(res, 100));
    expect(alive(bg)).toBe(false);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers signal 0: look at its state.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}
