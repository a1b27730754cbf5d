// Sessions and bytes, for the server's stats and activity (autostop bumps on activity): implements the
// SessionTracker the SSH server, terminals and TCP forwards report to, and counts the bytes the stream
// adapters (mux-duplex.ts) carry. Reports through `send` at most every `intervalMs` when something
// changed, and within `sessionDelayMs` when a session opened or closed (a new SSH login must reach the
// server quickly, or a workspace about to autostop would stop under the user).
import type { AgentStats, SessionKind } from "@outpost/sdk/agents";
import type { AgentClock } from "./clock.js";
import type { SessionTracker } from "./session-tracker.js";

export interface StatsOptions {
  clock: AgentClock;
  send: (stats: AgentStats) => void;
  /** Least time between two reports of byte counts / activity. Default 5 s. */
  intervalMs?: number;
  /** Least time between two reports when sessions changed. Default 1 s. */
  sessionDelayMs?: number;
}

export class StatsTracker implements SessionTracker {
  private readonly sessions: Record<SessionKind, number> = { ssh: 0, pty: 0, tcp: 0 };
  private rx = 0;
  private tx = 0;
  private lastActivity: number | null = null;
  private lastSent = -Infinity;
  private dirty = false;
  private timer: unknown;
  private timerAt = Infinity;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly sessionDelayMs: number;

  constructor(private readonly options: StatsOptions) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.sessionDelayMs = options.sessionDelayMs ?? 1000;
  }

  open(kind: SessionKind): () => void {
    this.sessions[kind]++;
    this.touch();
    this.changed(this.sessionDelayMs);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.sessions[kind]--;
      this.changed(this.sessionDelayMs);
    };
  }

  activity(): void {
    this.touch();
    this.changed(this.intervalMs);
  }

  /** Bytes received from the server side of a stream (`rx`) and sent to it (`tx`); counts as activity. */
  addBytes(rx: number, tx: number): void {
    this.rx += rx;
    this.tx += tx;
    this.activity();
  }

  snapshot(): AgentStats {
    return {
      sessions: { ...this.sessions },
      rx_bytes: this.rx,
      tx_bytes: this.tx,
      last_activity_at: this.lastActivity === null ? null : new Date(this.lastActivity).toISOString(),
    };
  }

  /** No more reports (shutdown). */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  private touch(): void {
    this.lastActivity = this.options.clock.now();
  }

  private changed(minGap: number): void {
    this.dirty = true;
    if (this.stopped) return;
    const at = Math.max(this.options.clock.now(), this.lastSent + minGap);
    if (at >= this.timerAt) return; // a report is already due no later than this
    this.clearTimer();
    this.timerAt = at;
    this.timer = this.options.clock.setTimeout(() => this.flush(), Math.max(0, at - this.options.clock.now()));
  }

  private flush(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (!this.dirty || this.stopped) return;
    this.dirty = false;
    this.lastSent = this.options.clock.now();
    this.options.send(this.snapshot());
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}
