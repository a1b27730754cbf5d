import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

/**
 * The one option table. It drives parsing (env and flags), `outpost server --help` and docs/config.md.
 * This is the only file in the server that reads process.env.
 */
type OptionType = "string" | "address" | "http-url" | "postgres-url" | "duration" | "int" | "bool" | "enum" | "path";

interface OptionSpec {
  env: string;
  flag: string;
  type: OptionType;
  default: string;
  description: string;
  secret?: boolean;
  values?: readonly string[];
  min?: number;
  max?: number;
}

export const OPTIONS = {
  httpAddress: { env: "OUTPOST_HTTP_ADDRESS", flag: "--http-address", type: "address", default: "127.0.0.1:3000", description: "Address (host:port) the HTTP API and dashboard listen on. Port 0 picks a free port." },
  accessUrl: { env: "OUTPOST_ACCESS_URL", flag: "--access-url", type: "http-url", default: "", description: "External URL users and agents reach the server at. Defaults to http://HTTP_ADDRESS." },
  dataDir: { env: "OUTPOST_DATA_DIR", flag: "--data-dir", type: "path", default: "~/.outpost", description: "Directory for server state: the embedded PostgreSQL cluster, workspaces of the process driver." },
  pgConnectionUrl: { env: "OUTPOST_PG_CONNECTION_URL", flag: "--pg-connection-url", type: "postgres-url", default: "", description: "URL of an external PostgreSQL (postgres://user:pass@host/db). Empty runs an embedded PostgreSQL in the data directory.", secret: true },
  embeddedPgRoot: { env: "OUTPOST_EMBEDDED_PG_ROOT", flag: "--embedded-pg-root", type: "path", default: "", description: "Where the embedded PostgreSQL cluster and binaries live when the data directory is not reachable by the postgres user (running as root). Empty: /var/lib/outpost." },
  logLevel: { env: "OUTPOST_LOG_LEVEL", flag: "--log-level", type: "enum", values: ["trace", "debug", "info", "warn", "error", "silent"], default: "info", description: "Minimum level of the JSON log written to stderr." },
  sessionDuration: { env: "OUTPOST_SESSION_DURATION", flag: "--session-duration", type: "duration", default: "24h", description: "Lifetime of a browser or CLI login session." },
  defaultTokenLifetime: { env: "OUTPOST_DEFAULT_TOKEN_LIFETIME", flag: "--default-token-lifetime", type: "duration", default: "720h", description: "Lifetime of an API token created without an explicit lifetime." },
  maxTokenLifetime: { env: "OUTPOST_MAX_TOKEN_LIFETIME", flag: "--max-token-lifetime", type: "duration", default: "8760h", description: "Longest lifetime a user may request for an API token." },
  secureAuthCookie: { env: "OUTPOST_SECURE_AUTH_COOKIE", flag: "--secure-auth-cookie", type: "bool", default: "false", description: "Mark the session cookie Secure (set when the access URL is https)." },
  loginRateLimitIp: { env: "OUTPOST_LOGIN_RATE_LIMIT_IP", flag: "--login-rate-limit-ip", type: "int", min: 1, max: 1_000_000, default: "20", description: "Login attempts allowed per client IP per minute." },
  loginRateLimitAccount: { env: "OUTPOST_LOGIN_RATE_LIMIT_ACCOUNT", flag: "--login-rate-limit-account", type: "int", min: 1, max: 1_000_000, default: "5", description: "Failed login attempts allowed per account per 15 minutes." },
  provisionerDaemons: { env: "OUTPOST_PROVISIONER_DAEMONS", flag: "--provisioner-daemons", type: "int", min: 0, max: 64, default: "3", description: "Provisioner daemons the server runs itself (0: only external `outpost provisionerd` daemons build workspaces)." },
  provisionerHeartbeatTimeout: { env: "OUTPOST_PROVISIONER_HEARTBEAT_TIMEOUT", flag: "--provisioner-heartbeat-timeout", type: "duration", default: "2m", description: "A running job whose daemon has not heartbeated for this long is failed, so the workspace can be built again." },
  dockerSocket: { env: "OUTPOST_DOCKER_SOCKET", flag: "--docker-socket", type: "path", default: "/var/run/docker.sock", description: "Docker Engine socket the built-in daemons use for docker templates." },
  agentBinary: { env: "OUTPOST_AGENT_BINARY", flag: "--agent-binary", type: "path", default: "", description: "The workspace agent executable served at /bin/outpost-agent-linux-amd64 (build it with `node scripts/build-agent.mjs`). Empty: packages/agent/dist/outpost-agent-linux-amd64 of this installation." },
  maxBodyBytes: { env: "OUTPOST_MAX_BODY_BYTES", flag: "--max-body-bytes", type: "int", min: 1024, max: 1_073_741_824, default: "1048576", description: "Largest JSON request body accepted (bytes); larger bodies answer 413." },
} as const satisfies Record<string, OptionSpec>;

export type OptionKey = keyof typeof OPTIONS;

export interface ServerConfig {
  httpAddress: { host: string; port: number };
  accessUrl: string;
  dataDir: string;
  pgConnectionUrl: string;
  embeddedPgRoot: string;
  logLevel: "trace" | "debug" | "info" | "warn" | "error" | "silent";
  sessionDurationMs: number;
  defaultTokenLifetimeMs: number;
  maxTokenLifetimeMs: number;
  secureAuthCookie: boolean;
  loginRateLimitIp: number;
  loginRateLimitAccount: number;
  maxBodyBytes: number;
  provisionerDaemons: number;
  provisionerHeartbeatTimeoutMs: number;
  dockerSocket: string;
  /** Absolute path of the agent executable (the default resolved from this installation). */
  agentBinaryPath: string;
}

/** Environment variables read by the CLI, not the server; the server accepts them without complaint. */
export const CLIENT_ENV = ["OUTPOST_URL", "OUTPOST_SESSION_TOKEN", "OUTPOST_CONFIG_DIR", "OUTPOST_NO_COLOR"] as const;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const MAX_DURATION_MS = 438_000 * 3_600_000;
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    matched += m[0].length;
  }
  return matched === text.length && text.length > 0 ? Math.round(total) : undefined;
}

function parseValue(key: OptionKey, raw: string, home: string): unknown {
  const spec: OptionSpec = OPTIONS[key];
  const bad = (why: string) => new ConfigError(`invalid value for ${spec.env} (${spec.flag}): ${JSON.stringify(raw)} ${why}`);
  switch (spec.type) {
    case "string":
      return raw;
    case "path":
      if (raw === "") return "";
      return path.resolve(raw === "~" || raw.startsWith("~/") ? path.join(home, raw.slice(1)) : raw);
    case "address": {
      const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(raw);
      const port = m ? Number(m[2]) : NaN;
      if (!m || port > 65535) throw bad("is not host:port, e.g. 127.0.0.1:3000");
      return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
    }
    case "http-url":
    case "postgres-url": {
      if (raw === "") return "";
      const schemes = spec.type === "http-url" ? ["http:", "https:"] : ["postgres:", "postgresql:"];
      let protocol = "";
      try {
        protocol = new URL(raw).protocol;
      } catch {
        throw bad(`is not a URL`);
      }
      if (!schemes.includes(protocol)) throw bad(`must start with ${schemes.map((x) => `${x}//`).join(" or ")}`);
      return raw.replace(/\/+$/, "");
    }
    case "duration": {
      const ms = parseDuration(raw);
      if (ms === undefined || ms <= 0) throw bad("is not a duration such as 30m, 24h or 7d");
      // Lifetimes are stored in seconds as 32-bit integers: keep every duration well inside that.
      if (ms > MAX_DURATION_MS) throw bad(`is longer than the maximum ${MAX_DURATION_MS / 3_600_000}h (50 years)`);
      return ms;
    }
    case "int": {
      if (!/^\d+$/.test(raw)) throw bad("is not a whole number");
      const n = Number(raw);
      if (spec.min !== undefined && n < spec.min) throw bad(`is below the minimum ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw bad(`is above the maximum ${spec.max}`);
      return n;
    }
    case "bool":
      if (/^(true|1|yes)$/i.test(raw)) return true;
      if (/^(false|0|no)$/i.test(raw)) return false;
      throw bad("is not true or false");
    case "enum":
      if (!spec.values!.includes(raw)) throw bad(`is not one of ${spec.values!.join(", ")}`);
      return raw;
  }
}

function suggest(name: string, candidates: string[]): string {
  const close = candidates.find((c) => levenshtein(c, name) <= 3);
  return close ? ` (did you mean ${close}?)` : "";
}

function levenshtein(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

export interface ParseInput {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  home: string;
}

/** Resolves every option from flags (highest), env, then default; throws ConfigError naming the option. */
/**
 * The config once the server listens: with port 0 (a port picked at listen time) and no explicit access
 * URL, agents and links need the real port, so the derived access URL gets it.
 */
export function withListeningPort(config: ServerConfig, port: number): ServerConfig {
  if (new URL(config.accessUrl).port !== "0") return config;
  const url = new URL(config.accessUrl);
  url.port = String(port);
  return { ...config, accessUrl: url.origin };
}

export function parseConfig({ argv, env, home }: ParseInput): ServerConfig {
  const keys = Object.keys(OPTIONS) as OptionKey[];
  const raw = new Map<OptionKey, string>();
  const envNames = keys.map((k) => OPTIONS[k].env as string);
  for (const name of Object.keys(env)) {
    if (!name.startsWith("OUTPOST_") || envNames.includes(name) || (CLIENT_ENV as readonly string[]).includes(name)) continue;
    throw new ConfigError(`unknown option ${name}${suggest(name, envNames)}`);
  }
  for (const k of keys) {
    const v = env[OPTIONS[k].env];
    if (v !== undefined) raw.set(k, v);
  }
  const flags = keys.map((k) => OPTIONS[k].flag as string);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const key = keys.find((k) => OPTIONS[k].flag === name);
    if (!key) throw new ConfigError(`unknown option ${name}${suggest(name, flags)}`);
    let value: string | undefined;
    if (eq > 0) value = arg.slice(eq + 1);
    else if (OPTIONS[key].type === "bool" && (argv[i + 1] === undefined || argv[i + 1]!.startsWith("--"))) value = "true";
    else value = argv[++i];
    if (value === undefined) throw new ConfigError(`option ${name} needs a value`);
    raw.set(key, value);
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = parseValue(k, raw.get(k) ?? OPTIONS[k].default, home);
  const address = out.httpAddress as { host: string; port: number };
  const hostForUrl = address.host.includes(":") ? `[${address.host}]` : address.host;
  return {
    httpAddress: address,
    accessUrl: (out.accessUrl as string) || `http://${hostForUrl}:${address.port}`,
    dataDir: out.dataDir as string,
    pgConnectionUrl: out.pgConnectionUrl as string,
    embeddedPgRoot: (out.embeddedPgRoot as string) || "/var/lib/outpost",
    logLevel: out.logLevel as ServerConfig["logLevel"],
    sessionDurationMs: out.sessionDuration as number,
    defaultTokenLifetimeMs: out.defaultTokenLifetime as number,
    maxTokenLifetimeMs: out.maxTokenLifetime as number,
    secureAuthCookie: (out.secureAuthCookie as boolean) || (out.accessUrl as string).startsWith("https:"),
    loginRateLimitIp: out.loginRateLimitIp as number,
    loginRateLimitAccount: out.loginRateLimitAccount as number,
    maxBodyBytes: out.maxBodyBytes as number,
    provisionerDaemons: out.provisionerDaemons as number,
    provisionerHeartbeatTimeoutMs: out.provisionerHeartbeatTimeout as number,
    dockerSocket: out.dockerSocket as string,
    agentBinaryPath: (out.agentBinary as string) || defaultAgentBinaryPath(),
  };
}

/** Where `node scripts/build-agent.mjs` puts the agent, next to this installation's server package. */
export function defaultAgentBinaryPath(): string {
  const require = createRequire(import.meta.url);
  const serverDir = path.dirname(require.resolve("@outpost/server/package.json"));
  return path.join(serverDir, "..", "agent", "dist", "outpost-agent-linux-amd64");
}

/** Reads this process's environment; the server's entry point calls it once and passes the result down. */
export function loadConfig(argv: readonly string[]): ServerConfig {
  return parseConfig({ argv, env: process.env, home: os.homedir() });
}

export function renderHelp(): string {
  const lines = ["Usage: outpost server [options]", "", "Options (flag, environment variable, default):", ""];
  for (const spec of Object.values(OPTIONS) as OptionSpec[]) {
    const def = spec.secret ? "(secret)" : spec.default === "" ? "(empty)" : spec.default;
    lines.push(`  ${spec.flag} <${spec.type}>`, `      ${spec.env}, default ${def}`, `      ${spec.description}`, "");
  }
  return lines.join("\n");
}

export function renderConfigDocs(): string {
  const rows = (Object.values(OPTIONS) as OptionSpec[]).map((s) => {
    const def = s.default === "" ? "" : `\`${s.default}\``;
    const type = s.type === "enum" ? s.values!.join(" \\| ") : s.type;
    return `| \`${s.flag}\` | \`${s.env}\` | ${type} | ${def} | ${s.description}${s.secret ? " *(secret: never logged)*" : ""} |`;
  });
  return [
    "# Server configuration",
    "",
    "<!-- Generated from packages/server/src/config.ts by `npm run gen:docs`; a test fails when this file is stale. -->",
    "",
    "`outpost server` reads each option from its flag, else its environment variable, else the default.",
    "An unknown `OUTPOST_*` variable or flag, or a malformed value, stops the server with a message naming the option.",
    "",
    "| flag | environment | type | default | description |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
    "Durations are written like `30m`, `24h`, `7d` or `1h30m`.",
  ].join("\n");
}
