import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FleetClient } from "@outpost/sdk/client-fleet";
import type { TestServer } from "./test-server.js";

/** A real tar archive of a folder holding the given files (what `templates push` uploads). */
export function tarOf(files: Record<string, string>): Uint8Array {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-tar-"));
  try {
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
    return new Uint8Array(execFileSync("tar", ["-c", "-C", dir, "."]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function userClient(s: TestServer, token: string): FleetClient {
  return new FleetClient({ url: s.url, token });
}

/** A client with the server's built-in provisioner key: plays the daemon in tests of the server side. */
export function daemonClient(s: TestServer): FleetClient {
  return new FleetClient({ url: s.url, provisionerKey: s.deps.builtinProvisionerKey });
}

export const PARAMS_TEMPLATE: Record<string, unknown>[] = [
  { name: "cpus", spec: { type: "number", default: 2, min: 1, max: 8, mutable: true } },
  { name: "region", spec: { type: "select", options: [{ value: "eu" }, { value: "us" }], default: "eu" } },
  { name: "fresh", spec: { type: "bool", ephemeral: true, default: false } },
];
