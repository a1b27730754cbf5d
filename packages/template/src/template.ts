import { z } from "zod";
import { agent } from "./agent.js";
import { ParamSpecSchema, PARAM_NAME, coerceParamValue, param, type ParamSpec, type ParamValues } from "./params.js";
import { ResourceSchema, addressOf, docker, processDriver, type Resource } from "./resources.js";

// What template authors import: `import { defineTemplate, param, docker, agent } from "@outpost/template"`.
export { agent, docker, param, processDriver };
export type { ParamSpec, Resource };

export type Transition = "start" | "stop" | "delete";

export interface WorkspaceInfo {
  id: string;
  name: string;
  transition: Transition;
  /** Where the server is reached from inside the workspace (for agent init scripts). */
  accessUrl: string;
}

export interface OwnerInfo {
  id: string;
  username: string;
  email: string;
  name: string;
}

export interface BuildContext<P> {
  workspace: WorkspaceInfo;
  owner: OwnerInfo;
  params: P;
}

type Falsy = false | null | undefined | 0 | "";

export interface TemplateDefinition<P extends Record<string, ParamSpec> = Record<string, ParamSpec>> {
  parameters?: P;
  build(ctx: BuildContext<ParamValues<P>>): ReadonlyArray<Resource | Falsy> | Promise<ReadonlyArray<Resource | Falsy>>;
}

const TEMPLATE_BRAND = Symbol.for("outpost.template");

/** Declares a template: parameters, and a pure function from (workspace, owner, params) to resources. */
export function defineTemplate<P extends Record<string, ParamSpec>>(t: TemplateDefinition<P>): TemplateDefinition<P> {
  return Object.assign(t, { [TEMPLATE_BRAND]: true });
}

export function isTemplate(v: unknown): v is TemplateDefinition {
  return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[TEMPLATE_BRAND] === true && typeof (v as TemplateDefinition).build === "function";
}

/** A problem in a template, named by its field path (e.g. `resources[1].mounts[0].target`). */
export class TemplateError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(field ? `${field}: ${message}` : message);
    this.name = "TemplateError";
  }
}

function fieldPath(prefix: string, path: PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === "number" ? `${acc}[${p}]` : `${acc}.${String(p)}`), prefix);
}

/** Validates and normalises the parameter specs of a template. */
export function extractParameters(t: TemplateDefinition): Record<string, ParamSpec> {
  const out: Record<string, ParamSpec> = {};
  for (const [name, spec] of Object.entries(t.parameters ?? {})) {
    if (!PARAM_NAME.test(name)) throw new TemplateError("must be lowercase letters, digits and underscores, starting with a letter", `parameters.${name}`);
    const parsed = ParamSpecSchema.safeParse(spec);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new TemplateError(issue.message, fieldPath(`parameters.${name}`, issue.path));
    }
    const p = parsed.data as ParamSpec;
    if (p.default !== undefined) {
      const ok = coerceParamValue(p, p.default);
      if (!ok.ok) throw new TemplateError(`default ${ok.reason}`, `parameters.${name}.default`);
    }
    if (p.type === "string" && p.regex) {
      try {
        new RegExp(p.regex);
      } catch {
        throw new TemplateError("is not a valid regular expression", `parameters.${name}.regex`);
      }
    }
    out[name] = p;
  }
  return out;
}

/** Runs build() and validates what it returns: unique addresses, known references, schema-valid fields. */
export async function evaluateTemplate(t: TemplateDefinition, ctx: BuildContext<Record<string, unknown>>): Promise<Resource[]> {
  const raw = await t.build(ctx as BuildContext<never>);
  if (!Array.isArray(raw)) throw new TemplateError("build() must return an array of resources", "build");
  const resources: Resource[] = [];
  raw.forEach((item, i) => {
    if (!item) return;
    const parsed = ResourceSchema.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new TemplateError(issue.message, fieldPath(`resources[${i}]`, issue.path));
    }
    resources.push(parsed.data);
  });
  const seen = new Set<string>();
  for (const r of resources) {
    const address = addressOf(r);
    if (seen.has(address)) throw new TemplateError(`two resources share the address ${address}`, "resources");
    seen.add(address);
  }
  for (const r of resources) {
    if (r.type !== "docker_container") continue;
    if (typeof r.image === "object" && !seen.has(`docker_image.${r.image.build}`)) throw new TemplateError(`refers to docker_image.${r.image.build}, which build() did not return`, `${addressOf(r)}.image`);
    for (const m of r.mounts ?? []) {
      if (m.volume && !resources.some((v) => v.type === "docker_volume" && v.name === m.volume)) throw new TemplateError(`refers to docker_volume.${m.volume}, which build() did not return`, `${addressOf(r)}.mounts`);
    }
  }
  const agents = resources.flatMap((r) => ("agent" in r && r.agent ? [r.agent.name] : []));
  const dup = agents.find((a, i) => agents.indexOf(a) !== i);
  if (dup) throw new TemplateError(`two agents are named ${dup}; give each a distinct name`, "agents");
  return resources;
}

export const TemplateOutputSchema = z.object({ parameters: z.record(z.string(), ParamSpecSchema), resources: z.array(ResourceSchema) });
