// The process behind a session channel, with pipes (exec, subsystems, `ssh -T`) or a PTY (node-pty).
// Streams are piped with backpressure both ways: the child's output stops being read while the SSH
// channel's window is full (a slow client pauses the child), and the client's window is only
// re-opened when the child consumed its input. The exit is reported as sshd does: `exit-status`, or
// `exit-signal` with the signal's name (the OpenSSH client then exits 255).
import { spawn } from "node:child_process";
import { constants as osConstants } from "node:os";
import type { Readable, Writable } from "node:stream";
import * as pty from "node-pty";
import type { ServerChannel } from "ssh2";
import { hangUpSession, signalGroup } from "./process-group.js";

export interface SessionProcess {
  readonly pid: number | undefined;
  /** An SSH `signal` request ("TERM", "INT", ...): delivered to the whole process group. */
  signal(name: string): boolean;
  resize(cols: number, rows: number): void;
  /** Hangs up the session's processes (SIGHUP, then SIGKILL after the grace period). */
  terminate(graceMs: number): Promise<void>;
}

export interface SpawnSpec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Called when data flows (activity for the workspace's autostop). */
  touch: () => void;
  onError: (message: string, err: unknown) => void;
}

/** Signals the OpenSSH protocol can name in `exit-signal` (RFC 4254 6.10, ssh2's table). */
const SSH_SIGNALS = new Set(["ABRT", "ALRM", "FPE", "HUP", "ILL", "INT", "QUIT", "SEGV", "TERM", "USR1", "USR2", "KILL", "PIPE"]);

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(osConstants.signals).map(([name, num]) => [num, name.replace(/^SIG/, "")]),
);

function signalNumber(name: string): number | undefined {
  const key = `SIG${name.toUpperCase().replace(/^SIG/, "")}`;
  return (osConstants.signals as Record<string, number | undefined>)[key];
}

/** Sends exit-status / exit-signal, then EOF and CLOSE, after stderr's queued bytes went out. */
function reportExit(channel: ServerChannel, code: number | null, signal: string | null): void {
  const send = () => {
    if (!channel.writable) return; // the client closed the channel first
    if (signal !== null) {
      const name = signal.replace(/^SIG/, "");
      if (SSH_SIGNALS.has(name)) channel.exit(name, false, "");
      else channel.exit(128 + (signalNumber(name) ?? 0));
    } else {
      channel.exit(code ?? 0);
    }
    channel.end();
  };
  const stderr = channel.stderr;
  if (stderr.writableFinished || stderr.destroyed) send();
  else {
    stderr.once("finish", send);
    stderr.end();
  }
}

function deliver(pid: number | undefined, name: string): boolean {
  const num = signalNumber(name);
  if (pid === undefined || num === undefined) return false;
  return signalGroup(pid, num);
}

function failedToStart(channel: ServerChannel, spec: SpawnSpec, err: unknown): void {
  const reason = err instanceof Error ? err.message : String(err);
  spec.onError("session process did not start", err);
  if (channel.writable) channel.stderr.write(`outpost-agent: cannot run ${spec.file}: ${reason}\r\n`);
  reportExit(channel, 127, null);
}

/** A child with pipes: stdin from the channel, stdout and stderr (separately) back to it. */
export function spawnPiped(channel: ServerChannel, spec: SpawnSpec): SessionProcess {
  const child = spawn(spec.file, spec.args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: "pipe" });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  let started = false;
  child.once("spawn", () => (started = true));
  child.once("error", (err) => {
    if (!started) failedToStart(channel, spec, err);
    else spec.onError("session process error", err);
  });
  const stdout = child.stdout as Readable;
  const stderr = child.stderr as Readable;
  const stdin = child.stdin as Writable;
  stdin.on("error", () => {}); // EPIPE when the child exits without reading its input: not our error
  stdout.pipe(channel, { end: false });
  stderr.pipe(channel.stderr, { end: false });
  channel.pipe(stdin);
  channel.on("data", spec.touch);
  stdout.on("data", spec.touch);
  child.once("close", (code, signal) => {
    channel.unpipe(stdin);
    if (started) reportExit(channel, code, signal);
  });
  return {
    get pid() {
      return child.pid;
    },
    signal: (name) => deliver(child.pid, name),
    resize: () => {},
    terminate: async (graceMs) => {
      channel.unpipe(stdin);
      if (child.pid !== undefined) await hangUpSession(child.pid, graceMs, { groupOnly: true });
      // A grandchild outside the session may still hold the pipes open: don't wait for it.
      stdout.destroy();
      stderr.destroy();
      stdin.destroy();
      if (started) await Promise.race([exited, new Promise((r) => setTimeout(r, 100))]);
    },
  };
}

export interface PtySpec extends SpawnSpec {
  term: string;
  cols: number;
  rows: number;
}

/** A child on a pseudo-terminal: one byte stream each way, stdout and stderr merged by the terminal. */
export function spawnPty(channel: ServerChannel, spec: PtySpec): SessionProcess {
  let term: pty.IPty;
  try {
    term = pty.spawn(spec.file, spec.args, {
      name: spec.term,
      cols: spec.cols,
      rows: spec.rows,
      cwd: spec.cwd,
      env: spec.env,
      encoding: null, // Buffers: no UTF-8 decode/encode round trip, split characters stay intact
    });
  } catch (err) {
    failedToStart(channel, spec, err);
    return { pid: undefined, signal: () => false, resize: () => {}, terminate: async () => {} };
  }
  let done = false;
  const exited = new Promise<void>((resolve) => {
    // node-pty reports the exit once the terminal's output has been read to the end.
    term.onExit(({ exitCode, signal }) => {
      done = true;
      const name = signal ? (SIGNAL_NAMES.get(signal) ?? null) : null;
      reportExit(channel, exitCode, name);
      resolve();
    });
  });
  let paused = false;
  const resume = () => {
    paused = false;
    term.resume();
  };
  term.onData((data: string | Buffer) => {
    spec.touch();
    if (!channel.write(data) && !paused) {
      paused = true;
      term.pause();
      channel.once("drain", resume);
    }
  });
  // A terminal has no half-close: EOF from the client is ignored, as sshd does for PTY sessions.
  channel.on("data", (data: Buffer) => {
    spec.touch();
    if (!done) term.write(data); // node-pty logs to the console when writing to a closed terminal
  });
  return {
    pid: term.pid,
    signal: (name) => deliver(term.pid, name),
    resize: (cols, rows) => {
      if (cols > 0 && rows > 0) {
        try {
          term.resize(cols, rows);
        } catch {
          // the terminal is already closed
        }
      }
    },
    terminate: async (graceMs) => {
      await hangUpSession(term.pid, graceMs);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 100))]);
    },
  };
}
