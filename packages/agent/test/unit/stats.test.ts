import { describe, expect, it } from "vitest";
import type { AgentStats } from "@outpost/sdk/agents";
import { StatsTracker } from "../../src/stats.js";
import { FakeClock } from "../../../sdk/test/unit/mux-pair.js";

function setup() {
  const clock = new FakeClock(Date.UTC(2030, 0, 1));
  const sent: { at: number; stats: AgentStats }[] = [];
  const tracker = new StatsTracker({ clock, send: (stats) => sent.push({ at: clock.now() - start, stats }) });
  const start = clock.now();
  return { clock, sent, tracker };
}

describe("stats (sessions, bytes, activity)", () => {
  it("reports a new session at once, then at most once a second for session changes", () => {
    const { clock, sent, tracker } = setup();
    const close = tracker.open("ssh");
    clock.advance(0);
    expect(sent).toEqual([{ at: 0, stats: { sessions: { ssh: 1, pty: 0, tcp: 0 }, rx_bytes: 0, tx_bytes: 0, last_activity_at: new Date(clock.now()).toISOString() } }]);
    clock.advance(200);
    const closePty = tracker.open("pty");
    clock.advance(500);
    expect(sent).toHaveLength(1);
    clock.advance(300);
    expect(sent.at(-1)).toMatchObject({ at: 1000, stats: { sessions: { ssh: 1, pty: 1, tcp: 0 } } });
    close();
    close(); // idempotent
    closePty();
    clock.advance(1000);
    expect(sent.at(-1)).toMatchObject({ at: 2000, stats: { sessions: { ssh: 0, pty: 0, tcp: 0 } } });
    expect(sent).toHaveLength(3);
  });

  it("byte counts and activity go out at most every 5 s, only when something changed", () => {
    const { clock, sent, tracker } = setup();
    tracker.addBytes(100, 0);
    clock.advance(0);
    expect(sent).toHaveLength(1);
    for (let i = 0; i < 40; i++) {
      tracker.addBytes(10, 20);
      clock.advance(100);
    }
    // 4 s of traffic after the first report: the next is due at 5 s.
    expect(sent).toHaveLength(1);
    clock.advance(1000);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ at: 5000, stats: { rx_bytes: 500, tx_bytes: 800 } });
    clock.advance(60_000);
    expect(sent).toHaveLength(2); // idle: nothing new to say
    expect(clock.pending).toBe(0);
  });

  it("a session opening while a byte report waits makes it go out sooner", () => {
    const { clock, sent, tracker } = setup();
    tracker.addBytes(1, 1);
    clock.advance(0);
    tracker.addBytes(1, 1);
    clock.advance(2000);
    tracker.open("tcp");
    clock.advance(0);
    expect(sent.at(-1)).toMatchObject({ at: 2000, stats: { sessions: { tcp: 1 }, rx_bytes: 2 } });
  });

  it("last_activity_at is null before anything happened; stop() ends reporting", () => {
    const { clock, sent, tracker } = setup();
    expect(tracker.snapshot()).toEqual({ sessions: { ssh: 0, pty: 0, tcp: 0 }, rx_bytes: 0, tx_bytes: 0, last_activity_at: null });
    tracker.stop();
    tracker.open("ssh");
    clock.advance(10_000);
    expect(sent).toEqual([]);
    expect(tracker.snapshot().sessions.ssh).toBe(1);
  });
});
