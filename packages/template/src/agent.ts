import { AGENT_NAME_PATTERN } from "@outpost/sdk/wire-names";
import { z } from "zod";

/** An app the agent serves, proxied by the server (see the apps issue). */
export const AppSchema = z.strictObject({
  slug: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/, "must be lowercase letters, digits and dashes"),
  displayName: z.string().max(64).optional(),
  icon: z.string().max(512).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  url: z.string().max(2048).optional(),
  command: z.string().max(4096).optional(),
  subdomain: z.boolean().optional(),
  share: z.enum(["owner", "authenticated", "public"]).optional(),
  healthcheck: z.strictObject({ url: z.string().max(2048), interval: z.number().int().min(1).max(3600), threshold: z.number().int().min(1).max(100) }).optional(),
});
export type App = z.input<typeof AppSchema>;

export const MetadataItemSchema = z.strictObject({
  key: z.string().regex(/^[a-z0-9_]{1,64}$/, "must be lowercase letters, digits and underscores"),
  displayName: z.string().max(64).optional(),
  script: z.string().max(4096),
  interval: z.number().int().min(1).max(86400),
  timeout: z.number().int().min(1).max(3600).optional(),
});
export type MetadataItem = z.input<typeof MetadataItemSchema>;

export const AgentSpecSchema = z.strictObject({
  name: z.string().regex(AGENT_NAME_PATTERN, "must be lowercase letters, digits and dashes"),
  os: z.enum(["linux"]),
  arch: z.enum(["amd64", "arm64"]),
  dir: z.string().max(1024).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"), z.string().max(65536)).optional(),
  startupScript: z.string().max(1_000_000).optional(),
  startupScriptBehavior: z.enum(["non-blocking", "blocking"]).optional(),
  /** Seconds before a still-running startup script puts the agent in start_timeout (it keeps running). */
  startupScriptTimeoutSeconds: z.number().int().min(0).max(86400).optional(),
  connectionTimeoutSeconds: z.number().int().min(0).max(3600).optional(),
  apps: z.array(AppSchema).max(64).optional(),
  metadata: z.array(MetadataItemSchema).max(64).optional(),
});
export type AgentSpec = z.output<typeof AgentSpecSchema>;

export interface AgentOptions extends Omit<z.input<typeof AgentSpecSchema>, "name" | "os" | "arch"> {
  /** Distinguishes agents when a workspace has more than one (`ssh WS.NAME`). Default "main". */
  name?: string;
  os?: "linux";
  arch?: "amd64" | "arm64";
}

/** Declares the workspace agent: the process inside the workspace that dials out to the server. */
export function agent(opts: AgentOptions = {}): AgentSpec {
  return { name: "main", os: "linux", arch: "amd64", ...opts } as AgentSpec;
}
