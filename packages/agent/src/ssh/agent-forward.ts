// ssh-agent forwarding (`ssh -A`): a unix socket in a private directory (0700) becomes SSH_AUTH_SOCK
// for the connection's sessions; each connection to it opens an `auth-agent@openssh.com` channel back
// to the client, which relays to the user's local agent. ssh2's server side parses the request but has
// no method to open that channel, so it is opened here the way ssh2 opens its other server-initiated
// channels (the connection's channel manager and protocol writer).
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Connection, ServerChannel } from "ssh2";

/** ssh2's own channel defaults (lib/Channel.js): 2 MiB window, 32 KiB packets. */
const WINDOW = 2 * 1024 * 1024;
const PACKET = 32 * 1024;

interface Ssh2Internals {
  _chanMgr: { add(handler: unknown): number };
  _protocol: { openssh_authAgent(localChan: number, window: number, packetSize: number): void };
}

function openAuthAgentChannel(conn: Connection, cb: (err: Error | undefined, channel?: ServerChannel) => void): void {
  const internals = conn as unknown as Ssh2Internals;
  if (typeof internals._protocol?.openssh_authAgent !== "function" || typeof internals._chanMgr?.add !== "function") {
    cb(new Error("this ssh2 version cannot open auth-agent channels"));
    return;
  }
  // ssh2 calls the handler with (err) on CHANNEL_OPEN_FAILURE, (undefined, channel) on confirmation.
  const handler = Object.assign((err: Error | undefined, channel?: ServerChannel) => cb(err, channel), {
    type: "auth-agent@openssh.com",
  });
  const localChan = internals._chanMgr.add(handler);
  if (localChan === -1) {
    cb(new Error("no free channels"));
    return;
  }
  internals._protocol.openssh_authAgent(localChan, WINDOW, PACKET);
}

export interface AgentSocket {
  readonly path: string;
  close(): Promise<void>;
}

export async function createAgentSocket(conn: Connection, onError: (message: string, err: unknown) => void): Promise<AgentSocket> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "outpost-ssh-agent-")); // mode 0700
  const socketPath = path.join(dir, "agent.sock");
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.pause(); // hold the request until the channel to the client's agent is open
    openAuthAgentChannel(conn, (err, channel) => {
      if (err || !channel) {
        onError("agent forwarding: the client refused the agent channel", err);
        socket.destroy();
        return;
      }
      if (socket.destroyed) {
        channel.close();
        return;
      }
      socket.pipe(channel).pipe(socket);
      channel.once("close", () => socket.destroy());
      socket.once("close", () => channel.close());
      socket.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => onError("agent forwarding socket error", err));
  return {
    path: socketPath,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
