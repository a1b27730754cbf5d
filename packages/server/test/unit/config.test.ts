import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CLIENT_ENV, ConfigError, OPTIONS, parseConfig, parseDuration, renderConfigDocs, renderHelp, type OptionKey } from "../../src/config.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const HOME = "/home/dev";
const H = 3_600_000;

const parse = (env: Record<string, string> = {}, argv: string[] = []) => parseConfig({ argv, env, home: HOME });

/** The ConfigError message parse throws (fails the test when it does not throw one). */
function errorOf(env: Record<string, string>, argv: string[] = []): string {
  try {
    parse(env, argv);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected a ConfigError for env ${JSON.stringify(env)} argv ${JSON.stringify(argv)}`);
}

describe("docs/config.md", () => {
  it("is what `npm run gen:docs` writes from the option table", () => {
    const onDisk = readFileSync(path.join(root, "docs/config.md"), "utf8");
    // gen:docs prints the rendered text plus a newline; only the number of trailing newlines may differ.
    const norm = (s: string) => s.replace(/\n*$/, "\n");
    expect(norm(onDisk), "docs/config.md is stale: run `npm run gen:docs` and commit the result").toBe(norm(renderConfigDocs()));
  });

  it("lists every option with its flag and env var, once, and marks secrets", () => {
    const docs = renderConfigDocs();
    const help = renderHelp();
    for (const spec of Object.values(OPTIONS)) {
      const row = docs.split("\n").filter((l) => l.startsWith(`| \`${spec.flag}\` | \`${spec.env}\` |`));
      expect(row, spec.flag).toHaveLength(1);
      expect(row[0]!.includes("secret"), spec.flag).toBe("secret" in spec && spec.secret === true);
      expect(help).toContain(spec.flag);
      expect(help).toContain(spec.env);
    }
    // A well-formed table: every row has as many cells as the header.
    const rows = docs.split("\n").filter((l) => l.startsWith("| "));
    const cells = (l: string) => l.replace(/\\\|/g, "").split("|").length;
    expect(rows.length).toBe(Object.keys(OPTIONS).length + 2);
    for (const r of rows) expect(cells(r), r).toBe(cells(rows[0]!));
  });
});

describe("parseConfig", () => {
  it("uses the documented defaults", () => {
    expect(parse()).toEqual({
      httpAddress: { host: "127.0.0.1", port: 3000 },
      accessUrl: "http://127.0.0.1:3000",
      dataDir: "/home/dev/.outpost",
      pgConnectionUrl: "",
      embeddedPgRoot: "/var/lib/outpost",
      logLevel: "info",
      sessionDurationMs: 24 * H,
      defaultTokenLifetimeMs: 720 * H,
      maxTokenLifetimeMs: 8760 * H,
      secureAuthCookie: false,
      loginRateLimitIp: 20,
      loginRateLimitAccount: 5,
      maxBodyBytes: 1_048_576,
      provisionerDaemons: 3,
      provisionerHeartbeatTimeoutMs: 120_000,
      dockerSocket: "/var/run/docker.sock",
      agentBinaryPath: expect.stringMatching(/\/packages\/agent\/dist\/outpost-agent-linux-amd64$/),
    });
  });

  it("reads every option from its environment variable", () => {
    const c = parse({
      OUTPOST_HTTP_ADDRESS: "0.0.0.0:8080",
      OUTPOST_ACCESS_URL: "https://outpost.example.com/",
      OUTPOST_DATA_DIR: "/srv/outpost",
      OUTPOST_PG_CONNECTION_URL: "postgres://u:p@db.internal:5432/outpost",
      OUTPOST_EMBEDDED_PG_ROOT: "/opt/pg",
      OUTPOST_LOG_LEVEL: "debug",
      OUTPOST_SESSION_DURATION: "1h30m",
      OUTPOST_DEFAULT_TOKEN_LIFETIME: "7d",
      OUTPOST_MAX_TOKEN_LIFETIME: "30d",
      OUTPOST_SECURE_AUTH_COOKIE: "yes",
      OUTPOST_LOGIN_RATE_LIMIT_IP: "100",
      OUTPOST_LOGIN_RATE_LIMIT_ACCOUNT: "3",
      OUTPOST_MAX_BODY_BYTES: "2048",
      OUTPOST_PROVISIONER_DAEMONS: "0",
      OUTPOST_PROVISIONER_HEARTBEAT_TIMEOUT: "30s",
      OUTPOST_DOCKER_SOCKET: "/run/user/1000/docker.sock",
      OUTPOST_AGENT_BINARY: "~/bin/agent",
    });
    expect(c).toEqual({
      httpAddress: { host: "0.0.0.0", port: 8080 },
      accessUrl: "https://outpost.example.com",
      dataDir: "/srv/outpost",
      pgConnectionUrl: "postgres://u:p@db.internal:5432/outpost",
      embeddedPgRoot: "/opt/pg",
      logLevel: "debug",
      sessionDurationMs: 1.5 * H,
      defaultTokenLifetimeMs: 7 * 24 * H,
      maxTokenLifetimeMs: 30 * 24 * H,
      secureAuthCookie: true,
      loginRateLimitIp: 100,
      loginRateLimitAccount: 3,
      maxBodyBytes: 2048,
      provisionerDaemons: 0,
      provisionerHeartbeatTimeoutMs: 30_000,
      dockerSocket: "/run/user/1000/docker.sock",
      agentBinaryPath: "/home/dev/bin/agent",
    });
  });

  it("lets a flag override its environment variable, in both --flag value and --flag=value forms", () => {
    const env = { OUTPOST_HTTP_ADDRESS: "127.0.0.1:4000", OUTPOST_LOG_LEVEL: "warn", OUTPOST_SESSION_DURATION: "2h" };
    const c = parse(env, ["--http-address", "127.0.0.1:5000", "--log-level=error", "--session-duration=45m"]);
    expect(c.httpAddress).toEqual({ host: "127.0.0.1", port: 5000 });
    expect(c.logLevel).toBe("error");
    expect(c.sessionDurationMs).toBe(45 * 60_000);
    // Unset flags leave the env value in place; the access URL follows the final address.
    expect(parse(env, ["--log-level", "debug"]).httpAddress.port).toBe(4000);
    expect(c.accessUrl).toBe("http://127.0.0.1:5000");
    // The last occurrence of a flag wins; a value may itself contain "=".
    expect(parse({}, ["--log-level=warn", "--log-level=trace"]).logLevel).toBe("trace");
    expect(parse({}, ["--pg-connection-url=postgres://u:p@h/db?sslmode=require"]).pgConnectionUrl).toBe("postgres://u:p@h/db?sslmode=require");
  });

  it("treats a bare boolean flag as true and accepts an explicit value", () => {
    expect(parse({}, ["--secure-auth-cookie"]).secureAuthCookie).toBe(true);
    expect(parse({}, ["--secure-auth-cookie", "--log-level", "warn"])).toMatchObject({ secureAuthCookie: true, logLevel: "warn" });
    expect(parse({ OUTPOST_SECURE_AUTH_COOKIE: "true" }, ["--secure-auth-cookie=false"]).secureAuthCookie).toBe(false);
    expect(parse({}, ["--secure-auth-cookie", "0"]).secureAuthCookie).toBe(false);
    // An https access URL always gets a Secure cookie.
    expect(parse({ OUTPOST_ACCESS_URL: "https://o.example.com" }).secureAuthCookie).toBe(true);
  });

  it("expands ~ and resolves paths; formats IPv6 addresses in the access URL", () => {
    expect(parse({ OUTPOST_DATA_DIR: "~" }).dataDir).toBe(HOME);
    expect(parse({ OUTPOST_DATA_DIR: "~/x/../state" }).dataDir).toBe("/home/dev/state");
    expect(parse({ OUTPOST_DATA_DIR: "rel/dir" }).dataDir).toBe(path.resolve("rel/dir"));
    const v6 = parse({ OUTPOST_HTTP_ADDRESS: "[::1]:3000" });
    expect(v6.httpAddress).toEqual({ host: "::1", port: 3000 });
    expect(v6.accessUrl).toBe("http://[::1]:3000");
    expect(parse({ OUTPOST_HTTP_ADDRESS: "127.0.0.1:0" }).httpAddress.port).toBe(0);
  });

  it("ignores variables that are not OUTPOST_* and accepts the CLI's own OUTPOST_* variables", () => {
    const clientEnv = Object.fromEntries(CLIENT_ENV.map((name) => [name, "x"]));
    expect(Object.keys(clientEnv)).toEqual(expect.arrayContaining(["OUTPOST_URL", "OUTPOST_SESSION_TOKEN"]));
    expect(parse({ ...clientEnv, HOME: "/root", PATH: "/bin", PGPORT: "1", outpost_lower: "x" })).toEqual(parse());
  });

  it("rejects an unknown OUTPOST_* variable, naming it and suggesting the closest option", () => {
    expect(errorOf({ OUTPOST_HTTP_ADDRES: "127.0.0.1:1" })).toBe("unknown option OUTPOST_HTTP_ADDRES (did you mean OUTPOST_HTTP_ADDRESS?)");
    expect(errorOf({ OUTPOST_LOGLEVEL: "info" })).toContain("did you mean OUTPOST_LOG_LEVEL?");
    const far = errorOf({ OUTPOST_TOTALLY_DIFFERENT_THING: "1" });
    expect(far).toContain("OUTPOST_TOTALLY_DIFFERENT_THING");
    expect(far).not.toContain("did you mean");
  });

  it("rejects an unknown flag, naming it and suggesting the closest option", () => {
    expect(errorOf({}, ["--http-adress", "127.0.0.1:1"])).toBe("unknown option --http-adress (did you mean --http-address?)");
    expect(errorOf({}, ["--log-levl=debug"])).toBe("unknown option --log-levl (did you mean --log-level?)");
    expect(errorOf({}, ["--frobnicate-everything"])).toBe("unknown option --frobnicate-everything");
    expect(errorOf({}, ["stray"])).toContain("stray");
  });

  it("rejects a flag with no value", () => {
    expect(errorOf({}, ["--http-address"])).toContain("--http-address");
    expect(errorOf({}, ["--log-level"])).toContain("needs a value");
  });

  const malformed: [OptionKey, string, string][] = [
    ["httpAddress", "localhost", "host:port"],
    ["httpAddress", "127.0.0.1:99999", "host:port"],
    ["httpAddress", "127.0.0.1:http", "host:port"],
    ["httpAddress", "", "host:port"],
    ["sessionDuration", "10", "duration"],
    ["sessionDuration", "5x", "duration"],
    ["sessionDuration", "0s", "duration"],
    ["sessionDuration", "1h 30m", "duration"],
    ["maxTokenLifetime", "", "duration"],
    ["loginRateLimitIp", "abc", "whole number"],
    ["loginRateLimitIp", "-1", "whole number"],
    ["loginRateLimitIp", "1.5", "whole number"],
    ["loginRateLimitIp", "0", "minimum 1"],
    ["maxBodyBytes", "1000", "minimum 1024"],
    ["secureAuthCookie", "maybe", "true or false"],
    ["logLevel", "verbose", "one of trace, debug, info, warn, error, silent"],
    ["logLevel", "INFO", "one of"],
    ["accessUrl", "not a url", "URL"],
    ["accessUrl", "ftp://files.example.com", "URL"],
    ["pgConnectionUrl", "db.internal:5432", "URL"],
  ];

  it.each(malformed)("rejects %s = %j naming the env var and the flag", (key, value, why) => {
    const { env, flag } = OPTIONS[key];
    for (const message of [errorOf({ [env]: value }), errorOf({}, [`${flag}=${value}`])]) {
      expect(message).toContain(env);
      expect(message).toContain(flag);
      expect(message).toContain(JSON.stringify(value));
      expect(message).toContain(why);
    }
  });

  it("validates the value in effect: a flag replaces its env value before validation", () => {
    // The env value is replaced before validation, so a valid flag rescues a bad env value.
    expect(parse({ OUTPOST_LOG_LEVEL: "verbose" }, ["--log-level", "info"]).logLevel).toBe("info");
    // ...and a bad flag value is reported even when the env value is good.
    expect(errorOf({ OUTPOST_LOG_LEVEL: "info" }, ["--log-level", "verbose"])).toContain("--log-level");
  });
});

describe("parseDuration", () => {
  it.each([
    ["250ms", 250],
    ["30s", 30_000],
    ["15m", 900_000],
    ["24h", 24 * H],
    ["7d", 7 * 24 * H],
    ["1h30m", 1.5 * H],
    ["1.5h", 1.5 * H],
    ["1d2h3m4s5ms", 93_784_005],
  ])("%s = %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "10", "h", "1w", "1h-30m", " 1h", "1h ", "1H", "1h30"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("URL kinds and integer bounds", () => {
  it("accepts only http(s) access URLs and postgres connection URLs", () => {
    expect(errorOf({ OUTPOST_ACCESS_URL: "postgres://db/x" })).toContain("OUTPOST_ACCESS_URL (--access-url): \"postgres://db/x\" must start with http:// or https://");
    expect(errorOf({ OUTPOST_PG_CONNECTION_URL: "http://db/x" })).toContain("OUTPOST_PG_CONNECTION_URL (--pg-connection-url): \"http://db/x\" must start with postgres:// or postgresql://");
    expect(parse({ OUTPOST_PG_CONNECTION_URL: "postgresql://u:p@127.0.0.1/db" }).pgConnectionUrl).toBe("postgresql://u:p@127.0.0.1/db");
  });

  it("rejects whole numbers above an option's maximum", () => {
    expect(errorOf({ OUTPOST_MAX_BODY_BYTES: "99999999999999999999" })).toContain("OUTPOST_MAX_BODY_BYTES (--max-body-bytes): \"99999999999999999999\" is above the maximum 1073741824");
  });
});

describe("duration bounds", () => {
  it("rejects durations beyond 50 years, which would overflow stored lifetimes", () => {
    expect(errorOf({ OUTPOST_SESSION_DURATION: "876000h" })).toContain("OUTPOST_SESSION_DURATION (--session-duration): \"876000h\" is longer than the maximum 438000h (50 years)");
    expect(parse({ OUTPOST_MAX_TOKEN_LIFETIME: "438000h" }).maxTokenLifetimeMs).toBe(438_000 * 3_600_000);
  });
});
