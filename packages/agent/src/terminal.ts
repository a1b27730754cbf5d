// One reconnecting terminal: a process in a PTY, its scrollback, and the streams attached to it now.
// Output goes to the scrollback and to every attachment; when an attachment falls behind (its stream
// holds more than HIGH_WATER unsent bytes) the PTY is paused until all are below LOW_WATER, so a slow
// client slows the program (like a real terminal) instead of the agent buffering without bound.
import * as pty from "node-pty";
import type { MuxStream } from "@outpost/sdk/mux";
import { Scrollback } from "./scrollback.js";

const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;

export interface TerminalSpawn {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  cols: number;
  rows: number;
}

export interface Attachment {
  readonly stream: MuxStream;
  /** Called with the number of bytes sent to this attachment. */
  readonly onOutput: (bytes: number) => void;
}

export class Terminal {
  readonly attachments = new Set<Attachment>();
  readonly scrollback: Scrollback;
  readonly exited: Promise<{ exitCode: number; signal?: number }>;
  private readonly proc: pty.IPty;
  private paused = false;
  private hasExited = false;

  constructor(
    readonly id: string,
    spawn: TerminalSpawn,
    scrollbackBytes: number,
  ) {
    this.scrollback = new Scrollback(scrollbackBytes);
    // UTF-8 (node-pty's default) also sets IUTF8 on the terminal, so line editing erases whole
    // characters; its decoder keeps characters split across reads intact.
    this.proc = pty.spawn(spawn.file, spawn.args, { name: "xterm-256color", cols: spawn.cols, rows: spawn.rows, cwd: spawn.cwd, env: spawn.env });
    this.proc.onData((data: string | Buffer) => this.output(typeof data === "string" ? Buffer.from(data) : data));
    this.exited = new Promise((resolve) =>
      this.proc.onExit((e) => {
        this.hasExited = true;
        resolve(e);
      }),
    );
  }

  get pid(): number {
    return this.proc.pid;
  }

  get cols(): number {
    return this.proc.cols;
  }

  get rows(): number {
    return this.proc.rows;
  }

  get isExited(): boolean {
    return this.hasExited;
  }

  /** Replays the scrollback to `a`, then streams live output to it (nothing lost or doubled in between). */
  attach(a: Attachment): void {
    const replay = this.scrollback.snapshot();
    this.attachments.add(a);
    if (replay.length > 0) this.send(a, replay);
  }

  detach(a: Attachment): void {
    this.attachments.delete(a);
    this.checkResume();
  }

  write(data: string): void {
    if (!this.hasExited) this.proc.write(data);
  }

  resize(cols: number, rows: number): void {
    if (this.hasExited) return;
    try {
      this.proc.resize(cols, rows);
    } catch {
      // the PTY closed between the exit check and here
    }
  }

  /** SIGHUP (what closing a terminal sends), SIGKILL after `graceMs` if that was ignored. */
  kill(graceMs = 3000): void {
    if (this.hasExited) return;
    this.signal("SIGHUP");
    const t = setTimeout(() => this.signal("SIGKILL"), graceMs);
    t.unref();
    void this.exited.then(() => clearTimeout(t));
  }

  private signal(name: NodeJS.Signals): void {
    if (this.hasExited) return;
    try {
      this.proc.kill(name);
    } catch {
      // already gone
    }
  }

  private output(data: Buffer): void {
    this.scrollback.write(data);
    for (const a of this.attachments) this.send(a, data);
  }

  private send(a: Attachment, data: Uint8Array): void {
    a.onOutput(data.length);
    a.stream.write(data).then(
      () => this.checkResume(),
      () => this.detach(a), // the stream failed: its owner cleans up when it sees `closed`
    );
    if (!this.paused && a.stream.writableLength > HIGH_WATER) {
      this.paused = true;
      this.proc.pause();
    }
  }

  private checkResume(): void {
    if (!this.paused) return;
    for (const a of this.attachments) if (a.stream.writableLength > LOW_WATER) return;
    this.paused = false;
    if (!this.hasExited) this.proc.resume();
  }
}
