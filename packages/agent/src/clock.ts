// Time, injected everywhere the agent waits (backoff, batching, polling, idle terminals) so tests can
// drive it. The same object is the mux's clock (it only measures differences).

export interface AgentClock {
  /** Milliseconds since the epoch (timestamps sent to the server are built from it). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: AgentClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = globalThis.setTimeout(fn, ms);
    // Timers never keep the process alive on their own: the WebSocket, child processes and the
    // shutdown promise do; an idle-terminal timer must not delay exit.
    t.unref();
    return t;
  },
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

/** Resolves after `ms` on `clock`, or at once when `signal` aborts. */
export function sleep(clock: AgentClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clock.clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

export function isoTime(clock: AgentClock): string {
  return new Date(clock.now()).toISOString();
}
