// Reconnecting terminals with real node-pty over a real mux pair: spawn, input, detach, reattach with
// scrollback, several attachments, resize (checked with `stty size`), exit, idle kill, limits.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { encodeNdjson, type PtyInit, type PtyInput } from "@outpost/sdk/agent-rpc";
import type { MuxStream } from "@outpost/sdk/mux";
import { systemClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { ReconnectingPtys, type ReconnectingPtyOptions } from "../../src/reconnecting-pty.js";
import { createDispatcher } from "../../src/stream-dispatcher.js";
import { StatsTracker } from "../../src/stats.js";
import { muxPair } from "../helpers/mux-pair.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "outpost-pty-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(overrides: Partial<ReconnectingPtyOptions> = {}) {
  const stats = new StatsTracker({ clock: systemClock, send: () => {} });
  const ptys = new ReconnectingPtys({
    clock: systemClock,
    log: silentLogger,
    env: () => ({ PATH: "/usr/bin:/bin", HOME: dir, PS1: "$ " }),
    directory: () => dir,
    sessions: stats,
    shell: "/bin/sh",
    ...overrides,
  });
  const pair = muxPair(createDispatcher({ log: silentLogger, sessions: stats, ssh: () => ({ handle: () => {} }), pty: ptys }));
  cleanups.push(async () => {
    await ptys.closeAll();
    stats.stop();
    pair.close();
  });
  return { ptys, stats, server: pair.server };
}

interface Client {
  stream: MuxStream;
  text(): string;
  send(input: PtyInput): Promise<void>;
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
  ended: Promise<void>;
}

async function attach(server: import("@outpost/sdk/mux").Mux, init: PtyInit): Promise<Client> {
  const stream = await server.open("pty");
  await stream.write(encodeNdjson(init));
  let out = "";
  const decoder = new TextDecoder();
  const ended = (async () => {
    try {
      for await (const chunk of stream) out += decoder.decode(chunk, { stream: true });
    } catch {
      // reset
    }
  })();
  return {
    stream,
    text: () => out,
    send: (input) => stream.write(encodeNdjson(input)),
    async waitFor(pattern, ms = 5000) {
      const end = Date.now() + ms;
      while (!pattern.test(out)) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${pattern} in ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return out;
    },
    ended,
  };
}

describe("reconnecting terminals", () => {
  it("runs a shell, takes input, and replays the scrollback to a client that reattaches", async () => {
    const { server, ptys, stats } = setup();
    const id = randomUUID();
    const a = await attach(server, { id, width: 80, height: 24 });
    await a.send({ data: "echo hi-$((40 + 2))\n" });
    await a.waitFor(/hi-42/);
    expect(stats.snapshot().sessions.pty).toBe(1);
    a.stream.end(); // detach
    await a.ended;
    await waitUntil(() => stats.snapshot().sessions.pty === 0);
    expect(ptys.size).toBe(1); // the terminal lives on

    const b = await attach(server, { id, width: 80, height: 24 });
    await b.waitFor(/hi-42/); // from the scrollback
    expect(b.text()).toContain("echo hi-$((40 + 2))");
    await b.send({ data: "echo again-$((1 + 1))\n" });
    await b.waitFor(/again-2/);
    expect(stats.snapshot().rx_bytes).toBeGreaterThan(0);
    expect(stats.snapshot().tx_bytes).toBeGreaterThan(0);
  });

  it("resizes the terminal (stty size), on input and on reattach", async () => {
    const { server } = setup();
    const id = randomUUID();
    const a = await attach(server, { id, width: 100, height: 30 });
    await a.send({ data: "stty size\n" });
    await a.waitFor(/(^|\s)30 100\r?\n/);
    await a.send({ width: 120, height: 40 });
    await a.send({ data: "stty size\n" });
    await a.waitFor(/(^|\s)40 120\r?\n/);
    await a.send({ height: 41 });
    await a.send({ data: "stty size\n" });
    await a.waitFor(/(^|\s)41 120\r?\n/);
    a.stream.end();
    await a.ended;
    const b = await attach(server, { id, width: 90, height: 20 });
    await b.send({ data: "stty size\n" });
    await b.waitFor(/(^|\s)20 90\r?\n/);
  });

  it("sends output to every attached client; the process exiting ends them all", async () => {
    const { server, ptys } = setup();
    const id = randomUUID();
    const a = await attach(server, { id, width: 80, height: 24 });
    const b = await attach(server, { id, width: 80, height: 24 });
    await a.send({ data: "echo both-$((3 * 3))\n" });
    await a.waitFor(/both-9/);
    await b.waitFor(/both-9/);
    await b.send({ data: "exit\n" });
    await Promise.all([a.ended, b.ended]);
    await waitUntil(() => ptys.size === 0);
    // A new attach with the same id starts a fresh terminal.
    const c = await attach(server, { id, width: 80, height: 24 });
    await c.send({ data: "echo fresh\n" });
    await c.waitFor(/fresh/);
    expect(c.text()).not.toContain("both-9");
  });

  it("runs `command` instead of the shell, and ends the stream when it exits", async () => {
    const { server } = setup();
    const a = await attach(server, { id: randomUUID(), width: 80, height: 24, command: "echo from-command; echo $TERM" });
    await a.ended;
    expect(a.text()).toMatch(/from-command\r?\nxterm-256color/);
  });

  it("kills a terminal nobody attached to for the idle timeout", async () => {
    const { server, ptys } = setup({ idleTimeoutMs: 300 });
    const a = await attach(server, { id: randomUUID(), width: 80, height: 24 });
    await a.send({ data: "echo up\n" });
    await a.waitFor(/up/);
    a.stream.end();
    await a.ended;
    expect(ptys.size).toBe(1);
    await waitUntil(() => ptys.size === 0, 3000);
  });

  it("refuses a terminal over the limit with the reason, still reattaches to existing ones", async () => {
    const { server } = setup({ maxTerminals: 1 });
    const id = randomUUID();
    const a = await attach(server, { id, width: 80, height: 24 });
    await a.send({ data: "echo one\n" });
    await a.waitFor(/one/);
    const b = await attach(server, { id: randomUUID(), width: 80, height: 24 });
    await b.ended;
    expect(b.text()).toMatch(/too many terminals: 1 are open/);
    const c = await attach(server, { id, width: 80, height: 24 });
    await c.waitFor(/one/);
  });

  it("resets a stream whose first line is not a PtyInit, naming the field", async () => {
    const { server } = setup();
    const stream = await server.open("pty");
    await stream.write(encodeNdjson({ id: "not-a-uuid", width: 80, height: 24 }));
    await expect(stream.read()).rejects.toThrow(/invalid terminal init: id: must be a UUID|invalid terminal init: id/);
  });
});

async function waitUntil(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
