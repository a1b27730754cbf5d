// The agent executable at /bin/outpost-agent-linux-amd64: streamed with its sha256 as ETag, 304 on a
// matching If-None-Match, the .sha256 next to it, a helpful 404 when it is not built.
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestServer, type TestServer } from "../helpers/test-server.js";

let s: TestServer;
let dir: string;
let file: string;
const URL_PATH = "/bin/outpost-agent-linux-amd64";
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-agent-bin-"));
  file = path.join(dir, "outpost-agent");
  s = await createTestServer({ listen: true, env: { OUTPOST_AGENT_BINARY: file } });
});
afterAll(async () => {
  await s?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("agent binary download", () => {
  it("answers 404 with how to build it while there is no file, without naming server paths", async () => {
    const res = await fetch(`${s.url}${URL_PATH}`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { code: string; message: string; detail: string };
    expect(body).toEqual({ code: "NOT_FOUND", message: "the agent binary is not available on this server", detail: expect.stringContaining("node scripts/build-agent.mjs") });
    expect(JSON.stringify(body)).not.toContain(dir);
    expect((await fetch(`${s.url}${URL_PATH}.sha256`)).status).toBe(404);
  });

  it("streams the file with Content-Length and its sha256 as ETag; If-None-Match answers 304; a new file a new ETag", async () => {
    const content = randomBytes(3 * 1024 * 1024 + 17);
    fs.writeFileSync(file, content);
    const res = await fetch(`${s.url}${URL_PATH}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("content-length")).toBe(String(content.length));
    expect(res.headers.get("etag")).toBe(`"${sha(content)}"`);
    expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(sha(content));

    const cached = await fetch(`${s.url}${URL_PATH}`, { headers: { "if-none-match": `"${sha(content)}"` } });
    expect(cached.status).toBe(304);
    expect(cached.headers.get("etag")).toBe(`"${sha(content)}"`);
    expect((await cached.arrayBuffer()).byteLength).toBe(0);
    const stale = await fetch(`${s.url}${URL_PATH}`, { headers: { "if-none-match": `"${"0".repeat(64)}"` } });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();

    const sum = await fetch(`${s.url}${URL_PATH}.sha256`);
    expect(sum.status).toBe(200);
    expect(await sum.text()).toBe(`${sha(content)}  outpost-agent-linux-amd64\n`);

    // A rebuilt agent (a new file in its place) is served with its own hash.
    const next = randomBytes(1024);
    fs.writeFileSync(`${file}.new`, next);
    fs.renameSync(`${file}.new`, file);
    const after = await fetch(`${s.url}${URL_PATH}`, { headers: { "if-none-match": `"${sha(content)}"` } });
    expect(after.status).toBe(200);
    expect(after.headers.get("etag")).toBe(`"${sha(next)}"`);
    expect(Buffer.from(await after.arrayBuffer()).equals(next)).toBe(true);
  });

  it("a download stalled by a client that stopped reading does not hold the server's shutdown", async () => {
    fs.writeFileSync(file, randomBytes(16 * 1024 * 1024));
    const own = await createTestServer({ listen: true, env: { OUTPOST_AGENT_BINARY: file } });
    const port = new URL(own.url).port;
    const client = net.connect({ host: "127.0.0.1", port: Number(port) });
    await new Promise((r) => client.once("connect", r));
    client.write(`GET ${URL_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    // Read the first bytes, then stop: the rest of the 16 MiB fills the socket buffers and stalls.
    await new Promise((r) => client.once("data", r));
    client.pause();
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(5000);
    client.destroy();
  });
});
