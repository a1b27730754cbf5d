// The CLI's own WebSocket client (ws-client.ts) and the relay piping (relay.ts) against a real `ws`
// server on 127.0.0.1, and against raw HTTP answers for the refusals.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough, type Duplex } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer, type WebSocket } from "ws";
import { openRelay, pipeRelay, RelayError } from "../../src/relay.js";
import { ConnectFailed, connectWebSocket, UpgradeRefused } from "../../src/ws-client.js";

let server: http.Server;
let wss: WebSocketServer;
let base: string;
/** What the test server does with the next connection, by path. */
const behaviours = new Map<string, (ws: WebSocket, req: http.IncomingMessage) => void>();
const rawUpgrades = new Map<string, string>();

beforeAll(async () => {
  server = http.createServer();
  wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on("upgrade", (req, socket, head) => {
    const path = new URL(req.url!, "http://x").pathname;
    const raw = rawUpgrades.get(path);
    if (raw !== undefined) {
      socket.end(raw);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => behaviours.get(path)!(ws, req));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  behaviours.set("/echo", (ws) => ws.on("message", (d, binary) => ws.send(d, { binary })));
});
afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise((r) => server.close(r));
});

async function collect(n: number, conn: Awaited<ReturnType<typeof connectWebSocket>>): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  return new Promise((resolve) => {
    conn.onMessage((d, binary) => {
      expect(binary).toBe(true);
      parts.push(Buffer.from(d));
      got += d.length;
      if (got >= n) resolve(Buffer.concat(parts));
    });
  });
}

describe("ws-client", () => {
  it("sends masked frames of every length encoding and gets them back intact, in order", async () => {
    let headers: http.IncomingHttpHeaders = {};
    behaviours.set("/echo-headers", (ws, req) => {
      headers = req.headers;
      ws.on("message", (d) => ws.send(d, { binary: true }));
    });
    const conn = await connectWebSocket(`${base}/echo-headers?x=1`, { "Outpost-Session-Token": "secret" });
    expect(headers["outpost-session-token"]).toBe("secret");
    expect(headers["sec-websocket-extensions"]).toBeUndefined();
    const sizes = [1, 3, 125, 126, 127, 65_535, 65_536, 70_001, 1024 * 1024 + 3];
    const payloads = sizes.map((n) => randomBytes(n));
    const expected = Buffer.concat(payloads);
    const received = collect(expected.length, conn);
    for (const p of payloads) conn.send(p);
    expect((await received).equals(expected)).toBe(true);
    conn.close();
    expect(await conn.closed).toMatchObject({ code: 1000 });
  });

  it("masks payloads that start at any offset of a shared buffer", async () => {
    const conn = await connectWebSocket(`${base}/echo`, {});
    const big = randomBytes(4096 + 7);
    const views = [big.subarray(1, 9), big.subarray(3, 4000), big.subarray(5)];
    const expected = Buffer.concat(views);
    const received = collect(expected.length, conn);
    for (const v of views) conn.send(v);
    expect((await received).equals(expected)).toBe(true);
    conn.close();
  });

  it("answers pings, joins fragmented text, streams binary fragments, and reports the server's close code and reason", async () => {
    let pong: Buffer | undefined;
    behaviours.set("/chatty", (ws) => {
      ws.on("pong", (d) => {
        pong = d;
        ws.send("{\"type\":", { fin: false });
        ws.send("\"error\"}", { fin: true });
        ws.send(Buffer.from("ab"), { binary: true, fin: false });
        ws.send(Buffer.from("cd"), { binary: true, fin: true });
        ws.close(4412, "workspace is stopped");
      });
      ws.ping(Buffer.from("hi"));
    });
    const conn = await connectWebSocket(`${base}/chatty`, {});
    const messages: [string, boolean][] = [];
    conn.onMessage((d, binary) => messages.push([d.toString(), binary]));
    expect(await conn.closed).toEqual({ code: 4412, reason: "workspace is stopped" });
    expect(pong?.toString()).toBe("hi");
    expect(messages).toEqual([['{"type":"error"}', false], ["ab", true], ["cd", true]]);
  });

  it("keeps frames that arrive with the upgrade answer until a listener is set", async () => {
    behaviours.set("/eager", (ws) => {
      ws.send(Buffer.from("first"));
      ws.close(1000);
    });
    const conn = await connectWebSocket(`${base}/eager`, {});
    await new Promise((r) => setTimeout(r, 50));
    const got: string[] = [];
    conn.onMessage((d) => got.push(d.toString()));
    await conn.closed;
    expect(got).toEqual(["first"]);
  });

  it("reports a connection that breaks without a close frame as 1006 with the error", async () => {
    behaviours.set("/drop", (ws) => setTimeout(() => ws.terminate(), 20));
    const conn = await connectWebSocket(`${base}/drop`, {});
    expect(await conn.closed).toMatchObject({ code: 1006 });
  });

  it("rejects refusals with the HTTP status and body (Content-Length, chunked, or until the end)", async () => {
    const json = JSON.stringify({ code: "NOT_FOUND", message: "workspace nope not found" });
    rawUpgrades.set("/refuse-length", `HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: ${json.length}\r\nconnection: keep-alive\r\n\r\n${json}`);
    const chunked = `${json.slice(0, 10).length.toString(16)}\r\n${json.slice(0, 10)}\r\n${json.slice(10).length.toString(16)}\r\n${json.slice(10)}\r\n0\r\n\r\n`;
    rawUpgrades.set("/refuse-chunked", `HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n${chunked}`);
    rawUpgrades.set("/refuse-eof", `HTTP/1.0 503 Service Unavailable\r\n\r\nbusy`);
    for (const [path, status, body] of [["/refuse-length", 404, json], ["/refuse-chunked", 404, json], ["/refuse-eof", 503, "busy"]] as const) {
      const err = await connectWebSocket(`${base}${path}`, {}).catch((e: unknown) => e);
      expect(err, path).toBeInstanceOf(UpgradeRefused);
      expect((err as UpgradeRefused).status).toBe(status);
      expect((err as UpgradeRefused).body).toBe(body);
    }
  });

  it("gives up on a server that never answers the upgrade", async () => {
    const silent = http.createServer();
    const held: Duplex[] = [];
    silent.on("upgrade", (_req, socket) => held.push(socket)); // holds the socket, says nothing
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as AddressInfo).port;
    try {
      const started = Date.now();
      await expect(connectWebSocket(`ws://127.0.0.1:${port}/x`, {}, { timeoutMs: 300 })).rejects.toThrow(`cannot reach 127.0.0.1:${port}: no answer within 0.3 s`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it("refuses a 101 whose accept key is wrong, and says when nothing listens", async () => {
    rawUpgrades.set("/bad-accept", "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: nope\r\n\r\n");
    await expect(connectWebSocket(`${base}/bad-accept`, {})).rejects.toThrow("not a valid WebSocket handshake");
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const err = await connectWebSocket(`ws://127.0.0.1:${port}/x`, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectFailed);
    expect((err as Error).message).toBe(`cannot reach 127.0.0.1:${port}: ECONNREFUSED`);
  });
});

describe("relay piping", () => {
  it("turns an API error body into the server's message", async () => {
    rawUpgrades.set("/api-error", `HTTP/1.1 412 Precondition Failed\r\ncontent-length: 95\r\n\r\n${JSON.stringify({ code: "PRECONDITION_FAILED", message: "workspace dev is stopped", detail: "start it first" }).padEnd(95)}`);
    const err = await openRelay(`${base}/api-error`, "t").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayError);
    expect(err).toMatchObject({ message: "workspace dev is stopped", code: "PRECONDITION_FAILED", detail: ["start it first"] });
    const several = JSON.stringify({ code: "INVALID_INPUT", message: "workspace owner/dev has 2 agents: name one", validations: [{ field: "query.agent", detail: "is required: one of a, b" }] });
    rawUpgrades.set("/validations", `HTTP/1.1 400 Bad Request\r\ncontent-length: ${several.length}\r\n\r\n${several}`);
    await expect(openRelay(`${base}/validations`, "t")).rejects.toMatchObject({ code: "INVALID_INPUT", detail: ["query.agent: is required: one of a, b"] });
    rawUpgrades.set("/html-error", "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 5\r\n\r\n<h1/>");
    await expect(openRelay(`${base}/html-error`, "t")).rejects.toMatchObject({ message: "the server answered 502 Bad Gateway" });
  });

  it("pipes both ways and ends normally when the input ends", async () => {
    const conn = await openRelay(`${base}/echo`, "t");
    const input = new PassThrough();
    const output = new PassThrough();
    const chunks: Buffer[] = [];
    output.on("data", (d: Buffer) => chunks.push(d));
    const ended = pipeRelay(conn, input, output);
    const data = randomBytes(3 * 1024 * 1024);
    input.write(data.subarray(0, 1000));
    input.write(data.subarray(1000));
    await new Promise((r) => setTimeout(r, 100));
    await expect.poll(() => Buffer.concat(chunks).length, { timeout: 10_000 }).toBe(data.length);
    input.end();
    expect(await ended).toEqual({ ok: true });
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it("reports the error frame sent after the upgrade, and a dropped connection", async () => {
    behaviours.set("/error-frame", (ws) => {
      ws.send(JSON.stringify({ type: "error", error: { code: "UNAVAILABLE", message: "nothing listens on 127.0.0.1:8080" } }));
      ws.close(4503);
    });
    const end = await pipeRelay(await openRelay(`${base}/error-frame`, "t"), new PassThrough(), new PassThrough());
    expect(end).toMatchObject({ ok: false, error: { message: "nothing listens on 127.0.0.1:8080", code: "UNAVAILABLE" } });
    behaviours.set("/lost", (ws) => setTimeout(() => ws.terminate(), 20));
    const lost = await pipeRelay(await openRelay(`${base}/lost`, "t"), new PassThrough(), new PassThrough());
    expect(lost).toMatchObject({ ok: false, error: { code: "UNAVAILABLE", message: "the connection broke off" } });
  });
});
