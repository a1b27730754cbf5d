import fs from "node:fs/promises";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestServer, OWNER, type TestServer } from "../../../server/test/helpers/test-server.js";
import { cliSandbox, ensureCliBuilt, STACK_TRACE, type CliSandbox } from "../helpers/run-cli.js";

let s: TestServer;
let cli: CliSandbox;

beforeAll(async () => {
  await ensureCliBuilt();
  s = await createTestServer({ listen: true, env: { OUTPOST_LOGIN_RATE_LIMIT_IP: "1000" } });
  cli = await cliSandbox();
});
afterAll(async () => {
  await s?.close();
  await cli?.cleanup();
});

async function session(): Promise<{ url: string; token: string }> {
  return JSON.parse(await fs.readFile(cli.sessionFile, "utf8"));
}

/** A port nothing listens on: bound once by us, then released. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe("outpost login / whoami / logout against a real server", () => {
  it("before login, whoami says so clearly (exit 1, no stack trace)", async () => {
    const r = await cli.run(["whoami"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: you are not logged in");
    expect(r.stderr).toContain("outpost login URL");
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.stdout).toBe("");
  });

  it("a missing first-user flag without a terminal exits 2 naming the flag, and creates nothing", async () => {
    const r = await cli.run(["login", s.url, "--first-user-email", OWNER.email, "--first-user-username", OWNER.username]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing --first-user-password");
    const first = await s.request({ method: "GET", url: "/api/v2/users/first" });
    expect(first.json()).toEqual({ setup_done: false });
  });

  it("sets up the first user non-interactively and saves the session with private permissions", async () => {
    const r = await cli.run([
      "login",
      s.url,
      "--first-user-email",
      OWNER.email,
      "--first-user-username",
      OWNER.username,
      "--first-user-password",
      OWNER.password,
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Created ${OWNER.username} as the site owner.`);
    expect(r.stdout).toContain(`Logged in to ${s.url} as ${OWNER.username}.`);

    const file = await fs.stat(cli.sessionFile);
    expect(file.mode & 0o777).toBe(0o600);
    const dir = await fs.stat(cli.configDir);
    expect(dir.mode & 0o777).toBe(0o700);
    const saved = await session();
    expect(saved.url).toBe(s.url);
    // The saved token is a real session of the owner.
    const me = await s.request({ method: "GET", url: "/api/v2/users/me", token: saved.token });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ username: OWNER.username, roles: ["owner", "member"] });
  });

  it("whoami prints the user and deployment, and -o json the same as data", async () => {
    const text = await cli.run(["whoami"]);
    expect(text.code).toBe(0);
    expect(text.stdout.trim()).toBe(`${OWNER.username} (${OWNER.email}) on ${s.url}, roles: owner, member`);

    const j = await cli.run(["whoami", "-o", "json"]);
    expect(j.code).toBe(0);
    const parsed = JSON.parse(j.stdout);
    expect(parsed.url).toBe(s.url);
    expect(parsed.user).toMatchObject({ username: OWNER.username, email: OWNER.email, status: "active", roles: ["owner", "member"] });
  });

  it("login with --email/--password on a deployment that is already set up", async () => {
    const before = (await session()).token;
    const r = await cli.run(["login", s.url, "--email", OWNER.email, "--password", OWNER.password]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`Logged in to ${s.url} as ${OWNER.username}.`);
    const after = (await session()).token;
    expect(after).not.toBe(before);
    expect((await s.request({ method: "GET", url: "/api/v2/users/me", token: after })).statusCode).toBe(200);
  });

  it("login with a wrong password exits 1 with the server's message and no stack trace, keeping the old session", async () => {
    const before = await session();
    const r = await cli.run(["login", s.url, "--email", OWNER.email, "--password", "Wrong-password-1"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("error: incorrect email or password");
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.stdout).not.toContain("Logged in");
    expect(await session()).toEqual(before);
  });

  it("login --token checks the token and saves it", async () => {
    const created = await s.request({ method: "POST", url: "/api/v2/users/me/keys/tokens", token: (await session()).token, payload: { name: "for-login" } });
    expect(created.statusCode).toBe(201);
    const key = created.json().key as string;

    const other = await cliSandbox();
    try {
      const r = await other.run(["login", s.url, "--token", key]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(`Logged in to ${s.url} as ${OWNER.username}.`);
      expect(JSON.parse(await fs.readFile(other.sessionFile, "utf8"))).toEqual({ url: s.url, token: key });
      const who = await other.run(["whoami"]);
      expect(who.code).toBe(0);
      expect(who.stdout).toContain(OWNER.username);

      const bad = await other.run(["login", s.url, "--token", "not-a-real-token"]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain("error: invalid session token");
      // The good session stays.
      expect(JSON.parse(await fs.readFile(other.sessionFile, "utf8")).token).toBe(key);
    } finally {
      await other.cleanup();
    }
  });

  it("unknown commands, subcommands and flags exit 2 with a clear message", async () => {
    const cmd = await cli.run(["frobnicate"]);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toContain('unknown command "frobnicate"');

    const flag = await cli.run(["whoami", "--bogus"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("--bogus");

    const sub = await cli.run(["users", "frobnicate"]);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toContain('unknown subcommand "frobnicate" for "outpost users"');

    const tsub = await cli.run(["tokens", "nope"]);
    expect(tsub.code).toBe(2);
    expect(tsub.stderr).toContain('unknown subcommand "nope" for "outpost tokens"');

    const format = await cli.run(["whoami", "-o", "yaml"]);
    expect(format.code).toBe(2);
    expect(format.stderr).toContain("invalid value for -o/--output");

    for (const r of [cmd, flag, sub, tsub, format]) expect(r.stderr).not.toMatch(STACK_TRACE);
  });

  it("help for the CLI, a group and a subcommand exits 0 and names the options", async () => {
    const top = await cli.run(["--help"]);
    expect(top.code).toBe(0);
    for (const c of ["login", "logout", "whoami", "users", "tokens", "server"]) expect(top.stdout).toContain(`  ${c}`);

    const users = await cli.run(["users", "--help"]);
    expect(users.code).toBe(0);
    for (const c of ["list", "create", "show", "suspend", "activate", "delete", "roles"]) expect(users.stdout).toMatch(new RegExp(`^  ${c} `, "m"));

    const create = await cli.run(["tokens", "create", "--help"]);
    expect(create.code).toBe(0);
    expect(create.stdout).toContain("--lifetime");

    const bare = await cli.run(["users"]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("Usage: outpost users <subcommand>");
  });

  it("a server that is down gives a clear 'cannot reach' message (exit 1)", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const who = await cli.run(["whoami"], { env: { OUTPOST_URL: url, OUTPOST_SESSION_TOKEN: (await session()).token } });
    expect(who.code).toBe(1);
    expect(who.stderr).toContain(`error: cannot reach ${url}`);
    expect(who.stderr).toContain("ECONNREFUSED");
    expect(who.stderr).not.toMatch(STACK_TRACE);

    const login = await cli.run(["login", url, "--email", OWNER.email, "--password", OWNER.password]);
    expect(login.code).toBe(1);
    expect(login.stderr).toContain(`error: cannot reach ${url}`);
  });

  it("logout ends the session on the server and removes the session file", async () => {
    const { token } = await session();
    const r = await cli.run(["logout"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Logged out of ${s.url}.`);
    await expect(fs.stat(cli.sessionFile)).rejects.toMatchObject({ code: "ENOENT" });
    expect((await s.request({ method: "GET", url: "/api/v2/users/me", token })).statusCode).toBe(401);

    const who = await cli.run(["whoami"]);
    expect(who.code).toBe(1);
    expect(who.stderr).toContain("you are not logged in");

    const again = await cli.run(["logout"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("You are not logged in.");
  });
});
