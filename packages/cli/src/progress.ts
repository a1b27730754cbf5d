import type { CliIo } from "./context.js";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export interface Progress {
  /** What is being waited for now; a change shows at once. */
  stage(text: string): void;
  /** A line that stays (a warning, say), above the spinner. */
  note(text: string): void;
  /** Clears the spinner. */
  stop(): void;
}

/**
 * A spinner naming the stage on a terminal's stderr; elsewhere one `… stage` line per change, so a
 * log of a scripted run still says what took the time.
 */
export function progress(io: Pick<CliIo, "err" | "status">, timers: { setInterval: typeof setInterval; clearInterval: typeof clearInterval } = globalThis): Progress {
  const status = io.status?.bind(io);
  let text = "";
  let frame = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  const draw = () => status?.(`${FRAMES[frame++ % FRAMES.length]} ${text}`);
  return {
    stage(next) {
      if (next === text) return;
      text = next;
      if (!status) return io.err(`… ${next}`);
      draw();
      timer ??= timers.setInterval(draw, 100);
    },
    note(line) {
      status?.("");
      io.err(line);
      if (text && status) draw();
    },
    stop() {
      if (timer) timers.clearInterval(timer);
      timer = undefined;
      if (text) status?.("");
      text = "";
    },
  };
}
