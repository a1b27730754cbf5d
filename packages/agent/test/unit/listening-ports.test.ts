// The /proc/net/tcp parser on real kernel output: a socket this test opens must show up with its port
// and inode, and the inode must lead back to this process's name.
import { readFileSync } from "node:fs";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { ListeningPort } from "@outpost/sdk/agents";
import { systemClock } from "../../src/clock.js";
import { parseProcNetTcp, processNames, readListeners, uniquePorts, watchListeningPorts } from "../../src/listening-ports.js";
import { silentLogger } from "../../src/logger.js";

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function listen(host: string): Promise<number> {
  const server = net.createServer();
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
  });
}

const myComm = readFileSync("/proc/self/comm", "utf8").trim();

describe("listening ports from /proc/net/tcp", () => {
  it("finds a socket this test listens on, with an inode that leads to this process", async () => {
    const port = await listen("127.0.0.1");
    const text = readFileSync("/proc/net/tcp", "utf8");
    const found = parseProcNetTcp(text).filter((l) => l.port === port);
    expect(found).toHaveLength(1);
    expect(found[0]!.inode).toMatch(/^[1-9]\d*$/);
    const names = await processNames(new Set([found[0]!.inode]));
    expect(names.get(found[0]!.inode)).toBe(myComm);
  });

  it("lists only LISTEN sockets: a connected client's socket is not a listener", async () => {
    const port = await listen("127.0.0.1");
    const client = net.connect(port, "127.0.0.1");
    await new Promise((r) => client.once("connect", r));
    const local = client.localPort!;
    const listeners = await readListeners();
    client.destroy();
    expect(uniquePorts(listeners)).toContain(port);
    expect(uniquePorts(listeners)).not.toContain(local);
  });

  it("reads tcp6 listeners too (a dual-stack :: socket lands in /proc/net/tcp6)", async () => {
    let port: number;
    try {
      port = await listen("::");
    } catch {
      return; // no IPv6 in this kernel: nothing to read
    }
    expect(parseProcNetTcp(readFileSync("/proc/net/tcp6", "utf8")).map((l) => l.port)).toContain(port);
    expect(uniquePorts(await readListeners())).toContain(port);
  });

  it("parses the kernel's format: hex ports, state 0A only, unique sorted ports", () => {
    const text = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0",
      "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17 1 0000000000000000 100 0 0 10 0",
      "   2: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 999 1 0000000000000000 20 4 30 10 -1",
      "   3: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 1000 0 4343 1",
      "",
    ].join("\n");
    const l = parseProcNetTcp(text);
    expect(l).toEqual([
      { port: 8080, inode: "4242" },
      { port: 22, inode: "17" },
      { port: 8080, inode: "4343" },
    ]);
    expect(uniquePorts(l)).toEqual([22, 8080]);
    expect(parseProcNetTcp("header only\n")).toEqual([]);
  });

  it("the watcher reports when the set changes: a port that opens, then closes", async () => {
    const seen: ListeningPort[][] = [];
    const w = watchListeningPorts({ clock: systemClock, log: silentLogger, intervalMs: 30, send: (p) => seen.push(p) });
    try {
      await waitFor(() => seen.length >= 1);
      const port = await listen("127.0.0.1");
      await waitFor(() => seen.at(-1)!.some((p) => p.port === port));
      expect(seen.at(-1)!.find((p) => p.port === port)).toEqual({ port, network: "tcp", process_name: myComm });
      const reports = seen.length;
      await new Promise((r) => setTimeout(r, 150));
      expect(seen.length).toBe(reports); // nothing changed: nothing sent
      await new Promise((r) => servers.pop()!.close(r));
      await waitFor(() => !seen.at(-1)!.some((p) => p.port === port));
    } finally {
      w.stop();
    }
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}
