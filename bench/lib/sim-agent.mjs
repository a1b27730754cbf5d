// Simulated workspace agents, many in one process, speaking the real protocol with the sdk's own code
// (bundled from packages/sdk/src): one WebSocket each to AGENT_RPC_PATH with the token and version
// headers, the `Mux` as initiator with the real agent's keepalive, the server's hello read from stream 0,
// then what packages/agent sends on a fresh connection: its hello, the lifecycle, listening ports and a
// stats snapshot. After that an idle agent sends nothing but keepalive PINGs, like the real one.
import os from "node:os";
import WebSocket from "ws";
import { now } from "./outpost.mjs";
import { importSdk } from "./sdk-bundle.mjs";

const SDK_ENTRY = `
export { Mux } from "@outpost/sdk/mux";
export { AGENT_API_VERSION, AGENT_TOKEN_HEADER } from "@outpost/sdk/agents";
export { AGENT_RPC_PATH, AGENT_VERSION_HEADER, NdjsonDecoder, encodeNdjson, ServerMessageSchema } from "@outpost/sdk/agent-rpc";
`;

/** The real agent's mux keepalive (packages/agent/src/connection.ts). */
export const AGENT_KEEPALIVE = { intervalMs: 15_000, timeoutMs: 45_000 };

export async function loadProtocol(dir) {
  return importSdk(dir, "agent-protocol", SDK_ENTRY);
}

/**
 * One simulated agent. `connect()` resolves with the milliseconds from the dial to the server's hello
 * (validated with the sdk schema) once our own messages are written; it rejects on a refused upgrade or
 * a connection that ends first. `onDrop` is called when a connection we did not close ends.
 */
export class SimAgent {
  constructor(sdk, url, token, onDrop) {
    this.sdk = sdk;
    this.url = `${url.replace(/^http/, "ws")}${sdk.AGENT_RPC_PATH}`;
    this.token = token;
    this.onDrop = onDrop;
    this.ws = undefined;
    this.mux = undefined;
    this.closing = false;
    this.connected = false;
  }

  connect() {
    const { sdk } = this;
    const t0 = now();
    this.closing = false;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, {
        headers: { [sdk.AGENT_TOKEN_HEADER]: this.token, [sdk.AGENT_VERSION_HEADER]: String(sdk.AGENT_API_VERSION) },
        perMessageDeflate: false,
        handshakeTimeout: 60_000,
        maxPayload: 16 * 1024 * 1024,
      });
      this.ws = ws;
      const mux = new sdk.Mux({ isInitiator: true, send: (f) => ws.send(f), keepalive: AGENT_KEEPALIVE });
      this.mux = mux;
      let settled = false;
      const fail = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(helloTimer);
        reject(err);
      };
      const helloTimer = setTimeout(() => (fail(new Error("no hello from the server within 60 s")), ws.terminate()), 60_000);
      // Listening from the start: the server's hello may come in the same packet as the 101.
      ws.on("message", (data, isBinary) => (isBinary ? mux.receive(data) : mux.close("text frame")));
      ws.on("error", (err) => fail(err));
      ws.on("unexpected-response", (_req, res) => fail(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
      ws.on("close", (code, reason) => {
        mux.destroy(`websocket closed (${code})`);
        const wasConnected = this.connected;
        this.connected = false;
        fail(new Error(`closed before the hello (${code} ${reason})`));
        if (wasConnected && !this.closing) this.onDrop?.(`${code} ${reason}`);
      });
      void mux.closed.then(() => ws.readyState === WebSocket.OPEN && !this.closing && ws.terminate());
      void (async () => {
        const decoder = new sdk.NdjsonDecoder();
        let hello;
        while (!hello) {
          const chunk = await mux.control.read().catch(() => null);
          if (chunk === null) return fail(new Error("the control stream ended before the hello"));
          const [first] = decoder.push(chunk);
          if (first !== undefined) hello = sdk.ServerMessageSchema.parse(first);
        }
        const ms = now() - t0;
        const at = new Date().toISOString();
        const send = (m) => mux.control.write(sdk.encodeNdjson(m));
        await send({ type: "hello", api_version: sdk.AGENT_API_VERSION, version: "bench-sim", os: "linux", arch: "amd64", hostname: os.hostname() });
        await send({ type: "lifecycle", state: "starting", changed_at: at });
        await send({ type: "ports", ports: [] });
        await send({ type: "stats", stats: { sessions: { ssh: 0, pty: 0, tcp: 0 }, rx_bytes: 0, tx_bytes: 0, last_activity_at: null } });
        await send({ type: "lifecycle", state: "ready", changed_at: new Date().toISOString() });
        this.connected = true;
        this.agentId = hello.manifest.agent_id;
        settled = true;
        clearTimeout(helloTimer);
        resolve(ms);
        // Keep reading stream 0 (the server may say hello again); the credit must flow.
        for (;;) if ((await mux.control.read().catch(() => null)) === null) break;
      })().catch(fail);
    });
  }

  /** Closes like the real agent at shutdown (GOAWAY, then a normal close); resolves when the socket closed. */
  close() {
    this.closing = true;
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once("close", resolve);
      this.mux?.goAway("agent shutting down");
      this.mux?.close("agent shutting down");
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, "agent shutting down");
      else ws.terminate();
      setTimeout(() => (ws.terminate(), resolve()), 5000).unref();
    });
  }
}

/** Runs `fn(i)` for i in [0, n) with at most `limit` at a time; resolves with the results in order. */
export async function pool(n, limit, fn) {
  const out = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  return out;
}
