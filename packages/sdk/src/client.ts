import type { z } from "zod";
import { SESSION_TOKEN_HEADER, LoginResponseSchema, type LoginRequest } from "./auth.js";
import { PROVISIONER_KEY_HEADER } from "./provisioner.js";
import { BuildInfoSchema } from "./buildinfo.js";
import { OutpostError } from "./client-error.js";
import {
  ApiKeyListSchema,
  ApiKeySchema,
  CreateTokenResponseSchema,
  type CreateTokenRequest,
} from "./api-keys.js";
import { AuditPageSchema, type AuditQuery } from "./audit.js";
import {
  FirstUserStatusSchema,
  UserPageSchema,
  UserSchema,
  type CreateFirstUserRequest,
  type CreateUserRequest,
  type ListUsersQuery,
  type UpdatePasswordRequest,
  type UpdateProfileRequest,
} from "./users.js";
import type { AssignableRole } from "./roles.js";

export interface ClientOptions {
  /** Deployment URL, e.g. http://127.0.0.1:3000 */
  url: string;
  token?: string;
  /** Provisioner daemons authenticate with a provisioner key instead of a session. */
  provisionerKey?: string;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | boolean | undefined>;

/** Typed REST client for /api/v2; used by the CLI, the dashboard and tests. */
export class OutpostClient {
  readonly url: string;
  token: string | undefined;
  readonly provisionerKey: string | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: ClientOptions) {
    this.url = opts.url.replace(/\/+$/, "");
    this.token = opts.token;
    this.provisionerKey = opts.provisionerKey;
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async request<S extends z.ZodTypeAny | undefined>(
    method: string,
    path: string,
    opts: { body?: unknown; query?: Query; schema?: S; raw?: { data: Uint8Array; contentType: string }; signal?: AbortSignal } = {},
  ): Promise<S extends z.ZodTypeAny ? z.infer<S> : void> {
    const res = await this.send(method, path, opts);
    if (!opts.schema || res.status === 204) return undefined as never;
    return opts.schema.parse(await res.json()) as never;
  }

  /** Like request, for bodies that are not JSON (template archives). */
  async requestBytes(method: string, path: string): Promise<Uint8Array> {
    const res = await this.send(method, path, {});
    return new Uint8Array(await res.arrayBuffer());
  }

  private async send(method: string, path: string, opts: { body?: unknown; query?: Query; raw?: { data: Uint8Array; contentType: string }; signal?: AbortSignal }): Promise<Response> {
    const url = new URL(this.url + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token) headers[SESSION_TOKEN_HEADER] = this.token;
    if (this.provisionerKey) headers[PROVISIONER_KEY_HEADER] = this.provisionerKey;
    let body: RequestInit["body"];
    if (opts.raw) {
      headers["content-type"] = opts.raw.contentType;
      body = opts.raw.data as unknown as RequestInit["body"];
    } else if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    let res: Response;
    try {
      res = await this.fetchImpl(url, { method, headers, body, credentials: "include", ...(opts.signal ? { signal: opts.signal } : {}) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new OutpostError(0, "UNAVAILABLE", `cannot reach ${this.url}`, cause?.code ?? cause?.message ?? String(err));
    }
    if (!res.ok) throw await OutpostError.fromResponse(res);
    return res;
  }

  buildInfo() {
    return this.request("GET", "/api/v2/buildinfo", { schema: BuildInfoSchema });
  }

  firstUserStatus() {
    return this.request("GET", "/api/v2/users/first", { schema: FirstUserStatusSchema });
  }
  createFirstUser(body: CreateFirstUserRequest) {
    return this.request("POST", "/api/v2/users/first", { body, schema: UserSchema });
  }
  login(body: LoginRequest) {
    return this.request("POST", "/api/v2/users/login", { body, schema: LoginResponseSchema });
  }
  logout() {
    return this.request("POST", "/api/v2/users/logout");
  }

  me() {
    return this.user("me");
  }
  user(user: string) {
    return this.request("GET", `/api/v2/users/${encodeURIComponent(user)}`, { schema: UserSchema });
  }
  listUsers(query: ListUsersQuery = {}) {
    return this.request("GET", "/api/v2/users", { query: query as Query, schema: UserPageSchema });
  }
  createUser(body: CreateUserRequest) {
    return this.request("POST", "/api/v2/users", { body, schema: UserSchema });
  }
  updateProfile(user: string, body: UpdateProfileRequest) {
    return this.request("PUT", `/api/v2/users/${encodeURIComponent(user)}/profile`, { body, schema: UserSchema });
  }
  updatePassword(user: string, body: UpdatePasswordRequest) {
    return this.request("PUT", `/api/v2/users/${encodeURIComponent(user)}/password`, { body });
  }
  setUserStatus(user: string, status: "suspend" | "activate") {
    return this.request("PUT", `/api/v2/users/${encodeURIComponent(user)}/status/${status}`, { schema: UserSchema });
  }
  updateRoles(user: string, roles: AssignableRole[]) {
    return this.request("PUT", `/api/v2/users/${encodeURIComponent(user)}/roles`, { body: { roles }, schema: UserSchema });
  }
  deleteUser(user: string) {
    return this.request("DELETE", `/api/v2/users/${encodeURIComponent(user)}`);
  }

  createToken(user: string, body: CreateTokenRequest) {
    return this.request("POST", `/api/v2/users/${encodeURIComponent(user)}/keys/tokens`, { body, schema: CreateTokenResponseSchema });
  }
  listTokens(user: string) {
    return this.request("GET", `/api/v2/users/${encodeURIComponent(user)}/keys/tokens`, { schema: ApiKeyListSchema });
  }
  getToken(user: string, id: string) {
    return this.request("GET", `/api/v2/users/${encodeURIComponent(user)}/keys/${encodeURIComponent(id)}`, { schema: ApiKeySchema });
  }
  deleteToken(user: string, idOrName: string) {
    return this.request("DELETE", `/api/v2/users/${encodeURIComponent(user)}/keys/${encodeURIComponent(idOrName)}`);
  }

  auditLogs(query: AuditQuery = {}) {
    return this.request("GET", "/api/v2/audit", { query: query as Query, schema: AuditPageSchema });
  }
}
