import type { TemplateParameter } from "@outpost/sdk/templates";
import { describe, expect, it } from "vitest";
import { CliError } from "../../src/context.js";
import { describeConstraints, needsValue, parseParameterFlags, parseSimpleYaml, resolveParameters } from "../../src/parameters.js";
import { fakeContext } from "../helpers/fake-context.js";

const SPECS: TemplateParameter[] = [
  { name: "cpus", spec: { type: "number", default: 2, min: 1, max: 8, integer: true, mutable: true, description: "CPU cores" } },
  { name: "region", spec: { type: "select", required: true, options: [{ value: "eu", name: "Europe" }, { value: "us" }], description: "Where it runs" } },
  { name: "repo", spec: { type: "string", default: "" } },
  { name: "token", spec: { type: "string", required: true, regex: "^[a-z]+$", regexError: "lowercase letters only" } },
  { name: "gpu", spec: { type: "bool", default: false } },
  { name: "tags", spec: { type: "list", default: [], maxItems: 2 } },
];
const source = "template t version v1";

async function failure(p: Promise<unknown>): Promise<CliError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CliError);
  return err as CliError;
}

describe("--parameter flags", () => {
  it("split on the first '=' and reject what is not NAME=VALUE (exit 2)", () => {
    expect(parseParameterFlags(["cpus=4", "env=A=B", "empty=", "cpus=6"])).toEqual({ cpus: "6", env: "A=B", empty: "" });
    expect(() => parseParameterFlags(["cpus"])).toThrow('invalid --parameter "cpus"');
    expect(() => parseParameterFlags(["=4"])).toThrow(CliError);
    const err = (() => {
      try {
        parseParameterFlags(["CPUs=4"]);
      } catch (e) {
        return e as CliError;
      }
    })();
    expect(err?.exitCode).toBe(2);
    expect(err?.message).toContain('"CPUs" is not a parameter name');
  });
});

describe("parameter files (YAML subset)", () => {
  it("reads scalars, quotes, comments, inline and block lists", () => {
    const text = ["# my values", "cpus: 4", 'repo: "https://x/y.git#main"  # trailing comment', "region: 'eu'", "tags: [a, b]", "more:", "  - one", "  - 'two'", "gpu: true"].join("\n");
    expect(parseSimpleYaml(text)).toEqual({ cpus: "4", repo: "https://x/y.git#main", region: "eu", tags: ["a", "b"], more: ["one", "two"], gpu: "true" });
  });
  it("names the line of a malformed entry", () => {
    expect(() => parseSimpleYaml("cpus: 4\nthis is not yaml", "p.yaml")).toThrow('p.yaml:2: expected "name: value"');
  });
});

describe("describeConstraints", () => {
  it("says what a value must look like", () => {
    expect(describeConstraints(SPECS[0]!.spec)).toBe("whole number, 1 to 8");
    expect(describeConstraints(SPECS[1]!.spec)).toBe("one of eu, us");
    expect(describeConstraints({ type: "string", minLength: 2, regex: "^a" })).toBe("string, at least 2 characters, matching ^a");
    expect(describeConstraints(SPECS[5]!.spec)).toBe("comma-separated list, at most 2 items");
  });
});

describe("needsValue", () => {
  it("matches the server: only a required parameter or a number without a default has no fallback", () => {
    expect(needsValue({ type: "number" })).toBe(true);
    expect(needsValue({ type: "number", default: 1 })).toBe(false);
    expect(needsValue({ type: "string" })).toBe(false);
    expect(needsValue({ type: "string", required: true })).toBe(true);
    expect(needsValue({ type: "select", options: [{ value: "a" }] })).toBe(false);
    expect(needsValue({ type: "bool", required: true, default: true })).toBe(false);
  });
});

describe("resolveParameters", () => {
  it("checks and converts given values; unknown or invalid ones exit 2 naming the parameter", async () => {
    const ctx = fakeContext();
    const given = { cpus: "4", region: "us", token: "abc", gpu: "true", tags: "x,y" };
    expect(await resolveParameters(ctx, { specs: SPECS, given, mode: "create", source })).toEqual({ cpus: 4, region: "us", token: "abc", gpu: true, tags: ["x", "y"] });

    const unknown = await failure(resolveParameters(ctx, { specs: SPECS, given: { ...given, memory: "4" }, mode: "create", source }));
    expect(unknown.exitCode).toBe(2);
    expect(unknown.message).toBe('unknown parameter "memory"');
    expect(unknown.detail).toEqual(["template t version v1 has: cpus, region, repo, token, gpu, tags"]);

    const range = await failure(resolveParameters(ctx, { specs: SPECS, given: { ...given, cpus: "9" }, mode: "create", source }));
    expect(range.exitCode).toBe(2);
    expect(range.message).toBe('invalid value for parameter "cpus": must be at most 8');
    const fraction = await failure(resolveParameters(ctx, { specs: SPECS, given: { ...given, cpus: "1.5" }, mode: "create", source }));
    expect(fraction.message).toBe('invalid value for parameter "cpus": must be a whole number');
    const regex = await failure(resolveParameters(ctx, { specs: SPECS, given: { ...given, token: "ABC" }, mode: "create", source }));
    expect(regex.message).toBe('invalid value for parameter "token": lowercase letters only');
    const tooMany = await failure(resolveParameters(ctx, { specs: SPECS, given: { ...given, tags: "a,b,c" }, mode: "create", source }));
    expect(tooMany.message).toBe('invalid value for parameter "tags": must have at most 2 items');
    expect(ctx.asked).toEqual([]);
  });

  it("without a terminal, names every missing parameter (exit 2)", async () => {
    const err = await failure(resolveParameters(fakeContext(), { specs: SPECS, given: { cpus: "2" }, mode: "create", source }));
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe('missing parameters "region", "token"');
    expect(err.detail[0]).toBe("--parameter region=VALUE  (one of eu, us: Where it runs)");
  });

  it("in a terminal, asks for missing ones: options by number, again after a bad answer", async () => {
    const ctx = fakeContext({ interactive: true, answers: ["2", "", "Nope", "fine"] });
    const out = await resolveParameters(ctx, { specs: SPECS, given: {}, mode: "create", source });
    expect(out).toEqual({ region: "us", token: "fine" });
    expect(ctx.asked).toEqual(["region", "token", "token", "token"]);
    expect(ctx.stderr).toContain("  1) Europe (eu)");
    expect(ctx.stderr).toContain("  a value is required");
    expect(ctx.stderr).toContain("  lowercase letters only");
  });

  it("gives up after three bad answers (exit 2)", async () => {
    const ctx = fakeContext({ interactive: true, answers: ["asia", "3", "mars"] });
    const err = await failure(resolveParameters(ctx, { specs: SPECS.slice(0, 2), given: {}, mode: "create", source }));
    expect(err.message).toBe('no valid value for parameter "region"');
    expect(err.exitCode).toBe(2);
  });

  it("update asks only for parameters the workspace does not have yet", async () => {
    const previous = { cpus: 2, region: "eu", repo: "" };
    const ctx = fakeContext({ interactive: true, answers: ["secret"] });
    expect(await resolveParameters(ctx, { specs: SPECS, given: {}, previous, mode: "update", source })).toEqual({ token: "secret" });
    expect(ctx.asked).toEqual(["token"]);
    const batch = await failure(resolveParameters(fakeContext(), { specs: SPECS, given: {}, previous, mode: "update", source }));
    expect(batch.message).toBe('missing parameter "token"');
  });

  it("refuses to change an immutable parameter, allows mutable ones", async () => {
    const previous = { cpus: 2, region: "eu", token: "abc" };
    const ctx = fakeContext();
    expect(await resolveParameters(ctx, { specs: SPECS, given: { cpus: "6", region: "eu" }, previous, mode: "build", source })).toEqual({ cpus: 6, region: "eu" });
    const err = await failure(resolveParameters(ctx, { specs: SPECS, given: { region: "us" }, previous, mode: "build", source }));
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe('parameter "region" cannot be changed after the workspace was created');
  });
});
