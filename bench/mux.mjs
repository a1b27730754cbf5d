#!/usr/bin/env node
// Throughput of the agent tunnel's multiplexed stream protocol (packages/sdk/src/mux.ts), with no SSH in
// the way: bulk transfer through one mux stream (a) between two muxes in memory and (b) over a real `ws`
// WebSocket on loopback, against the same WebSocket carrying the bytes with no mux (`createWebSocketStream`)
// as the baseline; also 8 concurrent streams, a few receive windows, and PING round trips. Prints one JSON
// document; progress on stderr. See packages/sdk/README.md ("Multiplexed streams").
//
//   node bench/mux.mjs [--mib 256] [--runs 3]
import { build } from "esbuild";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createWebSocketStream, WebSocket, WebSocketServer } from "ws";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? Number(args[i + 1]) : fallback;
};
const MIB = flag("--mib", 256);
const RUNS = flag("--runs", 3);
const CHUNK = 64 * 1024;
const log = (line) => process.stderr.write(`bench: ${line}\n`);
const now = () => performance.now();
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x) => Math.round(x * 10) / 10;
const ratio = (x, y) => Math.round((x / y) * 100) / 100;

// The mux is TypeScript: bundle it once into a temp .mjs (esbuild is a dev dependency).
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-bench-mux-"));
const bundle = path.join(tmp, "mux.mjs");
await build({ entryPoints: [path.join(root, "packages/sdk/src/mux.ts")], bundle: true, format: "esm", platform: "neutral", outfile: bundle, logLevel: "error" });
const { Mux } = await import(pathToFileURL(bundle).href);

const payload = new Uint8Array(CHUNK).map((_, i) => i & 0xff);

/** Writes `bytes` through `writer` (awaiting each write: the backpressure) and reads it all from `reader`. */
async function transfer(writer, reader, bytes) {
  const start = now();
  const reading = (async () => {
    let n = 0;
    for await (const c of reader) n += c.length;
    return n;
  })();
  for (let sent = 0; sent < bytes; sent += CHUNK) await writer.write(payload);
  writer.end();
  const got = await reading;
  if (got !== bytes) throw new Error(`received ${got} bytes, sent ${bytes}`);
  return bytes / (1024 * 1024) / ((now() - start) / 1000);
}

/** Two muxes in memory; frames delivered on a microtask (no I/O at all: the mux's own cost). */
function memoryPair(window) {
  let a, b;
  a = new Mux({ isInitiator: true, window, send: (f) => queueMicrotask(() => b.receive(f)) });
  b = new Mux({ isInitiator: false, window, send: (f) => queueMicrotask(() => a.receive(f)) });
  return { a, b, close: async () => {} };
}

/** Two muxes over one WebSocket on 127.0.0.1 (permessage-deflate off, as DESIGN.md requires). */
async function wsPair(window) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once("listening", r));
  const serverSide = new Promise((r) => wss.once("connection", r));
  const client = new WebSocket(`ws://127.0.0.1:${wss.address().port}`, { perMessageDeflate: false });
  await new Promise((r, j) => (client.once("open", r), client.once("error", j)));
  const server = await serverSide;
  const wire = (ws, isInitiator) => {
    const mux = new Mux({ isInitiator, window, send: (f) => ws.send(f) });
    ws.on("message", (data) => mux.receive(data));
    ws.on("close", () => mux.destroy("websocket closed"));
    return mux;
  };
  const a = wire(client, true);
  const b = wire(server, false);
  return {
    a,
    b,
    client,
    server,
    close: async () => {
      client.close();
      await new Promise((r) => wss.close(r));
    },
  };
}

/** Adapts a Node Duplex (the no-mux baseline) to the write()/end()/async-iterator shape. */
const duplexWriter = (d) => ({
  write: (chunk) => new Promise((resolve, reject) => (d.write(chunk, (err) => (err ? reject(err) : resolve())))),
  end: () => d.end(),
});

async function oneStream(makePair, window, direction) {
  const p = await makePair(window);
  const [opener, acceptor] = [p.a, p.b];
  const accepted = new Promise((r) => acceptor.onStream((req) => r(req.accept())));
  const s = await opener.open("bulk");
  const t = await accepted;
  const rate = direction === "up" ? await transfer(s, t, MIB * 1024 * 1024) : await transfer(t, s, MIB * 1024 * 1024);
  s.end();
  t.end();
  await Promise.all([s.closed, t.closed]);
  if (opener.openStreams + acceptor.openStreams !== 0) throw new Error("streams leaked");
  await p.close();
  return rate;
}

async function concurrent(window, streams) {
  const p = await wsPair(window);
  const accepted = [];
  p.b.onStream((req) => accepted.push(req.accept()));
  const opened = await Promise.all(Array.from({ length: streams }, () => p.a.open("bulk")));
  const start = now();
  const per = Math.floor((MIB * 1024 * 1024) / streams / CHUNK) * CHUNK;
  await Promise.all(opened.map((s, i) => transfer(s, accepted[i], per)));
  const rate = (per * streams) / (1024 * 1024) / ((now() - start) / 1000);
  await p.close();
  return rate;
}

async function rawWs() {
  const p = await wsPair(undefined);
  const up = createWebSocketStream(p.client);
  const down = createWebSocketStream(p.server);
  const rate = await transfer(duplexWriter(up), down, MIB * 1024 * 1024);
  await p.close();
  return rate;
}

async function pingRtt() {
  const p = await wsPair(undefined);
  const rtts = [];
  for (let i = 0; i < 200; i++) rtts.push(await p.a.ping());
  rtts.sort((x, y) => x - y);
  await p.close();
  return { p50Ms: Math.round(median(rtts) * 1000) / 1000, p95Ms: Math.round(rtts[Math.floor(rtts.length * 0.95)] * 1000) / 1000 };
}

const runs = async (name, fn) => {
  const xs = [];
  for (let i = 0; i < RUNS; i++) xs.push(await fn());
  log(`${name}: ${xs.map(round).join(", ")} MiB/s`);
  return round(median(xs));
};

const DEFAULT = 512 * 1024;
const result = { mibPerRun: MIB, runs: RUNS, chunkBytes: CHUNK, mibPerSecond: {}, windows: {}, ratios: {} };
try {
  const r = result.mibPerSecond;
  log("warming up");
  await oneStream(memoryPair, DEFAULT, "up");
  await oneStream(wsPair, DEFAULT, "up");
  await rawWs();
  r.memoryOneStream = await runs("in memory, 1 stream", () => oneStream(memoryPair, DEFAULT, "up"));
  r.rawWebSocket = await runs("raw ws (createWebSocketStream, no mux)", rawWs);
  r.wsUp = await runs("mux over ws, initiator -> acceptor", () => oneStream(wsPair, DEFAULT, "up"));
  r.wsDown = await runs("mux over ws, acceptor -> initiator", () => oneStream(wsPair, DEFAULT, "down"));
  r.ws8Streams = await runs("mux over ws, 8 concurrent streams", () => concurrent(DEFAULT, 8));
  for (const kib of [64, 256, 1024]) result.windows[`${kib}KiB`] = await runs(`mux over ws, window ${kib} KiB`, () => oneStream(wsPair, kib * 1024, "up"));
  result.windows["512KiB"] = r.wsUp;
  result.pingRtt = await pingRtt();
  log(`ping over ws: ${JSON.stringify(result.pingRtt)}`);
  result.ratios = {
    wsUpOverRawWebSocket: ratio(r.wsUp, r.rawWebSocket),
    wsDownOverRawWebSocket: ratio(r.wsDown, r.rawWebSocket),
    window64KiBOver512KiB: ratio(result.windows["64KiB"], r.wsUp),
  };
} finally {
  await fs.rm(tmp, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
