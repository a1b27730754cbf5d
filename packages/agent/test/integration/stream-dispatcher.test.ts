// Streams the server opens on the agent, over a real mux pair: tcp:PORT to a real local server (bytes
// both ways, half-close, session counted), a closed port rejected with the reason, unknown kinds.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { MuxError } from "@outpost/sdk/mux";
import { systemClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { createDispatcher } from "../../src/stream-dispatcher.js";
import { StatsTracker } from "../../src/stats.js";
import { muxPair } from "../helpers/mux-pair.js";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(closing = false) {
  const stats = new StatsTracker({ clock: systemClock, send: () => {} });
  const ssh: import("node:stream").Duplex[] = [];
  const pair = muxPair(
    createDispatcher({ log: silentLogger, sessions: stats, ssh: () => ({ handle: (d) => void ssh.push(d.on("error", () => {})) }), pty: { handle: async () => {} }, closing: () => closing }),
  );
  cleanups.push(() => {
    stats.stop();
    pair.close();
  });
  return { server: pair.server, stats, ssh };
}

/** A TCP server on 127.0.0.1 that upper-cases what it reads and ends after the client ended. */
async function upperServer(): Promise<number> {
  const srv = net.createServer({ allowHalfOpen: true }, (sock) => {
    sock.on("data", (d) => sock.write(d.toString().toUpperCase()));
    sock.on("end", () => sock.end("<bye>"));
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
  return (srv.address() as net.AddressInfo).port;
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function readAll(s: import("@outpost/sdk/mux").MuxStream): Promise<string> {
  let out = "";
  for await (const c of s) out += new TextDecoder().decode(c);
  return out;
}

describe("stream dispatcher", () => {
  it("tcp:PORT carries bytes both ways to 127.0.0.1:PORT, half-closes, and counts a tcp session", async () => {
    const { server, stats } = setup();
    const port = await upperServer();
    const s = await server.open(`tcp:${port}`);
    await s.write(new TextEncoder().encode("hello "));
    await s.write(new TextEncoder().encode("world"));
    await waitUntil(() => stats.snapshot().sessions.tcp === 1);
    s.end(); // our FIN reaches the server as a TCP half-close; it answers, then ends
    expect(await readAll(s)).toBe("HELLO WORLD<bye>");
    await s.closed;
    await waitUntil(() => stats.snapshot().sessions.tcp === 0);
    expect(stats.snapshot()).toMatchObject({ rx_bytes: 11, tx_bytes: 16 });
    expect(stats.snapshot().last_activity_at).not.toBeNull();
  });

  it("rejects tcp:PORT with 'nothing listens on 127.0.0.1:PORT' when the port is closed", async () => {
    const { server, stats } = setup();
    const port = await closedPort();
    const err = await server.open(`tcp:${port}`).catch((e: MuxError) => e);
    expect(err).toBeInstanceOf(MuxError);
    expect(err).toMatchObject({ code: "REJECTED" });
    expect((err as Error).message).toContain(`nothing listens on 127.0.0.1:${port}`);
    expect(stats.snapshot().sessions.tcp).toBe(0);
    expect(server.openStreams).toBe(0);
  });

  it("rejects unknown kinds and bad ports, and everything while shutting down", async () => {
    const { server } = setup();
    await expect(server.open("telnet")).rejects.toThrow(/unknown stream kind "telnet"/);
    await expect(server.open("tcp:0")).rejects.toThrow(/unknown stream kind "tcp:0"/);
    await expect(server.open("tcp:70000")).rejects.toThrow(/unknown stream kind/);
    const closing = setup(true);
    await expect(closing.server.open("ssh")).rejects.toThrow(/shutting down/);
  });

  it("ssh streams go to the SSH server as Duplex streams (bytes counted)", async () => {
    const { server, ssh, stats } = setup();
    const s = await server.open("ssh");
    await waitUntil(() => ssh.length === 1);
    const d = ssh[0]!;
    d.write("SSH-2.0-test\r\n");
    const chunk = await s.read();
    expect(new TextDecoder().decode(chunk!)).toBe("SSH-2.0-test\r\n");
    await s.write(new TextEncoder().encode("abc"));
    const got = await new Promise<Buffer>((r) => d.once("data", r));
    expect(got.toString()).toBe("abc");
    expect(stats.snapshot()).toMatchObject({ rx_bytes: 3, tx_bytes: 14 });
  });
});

async function waitUntil(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}
