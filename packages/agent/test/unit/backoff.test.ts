import { describe, expect, it } from "vitest";
import { createBackoff } from "../../src/backoff.js";

describe("reconnect backoff (exponential, full jitter)", () => {
  it("draws each delay uniformly under a cap that doubles from initialMs to maxMs", () => {
    const top = createBackoff({ initialMs: 500, maxMs: 30_000, random: () => 0.999999 });
    const caps = Array.from({ length: 10 }, () => top.next());
    expect(caps).toEqual([499, 999, 1999, 3999, 7999, 15_999, 29_999, 29_999, 29_999, 29_999]);
    expect(top.attempts).toBe(10);

    const half = createBackoff({ initialMs: 500, maxMs: 30_000, random: () => 0.5 });
    expect([half.next(), half.next(), half.next()]).toEqual([250, 500, 1000]);
    const zero = createBackoff({ random: () => 0 });
    expect([zero.next(), zero.next()]).toEqual([0, 0]); // full jitter reaches 0: agents do not reconnect in lockstep
  });

  it("spreads delays over the whole range with the real random source", () => {
    const b = createBackoff({ initialMs: 1000, maxMs: 1000 });
    const delays = Array.from({ length: 2000 }, () => b.next());
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(1000);
    expect(delays.filter((d) => d < 250).length).toBeGreaterThan(300); // about 500 expected per quarter
    expect(delays.filter((d) => d >= 750).length).toBeGreaterThan(300);
  });

  it("starts small again after reset() (a connection reached the hello)", () => {
    const b = createBackoff({ initialMs: 100, maxMs: 10_000, random: () => 0.999999 });
    for (let i = 0; i < 8; i++) b.next();
    expect(b.next()).toBe(9999);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(99);
  });

  it("rejects nonsense limits", () => {
    expect(() => createBackoff({ initialMs: 0 })).toThrow(/initialMs/);
    expect(() => createBackoff({ initialMs: 1000, maxMs: 10 })).toThrow(/maxMs/);
  });
});
