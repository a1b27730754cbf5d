// Options, defaults and the injected clock of the mux (mux.ts).
import { MAX_WINDOW } from "./mux-frame.js";
import type { MuxStream } from "./mux-stream.js";

/** Time, injected so keepalive tests run on a fake clock. */
export interface MuxClock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: MuxClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = globalThis.setTimeout(fn, ms) as unknown as { unref?: () => void };
    t.unref?.(); // Node: a keepalive timer alone does not keep the process running
    return t;
  },
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
};

export const DEFAULT_WINDOW = 512 * 1024;
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024;
export const DEFAULT_MAX_INCOMING_STREAMS = 1024;
/** Both directions of the control stream (0) start with this window, whatever `window` each side uses. */
export const CONTROL_WINDOW = 256 * 1024;

/** An OPEN from the peer, given to the stream handler: answer it once, now or later. */
export interface IncomingStream {
  readonly id: number;
  readonly kind: string;
  /** Sends OPEN_ACK. If the peer or the mux went away meanwhile, the stream comes back already failed. */
  accept(options?: { window?: number }): MuxStream;
  /** Sends OPEN_REJECT: the opener's open() rejects with this reason. */
  reject(reason: string): void;
}

/** Throwing (or a rejected promise) before answering rejects the stream with the error's message. */
export type StreamHandler = (request: IncomingStream) => void | Promise<void>;

export interface MuxOptions {
  /** Sends one frame as one transport message. May throw: the mux then closes. */
  send(frame: Uint8Array): void;
  /** True on the side that dialed (it opens odd stream ids), false on the other (even ids). */
  isInitiator: boolean;
  /** Receive window of each stream opened or accepted here, bytes. Default 512 KiB. */
  window?: number;
  /** Largest DATA payload sent, bytes. Default 64 KiB. */
  maxFrameSize?: number;
  /** Streams the peer may have open (or opening) at once; more are rejected. Default 1024. */
  maxIncomingStreams?: number;
  /** PING after `intervalMs` without any frame received; the peer is dead after `timeoutMs` without one. */
  keepalive?: { intervalMs: number; timeoutMs: number };
  clock?: MuxClock;
  /** Handler for streams the peer opens; without one they are rejected. Also settable with mux.onStream(). */
  onStream?: StreamHandler;
}

export function checkWindow(window: number): number {
  if (!Number.isInteger(window) || window < 1 || window > MAX_WINDOW) throw new RangeError(`window must be an integer in 1..${MAX_WINDOW}, got ${window}`);
  return window;
}

/**
 * Calls `ping` after `intervalMs` without a received frame and `dead` after `timeoutMs` without one;
 * `lastReceived` is read from the mux at each tick.
 */
export class Keepalive {
  private timer: unknown;

  constructor(
    private readonly clock: MuxClock,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly lastReceived: () => number,
    private readonly ping: () => void,
    private readonly dead: (message: string) => void,
  ) {
    if (!(intervalMs > 0 && timeoutMs > 0)) throw new RangeError("keepalive intervalMs and timeoutMs must be positive");
    this.schedule(intervalMs);
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delay: number): void {
    this.timer = this.clock.setTimeout(() => this.tick(), Math.max(1, delay));
  }

  private tick(): void {
    this.timer = undefined;
    const idle = this.clock.now() - this.lastReceived();
    if (idle >= this.timeoutMs) return this.dead(`peer is unresponsive: no frame for ${Math.round(idle)} ms (keepalive timeout ${this.timeoutMs} ms)`);
    if (idle >= this.intervalMs) this.ping();
    this.schedule(idle < this.intervalMs ? this.intervalMs - idle : Math.min(this.intervalMs, this.timeoutMs - idle));
  }
}

/** @internal What an Incoming needs from its mux. */
export interface IncomingHost {
  acceptIncoming(req: Incoming, window: number): MuxStream;
  rejectIncoming(req: Incoming, reason: string): void;
  readonly defaultWindow: number;
}

/** @internal The IncomingStream given to stream handlers. */
export class Incoming implements IncomingStream {
  answered = false;
  constructor(
    private readonly host: IncomingHost,
    readonly id: number,
    readonly kind: string,
    readonly peerWindow: number,
  ) {}

  accept(options?: { window?: number }): MuxStream {
    if (this.answered) throw new Error(`stream ${this.id} (${this.kind}) was already answered`);
    this.answered = true;
    return this.host.acceptIncoming(this, checkWindow(options?.window ?? this.host.defaultWindow));
  }

  reject(reason: string): void {
    if (this.answered) throw new Error(`stream ${this.id} (${this.kind}) was already answered`);
    this.answered = true;
    this.host.rejectIncoming(this, reason);
  }
}
