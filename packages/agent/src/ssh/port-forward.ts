// Port forwarding. `ssh -L` (direct-tcpip, direct-streamlocal): the agent connects to the host:port
// (or unix socket) the client names inside the workspace and pipes it to the channel, or rejects the
// channel with the connect error as its description. `ssh -R` (tcpip-forward): the agent listens inside
// the workspace (loopback unless the client names an address) and opens a forwarded-tcpip channel to
// the client for each connection. Everything is closed when the SSH connection ends.
import net from "node:net";
import type { Duplex } from "node:stream";
import type { AcceptConnection, Connection, RejectConnection, ServerChannel, TcpipBindInfo } from "ssh2";

interface Ssh2Protocol {
  _protocol?: { channelOpenFail?: (id: number, reason: number, description: string) => void };
}

/**
 * ssh2's reject() always sends an empty description; the OpenSSH client prints it ("open failed:
 * connect failed: <description>"), so the connect error is slipped in for that one call.
 */
export function rejectWithReason(conn: Connection, reject: RejectConnection, description: string): void {
  const protocol = (conn as unknown as Ssh2Protocol)._protocol;
  const original = protocol?.channelOpenFail;
  if (!protocol || typeof original !== "function") {
    reject();
    return;
  }
  protocol.channelOpenFail = (id, reason) => original.call(protocol, id, reason, description);
  try {
    reject();
  } finally {
    protocol.channelOpenFail = original;
  }
}

/** Pipes a channel and a socket both ways; each side's end or close ends the other. */
export function splice(channel: ServerChannel, socket: Duplex, touch: () => void): void {
  socket.pipe(channel).pipe(socket);
  channel.on("data", touch);
  socket.on("data", touch);
  socket.on("error", () => socket.destroy());
  socket.once("close", () => channel.close());
  channel.once("close", () => socket.destroy());
}

export interface ForwardContext {
  conn: Connection;
  touch: () => void;
  /** Registers an open resource with the connection; returns the function that unregisters it. */
  track: (close: () => void) => () => void;
}

/** `ssh -L`: connect first, accept the channel only once the target answered. */
export function directConnect(
  ctx: ForwardContext,
  accept: AcceptConnection<ServerChannel>,
  reject: RejectConnection,
  target: net.NetConnectOpts,
  label: string,
): void {
  const socket = net.connect(target);
  const untrack = ctx.track(() => socket.destroy());
  socket.once("close", untrack);
  const onError = (err: Error) => rejectWithReason(ctx.conn, reject, `${label}: ${err.message}`);
  socket.once("error", onError);
  socket.once("connect", () => {
    socket.off("error", onError);
    socket.setNoDelay?.(true);
    splice(accept(), socket, ctx.touch);
  });
}

/** Bind addresses as OpenSSH's sshd treats them: empty or "localhost" means loopback. */
export function bindHost(requested: string): string {
  if (requested === "" || requested === "localhost") return "127.0.0.1";
  if (requested === "*") return "0.0.0.0";
  return requested;
}

/** The `ssh -R` listeners of one connection. */
export class RemoteForwards {
  private readonly listeners = new Map<string, net.Server>();

  constructor(private readonly ctx: ForwardContext) {}

  private static key(info: TcpipBindInfo, port: number): string {
    return `${info.bindAddr}\0${port}`;
  }

  listen(info: TcpipBindInfo, done: (port: number | undefined, err?: Error) => void): void {
    const { conn } = this.ctx;
    const server = net.createServer((socket) => {
      const untrack = this.ctx.track(() => socket.destroy());
      socket.once("close", untrack);
      socket.on("error", () => socket.destroy());
      socket.pause();
      const remoteAddr = socket.remoteAddress ?? "127.0.0.1";
      const remotePort = socket.remotePort ?? 0;
      conn.forwardOut(info.bindAddr, port, remoteAddr, remotePort, (err, channel) => {
        if (err) {
          socket.destroy();
          return;
        }
        if (socket.destroyed) {
          channel.close();
          return;
        }
        socket.setNoDelay(true);
        splice(channel, socket, this.ctx.touch);
        socket.resume();
      });
    });
    let port = info.bindPort;
    server.once("error", (err) => done(undefined, err));
    server.listen(info.bindPort, bindHost(info.bindAddr), () => {
      server.removeAllListeners("error");
      server.on("error", () => {});
      port = (server.address() as net.AddressInfo).port;
      this.listeners.set(RemoteForwards.key(info, port), server);
      if (info.bindPort === 0) this.listeners.set(RemoteForwards.key(info, 0), server);
      done(port);
    });
  }

  cancel(info: TcpipBindInfo): boolean {
    const server = this.listeners.get(RemoteForwards.key(info, info.bindPort));
    if (!server) return false;
    for (const [key, value] of this.listeners) if (value === server) this.listeners.delete(key);
    server.close();
    return true;
  }

  closeAll(): void {
    for (const server of new Set(this.listeners.values())) server.close();
    this.listeners.clear();
  }
}
