import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, expectFieldError } from "../helpers/api-asserts.js";
import { createTestServer, createUserWithRoles, login, setupOwner, type TestServer } from "../helpers/test-server.js";

const MAX_BODY = 4096;

let s: TestServer;
let owner: string;
let member: { id: string; token: string };

beforeAll(async () => {
  s = await createTestServer({ env: { OUTPOST_LOGIN_RATE_LIMIT_IP: "100000", OUTPOST_MAX_BODY_BYTES: String(MAX_BODY) } });
  owner = await setupOwner(s);
  member = await createUserWithRoles(s, owner, "member1", []);
});
afterAll(async () => s?.close());

let seq = 0;
/** A valid create-user body with a fresh name. */
function newUser(over: Record<string, unknown> = {}): Record<string, unknown> {
  seq++;
  return { email: `bi${seq}@example.com`, username: `bi-user-${seq}`, password: "Good-pass-77", ...over };
}

const createUser = (payload: unknown, token = owner) => s.request({ method: "POST", url: "/api/v2/users", token, payload: payload as object });

function raw(method: "POST" | "PUT", url: string, body: string, contentType = "application/json", token = owner) {
  return s.request({ method, url, token, payload: body, headers: { "content-type": contentType } });
}

describe("malformed bodies", () => {
  it.each([
    ["truncated object", '{"email": "a@example.com", '],
    ["trailing comma", '{"email": "a@example.com",}'],
    ["single quotes", "{'email': 'a@example.com'}"],
    ["bare word", "hello"],
    ["two documents", "{} {}"],
  ])("%s: 400 with validations on field body", async (_name, body) => {
    const res = await raw("POST", "/api/v2/users", body);
    const detail = expectFieldError(res, "body");
    expect(detail).toMatch(/JSON/);
  });

  it("an empty JSON body where one is required answers 400 on field body", async () => {
    expectFieldError(await raw("POST", "/api/v2/users", ""), "body");
    expectFieldError(await raw("PUT", "/api/v2/users/me/roles", "   "), "body");
  });

  it.each([
    ["null", "null"],
    ["an array", "[]"],
    ["a string", '"x"'],
    ["a number", "42"],
  ])("a JSON %s instead of an object answers 400 on field body", async (_name, body) => {
    expectFieldError(await raw("POST", "/api/v2/users", body), "body");
  });

  it("wrong types answer 400 naming each field", async () => {
    const res = await createUser({ email: 42, username: ["x"], password: { p: 1 }, name: false, roles: "owner" });
    expect(res.statusCode).toBe(400);
    for (const field of ["email", "username", "password", "name", "roles"]) expectFieldError(res, field);
    expectFieldError(await createUser(newUser({ roles: ["owner", 7] })), "roles.1");
    expectFieldError(await createUser(newUser({ roles: ["root"] })), "roles.0");
    expectFieldError(await s.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", token: owner, payload: { name: "t", lifetime_seconds: "3600" } }), "lifetime_seconds");
    expectFieldError(await s.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", token: owner, payload: { name: "t", lifetime_seconds: 3600.5 } }), "lifetime_seconds");
    expectFieldError(await s.request({ method: "POST", url: "/api/v2/users/login", payload: { email: "owner@example.com", password: 12345678 } }), "password");
  });

  it("missing required fields answer 400 naming them", async () => {
    const res = await createUser({});
    for (const field of ["email", "username", "password"]) expectFieldError(res, field);
    expectFieldError(await s.request({ method: "PUT", url: "/api/v2/users/me/roles", token: owner, payload: {} }), "roles");
  });

  it("unknown fields answer 400 naming the field, and nothing is created", async () => {
    const body = newUser({ is_admin: true });
    const detail = expectFieldError(await createUser(body), "is_admin");
    expect(detail).toBe("unknown field");
    expect((await s.request({ method: "GET", url: `/api/v2/users/${body.username as string}`, token: owner })).statusCode).toBe(404);
    expectFieldError(await s.request({ method: "PUT", url: "/api/v2/users/me/profile", token: member.token, payload: { name: "x", roles: ["owner"] } }), "roles");
    expectFieldError(await s.request({ method: "POST", url: "/api/v2/users/login", payload: { email: "a@example.com", password: "x", remember: true } }), "remember");
    expectFieldError(await s.request({ method: "PUT", url: "/api/v2/users/me/password", token: member.token, payload: { password: "Good-pass-77", hashed_password: "x" } }), "hashed_password");
  });

  it("bodies over OUTPOST_MAX_BODY_BYTES answer 413 PAYLOAD_TOO_LARGE; just under the limit is parsed", async () => {
    const over = JSON.stringify(newUser({ name: "n".repeat(MAX_BODY) }));
    expect(Buffer.byteLength(over)).toBeGreaterThan(MAX_BODY);
    expectError(await raw("POST", "/api/v2/users", over), "PAYLOAD_TOO_LARGE");
    // Also on routes without a body schema and without a session: the size check comes first.
    expectError(await raw("POST", "/api/v2/users/login", JSON.stringify({ email: "x".repeat(MAX_BODY * 4), password: "x" }), "application/json", ""), "PAYLOAD_TOO_LARGE");
    // Multi-byte characters count as bytes, not characters.
    const wide = JSON.stringify(newUser({ name: "é".repeat(MAX_BODY / 2 + 10) }));
    expect(wide.length).toBeLessThan(MAX_BODY + 200);
    expectError(await raw("POST", "/api/v2/users", wide), "PAYLOAD_TOO_LARGE");
    // Under the limit the body reaches validation (name too long), not the size check.
    const under = JSON.stringify(newUser({ name: "n".repeat(MAX_BODY - 200) }));
    expect(Buffer.byteLength(under)).toBeLessThan(MAX_BODY);
    expectFieldError(await raw("POST", "/api/v2/users", under), "name");
  });

  it.each([
    ["text/plain", "{}"],
    ["application/x-www-form-urlencoded", "email=a%40example.com&username=abc"],
    ["multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--"],
    ["application/xml", "<user/>"],
  ])("a %s body answers 400 INVALID_INPUT and creates nothing", async (type, body) => {
    const before = await s.deps.db.query("SELECT count(*)::int AS n FROM users");
    const res = await raw("POST", "/api/v2/users", body, type);
    const err = expectError(res, "INVALID_INPUT");
    expect(err.message).toMatch(/content type/);
    const after = await s.deps.db.query("SELECT count(*)::int AS n FROM users");
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it("application/json with a charset parameter is accepted", async () => {
    const res = await raw("POST", "/api/v2/users", JSON.stringify(newUser()), "application/json; charset=utf-8");
    expect(res.statusCode, res.body).toBe(201);
  });
});

describe("hostile strings", () => {
  const SQLISH = ["'; DROP TABLE users; --", "Robert'); DELETE FROM api_keys;--", "\" OR 1=1 --", "%' OR '1'='1", "\\'; SELECT pg_sleep(5); --"];

  it("SQL-ish display names are stored verbatim and harm nothing", async () => {
    for (const name of SQLISH) {
      const body = newUser({ name });
      const res = await createUser(body);
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().name).toBe(name);
      const got = await s.request({ method: "GET", url: `/api/v2/users/${body.username as string}`, token: owner });
      expect(got.json().name).toBe(name);
      const { rows } = await s.deps.db.query("SELECT name FROM users WHERE username = $1", [body.username]);
      expect(rows[0].name).toBe(name);
    }
    // The tables are still there and still hold everyone.
    const { rows } = await s.deps.db.query("SELECT count(*)::int AS n FROM users WHERE NOT deleted");
    expect(rows[0].n).toBeGreaterThanOrEqual(2 + SQLISH.length);
    expect((await s.deps.db.query("SELECT count(*)::int AS n FROM api_keys")).rows[0].n).toBeGreaterThan(0);
    expect((await s.request({ method: "GET", url: "/api/v2/users/me", token: owner })).statusCode).toBe(200);
  });

  it("SQL-ish search, usernames and logins match nothing instead of everything", async () => {
    const all = await s.request({ method: "GET", url: "/api/v2/users", token: owner });
    const total = all.json().count as number;
    expect(total).toBeGreaterThan(3);
    // `%` and `_` are matched literally, not as wildcards.
    const pct = await s.request({ method: "GET", url: "/api/v2/users", token: owner, query: { q: "%" } });
    expect(pct.statusCode).toBe(200);
    for (const u of pct.json().items) expect(`${u.username} ${u.email} ${u.name}`).toContain("%");
    expect(pct.json().count).toBeLessThan(total);
    const underscore = await s.request({ method: "GET", url: "/api/v2/users", token: owner, query: { q: "_" } });
    for (const u of underscore.json().items) expect(`${u.username} ${u.email} ${u.name}`).toContain("_");
    expect(underscore.json().count).toBeLessThan(total);
    // A backslash is a LIKE escape character in PostgreSQL: searched for, it must match itself.
    const backslash = await s.request({ method: "GET", url: "/api/v2/users", token: owner, query: { q: "\\" } });
    expect(backslash.statusCode).toBe(200);
    expect(backslash.json().count).toBeGreaterThan(0);
    for (const u of backslash.json().items) expect(`${u.username} ${u.email} ${u.name}`).toContain("\\");
    const injected = await s.request({ method: "GET", url: "/api/v2/users", token: owner, query: { q: "zzz' OR '1'='1" } });
    expect(injected.statusCode).toBe(200);
    expect(injected.json().count).toBe(0);

    const byName = await s.request({ method: "GET", url: `/api/v2/users/${encodeURIComponent("' OR '1'='1")}`, token: owner });
    expectError(byName, "NOT_FOUND");
    const loginRes = await s.request({ method: "POST", url: "/api/v2/users/login", payload: { email: "' OR '1'='1", password: "' OR '1'='1" } });
    expectError(loginRes, "UNAUTHENTICATED");
    const auditRes = await s.request({ method: "GET", url: "/api/v2/audit", token: owner, query: { username: "' OR '1'='1" } });
    expect(auditRes.statusCode).toBe(200);
    expect(auditRes.json().count).toBe(0);
  });

  it.each([
    ["accented", "jösé"],
    ["CJK", "用户"],
    ["fullwidth", "ａｌｉｃｅ"],
    ["zero-width space", "ali\u200bce"],
    ["cyrillic lookalike", "аlice"],
    ["emoji", "dev🚀"],
    ["NUL", "ali\u0000ce"],
    ["RTL override", "ali\u202ece"],
  ])("a %s username is rejected with a username field error", async (_name, username) => {
    expectFieldError(await createUser(newUser({ username })), "username");
    expectFieldError(await s.request({ method: "PUT", url: "/api/v2/users/me/profile", token: member.token, payload: { username } }), "username");
  });

  it.each(["Alice", "ALICE", "aLice"])("the uppercase username %s is rejected, not lowercased", async (username) => {
    const detail = expectFieldError(await createUser(newUser({ username })), "username");
    expect(detail).toMatch(/lowercase/);
    const { rows } = await s.deps.db.query("SELECT count(*)::int AS n FROM users WHERE lower(username) = 'alice'");
    expect(rows[0].n).toBe(0);
  });

  it.each(["-lead", "trail-", "dou--ble", "under_score", "dot.ted", "sp ace", ""])("the malformed username %j is rejected", async (username) => {
    expectFieldError(await createUser(newUser({ username })), "username");
  });

  it("too-long names are rejected, at the exact limits", async () => {
    expectFieldError(await createUser(newUser({ username: "a".repeat(33) })), "username");
    expect((await createUser(newUser({ username: "a".repeat(32) }))).statusCode).toBe(201);
    expectFieldError(await createUser(newUser({ name: "n".repeat(129) })), "name");
    expect((await createUser(newUser({ name: "n".repeat(128) }))).statusCode).toBe(201);
    expectFieldError(await createUser(newUser({ email: `${"e".repeat(250)}@example.com` })), "email");
    expectFieldError(await s.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", token: owner, payload: { name: "t".repeat(33) } }), "name");
    expectFieldError(await s.request({ method: "PUT", url: "/api/v2/users/me/profile", token: member.token, payload: { name: "n".repeat(129) } }), "name");
  });

  it("bad emails are rejected with an email field error", async () => {
    for (const email of ["plain", "a@", "@example.com", "a b@example.com", "a@exa mple.com"]) {
      expectFieldError(await createUser(newUser({ email })), "email");
    }
  });
});

describe("passwords", () => {
  it.each([
    ["too short", "Ab1!xyz", /at least 8/],
    ["too long", `Aa1!${"x".repeat(253)}`, /at most 256/],
    ["too few distinct characters", "aaaaAAAA", /4 different/],
    ["a single character class under 16", "abcdefghij", /mix letters/],
    ["digits only under 16", "1234567890", /mix letters/],
  ])("a password that is %s is rejected on field password", async (_rule, password, why) => {
    const detail = expectFieldError(await createUser(newUser({ password })), "password");
    expect(detail).toMatch(why);
  });

  it("a password containing the username or the email's local part is rejected", async () => {
    seq++;
    const username = `pw-user-${seq}`;
    expect(expectFieldError(await createUser(newUser({ username, password: `X1-${username}-z` })), "password")).toMatch(/username or email/);
    expect(expectFieldError(await createUser(newUser({ username, email: `zanzibar${seq}@example.com`, password: `9-ZANZIBAR${seq}-q` })), "password")).toMatch(/username or email/);
  });

  it("passwords that meet every rule are accepted, including a long single-class one", async () => {
    expect((await createUser(newUser({ password: "correcthorsebatterystaple" }))).statusCode).toBe(201);
    expect((await createUser(newUser({ password: "Ab1!Ab1!" }))).statusCode).toBe(201);
  });

  it("password changes apply the same rules, and your own change needs the right old password", async () => {
    const u = await createUserWithRoles(s, owner, "pw-changer", []);
    const put = (payload: object) => s.request({ method: "PUT", url: "/api/v2/users/me/password", token: u.token, payload });
    expectFieldError(await put({ password: "New-pass-99" }), "old_password");
    expectFieldError(await put({ old_password: "Wrong-pass-1", password: "New-pass-99" }), "old_password");
    expectFieldError(await put({ old_password: "Member-pass-42", password: "short" }), "password");
    expectFieldError(await put({ old_password: "Member-pass-42", password: "x-pw-changer-1" }), "password");
    expect((await put({ old_password: "Member-pass-42", password: "New-pass-99" })).statusCode).toBe(204);
    await expect(login(s, "pw-changer@example.com", "New-pass-99")).resolves.toMatch(/-/);
  });
});

describe("conflicts", () => {
  it("a duplicate username answers 409 naming username, case-insensitively for email", async () => {
    const first = newUser();
    expect((await createUser(first)).statusCode).toBe(201);
    const dupName = await createUser(newUser({ username: first.username }));
    expectFieldError(dupName, "username", "CONFLICT");
    const dupEmail = await createUser(newUser({ email: (first.email as string).toUpperCase() }));
    expectFieldError(dupEmail, "email", "CONFLICT");
    const { rows } = await s.deps.db.query("SELECT count(*)::int AS n FROM users WHERE lower(email) = lower($1)", [first.email]);
    expect(rows[0].n).toBe(1);
  });

  it("concurrent duplicates: exactly one wins, the rest answer 409 (never 500)", async () => {
    const body = newUser();
    const users = await Promise.all(Array.from({ length: 5 }, (_, i) => createUser({ ...body, email: `race${i}-${body.email as string}` })));
    expect(users.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409, 409]);
    for (const r of users.filter((r) => r.statusCode === 409)) expectFieldError(r, "username", "CONFLICT");
    const tokens = await Promise.all(Array.from({ length: 5 }, () => s.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", token: owner, payload: { name: "race" } })));
    expect(tokens.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409, 409]);
  });

  it("renaming onto a taken username answers 409 naming username", async () => {
    const other = newUser();
    expect((await createUser(other)).statusCode).toBe(201);
    const res = await s.request({ method: "PUT", url: "/api/v2/users/me/profile", token: member.token, payload: { username: other.username } });
    expectFieldError(res, "username", "CONFLICT");
    expect((await s.request({ method: "GET", url: "/api/v2/users/me", token: member.token })).json().username).toBe("member1");
  });

  it("a deleted user's username and email become free again", async () => {
    const gone = newUser();
    const created = await createUser(gone);
    expect((await s.request({ method: "DELETE", url: `/api/v2/users/${created.json().id as string}`, token: owner })).statusCode).toBe(204);
    expect((await createUser({ ...gone })).statusCode).toBe(201);
  });

  it("a duplicate token name answers 409 naming name", async () => {
    const mk = () => s.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", token: member.token, payload: { name: "ci" } });
    expect((await mk()).statusCode).toBe(201);
    expectFieldError(await mk(), "name", "CONFLICT");
  });

  it("the first-user route answers 409 once set up, even with a valid body", async () => {
    expectError(await s.request({ method: "POST", url: "/api/v2/users/first", payload: newUser() }), "CONFLICT");
  });
});

describe("unknown routes and bad parameters", () => {
  it.each([
    ["GET", "/api/v2/nope"],
    ["GET", "/api/v3/users"],
    ["POST", "/api/v2/users/me/nope"],
    ["PATCH", "/api/v2/users/me"],
    ["DELETE", "/api/v2/audit"],
    ["GET", "/api/v2/users/me/keys"],
    ["GET", "/"],
  ] as const)("%s %s answers the 404 error shape", async (method, url) => {
    const res = await s.request({ method, url, token: owner });
    const err = expectError(res, "NOT_FOUND");
    expect(err.message).toContain(url);
  });

  it("an unknown route answers 404 without a session too (no 401 that reveals nothing exists)", async () => {
    expectError(await s.request({ method: "GET", url: "/api/v2/secret-admin" }), "NOT_FOUND");
  });

  it("a bad status verb answers 400 naming params.status", async () => {
    expectFieldError(await s.request({ method: "PUT", url: "/api/v2/users/member1/status/ban", token: owner }), "params.status");
  });

  it.each([
    ["a lone percent sign", "/api/v2/users/%"],
    ["a bad percent escape", "/api/v2/users/%zz/keys/tokens"],
    ["a path parameter over the router's limit", `/api/v2/users/${"u".repeat(300)}`],
    ["an over-long key parameter", `/api/v2/users/me/keys/${"k".repeat(300)}`],
  ])("%s answers 400 in the error shape, before routing", async (_name, url) => {
    const err = expectError(await s.request({ method: "GET", url, token: owner }), "INVALID_INPUT");
    expect(JSON.stringify(err)).not.toContain("FST_");
  });

  it("an over-long user reference answers 400 naming params.user", async () => {
    expectFieldError(await s.request({ method: "GET", url: `/api/v2/users/${"u".repeat(65)}`, token: owner }), "params.user");
  });

  it.each([
    ["limit", "0"],
    ["limit", "abc"],
    ["limit", "-1"],
    ["limit", "1001"],
    ["limit", "1.5"],
    ["limit", ""],
    ["offset", "-1"],
    ["offset", "x"],
    ["offset", "0.5"],
  ])("users list with %s=%j answers 400 naming the query field", async (field, value) => {
    const res = await s.request({ method: "GET", url: `/api/v2/users?${field}=${encodeURIComponent(value)}`, token: owner });
    expectFieldError(res, `query.${field}`);
  });

  it("a repeated pagination parameter answers 400 instead of picking one", async () => {
    expectFieldError(await s.request({ method: "GET", url: "/api/v2/users?limit=1&limit=2", token: owner }), "query.limit");
  });

  it("valid pagination at the edges works", async () => {
    const one = await s.request({ method: "GET", url: "/api/v2/users?limit=1&offset=0", token: owner });
    expect(one.statusCode).toBe(200);
    expect(one.json().items).toHaveLength(1);
    const far = await s.request({ method: "GET", url: "/api/v2/users?limit=1000&offset=1000000", token: owner });
    expect(far.statusCode).toBe(200);
    expect(far.json().items).toEqual([]);
    expect(far.json().count).toBe(one.json().count);
  });

  it("unknown and badly typed list filters answer 400 naming the field", async () => {
    expectFieldError(await s.request({ method: "GET", url: "/api/v2/users?sort=name", token: owner }), "query.sort");
    expectFieldError(await s.request({ method: "GET", url: "/api/v2/users?status=banned", token: owner }), "query.status");
    expectFieldError(await s.request({ method: "GET", url: "/api/v2/users?role=root", token: owner }), "query.role");
  });

  it.each([
    ["since", "yesterday"],
    ["since", "2026-13-01T00:00:00Z"],
    ["since", "2026-02-30T00:00:00Z"],
    ["until", "1700000000"],
    ["until", "2026-01-01"],
    ["until", "2026-01-01T25:00:00Z"],
  ])("audit with %s=%j answers 400 naming the query field", async (field, value) => {
    const res = await s.request({ method: "GET", url: `/api/v2/audit?${field}=${encodeURIComponent(value)}`, token: owner });
    expectFieldError(res, `query.${field}`);
  });

  it("audit with a bad action, resource type, status or limit answers 400 naming the field", async () => {
    for (const [field, value] of [["action", "hack"], ["resource_type", "planet"], ["status", "ok"], ["limit", "0"], ["offset", "-5"]]) {
      expectFieldError(await s.request({ method: "GET", url: `/api/v2/audit?${field}=${value}`, token: owner }), `query.${field}`);
    }
  });

  it("audit accepts an ISO time with an offset", async () => {
    const res = await s.request({ method: "GET", url: `/api/v2/audit?since=${encodeURIComponent("2020-01-01T00:00:00+02:00")}`, token: owner });
    expect(res.statusCode).toBe(200);
    expect(res.json().count).toBeGreaterThan(0);
  });
});

describe("characters PostgreSQL cannot store", () => {
  it("a NUL character answers 400 naming the field, not 500", async () => {
    expectFieldError(await createUser(newUser({ name: "nul\u0000name" })), "name");
    expectFieldError(await s.request({ method: "PUT", url: "/api/v2/users/me/profile", token: member.token, payload: { name: "a\u0000" } }), "name");
    expectFieldError(await s.request({ method: "POST", url: "/api/v2/users/login", payload: { email: "a\u0000@example.com", password: "x" } }), "email");
    expectFieldError(await s.request({ method: "GET", url: "/api/v2/users?q=%00", token: owner }), "query.q");
    expectFieldError(await s.request({ method: "GET", url: "/api/v2/audit?username=%00", token: owner }), "query.username");
    expectFieldError(await s.request({ method: "GET", url: "/api/v2/users/a%00b", token: owner }), "params.user");
    expectFieldError(await s.request({ method: "GET", url: "/api/v2/users/me/keys/a%00b", token: owner }), "params.key");
  });
});
