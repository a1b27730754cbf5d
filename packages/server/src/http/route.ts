import type { FastifyReply, FastifyRequest } from "fastify";
import type { WebSocket } from "@fastify/websocket";
import type { z } from "zod";
import type { ApiKeyRow } from "../db/queries/api-keys.js";
import type { UserRow } from "../db/queries/users.js";
import type { AuditRecord, AuditSink } from "../services/audit.js";
import type { Deps } from "../services/deps.js";
import type { Action, ResourceType, Subject } from "../services/rbac.js";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** The authenticated caller of a route that requires a session. */
export interface Caller {
  subject: Subject;
  user: UserRow;
  key: ApiKeyRow;
}

export interface RouteContext<P, Q, B, A extends boolean> {
  deps: Deps;
  params: P;
  query: Q;
  body: B;
  caller: A extends true ? Caller : Caller | undefined;
  audit: AuditSink;
  ip: string;
  request: FastifyRequest;
  reply: FastifyReply;
  /** Status for a successful answer (default 200, or 204 when the handler returns nothing). */
  status(code: number): void;
  /** Aborted when the client disconnects (long polls stop waiting). */
  signal: AbortSignal;
}

type Schema = z.ZodType;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteDef<
  P extends Schema | undefined = Schema | undefined,
  Q extends Schema | undefined = Schema | undefined,
  B extends Schema | undefined = Schema | undefined,
  A extends boolean = boolean,
  U = unknown,
> {
  method: Method;
  url: string;
  /** Whether a session is required. Public routes still see the caller when one is presented. */
  authenticated: A;
  /** The permission this route exercises, as named in the policy table; "public" for unauthenticated routes. */
  action: `${Action}:${ResourceType}` | "public" | "session" | "provisioner" | "agent";
  summary: string;
  params?: P;
  query?: Q;
  body?: B;
  /** Accept a raw body of this content type (a Buffer) instead of JSON. */
  rawBody?: "application/x-tar";
  bodyLimit?: number;
  /**
   * WebSocket routes: runs after auth, params and query and BEFORE the upgrade, so what it throws is a
   * plain HTTP error response. What it returns reaches `websocket`. If the upgrade then fails, `signal`
   * aborts (release what it acquired on abort).
   */
  beforeUpgrade?(ctx: RouteContext<Out<P>, Out<Q>, undefined, A>): Promise<U>;
  /**
   * Also serve WebSocket upgrades on this route (same auth, params and query), e.g. live logs. Called
   * synchronously right after the upgrade: attach socket listeners before the first await, or messages
   * that arrive meanwhile are lost. A throw or rejection sends `{"type":"error","error":{...}}` and closes
   * with 4000 + the HTTP status.
   */
  websocket?(socket: LiveSocket, ctx: RouteContext<Out<P>, Out<Q>, undefined, A>, upgrade: U): void | Promise<void>;
  handler(ctx: RouteContext<Out<P>, Out<Q>, Out<B>, A>): Promise<unknown>;
}

/** Declares a route with types inferred from its zod schemas. */
export function route<P extends Schema | undefined = undefined, Q extends Schema | undefined = undefined, B extends Schema | undefined = undefined, A extends boolean = true, U = unknown>(
  def: RouteDef<P, Q, B, A, U>,
): RouteDef {
  return def as unknown as RouteDef;
}

/** A WebSocket route's socket (the `ws` library's; only http/ sees it). */
export type LiveSocket = WebSocket;

export interface PendingAudit {
  record?: AuditRecord;
}
