import { z } from "zod";

/** A template parameter: what a workspace creator is asked for, with its validation. */
interface ParamBase<T> {
  description?: string;
  displayName?: string;
  default?: T;
  /** The creator must give a value (no default applies). */
  required?: boolean;
  /** May change after the workspace is created (e.g. CPU count), else fixed at creation. */
  mutable?: boolean;
  /** Given per build and not remembered (e.g. "rebuild from scratch"). */
  ephemeral?: boolean;
}

export interface StringParam extends ParamBase<string> {
  type: "string";
  regex?: string;
  regexError?: string;
  minLength?: number;
  maxLength?: number;
}
export interface NumberParam extends ParamBase<number> {
  type: "number";
  min?: number;
  max?: number;
  integer?: boolean;
}
export interface BoolParam extends ParamBase<boolean> {
  type: "bool";
}
export interface ListParam extends ParamBase<string[]> {
  type: "list";
  maxItems?: number;
}
export interface SelectOption {
  value: string;
  name?: string;
  description?: string;
}
export interface SelectParam extends ParamBase<string> {
  type: "select";
  options: SelectOption[];
}

export type ParamSpec = StringParam | NumberParam | BoolParam | ListParam | SelectParam;

export type ParamValue<S extends ParamSpec> = S extends NumberParam ? number : S extends BoolParam ? boolean : S extends ListParam ? string[] : string;
export type ParamValues<P extends Record<string, ParamSpec>> = { [K in keyof P]: ParamValue<P[K]> };

/** Parameter names follow the same rule as env-ish identifiers so they work as `--parameter name=value`. */
export const PARAM_NAME = /^[a-z][a-z0-9_]{0,63}$/;

const common = {
  description: z.string().max(1024).optional(),
  displayName: z.string().max(128).optional(),
  required: z.boolean().optional(),
  mutable: z.boolean().optional(),
  ephemeral: z.boolean().optional(),
};

/** The stored form of a parameter spec (what an import job extracts from a template). */
export const ParamSpecSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("string"), ...common, default: z.string().optional(), regex: z.string().max(512).optional(), regexError: z.string().max(256).optional(), minLength: z.number().int().min(0).optional(), maxLength: z.number().int().min(0).optional() }),
  z.strictObject({ type: z.literal("number"), ...common, default: z.number().optional(), min: z.number().optional(), max: z.number().optional(), integer: z.boolean().optional() }),
  z.strictObject({ type: z.literal("bool"), ...common, default: z.boolean().optional() }),
  z.strictObject({ type: z.literal("list"), ...common, default: z.array(z.string()).optional(), maxItems: z.number().int().min(0).optional() }),
  z.strictObject({
    type: z.literal("select"),
    ...common,
    default: z.string().optional(),
    options: z.array(z.strictObject({ value: z.string(), name: z.string().optional(), description: z.string().optional() })).min(1),
  }),
]);

/**
 * Checks one given value against its spec; returns the typed value or the reason it is wrong.
 * Values arrive as strings from the CLI (`--parameter cpus=4`) or as JSON from the API.
 */
export function coerceParamValue(spec: ParamSpec, raw: unknown): { ok: true; value: unknown } | { ok: false; reason: string } {
  const fail = (reason: string) => ({ ok: false as const, reason });
  switch (spec.type) {
    case "string": {
      if (typeof raw !== "string") return fail("must be a string");
      if (spec.minLength !== undefined && raw.length < spec.minLength) return fail(`must be at least ${spec.minLength} characters`);
      if (spec.maxLength !== undefined && raw.length > spec.maxLength) return fail(`must be at most ${spec.maxLength} characters`);
      if (spec.regex && !new RegExp(spec.regex).test(raw)) return fail(spec.regexError ?? `must match ${spec.regex}`);
      return { ok: true, value: raw };
    }
    case "number": {
      const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
      if (!Number.isFinite(n)) return fail("must be a number");
      if (spec.integer && !Number.isInteger(n)) return fail("must be a whole number");
      if (spec.min !== undefined && n < spec.min) return fail(`must be at least ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) return fail(`must be at most ${spec.max}`);
      return { ok: true, value: n };
    }
    case "bool": {
      if (typeof raw === "boolean") return { ok: true, value: raw };
      if (raw === "true" || raw === "false") return { ok: true, value: raw === "true" };
      return fail("must be true or false");
    }
    case "list": {
      let list: unknown = raw;
      if (typeof raw === "string") {
        try {
          list = raw.trim().startsWith("[") ? JSON.parse(raw) : raw.split(",").map((s) => s.trim()).filter(Boolean);
        } catch {
          return fail("must be a JSON array of strings or a comma-separated list");
        }
      }
      if (!Array.isArray(list) || !list.every((v) => typeof v === "string")) return fail("must be a list of strings");
      if (spec.maxItems !== undefined && list.length > spec.maxItems) return fail(`must have at most ${spec.maxItems} items`);
      return { ok: true, value: list };
    }
    case "select": {
      if (typeof raw !== "string" || !spec.options.some((o) => o.value === raw)) return fail(`must be one of ${spec.options.map((o) => o.value).join(", ")}`);
      return { ok: true, value: raw };
    }
  }
}
