import { describe, expect, it } from "vitest";
import { Mux, MuxError, type IncomingStream, type MuxStream } from "../../src/mux.js";
import { acceptAll, fnv, pair, readAll, rng, str, text, total, type Delivery } from "./mux-pair.js";

describe("mux: open, accept, reject", () => {
  it("opens a stream with its kind; ids are odd from the initiator and even from the other side", async () => {
    const { a, b } = pair();
    const kinds: string[] = [];
    a.onStream((req) => void (kinds.push(`a:${req.id}:${req.kind}`), req.accept()));
    b.onStream((req) => void (kinds.push(`b:${req.id}:${req.kind}`), req.accept()));
    const s1 = await a.open("ssh");
    const s2 = await a.open("tcp:8080");
    const s3 = await b.open("pty:abc");
    expect([s1.id, s2.id, s3.id]).toEqual([1, 3, 2]);
    expect(kinds).toEqual(["b:1:ssh", "b:3:tcp:8080", "a:2:pty:abc"]);
    expect(a.openStreams).toBe(3);
    expect(b.openStreams).toBe(3);
  });

  it("rejects with the peer's reason, and counts nothing afterwards", async () => {
    const { a, b } = pair();
    b.onStream((req) => req.reject("nothing listens on 127.0.0.1:8080"));
    const err = await a.open("tcp:8080").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MuxError);
    expect(err).toMatchObject({ code: "REJECTED", message: "nothing listens on 127.0.0.1:8080" });
    expect(a.openStreams).toBe(0);
    expect(b.openStreams).toBe(0);
  });

  it("a handler may answer later (e.g. after dialing); the stream counts as open meanwhile", async () => {
    const { a, b, link } = pair();
    let req: IncomingStream | undefined;
    b.onStream((r) => void (req = r));
    const opening = a.open("tcp:22");
    await link.settle();
    expect(a.openStreams).toBe(1);
    expect(b.openStreams).toBe(1);
    const s = req!.accept();
    expect((await opening).id).toBe(s.id);
    expect(() => req!.reject("late")).toThrow(/already answered/);
  });

  it("rejects when there is no handler, when the handler throws, and when its promise rejects", async () => {
    const { a, b } = pair();
    await expect(a.open("ssh")).rejects.toMatchObject({ code: "REJECTED", message: expect.stringContaining("no handler") });
    b.onStream(() => {
      throw new Error("ssh server not started");
    });
    await expect(a.open("ssh")).rejects.toMatchObject({ code: "REJECTED", message: "ssh server not started" });
    b.onStream(async () => {
      await Promise.resolve();
      throw new Error("dial failed");
    });
    await expect(a.open("tcp:1")).rejects.toMatchObject({ code: "REJECTED", message: "dial failed" });
    expect(a.openStreams + b.openStreams).toBe(0);
  });

  it("refuses more incoming streams than maxIncomingStreams", async () => {
    const { a } = pair({ b: { maxIncomingStreams: 2, onStream: acceptAll(() => {}) } });
    await a.open("x");
    await a.open("x");
    await expect(a.open("x")).rejects.toMatchObject({ code: "REJECTED", message: "too many streams (limit 2)" });
  });

  it("validates the kind locally", async () => {
    const { a } = pair();
    await expect(a.open("")).rejects.toThrow(RangeError);
    await expect(a.open("x".repeat(257))).rejects.toThrow(RangeError);
  });
});

describe("mux: data", () => {
  it.each<Delivery>(["sync", "microtask", "macrotask"])("keeps many concurrent streams intact both ways (%s delivery)", async (delivery) => {
    const r = rng(42);
    const { a, b, link } = pair({ delivery, a: { window: 64 * 1024, maxFrameSize: 8 * 1024 }, b: { window: 100_000, maxFrameSize: 5000 } });
    // Each side echoes a checksum of what it read, then ends.
    const serve = async (s: MuxStream) => {
      const got = await readAll(s);
      await s.write(text(`${total(got)}:${fnv(got)}`));
      s.end();
    };
    b.onStream(acceptAll((s) => void serve(s)));
    const one = async (i: number) => {
      const s = await a.open(`stream-${i}`);
      const sent: Uint8Array[] = [];
      const size = r.int(0, 300_000);
      for (let n = 0; n < size; ) {
        const chunk = r.bytes(Math.min(size - n, r.int(1, 70_000)));
        sent.push(chunk);
        n += chunk.length;
        await s.write(chunk);
      }
      s.end();
      expect(str(await readAll(s))).toBe(`${size}:${fnv(sent)}`);
      expect(await s.closed).toBeUndefined();
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => one(i)));
    await link.settle();
    expect(a.openStreams).toBe(0);
    expect(b.openStreams).toBe(0);
  });

  it("chunks large writes into frames of at most maxFrameSize", async () => {
    const { a, b, link } = pair({ a: { maxFrameSize: 1000 } });
    let server: MuxStream | undefined;
    b.onStream(acceptAll((s) => (server = s)));
    const s = await a.open("x");
    link.sentByA.length = 0;
    await s.write(new Uint8Array(4500).fill(7));
    expect(link.sentByA.map((f) => f.length - 6)).toEqual([1000, 1000, 1000, 1000, 500]);
    await link.settle();
    expect(server!.readableLength).toBe(4500);
  });

  it("the control stream (0) is open on both sides from the start and not counted", async () => {
    const { a, b } = pair();
    expect(a.control.id).toBe(0);
    expect(a.openStreams).toBe(0);
    await a.control.write(text('{"method":"lifecycle","state":"ready"}\n'));
    expect(str([(await b.control.read())!])).toBe('{"method":"lifecycle","state":"ready"}\n');
    await b.control.write(text("pong"));
    expect(str([(await a.control.read())!])).toBe("pong");
  });
});

describe("mux: half-close and reset", () => {
  it("FIN closes one direction; the other keeps working until it ends too", async () => {
    const { a, b, link } = pair();
    let server!: MuxStream;
    b.onStream(acceptAll((s) => (server = s)));
    const s = await a.open("ssh");
    await s.write(text("request"));
    s.end();
    await expect(s.write(text("more"))).rejects.toMatchObject({ code: "CLOSED", message: expect.stringContaining("write after end") });
    expect(str(await readAll(server))).toBe("request"); // EOF after the data
    expect(await server.read()).toBeNull(); // and stays at EOF
    await server.write(text("response part 1, "));
    await server.write(text("part 2"));
    await link.settle();
    expect(s.isClosed).toBe(false);
    expect(a.openStreams).toBe(1);
    server.end();
    expect(str(await readAll(s))).toBe("response part 1, part 2");
    expect(await s.closed).toBeUndefined();
    expect(await server.closed).toBeUndefined();
    expect(a.openStreams + b.openStreams).toBe(0);
  });

  it("data buffered before the close stays readable after both sides ended", async () => {
    const { a, b, link } = pair();
    let server!: MuxStream;
    b.onStream(acceptAll((s) => (server = s)));
    const s = await a.open("x");
    await s.write(text("abc"));
    s.end();
    await link.settle();
    server.end();
    await link.settle();
    expect(server.isClosed).toBe(true);
    expect(b.openStreams).toBe(0);
    expect(str(await readAll(server))).toBe("abc");
  });

  it("RST fails pending reads and writes on both sides with the reason", async () => {
    const { a, b, link } = pair({ a: { window: 10 }, b: { window: 10 } });
    let server!: MuxStream;
    b.onStream(acceptAll((s) => (server = s)));
    const s = await a.open("x");
    const blockedWrite = s.write(new Uint8Array(100)); // more than the window: stays pending
    await link.settle();
    const pendingRead = s.read();
    server.reset("client went away");
    await expect(pendingRead).rejects.toMatchObject({ code: "RESET", message: expect.stringContaining("reset by peer: client went away") });
    await expect(blockedWrite).rejects.toMatchObject({ code: "RESET" });
    await expect(s.write(text("x"))).rejects.toMatchObject({ code: "RESET" });
    await expect(server.read()).rejects.toMatchObject({ code: "RESET", message: expect.stringContaining("reset locally") });
    expect((await s.closed)?.code).toBe("RESET");
    expect((await server.closed)?.code).toBe("RESET");
    expect(s.writableLength).toBe(0);
    await link.settle();
    expect(a.openStreams + b.openStreams).toBe(0);
    expect(a.isClosed || b.isClosed).toBe(false); // frames in flight after the RST are harmless
  });

  it("frames that cross a reset are ignored, not protocol errors", async () => {
    const { a, b, link } = pair({ delivery: "macrotask" });
    let server!: MuxStream;
    b.onStream(acceptAll((s) => (server = s)));
    const s = await a.open("x");
    void s.write(new Uint8Array(50_000)).catch(() => {});
    s.end();
    server.reset("bye"); // while a's DATA and FIN are on the wire
    await link.settle();
    expect(a.isClosed).toBe(false);
    expect(b.isClosed).toBe(false);
    expect(a.openStreams + b.openStreams).toBe(0);
  });
});

describe("mux: GOAWAY and close", () => {
  it("goAway drains: no new streams either way, open ones keep working", async () => {
    const { a, b, link } = pair();
    let server!: MuxStream;
    b.onStream(acceptAll((s) => (server = s)));
    a.onStream(acceptAll(() => {}));
    const s = await a.open("ssh");
    b.goAway("server restarting");
    await link.settle();
    await expect(a.open("tcp:80")).rejects.toMatchObject({ code: "CLOSED", message: expect.stringContaining("peer is going away (server restarting)") });
    await expect(b.open("pty:1")).rejects.toMatchObject({ message: expect.stringContaining("this side is going away") });
    await s.write(text("still works"));
    s.end();
    expect(str(await readAll(server))).toBe("still works");
    server.end();
    await s.closed;
    expect(a.openStreams + b.openStreams).toBe(0);
  });

  it("an OPEN that crosses the GOAWAY is rejected", async () => {
    const { a, b } = pair({ delivery: "macrotask" });
    b.onStream(acceptAll(() => {}));
    const opening = a.open("ssh");
    b.goAway("draining");
    await expect(opening).rejects.toMatchObject({ code: "REJECTED", message: "going away: draining" });
  });

  it("close() fails every stream, pending open and ping on both sides, and resolves closed", async () => {
    const { a, b, link } = pair({ delivery: "macrotask" });
    const accepted: MuxStream[] = [];
    b.onStream(acceptAll((s) => accepted.push(s)));
    const s = await a.open("ssh");
    const reading = s.read();
    const opening = a.open("tcp:1");
    a.close("agent shutting down");
    await expect(reading).rejects.toMatchObject({ code: "CLOSED", message: "mux closed locally: agent shutting down" });
    await expect(opening).rejects.toMatchObject({ code: "CLOSED" });
    await expect(a.ping()).rejects.toMatchObject({ code: "CLOSED" });
    await expect(a.open("x")).rejects.toMatchObject({ code: "CLOSED" });
    expect((await b.closed).message).toBe("mux closed by peer: agent shutting down");
    expect((await accepted[0]!.closed)?.code).toBe("CLOSED");
    await expect(b.control.read()).rejects.toMatchObject({ code: "CLOSED" });
    await link.settle();
    expect(a.openStreams + b.openStreams).toBe(0);
  });

  it("a throwing transport closes the mux instead of throwing to the caller", async () => {
    let fail = false;
    const m = new Mux({
      isInitiator: true,
      send: () => {
        if (fail) throw new Error("socket is closed");
      },
    });
    fail = true;
    await expect(m.open("ssh")).rejects.toMatchObject({ code: "CLOSED", message: "transport send failed: socket is closed" });
    expect((await m.closed).code).toBe("CLOSED");
  });

  it("destroy() (the transport went away) sends nothing", async () => {
    const { a, link } = pair();
    const before = link.sentByA.length;
    a.destroy("websocket closed (1006)");
    expect(link.sentByA.length).toBe(before);
    expect((await a.closed).message).toBe("mux closed: websocket closed (1006)");
  });

  it("accepting after the mux closed gives a failed stream, not an exception", async () => {
    const { a, b, link } = pair();
    let req!: IncomingStream;
    b.onStream((r) => void (req = r));
    void a.open("x").catch(() => {});
    await link.settle();
    b.destroy("gone");
    const s = req.accept();
    expect(s.isClosed).toBe(true);
    await expect(s.read()).rejects.toMatchObject({ code: "CLOSED" });
    expect(b.openStreams).toBe(0);
  });
});
