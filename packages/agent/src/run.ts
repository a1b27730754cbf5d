// The agent daemon: keeps the tunnel to the server (tunnel.ts), runs the startup script once per
// process on the first manifest, reports lifecycle, logs, metadata, listening ports and stats through
// the outbox (re-sent in full after every reconnect: the server may have restarted), and serves the
// streams the server opens (SSH, terminals, TCP). Resolves once `signal` aborted and everything is
// shut down: lifecycle shutting_down then off sent (when connected), terminals and SSH sessions
// closed, children killed.
import os from "node:os";
import type { AgentManifest } from "@outpost/sdk/agents";
import pkg from "@outpost/agent/package.json" with { type: "json" };
import { createBackoff } from "./backoff.js";
import { sleep, systemClock, type AgentClock } from "./clock.js";
import type { Connection } from "./connection.js";
import { generateHostKey } from "./host-key.js";
import { createLogger, type AgentLogger } from "./logger.js";
import { parseMetadataItems, startMetadata, type MetadataRunner } from "./metadata.js";
import { watchListeningPorts } from "./listening-ports.js";
import { Outbox } from "./outbox.js";
import { ReconnectingPtys } from "./reconnecting-pty.js";
import { createSshServer } from "./ssh/server.js";
import { runStartupScript, type StartupScript } from "./startup-script.js";
import { StatsTracker } from "./stats.js";
import { createDispatcher } from "./stream-dispatcher.js";
import { runTunnel } from "./tunnel.js";
import { prependPath, writeOutpostShim } from "./outpost-shim.js";
import { childEnv, minimalEnv, resolveDirectory } from "./workspace-env.js";

export const AGENT_VERSION: string = pkg.version;

export interface RunAgentOptions {
  /** The server's base URL (http(s)://host[:port]), as in OUTPOST_AGENT_URL. */
  url: string;
  /** This agent's token, as in OUTPOST_AGENT_TOKEN. */
  token: string;
  /** Default: info and above to stderr. */
  log?: AgentLogger;
  /** Abort to shut down; runAgent resolves when done. Without one it runs until the process exits. */
  signal?: AbortSignal;
  clock?: AgentClock;
  /** Reconnect delays: full jitter under a cap doubling from initialMs to maxMs. Default 500 ms .. 30 s. */
  backoff?: { initialMs: number; maxMs: number };
  /** Uniform [0, 1) for the jitter. Default Math.random. */
  random?: () => number;
  /**
   * The environment the agent's children start from (startup script, metadata, terminals, SSH
   * sessions); the token and NODE_OPTIONS are removed, the manifest's env and OUTPOST_* added.
   * Default: a minimal PATH/HOME/USER/SHELL/LANG (the agent itself does not read process.env).
   */
  env?: Record<string, string | undefined>;
  /** Where the startup script's output is appended too. Default `${os.tmpdir()}/outpost-startup.log`; null: nowhere. */
  startupLogPath?: string | null;
  /** A terminal nobody is attached to is killed after this long. Default 5 min. */
  terminalIdleTimeoutMs?: number;
  /** Terminals alive at once. Default 32. */
  maxTerminals?: number;
  /** Listening ports poll interval. Default 1500 ms. */
  portsIntervalMs?: number;
  /** Least time between stats reports. Default 5 s (1 s when sessions change). */
  statsIntervalMs?: number;
  /** Mux keepalive. Default PING after 15 s of silence, dead after 45 s. */
  keepalive?: { intervalMs: number; timeoutMs: number };
  /** The server's hello must come within this. Default 30 s. */
  helloTimeoutMs?: number;
  /** The SSH server's sftp-server binary: undefined searches the usual paths, null always uses the built-in one. */
  sftpServerPath?: string | null;
  /** Children get this long between SIGTERM and SIGKILL at shutdown. Default 3 s. */
  shutdownGraceMs?: number;
  /**
   * How sessions and scripts run `outpost` (e.g. `outpost dotfiles`): the agent binary itself, or the
   * CLI that runs this agent. Put first on their PATH through a shim (outpost-shim.ts). Default: none.
   */
  outpostCommand?: string[];
}

export async function runAgent(options: RunAgentOptions): Promise<void> {
  checkOptions(options);
  const log = options.log ?? createLogger();
  const clock = options.clock ?? systemClock;
  const baseEnv = options.env ?? minimalEnv();
  const grace = options.shutdownGraceMs ?? 3000;
  const outbox = new Outbox({ log, now: () => clock.now() });
  outbox.setLifecycle("created");
  const stats = new StatsTracker({ clock, intervalMs: options.statsIntervalMs, send: (s) => outbox.setStats(s) });
  outbox.setStats(stats.snapshot());

  let manifest: AgentManifest | undefined;
  let directory = os.homedir();
  let startup: StartupScript | undefined;
  let metadata: MetadataRunner | undefined;
  let closing = false;
  let resolveManifest!: () => void;
  const manifestReady = new Promise<void>((r) => (resolveManifest = r));
  const shimDir = options.outpostCommand ? writeOutpostShim(options.outpostCommand, log) : undefined;
  const env = () => {
    const e = childEnv(baseEnv, manifest, options.url);
    const withShim = prependPath(e.PATH, shimDir);
    return withShim ? { ...e, PATH: withShim } : e;
  };
  const beforeSession = async () => {
    await manifestReady;
    // Blocking scripts hold sessions until they finish, or time out (a hung script must not lock users out).
    if (manifest?.startup_script_behavior === "blocking") await startup?.settled;
  };

  const ssh = createSshServer({
    env,
    directory: () => directory,
    sessions: stats,
    log: log.child({ component: "ssh" }),
    beforeSession,
    sftpServerPath: options.sftpServerPath,
    hostKey: generateHostKey(),
    killGraceMs: grace,
  });
  const ptys = new ReconnectingPtys({
    clock,
    log: log.child({ component: "pty" }),
    env,
    directory: () => directory,
    sessions: stats,
    beforeSession,
    idleTimeoutMs: options.terminalIdleTimeoutMs,
    maxTerminals: options.maxTerminals,
  });
  const ports = watchListeningPorts({ clock, log, intervalMs: options.portsIntervalMs, send: (p) => outbox.setPorts(p) });
  const onStream = createDispatcher({ log, sessions: stats, ssh: () => ssh, pty: ptys, ready: () => manifestReady, closing: () => closing });

  const start = (m: AgentManifest) => {
    manifest = m;
    directory = resolveDirectory(m.directory, log);
    resolveManifest();
    const logPath = options.startupLogPath === undefined ? `${os.tmpdir()}/outpost-startup.log` : (options.startupLogPath ?? undefined);
    startup = runStartupScript({
      script: m.startup_script,
      directory,
      env: env(),
      timeoutSeconds: m.startup_script_timeout_seconds,
      clock,
      log: log.child({ component: "startup-script" }),
      setLifecycle: (state) => outbox.setLifecycle(state),
      sendLogs: (source, lines) => outbox.addLogs(source, lines),
      logFile: logPath,
    });
    const items = parseMetadataItems(m.metadata, log);
    if (items.length > 0) metadata = startMetadata({ items, directory, env: env(), clock, log: log.child({ component: "metadata" }), send: (r) => outbox.setMetadata(r) });
  };

  let current: Connection | undefined;
  const onConnected = (conn: Connection) => {
    current = conn;
    outbox.attach((message) => conn.send(message));
    const m = conn.hello.manifest;
    if (!manifest) start(m);
    else if (m.agent_id !== manifest.agent_id) log.warn("the server now says this token belongs to another agent; keeping the first manifest", { agent_id: m.agent_id });
  };

  const tunnelStop = new AbortController();
  const tunnel = runTunnel({
    url: options.url,
    token: options.token,
    version: AGENT_VERSION,
    clock,
    log,
    backoff: createBackoff({ initialMs: options.backoff?.initialMs, maxMs: options.backoff?.maxMs, random: options.random }),
    onStream,
    onConnected,
    onDisconnected: () => {
      current = undefined;
      outbox.detach();
    },
    signal: tunnelStop.signal,
    draining: () => closing,
    helloTimeoutMs: options.helloTimeoutMs,
    keepalive: options.keepalive,
  });
  log.info("outpost agent started", { version: AGENT_VERSION, url: options.url, pid: process.pid });

  // Every timer of the agent is unref'd and a backoff wait has no socket open: this keeps the process
  // alive until the shutdown.
  const keepAlive = setInterval(() => {}, 1 << 30);
  await aborted(options.signal);
  closing = true;
  log.info("shutting down");
  outbox.setLifecycle("shutting_down");
  metadata?.stop();
  ports.stop();
  ssh.close();
  await Promise.all([ptys.closeAll(), startup?.stop(grace)]);
  log.debug("shutdown: terminals, sessions and scripts stopped");
  stats.stop();
  outbox.setStats(stats.snapshot());
  outbox.setLifecycle("off");
  if (!(await outbox.flush(grace, (fn, ms) => clock.setTimeout(fn, ms)))) log.warn("could not tell the server everything before shutting down");
  else log.debug("shutdown: the server was told", { connected: current !== undefined });
  if (current && !current.mux.isClosed) {
    // "Sent" is not "read": closing the mux now would make the server drop what it has not read yet
    // (the off state). End the control stream instead: the server reads up to that end, after everything
    // before it, and then closes; close ourselves only if it does not within the grace period.
    current.mux.goAway("agent shutting down");
    current.mux.control.end();
    const byServer = await Promise.race([current.closed.then(() => true), sleep(clock, grace).then(() => false)]);
    log.debug(byServer ? "shutdown: the server closed the connection" : "shutdown: the server did not close the connection in time");
  }
  tunnelStop.abort();
  await tunnel;
  clearInterval(keepAlive);
  log.info("agent stopped");
}

function aborted(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

function checkOptions(options: RunAgentOptions): void {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new Error(`the server URL ${JSON.stringify(options.url)} is not a URL (expected http(s)://host[:port])`);
  }
  if (!["http:", "https:", "ws:", "wss:"].includes(url.protocol)) throw new Error(`the server URL ${JSON.stringify(options.url)} must start with http:// or https://`);
  if (!options.token) throw new Error("the agent token is empty");
}
