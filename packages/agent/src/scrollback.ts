// A terminal's recent output (64 KiB by default, like coder's reconnecting PTY): a ring buffer that
// keeps the last `capacity` bytes, replayed to a client that reattaches.

export class Scrollback {
  private readonly buf: Uint8Array;
  private start = 0;
  private length = 0;

  constructor(readonly capacity = 64 * 1024) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`scrollback capacity must be a positive integer, got ${capacity}`);
    this.buf = new Uint8Array(capacity);
  }

  get size(): number {
    return this.length;
  }

  write(data: Uint8Array): void {
    if (data.length >= this.capacity) {
      this.buf.set(data.subarray(data.length - this.capacity));
      this.start = 0;
      this.length = this.capacity;
      return;
    }
    const end = (this.start + this.length) % this.capacity;
    const first = Math.min(data.length, this.capacity - end);
    this.buf.set(data.subarray(0, first), end);
    this.buf.set(data.subarray(first), 0);
    const overflow = Math.max(0, this.length + data.length - this.capacity);
    this.start = (this.start + overflow) % this.capacity;
    this.length = Math.min(this.capacity, this.length + data.length);
  }

  /**
   * A copy of the buffered bytes, oldest first. Once the buffer has wrapped, the first bytes may be the
   * tail of a UTF-8 character: those are skipped so the replay does not start with garbage.
   */
  snapshot(): Uint8Array {
    const out = new Uint8Array(this.length);
    const first = Math.min(this.length, this.capacity - this.start);
    out.set(this.buf.subarray(this.start, this.start + first));
    out.set(this.buf.subarray(0, this.length - first), first);
    if (this.length < this.capacity) return out;
    let skip = 0;
    while (skip < 3 && skip < out.length && (out[skip]! & 0xc0) === 0x80) skip++;
    return out.subarray(skip);
  }
}
