// What the agent tells the server on stream 0, kept across disconnections. State messages (lifecycle,
// ports, stats, metadata) are coalesced: while one waits to be sent, a newer value replaces its content
// and keeps its place, so the queue holds at most one of each and the server always ends with the
// latest. Log lines queue in order, bounded: past `maxLogLines` the oldest go and the next batch starts
// with a line saying how many were dropped. On every new connection the current state is queued again
// in front (the server may have restarted and lost it), after the hello the connection sent itself.
// One message is written at a time and awaited, so a slow server holds lines here (bounded), not in
// the mux.
import type { AgentLifecycle, AgentLogLine, AgentStats, ListeningPort, MetadataResult } from "@outpost/sdk/agents";
import { AgentMessageSchema, type AgentMessage } from "@outpost/sdk/agent-rpc";
import type { AgentLogger } from "./logger.js";

export type LogSource = "startup_script" | "agent";
type StateType = "lifecycle" | "ports" | "stats" | "metadata";
type Entry = { type: StateType } | { type: "logs"; source: LogSource; lines: AgentLogLine[] };

export type Sink = (message: AgentMessage) => Promise<void>;

export interface OutboxOptions {
  log: AgentLogger;
  /** Log lines kept while they cannot be sent. Default 1000. */
  maxLogLines?: number;
  /** Upper bound of one logs message, in bytes of JSON. Default 512 KiB (the protocol allows 1 MiB). */
  maxLogBatchBytes?: number;
  now: () => number;
}

const MAX_LINES_PER_MESSAGE = 1000;
const MAX_METADATA_PER_MESSAGE = 64;

export class Outbox {
  private lifecycle: { state: AgentLifecycle; changed_at: string } | undefined;
  private ports: ListeningPort[] | undefined;
  private stats: AgentStats | undefined;
  private readonly metadata = new Map<string, MetadataResult>();
  /** Metadata keys changed since they were last sent. */
  private readonly metadataDirty = new Set<string>();
  private readonly queue: Entry[] = [];
  private logLines = 0;
  private dropped = 0;
  /** The "lines were dropped" line of the batch in flight, to count them again if it fails. */
  private marker: { line: AgentLogLine; count: number } | undefined;
  private sink: Sink | undefined;
  private pumping = false;
  private idleWaiters: (() => void)[] = [];
  private readonly maxLogLines: number;
  private readonly maxBatchBytes: number;

  constructor(private readonly options: OutboxOptions) {
    this.maxLogLines = options.maxLogLines ?? 1000;
    this.maxBatchBytes = options.maxLogBatchBytes ?? 512 * 1024;
  }

  get lifecycleState(): AgentLifecycle | undefined {
    return this.lifecycle?.state;
  }

  /** Lines waiting to be sent (tests, shutdown). */
  get pendingLogLines(): number {
    return this.logLines;
  }

  setLifecycle(state: AgentLifecycle): void {
    this.lifecycle = { state, changed_at: new Date(this.options.now()).toISOString() };
    this.mark("lifecycle");
  }

  setPorts(ports: ListeningPort[]): void {
    this.ports = ports;
    this.mark("ports");
  }

  setStats(stats: AgentStats): void {
    this.stats = stats;
    this.mark("stats");
  }

  setMetadata(results: MetadataResult[]): void {
    if (results.length === 0) return;
    for (const r of results) {
      this.metadata.set(r.key, r);
      this.metadataDirty.add(r.key);
    }
    this.mark("metadata");
  }

  addLogs(source: LogSource, lines: AgentLogLine[]): void {
    if (lines.length === 0) return;
    const last = this.queue.at(-1);
    if (last?.type === "logs" && last.source === source) last.lines.push(...lines);
    else this.queue.push({ type: "logs", source, lines: [...lines] });
    this.logLines += lines.length;
    this.dropOldLogs();
    this.pump();
  }

  /** A connection said hello: send it the whole state, then everything queued, then what comes. */
  attach(sink: Sink): void {
    this.sink = sink;
    for (const key of this.metadata.keys()) this.metadataDirty.add(key);
    const snapshot: StateType[] = [];
    if (this.lifecycle) snapshot.push("lifecycle");
    if (this.ports) snapshot.push("ports");
    if (this.metadata.size > 0) snapshot.push("metadata");
    if (this.stats) snapshot.push("stats");
    const missing = snapshot.filter((type) => !this.queue.some((e) => e.type === type));
    this.queue.unshift(...missing.map((type) => ({ type })));
    this.pump();
  }

  detach(): void {
    this.sink = undefined;
  }

  /** Resolves when everything queued was written, or after `timeoutMs` (shutdown must not hang). */
  flush(timeoutMs: number, setTimer: (fn: () => void, ms: number) => unknown): Promise<boolean> {
    if (this.idle) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => resolve(true);
      this.idleWaiters.push(done);
      setTimer(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
    });
  }

  private get idle(): boolean {
    return !this.pumping && (this.queue.length === 0 || !this.sink);
  }

  private mark(type: StateType): void {
    if (!this.queue.some((e) => e.type === type)) this.queue.push({ type });
    this.pump();
  }

  private dropOldLogs(): void {
    while (this.logLines > this.maxLogLines) {
      const first = this.queue.find((e): e is Extract<Entry, { type: "logs" }> => e.type === "logs")!;
      const n = Math.min(first.lines.length, this.logLines - this.maxLogLines);
      first.lines.splice(0, n);
      this.logLines -= n;
      this.dropped += n;
      if (first.lines.length === 0) this.queue.splice(this.queue.indexOf(first), 1);
    }
  }

  private pump(): void {
    if (this.pumping || !this.sink) return;
    this.pumping = true;
    void this.run().finally(() => {
      this.pumping = false;
      if (this.sink && this.queue.length > 0) return this.pump();
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    });
  }

  private async run(): Promise<void> {
    while (this.sink && this.queue.length > 0) {
      const sink = this.sink;
      const entry = this.queue[0]!;
      const message = this.take(entry);
      if (!message) continue;
      const checked = AgentMessageSchema.safeParse(message);
      if (!checked.success) {
        // Our own bug; sending it would make the server drop the whole connection.
        this.options.log.error("dropping an invalid message to the server", { type: message.type, error: checked.error.issues[0]?.message });
        continue;
      }
      try {
        await sink(message);
      } catch (err) {
        // The connection went away mid-write: state is re-sent on attach; put log lines back.
        if (message.type === "logs") this.putBack(message.source, message.lines);
        this.options.log.debug("write to the server failed; kept for the next connection", { type: message.type, error: err });
        if (this.sink === sink) this.sink = undefined;
        return;
      }
    }
  }

  /** Removes what `entry` stands for from the queue and builds its message. */
  private take(entry: Entry): AgentMessage | undefined {
    if (entry.type === "logs") return this.takeLogs(entry);
    this.queue.shift();
    switch (entry.type) {
      case "lifecycle":
        return this.lifecycle && { type: "lifecycle", ...this.lifecycle };
      case "ports":
        return this.ports && { type: "ports", ports: this.ports };
      case "stats":
        return this.stats && { type: "stats", stats: this.stats };
      case "metadata": {
        const keys = [...this.metadataDirty].slice(0, MAX_METADATA_PER_MESSAGE);
        for (const k of keys) this.metadataDirty.delete(k);
        if (this.metadataDirty.size > 0) this.queue.unshift({ type: "metadata" });
        const items = keys.map((k) => this.metadata.get(k)!).filter(Boolean);
        return items.length > 0 ? { type: "metadata", items } : undefined;
      }
    }
  }

  private takeLogs(entry: Extract<Entry, { type: "logs" }>): AgentMessage {
    const lines: AgentLogLine[] = [];
    this.marker = undefined;
    if (this.dropped > 0) {
      const output = `[outpost-agent: ${this.dropped} earlier log lines were dropped while the server could not take them]`;
      this.marker = { line: { created_at: new Date(this.options.now()).toISOString(), level: "warn", output }, count: this.dropped };
      lines.push(this.marker.line);
      this.dropped = 0;
    }
    let bytes = 0;
    let n = 0;
    while (n < entry.lines.length && lines.length < MAX_LINES_PER_MESSAGE) {
      const size = Buffer.byteLength(JSON.stringify(entry.lines[n])) + 1;
      if (lines.length > 0 && bytes + size > this.maxBatchBytes) break;
      bytes += size;
      lines.push(entry.lines[n]!);
      n++;
    }
    entry.lines.splice(0, n);
    this.logLines -= n;
    if (entry.lines.length === 0) this.queue.shift();
    return { type: "logs", source: entry.source, lines };
  }

  private putBack(source: LogSource, lines: AgentLogLine[]): void {
    const marker = this.marker;
    const real = lines.filter((l) => l !== marker?.line);
    if (marker && real.length < lines.length) this.dropped += marker.count;
    const first = this.queue[0];
    if (first?.type === "logs" && first.source === source) first.lines.unshift(...real);
    else this.queue.unshift({ type: "logs", source, lines: real });
    this.logLines += real.length;
    this.dropOldLogs();
  }
}
