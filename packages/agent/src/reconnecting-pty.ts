// Reconnecting terminals (`pty` streams): the first NDJSON line is a PtyInit naming the terminal by id;
// a new id starts the user's login shell (or `command` with sh -c) in a PTY, an existing id reattaches
// and first replays the scrollback. Then PtyInput lines (data, resize) go in and raw output comes out.
// Several streams may be attached to one terminal; one without any for `idleTimeoutMs` is killed;
// when its process exits every attached stream ends.
import { PtyInitSchema, PtyInputSchema, type PtyInit } from "@outpost/sdk/agent-rpc";
import type { MuxStream } from "@outpost/sdk/mux";
import type { AgentClock } from "./clock.js";
import type { AgentLogger } from "./logger.js";
import type { ByteCounter } from "./mux-duplex.js";
import { readNdjson } from "./ndjson-stream.js";
import type { SessionTracker } from "./session-tracker.js";
import { Terminal, type Attachment } from "./terminal.js";
import { loginShell } from "./workspace-env.js";

/** A terminal input line may carry 1 MiB of text, which JSON escaping can grow several times. */
const MAX_INPUT_LINE = 8 * 1024 * 1024;

export interface ReconnectingPtyOptions {
  clock: AgentClock;
  log: AgentLogger;
  /** The environment of new terminals (TERM is set here). */
  env: () => Record<string, string>;
  directory: () => string;
  sessions: SessionTracker & ByteCounter;
  /** Awaited before a terminal is created or attached (a blocking startup script). */
  beforeSession?: () => Promise<void>;
  /** Default 5 minutes. */
  idleTimeoutMs?: number;
  /** Terminals alive at once. Default 32. */
  maxTerminals?: number;
  /** Default 64 KiB. */
  scrollbackBytes?: number;
  /** Default: the user's login shell from passwd. */
  shell?: string;
}

interface Entry {
  terminal: Terminal;
  idleTimer: unknown;
}

export class ReconnectingPtys {
  private readonly terminals = new Map<string, Entry>();
  private closed = false;

  constructor(private readonly options: ReconnectingPtyOptions) {}

  get size(): number {
    return this.terminals.size;
  }

  /** Serves one accepted `pty` stream until it or its terminal ends. Never throws. */
  async handle(stream: MuxStream): Promise<void> {
    const log = this.options.log.child({ stream: stream.id });
    const input = readNdjson(stream, MAX_INPUT_LINE, (n) => this.options.sessions.addBytes(n, 0));
    let init: PtyInit;
    try {
      const first = await input.next();
      if (first.done) return stream.end();
      const parsed = PtyInitSchema.safeParse(first.value);
      if (!parsed.success) return fail(stream, log, `invalid terminal init: ${issue(parsed.error)}`);
      init = parsed.data;
      await this.options.beforeSession?.();
    } catch (err) {
      return fail(stream, log, `terminal stream failed: ${(err as Error).message}`);
    }
    if (this.closed) return fail(stream, log, "the agent is shutting down");

    let entry = this.terminals.get(init.id);
    if (entry && !entry.terminal.isExited) {
      entry.terminal.resize(init.width, init.height);
    } else {
      const max = this.options.maxTerminals ?? 32;
      if (this.terminals.size >= max) {
        return fail(stream, log, `too many terminals: ${max} are open in this workspace; close one (exit its shell) first`, true);
      }
      try {
        entry = this.create(init, log);
      } catch (err) {
        return fail(stream, log, `cannot start the terminal: ${(err as Error).message}`, true);
      }
    }
    await this.serve(entry, stream, input, log);
  }

  /** Kills every terminal (shutdown); attached streams end as their process exits. Resolves when all exited. */
  async closeAll(): Promise<void> {
    this.closed = true;
    const exits: Promise<unknown>[] = [];
    for (const { terminal, idleTimer } of this.terminals.values()) {
      if (idleTimer !== undefined) this.options.clock.clearTimeout(idleTimer);
      terminal.kill();
      exits.push(terminal.exited);
    }
    await Promise.all(exits);
  }

  private create(init: PtyInit, log: AgentLogger): Entry {
    const file = init.command ? "/bin/sh" : (this.options.shell ?? loginShell());
    const args = init.command ? ["-c", init.command] : ["-l"];
    const env = { ...this.options.env(), TERM: "xterm-256color" };
    const terminal = new Terminal(init.id, { file, args, cwd: this.options.directory(), env, cols: init.width, rows: init.height }, this.options.scrollbackBytes ?? 64 * 1024);
    const entry: Entry = { terminal, idleTimer: undefined };
    this.terminals.set(init.id, entry);
    log.info("terminal started", { id: init.id, pid: terminal.pid, command: init.command ?? file });
    void terminal.exited.then(({ exitCode, signal }) => {
      log.info("terminal exited", { id: init.id, exit_code: exitCode, signal: signal || undefined });
      if (entry.idleTimer !== undefined) this.options.clock.clearTimeout(entry.idleTimer);
      if (this.terminals.get(init.id) === entry) this.terminals.delete(init.id);
      for (const a of terminal.attachments) a.stream.end();
    });
    return entry;
  }

  private async serve(entry: Entry, stream: MuxStream, input: AsyncGenerator<unknown>, log: AgentLogger): Promise<void> {
    const { terminal } = entry;
    if (entry.idleTimer !== undefined) this.options.clock.clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    const endSession = this.options.sessions.open("pty");
    const attachment: Attachment = { stream, onOutput: (n) => this.options.sessions.addBytes(0, n) };
    terminal.attach(attachment);
    try {
      for await (const value of input) {
        const parsed = PtyInputSchema.safeParse(value);
        if (!parsed.success) {
          fail(stream, log, `invalid terminal input: ${issue(parsed.error)}`);
          break;
        }
        const { data, width, height } = parsed.data;
        if (data) terminal.write(data);
        if (width !== undefined || height !== undefined) {
          terminal.resize(width ?? terminal.cols, height ?? terminal.rows);
        }
      }
      if (!stream.isClosed && terminal.isExited) stream.end();
    } catch (err) {
      log.debug("terminal stream ended", { id: terminal.id, error: err });
    } finally {
      terminal.detach(attachment);
      endSession();
      // The client went away: our side ends too (a no-op after a reset or when already ended).
      stream.end();
      this.startIdleTimer(entry);
    }
  }

  private startIdleTimer(entry: Entry): void {
    if (entry.terminal.attachments.size > 0 || entry.terminal.isExited || this.terminals.get(entry.terminal.id) !== entry) return;
    const ms = this.options.idleTimeoutMs ?? 5 * 60_000;
    entry.idleTimer = this.options.clock.setTimeout(() => {
      entry.idleTimer = undefined;
      if (entry.terminal.attachments.size > 0) return;
      this.options.log.info("killing a terminal nobody attached to", { id: entry.terminal.id, idle_seconds: Math.round(ms / 1000) });
      entry.terminal.kill();
    }, ms);
  }
}

/**
 * Ends a terminal stream with a reason. `visible`: also print it in the terminal (the client shows the
 * output; a reset reason may not reach a browser), then end cleanly; otherwise reset with the reason.
 */
function fail(stream: MuxStream, log: AgentLogger, reason: string, visible = false): void {
  log.warn(reason);
  if (!visible) return stream.reset(reason);
  stream.write(new TextEncoder().encode(`\r\noutpost: ${reason}\r\n`)).catch(() => {});
  stream.end();
}

function issue(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  const i = error.issues[0];
  return i ? `${i.path.join(".") || "line"}: ${i.message}` : "invalid";
}
