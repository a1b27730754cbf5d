// Resource hygiene of the agent's SSH server: nothing a connection started survives it (children and
// their background jobs, PTY job-control groups, processes that ignore SIGHUP), a client killed in the
// middle of a transfer leaves no channel, process or open file behind, a closed channel ends its
// process while the connection lives on, and backpressure holds a child when the reader is slow.
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type ssh2 from "ssh2";
import { type Harness, processesWith, scpOptions, ssh2Client, startHarness, waitFor } from "./ssh-harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ sftpServerPath: null });
});
afterAll(async () => {
  await h?.close();
});

/** A sleep duration nobody else uses: the remote command computes it, so the client's argv differs. */
function marker(): { expr: string; text: string; name: string; nameExpr: string } {
  const n = randomInt(100_000, 900_000);
  return { expr: `$((${n}+1))`, text: `sleep ${n + 1}`, name: `outpost-test-${n + 1}`, nameExpr: `outpost-test-$((${n}+1))` };
}

function startSsh(args: string[]) {
  return spawn("ssh", [...h.sshOptions, ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: h.clientHome },
    stdio: "pipe",
  });
}

async function expectAllGone(...markers: string[]): Promise<void> {
  await waitFor(() => h.server.connections === 0, 10_000, "connections to drain");
  for (const m of markers) expect(await processesWith(m), m).toEqual([]);
}

describe("when the connection drops", () => {
  it("kills the command and its background children (no PTY)", async () => {
    const a = marker();
    const b = marker();
    const child = startSsh(["127.0.0.1", `sleep ${a.expr} & sleep ${b.expr} & echo started; wait`]);
    onTestFinished(() => void child.kill("SIGKILL"));
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes("started"), 10_000, "the command to start");
    await waitFor(async () => (await processesWith(b.text)).length === 1, 5000, "the background sleeps");
    expect(await processesWith(a.text)).toHaveLength(1);
    child.kill("SIGKILL");
    await expectAllGone(a.text, b.text);
  });

  it("kills an interactive PTY shell's jobs (each in its own process group) and SIGHUP-immune processes", async () => {
    const a = marker();
    const b = marker();
    const child = startSsh(["-tt", "127.0.0.1"]);
    onTestFinished(() => void child.kill("SIGKILL"));
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stdin.write(`sleep ${a.expr} &\n`);
    child.stdin.write(`(trap '' HUP; exec sleep ${b.expr}) &\n`);
    child.stdin.write(`echo job${"s-started"}\n`);
    await waitFor(() => out.includes("jobs-started"), 10_000, "the jobs to start");
    await waitFor(async () => (await processesWith(b.text)).length === 1, 5000, "the jobs");
    expect(await processesWith(a.text)).toHaveLength(1);
    child.kill("SIGKILL");
    await expectAllGone(a.text, b.text);
  });

  // `exec -a NAME` (bash) gives the remote process a name the client's own command line does not contain.
  it("mid-download: the channel, the child and its pipes are gone", async () => {
    const m = marker();
    const child = startSsh(["127.0.0.1", `exec -a ${m.nameExpr} cat /dev/zero`]);
    try {
      let bytes = 0;
      child.stdout.on("data", (d: Buffer) => (bytes += d.length));
      await waitFor(() => bytes > 20_000_000, 20_000, "20 MB to arrive");
      expect(await processesWith(m.name)).toHaveLength(1);
    } finally {
      child.kill("SIGKILL");
    }
    await expectAllGone(m.name);
  });

  it("mid-upload: same", async () => {
    const m = marker();
    const child = startSsh(["127.0.0.1", `exec -a ${m.nameExpr} cat > /dev/null`]);
    try {
      const chunk = Buffer.alloc(1 << 20);
      let sent = 0;
      const pump = () => {
        let more = true;
        while (more && sent < 2_000_000_000) {
          more = child.stdin.write(chunk);
          sent += chunk.length;
        }
      };
      child.stdin.on("drain", pump);
      child.stdin.on("error", () => {});
      pump();
      await waitFor(() => sent > 20_000_000, 20_000, "20 MB to go out");
      expect(await processesWith(m.name)).toHaveLength(1);
    } finally {
      child.kill("SIGKILL");
    }
    await expectAllGone(m.name);
  });

  it("mid-scp with the built-in SFTP server: no file stays open", async () => {
    const big = path.join(h.clientHome, "big-cleanup.bin");
    writeFileSync(big, Buffer.alloc(200 << 20));
    const child = spawn("scp", [...scpOptions(h), big, "127.0.0.1:partial.bin"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: h.clientHome },
      stdio: "ignore",
    });
    onTestFinished(() => void child.kill("SIGKILL"));
    const target = path.join(h.dir, "partial.bin");
    const openHere = () =>
      readdirSync("/proc/self/fd").filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === target;
        } catch {
          return false;
        }
      });
    await waitFor(() => openHere().length > 0, 10_000, "the upload to open the file");
    child.kill("SIGKILL");
    await expectAllGone();
    await waitFor(() => openHere().length === 0, 5000, "the file to be closed");
  });
});

describe("channels", () => {
  let client: ssh2.Client;
  beforeAll(async () => {
    client = await ssh2Client(h);
  });
  afterAll(() => client?.end());

  const exec = (command: string) =>
    new Promise<ssh2.ClientChannel>((resolve, reject) => client.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))));

  it("closing a channel ends its process; the connection stays", async () => {
    await waitFor(() => h.server.connections === 1, 5000, "only this connection");
    const a = marker();
    const ch = await exec(`echo started; sleep ${a.expr}`);
    let out = "";
    ch.on("data", (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes("started"), 5000, "the command");
    await waitFor(async () => (await processesWith(a.text)).length === 1, 5000, "the sleep");
    ch.close();
    await waitFor(async () => (await processesWith(a.text)).length === 0, 5000, "the sleep to be killed");
    expect(h.server.connections).toBe(1);
  });

  it("a slow reader pauses the child (output is not buffered without bound)", async () => {
    const ch = await exec("echo $$ >&2; exec cat /dev/zero");
    let pid = 0;
    ch.stderr.on("data", (d: Buffer) => (pid = Number(d.toString().trim())));
    ch.pause();
    await waitFor(() => pid > 0, 5000, "the pid");
    const readByChild = () => Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1]);
    await new Promise((r) => setTimeout(r, 300));
    const first = readByChild();
    await new Promise((r) => setTimeout(r, 500));
    const second = readByChild();
    // The SSH window (2 MiB) plus pipe and stream buffers: a few MiB, and no progress while paused.
    expect(first).toBeLessThan(16 << 20);
    expect(second - first).toBeLessThan(1 << 20);
    let got = 0;
    ch.on("data", (d: Buffer) => (got += d.length));
    ch.resume();
    await waitFor(() => got > 50 << 20, 10_000, "50 MB after resuming");
    ch.close();
  });

  it("a slow reader pauses a PTY session's child too", async () => {
    const pidFile = path.join(h.dir, `pty-${randomInt(1e9)}.pid`);
    const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      client.exec(`echo $$ > ${pidFile}; exec cat /dev/zero`, { pty: { rows: 24, cols: 80 } }, (err, c) => (err ? reject(err) : resolve(c))),
    );
    ch.pause();
    await waitFor(() => {
      try {
        return Number(readFileSync(pidFile, "utf8")) > 0;
      } catch {
        return false;
      }
    }, 5000, "the pid");
    const pid = Number(readFileSync(pidFile, "utf8"));
    const readByChild = () => Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1]);
    await new Promise((r) => setTimeout(r, 300));
    const first = readByChild();
    await new Promise((r) => setTimeout(r, 500));
    expect(first).toBeLessThan(16 << 20);
    expect(readByChild() - first).toBeLessThan(1 << 20);
    let got = 0;
    ch.on("data", (d: Buffer) => (got += d.length));
    ch.resume();
    await waitFor(() => got > 20 << 20, 10_000, "20 MB after resuming");
    ch.close();
  });

  it("a child that does not read its input holds the client back (window not re-opened)", async () => {
    const a = marker();
    const ch = await exec(`sleep ${a.expr}`);
    const chunk = Buffer.alloc(64 << 10);
    let written = 0;
    const pump = () => {
      while (ch.write(chunk)) written += chunk.length;
      written += chunk.length;
    };
    ch.on("drain", pump);
    pump();
    await new Promise((r) => setTimeout(r, 700));
    const first = written;
    await new Promise((r) => setTimeout(r, 500));
    // The server's window (2 MiB), its channel buffer (2 MiB), the pipe, ssh2's client buffer (2 MiB):
    // a few MiB, then nothing moves until the child reads.
    expect(first).toBeLessThan(12 << 20);
    expect(written).toBe(first);
    ch.close();
    await waitFor(async () => (await processesWith(a.text)).length === 0, 5000, "the sleep to be killed");
  });
});

describe("server.close()", () => {
  it("ends open connections and their processes, refuses new streams", async () => {
    const own = await startHarness();
    const a = marker();
    const child = spawn("ssh", [...own.sshOptions, "127.0.0.1", `echo started; sleep ${a.expr}`], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: own.clientHome },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes("started"), 10_000, "the command");
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    own.server.close();
    expect(await exited).toBe(255);
    await waitFor(() => own.server.connections === 0, 5000, "connections to drain");
    expect(await processesWith(a.text)).toEqual([]);
    await own.close();
  });
});

describe("a session waiting for the startup gate", () => {
  it("never leaves a process behind when its client left before the gate opened", async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const gated = await startHarness({ beforeSession: () => gate });
    try {
      const a = marker();
      const child = spawn("ssh", [...gated.sshOptions, "127.0.0.1", `exec -a ${a.nameExpr} sleep 60`], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: gated.clientHome },
        stdio: "ignore",
      });
      await waitFor(() => gated.tracker.open === 1, 5000, "the connection");
      await new Promise((r) => setTimeout(r, 200)); // the exec request is in and waiting
      child.kill("SIGKILL");
      await waitFor(() => gated.server.connections === 0, 5000, "the connection to end");
      open();
      await new Promise((r) => setTimeout(r, 300));
      await waitFor(async () => (await processesWith(a.name)).length === 0, 5000, "no session process");
    } finally {
      await gated.close();
    }
  });
});
