// The template's startup script: run once per agent process (a reconnect never runs it again), with
// bash when present else sh, in the workspace directory. Lifecycle: starting -> ready (exit 0) |
// start_error (exit != 0 or cannot start) | start_timeout (still running after the timeout; it keeps
// running and ends in ready / start_error later). Its output goes to the server as `startup_script`
// logs, batched, and to a local file for debugging inside the workspace.
import type { ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import type { AgentLifecycle } from "@outpost/sdk/agents";
import type { AgentClock } from "./clock.js";
import { scriptShell, spawnGroup, stopGroup } from "./child-process.js";
import { LineSplitter, LogBatcher } from "./log-lines.js";
import type { AgentLogger } from "./logger.js";
import type { LogSource } from "./outbox.js";
import type { AgentLogLine } from "@outpost/sdk/agents";

export interface StartupScriptOptions {
  script: string;
  directory: string;
  env: Record<string, string>;
  /** 0: no limit. */
  timeoutSeconds: number;
  clock: AgentClock;
  log: AgentLogger;
  setLifecycle: (state: AgentLifecycle) => void;
  sendLogs: (source: LogSource, lines: AgentLogLine[]) => void;
  /** Output is appended here too (undefined: nowhere). */
  logFile?: string;
  /** Default: bash from PATH, else /bin/sh. */
  shell?: string;
  batchMs?: number;
}

export interface StartupScript {
  /** Resolves when the script has ended (at once for an empty one). */
  readonly finished: Promise<void>;
  /** Resolves when the script ended or timed out: what blocking sessions wait for. */
  readonly settled: Promise<void>;
  /** Stops the script and everything it started in its process group; resolves when it exited. */
  stop(graceMs?: number): Promise<void>;
}

/** How long to wait for the pipes after the script exited (a background child may keep them open). */
const DRAIN_MS = 200;

export function runStartupScript(options: StartupScriptOptions): StartupScript {
  const { clock, log } = options;
  options.setLifecycle("starting");
  if (options.script.trim() === "") {
    options.setLifecycle("ready");
    return { finished: Promise.resolve(), settled: Promise.resolve(), stop: () => Promise.resolve() };
  }

  let resolveFinished!: () => void;
  let resolveSettled!: () => void;
  const finished = new Promise<void>((r) => (resolveFinished = r));
  const settled = new Promise<void>((r) => (resolveSettled = r));
  const file = openLogFile(options.logFile, log);
  const batcher = new LogBatcher({ clock, intervalMs: options.batchMs, send: (lines) => options.sendLogs("startup_script", lines) });
  const agentLine = (level: AgentLogLine["level"], output: string) => {
    file?.write(`[outpost-agent] ${output}\n`);
    options.sendLogs("agent", [{ created_at: new Date(clock.now()).toISOString(), level, output }]);
  };
  const shell = options.shell ?? scriptShell(options.env);
  const started = clock.now();
  let ended = false;
  let stopping = false;
  let timer: unknown;

  const end = (state: "ready" | "start_error", message: string, level: AgentLogLine["level"]) => {
    if (ended) return;
    ended = true;
    if (timer !== undefined) clock.clearTimeout(timer);
    batcher.flush();
    if (stopping) message = `startup script stopped by the agent's shutdown (${message})`;
    agentLine(level, message);
    log[level === "error" ? "error" : "info"](message, { seconds: ((clock.now() - started) / 1000).toFixed(1) });
    // Killed by our own shutdown: the lifecycle is already shutting_down and must stay so.
    if (!stopping) options.setLifecycle(state);
    resolveSettled();
    resolveFinished();
    // Background children may still write to the pipes: keep logging them, close the file with the process.
  };

  file?.write(`=== startup script started at ${new Date(started).toISOString()} (${shell}, in ${options.directory}) ===\n`);
  log.info("running the startup script", { shell, directory: options.directory, timeout_seconds: options.timeoutSeconds || undefined });
  let child: ChildProcess;
  try {
    child = spawnGroup(shell, ["-c", options.script], { cwd: options.directory, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    end("start_error", `the startup script could not start: ${(err as Error).message}`, "error");
    return { finished, settled, stop: () => Promise.resolve() };
  }

  for (const stream of [child.stdout!, child.stderr!]) {
    const splitter = new LineSplitter();
    const out = (lines: string[]) => {
      for (const line of lines) {
        batcher.add("info", line);
        file?.write(`${line}\n`);
      }
    };
    stream.on("data", (chunk: Buffer) => out(splitter.push(chunk)));
    stream.on("end", () => out(splitter.end()));
    stream.on("error", () => {});
  }

  let pipesOpen = 2;
  let exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const maybeEnd = () => {
    if (!exitStatus) return;
    const { code, signal } = exitStatus;
    if (code === 0) end("ready", "startup script finished", "info");
    else end("start_error", signal ? `startup script was killed by ${signal}` : `startup script exited with code ${code}`, "error");
  };
  child.stdout!.on("close", () => --pipesOpen === 0 && maybeEnd());
  child.stderr!.on("close", () => --pipesOpen === 0 && maybeEnd());
  child.on("error", (err) => {
    end("start_error", `the startup script could not start: ${err.message}`, "error");
  });
  child.on("exit", (code, signal) => {
    exitStatus = { code, signal };
    if (pipesOpen === 0) maybeEnd();
    else clock.setTimeout(maybeEnd, DRAIN_MS);
  });

  if (options.timeoutSeconds > 0) {
    timer = clock.setTimeout(() => {
      timer = undefined;
      if (ended) return;
      batcher.flush();
      const message = `startup script still running after ${options.timeoutSeconds} s (start_timeout); it keeps running`;
      agentLine("warn", message);
      log.warn(message);
      options.setLifecycle("start_timeout");
      resolveSettled();
    }, options.timeoutSeconds * 1000);
  }

  return {
    finished,
    settled,
    stop: async (graceMs = 3000) => {
      stopping = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      await stopGroup(child, graceMs);
      batcher.flush();
      if (file && !file.closed) await new Promise<void>((resolve) => file.end(resolve));
    },
  };
}

function openLogFile(path: string | undefined, log: AgentLogger): WriteStream | undefined {
  if (!path) return undefined;
  const stream = createWriteStream(path, { flags: "a", mode: 0o600 });
  stream.on("error", (err) => log.warn("cannot write the startup script log file", { path, error: err }));
  return stream;
}
