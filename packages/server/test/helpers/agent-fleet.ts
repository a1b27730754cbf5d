import { randomBytes } from "node:crypto";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import type { Workspace } from "@outpost/sdk/workspaces";
import { PARAMS_TEMPLATE, daemonClient, tarOf, userClient } from "./fleet.js";
import { setupOwner, type TestServer } from "./test-server.js";

export interface AgentFleet {
  s: TestServer;
  owner: FleetClient;
  ownerToken: string;
  daemon: FleetClient;
  daemonId: string;
}

export interface AgentDecl {
  name: string;
  token?: string;
  spec?: Record<string, unknown>;
}

export const newAgentToken = () => randomBytes(32).toString("base64url");

/** The owner, a provisioner daemon (the test plays it) and an imported template "dev". */
export async function agentFleet(s: TestServer): Promise<AgentFleet> {
  const ownerToken = await setupOwner(s);
  const owner = userClient(s, ownerToken);
  const daemon = daemonClient(s);
  const daemonId = (await daemon.registerDaemon({ name: "agents" })).id;
  const { hash } = await owner.uploadFile(tarOf({ "template.ts": "x" }));
  await owner.createTemplateVersion("dev", { file_hash: hash });
  const job = (await daemon.acquireJob(daemonId, 0))!;
  await daemon.completeJob(job.id, { import: { parameters: PARAMS_TEMPLATE, resources: [] } });
  return { s, owner, ownerToken, daemon, daemonId };
}

/** Completes the next queued build as the provisioner, reporting these agents (each with a fresh token unless given). */
export async function finishBuild(f: AgentFleet, agents: AgentDecl[]): Promise<Record<string, string>> {
  const job = (await f.daemon.acquireJob(f.daemonId, 0))!;
  const tokens: Record<string, string> = {};
  const reported = agents.map((a) => {
    const token = a.token ?? newAgentToken();
    tokens[a.name] = token;
    return { name: a.name, resource_address: `docker_container.${a.name}`, spec: { name: a.name, os: "linux", arch: "amd64", dir: "/home/dev", ...a.spec }, token };
  });
  await f.daemon.completeJob(job.id, { build: { state: [], agents: reported } });
  return tokens;
}

/** A running workspace of `client` (default: the owner) with these agents; returns it and each agent's token. */
export async function startWorkspace(f: AgentFleet, name: string, agents: AgentDecl[], client: FleetClient = f.owner): Promise<{ ws: Workspace; tokens: Record<string, string> }> {
  const created = await client.createWorkspace("me", { name, template: "dev" });
  const tokens = await finishBuild(f, agents);
  return { ws: await client.workspace(created.id), tokens };
}

export async function stopWorkspace(f: AgentFleet, id: string, client: FleetClient = f.owner): Promise<void> {
  await client.createBuild(id, { transition: "stop" });
  await finishBuild(f, []);
}

/** Polls `fn` until it returns a truthy value (or throws after `ms`). */
export async function eventually<T>(fn: () => Promise<T> | T, ms = 5000, what = "condition"): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
