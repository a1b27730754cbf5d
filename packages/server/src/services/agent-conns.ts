// The agents connected to this server: agent id -> live connection. One registry per server instance
// (in Deps). It records connects and disconnects, refreshes their heartbeat, closes connections whose
// token a build revoked, counts client relays, and throttles workspace change notifications and
// "last used" updates.
import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { Db } from "../db/pool.js";
import { publish, type PubSub } from "../db/pubsub.js";
import { disconnectStaleAgents, heartbeatAgents, liveTokenOwners, markAgentConnected, markAgentsDisconnected } from "../db/queries/workspace-agents.js";
import { touchWorkspaceUsed } from "../db/queries/workspaces.js";
import { AGENT_CLOSE } from "@outpost/sdk/agent-rpc";
import { AGENT_HEARTBEAT_MS } from "./agents.js";
import type { AgentConnection } from "./agent-connection.js";

export interface AgentConnsDeps {
  db: Db;
  logger: Logger;
  clock: Clock;
  pubsub: PubSub;
}

/** Use of a workspace (a relay, newer agent activity) is written at most this often per workspace. */
export const ACTIVITY_INTERVAL_MS = 60_000;
/** Watchers hear about a workspace's changes at most this often (the last change always gets through). */
const NOTIFY_INTERVAL_MS = 250;

export class AgentConnections {
  private readonly conns = new Map<string, AgentConnection>();
  private readonly relaysByWorkspace = new Map<string, number>();
  private relayTotal = 0;
  private readonly activityAt = new Map<string, number>();
  private readonly notifyState = new Map<string, { timer: NodeJS.Timeout; pending: boolean }>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private closing = false;

  constructor(private readonly deps: AgentConnsDeps) {}

  /** Marks rows left connected by a previous run as disconnected, then listens for revoked tokens. */
  async start(): Promise<void> {
    const swept = await disconnectStaleAgents(this.deps.db, this.deps.clock.now());
    if (swept > 0) this.deps.logger.info({ agents: swept }, "marked agents of a previous run disconnected");
    this.unsubscribe = this.deps.pubsub.subscribe("outpost_agents_revoked", (workspaceId) => {
      void this.checkTokens([...this.conns.values()].filter((c) => c.workspaceId === workspaceId));
    });
    this.timer = setInterval(() => void this.tick(), AGENT_HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Server shutdown: every agent is told to go away (and reconnects to whoever serves next). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.timer);
    this.unsubscribe?.();
    for (const s of this.notifyState.values()) clearTimeout(s.timer);
    this.notifyState.clear();
    const all = [...this.conns.values()];
    this.conns.clear();
    await markAgentsDisconnected(this.deps.db, all.map((c) => c.agentId), this.deps.clock.now()).catch((err) => this.deps.logger.warn({ err }, "marking agents disconnected at shutdown"));
    for (const c of all) c.close(AGENT_CLOSE.GOING_AWAY, "server shutting down");
  }

  /** Live agent connections held by this server. */
  get size(): number {
    return this.conns.size;
  }

  /** Client relays (ssh, tcp, pty) open through this server. */
  get relays(): number {
    return this.relayTotal;
  }

  get(agentId: string): AgentConnection | undefined {
    return this.conns.get(agentId);
  }

  list(): AgentConnection[] {
    return [...this.conns.values()];
  }

  /** Registers a new connection; an older one of the same agent is closed (the newest wins). */
  async attach(conn: AgentConnection): Promise<void> {
    if (this.closing) return conn.close(AGENT_CLOSE.GOING_AWAY, "server shutting down");
    const previous = this.conns.get(conn.agentId);
    this.conns.set(conn.agentId, conn);
    previous?.close(AGENT_CLOSE.REPLACED, "replaced by a newer connection of the same agent");
    await conn.run(() => markAgentConnected(this.deps.db, conn.agentId, conn.connectedAt));
    this.notifyWorkspace(conn.workspaceId);
  }

  /** The connection ended. Only the agent's current connection records a disconnect. */
  async detach(conn: AgentConnection): Promise<void> {
    if (this.conns.get(conn.agentId) !== conn) return;
    this.conns.delete(conn.agentId);
    await conn.run(() => markAgentsDisconnected(this.deps.db, [conn.agentId], this.deps.clock.now()));
    this.notifyWorkspace(conn.workspaceId);
  }

  /** Counts a client relay into the workspace; call the result once when it ends. It is activity meanwhile. */
  trackRelay(workspaceId: string): () => void {
    this.relayTotal++;
    this.relaysByWorkspace.set(workspaceId, (this.relaysByWorkspace.get(workspaceId) ?? 0) + 1);
    void this.touchActivity(workspaceId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.relayTotal--;
      const n = (this.relaysByWorkspace.get(workspaceId) ?? 1) - 1;
      if (n > 0) this.relaysByWorkspace.set(workspaceId, n);
      else this.relaysByWorkspace.delete(workspaceId);
    };
  }

  /** Sets the workspace's last use to now, at most once per ACTIVITY_INTERVAL_MS. */
  async touchActivity(workspaceId: string): Promise<void> {
    const now = this.deps.clock.now();
    const last = this.activityAt.get(workspaceId);
    if (last !== undefined && now.getTime() - last < ACTIVITY_INTERVAL_MS) return;
    this.activityAt.set(workspaceId, now.getTime());
    try {
      await touchWorkspaceUsed(this.deps.db, workspaceId, now);
      this.notifyWorkspace(workspaceId);
    } catch (err) {
      this.deps.logger.warn({ err, workspaceId }, "recording workspace activity failed");
    }
  }

  /** Publishes a change of the workspace (watchers re-read it), leading and trailing, throttled. */
  notifyWorkspace(workspaceId: string): void {
    if (this.closing) return;
    const state = this.notifyState.get(workspaceId);
    if (state) {
      state.pending = true;
      return;
    }
    const fire = () => void publish(this.deps.db, "outpost_workspace", workspaceId).catch((err) => this.deps.logger.warn({ err }, "publishing a workspace change"));
    fire();
    const entry = {
      pending: false,
      timer: setTimeout(() => {
        this.notifyState.delete(workspaceId);
        if (entry.pending) this.notifyWorkspace(workspaceId);
      }, NOTIFY_INTERVAL_MS),
    };
    entry.timer.unref();
    this.notifyState.set(workspaceId, entry);
  }

  /**
   * Closes connections whose token is no longer live. A token a newer build kept (its resource was kept)
   * now belongs to that build's row: the connection follows it and stays up.
   */
  private async checkTokens(conns: AgentConnection[]): Promise<void> {
    if (conns.length === 0 || this.closing) return;
    let owners: { id: string; hashed_token: Buffer }[];
    try {
      owners = await liveTokenOwners(this.deps.db, conns.map((c) => c.hashedToken));
    } catch (err) {
      return this.deps.logger.warn({ err }, "checking agent tokens failed");
    }
    // By token hash: thousands of agents are checked every heartbeat (a find per agent was N x N).
    const byHash = new Map(owners.map((o) => [o.hashed_token.toString("base64"), o]));
    for (const conn of conns) {
      if (this.conns.get(conn.agentId) !== conn) continue;
      const owner = byHash.get(conn.hashedToken.toString("base64"));
      if (!owner) {
        this.deps.logger.info({ agentId: conn.agentId, workspaceId: conn.workspaceId }, "agent token revoked: closing its connection");
        conn.close(AGENT_CLOSE.REVOKED, "agent token revoked: the workspace was stopped, deleted or rebuilt");
        await this.detach(conn);
      } else if (owner.id !== conn.agentId) {
        this.conns.delete(conn.agentId);
        conn.agentId = owner.id;
        this.conns.get(owner.id)?.close(AGENT_CLOSE.REPLACED, "replaced by a newer connection of the same agent");
        this.conns.set(owner.id, conn);
        await conn.run(() => heartbeatAgents(this.deps.db, [owner.id], this.deps.clock.now())).catch(() => undefined);
        this.notifyWorkspace(conn.workspaceId);
      }
    }
  }

  /** Heartbeat of every held connection, a token re-check (notifications are hints), relay activity. */
  private async tick(): Promise<void> {
    const all = [...this.conns.values()];
    try {
      await heartbeatAgents(this.deps.db, all.map((c) => c.agentId), this.deps.clock.now());
    } catch (err) {
      this.deps.logger.warn({ err }, "agent heartbeat failed");
    }
    await this.checkTokens(all);
    for (const workspaceId of this.relaysByWorkspace.keys()) await this.touchActivity(workspaceId);
    const cutoff = this.deps.clock.now().getTime() - ACTIVITY_INTERVAL_MS;
    for (const [id, at] of this.activityAt) if (at < cutoff) this.activityAt.delete(id);
  }
}
