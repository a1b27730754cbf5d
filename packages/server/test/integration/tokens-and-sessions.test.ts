import { createHash } from "node:crypto";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, expectFieldError } from "../helpers/api-asserts.js";
import { createTestServer, createUserWithRoles, login, OWNER, setupOwner, type TestServer } from "../helpers/test-server.js";

const KEY_PATTERN = /^([a-zA-Z0-9]{10})-([a-zA-Z0-9]{22})$/;
const MEMBER_PASSWORD = "Member-pass-42"; // what createUserWithRoles sets
const HOUR = 3_600_000;

let s: TestServer;
let owner: string;

beforeAll(async () => {
  s = await createTestServer({ env: { OUTPOST_LOGIN_RATE_LIMIT_IP: "1000000", OUTPOST_LOGIN_RATE_LIMIT_ACCOUNT: "1000" } });
  owner = await setupOwner(s);
});
afterAll(async () => s?.close());

/** A fresh owner session: tests that move the clock past the session lifetime call this afterwards. */
async function reloginOwner(): Promise<void> {
  owner = await login(s, OWNER.email, OWNER.password);
}

const me = (token: string) => s.request({ method: "GET", url: "/api/v2/users/me", token });
const mkToken = (token: string, payload: object, user = "me") => s.request({ method: "POST", url: `/api/v2/users/${user}/keys/tokens`, token, payload });

function expect401(res: LightMyRequestResponse, message: string | RegExp): void {
  const body = expectError(res, "UNAUTHENTICATED");
  if (typeof message === "string") expect(body.message).toBe(message);
  else expect(body.message).toMatch(message);
}

describe("API tokens", () => {
  let user: { id: string; token: string };
  beforeAll(async () => {
    user = await createUserWithRoles(s, owner, "tok-user", []);
  });

  it("creates a token whose key is ID-SECRET, shown once, stored only as a hash", async () => {
    const res = await mkToken(user.token, { name: "ci" });
    expect(res.statusCode, res.body).toBe(201);
    const { key, token } = res.json();
    const m = KEY_PATTERN.exec(key);
    expect(m, key).not.toBeNull();
    expect(token).toMatchObject({ id: m![1], name: "ci", user_id: user.id, login_type: "token", last_used_at: null });
    expect(token).not.toHaveProperty("key");
    expect(token).not.toHaveProperty("hashed_secret");

    const row = (await s.deps.db.query("SELECT hashed_secret FROM api_keys WHERE id = $1", [m![1]])).rows[0];
    expect(Buffer.isBuffer(row.hashed_secret)).toBe(true);
    expect(row.hashed_secret.equals(createHash("sha256").update(m![2]!).digest())).toBe(true);
    expect(row.hashed_secret.toString("latin1")).not.toContain(m![2]);

    // The key works in the header and as a bearer token, as this user.
    expect((await me(key)).json().id).toBe(user.id);
    const bearer = await s.request({ method: "GET", url: "/api/v2/users/me", headers: { authorization: `Bearer ${key}` } });
    expect(bearer.json().id).toBe(user.id);
  });

  it("gives a token the default lifetime, and allows up to the maximum but no more", async () => {
    const defaultSeconds = s.deps.config.defaultTokenLifetimeMs / 1000;
    const maxSeconds = s.deps.config.maxTokenLifetimeMs / 1000;
    expect(defaultSeconds).toBe(720 * 3600);
    expect(maxSeconds).toBe(8760 * 3600);

    const dflt = (await mkToken(user.token, { name: "default-life" })).json().token;
    expect(dflt.lifetime_seconds).toBe(defaultSeconds);
    expect(Date.parse(dflt.expires_at) - Date.parse(dflt.created_at)).toBe(defaultSeconds * 1000);
    expect(dflt.created_at).toBe(s.clock.now().toISOString());

    const hour = (await mkToken(user.token, { name: "one-hour", lifetime_seconds: 3600 })).json().token;
    expect(Date.parse(hour.expires_at) - Date.parse(hour.created_at)).toBe(HOUR);

    const atMax = await mkToken(user.token, { name: "at-max", lifetime_seconds: maxSeconds });
    expect(atMax.statusCode, atMax.body).toBe(201);
    expect(atMax.json().token.lifetime_seconds).toBe(maxSeconds);

    const overMax = await mkToken(user.token, { name: "over-max", lifetime_seconds: maxSeconds + 1 });
    expect(expectFieldError(overMax, "lifetime_seconds")).toContain(String(maxSeconds));
    expectFieldError(await mkToken(user.token, { name: "too-short", lifetime_seconds: 59 }), "lifetime_seconds");
    expectFieldError(await mkToken(user.token, { name: "negative", lifetime_seconds: -3600 }), "lifetime_seconds");
    const names = (await s.request({ method: "GET", url: "/api/v2/users/me/keys/tokens", token: user.token })).json().map((t: { name: string }) => t.name);
    expect(names).not.toContain("over-max");
    expect(names).not.toContain("too-short");
  });

  it("honours a lower deployment maximum", async () => {
    const small = await createTestServer({ env: { OUTPOST_MAX_TOKEN_LIFETIME: "2h", OUTPOST_DEFAULT_TOKEN_LIFETIME: "1h" } });
    try {
      const t = await setupOwner(small);
      const dflt = await small.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", token: t, payload: { name: "d" } });
      expect(dflt.json().token.lifetime_seconds).toBe(3600);
      const ok = await small.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", token: t, payload: { name: "ok", lifetime_seconds: 7200 } });
      expect(ok.statusCode).toBe(201);
      const over = await small.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", token: t, payload: { name: "over", lifetime_seconds: 7201 } });
      expect(expectFieldError(over, "lifetime_seconds")).toMatch(/at most 7200 seconds/);
    } finally {
      await small.close();
    }
  });

  it("the longest deployment maximum (50 years) still fits a key's recorded lifetime", async () => {
    // Longer maxima are refused by the config (see config.test.ts), so no lifetime can overflow.
    const long = await createTestServer({ env: { OUTPOST_MAX_TOKEN_LIFETIME: "438000h" } });
    try {
      const t = await setupOwner(long);
      const mk = (name: string, lifetime_seconds: number) => long.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", token: t, payload: { name, lifetime_seconds } });
      const fifty = 438_000 * 3600;
      const ok = await mk("fifty-years", fifty);
      expect(ok.statusCode, ok.body).toBe(201);
      expect(ok.json().token.lifetime_seconds).toBe(fifty);
      expect(Date.parse(ok.json().token.expires_at) - Date.parse(ok.json().token.created_at)).toBe(fifty * 1000);
      expect((await long.request({ method: "GET", url: "/api/v2/users/me", token: ok.json().key })).statusCode).toBe(200);
      expect(expectFieldError(await mk("longer", fifty + 1), "lifetime_seconds")).toMatch(/at most 1576800000 seconds/);
    } finally {
      await long.close();
    }
  });

  it("lists a user's tokens (not their login sessions) without any secret", async () => {
    const created = (await mkToken(user.token, { name: "listed" })).json();
    const res = await s.request({ method: "GET", url: "/api/v2/users/me/keys/tokens", token: user.token });
    expect(res.statusCode).toBe(200);
    const list = res.json() as { id: string; name: string; login_type: string }[];
    expect(list.map((t) => t.name)).toEqual(expect.arrayContaining(["ci", "default-life", "one-hour", "at-max", "listed"]));
    expect(list.every((t) => t.login_type === "token")).toBe(true);
    // The login session this request used is a key too, but not a token.
    expect(list.map((t) => t.id)).not.toContain(user.token.split("-")[0]);
    expect(res.body).not.toContain(created.key.split("-")[1]);
    expect(res.body).not.toContain("hashed_secret");
    for (const t of list) expect(Object.keys(t).sort()).toEqual(["created_at", "expires_at", "id", "last_used_at", "lifetime_seconds", "login_type", "name", "user_id"]);
  });

  it("gets one token by id or by name, and 404s for unknown or someone else's", async () => {
    const created = (await mkToken(user.token, { name: "getme" })).json().token;
    const byId = await s.request({ method: "GET", url: `/api/v2/users/me/keys/${created.id}`, token: user.token });
    const byName = await s.request({ method: "GET", url: "/api/v2/users/me/keys/getme", token: user.token });
    expect(byId.statusCode).toBe(200);
    expect(byId.json()).toEqual(created);
    expect(byName.json()).toEqual(created);
    expect(expectError(await s.request({ method: "GET", url: "/api/v2/users/me/keys/nope", token: user.token }), "NOT_FOUND").message).toBe("token not found");
    // Another user's key id, asked for under your own name, is not yours.
    const ownerKey = (await mkToken(owner, { name: "owners" })).json().token.id;
    expectError(await s.request({ method: "GET", url: `/api/v2/users/me/keys/${ownerKey}`, token: user.token }), "NOT_FOUND");
    expectError(await s.request({ method: "DELETE", url: `/api/v2/users/me/keys/${ownerKey}`, token: user.token }), "NOT_FOUND");
    expect((await s.request({ method: "GET", url: `/api/v2/users/me/keys/${ownerKey}`, token: owner })).statusCode).toBe(200);
  });

  it("an owner can list, create and delete another user's tokens", async () => {
    const made = await mkToken(owner, { name: "by-owner" }, "tok-user");
    expect(made.statusCode).toBe(201);
    expect(made.json().token.user_id).toBe(user.id);
    expect((await me(made.json().key)).json().id).toBe(user.id);
    const list = await s.request({ method: "GET", url: "/api/v2/users/tok-user/keys/tokens", token: owner });
    expect(list.json().map((t: { name: string }) => t.name)).toContain("by-owner");
    expect((await s.request({ method: "DELETE", url: "/api/v2/users/tok-user/keys/by-owner", token: owner })).statusCode).toBe(204);
    expect401(await me(made.json().key), "invalid session token");
  });

  it("a deleted key answers 401, and keeps answering 401 when reused", async () => {
    const { key, token } = (await mkToken(user.token, { name: "doomed" })).json();
    expect((await me(key)).statusCode).toBe(200);
    const del = await s.request({ method: "DELETE", url: "/api/v2/users/me/keys/doomed", token: user.token });
    expect(del.statusCode).toBe(204);
    expect(del.body).toBe("");
    for (let i = 0; i < 3; i++) expect401(await me(key), "invalid session token");
    expect401(await mkToken(key, { name: "revived" }), "invalid session token");
    expectError(await s.request({ method: "GET", url: `/api/v2/users/me/keys/${token.id}`, token: user.token }), "NOT_FOUND");
    expectError(await s.request({ method: "DELETE", url: `/api/v2/users/me/keys/${token.id}`, token: user.token }), "NOT_FOUND");
    expect((await s.deps.db.query("SELECT count(*)::int AS n FROM api_keys WHERE id = $1", [token.id])).rows[0].n).toBe(0);
    // A new token may take the old name.
    expect((await mkToken(user.token, { name: "doomed" })).statusCode).toBe(201);
  });

  it("a wrong secret, a malformed token or an unknown id answers 401", async () => {
    const { key } = (await mkToken(user.token, { name: "tamper" })).json();
    const [id, secret] = key.split("-");
    const flipped = `${id}-${secret.slice(0, -1)}${secret.endsWith("a") ? "b" : "a"}`;
    expect401(await me(flipped), "invalid session token");
    expect401(await me(`${id}-${secret}x`), "invalid session token");
    expect401(await me(`${"z".repeat(10)}-${secret}`), "invalid session token");
    expect401(await me("not-a-token"), "invalid session token");
    expect401(await s.request({ method: "GET", url: "/api/v2/users/me", headers: { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` } }), "you must be logged in");
    // The genuine key still works: failed attempts do not disable it.
    expect((await me(key)).statusCode).toBe(200);
  });

  it("an expired token answers 401 from the moment it expires", async () => {
    const { key } = (await mkToken(user.token, { name: "short", lifetime_seconds: 60 })).json();
    s.clock.advance(59_000);
    expect((await me(key)).statusCode).toBe(200);
    s.clock.advance(1_000);
    expect401(await me(key), "session token expired");
    s.clock.advance(HOUR);
    expect401(await me(key), "session token expired");
  });

  it("a login session expires after OUTPOST_SESSION_DURATION", async () => {
    const session = await login(s, "tok-user@example.com", MEMBER_PASSWORD);
    const row = (await s.deps.db.query("SELECT lifetime_seconds, login_type FROM api_keys WHERE id = $1", [session.split("-")[0]])).rows[0];
    expect(row).toEqual({ lifetime_seconds: 24 * 3600, login_type: "password" });
    s.clock.advance(24 * HOUR - 1000);
    expect((await me(session)).statusCode).toBe(200);
    s.clock.advance(1000);
    expect401(await me(session), "session token expired");
    await reloginOwner();
  });
});

describe("stale credentials on public routes", () => {
  it("a dead session cookie or token does not stop you logging in or reading public routes", async () => {
    const u = await createUserWithRoles(s, owner, "stale-user", []);
    const other = await login(s, "stale-user@example.com", MEMBER_PASSWORD);
    // Another browser changes the password: this browser's cookie now names a deleted session.
    expect((await s.request({ method: "PUT", url: "/api/v2/users/me/password", token: other, payload: { old_password: MEMBER_PASSWORD, password: "Fresh-pass-31" } })).statusCode).toBe(204);
    const cookie = `outpost_session_token=${u.token}`;
    expect401(await s.request({ method: "GET", url: "/api/v2/users/me", headers: { cookie } }), "invalid session token");

    const res = await s.request({ method: "POST", url: "/api/v2/users/login", headers: { cookie, "x-outpost-csrf": "1" }, payload: { email: "stale-user@example.com", password: "Fresh-pass-31" } });
    expect(res.statusCode, res.body).toBe(201);
    const fresh = res.json().session_token as string;
    expect(String(res.headers["set-cookie"])).toContain(`outpost_session_token=${fresh}`);
    expect((await s.request({ method: "GET", url: "/api/v2/users/me", headers: { cookie: `outpost_session_token=${fresh}` } })).statusCode).toBe(200);

    for (const url of ["/healthz", "/api/v2/buildinfo", "/api/v2/users/first"]) {
      expect((await s.request({ method: "GET", url, headers: { cookie } })).statusCode, url).toBe(200);
      expect((await s.request({ method: "GET", url, token: "not-a-token" })).statusCode, url).toBe(200);
    }
    // Routes that need a session still refuse the dead one.
    expect401(await s.request({ method: "POST", url: "/api/v2/users/logout", token: u.token }), "invalid session token");
  });
});

describe("suspended users", () => {
  it("a suspended user's keys answer 401 and their login is refused; activation restores tokens, not sessions", async () => {
    const u = await createUserWithRoles(s, owner, "susp-user", []);
    const { key } = (await mkToken(u.token, { name: "auto" })).json();
    const suspend = await s.request({ method: "PUT", url: "/api/v2/users/susp-user/status/suspend", token: owner });
    expect(suspend.statusCode).toBe(200);
    expect(suspend.json().status).toBe("suspended");

    expect401(await me(u.token), /invalid session token|account suspended/);
    expect401(await me(key), "account suspended");
    expect401(await mkToken(key, { name: "sneaky" }), "account suspended");
    const loginRes = await s.request({ method: "POST", url: "/api/v2/users/login", payload: { email: "susp-user@example.com", password: MEMBER_PASSWORD } });
    expect401(loginRes, "account suspended");
    expect(loginRes.headers["set-cookie"]).toBeUndefined();
    const { rows } = await s.deps.db.query("SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1 AND login_type = 'password'", [u.id]);
    expect(rows[0].n).toBe(0);

    expect((await s.request({ method: "PUT", url: "/api/v2/users/susp-user/status/activate", token: owner })).json().status).toBe("active");
    expect((await me(key)).statusCode).toBe(200);
    expect401(await me(u.token), "invalid session token");
    const again = await login(s, "susp-user@example.com", MEMBER_PASSWORD);
    expect((await me(again)).json().username).toBe("susp-user");
  });

  it("a deleted user's keys answer 401 and their login is refused", async () => {
    const u = await createUserWithRoles(s, owner, "gone-user", []);
    const { key } = (await mkToken(u.token, { name: "auto" })).json();
    expect((await s.request({ method: "DELETE", url: "/api/v2/users/gone-user", token: owner })).statusCode).toBe(204);
    expect401(await me(u.token), "invalid session token");
    expect401(await me(key), "invalid session token");
    expect401(await s.request({ method: "POST", url: "/api/v2/users/login", payload: { email: "gone-user@example.com", password: MEMBER_PASSWORD } }), "incorrect email or password");
  });
});

describe("password changes", () => {
  it("your own change ends your other sessions but keeps the current one (API tokens stay)", async () => {
    const u = await createUserWithRoles(s, owner, "pw-self", []);
    const other = await login(s, "pw-self@example.com", MEMBER_PASSWORD);
    const { key } = (await mkToken(u.token, { name: "script" })).json();
    const res = await s.request({ method: "PUT", url: "/api/v2/users/me/password", token: u.token, payload: { old_password: MEMBER_PASSWORD, password: "Brand-new-pass-1" } });
    expect(res.statusCode, res.body).toBe(204);
    expect((await me(u.token)).statusCode).toBe(200);
    expect401(await me(other), "invalid session token");
    expect((await me(key)).statusCode).toBe(200);
    expect401(await s.request({ method: "POST", url: "/api/v2/users/login", payload: { email: "pw-self@example.com", password: MEMBER_PASSWORD } }), "incorrect email or password");
    expect(await login(s, "pw-self@example.com", "Brand-new-pass-1")).toMatch(KEY_PATTERN);
  });

  it("an admin's change ends every session of that user and none of the admin's", async () => {
    const u = await createUserWithRoles(s, owner, "pw-other", []);
    const second = await login(s, "pw-other@example.com", MEMBER_PASSWORD);
    const admin = await createUserWithRoles(s, owner, "pw-admin", ["user-admin"]);
    const res = await s.request({ method: "PUT", url: "/api/v2/users/pw-other/password", token: admin.token, payload: { password: "Admin-set-pass-7" } });
    expect(res.statusCode, res.body).toBe(204);
    expect401(await me(u.token), "invalid session token");
    expect401(await me(second), "invalid session token");
    expect((await me(admin.token)).statusCode).toBe(200);
    expect((await me(owner)).statusCode).toBe(200);
    expect(await login(s, "pw-other@example.com", "Admin-set-pass-7")).toMatch(KEY_PATTERN);
  });
});

describe("login rate limits", () => {
  let rl: TestServer;
  beforeAll(async () => {
    rl = await createTestServer({ env: { OUTPOST_LOGIN_RATE_LIMIT_IP: "5", OUTPOST_LOGIN_RATE_LIMIT_ACCOUNT: "3" } });
    await rl.request({ method: "POST", url: "/api/v2/users/first", payload: OWNER, remoteAddress: "10.9.9.9" });
    const t = await rl.request({ method: "POST", url: "/api/v2/users/login", payload: { email: OWNER.email, password: OWNER.password }, remoteAddress: "10.9.9.9" });
    const token = t.json().session_token;
    for (const name of ["rl-a", "rl-b", "rl-c"]) {
      const r = await rl.request({ method: "POST", url: "/api/v2/users", token, payload: { email: `${name}@example.com`, username: name, password: MEMBER_PASSWORD } });
      if (r.statusCode !== 201) throw new Error(r.body);
    }
  });
  afterAll(async () => rl?.close());

  const attempt = (email: string, password: string, ip: string) =>
    rl.request({ method: "POST", url: "/api/v2/users/login", payload: { email, password }, remoteAddress: ip });

  function expect429(res: LightMyRequestResponse, maxSeconds: number): number {
    const body = expectError(res, "RATE_LIMITED");
    expect(body.detail).toMatch(/try again in \d+ s/);
    const retry = Number(res.headers["retry-after"]);
    expect(Number.isInteger(retry)).toBe(true);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(maxSeconds);
    return retry;
  }

  it("limits attempts per IP, successful or not, with Retry-After; other IPs are unaffected; the window resets", async () => {
    const ip = "10.0.0.1";
    // Five attempts on different accounts (so no account limit is involved): two good, three unknown.
    expect((await attempt("rl-a@example.com", MEMBER_PASSWORD, ip)).statusCode).toBe(201);
    expect((await attempt("rl-b@example.com", MEMBER_PASSWORD, ip)).statusCode).toBe(201);
    for (const n of [1, 2, 3]) expect((await attempt(`nobody${n}@example.com`, "Whatever-1", ip)).statusCode).toBe(401);
    // The sixth is refused even with the right password.
    const blocked = await attempt("rl-c@example.com", MEMBER_PASSWORD, ip);
    expect(expect429(blocked, 60)).toBe(60);
    expect(blocked.headers["set-cookie"]).toBeUndefined();
    expect((await attempt("rl-c@example.com", MEMBER_PASSWORD, "10.0.0.2")).statusCode).toBe(201);

    rl.clock.advance(30_000);
    expect(expect429(await attempt("rl-c@example.com", MEMBER_PASSWORD, ip), 60)).toBe(30);
    rl.clock.advance(30_000);
    expect((await attempt("rl-c@example.com", MEMBER_PASSWORD, ip)).statusCode).toBe(201);
  });

  it("limits failed attempts per account across IPs, case-insensitively; the window resets after 15 minutes", async () => {
    for (const [i, email] of ["rl-a@example.com", "RL-A@example.com", "rl-a@EXAMPLE.com"].entries()) {
      const res = await attempt(email, "Wrong-pass-1", `10.1.0.${i + 1}`);
      expect401(res, "incorrect email or password");
    }
    // The right password from a fresh IP is refused now: the account is locked, not the address.
    const blocked = await attempt("rl-a@example.com", MEMBER_PASSWORD, "10.1.0.9");
    const retry = expect429(blocked, 15 * 60);
    expect(retry).toBe(15 * 60);
    // Other accounts are unaffected.
    expect((await attempt("rl-b@example.com", MEMBER_PASSWORD, "10.1.0.10")).statusCode).toBe(201);

    rl.clock.advance(15 * 60_000 - 1000);
    expect429(await attempt("rl-a@example.com", MEMBER_PASSWORD, "10.1.0.11"), 1);
    rl.clock.advance(1000);
    expect((await attempt("rl-a@example.com", MEMBER_PASSWORD, "10.1.0.12")).statusCode).toBe(201);
  });

  it("a successful login clears the account's failures", async () => {
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) expect((await attempt("rl-b@example.com", "Wrong-pass-1", `10.2.${round}.${i}`)).statusCode).toBe(401);
      expect((await attempt("rl-b@example.com", MEMBER_PASSWORD, `10.2.${round}.9`)).statusCode).toBe(201);
    }
  });

  it("unknown accounts are limited like real ones (no account enumeration by rate limit)", async () => {
    for (let i = 0; i < 3; i++) expect((await attempt("ghost@example.com", "Wrong-pass-1", `10.3.0.${i}`)).statusCode).toBe(401);
    expect429(await attempt("ghost@example.com", "Wrong-pass-1", "10.3.0.9"), 15 * 60);
  });
});

describe("audit log", () => {
  interface Entry {
    id: string;
    time: string;
    user: { id: string; username: string } | null;
    action: string;
    resource_type: string;
    resource_id: string;
    resource_name: string;
    diff: Record<string, { old: unknown; new: unknown; secret: boolean }>;
    ip: string | null;
    user_agent: string | null;
    status_code: number;
  }

  const audit = async (query: Record<string, string> = {}, token = owner): Promise<{ items: Entry[]; count: number }> => {
    const res = await s.request({ method: "GET", url: "/api/v2/audit", token, query: { limit: "1000", ...query } });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };

  let target: { id: string; token: string };
  let tokenId: string;
  let windowStart: Date;
  let windowEnd: Date;

  beforeAll(async () => {
    await reloginOwner();
    const ua = { "user-agent": "audit-suite/1.0" };
    s.clock.advance(HOUR);
    windowStart = s.clock.now();
    const created = await s.request({ method: "POST", url: "/api/v2/users", token: owner, headers: ua, payload: { email: "aud-target@example.com", username: "aud-target", password: MEMBER_PASSWORD, name: "Before" } });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    const login1 = await s.request({ method: "POST", url: "/api/v2/users/login", headers: ua, payload: { email: "aud-target@example.com", password: MEMBER_PASSWORD } });
    target = { id, token: login1.json().session_token };
    expect((await s.request({ method: "POST", url: "/api/v2/users/login", headers: ua, payload: { email: "aud-target@example.com", password: "Wrong-pass-1" } })).statusCode).toBe(401);
    expect((await s.request({ method: "POST", url: "/api/v2/users/login", headers: ua, payload: { email: "no-such-user@example.com", password: "Wrong-pass-1" } })).statusCode).toBe(401);
    expect((await s.request({ method: "PUT", url: "/api/v2/users/aud-target/profile", token: owner, headers: ua, payload: { name: "After" } })).statusCode).toBe(200);
    expect((await s.request({ method: "PUT", url: "/api/v2/users/aud-target/roles", token: owner, headers: ua, payload: { roles: ["auditor"] } })).statusCode).toBe(200);
    expect((await s.request({ method: "PUT", url: "/api/v2/users/me/password", token: target.token, headers: ua, payload: { old_password: MEMBER_PASSWORD, password: "Audit-pass-99" } })).statusCode).toBe(204);
    const tok = await s.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", token: target.token, headers: ua, payload: { name: "audited" } });
    expect(tok.statusCode).toBe(201);
    tokenId = tok.json().token.id;
    s.clock.advance(HOUR);
    windowEnd = s.clock.now();
    expect((await s.request({ method: "DELETE", url: "/api/v2/users/me/keys/audited", token: target.token, headers: ua })).statusCode).toBe(204);
    expect((await s.request({ method: "POST", url: "/api/v2/users/logout", token: target.token, headers: ua })).statusCode).toBe(204);
    expect((await s.request({ method: "DELETE", url: "/api/v2/users/aud-target", token: owner, headers: ua })).statusCode).toBe(204);
  });

  const find = (items: Entry[], action: string, resourceType: string, pred: (e: Entry) => boolean = () => true) => {
    const found = items.filter((e) => e.action === action && e.resource_type === resourceType && pred(e));
    expect(found.length, `${action} ${resourceType} in ${JSON.stringify(items.map((e) => [e.action, e.resource_type, e.status_code]))}`).toBeGreaterThan(0);
    return found;
  };

  it("records user create, update, role change, password change and delete with diffs", async () => {
    const { items } = await audit({ resource_id: target.id });
    const create = find(items, "create", "user")[0]!;
    expect(create).toMatchObject({ resource_name: "aud-target", status_code: 201, ip: "127.0.0.1", user_agent: "audit-suite/1.0", user: { username: OWNER.username } });
    expect(create.diff.username).toEqual({ old: null, new: "aud-target", secret: false });
    expect(create.diff.email).toEqual({ old: null, new: "aud-target@example.com", secret: false });
    expect(create.diff.hashed_password).toEqual({ old: "", new: "", secret: true });

    const writes = find(items, "write", "user");
    const profile = writes.find((e) => e.diff.name)!;
    expect(profile.diff.name).toEqual({ old: "Before", new: "After", secret: false });
    const roles = writes.find((e) => e.diff.roles)!;
    expect(roles.diff.roles).toEqual({ old: [], new: ["auditor"], secret: false });
    expect(roles.user?.username).toBe(OWNER.username);
    const pw = writes.find((e) => e.diff.hashed_password)!;
    expect(pw.diff).toEqual({ hashed_password: { old: "", new: "", secret: true } });
    expect(pw.user?.username).toBe("aud-target");
    expect(pw.status_code).toBe(204);

    const del = find(items, "delete", "user")[0]!;
    expect(del).toMatchObject({ status_code: 204, resource_name: "aud-target", user: { username: OWNER.username } });
  });

  it("records token create and delete, with the secret hash redacted", async () => {
    const { items } = await audit({ resource_id: tokenId });
    const create = find(items, "create", "api_key")[0]!;
    expect(create).toMatchObject({ resource_name: "audited", status_code: 201, user: { id: target.id, username: "aud-target" } });
    expect(create.diff.hashed_secret).toEqual({ old: "", new: "", secret: true });
    expect(create.diff.name).toEqual({ old: null, new: "audited", secret: false });
    const del = find(items, "delete", "api_key")[0]!;
    expect(del).toMatchObject({ resource_name: "audited", status_code: 204 });
    expect(del.diff.hashed_secret).toEqual({ old: "", new: "", secret: true });
  });

  it("records login success and failure (naming the account tried) and logout", async () => {
    const { items } = await audit({ action: "login" });
    const mine = items.filter((e) => e.resource_id === target.id);
    expect(mine.map((e) => e.status_code).sort()).toEqual([201, 401]);
    for (const e of mine) expect(e.user).toEqual({ id: target.id, username: "aud-target" });
    const unknown = items.find((e) => e.resource_name === "no-such-user@example.com")!;
    expect(unknown).toMatchObject({ user: null, resource_id: "", status_code: 401, resource_type: "user" });
    const out = find((await audit({ action: "logout" })).items, "logout", "user", (e) => e.resource_id === target.id)[0]!;
    expect(out).toMatchObject({ status_code: 204, user: { username: "aud-target" } });
  });

  it("never shows a password hash, a key secret or a plain password", async () => {
    const res = await s.request({ method: "GET", url: "/api/v2/audit?limit=1000", token: owner });
    expect(res.body).not.toMatch(/\$argon2/);
    for (const pw of [MEMBER_PASSWORD, "Audit-pass-99", "Wrong-pass-1", OWNER.password]) expect(res.body).not.toContain(pw);
    for (const e of res.json().items as Entry[]) {
      for (const [field, change] of Object.entries(e.diff)) {
        if (["hashed_password", "hashed_secret", "password"].includes(field)) expect(change).toEqual({ old: "", new: "", secret: true });
      }
    }
  });

  it("filters by username (the actor), action, resource type and status", async () => {
    const all = await audit();
    const byUser = await audit({ username: "aud-target" });
    expect(byUser.count).toBeGreaterThanOrEqual(6);
    expect(byUser.items.every((e) => e.user?.username === "aud-target")).toBe(true);
    expect(byUser.count).toBe(all.items.filter((e) => e.user?.username === "aud-target").length);
    expect((await audit({ username: "AUD-TARGET" })).count).toBe(byUser.count);
    expect((await audit({ username: "nobody-at-all" })).count).toBe(0);

    const logins = await audit({ action: "login" });
    expect(logins.items.every((e) => e.action === "login")).toBe(true);
    expect(logins.count).toBe(all.items.filter((e) => e.action === "login").length);

    const keys = await audit({ resource_type: "api_key" });
    expect(keys.count).toBeGreaterThanOrEqual(2);
    expect(keys.items.every((e) => e.resource_type === "api_key")).toBe(true);

    const failures = await audit({ status: "failure" });
    expect(failures.count).toBeGreaterThanOrEqual(2);
    expect(failures.items.every((e) => e.status_code >= 400)).toBe(true);
    const successes = await audit({ status: "success" });
    expect(successes.items.every((e) => e.status_code < 400)).toBe(true);
    expect(failures.count + successes.count).toBe(all.count);

    const combined = await audit({ username: "aud-target", action: "login", status: "failure" });
    expect(combined.count).toBe(1);
    expect(combined.items[0]).toMatchObject({ action: "login", status_code: 401 });
  });

  it("filters by time: since is inclusive, until exclusive", async () => {
    const inWindow = await audit({ since: windowStart.toISOString(), until: windowEnd.toISOString() });
    const actions = inWindow.items.map((e) => `${e.action} ${e.resource_type}`);
    expect(actions).toEqual(expect.arrayContaining(["create user", "login user", "write user", "create api_key"]));
    expect(actions).not.toContain("delete api_key");
    expect(actions).not.toContain("logout user");
    for (const e of inWindow.items) {
      expect(Date.parse(e.time)).toBeGreaterThanOrEqual(windowStart.getTime());
      expect(Date.parse(e.time)).toBeLessThan(windowEnd.getTime());
    }
    const after = await audit({ since: windowEnd.toISOString() });
    expect(after.items.map((e) => `${e.action} ${e.resource_type}`)).toEqual(expect.arrayContaining(["delete api_key", "logout user", "delete user"]));
    expect(after.items.every((e) => Date.parse(e.time) >= windowEnd.getTime())).toBe(true);
    const before = await audit({ until: windowStart.toISOString() });
    expect(before.count + inWindow.count + after.count).toBe((await audit()).count);
    // An offset other than Z names the same instant.
    const shifted = new Date(windowEnd.getTime() + 2 * HOUR).toISOString().replace("Z", "+02:00");
    expect((await audit({ since: shifted })).count).toBe(after.count);
  });

  it("pages newest first, with a stable order and a total count", async () => {
    const all = await audit();
    expect(all.count).toBe(all.items.length);
    expect(all.count).toBeGreaterThan(10);
    const times = all.items.map((e) => Date.parse(e.time));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(times[0]).toBeGreaterThan(times[times.length - 1]!);

    const seen: string[] = [];
    for (let offset = 0; offset < all.count; offset += 4) {
      const page = await audit({ limit: "4", offset: String(offset) });
      expect(page.count).toBe(all.count);
      expect(page.items.length).toBe(Math.min(4, all.count - offset));
      seen.push(...page.items.map((e) => e.id));
    }
    expect(seen).toEqual(all.items.map((e) => e.id));
    expect((await audit({ limit: "4", offset: String(all.count) })).items).toEqual([]);
    const dflt = await s.request({ method: "GET", url: "/api/v2/audit", token: owner });
    expect(dflt.json().items.length).toBe(Math.min(50, all.count));
  });

  it("owners and auditors can read it; everyone else gets 404, no session 401", async () => {
    const auditor = await createUserWithRoles(s, owner, "aud-reader", ["auditor"]);
    expect((await audit({}, auditor.token)).count).toBeGreaterThan(0);
    for (const roles of [[], ["user-admin"], ["template-admin"]]) {
      const u = await createUserWithRoles(s, owner, `aud-no-${roles[0] ?? "member"}`, roles);
      const res = await s.request({ method: "GET", url: "/api/v2/audit", token: u.token });
      expect(expectError(res, "NOT_FOUND").message).toBe("resource not found");
      expectError(await s.request({ method: "GET", url: "/api/v2/audit?action=login", token: u.token }), "NOT_FOUND");
    }
    expectError(await s.request({ method: "GET", url: "/api/v2/audit" }), "UNAUTHENTICATED");
  });
});
