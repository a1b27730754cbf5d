import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { RateLimiter } from "../../src/services/rate-limit.js";

const MINUTE = 60_000;

function setup() {
  const clock = new FakeClock(new Date("2026-01-05T09:00:00Z"));
  return { clock, limiter: new RateLimiter(clock) };
}

describe("RateLimiter", () => {
  it("allows `limit` hits in a window, then answers the seconds left in the window", () => {
    const { clock, limiter } = setup();
    const results = Array.from({ length: 5 }, () => limiter.hit("ip:1", 5, MINUTE));
    expect(results).toEqual([0, 0, 0, 0, 0]);
    expect(limiter.hit("ip:1", 5, MINUTE)).toBe(60);
    clock.advance(20_500);
    expect(limiter.hit("ip:1", 5, MINUTE)).toBe(40); // 39.5 s left, rounded up
    clock.advance(39_000);
    expect(limiter.hit("ip:1", 5, MINUTE)).toBe(1);
  });

  it("starts a new window once the old one has passed (fixed window, not sliding)", () => {
    const { clock, limiter } = setup();
    for (let i = 0; i < 3; i++) limiter.hit("k", 3, MINUTE);
    expect(limiter.hit("k", 3, MINUTE)).toBeGreaterThan(0);
    clock.advance(MINUTE - 1);
    expect(limiter.hit("k", 3, MINUTE)).toBe(1);
    clock.advance(1);
    expect(limiter.hit("k", 3, MINUTE)).toBe(0);
    expect(limiter.hit("k", 3, MINUTE)).toBe(0);
    expect(limiter.hit("k", 3, MINUTE)).toBe(0);
    expect(limiter.hit("k", 3, MINUTE)).toBe(60);
  });

  it("counts keys independently", () => {
    const { limiter } = setup();
    expect(limiter.hit("a", 1, MINUTE)).toBe(0);
    expect(limiter.hit("a", 1, MINUTE)).toBe(60);
    expect(limiter.hit("b", 1, MINUTE)).toBe(0);
    expect(limiter.blockedFor("b", 1, MINUTE)).toBe(60);
    expect(limiter.blockedFor("c", 1, MINUTE)).toBe(0);
  });

  it("blockedFor tells whether the next hit would be refused, without counting one", () => {
    const { clock, limiter } = setup();
    const limit = 3;
    expect(limiter.blockedFor("acct", limit, 15 * MINUTE)).toBe(0);
    limiter.hit("acct", limit, 15 * MINUTE);
    limiter.hit("acct", limit, 15 * MINUTE);
    for (let i = 0; i < 10; i++) expect(limiter.blockedFor("acct", limit, 15 * MINUTE)).toBe(0);
    limiter.hit("acct", limit, 15 * MINUTE);
    expect(limiter.blockedFor("acct", limit, 15 * MINUTE)).toBe(900);
    clock.advance(5 * MINUTE);
    expect(limiter.blockedFor("acct", limit, 15 * MINUTE)).toBe(600);
    expect(limiter.hit("acct", limit, 15 * MINUTE)).toBe(600);
    clock.advance(10 * MINUTE);
    expect(limiter.blockedFor("acct", limit, 15 * MINUTE)).toBe(0);
  });

  it("reset forgets a key (a successful login clears its failures)", () => {
    const { limiter } = setup();
    for (let i = 0; i < 5; i++) limiter.hit("acct", 5, MINUTE);
    expect(limiter.blockedFor("acct", 5, MINUTE)).toBe(60);
    limiter.reset("acct");
    expect(limiter.blockedFor("acct", 5, MINUTE)).toBe(0);
    expect(limiter.hit("acct", 5, MINUTE)).toBe(0);
  });

  it("drops expired windows once it tracks many keys, and still limits live ones", () => {
    const { clock, limiter } = setup();
    for (let i = 0; i < 10_000; i++) limiter.hit(`old-${i}`, 1, MINUTE);
    clock.advance(MINUTE / 2);
    limiter.hit("live", 1, MINUTE);
    clock.advance(MINUTE / 2);
    limiter.hit("trigger", 1, MINUTE); // a new window at >= 10 000 keys prunes the expired ones
    const size = (Reflect.get(limiter, "windows") as Map<string, unknown>).size;
    expect(size).toBe(2);
    expect(limiter.hit("live", 1, MINUTE)).toBe(30);
    expect(limiter.hit("old-1", 1, MINUTE)).toBe(0);
  });
});
