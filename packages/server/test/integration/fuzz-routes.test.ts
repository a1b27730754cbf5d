/**
 * Property test: random bodies, queries, path parameters and credentials thrown at every route, as
 * the owner, as a member and without a session. Whatever arrives, the server answers 2xx or 4xx
 * (never 5xx), every 4xx is the API error shape, and nothing leaks a stack trace or a file path.
 *
 * FUZZ_RUNS (runs per route and caller, default 50) and FUZZ_SEED reproduce or deepen a run.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { ASSIGNABLE_ROLES } from "@outpost/sdk/roles";
import { NAME_PATTERN } from "@outpost/sdk/names";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RouteDef } from "../../src/http/route.js";
import { allRoutes } from "../../src/http/routes.js";
import { errorShapeProblem, leakIn } from "../helpers/api-asserts.js";
import { createTestServer, createUserWithRoles, login, OWNER, setupOwner, type TestServer } from "../helpers/test-server.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 50);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;

type Who = "owner" | "member" | "anonymous";
interface Actor {
  id: string;
  username: string;
  token: string;
}

let s: TestServer;
const actors = {} as Record<"owner" | "member", Actor>;
let ownerId: string;
let generation = 0;
const statuses = new Map<number, number>();

const SQLISH = [
  "'; DROP TABLE users; --",
  "' OR '1'='1",
  "1; DELETE FROM api_keys",
  '"; UPDATE users SET roles = \'{owner}\'; --',
  "' UNION SELECT hashed_password FROM users --",
  "%",
  "_",
  "\\",
  "$1",
  "NULL",
  "${jndi:ldap://x}",
  "{{7*7}}",
  "<script>alert(1)</script>",
  "../../etc/passwd",
];
const UNICODE = ["用户", "jösé", "dev🚀", "\u202eevil", "a\u200bb", "\ud800", "\udfff\ud800", "ａｄｍｉｎ", "\ufeff", "line\r\nbreak", "tab\there", "\u0000", "nul\u0000in"];
const SPECIAL = ["", " ", "me", "owner", "member", "null", "undefined", "true", "0", "-1", "1e309", "NaN", "__proto__", "constructor", "prototype"];

const hugeString = fc.integer({ min: 10_000, max: 1_200_000 }).map((n) => "x".repeat(n));

const anyString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: fc.constantFrom(...SQLISH, ...UNICODE, ...SPECIAL) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9]{1,8}(-[a-z0-9]{1,8})?$/) },
  { weight: 1, arbitrary: fc.string({ minLength: 200, maxLength: 2000 }) },
  { weight: 1, arbitrary: fc.uuid() },
);

/** Anything JSON can hold, biased towards the nasty. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: anyString },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 1e308, -1e308, 2 ** 53 + 1, 0.5, 59, 60, 3600, 31_536_000, 31_536_001) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.array(anyString, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

const shortName = fc.stringMatching(/^[a-z0-9]{1,10}(-[a-z0-9]{1,10})?$/);

/** Values that pass validation, so requests reach the services and the database. */
function valid(field: string): fc.Arbitrary<unknown> {
  switch (field) {
    case "email":
      return fc.oneof(shortName.map((n) => `${n}@example.com`), fc.constantFrom(OWNER.email, "FUZZ@EXAMPLE.COM"));
    case "username":
      return fc.oneof(shortName, fc.constantFrom("owner", "victim-1", "victim-2"));
    case "password":
      return fc.oneof(fc.constantFrom("Fuzz-pass-123", "Fuzz-pass-456"), fc.string({ minLength: 6, maxLength: 30 }).map((x) => `Fz9-${x}`));
    case "old_password":
      return fc.constantFrom("Fuzz-pass-123", "Member-pass-42", "Victim-pass-42");
    case "roles":
      return fc.uniqueArray(fc.constantFrom(...ASSIGNABLE_ROLES), { maxLength: 3 });
    case "lifetime_seconds":
      return fc.integer({ min: 60, max: 40_000_000 });
    case "name":
      return fc.oneof(shortName, fc.string({ maxLength: 128 }).map((x) => x.replace(/\u0000/g, "")));
    default:
      return anyValue;
  }
}

/** Mostly valid, sometimes anything: one bad field among good ones. */
const plausible = (field: string): fc.Arbitrary<unknown> => fc.oneof({ weight: 5, arbitrary: valid(field) }, { weight: 1, arbitrary: anyValue });

function fieldsOf(def: RouteDef): string[] {
  const shape = (def.body as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : [];
}

interface Body {
  text?: string;
  contentType?: string;
}

function bodyArb(def: RouteDef): fc.Arbitrary<Body> {
  const fields = fieldsOf(def);
  const json = (v: unknown): Body => ({ text: JSON.stringify(v), contentType: "application/json" });
  const w = (weight: number, arbitrary: fc.Arbitrary<Body>) => ({ weight, arbitrary });
  const options = [
    w(1, fc.constant({})),
    w(2, fc.jsonValue({ maxDepth: 3 }).map(json)),
    w(1, fc.string({ maxLength: 60 }).map((text) => ({ text, contentType: "application/json" }))),
    w(1, fc.constantFrom('{"a":', "{'a': 1}", "[1,2,", "nul", '{"__proto__": {"admin": true}}', '{"constructor": {"prototype": {"x": 1}}}').map((text) => ({ text, contentType: "application/json" }))),
    w(1, fc.tuple(fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data", "application/json; charset=latin1"), fc.string({ maxLength: 40 })).map(([contentType, text]) => ({ text, contentType }))),
    w(1, hugeString.map((x) => json({ name: x, email: x, username: x, password: x }))),
  ];
  if (fields.length > 0) {
    const wrongTypes = Object.fromEntries(fields.map((f) => [f, anyValue]));
    const near = Object.fromEntries(fields.map((f) => [f, plausible(f)]));
    const good = Object.fromEntries(fields.map((f) => [f, valid(f)]));
    options.push(
      w(2, fc.record(wrongTypes, { requiredKeys: [] }).map(json)),
      w(3, fc.record(near, { requiredKeys: [] }).map(json)),
      w(10, fc.record(good, { requiredKeys: fields.filter((f) => f !== "old_password" && f !== "name") }).map(json)),
      w(1, fc.tuple(fc.record(good), fc.constantFrom("admin", "id", "hashed_password", "deleted", "status"), anyValue).map(([o, k, v]) => json({ ...o, [k]: v }))),
    );
  }
  return fc.oneof(...options);
}

/** encodeURIComponent, except that lone surrogates (which it refuses) become U+FFFD. */
const enc = (v: string) => encodeURIComponent(v.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd"));

const QUERY_KEYS = ["limit", "offset", "q", "status", "role", "username", "action", "resource_type", "resource_id", "since", "until"];
const queryValue = fc.oneof(
  anyString,
  fc.integer({ min: -5, max: 2000 }).map(String),
  fc.constantFrom("0", "1", "abc", "1.5", "-1", "1e3", "Infinity", "", "success", "failure", "login", "user", "api_key", "active", "suspended", "owner"),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom("2026-02-30T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-01-01T00:00:00+14:00", "yesterday"),
);
const queryArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant("") },
  {
    weight: 5,
    arbitrary: fc
      .array(fc.tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...QUERY_KEYS) }, { weight: 1, arbitrary: anyString }), queryValue), { maxLength: 5 })
      .map((pairs) => pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&")),
  },
  { weight: 1, arbitrary: fc.constantFrom("limit", "limit=", "=1", "&&&", "a[b]=c", "limit=1&limit=2", "%zz=1", "q=%", "q=%00", "q=%C0%AF", "__proto__[x]=1") },
);

function paramArb(name: string, known: string[]): fc.Arbitrary<string> {
  const raw = name === "status" ? fc.oneof(fc.constantFrom("suspend", "activate"), anyString) : fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...known) }, { weight: 3, arbitrary: anyString });
  return fc.oneof(
    { weight: 9, arbitrary: raw.map(enc) },
    { weight: 1, arbitrary: fc.constantFrom("%", "%zz", "%C0%AF", "%00", "..%2F..%2Fetc", "%2e%2e", "a%2Fb") },
  );
}

interface Shot {
  method: RouteDef["method"];
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

const TRANSPORTS = ["header", "bearer", "cookie", "cookie+csrf"] as const;
const bogusToken = fc.oneof(
  fc.constantFrom("abcdefghij-abcdefghijklmnopqrstuv", "x", "'; DROP TABLE api_keys; --", "0000000000-0000000000000000000000"),
  fc.string({ unit: "binary-ascii", maxLength: 60 }).map((t) => t.replace(/[^\x21-\x7e]/g, "")),
);

function shotArb(def: RouteDef, who: Who, known: { users: string[]; keys: string[] }): fc.Arbitrary<Shot> {
  const params = (def.url.match(/:[a-z_]+/g) ?? []).map((p) => p.slice(1));
  const paramArbs = params.map((p) => paramArb(p, p === "key" ? known.keys : known.users));
  const tokenArb: fc.Arbitrary<string | undefined> = who === "anonymous" ? fc.option(bogusToken, { nil: undefined }) : fc.constant(actors[who].token);
  return fc.record({
    params: fc.tuple(...paramArbs),
    query: queryArb,
    body: fc.option(bodyArb(def), { nil: undefined, freq: 4 }),
    token: tokenArb,
    transport: fc.oneof({ weight: 3, arbitrary: fc.constant(TRANSPORTS[0]) }, { weight: 1, arbitrary: fc.constantFrom(...TRANSPORTS) }),
  }).map(({ params: values, query, body, token, transport }) => {
    let url = def.url;
    params.forEach((p, i) => (url = url.replace(`:${p}`, values[i]!)));
    if (query) url += `?${query}`;
    const headers: Record<string, string> = {};
    if (token !== undefined) {
      if (transport === "header") headers["outpost-session-token"] = token;
      else if (transport === "bearer") headers.authorization = `Bearer ${token}`;
      else headers.cookie = `outpost_session_token=${enc(token)}`;
      if (transport === "cookie+csrf") headers["x-outpost-csrf"] = "1";
    }
    const shot: Shot = { method: def.method, url, headers };
    if (body?.text !== undefined) {
      shot.payload = body.text;
      if (body.contentType) headers["content-type"] = body.contentType;
    }
    return shot;
  });
}

/** Checks one answer; returns a description of what is wrong, or undefined. */
function problem(status: number, body: string, headers: Record<string, unknown>): string | undefined {
  if (status >= 500) return `status ${status}`;
  if (status < 200 || (status >= 300 && status < 400)) return `unexpected status ${status}`;
  const leak = leakIn(body);
  if (leak) return `leak (${leak})`;
  if (status >= 400) {
    const p = errorShapeProblem({ statusCode: status, body, headers } as never);
    if (p) return p;
  }
  return undefined;
}

async function fire(shot: Shot): Promise<void> {
  const res = await s.app.inject({ method: shot.method, url: shot.url, headers: shot.headers, ...(shot.payload !== undefined ? { payload: shot.payload } : {}) });
  statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
  const p = problem(res.statusCode, res.body, res.headers);
  if (p) {
    const shown = { ...shot, payload: shot.payload && shot.payload.length > 300 ? `${shot.payload.slice(0, 300)}... (${shot.payload.length} chars)` : shot.payload };
    throw new Error(`${p}\nrequest: ${JSON.stringify(shown)}\nresponse: ${res.statusCode} ${res.body.slice(0, 500)}`);
  }
}

/**
 * Puts the actors back after a run may have logged them out, suspended, demoted, promoted,
 * renamed or deleted them. The owner cannot lose their account (no self-delete/suspend, and a
 * password change needs the old password, which no generator produces), only their session.
 */
async function ensureActors(): Promise<void> {
  const ownerMe = await s.request({ method: "GET", url: "/api/v2/users/me", token: actors.owner.token });
  if (ownerMe.statusCode !== 200) actors.owner.token = await login(s, OWNER.email, OWNER.password);
  const o = (await s.request({ method: "GET", url: "/api/v2/users/me", token: actors.owner.token })).json();
  expect(o.id).toBe(ownerId);
  actors.owner.username = o.username;

  const memberMe = await s.request({ method: "GET", url: "/api/v2/users/me", token: actors.member.token });
  const m = memberMe.statusCode === 200 ? memberMe.json() : undefined;
  if (!m || m.status !== "active" || JSON.stringify(m.roles) !== JSON.stringify(["member"])) {
    await s.request({ method: "DELETE", url: `/api/v2/users/${actors.member.id}`, token: actors.owner.token });
    const username = `fuzz-member-${++generation}`;
    const created = await createUserWithRoles(s, actors.owner.token, username, []);
    actors.member = { id: created.id, username, token: created.token };
  } else {
    actors.member.username = m.username;
  }
  for (const name of ["victim-1", "victim-2"]) {
    const v = await s.request({ method: "GET", url: `/api/v2/users/${name}`, token: actors.owner.token });
    if (v.statusCode !== 404) continue;
    // A victim may have been renamed rather than deleted: its email stays taken, so use a new one.
    const email = `${name}-${++generation}@example.com`;
    const created = await s.request({ method: "POST", url: "/api/v2/users", token: actors.owner.token, payload: { email, username: name, password: "Victim-pass-42" } });
    expect(created.statusCode, created.body).toBe(201);
  }
}

async function knownRefs(): Promise<{ users: string[]; keys: string[] }> {
  const { rows: keys } = await s.deps.db.query("SELECT id, name FROM api_keys WHERE user_id = ANY($1)", [[actors.owner.id, actors.member.id]]);
  return {
    users: ["me", actors.owner.username, actors.owner.id, actors.member.username, actors.member.id, "victim-1", "victim-2", "00000000-0000-0000-0000-000000000000"],
    keys: ["nope", ...keys.flatMap((k) => [k.id as string, k.name as string])],
  };
}

beforeAll(async () => {
  // A small stand-in for the agent executable: the real one (88 MB) would be streamed on every shot.
  const binDir = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-fuzz-bin-"));
  fs.writeFileSync(path.join(binDir, "agent"), "#!/bin/sh\n");
  s = await createTestServer({ env: { OUTPOST_LOGIN_RATE_LIMIT_IP: "1000000", OUTPOST_LOGIN_RATE_LIMIT_ACCOUNT: "1000000", OUTPOST_AGENT_BINARY: path.join(binDir, "agent") } });
  const ownerToken = await setupOwner(s);
  ownerId = (await s.request({ method: "GET", url: "/api/v2/users/me", token: ownerToken })).json().id;
  actors.owner = { id: ownerId, username: OWNER.username, token: ownerToken };
  const m = await createUserWithRoles(s, ownerToken, "fuzz-member", []);
  actors.member = { id: m.id, username: "fuzz-member", token: m.token };
  for (const who of [actors.owner, actors.member]) {
    for (const name of ["fuzz-a", "fuzz-b"]) await s.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", token: who.token, payload: { name } });
  }
  await ensureActors();
}, 60_000);
afterAll(async () => s?.close());

describe("fuzzing every route", () => {
  const routes = allRoutes();

  it("has routes to fuzz", () => {
    expect(routes.length).toBeGreaterThanOrEqual(17);
  });

  for (const def of routes) {
    for (const who of ["owner", "member", "anonymous"] as const) {
      it(`${def.method} ${def.url} as ${who}: only 2xx/4xx, error shape, no leaks`, async () => {
        await ensureActors();
        const known = await knownRefs();
        await fc.assert(
          fc.asyncProperty(shotArb(def, who, known), async (shot) => {
            await fire(shot);
          }),
          { numRuns: RUNS, seed: SEED, endOnFailure: false, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: false },
        );
      });
    }
  }

  it("answered with a spread of statuses (the fuzzer reached past validation)", () => {
    const seen = [...statuses.keys()];
    expect(seen.every((c) => (c >= 200 && c < 300) || (c >= 400 && c < 500))).toBe(true);
    for (const code of [200, 201, 204, 400, 401, 403, 404, 409, 413]) expect(seen, JSON.stringify(Object.fromEntries(statuses))).toContain(code);
  });

  it("left the database consistent", async () => {
    const db = s.deps.db;
    const owner = await db.query("SELECT status, roles, deleted FROM users WHERE id = $1", [ownerId]);
    expect(owner.rows[0]).toMatchObject({ status: "active", deleted: false });
    expect(owner.rows[0].roles).toContain("owner");
    await expect(login(s, OWNER.email, OWNER.password)).resolves.toMatch(/^[a-zA-Z0-9]{10}-[a-zA-Z0-9]{22}$/);

    const dupNames = await db.query("SELECT lower(username) AS u, count(*)::int AS n FROM users WHERE NOT deleted GROUP BY 1 HAVING count(*) > 1");
    expect(dupNames.rows).toEqual([]);
    const dupEmails = await db.query("SELECT lower(email) AS e, count(*)::int AS n FROM users WHERE NOT deleted GROUP BY 1 HAVING count(*) > 1");
    expect(dupEmails.rows).toEqual([]);

    const users = await db.query("SELECT username, email, roles, hashed_password FROM users");
    for (const u of users.rows) {
      expect(u.username).toMatch(NAME_PATTERN);
      expect(u.email).toMatch(/^[^@\s]+@[^@\s]+$/);
      for (const r of u.roles) expect(ASSIGNABLE_ROLES).toContain(r);
      expect(u.hashed_password).toMatch(/^\$argon2id\$/);
    }
    const orphanKeys = await db.query("SELECT count(*)::int AS n FROM api_keys k JOIN users u ON u.id = k.user_id WHERE u.deleted");
    expect(orphanKeys.rows[0].n).toBe(0);
    const tokenNames = await db.query("SELECT name FROM api_keys WHERE login_type = 'token'");
    for (const k of tokenNames.rows) expect(k.name).toMatch(NAME_PATTERN);

    const failures = await db.query("SELECT count(*)::int AS n FROM audit_logs WHERE status_code >= 500");
    expect(failures.rows[0].n).toBe(0);
    const audits = await db.query("SELECT diff FROM audit_logs");
    expect(audits.rows.length).toBeGreaterThan(0);
    for (const { diff } of audits.rows) {
      for (const field of ["hashed_password", "hashed_secret"]) if (diff[field]) expect(diff[field]).toEqual({ old: "", new: "", secret: true });
    }
  });
});
