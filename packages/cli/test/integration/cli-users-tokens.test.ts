import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestServer, createUserWithRoles, login, OWNER, setupOwner, type TestServer } from "../../../server/test/helpers/test-server.js";
import { cliSandbox, ensureCliBuilt, STACK_TRACE, type CliSandbox } from "../helpers/run-cli.js";

let s: TestServer;
let cli: CliSandbox;
let ownerToken: string;

const ALICE = { email: "alice@example.com", username: "alice", password: "Rabbit-hole-77", name: "Alice Liddell" };
const KEY = /^[a-zA-Z0-9]{10}-[a-zA-Z0-9]{22}$/;

beforeAll(async () => {
  await ensureCliBuilt();
  s = await createTestServer({ listen: true, env: { OUTPOST_LOGIN_RATE_LIMIT_IP: "1000" } });
  ownerToken = await setupOwner(s);
  cli = await cliSandbox();
  const r = await cli.run(["login", s.url, "--token", ownerToken]);
  if (r.code !== 0) throw new Error(`login: ${r.code} ${r.stderr}`);
});
afterAll(async () => {
  await s?.close();
  await cli?.cleanup();
});

async function serverUser(username: string) {
  return s.request({ method: "GET", url: `/api/v2/users/${username}`, token: ownerToken });
}

/** Runs the CLI with only a URL and token in the environment: no saved session. */
async function withToken(token: string, args: string[]) {
  const other = await cliSandbox();
  try {
    return await other.run(args, { env: { OUTPOST_URL: s.url, OUTPOST_SESSION_TOKEN: token } });
  } finally {
    await other.cleanup();
  }
}

describe("outpost users", () => {
  it("create refuses a missing value without a terminal (exit 2 naming the flag) and creates nothing", async () => {
    const r = await cli.run(["users", "create", "--email", ALICE.email, "--username", ALICE.username]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing --password");
    expect((await serverUser(ALICE.username)).statusCode).toBe(404);

    const bad = await cli.run(["users", "create", "--email", ALICE.email, "--username", "Not_Valid", "--password", ALICE.password]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("invalid --username");

    const weak = await cli.run(["users", "create", "--email", ALICE.email, "--username", ALICE.username, "--password", "Alice-pass-77"]);
    expect(weak.code).toBe(2);
    expect(weak.stderr).toContain("invalid --password: must not contain your username or email");

    const role = await cli.run(["users", "create", "--email", ALICE.email, "--username", ALICE.username, "--password", ALICE.password, "--role", "wizard"]);
    expect(role.code).toBe(2);
    expect(role.stderr).toContain('invalid value for --role: "wizard"');
    expect((await serverUser(ALICE.username)).statusCode).toBe(404);
  });

  it("create makes a user with a name and roles", async () => {
    const r = await cli.run([
      "users", "create",
      "--email", ALICE.email,
      "--username", ALICE.username,
      "--password", ALICE.password,
      "--name", ALICE.name,
      "--role", "auditor",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`Created user alice (alice@example.com), roles: auditor, member.`);
    const res = await serverUser(ALICE.username);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ email: ALICE.email, name: ALICE.name, status: "active", roles: ["auditor", "member"] });
    // The password given on the command line is the one that works.
    expect(await login(s, ALICE.email, ALICE.password)).toMatch(KEY);
  });

  it("create prints the server's refusal (message and validations) when the username is taken", async () => {
    const r = await cli.run(["users", "create", "--email", "other@example.com", "--username", ALICE.username, "--password", ALICE.password, "-o", "json"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: username "alice" is already in use');
    expect(r.stderr).toContain("username: is already in use");
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.stdout).toBe("");
  });

  it("create -o json prints the created user", async () => {
    const r = await cli.run(["users", "create", "--email", "bob@example.com", "--username", "bob", "--password", "Hammer-time-42", "-o", "json"]);
    expect(r.code).toBe(0);
    const user = JSON.parse(r.stdout);
    expect(user).toMatchObject({ username: "bob", email: "bob@example.com", roles: ["member"] });
    expect((await serverUser("bob")).json().id).toBe(user.id);
  });

  it("list prints a table, filters, paginates, and -o json prints the users", async () => {
    const r = await cli.run(["users", "list"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^USERNAME\s+EMAIL\s+STATUS\s+ROLES\s+LAST SEEN$/);
    expect(lines).toHaveLength(4);
    expect(lines.find((l) => l.startsWith("alice "))).toMatch(/^alice\s+alice@example\.com\s+active\s+auditor, member\s+never$/);
    expect(lines.find((l) => l.startsWith("owner "))).toMatch(/^owner\s+owner@example\.com\s+active\s+owner, member\s+\S/);
    expect(lines.some((l) => l.startsWith("bob "))).toBe(true);

    const search = await cli.run(["users", "list", "-q", "ALI"]);
    expect(search.code).toBe(0);
    expect(search.stdout.trimEnd().split("\n").slice(1).map((l) => l.split(/\s+/)[0])).toEqual(["alice"]);

    const byRole = await cli.run(["users", "list", "--role", "owner", "-o", "json"]);
    expect(byRole.code).toBe(0);
    expect(JSON.parse(byRole.stdout).map((u: { username: string }) => u.username)).toEqual(["owner"]);

    const all = await cli.run(["users", "list", "-o", "json"]);
    expect(all.code).toBe(0);
    const users = JSON.parse(all.stdout) as { username: string; email: string; roles: string[] }[];
    expect(users.map((u) => u.username).sort()).toEqual(["alice", "bob", "owner"]);
    expect(users.find((u) => u.username === "alice")).toMatchObject({ email: ALICE.email, roles: ["auditor", "member"] });

    const page = await cli.run(["users", "list", "--limit", "2"]);
    expect(page.code).toBe(0);
    expect(page.stdout.trimEnd().split("\n")).toHaveLength(3);
    expect(page.stderr).toContain("showing 1-2 of 3 users; next page: --offset 2");

    const badLimit = await cli.run(["users", "list", "--limit", "0"]);
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain("invalid value for --limit");
    const badStatus = await cli.run(["users", "list", "--status", "sleeping"]);
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toContain("invalid value for --status");
  });

  it("show prints one user, -o json the user object, and a missing user is 'not found' (exit 1)", async () => {
    const r = await cli.run(["users", "show", "alice"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^username:\s+alice$/m);
    expect(r.stdout).toMatch(/^name:\s+Alice Liddell$/m);
    expect(r.stdout).toMatch(/^email:\s+alice@example\.com$/m);
    expect(r.stdout).toMatch(/^roles:\s+auditor, member$/m);
    expect(r.stdout).toMatch(/^status:\s+active$/m);

    const j = await cli.run(["users", "show", "alice", "-o", "json"]);
    expect(j.code).toBe(0);
    const user = JSON.parse(j.stdout);
    expect(user).toMatchObject({ username: "alice", email: ALICE.email, status: "active" });
    // An id works as well as a username.
    const byId = await cli.run(["users", "show", user.id, "-o", "json"]);
    expect(JSON.parse(byId.stdout).username).toBe("alice");

    const missing = await cli.run(["users", "show", "nobody"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe("error: user not found");
  });

  it("suspend stops the user's sessions and tokens; activate lets them back in", async () => {
    const aliceToken = await login(s, ALICE.email, ALICE.password);
    const created = await withToken(aliceToken, ["tokens", "create", "--name", "alice-ci"]);
    expect(created.code).toBe(0);
    const aliceKey = created.stdout.trim();
    const before = await withToken(aliceKey, ["whoami"]);
    expect(before.code).toBe(0);
    expect(before.stdout).toContain("alice (alice@example.com)");

    const r = await cli.run(["users", "suspend", "alice"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("Suspended alice (status: suspended).");
    expect((await serverUser("alice")).json().status).toBe("suspended");

    const listed = await cli.run(["users", "list", "--status", "suspended", "-o", "json"]);
    expect(JSON.parse(listed.stdout).map((u: { username: string }) => u.username)).toEqual(["alice"]);

    // Her login session is ended; her API token is refused while she is suspended.
    const session = await withToken(aliceToken, ["whoami"]);
    expect(session.code).toBe(1);
    expect(session.stderr).toContain("error: invalid session token");
    const during = await withToken(aliceKey, ["whoami"]);
    expect(during.code).toBe(1);
    expect(during.stderr).toContain("error: account suspended");
    expect(during.stderr).toContain("ask an administrator to activate your account");

    const self = await cli.run(["users", "suspend", "me"]);
    expect(self.code).toBe(1);
    expect(self.stderr).toContain("you cannot suspend yourself");

    const a = await cli.run(["users", "activate", "alice"]);
    expect(a.code).toBe(0);
    expect(a.stdout.trim()).toBe("Activated alice (status: active).");
    expect((await serverUser("alice")).json().status).toBe("active");
    expect(await login(s, ALICE.email, ALICE.password)).toMatch(KEY);
    const after = await withToken(aliceKey, ["whoami"]);
    expect(after.code).toBe(0);
  });

  it("roles shows and replaces a user's roles; --set member clears them", async () => {
    const show = await cli.run(["users", "roles", "alice"]);
    expect(show.code).toBe(0);
    expect(show.stdout.trim()).toBe("Roles of alice: auditor, member");

    const set = await cli.run(["users", "roles", "alice", "--set", "template-admin", "--set", "user-admin"]);
    expect(set.code).toBe(0);
    expect(set.stdout.trim()).toBe("Roles of alice are now: template-admin, user-admin, member");
    expect((await serverUser("alice")).json().roles).toEqual(["template-admin", "user-admin", "member"]);

    const j = await cli.run(["users", "roles", "alice", "-o", "json"]);
    expect(JSON.parse(j.stdout)).toEqual(["template-admin", "user-admin", "member"]);

    const comma = await cli.run(["users", "roles", "alice", "--set", "auditor,template-admin"]);
    expect(comma.code).toBe(0);
    expect((await serverUser("alice")).json().roles).toEqual(["auditor", "template-admin", "member"]);

    const clear = await cli.run(["users", "roles", "alice", "--set", "member"]);
    expect(clear.code).toBe(0);
    expect((await serverUser("alice")).json().roles).toEqual(["member"]);

    const bad = await cli.run(["users", "roles", "alice", "--set", "superuser"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid value for --set: "superuser"');

    // The server's refusal, with its detail line, reaches the user.
    const self = await cli.run(["users", "roles", "owner", "--set", "auditor"]);
    expect(self.code).toBe(1);
    expect(self.stderr).toContain("error: you cannot change your own roles");
    expect(self.stderr).toContain("  ask another owner or user admin");
  });

  it("a member may not create users: the server's message and detail are printed", async () => {
    const member = await createUserWithRoles(s, ownerToken, "carol", []);
    const r = await withToken(member.token, ["users", "create", "--email", "dave@example.com", "--username", "dave", "--password", "Secret-word-9"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: you are not allowed to do this");
    expect(r.stderr).toContain("  you may not create users");
    expect((await serverUser("dave")).statusCode).toBe(404);
  });

  it("in a terminal, create prompts for missing values and delete asks for confirmation", async () => {
    const created = await cli.runInTerminal(
      ["users", "create", "--role", "template-admin"],
      [
        { expect: "Username: ", send: "erin" },
        { expect: "Email: ", send: "erin@example.com" },
        { expect: "Password: ", send: "Tulip-field-31" },
        { expect: "Confirm password: ", send: "Tulip-field-31" },
      ],
    );
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("Created user erin (erin@example.com), roles: template-admin, member.");
    // The secret answers are not echoed.
    expect(created.stdout).not.toContain("Tulip-field-31");
    expect((await serverUser("erin")).json().roles).toEqual(["template-admin", "member"]);
    expect(await login(s, "erin@example.com", "Tulip-field-31")).toMatch(KEY);

    const mismatch = await cli.runInTerminal(
      ["users", "create", "--username", "frank", "--email", "frank@example.com"],
      [
        { expect: "Password: ", send: "Tulip-field-31" },
        { expect: "Confirm password: ", send: "Tulip-field-32" },
      ],
    );
    expect(mismatch.code).toBe(2);
    expect(mismatch.stdout).toContain("passwords do not match");
    expect((await serverUser("frank")).statusCode).toBe(404);

    const kept = await cli.runInTerminal(["users", "delete", "erin"], [{ expect: "Delete user erin (erin@example.com)?", send: "n" }]);
    expect(kept.code).toBe(1);
    expect(kept.stdout).toContain("Not deleted.");
    expect((await serverUser("erin")).statusCode).toBe(200);

    const deleted = await cli.runInTerminal(["users", "delete", "erin"], [{ expect: "Delete user erin (erin@example.com)?", send: "y" }]);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain("Deleted user erin.");
    expect((await serverUser("erin")).statusCode).toBe(404);
  });

  it("delete refuses without -y when not interactive, and deletes with -y", async () => {
    const bobToken = await login(s, "bob@example.com", "Hammer-time-42");
    const refused = await cli.run(["users", "delete", "bob"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("refusing to delete bob without confirmation");
    expect(refused.stderr).toContain("-y");
    expect((await serverUser("bob")).statusCode).toBe(200);

    const r = await cli.run(["users", "delete", "bob", "-y"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("Deleted user bob.");
    expect((await serverUser("bob")).statusCode).toBe(404);
    // Their sessions are revoked.
    const who = await withToken(bobToken, ["whoami"]);
    expect(who.code).toBe(1);
    expect(who.stderr).toContain("invalid session token");

    const again = await cli.run(["users", "delete", "bob", "-y"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("user not found");
  });
});

describe("outpost tokens", () => {
  let ciKey: string;

  it("create prints exactly the key on stdout and a hint on stderr; the key works as OUTPOST_SESSION_TOKEN", async () => {
    const r = await cli.run(["tokens", "create", "--name", "ci", "--lifetime", "7d"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[a-zA-Z0-9]{10}-[a-zA-Z0-9]{22}\n$/);
    ciKey = r.stdout.trim();
    expect(r.stderr).toContain('Created token "ci"');
    expect(r.stderr).toContain("shown only once");
    expect(r.stderr).not.toContain(ciKey);

    const listed = await s.request({ method: "GET", url: "/api/v2/users/me/keys/ci", token: ownerToken });
    expect(listed.statusCode).toBe(200);
    expect(listed.json()).toMatchObject({ name: "ci", id: ciKey.split("-")[0], lifetime_seconds: 7 * 86400, login_type: "token" });

    const who = await withToken(ciKey, ["whoami", "-o", "json"]);
    expect(who.code).toBe(0);
    expect(JSON.parse(who.stdout).user.username).toBe(OWNER.username);
  });

  it("create accepts compound durations and names itself; bad durations exit 2 naming --lifetime", async () => {
    const r = await cli.run(["tokens", "create", "--lifetime", "1h30m"]);
    expect(r.code).toBe(0);
    const id = r.stdout.trim().split("-")[0]!;
    const key = await s.request({ method: "GET", url: `/api/v2/users/me/keys/${id}`, token: ownerToken });
    expect(key.json().lifetime_seconds).toBe(5400);
    expect(key.json().name).toMatch(/^token-\d{8}-[a-z0-9]{5}$/);

    for (const bad of ["soon", "7", "-1d", "30s", ""]) {
      const b = await cli.run(["tokens", "create", "--name", "never", `--lifetime=${bad}`]);
      expect(b.code, bad).toBe(2);
      expect(b.stderr, bad).toContain("invalid value for --lifetime");
      expect(b.stdout, bad).toBe("");
    }
    expect((await s.request({ method: "GET", url: "/api/v2/users/me/keys/never", token: ownerToken })).statusCode).toBe(404);
  });

  it("create prints the server's refusal: a duplicate name, a lifetime above the deployment's maximum", async () => {
    const dup = await cli.run(["tokens", "create", "--name", "ci"]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('error: a token named "ci" already exists');
    expect(dup.stderr).toContain("name: is already in use");
    expect(dup.stdout).toBe("");

    const long = await cli.run(["tokens", "create", "--name", "forever", "--lifetime", "3650d"]);
    expect(long.code).toBe(1);
    expect(long.stderr).toMatch(/lifetime_seconds: must be at most \d+ seconds/);
    expect(long.stdout).toBe("");

    const badName = await cli.run(["tokens", "create", "--name", "Has Spaces"]);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain("invalid --name");
  });

  it("list prints a table and -o json the tokens, never a key", async () => {
    const r = await cli.run(["tokens", "list"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+NAME\s+CREATED\s+EXPIRES\s+LAST USED$/);
    const ci = lines.find((l) => l.includes(" ci "));
    expect(ci).toMatch(new RegExp(`^${ciKey.split("-")[0]}\\s+ci\\s+\\S+ ago\\s+in 6d\\s+\\S`));
    expect(r.stdout).not.toContain(ciKey.split("-")[1]);

    const j = await cli.run(["tokens", "list", "-o", "json"]);
    expect(j.code).toBe(0);
    const tokens = JSON.parse(j.stdout) as { id: string; name: string; expires_at: string }[];
    expect(tokens.map((t) => t.name)).toContain("ci");
    expect(tokens.find((t) => t.name === "ci")!.id).toBe(ciKey.split("-")[0]);
    expect(tokens).toHaveLength(2);
    expect(j.stdout).not.toContain(ciKey.split("-")[1]);
  });

  it("delete by name revokes the key (it then fails with exit 1 and a message); delete by id works too", async () => {
    const r = await cli.run(["tokens", "delete", "ci"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("Deleted token ci.");

    const who = await withToken(ciKey, ["whoami"]);
    expect(who.code).toBe(1);
    expect(who.stderr).toContain("error: invalid session token");
    expect(who.stderr).not.toMatch(STACK_TRACE);
    expect(who.stdout).toBe("");

    const list = JSON.parse((await cli.run(["tokens", "list", "-o", "json"])).stdout) as { id: string; name: string }[];
    expect(list.map((t) => t.name)).not.toContain("ci");
    const byId = await cli.run(["tokens", "delete", list[0]!.id]);
    expect(byId.code).toBe(0);
    expect(JSON.parse((await cli.run(["tokens", "list", "-o", "json"])).stdout)).toEqual([]);

    const missing = await cli.run(["tokens", "delete", "ci"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe("error: token not found");

    const noArg = await cli.run(["tokens", "delete"]);
    expect(noArg.code).toBe(2);
    expect(noArg.stderr).toContain("missing NAME_OR_ID");
  });
});
