// Streams the server opens on the agent, by kind: `ssh` into the SSH server, `tcp:PORT` to a port
// inside the workspace, `pty` to a reconnecting terminal. What cannot be served is rejected with a
// reason the server passes on to the user ("nothing listens on 127.0.0.1:8080").
import net from "node:net";
import type { Duplex } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseTcpKind, STREAM_KIND } from "@outpost/sdk/agent-rpc";
import type { IncomingStream, MuxStream, StreamHandler } from "@outpost/sdk/mux";
import type { AgentLogger } from "./logger.js";
import { toDuplex, type ByteCounter } from "./mux-duplex.js";
import type { SessionTracker } from "./session-tracker.js";

export interface SshHandler {
  handle(stream: Duplex): void;
}

export interface PtyHandler {
  handle(stream: MuxStream): Promise<void>;
}

export interface DispatcherOptions {
  log: AgentLogger;
  sessions: SessionTracker & ByteCounter;
  ssh: () => SshHandler;
  pty: PtyHandler;
  /** Awaited before a stream is served (the manifest must be there first). */
  ready?: () => Promise<void>;
  /** Gives up dialing a local port after this long. Default 10 s. */
  tcpConnectTimeoutMs?: number;
  /** Once true, every new stream is rejected (shutdown). */
  closing?: () => boolean;
}

export function createDispatcher(options: DispatcherOptions): StreamHandler {
  const { log, sessions } = options;
  return async (req: IncomingStream) => {
    if (options.closing?.()) return req.reject("the agent is shutting down");
    await options.ready?.();
    if (req.kind === STREAM_KIND.ssh) {
      const d = toDuplex(req.accept(), sessions);
      // A reset stream destroys the Duplex with an error: never let that be an uncaught 'error' event.
      d.on("error", (err) => log.debug("ssh stream ended with an error", { stream: req.id, error: err }));
      log.debug("ssh stream", { stream: req.id });
      options.ssh().handle(d);
      return;
    }
    if (req.kind === STREAM_KIND.pty) {
      void options.pty.handle(req.accept());
      return;
    }
    const port = parseTcpKind(req.kind);
    if (port !== undefined) return forwardTcp(req, port, options);
    log.warn("rejected a stream of unknown kind", { kind: req.kind });
    req.reject(`unknown stream kind ${JSON.stringify(req.kind)}`);
  };
}

/** Dials first, so a refused port is a rejected stream carrying the reason, not an accepted one that dies. */
async function forwardTcp(req: IncomingStream, port: number, options: DispatcherOptions): Promise<void> {
  let socket: net.Socket;
  try {
    socket = await connectLocal(port, options.tcpConnectTimeoutMs ?? 10_000);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e.code === "ECONNREFUSED" ? `nothing listens on 127.0.0.1:${port}` : `cannot connect to 127.0.0.1:${port}: ${e.message}`;
    options.log.info("rejected a port forward", { port, reason });
    return req.reject(reason);
  }
  socket.setNoDelay(true);
  const d = toDuplex(req.accept(), options.sessions);
  const end = options.sessions.open("tcp");
  options.log.debug("port forward", { stream: req.id, port });
  // Both directions end on their own (half-close); an error in either destroys both.
  await Promise.all([pipeline(d, socket), pipeline(socket, d)]).catch((err: Error) => {
    socket.destroy();
    d.destroy();
    options.log.debug("port forward ended with an error", { port, error: err });
  });
  end();
}

function connectLocal(port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: "ETIMEDOUT" }));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
