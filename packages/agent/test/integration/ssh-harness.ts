// Test harness for the agent's SSH server: the server behind a TCP listener on 127.0.0.1 (each accepted
// socket goes to handle(), as the agent does with mux streams), the real OpenSSH client with a temp
// HOME and no config, and an ssh2 client for what OpenSSH cannot be told to do (resize, signals).
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import ssh2 from "ssh2";
import type { SessionKind } from "@outpost/sdk/agents";
import { toDuplex } from "../../src/mux-duplex.js";
import { createSshServer, type SshServer, type SshServerOptions } from "../../src/ssh/server.js";
import { muxPair } from "../helpers/mux-pair.js";

export interface Harness {
  port: number;
  server: SshServer;
  /** The sessions' directory (what the agent's `directory()` returns). */
  dir: string;
  /** HOME for the ssh client processes. */
  clientHome: string;
  logs: { level: string; msg: string; fields?: Record<string, unknown> }[];
  tracker: { open: number; closed: number; activity: number };
  /** ssh options that make the client ignore all local config and known hosts. */
  sshOptions: string[];
  close(): Promise<void>;
}

/**
 * `transport: "mux"` puts the agent's tunnel in between, as in production: each TCP connection becomes
 * a stream opened by the "server" side of an in-memory mux pair, and the agent side hands the stream,
 * adapted to a Duplex by the agent's own toDuplex, to handle().
 */
export async function startHarness(overrides: Partial<SshServerOptions> = {}, transport: "tcp" | "mux" = "tcp"): Promise<Harness & { openMuxStreams(): number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "outpost-ssh-dir-"));
  const clientHome = mkdtempSync(path.join(os.tmpdir(), "outpost-ssh-home-"));
  const logs: Harness["logs"] = [];
  const tracker = { open: 0, closed: 0, activity: 0 };
  const entry = (level: string) => (msg: string, fields?: Record<string, unknown>) => void logs.push({ level, msg, fields });
  const agentEnv: Record<string, string | undefined> = { ...process.env };
  delete agentEnv.NODE_OPTIONS;
  const server = createSshServer({
    env: () => ({ OUTPOST_TEST_MARKER: "from-manifest" }),
    agentEnv: () => agentEnv,
    directory: () => dir,
    sessions: {
      open: (_kind: SessionKind) => {
        tracker.open++;
        let released = false;
        return () => {
          if (!released) tracker.closed++;
          released = true;
        };
      },
      activity: () => void tracker.activity++,
    },
    log: { info: entry("info"), warn: entry("warn"), error: entry("error") },
    killGraceMs: 500,
    ...overrides,
  });
  const pair = transport === "mux" ? muxPair((req) => server.handle(toDuplex(req.accept()))) : undefined;
  const tcp = net.createServer((socket) => {
    if (!pair) return server.handle(socket);
    socket.setNoDelay(true);
    pair.server.open("ssh").then(
      (stream) => {
        const d = toDuplex(stream);
        d.on("error", () => socket.destroy());
        socket.on("error", () => d.destroy());
        socket.pipe(d).pipe(socket);
        socket.on("close", () => d.destroy());
        d.on("close", () => socket.destroy());
      },
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  const port = (tcp.address() as net.AddressInfo).port;
  const sshOptions = [
    "-F", "/dev/null",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "BatchMode=yes",
    "-p", String(port),
  ];
  return {
    port,
    server,
    dir,
    clientHome,
    logs,
    tracker,
    sshOptions,
    openMuxStreams: () => (pair ? pair.agent.openStreams + pair.server.openStreams : 0),
    close: async () => {
      server.close();
      pair?.close();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      await waitFor(() => server.connections === 0, 10_000, "connections drain");
      rmSync(dir, { recursive: true, force: true });
      rmSync(clientHome, { recursive: true, force: true });
    },
  };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  /** Files for the child's stdin / stdout instead of pipes (large transfers). */
  stdinFile?: string;
  stdoutFile?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  cwd?: string;
}

/** Runs a client program (ssh, scp, sftp, rsync) with the harness's HOME. */
export function run(h: Harness, file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const stdinFd = opts.stdinFile ? openSync(opts.stdinFile, "r") : undefined;
    const stdoutFd = opts.stdoutFile ? openSync(opts.stdoutFile, "w") : undefined;
    const child = spawn(file, args, {
      cwd: opts.cwd ?? h.clientHome,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: h.clientHome, ...opts.env },
      stdio: [stdinFd ?? "pipe", stdoutFd ?? "pipe", "pipe"],
    });
    if (stdinFd !== undefined) closeSync(stdinFd);
    if (stdoutFd !== undefined) closeSync(stdoutFd);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${file} ${args.join(" ")}: no exit after ${opts.timeoutMs ?? 20_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin?.on("error", () => {});
    child.stdin?.end(opts.input);
  });
}

/** The harness's ssh options for scp and sftp (`-P` instead of `-p`). */
export function scpOptions(h: Harness): string[] {
  return h.sshOptions.map((o) => (o === "-p" ? "-P" : o));
}

/** The ssh command line for `rsync -e` (and anything else that takes one). */
export function sshCommandLine(h: Harness): string {
  return ["ssh", ...h.sshOptions].join(" ");
}

/** `ssh [options] 127.0.0.1 [command]` */
export function ssh(h: Harness, command: string | undefined, opts: RunOptions & { options?: string[] } = {}): Promise<RunResult> {
  return run(h, "ssh", [...h.sshOptions, ...(opts.options ?? []), "127.0.0.1", ...(command === undefined ? [] : [command])], opts);
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** An authenticated ssh2 client (the server accepts "none" for anyone). */
export function ssh2Client(h: Harness): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.once("ready", () => resolve(client));
    client.once("error", reject);
    client.connect({ host: "127.0.0.1", port: h.port, username: "tester" });
  });
}

/** Pids of processes whose command line contains `marker` (the test's own processes excluded). */
export async function processesWith(marker: string): Promise<number[]> {
  const { readdir, readFile } = await import("node:fs/promises");
  const found: number[] = [];
  for (const name of await readdir("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8")).replace(/\0/g, " ");
      const stat = await readFile(`/proc/${pid}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (cmdline.includes(marker) && state !== "Z") found.push(pid);
    } catch {
      // gone
    }
  }
  return found;
}
