import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AgentLogsResponse, WorkspaceAgent } from "@outpost/sdk/agents";
import { printAgentLogs } from "../../src/agent-logs.js";
import { sshArgs } from "../../src/commands/ssh.js";
import { parseTcpForwards } from "../../src/commands/port-forward.js";
import { progress } from "../../src/progress.js";
import { encodeFrame, frameHeader } from "../../src/ws-client.js";
import { ResponseParser } from "../../src/ws-http.js";
import { fakeContext } from "../helpers/fake-context.js";

describe("sshArgs", () => {
  it("gives OpenSSH an absolute ProxyCommand, quoted for the shell, with % escaped", () => {
    const args = sshArgs({ node: "/usr/bin/node", script: "/opt/outpost/dist/outpost.js" }, "outpost.dev.main", { command: ["echo", "ok"] });
    expect(args).toEqual([
      "-o", "ProxyCommand=/usr/bin/node /opt/outpost/dist/outpost.js ssh --stdio %h",
      "-o", "StrictHostKeyChecking=no",
      "-o", "UserKnownHostsFile=/dev/null",
      "-o", "LogLevel=ERROR",
      "outpost.dev.main", "echo", "ok",
    ]);
    const odd = sshArgs({ node: "/opt/my node/node", script: "/home/a'b/100%/outpost.js" }, "outpost.dev", { forwardAgent: true, local: ["8080:localhost:80"], remote: ["9000:localhost:9000"], tty: true, command: [] });
    expect(odd[1]).toBe(`ProxyCommand='/opt/my node/node' '/home/a'\\''b/100%%/outpost.js' ssh --stdio %h`);
    expect(odd.slice(8)).toEqual(["-A", "-L", "8080:localhost:80", "-R", "9000:localhost:9000", "-t", "outpost.dev"]);
  });
});

describe("parseTcpForwards", () => {
  it("reads LOCAL:REMOTE and PORT", () => {
    expect(parseTcpForwards(["8080", "3000:80", "65535:1"])).toEqual([{ local: 8080, remote: 8080 }, { local: 3000, remote: 80 }, { local: 65535, remote: 1 }]);
  });
});

describe("progress", () => {
  it("animates one status line on a terminal and prints one line per stage elsewhere", () => {
    const plain = fakeContext();
    const p = progress(plain.io);
    p.stage("waiting for the build");
    p.stage("waiting for the build");
    p.stage("waiting for agent main to connect");
    p.note("warning: x");
    p.stop();
    expect(plain.stderr).toEqual(["… waiting for the build", "… waiting for agent main to connect", "warning: x"]);

    const drawn: string[] = [];
    let tick: (() => void) | undefined;
    const tty = { err: (t: string) => drawn.push(`line:${t}`), status: (t: string) => drawn.push(`status:${t}`) };
    const timers = { setInterval: ((fn: () => void) => ((tick = fn), 1)) as unknown as typeof setInterval, clearInterval: (() => (tick = undefined)) as typeof clearInterval };
    const q = progress(tty, timers);
    q.stage("startup script running");
    tick!();
    q.note("warning: y");
    q.stop();
    expect(drawn).toEqual(["status:⠋ startup script running", "status:⠙ startup script running", "status:", "line:warning: y", "status:⠹ startup script running", "status:"]);
    expect(tick).toBeUndefined();
  });
});

const agent = (lifecycle: WorkspaceAgent["lifecycle_state"]): WorkspaceAgent => ({ name: "main", status: "connected", lifecycle_state: lifecycle }) as WorkspaceAgent;

describe("printAgentLogs", () => {
  it("pages, long-polls while the startup runs, and reads once more (without waiting) once it is over", async () => {
    const replies: AgentLogsResponse[] = [
      { logs: [{ id: 1, created_at: "", level: "info", source: "startup_script", output: "a" }], agent: agent("starting") },
      { logs: [], agent: agent("starting") },
      { logs: [{ id: 2, created_at: "", level: "info", source: "agent", output: "b" }], agent: agent("ready") },
      { logs: [], agent: agent("ready") },
      { logs: [], agent: agent("ready") },
    ];
    const calls: [number, number][] = [];
    const ctx = fakeContext();
    const last = await printAgentLogs(ctx, "main", async (after, wait) => (calls.push([after, wait]), replies.shift()!), { follow: true, waitSeconds: 9 });
    expect(last.lifecycle_state).toBe("ready");
    expect(ctx.stdout).toEqual(["startup (main) | a", "agent (main) | b"]);
    expect(calls).toEqual([[0, 0], [1, 9], [1, 9], [2, 0], [2, 0]]);
    expect(replies).toEqual([]);
  });

  it("without follow, prints what is there and returns", async () => {
    const ctx = fakeContext();
    const calls: number[] = [];
    await printAgentLogs(ctx, "x", async (_after, wait) => (calls.push(wait), { logs: [], agent: agent("starting") }), { follow: false });
    expect(calls).toEqual([0]);
  });
});

/** Decodes one client frame the way a server does: header, mask, payload. */
function decode(frame: Buffer): { opcode: number; payload: Buffer } {
  let len = frame[1]! & 0x7f;
  let o = 2;
  if (len === 126) (len = frame.readUInt16BE(2)), (o = 4);
  else if (len === 127) (len = Number(frame.readBigUInt64BE(2))), (o = 10);
  const mask = frame.subarray(o, o + 4);
  const payload = Buffer.from(frame.subarray(o + 4, o + 4 + len));
  for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
  expect(frame[1]! & 0x80).toBe(0x80);
  expect(o + 4 + len).toBe(frame.length);
  return { opcode: frame[0]! & 0x0f, payload };
}

describe("ws frames and the upgrade answer", () => {
  it("encodes masked frames that decode to the payload, at any length and offset", () => {
    fc.assert(
      // Lengths around each header size (7-bit, 16-bit, 64-bit), and any.
      fc.property(
        fc.oneof(fc.constantFrom(0, 1, 3, 125, 126, 127, 65_535, 65_536, 70_001), fc.nat(70_000)).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
        fc.nat(7),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (bytes, offset, mask) => {
          const backing = Buffer.alloc(bytes.length + offset);
          backing.set(bytes, offset);
          const { opcode, payload } = decode(encodeFrame(2, backing.subarray(offset), Buffer.from(mask)));
          return opcode === 2 && payload.equals(Buffer.from(bytes));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("frames data with a zero-mask header followed by the payload as is", () => {
    for (const n of [0, 5, 125, 126, 65_535, 65_536, 70_001]) {
      const bytes = Buffer.alloc(n, 7);
      const { opcode, payload } = decode(Buffer.concat([frameHeader(2, n), bytes]));
      expect(opcode).toBe(2);
      expect(payload.equals(bytes)).toBe(true);
    }
  });

  it("parses an error answer split anywhere, with a chunked body", () => {
    const body = JSON.stringify({ code: "NOT_FOUND", message: "workspace x not found" });
    const text = `HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n${(7).toString(16)}\r\n${body.slice(0, 7)}\r\n${(body.length - 7).toString(16)}\r\n${body.slice(7)}\r\n0\r\n\r\n`;
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 6 }), (cuts) => {
        const parser = new ResponseParser();
        const points = [0, ...cuts.sort((a, b) => a - b), text.length];
        let result;
        for (let i = 1; i < points.length; i++) result = parser.push(Buffer.from(text.slice(points[i - 1], points[i])));
        return result?.status === 404 && result.body.toString() === body;
      }),
    );
    const upgrade = new ResponseParser().push(Buffer.from("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x82\x02hi", "latin1"));
    expect(upgrade).toMatchObject({ status: 101, headers: new Map([["upgrade", "websocket"]]) });
    expect(upgrade!.rest.toString("latin1")).toBe("\x82\x02hi");
    expect(() => new ResponseParser().push(Buffer.from("SSH-2.0-OpenSSH\r\n\r\n"))).toThrow("not an HTTP answer");
    expect(() => new ResponseParser().push(Buffer.alloc(0), true)).toThrow("closed the connection without answering");
  });
});
