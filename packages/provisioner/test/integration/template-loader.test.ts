import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTemplate, TemplateLoadError } from "../../src/template-loader.js";

const dirs: string[] = [];
async function templateDir(source: string, extra: Record<string, string> = {}): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-tpl-test-"));
  dirs.push(dir);
  await fs.writeFile(path.join(dir, "template.ts"), source);
  for (const [name, text] of Object.entries(extra)) await fs.writeFile(path.join(dir, name), text);
  return dir;
}
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

const context = {
  workspace: { id: "ws-1", name: "dev", transition: "start" as const, accessUrl: "http://127.0.0.1:3000" },
  owner: { id: "u1", username: "alice", email: "a@example.com", name: "" },
  params: { cpus: 3 },
};

const GOOD = `import { defineTemplate, param, docker, agent } from "@outpost/template";
import { homeTarget } from "./paths";
export default defineTemplate({
  parameters: { cpus: param.number({ default: 2, min: 1, max: 8 }) },
  build({ workspace, params }) {
    console.log("building for", workspace.name);
    const home = docker.volume({ name: "outpost-" + workspace.id + "-home" });
    return [home, workspace.transition === "start" && docker.container({ image: "outpost/base", cpus: params.cpus, agent: agent(), mounts: [{ source: home, target: homeTarget }] })];
  },
});
`;

describe("loadTemplate", () => {
  it("type-checks, bundles local imports, runs the template in a child process and returns parameters and resources", async () => {
    const dir = await templateDir(GOOD, { "paths.ts": `export const homeTarget = "/home/dev";\n` });
    const logs: string[] = [];
    const out = await loadTemplate({ dir, typecheck: true, onLog: (_l, line) => logs.push(line) }, { mode: "build", context });
    expect(out.parameters).toEqual({ cpus: { type: "number", default: 2, min: 1, max: 8 } });
    expect(out.resources).toHaveLength(2);
    expect(out.resources[1]).toMatchObject({ type: "docker_container", cpus: 3, mounts: [{ volume: "outpost-ws-1-home", target: "/home/dev" }] });
    expect(logs).toContain("building for dev");
  });

  it("fails a wrong field type at type-check time naming file, line and field", async () => {
    const dir = await templateDir(`import { defineTemplate, docker } from "@outpost/template";
export default defineTemplate({
  build() {
    return [docker.container({ image: "x", cpus: "four" })];
  },
});
`);
    const err = await loadTemplate({ dir, typecheck: true }, { mode: "import" }).catch((e) => e);
    expect(err).toBeInstanceOf(TemplateLoadError);
    expect(err.location).toMatch(/^template\.ts:4:\d+$/);
    expect(err.message).toMatch(/string.*not assignable to type 'number'/);
  });

  it("names the missing module and where it is imported", async () => {
    const dir = await templateDir(`import { defineTemplate } from "@outpost/template";\nimport leftPad from "left-pad-not-installed";\nexport default defineTemplate({ build: () => [leftPad()] });\n`);
    const err = await loadTemplate({ dir }, { mode: "import" }).catch((e) => e);
    expect(err).toBeInstanceOf(TemplateLoadError);
    expect(err.message).toContain('Could not resolve "left-pad-not-installed"');
    expect(err.location).toBe("template.ts:2:21");
  });

  it("reports a template that throws with the line it threw on", async () => {
    const dir = await templateDir(`import { defineTemplate } from "@outpost/template";
export default defineTemplate({
  build() {
    throw new Error("no such region");
  },
});
`);
    const err = await loadTemplate({ dir }, { mode: "build", context }).catch((e) => e);
    expect(err.message).toContain("template threw: no such region");
    expect(err.location).toMatch(/^template\.ts:4:\d+$/);
  });

  it("kills a template that loops forever", async () => {
    const dir = await templateDir(`import { defineTemplate } from "@outpost/template";\nexport default defineTemplate({ build() { for (;;) {} } });\n`);
    const started = Date.now();
    const err = await loadTemplate({ dir, timeoutMs: 1500 }, { mode: "build", context }).catch((e) => e);
    expect(err.message).toContain("did not finish within 2 s");
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("rejects invalid resources naming the field, and a missing default export", async () => {
    const dir = await templateDir(`import { defineTemplate } from "@outpost/template";\nexport default defineTemplate({ build: () => [{ type: "docker_volume", name: "bad name!" } as any] });\n`);
    const err = await loadTemplate({ dir }, { mode: "build", context }).catch((e) => e);
    expect(err.field).toBe("resources[0].name");
    const noDefault = await templateDir(`export const x = 1;\n`);
    await expect(loadTemplate({ dir: noDefault }, { mode: "import" })).rejects.toThrow("must `export default defineTemplate");
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-tpl-test-"));
    dirs.push(empty);
    await expect(loadTemplate({ dir: empty }, { mode: "import" })).rejects.toThrow("no template.ts in the template folder");
  });
});
