// Wire format of the multiplexed stream protocol that runs over the agent's one WebSocket (see
// mux.ts). One transport message (a WebSocket binary message) carries exactly one frame, so frames
// have no length field:
//
//   offset 0  u8      version (MUX_VERSION)
//   offset 1  u8      frame type (FrameType)
//   offset 2  u32 BE  stream id (0 for PING, PONG and GOAWAY; stream 0 is also the control stream)
//   offset 6  ...     payload, by type:
//     OPEN           u32 BE initial window (what the opener may receive) + kind, UTF-8 ("ssh", "tcp:8080")
//     OPEN_ACK       u32 BE initial window (what the acceptor may receive)
//     OPEN_REJECT    reason, UTF-8
//     DATA           bytes (1 .. the sender's credit)
//     WINDOW_UPDATE  u32 BE credit increment (> 0)
//     FIN            empty: the sender will send no more DATA on this stream (half-close)
//     RST            reason, UTF-8: the stream is aborted in both directions
//     PING / PONG    opaque bytes (<= MAX_PING_PAYLOAD); PONG echoes the PING's payload
//     GOAWAY         u8 code (GoAwayCode) + reason, UTF-8
//
// Only Uint8Array/DataView/TextEncoder: this file runs in Node and in the browser.

/** Bumped on any incompatible change of the wire format; a frame with another version is a protocol error. */
export const MUX_VERSION = 1;

export const HEADER_SIZE = 6;
/** Longest stream kind label, in UTF-8 bytes. */
export const MAX_KIND_BYTES = 256;
/** Reasons (reject, reset, goaway) are cut to this many UTF-8 bytes when sent. */
export const MAX_REASON_BYTES = 1024;
export const MAX_PING_PAYLOAD = 64;
export const MAX_WINDOW = 0xffff_ffff;

export const FrameType = {
  OPEN: 1,
  OPEN_ACK: 2,
  OPEN_REJECT: 3,
  DATA: 4,
  WINDOW_UPDATE: 5,
  FIN: 6,
  RST: 7,
  PING: 8,
  PONG: 9,
  GOAWAY: 10,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const GoAwayCode = {
  /** The sender accepts and opens no new streams; existing streams go on. */
  DRAIN: 0,
  /** The sender is closing the mux now: every stream is gone. */
  CLOSE: 1,
  /** The sender found a protocol error in what it received and is closing the mux now. */
  PROTOCOL_ERROR: 2,
} as const;
export type GoAwayCode = (typeof GoAwayCode)[keyof typeof GoAwayCode];

export type Frame =
  | { type: typeof FrameType.OPEN; id: number; window: number; kind: string }
  | { type: typeof FrameType.OPEN_ACK; id: number; window: number }
  | { type: typeof FrameType.OPEN_REJECT; id: number; reason: string }
  | { type: typeof FrameType.DATA; id: number; data: Uint8Array }
  | { type: typeof FrameType.WINDOW_UPDATE; id: number; increment: number }
  | { type: typeof FrameType.FIN; id: number }
  | { type: typeof FrameType.RST; id: number; reason: string }
  | { type: typeof FrameType.PING; id: 0; payload: Uint8Array }
  | { type: typeof FrameType.PONG; id: 0; payload: Uint8Array }
  | { type: typeof FrameType.GOAWAY; id: 0; code: GoAwayCode; reason: string };

export type MuxErrorCode =
  /** The peer sent something this side cannot accept; the mux is torn down. */
  | "PROTOCOL"
  /** The stream was reset (by the peer, or locally). */
  | "RESET"
  /** The peer rejected an OPEN. */
  | "REJECTED"
  /** The mux is closed (locally, by the peer, or because the transport went away). */
  | "CLOSED"
  /** The peer stopped answering (keepalive). */
  | "TIMEOUT";

export class MuxError extends Error {
  override name = "MuxError";
  constructor(
    readonly code: MuxErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const protocolError = (message: string) => new MuxError("PROTOCOL", message);

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 bytes of a reason, cut at a character boundary to at most MAX_REASON_BYTES. */
export function reasonBytes(reason: string): Uint8Array {
  let bytes = encoder.encode(reason);
  if (bytes.length <= MAX_REASON_BYTES) return bytes;
  let end = MAX_REASON_BYTES;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // do not split a multi-byte character
  bytes = bytes.subarray(0, end);
  return bytes;
}

function frame(type: FrameType, id: number, payloadLength: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(HEADER_SIZE + payloadLength);
  const view = new DataView(bytes.buffer);
  bytes[0] = MUX_VERSION;
  bytes[1] = type;
  view.setUint32(2, id);
  return { bytes, view };
}

/** A frame with a raw payload (DATA, PING, PONG, FIN with an empty one). The payload is copied. */
export function encodeRaw(type: FrameType, id: number, payload?: Uint8Array): Uint8Array {
  const { bytes } = frame(type, id, payload?.length ?? 0);
  if (payload) bytes.set(payload, HEADER_SIZE);
  return bytes;
}

/** A frame whose payload is one u32 (OPEN_ACK, WINDOW_UPDATE), optionally followed by bytes (OPEN). */
export function encodeU32(type: FrameType, id: number, value: number, tail?: Uint8Array): Uint8Array {
  const { bytes, view } = frame(type, id, 4 + (tail?.length ?? 0));
  view.setUint32(HEADER_SIZE, value);
  if (tail) bytes.set(tail, HEADER_SIZE + 4);
  return bytes;
}

export function u32Bytes(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

export const encodeOpen = (id: number, window: number, kind: string) => encodeU32(FrameType.OPEN, id, window, encoder.encode(kind));
export const encodeReason = (type: FrameType, id: number, reason: string) => encodeRaw(type, id, reasonBytes(reason));

export function encodeGoAway(code: GoAwayCode, reason: string): Uint8Array {
  const text = reasonBytes(reason);
  const { bytes } = frame(FrameType.GOAWAY, 0, 1 + text.length);
  bytes[HEADER_SIZE] = code;
  bytes.set(text, HEADER_SIZE + 1);
  return bytes;
}

function utf8(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw protocolError(`${what} is not valid UTF-8`);
  }
}

const TYPE_NAMES = Object.fromEntries(Object.entries(FrameType).map(([name, value]) => [value, name])) as Record<number, string>;
export const frameTypeName = (type: number) => TYPE_NAMES[type] ?? `unknown(${type})`;

/**
 * Parses one frame. Throws a MuxError with code PROTOCOL for anything malformed: a short header, another
 * version, an unknown type, a payload of the wrong size for its type, invalid UTF-8. The returned DATA,
 * PING and PONG payloads are views into `bytes` (not copies).
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.length < HEADER_SIZE) throw protocolError(`truncated frame: ${bytes.length} bytes, the header alone is ${HEADER_SIZE}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[0]!;
  if (version !== MUX_VERSION) throw protocolError(`unsupported mux version ${version} (this side speaks version ${MUX_VERSION})`);
  const type = bytes[1]!;
  const id = view.getUint32(2);
  const payload = bytes.subarray(HEADER_SIZE);
  const name = frameTypeName(type);
  const size = (ok: boolean, expected: string) => {
    if (!ok) throw protocolError(`${name} frame on stream ${id} has a ${payload.length}-byte payload, expected ${expected}`);
  };
  const u32 = () => view.getUint32(HEADER_SIZE);
  const controlOnly = () => {
    if (id !== 0) throw protocolError(`${name} frame on stream ${id}, must be on stream 0`);
  };
  switch (type) {
    case FrameType.OPEN: {
      size(payload.length >= 5 && payload.length <= 4 + MAX_KIND_BYTES, `4 + 1..${MAX_KIND_BYTES}`);
      if (id === 0) throw protocolError("OPEN frame for stream 0 (the control stream is always open)");
      return { type, id, window: u32(), kind: utf8(payload.subarray(4), "OPEN kind") };
    }
    case FrameType.OPEN_ACK:
      size(payload.length === 4, "4");
      return { type, id, window: u32() };
    case FrameType.OPEN_REJECT:
      return { type, id, reason: utf8(payload, "OPEN_REJECT reason") };
    case FrameType.DATA:
      size(payload.length > 0, "at least 1");
      return { type, id, data: payload };
    case FrameType.WINDOW_UPDATE: {
      size(payload.length === 4, "4");
      const increment = u32();
      if (increment === 0) throw protocolError(`WINDOW_UPDATE with a zero increment on stream ${id}`);
      return { type, id, increment };
    }
    case FrameType.FIN:
      size(payload.length === 0, "0");
      return { type, id };
    case FrameType.RST:
      return { type, id, reason: utf8(payload, "RST reason") };
    case FrameType.PING:
    case FrameType.PONG:
      controlOnly();
      size(payload.length <= MAX_PING_PAYLOAD, `at most ${MAX_PING_PAYLOAD}`);
      return { type, id: 0, payload };
    case FrameType.GOAWAY: {
      controlOnly();
      size(payload.length >= 1, "at least 1");
      const code = payload[0]!;
      if (code !== GoAwayCode.DRAIN && code !== GoAwayCode.CLOSE && code !== GoAwayCode.PROTOCOL_ERROR) throw protocolError(`GOAWAY with unknown code ${code}`);
      return { type, id: 0, code, reason: utf8(payload.subarray(1), "GOAWAY reason") };
    }
    default:
      throw protocolError(`unknown frame type ${type} on stream ${id} (mux version ${MUX_VERSION})`);
  }
}
