/**
 * The authorization matrix: every route x every site role (and no session), with the expected
 * status written by hand, not derived from the policy table. Like coder/coder's rbac authz matrix,
 * the point is that a policy change shows up as a diff here that a reviewer has to agree with.
 *
 * Rows read: owner, user-admin, template-admin, auditor, member, anonymous.
 * Targets: the caller itself, another member, another owner, a user that does not exist, a deleted user.
 */
import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allRoutes } from "../../src/http/routes.js";
import { errorShapeProblem, leakIn } from "../helpers/api-asserts.js";
import { tarOf } from "../helpers/fleet.js";
import { createTestServer, login, setupOwner, type TestServer } from "../helpers/test-server.js";

type Role = "owner" | "user-admin" | "template-admin" | "auditor" | "member";
type Caller = Role | "anonymous";
const CALLERS: readonly Caller[] = ["owner", "user-admin", "template-admin", "auditor", "member", "anonymous"];
type Expect = readonly [owner: number, userAdmin: number, templateAdmin: number, auditor: number, member: number, anonymous: number];
type Target = "none" | "self" | "member" | "owner" | "missing" | "deleted";

interface TestUser {
  id: string;
  username: string;
  email: string;
  token: string;
  password: string;
  /** Not in the database (missing) or soft-deleted: nothing to snapshot. */
  absent?: boolean;
}

interface Ctx {
  caller: Caller;
  actor?: TestUser;
  target?: TestUser;
  variant?: string;
}

interface Req {
  url: string;
  payload?: object | Buffer;
  headers?: Record<string, string>;
  /** Extra checks on the outcome, beyond the status. */
  check?(res: LightMyRequestResponse): Promise<void> | void;
}

interface Case {
  target: Target;
  /** Distinguishes cases of one route with the same target (e.g. suspend vs activate). */
  variant?: string;
  expect: Expect;
}

interface RouteSpec {
  /** Each request gets a fresh target (and a fresh caller when it targets itself): the route changes or ends them. */
  fresh?: boolean;
  /** A successful request changes the target (its row or its keys); a refused one must change nothing. */
  changes?: boolean;
  request(ctx: Ctx): Promise<Req> | Req;
  cases: Case[];
}

const PASSWORD = "Matrix-pass-42";
const NEW_PASSWORD = "Matrix-pass-43";
let counter = 0;
const uniq = (prefix: string) => `${prefix}-${++counter}`;

let s: TestServer;
let root: string;
const actors = {} as Record<Role, TestUser>;
const shared = {} as { member: TestUser; owner: TestUser; deleted: TestUser; loginOnly: TestUser };

const rolesOf = (role: Role): string[] => (role === "member" ? [] : [role]);

async function makeUser(roles: string[], opts: { login?: boolean } = {}): Promise<TestUser> {
  const username = uniq(roles[0] ?? "member").slice(0, 32);
  const email = `${username}@example.com`;
  const res = await s.request({ method: "POST", url: "/api/v2/users", token: root, payload: { email, username, password: PASSWORD, roles } });
  if (res.statusCode !== 201) throw new Error(`create ${username}: ${res.statusCode} ${res.body}`);
  const token = opts.login === false ? "" : await login(s, email, PASSWORD);
  return { id: res.json().id, username, email, token, password: PASSWORD };
}

/** Creates an API token for `user` (as the root owner) and returns its id. */
async function makeKey(user: TestUser): Promise<string> {
  const res = await s.request({ method: "POST", url: `/api/v2/users/${user.id}/keys/tokens`, token: root, payload: { name: uniq("key") } });
  if (res.statusCode !== 201) throw new Error(`token for ${user.username}: ${res.statusCode} ${res.body}`);
  return res.json().token.id;
}

/** Templates, versions and workspaces the fleet routes act on (made by the root owner in beforeAll). */
const fleet = {} as {
  fileHash: string;
  template: string;
  spareVersion: string;
  workspace: { id: string; name: string; buildId: string };
  /** A running workspace of the shared member with one agent (never connected). */
  agented: { id: string; name: string; agentId: string };
};
const AGENT_BINARY = Buffer.from("#!/bin/sh\necho matrix agent\n");
const DAEMON = { "outpost-provisioner-key": "builtin-test-provisioner-key" };
const TAR = { "content-type": "application/x-tar" };

async function rootCall(method: InjectOptions["method"], url: string, payload?: object, headers: Record<string, string> = {}) {
  const res = await s.request({ method, url, token: headers["outpost-provisioner-key"] ? undefined : root, headers, ...(payload ? { payload } : {}) });
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.statusCode === 204 ? undefined : res.json();
}

/** Pushes a version and runs its import through the daemon API, so it can be used. */
async function pushImported(template: string, name: string): Promise<void> {
  await rootCall("POST", `/api/v2/templates/${template}/versions`, { file_hash: fleet.fileHash, name });
  const daemon = await rootCall("POST", "/api/v2/provisionerdaemons", { name: "matrix" }, DAEMON);
  // Workspace builds queued by other cases may come first: fail those (nothing builds them here).
  for (;;) {
    const job = await rootCall("POST", `/api/v2/provisionerdaemons/${daemon.id}/acquire`, { wait_seconds: 0 }, DAEMON);
    if (job.type === "template_version_import") {
      await rootCall("POST", `/api/v2/provisionerjobs/${job.id}/complete`, { import: { parameters: [], resources: [] } }, DAEMON);
      return;
    }
    await rootCall("POST", `/api/v2/provisionerjobs/${job.id}/fail`, { error: "not built in the authz matrix" }, DAEMON);
  }
}

/** A new workspace of the shared member, its first build still pending. */
async function memberWorkspace(): Promise<{ id: string; name: string; buildId: string }> {
  const ws = await rootCall("POST", `/api/v2/users/${shared.member.username}/workspaces`, { name: uniq("ws"), template: fleet.template });
  return { id: ws.id, name: ws.name, buildId: ws.latest_build.id };
}

/** A running member workspace whose build reported an agent (through the daemon API). */
async function agentedWorkspace(): Promise<{ id: string; name: string; agentId: string }> {
  const ws = await memberWorkspace();
  const daemon = await rootCall("POST", "/api/v2/provisionerdaemons", { name: "matrix" }, DAEMON);
  for (;;) {
    const job = await rootCall("POST", `/api/v2/provisionerdaemons/${daemon.id}/acquire`, { wait_seconds: 0 }, DAEMON);
    if (!job) throw new Error("the agented workspace's build was never handed out");
    if (job.build?.workspace_build_id !== ws.buildId) {
      await rootCall("POST", `/api/v2/provisionerjobs/${job.id}/fail`, { error: "not built in the authz matrix" }, DAEMON);
      continue;
    }
    const spec = { name: "main", os: "linux", arch: "amd64" };
    const agents = [{ name: "main", resource_address: "docker_container.main", spec, token: "m".repeat(43) }];
    await rootCall("POST", `/api/v2/provisionerjobs/${job.id}/complete`, { build: { state: [], agents } }, DAEMON);
    const view = await rootCall("GET", `/api/v2/workspaces/${ws.id}`);
    return { id: ws.id, name: ws.name, agentId: view.agents[0].id };
  }
}

const ghost = (): TestUser => ({ id: randomUUID(), username: "ghost-user", email: "ghost@example.com", token: "", password: "", absent: true });
const ref = (c: Ctx) => c.target!.username;

/** Every status in this table was decided by reading DESIGN.md "Identity and access", not POLICY. */
const MATRIX: Record<string, RouteSpec> = {
  "GET /healthz": {
    request: () => ({ url: "/healthz", check: (r) => expect(r.json()).toEqual({ status: "ok" }) }),
    cases: [{ target: "none", expect: [200, 200, 200, 200, 200, 200] }],
  },
  "GET /api/v2/buildinfo": {
    request: () => ({ url: "/api/v2/buildinfo", check: (r) => expect(r.json().version).toBe("0.0.0-test") }),
    cases: [{ target: "none", expect: [200, 200, 200, 200, 200, 200] }],
  },
  "GET /api/v2/users/first": {
    request: () => ({ url: "/api/v2/users/first", check: (r) => expect(r.json()).toEqual({ setup_done: true }) }),
    cases: [{ target: "none", expect: [200, 200, 200, 200, 200, 200] }],
  },
  "POST /api/v2/users/first": {
    // Once set up, nobody creates another first user, whatever their roles.
    request: () => {
      const username = uniq("first");
      return { url: "/api/v2/users/first", payload: { email: `${username}@example.com`, username, password: PASSWORD } };
    },
    cases: [{ target: "none", expect: [409, 409, 409, 409, 409, 409] }],
  },
  "POST /api/v2/users/login": {
    request: () => ({
      url: "/api/v2/users/login",
      payload: { email: shared.loginOnly.email, password: PASSWORD },
      check: (r) => expect(r.json().session_token).toMatch(/^[a-zA-Z0-9]{10}-[a-zA-Z0-9]{22}$/),
    }),
    cases: [{ target: "none", expect: [201, 201, 201, 201, 201, 201] }],
  },
  "POST /api/v2/users/logout": {
    fresh: true,
    changes: true,
    request: (c) => ({
      url: "/api/v2/users/logout",
      check: async (r) => {
        if (r.statusCode !== 204) return;
        expect((await s.request({ method: "GET", url: "/api/v2/users/me", token: c.actor!.token })).statusCode).toBe(401);
      },
    }),
    cases: [{ target: "self", expect: [204, 204, 204, 204, 204, 401] }],
  },
  "GET /api/v2/users": {
    request: (c) => ({
      url: "/api/v2/users?limit=1000",
      check: (r) => {
        if (r.statusCode !== 200) return;
        const ids = (r.json().items as { id: string }[]).map((u) => u.id);
        // Members see only themselves; everyone with read on users sees the others too.
        if (c.caller === "member") expect(ids).toEqual([c.actor!.id]);
        else expect(ids).toEqual(expect.arrayContaining([c.actor!.id, shared.member.id, shared.owner.id]));
      },
    }),
    cases: [{ target: "none", expect: [200, 200, 200, 200, 200, 401] }],
  },
  "POST /api/v2/users": {
    request: (c) => {
      const username = uniq("new");
      const roles = c.variant === "grant-owner" ? ["owner"] : c.variant === "grant-auditor" ? ["auditor"] : [];
      return {
        url: "/api/v2/users",
        payload: { email: `${username}@example.com`, username, password: PASSWORD, roles },
        check: async (r) => {
          const { rows } = await s.deps.db.query("SELECT roles FROM users WHERE username = $1 AND NOT deleted", [username]);
          expect(rows.length).toBe(r.statusCode === 201 ? 1 : 0);
          if (r.statusCode === 201) expect(rows[0].roles).toEqual(roles);
        },
      };
    },
    cases: [
      { target: "none", expect: [201, 201, 403, 403, 403, 401] },
      { target: "none", variant: "grant-auditor", expect: [201, 201, 403, 403, 403, 401] },
      // A user admin may not mint owners: no escalation past their own rank.
      { target: "none", variant: "grant-owner", expect: [201, 403, 403, 403, 403, 401] },
    ],
  },
  "GET /api/v2/users/:user": {
    request: (c) => ({
      url: `/api/v2/users/${c.variant === "by-id" ? c.target!.id : ref(c)}`,
      check: (r) => {
        if (r.statusCode === 200) expect(r.json().id).toBe(c.target!.id);
      },
    }),
    cases: [
      { target: "self", expect: [200, 200, 200, 200, 200, 401] },
      { target: "member", expect: [200, 200, 200, 200, 404, 401] },
      { target: "member", variant: "by-id", expect: [200, 200, 200, 200, 404, 401] },
      { target: "owner", expect: [200, 200, 200, 200, 404, 401] },
      { target: "missing", expect: [404, 404, 404, 404, 404, 401] },
      { target: "deleted", expect: [404, 404, 404, 404, 404, 401] },
      { target: "deleted", variant: "by-id", expect: [404, 404, 404, 404, 404, 401] },
    ],
  },
  "PUT /api/v2/users/:user/profile": {
    changes: true,
    request: (c) => ({ url: `/api/v2/users/${ref(c)}/profile`, payload: { name: uniq("Renamed") } }),
    cases: [
      { target: "self", expect: [200, 200, 200, 200, 200, 401] },
      { target: "member", expect: [200, 200, 403, 403, 404, 401] },
      // Only owners change owners.
      { target: "owner", expect: [200, 403, 403, 403, 404, 401] },
      { target: "missing", expect: [404, 404, 404, 404, 404, 401] },
    ],
  },
  "PUT /api/v2/users/:user/password": {
    fresh: true,
    changes: true,
    request: (c) => ({
      url: `/api/v2/users/${ref(c)}/password`,
      payload: c.target!.id === c.actor?.id ? { old_password: PASSWORD, password: NEW_PASSWORD } : { password: NEW_PASSWORD },
    }),
    cases: [
      { target: "self", expect: [204, 204, 204, 204, 204, 401] },
      { target: "member", expect: [204, 204, 403, 403, 404, 401] },
      { target: "owner", expect: [204, 403, 403, 403, 404, 401] },
      { target: "missing", expect: [404, 404, 404, 404, 404, 401] },
    ],
  },
  "PUT /api/v2/users/:user/status/:status": {
    fresh: true,
    changes: true,
    request: async (c) => {
      const target = c.target!;
      if (c.variant === "activate" && !target.absent && target.id !== c.actor?.id) {
        const res = await s.request({ method: "PUT", url: `/api/v2/users/${target.id}/status/suspend`, token: root });
        if (res.statusCode !== 200) throw new Error(`suspend ${target.username}: ${res.body}`);
      }
      return { url: `/api/v2/users/${ref(c)}/status/${c.variant!}` };
    },
    cases: [
      // Nobody suspends or re-activates themselves: 400 for those who could otherwise, 403 for those who could never.
      { target: "self", variant: "suspend", expect: [400, 400, 403, 403, 403, 401] },
      { target: "member", variant: "suspend", expect: [200, 200, 403, 403, 404, 401] },
      { target: "owner", variant: "suspend", expect: [200, 403, 403, 403, 404, 401] },
      { target: "missing", variant: "suspend", expect: [404, 404, 404, 404, 404, 401] },
      { target: "self", variant: "activate", expect: [400, 400, 403, 403, 403, 401] },
      { target: "member", variant: "activate", expect: [200, 200, 403, 403, 404, 401] },
      { target: "owner", variant: "activate", expect: [200, 403, 403, 403, 404, 401] },
      { target: "missing", variant: "activate", expect: [404, 404, 404, 404, 404, 401] },
    ],
  },
  "PUT /api/v2/users/:user/roles": {
    fresh: true,
    changes: true,
    request: (c) => ({ url: `/api/v2/users/${ref(c)}/roles`, payload: { roles: c.variant === "grant-owner" ? ["owner"] : ["auditor"] } }),
    cases: [
      // Nobody changes their own roles.
      { target: "self", expect: [400, 400, 403, 403, 403, 401] },
      { target: "member", expect: [200, 200, 403, 403, 404, 401] },
      { target: "member", variant: "grant-owner", expect: [200, 403, 403, 403, 404, 401] },
      { target: "owner", expect: [200, 403, 403, 403, 404, 401] },
      { target: "missing", expect: [404, 404, 404, 404, 404, 401] },
    ],
  },
  "DELETE /api/v2/users/:user": {
    fresh: true,
    changes: true,
    request: (c) => ({
      url: `/api/v2/users/${ref(c)}`,
      check: async (r) => {
        if (r.statusCode !== 204) return;
        // Deleting a user ends every one of their keys.
        expect((await s.request({ method: "GET", url: "/api/v2/users/me", token: c.target!.token })).statusCode).toBe(401);
      },
    }),
    cases: [
      { target: "self", expect: [400, 400, 403, 403, 403, 401] },
      { target: "member", expect: [204, 204, 403, 403, 404, 401] },
      { target: "owner", expect: [204, 403, 403, 403, 404, 401] },
      { target: "missing", expect: [404, 404, 404, 404, 404, 401] },
    ],
  },
  "POST /api/v2/users/:user/keys/tokens": {
    changes: true,
    // Tokens are the user's own: even a user admin cannot see or mint another user's.
    request: (c) => ({ url: `/api/v2/users/${ref(c)}/keys/tokens`, payload: { name: uniq("tok") } }),
    cases: [
      { target: "self", expect: [201, 201, 201, 201, 201, 401] },
      { target: "member", expect: [201, 404, 404, 404, 404, 401] },
      { target: "owner", expect: [201, 404, 404, 404, 404, 401] },
      { target: "missing", expect: [404, 404, 404, 404, 404, 401] },
    ],
  },
  "GET /api/v2/users/:user/keys/tokens": {
    request: (c) => ({ url: `/api/v2/users/${ref(c)}/keys/tokens` }),
    cases: [
      { target: "self", expect: [200, 200, 200, 200, 200, 401] },
      { target: "member", expect: [200, 404, 404, 404, 404, 401] },
      { target: "owner", expect: [200, 404, 404, 404, 404, 401] },
      { target: "missing", expect: [404, 404, 404, 404, 404, 401] },
    ],
  },
  "GET /api/v2/users/:user/keys/:key": {
    request: async (c) => {
      const key = c.target!.absent ? "abcdefghij" : await makeKey(c.target!);
      return { url: `/api/v2/users/${ref(c)}/keys/${key}`, check: (r) => void (r.statusCode === 200 && expect(r.json().id).toBe(key)) };
    },
    cases: [
      { target: "self", expect: [200, 200, 200, 200, 200, 401] },
      { target: "member", expect: [200, 404, 404, 404, 404, 401] },
      { target: "owner", expect: [200, 404, 404, 404, 404, 401] },
      { target: "missing", expect: [404, 404, 404, 404, 404, 401] },
    ],
  },
  "DELETE /api/v2/users/:user/keys/:key": {
    changes: true,
    request: async (c) => {
      const key = c.target!.absent ? "abcdefghij" : await makeKey(c.target!);
      return { url: `/api/v2/users/${ref(c)}/keys/${key}` };
    },
    cases: [
      { target: "self", expect: [204, 204, 204, 204, 204, 401] },
      { target: "member", expect: [204, 404, 404, 404, 404, 401] },
      { target: "owner", expect: [204, 404, 404, 404, 404, 401] },
      { target: "missing", expect: [404, 404, 404, 404, 404, 401] },
    ],
  },
  "GET /api/v2/audit": {
    // The audit log is invisible (404, not 403) to anyone but owners and auditors.
    request: () => ({ url: "/api/v2/audit", check: (r) => void (r.statusCode === 200 && expect(r.json().count).toBeGreaterThan(0)) }),
    cases: [{ target: "none", expect: [200, 404, 404, 200, 404, 401] }],
  },
  "POST /api/v2/files": {
    request: () => ({ url: "/api/v2/files", headers: TAR, payload: Buffer.from(tarOf({ "template.ts": `// ${uniq("f")}\n` })) }),
    cases: [{ target: "none", expect: [201, 403, 201, 403, 403, 401] }],
  },
  "GET /api/v2/files/:hash": {
    request: () => ({ url: `/api/v2/files/${fleet.fileHash}` }),
    cases: [{ target: "none", expect: [200, 404, 200, 404, 404, 401] }],
  },
  "GET /api/v2/templates": {
    request: () => ({ url: "/api/v2/templates", check: (r) => void (r.statusCode === 200 && expect(r.json().map((t: { name: string }) => t.name)).toContain(fleet.template)) }),
    cases: [{ target: "none", expect: [200, 200, 200, 200, 200, 401] }],
  },
  "GET /api/v2/templates/:template": {
    request: () => ({ url: `/api/v2/templates/${fleet.template}` }),
    cases: [{ target: "none", expect: [200, 200, 200, 200, 200, 401] }],
  },
  "PATCH /api/v2/templates/:template": {
    request: () => ({ url: `/api/v2/templates/${fleet.template}`, payload: { description: uniq("desc") } }),
    cases: [{ target: "none", expect: [200, 403, 200, 403, 403, 401] }],
  },
  "DELETE /api/v2/templates/:template": {
    request: async () => {
      const name = uniq("gone");
      await pushImported(name, "v1");
      return { url: `/api/v2/templates/${name}` };
    },
    cases: [{ target: "none", expect: [204, 403, 204, 403, 403, 401] }],
  },
  "GET /api/v2/templates/:template/versions": {
    request: () => ({ url: `/api/v2/templates/${fleet.template}/versions` }),
    cases: [{ target: "none", expect: [200, 200, 200, 200, 200, 401] }],
  },
  "POST /api/v2/templates/:template/versions": {
    request: () => ({ url: `/api/v2/templates/${fleet.template}/versions`, payload: { file_hash: fleet.fileHash, name: uniq("v"), activate: false } }),
    cases: [{ target: "none", expect: [201, 403, 201, 403, 403, 401] }],
  },
  "GET /api/v2/templates/:template/versions/:version": {
    request: () => ({ url: `/api/v2/templates/${fleet.template}/versions/v1` }),
    cases: [{ target: "none", expect: [200, 200, 200, 200, 200, 401] }],
  },
  "PUT /api/v2/templates/:template/active-version": {
    request: () => ({ url: `/api/v2/templates/${fleet.template}/active-version`, payload: { version: "v1" } }),
    cases: [{ target: "none", expect: [200, 403, 200, 403, 403, 401] }],
  },
  "POST /api/v2/templates/:template/versions/:version/archive": {
    request: () => ({ url: `/api/v2/templates/${fleet.template}/versions/${fleet.spareVersion}/archive` }),
    cases: [{ target: "none", expect: [200, 403, 200, 403, 403, 401] }],
  },
  "POST /api/v2/templates/:template/versions/:version/unarchive": {
    request: () => ({ url: `/api/v2/templates/${fleet.template}/versions/${fleet.spareVersion}/unarchive` }),
    cases: [{ target: "none", expect: [200, 403, 200, 403, 403, 401] }],
  },
  "POST /api/v2/templates/:template/plans": {
    request: () => ({ url: `/api/v2/templates/${fleet.template}/plans`, payload: { file_hash: fleet.fileHash } }),
    cases: [{ target: "none", expect: [201, 403, 201, 403, 403, 401] }],
  },
  "GET /api/v2/templates/:template/plans/:plan": {
    request: async () => ({ url: `/api/v2/templates/${fleet.template}/plans/${(await rootCall("POST", `/api/v2/templates/${fleet.template}/plans`, { file_hash: fleet.fileHash })).id}` }),
    cases: [{ target: "none", expect: [200, 404, 200, 404, 404, 401] }],
  },
  "GET /api/v2/templateplans/:plan/logs": {
    request: async () => ({ url: `/api/v2/templateplans/${(await rootCall("POST", `/api/v2/templates/${fleet.template}/plans`, { file_hash: fleet.fileHash })).id}/logs` }),
    cases: [{ target: "none", expect: [200, 404, 200, 404, 404, 401] }],
  },
  "GET /api/v2/templateversions/:version/logs": {
    request: async () => ({ url: `/api/v2/templateversions/${(await rootCall("GET", `/api/v2/templates/${fleet.template}/versions/v1`)).id}/logs` }),
    cases: [{ target: "none", expect: [200, 200, 200, 200, 200, 401] }],
  },
  "GET /api/v2/workspaces": {
    request: (c) => ({
      url: "/api/v2/workspaces?owner=all",
      check: (r) => {
        if (r.statusCode !== 200) return;
        const owners = (r.json().items as { owner: { id: string } }[]).map((w) => w.owner.id);
        // Only those who may read every workspace see the member's.
        expect(owners.includes(shared.member.id)).toBe(c.caller === "owner" || c.caller === "template-admin");
      },
    }),
    cases: [{ target: "none", expect: [200, 200, 200, 200, 200, 401] }],
  },
  "POST /api/v2/users/:user/workspaces": {
    request: (c) => ({ url: `/api/v2/users/${ref(c)}/workspaces`, payload: { name: uniq("mine"), template: fleet.template } }),
    cases: [
      { target: "self", expect: [201, 201, 201, 201, 201, 401] },
      // Only owners create workspaces for others; those who cannot even see the user get 404.
      { target: "member", expect: [201, 403, 403, 403, 404, 401] },
    ],
  },
  "GET /api/v2/users/:user/workspaces/:workspace": {
    request: () => ({ url: `/api/v2/users/${shared.member.username}/workspaces/${fleet.workspace.name}` }),
    cases: [{ target: "none", expect: [200, 404, 200, 404, 404, 401] }],
  },
  "GET /api/v2/workspaces/:workspace": {
    request: () => ({ url: `/api/v2/workspaces/${fleet.workspace.id}` }),
    cases: [{ target: "none", expect: [200, 404, 200, 404, 404, 401] }],
  },
  "GET /api/v2/workspaces/:workspace/builds": {
    request: () => ({ url: `/api/v2/workspaces/${fleet.workspace.id}/builds` }),
    cases: [{ target: "none", expect: [200, 404, 200, 404, 404, 401] }],
  },
  "POST /api/v2/workspaces/:workspace/builds": {
    request: async () => ({ url: `/api/v2/workspaces/${(await memberWorkspace()).id}/builds`, payload: { transition: "stop" } }),
    cases: [{ target: "none", expect: [201, 404, 403, 404, 404, 401] }],
  },
  "GET /api/v2/workspacebuilds/:build": {
    request: () => ({ url: `/api/v2/workspacebuilds/${fleet.workspace.buildId}` }),
    cases: [{ target: "none", expect: [200, 404, 200, 404, 404, 401] }],
  },
  "PATCH /api/v2/workspacebuilds/:build/cancel": {
    request: async () => ({ url: `/api/v2/workspacebuilds/${(await memberWorkspace()).buildId}/cancel` }),
    cases: [{ target: "none", expect: [200, 404, 403, 404, 404, 401] }],
  },
  "GET /api/v2/workspacebuilds/:build/logs": {
    request: () => ({ url: `/api/v2/workspacebuilds/${fleet.workspace.buildId}/logs` }),
    cases: [{ target: "none", expect: [200, 404, 200, 404, 404, 401] }],
  },
  "GET /api/v2/provisionerdaemons": {
    request: () => ({ url: "/api/v2/provisionerdaemons" }),
    cases: [{ target: "none", expect: [200, 404, 200, 404, 404, 401] }],
  },
  "POST /api/v2/provisionerkeys": {
    request: () => ({ url: "/api/v2/provisionerkeys", payload: { name: uniq("pk") } }),
    cases: [{ target: "none", expect: [201, 403, 403, 403, 403, 401] }],
  },
  "GET /api/v2/provisionerkeys": {
    request: () => ({ url: "/api/v2/provisionerkeys" }),
    cases: [{ target: "none", expect: [200, 404, 404, 404, 404, 401] }],
  },
  "DELETE /api/v2/provisionerkeys/:name": {
    request: async () => {
      const name = uniq("pk");
      await rootCall("POST", "/api/v2/provisionerkeys", { name });
      return { url: `/api/v2/provisionerkeys/${name}` };
    },
    cases: [{ target: "none", expect: [204, 404, 404, 404, 404, 401] }],
  },
  // The daemon API takes a provisioner key, never a session: every user is refused.
  "POST /api/v2/provisionerdaemons": {
    request: () => ({ url: "/api/v2/provisionerdaemons", payload: { name: "rogue" } }),
    cases: [{ target: "none", expect: [401, 401, 401, 401, 401, 401] }],
  },
  "POST /api/v2/provisionerdaemons/:daemon/acquire": {
    request: () => ({ url: `/api/v2/provisionerdaemons/${randomUUID()}/acquire`, payload: {} }),
    cases: [{ target: "none", expect: [401, 401, 401, 401, 401, 401] }],
  },
  ...Object.fromEntries(
    (["heartbeat", "logs", "complete", "fail"] as const).map((op) => [
      `POST /api/v2/provisionerjobs/:job/${op}`,
      {
        request: () => ({ url: `/api/v2/provisionerjobs/${randomUUID()}/${op}`, payload: op === "logs" ? { logs: [{ stage: "x", level: "info", output: "y" }] } : op === "fail" ? { error: "x" } : {} }),
        cases: [{ target: "none", expect: [401, 401, 401, 401, 401, 401] }],
      } satisfies RouteSpec,
    ]),
  ),
  // The agent API takes an agent token, never a session.
  "GET /api/v2/workspaceagents/me/manifest": {
    request: () => ({ url: "/api/v2/workspaceagents/me/manifest" }),
    cases: [{ target: "none", expect: [401, 401, 401, 401, 401, 401] }],
  },
  "GET /api/v2/workspaceagents/me/rpc": {
    request: () => ({ url: "/api/v2/workspaceagents/me/rpc", headers: { "outpost-agent-api-version": "1" } }),
    cases: [{ target: "none", expect: [401, 401, 401, 401, 401, 401] }],
  },
  // Agents are read like their workspace: the owner and whoever reads every workspace.
  "GET /api/v2/workspaceagents/:agent": {
    request: () => ({ url: `/api/v2/workspaceagents/${fleet.agented.agentId}`, check: (r) => void (r.statusCode === 200 && expect(r.json()).toMatchObject({ name: "main", status: "connecting" })) }),
    cases: [{ target: "none", expect: [200, 404, 200, 404, 404, 401] }],
  },
  "GET /api/v2/workspaceagents/:agent/logs": {
    request: () => ({ url: `/api/v2/workspaceagents/${fleet.agented.agentId}/logs`, check: (r) => void (r.statusCode === 200 && expect(r.json().logs).toEqual([])) }),
    cases: [{ target: "none", expect: [200, 404, 200, 404, 404, 401] }],
  },
  // Getting inside a workspace: its owner and site owners (503: the agent is not connected, the checks
  // before it passed); template admins see the workspace but may not enter it (403).
  "GET /api/v2/workspaceagents/:agent/connect": {
    request: () => ({ url: `/api/v2/workspaceagents/${fleet.agented.agentId}/connect?kind=ssh` }),
    cases: [{ target: "none", expect: [503, 404, 403, 404, 404, 401] }],
  },
  "GET /api/v2/users/:user/workspaces/:workspace/connect": {
    request: () => ({ url: `/api/v2/users/${shared.member.username}/workspaces/${fleet.agented.name}/connect?kind=tcp&port=8080` }),
    cases: [{ target: "none", expect: [503, 404, 403, 404, 404, 401] }],
  },
  "GET /api/v2/workspaceagents/:agent/pty": {
    request: () => ({ url: `/api/v2/workspaceagents/${fleet.agented.agentId}/pty?reconnect=${randomUUID()}` }),
    cases: [{ target: "none", expect: [503, 404, 403, 404, 404, 401] }],
  },
  // A WebSocket endpoint asked for without an upgrade: 426 once the caller may read the workspace.
  "GET /api/v2/workspaces/:workspace/watch": {
    request: () => ({ url: `/api/v2/workspaces/${fleet.agented.id}/watch` }),
    cases: [{ target: "none", expect: [426, 404, 426, 404, 404, 401] }],
  },
  // The agent executable is public (workspace init scripts fetch it without credentials).
  "GET /bin/outpost-agent-linux-amd64": {
    request: () => ({ url: "/bin/outpost-agent-linux-amd64", check: (r) => expect(r.rawPayload.equals(AGENT_BINARY)).toBe(true) }),
    cases: [{ target: "none", expect: [200, 200, 200, 200, 200, 200] }],
  },
  "GET /bin/outpost-agent-linux-amd64.sha256": {
    request: () => ({ url: "/bin/outpost-agent-linux-amd64.sha256", check: (r) => expect(r.body).toBe(`${createHash("sha256").update(AGENT_BINARY).digest("hex")}  outpost-agent-linux-amd64\n`) }),
    cases: [{ target: "none", expect: [200, 200, 200, 200, 200, 200] }],
  },
  "GET /api/v2/provisionerjobs/:job/archive": {
    request: () => ({ url: `/api/v2/provisionerjobs/${randomUUID()}/archive` }),
    cases: [{ target: "none", expect: [401, 401, 401, 401, 401, 401] }],
  },
};

beforeAll(async () => {
  const binDir = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-matrix-bin-"));
  fs.writeFileSync(path.join(binDir, "agent"), AGENT_BINARY);
  s = await createTestServer({ env: { OUTPOST_LOGIN_RATE_LIMIT_IP: "1000000", OUTPOST_AGENT_BINARY: path.join(binDir, "agent") } });
  root = await setupOwner(s);
  for (const role of CALLERS) if (role !== "anonymous") actors[role] = await makeUser(rolesOf(role));
  shared.member = await makeUser([]);
  shared.owner = await makeUser(["owner"]);
  shared.loginOnly = await makeUser([], { login: false });
  shared.deleted = await makeUser([]);
  const del = await s.request({ method: "DELETE", url: `/api/v2/users/${shared.deleted.id}`, token: root });
  if (del.statusCode !== 204) throw new Error(`delete: ${del.body}`);
  shared.deleted.absent = true;
  fleet.fileHash = (await s.request({ method: "POST", url: "/api/v2/files", token: root, headers: TAR, payload: Buffer.from(tarOf({ "template.ts": "export default 1;\n" })) })).json().hash;
  fleet.template = "matrix-tpl";
  await pushImported(fleet.template, "v1");
  await rootCall("POST", `/api/v2/templates/${fleet.template}/versions`, { file_hash: fleet.fileHash, name: "spare", activate: false });
  fleet.spareVersion = "spare";
  fleet.workspace = await memberWorkspace();
  fleet.agented = await agentedWorkspace();
});
afterAll(async () => s?.close());

/** The target's row and key ids, minus bookkeeping that any authenticated request touches. */
async function snapshot(user: TestUser | undefined): Promise<unknown> {
  if (!user || user.absent) return undefined;
  const u = await s.deps.db.query("SELECT username, email, name, hashed_password, status, roles, deleted FROM users WHERE id = $1", [user.id]);
  const k = await s.deps.db.query("SELECT id, expires_at FROM api_keys WHERE user_id = $1 ORDER BY id", [user.id]);
  return { user: u.rows[0], keys: k.rows };
}

async function run(spec: RouteSpec, method: string, c: Case, caller: Caller, expected: number): Promise<void> {
  let actor: TestUser | undefined;
  if (caller !== "anonymous") actor = spec.fresh && c.target === "self" ? await makeUser(rolesOf(caller)) : actors[caller];
  let target: TestUser | undefined;
  switch (c.target) {
    case "none":
      break;
    case "self":
      target = actor ?? (spec.fresh ? await makeUser([]) : shared.member);
      break;
    case "member":
      target = spec.fresh ? await makeUser([]) : shared.member;
      break;
    case "owner":
      target = spec.fresh ? await makeUser(["owner"]) : shared.owner;
      break;
    case "missing":
      target = ghost();
      break;
    case "deleted":
      target = shared.deleted;
      break;
  }
  const ctx: Ctx = { caller, actor, target, variant: c.variant };
  const req = await spec.request(ctx);
  const before = await snapshot(target);
  const opts: InjectOptions & { token?: string } = { method: method as InjectOptions["method"], url: req.url, token: actor?.token };
  if (req.payload !== undefined) opts.payload = req.payload;
  if (req.headers) opts.headers = req.headers;
  const res = await s.request(opts);

  expect(res.statusCode, `${caller} ${method} ${req.url}: ${res.body}`).toBe(expected);
  expect(leakIn(res.body)).toBeUndefined();
  if (expected >= 400) {
    expect(errorShapeProblem(res)).toBeUndefined();
    const body = res.json();
    expect(body.code).toBe({ 400: "INVALID_INPUT", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT", 426: "UPGRADE_REQUIRED", 503: "UNAVAILABLE" }[expected]);
    // A user you may not read looks exactly like one that does not exist.
    if (expected === 404 && target && !req.url.includes("/workspaces")) expect(body).toEqual({ code: "NOT_FOUND", message: "user not found" });
  }
  const after = await snapshot(target);
  if (before !== undefined) {
    if (spec.changes && expected < 300) expect(after, "a successful request changed its target").not.toEqual(before);
    else expect(after, "a refused or read-only request left its target alone").toEqual(before);
  }
  await req.check?.(res);
}

describe("authz matrix", () => {
  it("covers exactly the routes the server serves", () => {
    const served = allRoutes().map((r) => `${r.method} ${r.url}`).sort();
    expect(Object.keys(MATRIX).sort()).toEqual(served);
  });

  it("each route's table has a case for every caller, targeting each kind at most once per variant", () => {
    for (const [key, spec] of Object.entries(MATRIX)) {
      expect(spec.cases.length, key).toBeGreaterThan(0);
      const ids = spec.cases.map((c) => `${c.target}/${c.variant ?? ""}`);
      expect(new Set(ids).size, key).toBe(ids.length);
      for (const c of spec.cases) expect(c.expect.length, key).toBe(CALLERS.length);
    }
  });

  for (const [key, spec] of Object.entries(MATRIX)) {
    const method = key.split(" ")[0]!;
    describe(key, () => {
      for (const c of spec.cases) {
        for (const [i, caller] of CALLERS.entries()) {
          const expected = c.expect[i]!;
          it(`${caller} -> ${c.target}${c.variant ? ` (${c.variant})` : ""}: ${expected}`, () => run(spec, method, c, caller, expected));
        }
      }
    });
  }
});
