// Process output as log lines for the server: bytes -> lines (UTF-8 across chunk boundaries, CRLF and
// lone CR progress updates end a line, lines longer than the protocol's 16 KiB split), and a batcher that
// sends what collected every `intervalMs` instead of one message per line.
import type { AgentLogLine } from "@outpost/sdk/agents";
import type { AgentClock } from "./clock.js";

export const MAX_LOG_LINE = 16_384;

export class LineSplitter {
  private readonly decoder = new TextDecoder();
  private buffer = "";

  constructor(private readonly maxLine = MAX_LOG_LINE) {}

  push(chunk: Uint8Array): string[] {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    return this.drain(false);
  }

  /** The last unterminated line, if any. */
  end(): string[] {
    this.buffer += this.decoder.decode();
    return this.drain(true);
  }

  private drain(final: boolean): string[] {
    const out: string[] = [];
    for (;;) {
      const m = /\r\n|\n|\r/.exec(this.buffer);
      // A lone CR at the end of a chunk may be the first half of CRLF: wait for the next chunk.
      if (m && !(m[0] === "\r" && m.index === this.buffer.length - 1 && !final)) {
        this.emit(out, this.buffer.slice(0, m.index));
        this.buffer = this.buffer.slice(m.index + m[0].length);
        continue;
      }
      while (this.buffer.length > this.maxLine) {
        const cut = splitPoint(this.buffer, this.maxLine);
        out.push(this.buffer.slice(0, cut));
        this.buffer = this.buffer.slice(cut);
      }
      break;
    }
    if (final && this.buffer !== "") {
      this.emit(out, this.buffer);
      this.buffer = "";
    }
    return out;
  }

  private emit(out: string[], line: string): void {
    while (line.length > this.maxLine) {
      const cut = splitPoint(line, this.maxLine);
      out.push(line.slice(0, cut));
      line = line.slice(cut);
    }
    out.push(line);
  }
}

/** Never cut a surrogate pair in two. */
function splitPoint(text: string, at: number): number {
  const code = text.charCodeAt(at - 1);
  return code >= 0xd800 && code <= 0xdbff ? at - 1 : at;
}

export interface LogBatcherOptions {
  clock: AgentClock;
  send: (lines: AgentLogLine[]) => void;
  /** Default 250 ms. */
  intervalMs?: number;
  /** Sent at once when this many lines wait. Default 1000 (the protocol's maximum per message). */
  maxLines?: number;
}

export class LogBatcher {
  private lines: AgentLogLine[] = [];
  private timer: unknown;

  constructor(private readonly options: LogBatcherOptions) {}

  add(level: AgentLogLine["level"], output: string): void {
    this.lines.push({ created_at: new Date(this.options.clock.now()).toISOString(), level, output });
    if (this.lines.length >= (this.options.maxLines ?? 1000)) return this.flush();
    if (this.timer === undefined) this.timer = this.options.clock.setTimeout(() => this.flush(), this.options.intervalMs ?? 250);
  }

  flush(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length === 0) return;
    const lines = this.lines;
    this.lines = [];
    this.options.send(lines);
  }
}
