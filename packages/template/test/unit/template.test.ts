import { describe, expect, it } from "vitest";
import { agent, defineTemplate, docker, evaluateTemplate, extractParameters, isTemplate, param, TemplateError } from "../../src/template.js";
import { coerceParamValue } from "../../src/params.js";

const ctx = (transition: "start" | "stop" | "delete", params: Record<string, unknown> = {}) => ({
  workspace: { id: "0b7c1f4e-0000-4000-8000-000000000001", name: "dev", transition, accessUrl: "http://127.0.0.1:3000" },
  owner: { id: "u1", username: "alice", email: "alice@example.com", name: "Alice" },
  params,
});

const starter = defineTemplate({
  parameters: {
    cpus: param.number({ default: 2, min: 1, max: 8, mutable: true, description: "CPU cores" }),
    repo: param.string({ default: "" }),
  },
  build({ workspace, params }) {
    const home = docker.volume({ name: `outpost-${workspace.id}-home` });
    const main = agent({ dir: "/home/dev", startupScript: params.repo ? `git clone ${params.repo}` : "" });
    return [
      home,
      workspace.transition === "start" &&
        docker.container({ image: "outpost/base", agent: main, cpus: params.cpus, mounts: [{ source: home, target: "/home/dev" }], dailyCost: 10 }),
    ];
  },
});

describe("defineTemplate / evaluateTemplate", () => {
  it("marks templates and extracts parameters", () => {
    expect(isTemplate(starter)).toBe(true);
    expect(isTemplate({ build: () => [] })).toBe(false);
    const params = extractParameters(starter);
    expect(params.cpus).toMatchObject({ type: "number", default: 2, min: 1, max: 8, mutable: true });
  });

  it("keeps the volume and drops the container on stop", async () => {
    const start = await evaluateTemplate(starter, ctx("start", { cpus: 4, repo: "" }));
    expect(start.map((r) => `${r.type}.${r.name}`)).toEqual(["docker_volume.outpost-0b7c1f4e-0000-4000-8000-000000000001-home", "docker_container.main"]);
    const container = start[1]!;
    expect(container).toMatchObject({ cpus: 4, image: "outpost/base", mounts: [{ volume: "outpost-0b7c1f4e-0000-4000-8000-000000000001-home", target: "/home/dev" }] });
    const stop = await evaluateTemplate(starter, ctx("stop", { cpus: 4, repo: "" }));
    expect(stop.map((r) => r.type)).toEqual(["docker_volume"]);
  });

  it("names the field of an invalid resource", async () => {
    const bad = defineTemplate({ build: () => [docker.container({ image: "x", mounts: [{ source: { hostPath: "/tmp" }, target: "relative/path" }] })] });
    await expect(evaluateTemplate(bad, ctx("start"))).rejects.toThrow(new TemplateError("must be an absolute path", "resources[0].mounts[0].target"));
    const unknownField = defineTemplate({ build: () => [{ ...docker.volume({ name: "v" }), sizeGb: 3 } as never] });
    await expect(evaluateTemplate(unknownField, ctx("start"))).rejects.toThrow(/resources\[0\]/);
    const notArray = defineTemplate({ build: () => "nope" as never });
    await expect(evaluateTemplate(notArray, ctx("start"))).rejects.toThrow("build() must return an array");
  });

  it("rejects dangling references and duplicate addresses", async () => {
    const dangling = defineTemplate({ build: () => [docker.container({ image: docker.image({ name: "img" }) })] });
    await expect(evaluateTemplate(dangling, ctx("start"))).rejects.toThrow("docker_image.img, which build() did not return");
    const dup = defineTemplate({ build: () => [docker.volume({ name: "a" }), docker.volume({ name: "a" })] });
    await expect(evaluateTemplate(dup, ctx("start"))).rejects.toThrow("two resources share the address docker_volume.a");
  });

  it("rejects bad parameter specs naming the parameter", () => {
    expect(() => extractParameters(defineTemplate({ parameters: { "Bad-Name": param.string() }, build: () => [] }))).toThrow("parameters.Bad-Name");
    expect(() => extractParameters(defineTemplate({ parameters: { n: param.number({ default: 10, max: 5 }) }, build: () => [] }))).toThrow("parameters.n.default: default must be at most 5");
    expect(() => extractParameters(defineTemplate({ parameters: { s: param.string({ regex: "(" }) }, build: () => [] }))).toThrow("parameters.s.regex");
  });
});

describe("coerceParamValue", () => {
  it("coerces CLI strings and enforces validation", () => {
    expect(coerceParamValue(param.number({ min: 1, max: 8 }), "4")).toEqual({ ok: true, value: 4 });
    expect(coerceParamValue(param.number({ min: 1, max: 8 }), "9")).toEqual({ ok: false, reason: "must be at most 8" });
    expect(coerceParamValue(param.number(), "four")).toEqual({ ok: false, reason: "must be a number" });
    expect(coerceParamValue(param.bool(), "true")).toEqual({ ok: true, value: true });
    expect(coerceParamValue(param.bool(), "yes")).toEqual({ ok: false, reason: "must be true or false" });
    expect(coerceParamValue(param.list(), "a, b")).toEqual({ ok: true, value: ["a", "b"] });
    expect(coerceParamValue(param.list(), '["x"]')).toEqual({ ok: true, value: ["x"] });
    expect(coerceParamValue(param.select({ options: [{ value: "small" }, { value: "large" }] }), "medium")).toEqual({ ok: false, reason: "must be one of small, large" });
    expect(coerceParamValue(param.string({ regex: "^[a-z]+$", regexError: "lowercase only" }), "ABC")).toEqual({ ok: false, reason: "lowercase only" });
  });
});
