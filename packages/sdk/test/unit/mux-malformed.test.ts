// Malformed or out-of-protocol input never throws into the transport's handler: the mux answers
// GOAWAY(PROTOCOL_ERROR) with the reason, fails every stream, and resolves `closed` with the error.
import { describe, expect, it } from "vitest";
import { decodeFrame, encodeOpen, encodeRaw, encodeU32, FrameType, GoAwayCode, MUX_VERSION } from "../../src/mux-frame.js";
import { Mux, type MuxStream } from "../../src/mux.js";
import { acceptAll, pair, rng } from "./mux-pair.js";

/** A non-initiator mux fed raw frames by the test (the test plays a peer that opens odd ids). */
function victim(window = 1024) {
  const sent: Uint8Array[] = [];
  const accepted: MuxStream[] = [];
  const mux = new Mux({ isInitiator: false, window, send: (f) => void sent.push(f), onStream: acceptAll((s) => accepted.push(s)) });
  return { mux, sent, accepted };
}

async function expectProtocolError(v: ReturnType<typeof victim>, frame: Uint8Array, message: RegExp) {
  const reading = v.mux.control.read();
  expect(() => v.mux.receive(frame)).not.toThrow();
  const err = await v.mux.closed;
  expect(err.code).toBe("PROTOCOL");
  expect(err.message).toMatch(message);
  await expect(reading).rejects.toMatchObject({ code: "PROTOCOL" });
  const last = decodeFrame(v.sent.at(-1)!);
  expect(last).toMatchObject({ type: FrameType.GOAWAY, code: GoAwayCode.PROTOCOL_ERROR, reason: err.message });
  expect(v.mux.openStreams).toBe(0);
  // Anything after the teardown is ignored, quietly.
  const count = v.sent.length;
  expect(() => v.mux.receive(encodeRaw(FrameType.PING, 0))).not.toThrow();
  expect(v.sent.length).toBe(count);
}

const withType = (type: number, id: number, payload: number[] = []) => {
  const f = new Uint8Array(6 + payload.length);
  f[0] = MUX_VERSION;
  f[1] = type;
  new DataView(f.buffer).setUint32(2, id);
  f.set(payload, 6);
  return f;
};

describe("mux: malformed frames", () => {
  it.each([
    ["an empty message", new Uint8Array(0), /truncated frame: 0 bytes/],
    ["a truncated header", new Uint8Array([MUX_VERSION, FrameType.DATA, 0]), /truncated frame: 3 bytes/],
    ["another version", withType(FrameType.PING, 0).map((b, i) => (i === 0 ? 99 : b)), /unsupported mux version 99 \(this side speaks version 1\)/],
    ["an unknown frame type", withType(200, 0), /unknown frame type 200/],
    ["DATA on a stream never opened", withType(FrameType.DATA, 7, [1, 2, 3]), /DATA on stream 7, which is not open/],
    ["FIN on a stream never opened", withType(FrameType.FIN, 9), /FIN on stream 9, which is not open/],
    ["an empty DATA frame", withType(FrameType.DATA, 0), /DATA frame on stream 0 has a 0-byte payload/],
    ["a WINDOW_UPDATE of the wrong size", withType(FrameType.WINDOW_UPDATE, 0, [1, 2]), /WINDOW_UPDATE frame on stream 0 has a 2-byte payload, expected 4/],
    ["a zero WINDOW_UPDATE", withType(FrameType.WINDOW_UPDATE, 0, [0, 0, 0, 0]), /zero increment/],
    ["a FIN with a payload", withType(FrameType.FIN, 0, [1]), /FIN frame on stream 0 has a 1-byte payload, expected 0/],
    ["an OPEN without a kind", withType(FrameType.OPEN, 1, [0, 0, 4, 0]), /OPEN frame on stream 1 has a 4-byte payload/],
    ["an OPEN with invalid UTF-8", withType(FrameType.OPEN, 1, [0, 0, 4, 0, 0xff, 0xfe]), /OPEN kind is not valid UTF-8/],
    ["an OPEN with an even id from the initiator", encodeOpen(2, 1024, "ssh"), /OPEN for stream 2: the peer opens odd ids/],
    ["an OPEN for stream 0", encodeOpen(0, 1024, "ssh"), /OPEN frame for stream 0/],
    ["an OPEN_ACK for a stream not being opened", encodeU32(FrameType.OPEN_ACK, 2, 1024), /OPEN_ACK for stream 2, which this side is not opening/],
    ["a PING on a stream", withType(FrameType.PING, 3), /PING frame on stream 3, must be on stream 0/],
    ["a PING with a huge payload", withType(FrameType.PING, 0, new Array(65).fill(0)), /PING frame on stream 0 has a 65-byte payload, expected at most 64/],
    ["a GOAWAY with an unknown code", withType(FrameType.GOAWAY, 0, [9]), /GOAWAY with unknown code 9/],
    ["DATA beyond the control stream's window", encodeRaw(FrameType.DATA, 0, new Uint8Array(256 * 1024 + 1)), /window overflow on stream 0/],
  ])("%s", async (_name, frame, message) => {
    await expectProtocolError(victim(), frame, message);
  });

  it("DATA beyond the credit window tears the mux down", async () => {
    const v = victim(1000);
    v.mux.receive(encodeOpen(1, 1 << 20, "bulk"));
    expect(v.accepted).toHaveLength(1);
    v.mux.receive(encodeRaw(FrameType.DATA, 1, new Uint8Array(600)));
    v.mux.receive(encodeRaw(FrameType.DATA, 1, new Uint8Array(400))); // exactly the window: fine
    expect(v.mux.isClosed).toBe(false);
    await expectProtocolError(v, encodeRaw(FrameType.DATA, 1, new Uint8Array(1)), /window overflow on stream 1: 1 bytes of DATA with 0 bytes of credit left/);
    expect((await v.accepted[0]!.closed)?.code).toBe("PROTOCOL");
  });

  it("a WINDOW_UPDATE that overflows 2^32-1 tears the mux down", async () => {
    const v = victim();
    v.mux.receive(encodeOpen(1, 0xffff_fff0, "bulk"));
    await expectProtocolError(v, encodeU32(FrameType.WINDOW_UPDATE, 1, 0x100), /WINDOW_UPDATE overflows the send window of stream 1/);
  });

  it("stream ids must increase, DATA after FIN and a second FIN are errors", async () => {
    let v = victim();
    v.mux.receive(encodeOpen(5, 1024, "a"));
    await expectProtocolError(v, encodeOpen(3, 1024, "b"), /OPEN for stream 3: ids must increase \(last was 5\)/);
    v = victim();
    v.mux.receive(encodeOpen(1, 1024, "a"));
    v.mux.receive(encodeRaw(FrameType.FIN, 1));
    await expectProtocolError(v, encodeRaw(FrameType.DATA, 1, new Uint8Array(1)), /DATA after FIN on stream 1/);
    v = victim();
    v.mux.receive(encodeOpen(1, 1024, "a"));
    v.mux.receive(encodeRaw(FrameType.FIN, 1));
    await expectProtocolError(v, encodeRaw(FrameType.FIN, 1), /second FIN on stream 1/);
  });

  it("the peer learns why: it closes with the reported protocol error", async () => {
    const { a, b } = pair();
    b.receive(withType(77, 0));
    expect((await b.closed).message).toMatch(/unknown frame type 77/);
    const err = await a.closed;
    expect(err.code).toBe("PROTOCOL");
    expect(err.message).toMatch(/^peer reported a protocol error: unknown frame type 77/);
  });

  it("a handler that accepts twice throws to the handler, not to the transport", async () => {
    const sent: Uint8Array[] = [];
    const mux = new Mux({
      isInitiator: false,
      send: (f) => void sent.push(f),
      onStream: (req) => {
        req.accept();
        req.accept();
      },
    });
    expect(() => mux.receive(encodeOpen(1, 1024, "x"))).not.toThrow();
    expect(mux.isClosed).toBe(false);
    expect(sent.map((f) => decodeFrame(f).type)).toEqual([FrameType.OPEN_ACK]);
  });

  it("survives 3000 random frames without throwing (fuzz)", () => {
    const r = rng(7);
    let closedByProtocol = 0;
    for (let i = 0; i < 3000; i++) {
      const v = victim();
      // Start from a plausible state: one open stream each way.
      v.mux.receive(encodeOpen(1, 4096, "x"));
      void v.mux.open("y").catch(() => {});
      for (let k = 0; k < 4 && !v.mux.isClosed; k++) {
        const f = r.bytes(r.int(0, 24));
        if (r.int(0, 3) > 0 && f.length >= 6) {
          f[0] = MUX_VERSION; // mostly valid headers, to get past the version check
          f[1] = r.int(1, 11);
          f.set([0, 0, 0, r.int(0, 4)], 2);
        }
        expect(() => v.mux.receive(f)).not.toThrow();
      }
      if (v.mux.isClosed) closedByProtocol++;
    }
    expect(closedByProtocol).toBeGreaterThan(600);
  });
});
