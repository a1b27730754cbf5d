// The workspace agent's SSH server (ssh2), fed one Duplex per SSH connection: a mux stream from the
// tunnel in the agent, a TCP socket in tests. The tunnel is authenticated by the Outpost server (only
// the workspace owner reaches the stream), so every authentication method is accepted for any user
// name. Sessions run as the agent's own user (see session.ts); port and agent forwarding in
// port-forward.ts and agent-forward.ts. Each connection counts as one "ssh" session for the tracker,
// from the stream's arrival until everything it started is gone.
import { accessSync, constants as fsConstants } from "node:fs";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import ssh2, { type Connection } from "ssh2";
import { generateHostKey } from "../host-key.js";
import type { SessionTracker } from "../session-tracker.js";
import { type AgentSocket, createAgentSocket } from "./agent-forward.js";
import { isOpenSshClient, readClientIdent } from "./client-ident.js";
import { currentAccount } from "./login-env.js";
import { directConnect, type ForwardContext, RemoteForwards } from "./port-forward.js";
import { handleSession, type Logger, type SessionContext, type SftpMode } from "./session.js";

export interface SshServerOptions {
  /** Environment for sessions on top of the agent's own (manifest env, OUTPOST_* vars). Called per session. */
  env: () => Record<string, string>;
  /**
   * The agent's own environment, the base of every session's (main.ts passes `process.env`: only entry
   * points read it). Default: none, so sessions get the login variables, PATH and `env()` only.
   */
  agentEnv?: () => Record<string, string | undefined>;
  /** Directory sessions start in (the agent's dir; home when empty). Called per session. */
  directory: () => string;
  /** open("ssh") per SSH connection, activity() (at most once a second) while data flows. */
  sessions: SessionTracker;
  log: Logger;
  /** Resolves when sessions may start (a blocking startup script); sessions wait for it. */
  beforeSession?: () => Promise<void>;
  /** sftp-server binary to run for the sftp subsystem; undefined = search the usual paths; null = always the built-in one. */
  sftpServerPath?: string | null;
  /** Host key (OpenSSH or PEM private key); default: a fresh ed25519 key per process. */
  hostKey?: string;
  /** How long hung-up session processes get before SIGKILL (default 2000 ms). */
  killGraceMs?: number;
}

export interface SshServer {
  /** Serves one SSH connection over `stream` (TCP socket, mux stream adapted to a Duplex...). */
  handle(stream: Duplex): void;
  /** Ends every connection (their processes are hung up) and refuses new ones. */
  close(): void;
  /** Connections whose stream is open or whose processes are still being ended. */
  readonly connections: number;
}

/** Where distributions install OpenSSH's sftp-server. */
export const SFTP_SERVER_PATHS = ["/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/lib/sftp-server", "/usr/libexec/sftp-server"];

export function findSftpServer(candidates: readonly string[] = SFTP_SERVER_PATHS): string | undefined {
  return candidates.find((p) => {
    try {
      accessSync(p, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Ciphers for clients other than OpenSSH (see client-ident.ts), AES-GCM first. */
const ALL_CIPHERS = [
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "chacha20-poly1305@openssh.com",
  "aes128-ctr",
  "aes192-ctr",
  "aes256-ctr",
] as const;
const GCM_CIPHERS = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"] as const;
const IDENT_TIMEOUT_MS = 300;
/** A stream that has not completed the SSH handshake and authentication by then is dropped. */
const HANDSHAKE_TIMEOUT_MS = 60_000;
const ACTIVITY_INTERVAL_MS = 1000;

export function createSshServer(opts: SshServerOptions): SshServer {
  const hostKey = opts.hostKey ?? generateHostKey();
  const graceMs = opts.killGraceMs ?? 2000;
  let sftpMode: SftpMode | undefined;
  const resolveSftp = (): SftpMode => {
    if (!sftpMode) {
      const binary = opts.sftpServerPath === null ? undefined : (opts.sftpServerPath ?? findSftpServer());
      sftpMode = binary ? { kind: "binary", path: binary } : { kind: "builtin" };
    }
    return sftpMode;
  };
  const makeServer = (ciphers: readonly string[]) =>
    new ssh2.Server({
      hostKeys: [hostKey],
      ident: "OutpostAgent",
      algorithms: { cipher: [...ciphers] as ssh2.CipherAlgorithm[], serverHostKey: ["ssh-ed25519"] },
      // A client that vanished without closing (the tunnel kept the stream open) is dropped after ~2 min.
      keepaliveInterval: 30_000,
      keepaliveCountMax: 4,
    });
  const servers = { openssh: makeServer(GCM_CIPHERS), other: makeServer(ALL_CIPHERS) };

  /** Open streams and how to end each (destroy it; end the SSH connection once there is one). */
  const live = new Map<Duplex, () => void>();
  let connections = 0;
  let closed = false;

  /** Runs one SSH connection; `done` is called once everything it started has been ended. */
  const serve = (stream: Duplex, client: Connection, done: () => void) => {
    const resources = new Set<() => Promise<void> | void>();
    const release = opts.sessions.open("ssh");
    let lastActivity = 0;
    const touch = () => {
      const now = Date.now();
      if (now - lastActivity >= ACTIVITY_INTERVAL_MS) {
        lastActivity = now;
        opts.sessions.activity();
      }
    };
    let finished = false;
    const track = (close: () => Promise<void> | void) => {
      if (finished) {
        // Registered after the connection ended (a session that waited for the startup gate): end it now.
        void close();
        return () => {};
      }
      resources.add(close);
      return () => void resources.delete(close);
    };
    let agentSocket: Promise<AgentSocket | undefined> | undefined;
    const ctxForward: ForwardContext = { conn: client, touch, track };
    const remoteForwards = new RemoteForwards(ctxForward);
    const sock = stream as Duplex & { remoteAddress?: string; remotePort?: number; localAddress?: string; localPort?: number };

    const finish = () => {
      if (finished) return;
      finished = true;
      live.delete(stream);
      remoteForwards.closeAll();
      const closing = [...resources].map(async (close) => close());
      resources.clear();
      if (agentSocket) closing.push(agentSocket.then((s) => s?.close()));
      void Promise.allSettled(closing).then(() => {
        release();
        done();
      });
    };
    live.set(stream, () => {
      client.end();
      stream.destroy();
    });
    client.once("close", finish);
    stream.once("close", finish);
    client.on("error", (err: Error & { level?: string }) => {
      // Socket errors are the client going away; protocol errors are worth a line.
      if (err.level !== "socket") opts.log.warn("ssh: connection error", { err: err.message, level: err.level });
    });

    client.on("authentication", (ctx) => ctx.accept());
    client.on("ready", () => {
      const sessionCtx: SessionContext = {
        account: currentAccount(),
        agentEnv: opts.agentEnv?.() ?? {},
        env: opts.env,
        directory: opts.directory,
        beforeSession: opts.beforeSession,
        sftp: resolveSftp(),
        connection: {
          clientAddress: sock.remoteAddress ?? "127.0.0.1",
          clientPort: sock.remotePort ?? 0,
          serverAddress: sock.localAddress ?? "127.0.0.1",
          serverPort: sock.localPort ?? 22,
        },
        log: opts.log,
        graceMs,
        touch,
        track,
        agentSocket: () =>
          (agentSocket ??= createAgentSocket(client, (message, err) => opts.log.warn(`ssh: ${message}`, { err: String(err) })).catch((err: unknown) => {
            opts.log.warn("ssh: agent forwarding socket failed", { err: String(err) });
            return undefined;
          })),
      };
      client.on("session", (accept) => handleSession(sessionCtx, accept));
      client.on("tcpip", (accept, reject, info) => directConnect(ctxForward, accept, reject, { host: info.destIP, port: info.destPort }, `${info.destIP}:${info.destPort}`));
      client.on("openssh.streamlocal", (accept, reject, info) => directConnect(ctxForward, accept, reject, { path: info.socketPath }, info.socketPath));
      client.on("request", (accept, reject, name, info) => {
        if (name === "tcpip-forward") {
          const bind = info as ssh2.TcpipBindInfo;
          remoteForwards.listen(bind, (port, err) => {
            if (port === undefined) {
              opts.log.info("ssh: remote forward refused", { bind: `${bind.bindAddr}:${bind.bindPort}`, err: err?.message });
              reject?.();
            } else accept?.(port);
          });
        } else if (name === "cancel-tcpip-forward") {
          if (remoteForwards.cancel(info as ssh2.TcpipBindInfo)) accept?.();
          else reject?.();
        } else {
          reject?.(); // streamlocal-forward (ssh -R with a unix socket) is not offered
        }
      });
    });
  };

  const inject = (stream: Duplex, ident: string | undefined, onServe: (client: Connection) => void) => {
    const server = isOpenSshClient(ident) ? servers.openssh : servers.other;
    const onConnection = (client: Connection) => {
      if ((client as unknown as { _sock?: unknown })._sock !== stream) return;
      server.off("connection", onConnection);
      onServe(client);
    };
    // ssh2 announces the connection once the client's identification is parsed (at once: it is buffered).
    server.on("connection", onConnection);
    stream.once("close", () => server.off("connection", onConnection));
    server.injectSocket(stream as unknown as Socket);
  };

  return {
    handle(stream) {
      if (closed) {
        stream.destroy();
        return;
      }
      connections++;
      let served = false;
      let counted = true;
      const done = () => {
        if (counted) {
          counted = false;
          connections--;
        }
      };
      live.set(stream, () => stream.destroy());
      const handshake = setTimeout(() => {
        opts.log.info("ssh: no SSH handshake in time, dropping the stream");
        stream.destroy();
      }, HANDSHAKE_TIMEOUT_MS);
      handshake.unref();
      stream.once("close", () => {
        clearTimeout(handshake);
        if (!served) {
          live.delete(stream);
          done();
        }
      });
      (stream as Duplex & { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
      stream.on("error", (err) => opts.log.info("ssh: stream error", { err: err.message }));
      // SSH has no half-closed transport. A generic Duplex (a mux stream) allows half-open and would
      // stay open after the client's side ended: end ours too (as a net.Socket does by default), and
      // destroy it if the peer does not take the last bytes.
      stream.once("end", () => {
        if (!stream.writableEnded) stream.end();
        setTimeout(() => stream.destroy(), 5000).unref();
      });
      void readClientIdent(stream, IDENT_TIMEOUT_MS).then((ident) => {
        if (stream.destroyed) return;
        inject(stream, ident, (client) => {
          served = true;
          client.once("ready", () => clearTimeout(handshake));
          serve(stream, client, done);
        });
      });
    },
    close() {
      closed = true;
      for (const end of [...live.values()]) end();
    },
    get connections() {
      return connections;
    },
  };
}
