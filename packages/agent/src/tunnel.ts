// Keeps the agent connected, forever: dial, hello, serve until the connection drops, wait (exponential
// backoff with full jitter, reset once a connection got as far as the hello), dial again. A server
// restart or a network cut never needs the agent to restart; a refused token or another API version
// is logged with what it means and retried like any other failure (a later build may fix the server).
import type { StreamHandler } from "@outpost/sdk/mux";
import type { Backoff } from "./backoff.js";
import { sleep, type AgentClock } from "./clock.js";
import { ConnectionError, establish, type Connection } from "./connection.js";
import { dialServer, DialError } from "./dial.js";
import type { AgentLogger } from "./logger.js";

/** Close codes after which the backoff keeps growing (AGENT_CLOSE in the sdk: 4000 + HTTP status). */
const PERSISTENT_CLOSE_CODES = new Set([4400, 4401, 4409, 4426]);

export interface TunnelOptions {
  url: string;
  token: string;
  version: string;
  clock: AgentClock;
  log: AgentLogger;
  backoff: Backoff;
  onStream: StreamHandler;
  /** A connection completed the hello exchange: attach it (send state, serve streams). */
  onConnected: (conn: Connection) => void;
  /** It dropped. */
  onDisconnected: (conn: Connection, reason: string) => void;
  /** Aborting ends the loop and closes the current connection. */
  signal: AbortSignal;
  /**
   * True while the agent is saying goodbye (it ended stream 0 and waits for the server to close): the
   * close that follows is expected, and no reconnect follows it.
   */
  draining?: () => boolean;
  helloTimeoutMs?: number;
  /** Announced protocol version (tests: a mismatch). Default AGENT_API_VERSION. */
  apiVersion?: number;
  keepalive?: { intervalMs: number; timeoutMs: number };
}

export async function runTunnel(options: TunnelOptions): Promise<void> {
  const { log, signal } = options;
  let lastFailure = "";
  let repeats = 0;
  while (!signal.aborted) {
    let failure: { level: "debug" | "warn" | "error"; message: string; fields?: Record<string, unknown> } | undefined;
    try {
      const ws = await dialServer({ url: options.url, token: options.token, signal, apiVersion: options.apiVersion });
      const abortHello = () => ws.terminate();
      signal.addEventListener("abort", abortHello, { once: true });
      const conn = await establish(ws, {
        clock: options.clock,
        log,
        version: options.version,
        onStream: options.onStream,
        helloTimeoutMs: options.helloTimeoutMs,
        keepalive: options.keepalive,
      }).finally(() => signal.removeEventListener("abort", abortHello));
      lastFailure = "";
      log.info("connected to the server", { url: options.url, agent: conn.hello.manifest.agent_name, workspace: conn.hello.manifest.workspace_name });
      options.onConnected(conn);
      const onAbort = () => conn.close("agent shutting down");
      signal.addEventListener("abort", onAbort, { once: true });
      const closed = await conn.closed;
      signal.removeEventListener("abort", onAbort);
      options.onDisconnected(conn, closed.reason);
      if (signal.aborted) break;
      if (options.draining?.()) {
        log.debug("the server closed the connection after the agent's goodbye", { reason: closed.reason });
        break;
      }
      // The connection reached the hello: start small again, unless the server closed it for a reason
      // that reconnecting at once would only repeat (revoked token, replaced by a twin, bad protocol).
      if (closed.code === undefined || !PERSISTENT_CLOSE_CODES.has(closed.code)) options.backoff.reset();
      failure = { level: closed.code !== undefined && PERSISTENT_CLOSE_CODES.has(closed.code) ? "error" : "warn", message: "disconnected from the server", fields: { reason: closed.reason } };
    } catch (err) {
      if (signal.aborted) break;
      const message = (err as Error).message;
      // The same refusal every 30 s for hours: say it fully the first times, then now and then.
      repeats = message === lastFailure ? repeats + 1 : 0;
      lastFailure = message;
      const quiet = repeats >= 3 && repeats % 20 !== 0;
      const level = quiet ? "debug" : (err instanceof DialError && err.status !== undefined) || (err instanceof ConnectionError && err.severe) ? "error" : "warn";
      failure = { level, message: "cannot connect to the server", fields: { error: message, attempt: options.backoff.attempts + 1 } };
    }
    const delay = options.backoff.next();
    if (failure) log[failure.level](failure.message, { ...failure.fields, retry_in_ms: delay });
    await sleep(options.clock, delay, signal);
  }
}
