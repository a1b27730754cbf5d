import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestServer, OWNER, type TestServer } from "../helpers/test-server.js";

let s: TestServer;
beforeAll(async () => {
  s = await createTestServer({ env: { OUTPOST_LOGIN_RATE_LIMIT_IP: "1000" } });
});
afterAll(async () => s?.close());

describe("first user, login, logout", () => {
  it("reports setup not done, then exactly one of concurrent first-user requests wins", async () => {
    const before = await s.request({ method: "GET", url: "/api/v2/users/first" });
    expect(before.json()).toEqual({ setup_done: false });

    const attempts = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        s.request({ method: "POST", url: "/api/v2/users/first", payload: { ...OWNER, username: `owner${i}`, email: `o${i}@example.com` } }),
      ),
    );
    const codes = attempts.map((r) => r.statusCode).sort();
    expect(codes).toEqual([201, 409, 409, 409, 409]);
    const loser = attempts.find((r) => r.statusCode === 409)!;
    expect(loser.json()).toMatchObject({ code: "CONFLICT", message: "the first user has already been created" });
    const winner = attempts.find((r) => r.statusCode === 201)!.json();
    expect(winner.roles).toEqual(["owner", "member"]);
    const { rows } = await s.deps.db.query("SELECT count(*)::int AS n FROM users");
    expect(rows[0].n).toBe(1);

    const after = await s.request({ method: "GET", url: "/api/v2/users/first" });
    expect(after.json()).toEqual({ setup_done: true });
  });

  it("stores an argon2id hash, never the password", async () => {
    const { rows } = await s.deps.db.query("SELECT hashed_password FROM users");
    expect(rows[0].hashed_password).toMatch(/^\$argon2id\$/);
    expect(rows[0].hashed_password).not.toContain(OWNER.password);
  });

  it("logs in with a token and an HttpOnly cookie, and logs out", async () => {
    const { rows } = await s.deps.db.query("SELECT email FROM users");
    const email = rows[0].email as string;
    const res = await s.request({ method: "POST", url: "/api/v2/users/login", payload: { email: email.toUpperCase(), password: OWNER.password } });
    expect(res.statusCode).toBe(201);
    const token = res.json().session_token as string;
    expect(token).toMatch(/^[a-zA-Z0-9]{10}-[a-zA-Z0-9]{22}$/);
    const cookie = String(res.headers["set-cookie"]);
    expect(cookie).toContain(`outpost_session_token=${token}`);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");

    // The secret is stored hashed: the row holds neither the key nor its secret part.
    const key = await s.deps.db.query("SELECT hashed_secret FROM api_keys WHERE id = $1", [token.split("-")[0]]);
    expect(key.rows[0].hashed_secret.toString("utf8")).not.toContain(token.split("-")[1]);

    for (const headers of [{ "outpost-session-token": token }, { authorization: `Bearer ${token}` }, { cookie: `outpost_session_token=${token}` }]) {
      const me = await s.request({ method: "GET", url: "/api/v2/users/me", headers });
      expect(me.statusCode).toBe(200);
      expect(me.json().email).toBe(email);
    }

    const out = await s.request({ method: "POST", url: "/api/v2/users/logout", token });
    expect(out.statusCode).toBe(204);
    const again = await s.request({ method: "GET", url: "/api/v2/users/me", token });
    expect(again.statusCode).toBe(401);
    expect(again.json().code).toBe("UNAUTHENTICATED");
  });

  it("rejects a wrong password with 401 and audits the failure", async () => {
    const res = await s.request({ method: "POST", url: "/api/v2/users/login", payload: { email: "o0@example.com", password: "wrong-password-1" }, headers: { "user-agent": "audit-test" } });
    expect(res.statusCode).toBe(401);
    const { rows } = await s.deps.db.query("SELECT action, status_code, user_agent FROM audit_logs WHERE action = 'login' AND status_code = 401");
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.some((r) => r.user_agent === "audit-test")).toBe(true);
  });

  it("requires the CSRF header for cookie-authenticated writes", async () => {
    const { rows } = await s.deps.db.query("SELECT email FROM users");
    const token = (await s.request({ method: "POST", url: "/api/v2/users/login", payload: { email: rows[0].email, password: OWNER.password } })).json().session_token;
    const cookie = `outpost_session_token=${token}`;
    const forged = await s.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", headers: { cookie }, payload: { name: "forged" } });
    expect(forged.statusCode).toBe(403);
    expect(forged.json().message).toBe("CSRF check failed");
    const crossOrigin = await s.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", headers: { cookie, "x-outpost-csrf": "1", origin: "http://evil.example" }, payload: { name: "forged" } });
    expect(crossOrigin.statusCode).toBe(403);
    const ok = await s.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", headers: { cookie, "x-outpost-csrf": "1" }, payload: { name: "legit" } });
    expect(ok.statusCode).toBe(201);
    // Reads with the cookie need no header.
    expect((await s.request({ method: "GET", url: "/api/v2/users/me", headers: { cookie } })).statusCode).toBe(200);
  });
});
