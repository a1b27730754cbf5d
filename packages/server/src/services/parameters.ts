import { coerceParamValue } from "@outpost/sdk/parameters";
import type { TemplateParameter } from "@outpost/sdk/templates";
import { ApiError } from "../errors.js";

export interface ParameterValue {
  name: string;
  value: unknown;
}

function zeroValue(spec: TemplateParameter["spec"]): unknown {
  switch (spec.type) {
    case "string":
      return "";
    case "bool":
      return false;
    case "list":
      return [];
    case "select":
      return spec.options[0]!.value;
    case "number":
      return undefined;
  }
}

/**
 * Resolves the values for a build: given values (validated), else the previous build's (for
 * non-ephemeral parameters), else the default. Immutable parameters cannot change once set.
 */
export function resolveParameters(specs: TemplateParameter[], given: Record<string, unknown>, previous: ParameterValue[] | undefined, versionLabel: string): ParameterValue[] {
  const problems: { field: string; detail: string }[] = [];
  const known = new Set(specs.map((s) => s.name));
  for (const name of Object.keys(given)) if (!known.has(name)) problems.push({ field: `parameters.${name}`, detail: `is not a parameter of ${versionLabel}` });
  const prev = new Map((previous ?? []).map((p) => [p.name, p.value]));
  const out: ParameterValue[] = [];
  for (const { name, spec } of specs) {
    const field = `parameters.${name}`;
    let value: unknown;
    if (name in given) {
      const r = coerceParamValue(spec, given[name]);
      if (!r.ok) {
        problems.push({ field, detail: r.reason });
        continue;
      }
      value = r.value;
      if (previous && prev.has(name) && !spec.mutable && !spec.ephemeral && JSON.stringify(prev.get(name)) !== JSON.stringify(value)) {
        problems.push({ field, detail: "is immutable: it cannot change after the workspace is created" });
        continue;
      }
    } else if (!spec.ephemeral && prev.has(name)) {
      value = prev.get(name);
    } else if (spec.default !== undefined) {
      value = spec.default;
    } else if (spec.required || zeroValue(spec) === undefined) {
      problems.push({ field, detail: "is required" });
      continue;
    } else {
      value = zeroValue(spec);
    }
    out.push({ name, value });
  }
  if (problems.length) throw new ApiError("INVALID_INPUT", "invalid workspace parameters", undefined, problems);
  return out;
}
