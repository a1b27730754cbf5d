// The multiplexed stream protocol over the agent's one WebSocket (DESIGN.md, "Agent and connections").
// Transport-agnostic: the owner passes `send` and feeds every received message to `receive`; one
// message is one frame (mux-frame.ts has the wire format). Streams are MuxStream (mux-stream.ts).
//
// - Stream 0 (`mux.control`) exists from the start on both sides: the JSON RPC channel.
// - Other streams are opened by either side with a kind label ("ssh", "pty:ID", "tcp:8080"): odd ids
//   by the initiator (the agent, which dialed), even ids by the other side, so ids never collide.
// - Malformed input never throws out of receive(): the mux sends GOAWAY(PROTOCOL_ERROR), fails every
//   stream and resolves `closed` with the error.
import { decodeFrame, encodeGoAway, encodeOpen, encodeRaw, encodeReason, encodeU32, FrameType, frameTypeName, GoAwayCode, u32Bytes } from "./mux-frame.js";
import { MAX_KIND_BYTES, MAX_WINDOW, MuxError, type Frame } from "./mux-frame.js";
import { MuxStream, type StreamHost } from "./mux-stream.js";
import { checkWindow, CONTROL_WINDOW, DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_INCOMING_STREAMS, DEFAULT_WINDOW, Keepalive, systemClock } from "./mux-options.js";
import { Incoming, type IncomingHost, type MuxClock, type MuxOptions, type StreamHandler } from "./mux-options.js";

type PendingOpen = { kind: string; window: number; resolve: (s: MuxStream) => void; reject: (e: MuxError) => void };
type PendingPing = { start: number; resolve: (rtt: number) => void; reject: (e: MuxError) => void };

const KEEPALIVE_SEQ = 0;

export class Mux implements StreamHost, IncomingHost {
  /** Stream 0, open from the start on both sides (JSON RPC). Not counted in `openStreams`. */
  readonly control: MuxStream;
  /** Resolves once, with why the mux closed (code CLOSED, PROTOCOL or TIMEOUT). Never rejects. */
  readonly closed: Promise<MuxError>;
  readonly maxFrameSize: number;

  private readonly send: (frame: Uint8Array) => void;
  private readonly isInitiator: boolean;
  private readonly window: number;
  private readonly maxIncoming: number;
  private readonly clock: MuxClock;
  private handler: StreamHandler | undefined;
  private readonly streams = new Map<number, MuxStream>();
  private readonly opening = new Map<number, PendingOpen>();
  private readonly incoming = new Map<number, Incoming>();
  private readonly pings = new Map<number, PendingPing>();
  private nextId: number;
  private lastPeerId = 0;
  private pingSeq = KEEPALIVE_SEQ;
  private goAwaySent: string | undefined;
  private goAwayReceived: string | undefined;
  private closeError: MuxError | undefined;
  private resolveClosed!: (e: MuxError) => void;
  private lastReceived: number;
  private readonly keepalive: Keepalive | undefined;

  constructor(options: MuxOptions) {
    this.send = options.send;
    this.isInitiator = options.isInitiator;
    this.window = checkWindow(options.window ?? DEFAULT_WINDOW);
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (!Number.isInteger(this.maxFrameSize) || this.maxFrameSize < 1) throw new RangeError(`maxFrameSize must be a positive integer, got ${this.maxFrameSize}`);
    this.maxIncoming = options.maxIncomingStreams ?? DEFAULT_MAX_INCOMING_STREAMS;
    this.clock = options.clock ?? systemClock;
    this.handler = options.onStream;
    this.nextId = this.isInitiator ? 1 : 2;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.control = new MuxStream(this, 0, "control", CONTROL_WINDOW, CONTROL_WINDOW);
    this.streams.set(0, this.control);
    this.lastReceived = this.clock.now();
    const ka = options.keepalive;
    this.keepalive = ka
      ? new Keepalive(
          this.clock,
          ka.intervalMs,
          ka.timeoutMs,
          () => this.lastReceived,
          () => this.sendFrame(encodeRaw(FrameType.PING, 0, u32Bytes(KEEPALIVE_SEQ))),
          (message) => this.teardown(new MuxError("TIMEOUT", message)),
        )
      : undefined;
  }

  /** Streams open or being opened in either direction, stream 0 excluded: 0 when nothing leaks. */
  get openStreams(): number {
    return this.streams.size - (this.streams.has(0) ? 1 : 0) + this.opening.size + this.incoming.size;
  }

  get isClosed(): boolean {
    return this.closeError !== undefined;
  }

  /** Sets the handler for streams the peer opens (replaces the one given in the options). */
  onStream(handler: StreamHandler): void {
    this.handler = handler;
  }

  /** Opens a stream; rejects with code REJECTED and the peer's reason when the peer refuses it. */
  open(kind: string, options?: { window?: number }): Promise<MuxStream> {
    if (this.closeError) return Promise.reject(this.closeError);
    if (this.goAwayReceived !== undefined) return Promise.reject(new MuxError("CLOSED", `cannot open "${kind}": the peer is going away (${this.goAwayReceived})`));
    if (this.goAwaySent !== undefined) return Promise.reject(new MuxError("CLOSED", `cannot open "${kind}": this side is going away (${this.goAwaySent})`));
    const kindBytes = new TextEncoder().encode(kind).length;
    if (kindBytes < 1 || kindBytes > MAX_KIND_BYTES) return Promise.reject(new RangeError(`stream kind must be 1..${MAX_KIND_BYTES} bytes of UTF-8, got ${kindBytes}`));
    if (this.nextId > MAX_WINDOW) return Promise.reject(new MuxError("CLOSED", "stream ids exhausted: reconnect"));
    const window = checkWindow(options?.window ?? this.window);
    const id = this.nextId;
    this.nextId += 2;
    return new Promise<MuxStream>((resolve, reject) => {
      this.opening.set(id, { kind, window, resolve, reject });
      this.sendFrame(encodeOpen(id, window, kind));
    });
  }

  /** Round trip time of a PING, in milliseconds of the clock. Rejects if the mux closes first. */
  ping(): Promise<number> {
    if (this.closeError) return Promise.reject(this.closeError);
    const seq = (this.pingSeq = (this.pingSeq % 0xffff_fffe) + 1);
    return new Promise<number>((resolve, reject) => {
      this.pings.set(seq, { start: this.clock.now(), resolve, reject });
      this.sendFrame(encodeRaw(FrameType.PING, 0, u32Bytes(seq)));
    });
  }

  /** GOAWAY (drain): neither side opens new streams from now on; open streams go on. */
  goAway(reason = "going away"): void {
    if (this.closeError || this.goAwaySent !== undefined) return;
    this.goAwaySent = reason;
    this.sendFrame(encodeGoAway(GoAwayCode.DRAIN, reason));
  }

  /** Tells the peer (GOAWAY close) and fails every stream. The owner then closes the transport. */
  close(reason = "closed"): void {
    if (this.closeError) return;
    this.sendFrame(encodeGoAway(GoAwayCode.CLOSE, reason));
    this.teardown(new MuxError("CLOSED", `mux closed locally: ${reason}`));
  }

  /** The transport is gone (e.g. the WebSocket closed): fails every stream, sends nothing. */
  destroy(reason = "transport closed"): void {
    this.teardown(new MuxError("CLOSED", `mux closed: ${reason}`));
  }

  /** Feeds one received transport message. Never throws. */
  receive(frame: Uint8Array): void {
    if (this.closeError) return;
    this.lastReceived = this.clock.now();
    try {
      this.dispatch(decodeFrame(frame));
    } catch (err) {
      const e = err instanceof MuxError && err.code === "PROTOCOL" ? err : new MuxError("PROTOCOL", `error while handling a frame: ${(err as Error)?.message ?? err}`);
      if (this.closeError) return;
      this.sendFrame(encodeGoAway(GoAwayCode.PROTOCOL_ERROR, e.message));
      this.teardown(e);
    }
  }

  /** @internal StreamHost */
  sendFrame(frame: Uint8Array): void {
    if (this.closeError) return;
    try {
      this.send(frame);
    } catch (err) {
      this.teardown(new MuxError("CLOSED", `transport send failed: ${(err as Error)?.message ?? err}`));
    }
  }

  /** @internal StreamHost */
  streamClosed(stream: MuxStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
  }

  private dispatch(f: Frame): void {
    switch (f.type) {
      case FrameType.OPEN:
        return this.onOpen(f.id, f.window, f.kind);
      case FrameType.OPEN_ACK:
      case FrameType.OPEN_REJECT: {
        const p = this.opening.get(f.id);
        if (!p) throw new MuxError("PROTOCOL", `${frameTypeName(f.type)} for stream ${f.id}, which this side is not opening`);
        this.opening.delete(f.id);
        if (f.type === FrameType.OPEN_REJECT) return p.reject(new MuxError("REJECTED", f.reason));
        const s = new MuxStream(this, f.id, p.kind, p.window, f.window);
        this.streams.set(f.id, s);
        return p.resolve(s);
      }
      case FrameType.DATA:
      case FrameType.WINDOW_UPDATE:
      case FrameType.FIN:
      case FrameType.RST: {
        const s = this.streams.get(f.id);
        if (s) {
          if (f.type === FrameType.DATA) return s.onData(f.data);
          if (f.type === FrameType.WINDOW_UPDATE) return s.onWindowUpdate(f.increment);
          if (f.type === FrameType.FIN) return s.onFin();
          return s.onReset(f.reason);
        }
        const req = this.incoming.get(f.id);
        if (req && f.type === FrameType.RST) return void this.incoming.delete(f.id); // opener gave up before our answer
        if (this.existed(f.id) && !req) return; // a frame that crossed our RST or close: harmless
        throw new MuxError("PROTOCOL", `${frameTypeName(f.type)} on stream ${f.id}, which is not open`);
      }
      case FrameType.PING:
        return this.sendFrame(encodeRaw(FrameType.PONG, 0, f.payload));
      case FrameType.PONG: {
        if (f.payload.length !== 4) return;
        const seq = new DataView(f.payload.buffer, f.payload.byteOffset, 4).getUint32(0);
        const p = this.pings.get(seq);
        if (!p) return;
        this.pings.delete(seq);
        return p.resolve(this.clock.now() - p.start);
      }
      case FrameType.GOAWAY:
        if (f.code === GoAwayCode.DRAIN) return void (this.goAwayReceived = f.reason);
        if (f.code === GoAwayCode.CLOSE) return this.teardown(new MuxError("CLOSED", `mux closed by peer: ${f.reason}`));
        return this.teardown(new MuxError("PROTOCOL", `peer reported a protocol error: ${f.reason}`));
    }
  }

  private onOpen(id: number, peerWindow: number, kind: string): void {
    const peerParity = this.isInitiator ? 0 : 1;
    if (id % 2 !== peerParity) throw new MuxError("PROTOCOL", `OPEN for stream ${id}: the peer opens ${peerParity ? "odd" : "even"} ids`);
    if (id <= this.lastPeerId) throw new MuxError("PROTOCOL", `OPEN for stream ${id}: ids must increase (last was ${this.lastPeerId})`);
    this.lastPeerId = id;
    const refuse = (reason: string) => this.sendFrame(encodeReason(FrameType.OPEN_REJECT, id, reason));
    if (this.goAwaySent !== undefined) return refuse(`going away: ${this.goAwaySent}`);
    if (!this.handler) return refuse(`no handler for incoming streams (kind "${kind}")`);
    let peerOpen = this.incoming.size;
    for (const sid of this.streams.keys()) if (sid % 2 === peerParity && sid !== 0) peerOpen++;
    if (peerOpen >= this.maxIncoming) return refuse(`too many streams (limit ${this.maxIncoming})`);
    const req = new Incoming(this, id, kind, peerWindow);
    this.incoming.set(id, req);
    const refuseWith = (err: unknown) => {
      if (!req.answered) req.reject((err as Error)?.message ?? String(err));
    };
    try {
      Promise.resolve(this.handler(req)).catch(refuseWith);
    } catch (err) {
      refuseWith(err);
    }
  }

  /** @internal IncomingHost */
  acceptIncoming(req: Incoming, window: number): MuxStream {
    const s = new MuxStream(this, req.id, req.kind, window, req.peerWindow);
    if (this.incoming.get(req.id) !== req) {
      s.fail(this.closeError ?? new MuxError("RESET", `stream ${req.id} (${req.kind}) was reset by the peer before it was accepted`));
      return s;
    }
    this.incoming.delete(req.id);
    this.streams.set(req.id, s);
    this.sendFrame(encodeU32(FrameType.OPEN_ACK, req.id, window));
    return s;
  }

  /** @internal IncomingHost */
  rejectIncoming(req: Incoming, reason: string): void {
    if (this.incoming.get(req.id) !== req) return;
    this.incoming.delete(req.id);
    this.sendFrame(encodeReason(FrameType.OPEN_REJECT, req.id, reason));
  }

  /** @internal IncomingHost */
  get defaultWindow(): number {
    return this.window;
  }

  /** Whether stream `id` was ever opened (by either side): frames for it after it closed are ignored. */
  private existed(id: number): boolean {
    if (id === 0) return true;
    const ours = id % 2 === (this.isInitiator ? 1 : 0);
    return ours ? id < this.nextId : id <= this.lastPeerId;
  }

  private teardown(err: MuxError): void {
    if (this.closeError) return;
    this.closeError = err;
    this.keepalive?.stop();
    for (const s of [...this.streams.values()]) s.fail(err);
    this.streams.clear();
    for (const p of this.opening.values()) p.reject(err);
    this.opening.clear();
    this.incoming.clear();
    for (const p of this.pings.values()) p.reject(err);
    this.pings.clear();
    this.resolveClosed(err);
  }
}

export { MuxError, MUX_VERSION, GoAwayCode } from "./mux-frame.js";
export { MuxStream } from "./mux-stream.js";
export { CONTROL_WINDOW, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, systemClock } from "./mux-options.js";
export type { IncomingStream, MuxClock, MuxOptions, StreamHandler } from "./mux-options.js";
