import type { Clock } from "../clock.js";

/**
 * Fixed-window counters keyed by string (an IP, an account). In memory: each replica limits on its
 * own, which bounds brute force to replicas x limit; good enough for login throttling.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly clock: Clock) {}

  /** Counts one hit; returns the seconds to wait when `key` is over `limit` in `windowMs`, else 0. */
  hit(key: string, limit: number, windowMs: number): number {
    const now = this.clock.now().getTime();
    const w = this.windows.get(key);
    if (!w || now - w.start >= windowMs) {
      this.windows.set(key, { start: now, count: 1 });
      this.prune(now, windowMs);
      return 0;
    }
    w.count++;
    return w.count > limit ? Math.ceil((w.start + windowMs - now) / 1000) : 0;
  }

  /** Seconds until `key` may try again without counting a hit. */
  blockedFor(key: string, limit: number, windowMs: number): number {
    const now = this.clock.now().getTime();
    const w = this.windows.get(key);
    if (!w || now - w.start >= windowMs || w.count < limit) return 0;
    return Math.ceil((w.start + windowMs - now) / 1000);
  }

  reset(key: string): void {
    this.windows.delete(key);
  }

  private prune(now: number, windowMs: number): void {
    if (this.windows.size < 10_000) return;
    for (const [k, w] of this.windows) if (now - w.start >= windowMs) this.windows.delete(k);
  }
}
