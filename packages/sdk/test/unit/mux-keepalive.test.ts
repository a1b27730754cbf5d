// PING round trips and keepalive on an injected clock: no test sleeps.
import { describe, expect, it } from "vitest";
import { decodeFrame, FrameType } from "../../src/mux-frame.js";
import { acceptAll, FakeClock, pair } from "./mux-pair.js";

const pings = (frames: Uint8Array[]) => frames.filter((f) => decodeFrame(f).type === FrameType.PING).length;

describe("mux ping and keepalive", () => {
  it("ping() measures the round trip on the mux's clock", async () => {
    const clock = new FakeClock();
    const { a, link } = pair({ a: { clock }, b: { clock } });
    const rtt = a.ping();
    clock.advance(25); // before the PING is even delivered (microtask delivery)
    expect(await rtt).toBe(25);
    const [r1, r2] = [a.ping(), a.ping()];
    clock.advance(3);
    expect(await Promise.all([r1, r2])).toEqual([3, 3]);
    await link.settle();
  });

  it("a live peer keeps the mux open; pings go out only when nothing was received for an interval", async () => {
    const clock = new FakeClock();
    const keepalive = { intervalMs: 1000, timeoutMs: 3000 };
    const { a, b, link } = pair({ a: { clock, keepalive }, b: { clock } });
    for (let t = 0; t < 10_000; t += 250) {
      clock.advance(250);
      await link.settle();
    }
    expect(a.isClosed).toBe(false);
    expect(pings(link.sentByA)).toBe(10); // one per second of silence
    // While the peer sends something every 500 ms, no ping is needed.
    const before = pings(link.sentByA);
    for (let t = 0; t < 5000; t += 500) {
      await b.control.write(new Uint8Array([1]));
      clock.advance(500);
      await link.settle();
    }
    expect(pings(link.sentByA)).toBe(before);
    expect(a.isClosed).toBe(false);
  });

  it("declares a silent peer dead after timeoutMs, failing every stream", async () => {
    const clock = new FakeClock();
    const { a, b, link } = pair({ a: { clock, keepalive: { intervalMs: 1000, timeoutMs: 3000 } }, b: { clock, onStream: acceptAll(() => {}) } });
    const s = await a.open("ssh");
    const reading = s.read();
    const ping = a.ping();
    link.cut(); // the network dies: nothing arrives any more, and nothing says so
    clock.advance(2999);
    expect(a.isClosed).toBe(false);
    clock.advance(1);
    const err = await a.closed;
    expect(err.code).toBe("TIMEOUT");
    expect(err.message).toBe("peer is unresponsive: no frame for 3000 ms (keepalive timeout 3000 ms)");
    await expect(reading).rejects.toMatchObject({ code: "TIMEOUT" });
    await expect(ping).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(a.openStreams).toBe(0);
    expect(clock.pending).toBe(0); // no timer left behind
    expect(b.isClosed).toBe(false); // b has no keepalive: it cannot know
  });

  it("close() stops the keepalive timer", () => {
    const clock = new FakeClock();
    const { a } = pair({ a: { clock, keepalive: { intervalMs: 1000, timeoutMs: 3000 } } });
    expect(clock.pending).toBe(1);
    a.close("done");
    expect(clock.pending).toBe(0);
  });

  it("rejects nonsensical keepalive settings", () => {
    expect(() => pair({ a: { keepalive: { intervalMs: 0, timeoutMs: 1000 } } })).toThrow(RangeError);
  });
});
