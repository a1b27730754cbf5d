import type { SessionKind } from "@outpost/sdk/agents";

/**
 * What the agent counts for its stats and for activity (autostop bumps, dormancy): the SSH server, the
 * terminals and TCP forwards report each session they open; the stream layer reports bytes.
 */
export interface SessionTracker {
  /** A session of this kind started; call the returned function once when it ends. */
  open(kind: SessionKind): () => void;
  /** Something happened in a session (data flowed): counts as activity. */
  activity(): void;
}
