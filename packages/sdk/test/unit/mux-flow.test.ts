// Per-stream flow control: a reader that does not read stops the writer after one window; credit
// goes back to the writer when the reader consumes, not when data arrives.
import { describe, expect, it } from "vitest";
import { decodeFrame, FrameType } from "../../src/mux-frame.js";
import type { MuxStream } from "../../src/mux.js";
import { acceptAll, pair, total, type Delivery } from "./mux-pair.js";

const KiB = 1024;

/** DATA bytes and WINDOW_UPDATE increments in a list of sent frames, for one stream. */
function tally(frames: Uint8Array[], id: number) {
  let data = 0;
  let updates = 0;
  let granted = 0;
  for (const raw of frames) {
    const f = decodeFrame(raw);
    if (f.id !== id) continue;
    if (f.type === FrameType.DATA) data += f.data.length;
    if (f.type === FrameType.WINDOW_UPDATE) (updates++, (granted += f.increment));
  }
  return { data, updates, granted };
}

async function setup(window: number, maxFrameSize: number, delivery: Delivery = "microtask") {
  const p = pair({ delivery, a: { window, maxFrameSize }, b: { window, maxFrameSize } });
  let server!: MuxStream;
  p.b.onStream(acceptAll((s) => (server = s)));
  const s = await p.a.open("bulk");
  return { ...p, s, server: () => server };
}

describe("mux flow control", () => {
  it.each<Delivery>(["sync", "microtask", "macrotask"])("a reader that does not read bounds what the writer gets out to one window (%s)", async (delivery) => {
    const window = 64 * KiB;
    const chunk = 16 * KiB;
    const { s, server, link } = await setup(window, chunk, delivery);
    let accepted = 0;
    const writer = (async () => {
      for (let i = 0; i < 64; i++) {
        await s.write(new Uint8Array(chunk).fill(i));
        accepted += chunk;
      }
      s.end();
    })();
    await link.settle();
    // The writer is stuck: one window went out, the next write waits in the mux.
    expect(accepted).toBe(window);
    expect(server().readableLength).toBe(window);
    expect(tally(link.sentByA, s.id).data).toBe(window);
    expect(s.writableLength).toBeLessThanOrEqual(chunk);
    await link.settle(); // still stuck: nothing moves without a read
    expect(accepted).toBe(window);

    // Reading resumes it, and everything arrives in order.
    let received = 0;
    for await (const c of server()) {
      expect(c[0]).toBe(Math.floor(received / chunk));
      received += c.length;
      expect(server().readableLength).toBeLessThanOrEqual(window);
    }
    await writer;
    expect(received).toBe(64 * chunk);
  });

  it("a single write larger than the window waits in the mux (the caller's buffer) and goes out as credit returns", async () => {
    const { s, server, link } = await setup(32 * KiB, 8 * KiB);
    let done = false;
    const w = s.write(new Uint8Array(200 * KiB)).then(() => (done = true));
    await link.settle();
    expect(done).toBe(false);
    expect(s.writableLength).toBe(200 * KiB - 32 * KiB);
    expect(server().readableLength).toBe(32 * KiB);
    const chunks: Uint8Array[] = [];
    while (total(chunks) < 200 * KiB) {
      chunks.push((await server().read())!);
      expect(server().readableLength).toBeLessThanOrEqual(32 * KiB);
    }
    await w;
    expect(done).toBe(true);
    expect(s.writableLength).toBe(0);
  });

  it("credit follows consumption, not receipt, in batches of a quarter window", async () => {
    const window = 64 * KiB;
    const { s, server, link } = await setup(window, 4 * KiB);
    await s.write(new Uint8Array(window));
    await link.settle();
    expect(tally(link.sentByB, s.id).updates).toBe(0); // everything arrived, nothing read: no credit back
    await server().read(); // 4 KiB consumed: below the threshold
    await server().read();
    await server().read();
    await link.settle();
    expect(tally(link.sentByB, s.id).updates).toBe(0);
    await server().read(); // 16 KiB = a quarter window
    await link.settle();
    expect(tally(link.sentByB, s.id)).toEqual({ data: 0, updates: 1, granted: 16 * KiB });
    // The writer can now put exactly that much more in flight.
    let sent = false;
    void s.write(new Uint8Array(16 * KiB)).then(() => (sent = true));
    void s.write(new Uint8Array(1));
    await link.settle();
    expect(sent).toBe(true);
    expect(s.writableLength).toBe(1);
    expect(tally(link.sentByA, s.id).data).toBe(window + 16 * KiB);
  });

  it("no credit is sent for data read after the peer's FIN", async () => {
    const { s, server, link } = await setup(16 * KiB, 4 * KiB);
    await s.write(new Uint8Array(16 * KiB));
    s.end();
    await link.settle();
    let n = 0;
    for await (const c of server()) n += c.length;
    await link.settle();
    expect(n).toBe(16 * KiB);
    expect(tally(link.sentByB, s.id).updates).toBe(0);
  });

  it("each side's window applies to what it receives (asymmetric windows)", async () => {
    const p = pair({ a: { window: 8 * KiB }, b: { window: 32 * KiB } });
    let server!: MuxStream;
    p.b.onStream(acceptAll((x) => (server = x)));
    const s = await p.a.open("x");
    void s.write(new Uint8Array(100 * KiB));
    void server.write(new Uint8Array(100 * KiB));
    await p.link.settle();
    expect(server.readableLength).toBe(32 * KiB); // a -> b limited by b's window
    expect(s.readableLength).toBe(8 * KiB); // b -> a limited by a's window
    const big = await p.a.open("y", { window: 48 * KiB }); // per-stream override
    void server.write(new Uint8Array(100 * KiB)); // server is now the accepted side of "y"
    await p.link.settle();
    expect(big.window).toBe(48 * KiB);
    expect(big.readableLength).toBe(48 * KiB);
  });

  it("the control stream has a fixed window of CONTROL_WINDOW both ways", async () => {
    const { a, b, link } = pair({ a: { window: 1024 }, b: { window: 1024 } });
    void a.control.write(new Uint8Array(1024 * KiB));
    await link.settle();
    expect(b.control.readableLength).toBe(256 * KiB);
  });
});
