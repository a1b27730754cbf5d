// The Node Duplex adapter (the recipe in packages/sdk/README.md) proven with pipeline and backpressure:
// the sdk itself cannot import node:stream (it runs in the browser), so the adapter lives in the agent
// (packages/agent/src/mux-duplex.ts), and the server's test agent uses the same one.
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { toDuplex } from "../../../agent/src/mux-duplex.js";
import type { MuxStream } from "../../src/mux.js";
import { acceptAll, fnv, pair, rng } from "./mux-pair.js";

describe("mux streams as Node Duplex streams", () => {
  it("pipes 5 MiB each way through a Duplex echo server with backpressure, then closes cleanly", async () => {
    const { a, b, link } = pair({ delivery: "macrotask", a: { window: 64 * 1024 }, b: { window: 64 * 1024 } });
    b.onStream(acceptAll((s) => void pipeline(toDuplex(s), new PassThrough({ highWaterMark: 1024 }), toDuplex(s)).catch(() => {})));
    const client = toDuplex(await a.open("echo"));
    const r = rng(3);
    const sent = Array.from({ length: 80 }, () => r.bytes(64 * 1024));
    const received: Uint8Array[] = [];
    client.on("data", (c: Uint8Array) => received.push(c));
    const ended = new Promise((resolve) => client.on("end", resolve));
    for (const c of sent) if (!client.write(c)) await new Promise((resolve) => client.once("drain", resolve));
    client.end();
    await ended;
    expect(fnv(received)).toBe(fnv(sent));
    await link.settle();
    expect(a.openStreams + b.openStreams).toBe(0);
  });

  it("destroying the Duplex resets the stream; a peer reset destroys the Duplex with the reason", async () => {
    const { a, b, link } = pair();
    const accepted: MuxStream[] = [];
    b.onStream(acceptAll((s) => accepted.push(s)));
    const hungUp = toDuplex(await a.open("x")).on("error", () => {});
    hungUp.destroy(new Error("client hung up"));
    await link.settle();
    await expect(accepted[0]!.read()).rejects.toThrow("reset by peer: client hung up");

    const d = toDuplex(await a.open("y"));
    const failed = new Promise<Error>((resolve) => d.on("error", resolve));
    d.resume();
    await link.settle();
    accepted[1]!.reset("nothing listens on 127.0.0.1:8080");
    expect((await failed).message).toMatch(/reset by peer: nothing listens/);
    await link.settle();
    expect(a.openStreams + b.openStreams).toBe(0);
  });
});
