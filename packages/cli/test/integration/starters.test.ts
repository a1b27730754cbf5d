// The starter templates in examples/templates type-check and load with the real template loader
// (the code an import job runs), declare the parameters their READMEs document, and return the
// resources each transition should have.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadTemplate } from "../../../provisioner/src/template-loader.js";
import { ROOT } from "../helpers/run-cli.js";

const dir = (name: string) => path.join(ROOT, "examples/templates", name);
const WS_ID = "0b7c1f4e-0000-4000-8000-0000000000aa";
const context = (transition: "start" | "stop" | "delete", params: Record<string, unknown>) => ({
  workspace: { id: WS_ID, name: "dev", transition, accessUrl: "http://127.0.0.1:3000" },
  owner: { id: "u1", username: "alice", email: "alice@example.com", name: "Alice" },
  params,
});
const addresses = (resources: unknown[]) => resources.map((r) => `${(r as { type: string }).type}.${(r as { name: string }).name}`);

describe("starter templates", () => {
  it("docker: cpus, memory_mb, dotfiles_uri; the home volume outlives stop, the container does not", async () => {
    const imported = await loadTemplate({ dir: dir("docker"), typecheck: true }, { mode: "import" });
    expect(Object.keys(imported.parameters)).toEqual(["cpus", "memory_mb", "dotfiles_uri"]);
    expect(imported.parameters.cpus).toMatchObject({ type: "number", default: 2, min: 1, max: 8, mutable: true });
    expect(imported.parameters.memory_mb).toMatchObject({ type: "number", default: 4096 });
    expect(imported.parameters.dotfiles_uri).toMatchObject({ type: "string", default: "" });

    const params = { cpus: 4, memory_mb: 2048, dotfiles_uri: "https://example.com/me/dotfiles.git" };
    const start = await loadTemplate({ dir: dir("docker") }, { mode: "build", context: context("start", params) });
    expect(addresses(start.resources)).toEqual([`docker_volume.outpost-${WS_ID}-home`, "docker_container.main"]);
    expect(start.resources[1]).toMatchObject({
      image: "outpost/base",
      cpus: 4,
      memoryMb: 2048,
      mounts: [{ volume: `outpost-${WS_ID}-home`, target: "/home/dev" }],
      agent: { name: "main", dir: "/home/dev", env: { GIT_AUTHOR_EMAIL: "alice@example.com" } },
    });
    expect((start.resources[1] as { agent: { startupScript: string } }).agent.startupScript).toContain("outpost dotfiles 'https://example.com/me/dotfiles.git'");

    const stop = await loadTemplate({ dir: dir("docker") }, { mode: "build", context: context("stop", params) });
    expect(addresses(stop.resources)).toEqual([`docker_volume.outpost-${WS_ID}-home`]);
    const del = await loadTemplate({ dir: dir("docker") }, { mode: "build", context: context("delete", params) });
    expect(del.resources).toEqual([]);
  });

  it("docker-dockerfile: the container's image is built from the folder's Dockerfile", async () => {
    const imported = await loadTemplate({ dir: dir("docker-dockerfile"), typecheck: true }, { mode: "import" });
    expect(Object.keys(imported.parameters)).toEqual(["cpus", "memory_mb"]);
    const start = await loadTemplate({ dir: dir("docker-dockerfile") }, { mode: "build", context: context("start", { cpus: 2, memory_mb: 4096 }) });
    expect(addresses(start.resources)).toEqual([`docker_volume.outpost-${WS_ID}-home`, "docker_image.workspace", "docker_container.main"]);
    expect(start.resources[1]).toMatchObject({ dockerfile: "Dockerfile", context: "." });
    expect(start.resources[2]).toMatchObject({ image: { build: "workspace" } });
    const stop = await loadTemplate({ dir: dir("docker-dockerfile") }, { mode: "build", context: context("stop", { cpus: 2, memory_mb: 4096 }) });
    expect(addresses(stop.resources)).toEqual([`docker_volume.outpost-${WS_ID}-home`, "docker_image.workspace"]);
  });

  it("local: a process agent and no Docker resource", async () => {
    const imported = await loadTemplate({ dir: dir("local"), typecheck: true }, { mode: "import" });
    expect(imported.parameters).toEqual({ repo: expect.objectContaining({ type: "string", default: "" }) });
    const start = await loadTemplate({ dir: dir("local") }, { mode: "build", context: context("start", { repo: "" }) });
    expect(start.resources).toEqual([expect.objectContaining({ type: "process_agent", name: "main", agent: expect.objectContaining({ name: "main", os: "linux" }) })]);
    const stop = await loadTemplate({ dir: dir("local") }, { mode: "build", context: context("stop", { repo: "" }) });
    expect(stop.resources).toEqual([]);
  });
});
