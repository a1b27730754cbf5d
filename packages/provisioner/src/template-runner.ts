// Runs inside the child process the loader spawns: evaluates one bundled template and reports over IPC.
// Bundled together with the template (see template-loader.ts), so it sees the same @outpost/template.
import { evaluateTemplate, extractParameters, isTemplate, TemplateError, type BuildContext, type TemplateDefinition } from "@outpost/template";

export interface RunnerInput {
  mode: "import" | "build";
  context?: BuildContext<Record<string, unknown>>;
}

export type RunnerOutput = { ok: true; parameters: unknown; resources: unknown[] } | { ok: false; error: string; field?: string; stack?: string };

export async function runTemplate(mod: { default?: unknown }, input: RunnerInput): Promise<RunnerOutput> {
  try {
    const t = mod.default;
    if (!isTemplate(t)) {
      return { ok: false, error: "template.ts must `export default defineTemplate({...})` from @outpost/template" };
    }
    const parameters = extractParameters(t as TemplateDefinition);
    const resources = input.mode === "build" && input.context ? await evaluateTemplate(t as TemplateDefinition, input.context) : [];
    return { ok: true, parameters, resources };
  } catch (err) {
    if (err instanceof TemplateError) return { ok: false, error: err.message, ...(err.field ? { field: err.field } : {}) };
    const e = err as Error;
    return { ok: false, error: `template threw: ${e?.message ?? String(err)}`, ...(e?.stack ? { stack: e.stack } : {}) };
  }
}
