import pg from "pg";
import type { Logger } from "pino";
import type { Queryable } from "./pool.js";

/**
 * outpost_job_* carry a job id. outpost_agent_logs: an agent id (new log lines or a lifecycle change).
 * outpost_workspace: a workspace id whose view changed (agents, last use, a new build). outpost_agents_revoked:
 * a workspace id whose agent tokens a finished build changed (servers close the revoked agents' connections).
 */
export const CHANNELS = ["outpost_job_logs", "outpost_job_status", "outpost_jobs_pending", "outpost_agent_logs", "outpost_workspace", "outpost_agents_revoked"] as const;
export type Channel = (typeof CHANNELS)[number];
type Listener = (payload: string) => void;

/**
 * Cross-process events over PostgreSQL LISTEN/NOTIFY (replicas and daemons see each other's writes).
 * One dedicated connection listens; it reconnects after errors. Notifications are hints: waiters
 * also re-check on a timer, so a missed one only delays, never loses, an update.
 */
export class PubSub {
  private client: pg.Client | undefined;
  private readonly listeners = new Map<Channel, Set<Listener>>();
  private closed = false;

  private constructor(
    private readonly url: string,
    private readonly logger: Logger,
  ) {}

  static async start(url: string, logger: Logger): Promise<PubSub> {
    const ps = new PubSub(url, logger);
    await ps.connect();
    return ps;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on("notification", (n) => {
      for (const fn of this.listeners.get(n.channel as Channel) ?? []) fn(n.payload ?? "");
    });
    client.on("error", (err) => {
      this.logger.warn({ err }, "pubsub connection lost; reconnecting");
      this.client = undefined;
      client.end().catch(() => undefined);
      if (!this.closed) setTimeout(() => void this.connect().catch((e) => this.logger.warn({ err: e }, "pubsub reconnect failed")), 1000).unref();
    });
    await client.connect();
    for (const ch of CHANNELS) await client.query(`LISTEN ${ch}`);
    this.client = client;
  }

  subscribe(channel: Channel, fn: Listener): () => void {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /**
   * Starts listening now and returns a function that waits (up to `ms`) for a matching payload,
   * resolving true at once if one already arrived. Listen before reading the database, then wait:
   * a notification sent between the read and the wait is not lost.
   */
  listen(channels: Channel[], match: (payload: string) => boolean): { wait(ms: number, signal?: AbortSignal): Promise<boolean>; stop(): void } {
    let fired = false;
    let wake: (() => void) | undefined;
    const unsubs = channels.map((ch) =>
      this.subscribe(ch, (p) => {
        if (!match(p)) return;
        fired = true;
        wake?.();
      }),
    );
    const stop = () => unsubs.forEach((u) => u());
    const wait = (ms: number, signal?: AbortSignal) =>
      new Promise<boolean>((resolve) => {
        if (fired || signal?.aborted) return resolve(fired);
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          wake = undefined;
          resolve(fired);
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener("abort", done);
        wake = done;
      });
    return { wait, stop };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => undefined);
  }
}

export async function publish(q: Queryable, channel: Channel, payload: string): Promise<void> {
  await q.query("SELECT pg_notify($1, $2)", [channel, payload]);
}
