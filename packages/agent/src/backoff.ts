// Reconnect delays: exponential with full jitter (a random delay between 0 and the exponential cap),
// so a fleet of agents that lost the same server does not come back in lockstep. reset() after a
// connection that got as far as the server's hello: the next failure starts small again.

export interface BackoffOptions {
  /** Cap of the first delay, ms. Default 500. */
  initialMs?: number;
  /** Largest cap, ms. Default 30 000. */
  maxMs?: number;
  /** Uniform in [0, 1). Default Math.random. */
  random?: () => number;
}

export interface Backoff {
  /** The delay before the next attempt; each call doubles the cap up to maxMs. */
  next(): number;
  reset(): void;
  /** Failed attempts since the last reset. */
  readonly attempts: number;
}

export function createBackoff(options: BackoffOptions = {}): Backoff {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const random = options.random ?? Math.random;
  if (!(initial > 0) || !(max >= initial)) throw new RangeError(`backoff needs 0 < initialMs <= maxMs, got ${initial} and ${max}`);
  let attempts = 0;
  return {
    next() {
      // 2 ** 30 would already be beyond any sane cap; stop growing the exponent there.
      const cap = Math.min(max, initial * 2 ** Math.min(attempts, 30));
      attempts++;
      return Math.floor(random() * cap);
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}
