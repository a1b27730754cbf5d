// Test harness for the mux tests: two Mux instances wired back to back in memory, a fake clock, and
// small helpers. Not a test file itself.
import { Mux, type MuxClock, type MuxOptions, type MuxStream } from "../../src/mux.js";

export type Delivery = "sync" | "microtask" | "macrotask";

export interface Link {
  /** Frames sent by each side, as delivered (for inspection). */
  sentByA: Uint8Array[];
  sentByB: Uint8Array[];
  /** Drops every frame from now on in both directions (a dead network). */
  cut(): void;
  /** Waits until every queued frame was delivered, and the promise reactions they caused ran. */
  settle(): Promise<void>;
}

/**
 * A is the initiator (odd ids), B the other side. `delivery` picks how a frame reaches the peer:
 * synchronously inside send() (re-entrant), on a microtask, or on a macrotask (a network).
 */
export function pair(opts: { a?: Partial<MuxOptions>; b?: Partial<MuxOptions>; delivery?: Delivery } = {}): { a: Mux; b: Mux; link: Link } {
  const delivery = opts.delivery ?? "microtask";
  let cut = false;
  let inFlight = 0;
  const sentByA: Uint8Array[] = [];
  const sentByB: Uint8Array[] = [];
  const deliver = (to: () => Mux, frame: Uint8Array) => {
    if (cut) return;
    if (delivery === "sync") return to().receive(frame);
    inFlight++;
    const run = () => {
      inFlight--;
      if (!cut) to().receive(frame);
    };
    if (delivery === "microtask") queueMicrotask(run);
    else setTimeout(run, 0);
  };
  const a: Mux = new Mux({
    isInitiator: true,
    ...opts.a,
    send: (f) => {
      sentByA.push(f);
      deliver(() => b, f);
    },
  });
  const b: Mux = new Mux({
    isInitiator: false,
    ...opts.b,
    send: (f) => {
      sentByB.push(f);
      deliver(() => a, f);
    },
  });
  return {
    a,
    b,
    link: {
      sentByA,
      sentByB,
      cut: () => void (cut = true),
      settle: async () => {
        // Several rounds: a delivered frame can cause replies (ACK, WINDOW_UPDATE) and promise reactions.
        for (let quiet = 0; quiet < 3; ) {
          await new Promise((r) => setTimeout(r, 0));
          quiet = inFlight === 0 ? quiet + 1 : 0;
        }
      },
    },
  };
}

/** A clock whose time moves only with advance(). */
export class FakeClock implements MuxClock {
  private t: number;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  /** Also the agent's tests' clock (same shape as its AgentClock). */
  constructor(start = 1000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward, firing due timers in order (timers set while firing included). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

/** Deterministic pseudo-random bytes and numbers (xorshift32), so failures reproduce. */
export function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return {
    int: (min: number, max: number) => min + (next() % (max - min + 1)),
    bytes: (n: number) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = next() & 0xff;
      return b;
    },
  };
}

/** FNV-1a over a sequence of chunks, for checksums. */
export function fnv(chunks: Uint8Array[]): number {
  let h = 0x811c9dc5;
  for (const c of chunks) for (let i = 0; i < c.length; i++) h = Math.imul(h ^ c[i]!, 0x01000193) >>> 0;
  return h;
}

export async function readAll(s: MuxStream): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of s) out.push(c);
  return out;
}

export const total = (chunks: Uint8Array[]) => chunks.reduce((n, c) => n + c.length, 0);

export const text = (s: string) => new TextEncoder().encode(s);
export const str = (chunks: Uint8Array[]) => new TextDecoder().decode(concat(chunks));

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(total(chunks));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** A handler that accepts every stream and hands it to `onAccept`. */
export const acceptAll = (onAccept: (s: MuxStream) => void) => (req: { accept(): MuxStream }) => onAccept(req.accept());
