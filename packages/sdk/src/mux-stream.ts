// One stream of the mux (mux.ts): an ordered, reliable, flow-controlled byte stream in each direction,
// half-closable like TCP. Credit: the sender never has more than the receiver's window in flight; the
// receiver returns credit (WINDOW_UPDATE) when its reader CONSUMES data (read() / the async iterator),
// not when data arrives, so a reader that stops reading stops the writer after one window.
import { encodeRaw, encodeU32, encodeReason, FrameType, MAX_WINDOW, MuxError } from "./mux-frame.js";

/** What a stream needs from its mux. */
export interface StreamHost {
  /** Sends a frame; never throws (a failing transport tears the mux down, which fails this stream). */
  sendFrame(frame: Uint8Array): void;
  readonly maxFrameSize: number;
  /** Called once when the stream leaves the mux's table (both FINs exchanged, or reset, or mux closed). */
  streamClosed(stream: MuxStream): void;
}

interface PendingWrite {
  data: Uint8Array;
  offset: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class MuxStream implements AsyncIterable<Uint8Array> {
  /**
   * Resolves once the stream is closed in both directions: `undefined` after a clean close (FIN sent and
   * FIN received), the error after a reset or the mux closing. Never rejects. Data already received
   * stays readable after a clean close.
   */
  readonly closed: Promise<MuxError | undefined>;
  private resolveClosed!: (err: MuxError | undefined) => void;

  // Write side.
  private sendCredit: number;
  private readonly queue: PendingWrite[] = [];
  private queued = 0;
  private flushing = false;
  private endRequested = false;
  private finSent = false;

  // Read side.
  private recvCredit: number;
  private ungranted = 0;
  private readonly grantThreshold: number;
  private chunks: Uint8Array[] = [];
  private head = 0;
  private buffered = 0;
  private finReceived = false;
  private waiter: { resolve: (chunk: Uint8Array | null) => void; reject: (err: Error) => void } | undefined;

  private error: MuxError | undefined;
  private done = false;

  /** @internal Created by the mux. `window` is this side's receive window, `peerWindow` the peer's. */
  constructor(
    private readonly host: StreamHost,
    /** Stream id: odd when opened by the initiator, even (and 0 for the control stream) by the other side. */
    readonly id: number,
    /** The label the opener gave: "ssh", "pty:ID", "tcp:8080"; "control" for stream 0. */
    readonly kind: string,
    readonly window: number,
    peerWindow: number,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.sendCredit = peerWindow;
    this.recvCredit = window;
    this.grantThreshold = Math.max(1, Math.floor(window / 4));
  }

  /** Bytes given to write() and not yet sent (waiting for credit). */
  get writableLength(): number {
    return this.queued;
  }

  /** Bytes received and not yet read. Never more than the window. */
  get readableLength(): number {
    return this.buffered;
  }

  /** True once the stream has left the mux (cleanly closed or failed). */
  get isClosed(): boolean {
    return this.done;
  }

  /**
   * Queues `data` (no copy is kept after the promise settles: frames are copies). Resolves when the last
   * byte has been sent within the peer's credit window: awaiting each write is the backpressure. Rejects
   * after end(), or when the stream is reset or the mux closes before the data went out.
   */
  write(data: Uint8Array): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.endRequested) return Promise.reject(new MuxError("CLOSED", `write after end on stream ${this.id} (${this.kind})`));
    if (data.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ data, offset: 0, resolve, reject });
      this.queued += data.length;
      this.flush();
    });
  }

  /** Half-close: sends FIN after every queued write. Reading goes on until the peer ends its side. */
  end(): void {
    if (this.error || this.endRequested) return;
    this.endRequested = true;
    this.flush();
  }

  /** Aborts both directions: pending writes and reads reject, buffered data is dropped, the peer gets RST. */
  reset(reason = "reset"): void {
    if (this.done) return;
    this.host.sendFrame(encodeReason(FrameType.RST, this.id, reason));
    this.fail(new MuxError("RESET", `stream ${this.id} (${this.kind}) reset locally: ${reason}`));
  }

  /**
   * The next chunk, or null at the end of the stream (the peer sent FIN and everything was read).
   * Rejects when the stream was reset or the mux closed. One read at a time.
   */
  read(): Promise<Uint8Array | null> {
    if (this.error) return Promise.reject(this.error);
    if (this.waiter) return Promise.reject(new Error(`read() on stream ${this.id} while another read() is pending`));
    const chunk = this.take();
    if (chunk || this.finReceived) return Promise.resolve(chunk);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return;
      yield chunk;
    }
  }

  private take(): Uint8Array | null {
    if (this.head === this.chunks.length) return null;
    const chunk = this.chunks[this.head]!;
    this.chunks[this.head++] = EMPTY;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    }
    this.buffered -= chunk.length;
    this.consumed(chunk.length);
    return chunk;
  }

  /** Credit follows consumption: returned to the peer in batches of a quarter window. */
  private consumed(n: number): void {
    if (this.finReceived || this.done) return; // the peer sends nothing more: no credit needed
    this.ungranted += n;
    if (this.ungranted < this.grantThreshold) return;
    const grant = this.ungranted;
    this.ungranted = 0;
    this.recvCredit += grant;
    this.host.sendFrame(encodeU32(FrameType.WINDOW_UPDATE, this.id, grant));
  }

  private flush(): void {
    if (this.flushing) return; // re-entered from sendFrame (a synchronous transport): the outer loop goes on
    this.flushing = true;
    try {
      const max = this.host.maxFrameSize;
      while (!this.error && this.queue.length > 0 && this.sendCredit > 0) {
        const w = this.queue[0]!;
        const n = Math.min(this.sendCredit, max, w.data.length - w.offset);
        this.sendCredit -= n;
        this.queued -= n;
        const start = w.offset;
        w.offset += n;
        if (w.offset === w.data.length) {
          this.queue.shift();
          w.resolve();
        }
        this.host.sendFrame(encodeRaw(FrameType.DATA, this.id, w.data.subarray(start, start + n)));
      }
      if (!this.error && this.endRequested && !this.finSent && this.queue.length === 0) {
        this.finSent = true;
        this.host.sendFrame(encodeRaw(FrameType.FIN, this.id));
        this.maybeDone();
      }
    } finally {
      this.flushing = false;
    }
  }

  private maybeDone(): void {
    if (this.done || !this.finSent || !this.finReceived) return;
    this.done = true;
    this.host.streamClosed(this);
    this.resolveClosed(undefined);
  }

  /** @internal DATA from the peer. Throws a PROTOCOL MuxError when the peer broke the rules. */
  onData(data: Uint8Array): void {
    if (this.done) return; // reset locally while this was in flight
    if (this.finReceived) throw new MuxError("PROTOCOL", `DATA after FIN on stream ${this.id}`);
    if (data.length > this.recvCredit) {
      throw new MuxError("PROTOCOL", `window overflow on stream ${this.id}: ${data.length} bytes of DATA with ${this.recvCredit} bytes of credit left`);
    }
    this.recvCredit -= data.length;
    const waiter = this.waiter;
    if (waiter && this.buffered === 0) {
      this.waiter = undefined;
      this.consumed(data.length);
      waiter.resolve(data);
      return;
    }
    this.chunks.push(data);
    this.buffered += data.length;
  }

  /** @internal */
  onWindowUpdate(increment: number): void {
    if (this.done) return;
    if (this.sendCredit + increment > MAX_WINDOW) throw new MuxError("PROTOCOL", `WINDOW_UPDATE overflows the send window of stream ${this.id}`);
    this.sendCredit += increment;
    this.flush();
  }

  /** @internal */
  onFin(): void {
    if (this.done) return;
    if (this.finReceived) throw new MuxError("PROTOCOL", `second FIN on stream ${this.id}`);
    this.finReceived = true;
    const waiter = this.waiter;
    if (waiter && this.buffered === 0) {
      this.waiter = undefined;
      waiter.resolve(null);
    }
    this.maybeDone();
  }

  /** @internal The peer reset the stream. */
  onReset(reason: string): void {
    this.fail(new MuxError("RESET", `stream ${this.id} (${this.kind}) reset by peer: ${reason}`));
  }

  /** @internal Reset, or the mux closed: everything pending rejects and the stream leaves the mux. */
  fail(err: MuxError): void {
    if (this.done) return;
    this.done = true;
    this.error = err;
    this.chunks = [];
    this.head = 0;
    this.buffered = 0;
    this.queued = 0;
    for (const w of this.queue.splice(0)) w.reject(err);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(err);
    this.host.streamClosed(this);
    this.resolveClosed(err);
  }
}

const EMPTY = new Uint8Array(0);
