// The wire format, byte for byte (mux-frame.ts documents it): a change here is a MUX_VERSION bump.
import { describe, expect, it } from "vitest";
import {
  decodeFrame,
  encodeGoAway,
  encodeOpen,
  encodeRaw,
  encodeReason,
  encodeU32,
  FrameType,
  GoAwayCode,
  MAX_REASON_BYTES,
  MUX_VERSION,
  reasonBytes,
} from "../../src/mux-frame.js";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");

describe("mux frames", () => {
  it("is version 1", () => {
    expect(MUX_VERSION).toBe(1);
  });

  it("lays out header and payloads as documented", () => {
    expect(hex(encodeOpen(1, 0x40000, "ssh"))).toBe("01 01 00 00 00 01 00 04 00 00 73 73 68");
    expect(hex(encodeU32(FrameType.OPEN_ACK, 2, 0x10000))).toBe("01 02 00 00 00 02 00 01 00 00");
    expect(hex(encodeReason(FrameType.OPEN_REJECT, 3, "no"))).toBe("01 03 00 00 00 03 6e 6f");
    expect(hex(encodeRaw(FrameType.DATA, 0x01020304, new Uint8Array([9, 8])))).toBe("01 04 01 02 03 04 09 08");
    expect(hex(encodeU32(FrameType.WINDOW_UPDATE, 5, 1))).toBe("01 05 00 00 00 05 00 00 00 01");
    expect(hex(encodeRaw(FrameType.FIN, 5))).toBe("01 06 00 00 00 05");
    expect(hex(encodeReason(FrameType.RST, 5, "x"))).toBe("01 07 00 00 00 05 78");
    expect(hex(encodeRaw(FrameType.PING, 0, new Uint8Array([0, 0, 0, 7])))).toBe("01 08 00 00 00 00 00 00 00 07");
    expect(hex(encodeGoAway(GoAwayCode.CLOSE, "bye"))).toBe("01 0a 00 00 00 00 01 62 79 65");
  });

  it("decodes what it encodes", () => {
    expect(decodeFrame(encodeOpen(7, 123456, "tcp:8080"))).toEqual({ type: FrameType.OPEN, id: 7, window: 123456, kind: "tcp:8080" });
    expect(decodeFrame(encodeU32(FrameType.OPEN_ACK, 8, 99))).toEqual({ type: FrameType.OPEN_ACK, id: 8, window: 99 });
    expect(decodeFrame(encodeReason(FrameType.OPEN_REJECT, 9, "nothing listens on 127.0.0.1:8080"))).toEqual({
      type: FrameType.OPEN_REJECT,
      id: 9,
      reason: "nothing listens on 127.0.0.1:8080",
    });
    const data = decodeFrame(encodeRaw(FrameType.DATA, 0xffff_ffff, new Uint8Array([1, 2, 3])));
    expect(data).toMatchObject({ type: FrameType.DATA, id: 0xffff_ffff });
    expect(Array.from((data as { data: Uint8Array }).data)).toEqual([1, 2, 3]);
    expect(decodeFrame(encodeU32(FrameType.WINDOW_UPDATE, 1, 0xffff_ffff))).toEqual({ type: FrameType.WINDOW_UPDATE, id: 1, increment: 0xffff_ffff });
    expect(decodeFrame(encodeRaw(FrameType.FIN, 3))).toEqual({ type: FrameType.FIN, id: 3 });
    expect(decodeFrame(encodeReason(FrameType.RST, 3, "ünïcödé ✓"))).toEqual({ type: FrameType.RST, id: 3, reason: "ünïcödé ✓" });
    expect(decodeFrame(encodeGoAway(GoAwayCode.DRAIN, ""))).toEqual({ type: FrameType.GOAWAY, id: 0, code: GoAwayCode.DRAIN, reason: "" });
  });

  it("decodes from a view into a larger buffer (a Node Buffer from a pool)", () => {
    const frame = encodeU32(FrameType.WINDOW_UPDATE, 5, 77);
    const pool = new Uint8Array(100);
    pool.set(frame, 33);
    expect(decodeFrame(pool.subarray(33, 33 + frame.length))).toEqual({ type: FrameType.WINDOW_UPDATE, id: 5, increment: 77 });
  });

  it("copies the payload (the caller may reuse its buffer)", () => {
    const payload = new Uint8Array([1, 2, 3]);
    const frame = encodeRaw(FrameType.DATA, 1, payload);
    payload.fill(0);
    expect(Array.from(frame.subarray(6))).toEqual([1, 2, 3]);
  });

  it("cuts long reasons at a character boundary", () => {
    const bytes = reasonBytes("€".repeat(1000)); // 3 bytes each
    expect(bytes.length).toBeLessThanOrEqual(MAX_REASON_BYTES);
    expect(bytes.length).toBe(1023);
    expect(new TextDecoder("utf-8", { fatal: true }).decode(bytes)).toBe("€".repeat(341));
    expect(reasonBytes("short").length).toBe(5);
  });
});
