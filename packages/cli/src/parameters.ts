// Template parameter values on the command line: `--parameter k=v`, `--rich-parameter-file F`,
// local validation against the version's specs, and prompts for what is missing.
import fs from "node:fs/promises";
import { coerceParamValue, PARAM_NAME, type ParamSpec } from "@outpost/sdk/parameters";
import type { TemplateParameter } from "@outpost/sdk/templates";
import { CliError, type CliContext } from "./context.js";

export type GivenValue = string | number | boolean | string[];

/** `--parameter name=value` flags (repeatable); the value may contain `=`. Later flags win. */
export function parseParameterFlags(flags: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const flag of flags ?? []) {
    const eq = flag.indexOf("=");
    if (eq <= 0) throw new CliError(`invalid --parameter ${JSON.stringify(flag)}`, ["use --parameter NAME=VALUE"], 2);
    const name = flag.slice(0, eq).trim();
    if (!PARAM_NAME.test(name)) throw new CliError(`invalid --parameter ${JSON.stringify(flag)}: ${JSON.stringify(name)} is not a parameter name`, ["names are lowercase letters, digits and underscores, starting with a letter"], 2);
    out[name] = flag.slice(eq + 1);
  }
  return out;
}

function unquote(s: string): string {
  const t = s.trim();
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) {
    try {
      return JSON.parse(t) as string;
    } catch {
      return t.slice(1, -1);
    }
  }
  if (t.length >= 2 && t.startsWith("'") && t.endsWith("'")) return t.slice(1, -1).replaceAll("''", "'");
  return t;
}

function stripComment(line: string): string {
  // A `#` starts a comment at the line start or after whitespace, outside quotes.
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

/**
 * The YAML a parameter file needs: `name: value` lines, inline lists `[a, b]`, and block lists
 * (`name:` followed by `- item` lines). Scalars stay strings; each parameter's type converts them.
 */
export function parseSimpleYaml(text: string, file = "parameter file"): Record<string, GivenValue> {
  const out: Record<string, GivenValue> = {};
  let listKey: string | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = stripComment(raw).trimEnd();
    if (line.trim() === "" || line.trim() === "---") return;
    const item = /^\s+-\s*(.*)$/.exec(line) ?? /^-\s+(.*)$/.exec(line);
    if (item && listKey !== undefined) {
      (out[listKey] as string[]).push(unquote(item[1]!));
      return;
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*:(?:\s+(.*))?$/.exec(line);
    if (!m) throw new CliError(`${file}:${i + 1}: expected "name: value"`, [`got ${JSON.stringify(raw)}`], 2);
    const key = m[1]!;
    const value = (m[2] ?? "").trim();
    if (value === "") {
      out[key] = [];
      listKey = key;
      return;
    }
    listKey = undefined;
    if (value.startsWith("[") && value.endsWith("]")) {
      const inner = value.slice(1, -1).trim();
      out[key] = inner === "" ? [] : inner.split(",").map(unquote);
    } else out[key] = unquote(value);
  });
  return out;
}

/** Reads `--rich-parameter-file`: a JSON object or the YAML subset above, name -> value. */
export async function readParameterFile(file: string): Promise<Record<string, GivenValue>> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read parameter file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, [], 2);
  }
  const trimmed = text.trim();
  let values: Record<string, unknown>;
  if (trimmed.startsWith("{")) {
    try {
      values = JSON.parse(trimmed) as Record<string, unknown>;
    } catch (err) {
      throw new CliError(`parameter file ${file} is not valid JSON: ${(err as Error).message}`, [], 2);
    }
    if (typeof values !== "object" || values === null || Array.isArray(values)) throw new CliError(`parameter file ${file} must hold an object of name: value`, [], 2);
  } else {
    values = parseSimpleYaml(text, file);
  }
  const out: Record<string, GivenValue> = {};
  for (const [k, v] of Object.entries(values)) {
    const ok = typeof v === "string" || typeof v === "number" || typeof v === "boolean" || (Array.isArray(v) && v.every((x) => typeof x === "string"));
    if (!ok) throw new CliError(`parameter file ${file}: "${k}" must be a string, number, boolean or list of strings`, [], 2);
    out[k] = v as GivenValue;
  }
  return out;
}

/**
 * A parameter needs a value from the creator when nothing else gives it one: it has no default, and
 * it is required or a number (the server falls back to "", false, [] or the first option otherwise).
 */
export function needsValue(spec: ParamSpec): boolean {
  return spec.default === undefined && (spec.required === true || spec.type === "number");
}

export function formatValue(v: unknown): string {
  if (Array.isArray(v)) return v.join(",");
  if (v === undefined) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** What a value must look like, in words: `number, 1 to 8`, `one of small, large`. */
export function describeConstraints(spec: ParamSpec): string {
  const parts: string[] = [];
  switch (spec.type) {
    case "number":
      parts.push(spec.integer ? "whole number" : "number");
      if (spec.min !== undefined && spec.max !== undefined) parts.push(`${spec.min} to ${spec.max}`);
      else if (spec.min !== undefined) parts.push(`at least ${spec.min}`);
      else if (spec.max !== undefined) parts.push(`at most ${spec.max}`);
      break;
    case "string":
      parts.push("string");
      if (spec.minLength !== undefined) parts.push(`at least ${spec.minLength} characters`);
      if (spec.maxLength !== undefined) parts.push(`at most ${spec.maxLength} characters`);
      if (spec.regex) parts.push(`matching ${spec.regex}`);
      break;
    case "bool":
      parts.push("true or false");
      break;
    case "list":
      parts.push("comma-separated list");
      if (spec.maxItems !== undefined) parts.push(`at most ${spec.maxItems} items`);
      break;
    case "select":
      parts.push(`one of ${spec.options.map((o) => o.value).join(", ")}`);
      break;
  }
  return parts.join(", ");
}

/** Asks for one parameter on the terminal until the answer is valid (three tries). */
export async function promptParameter(ctx: CliContext, name: string, spec: ParamSpec): Promise<unknown> {
  const flags = [spec.mutable ? "mutable" : "", spec.ephemeral ? "ephemeral" : ""].filter(Boolean);
  ctx.io.err("");
  ctx.io.err(`${spec.displayName ?? name} (${describeConstraints(spec)}${flags.length ? `; ${flags.join(", ")}` : ""})`);
  if (spec.description) for (const line of spec.description.split("\n")) ctx.io.err(`  ${line}`);
  if (spec.type === "select") spec.options.forEach((o, i) => ctx.io.err(`  ${i + 1}) ${o.name ? `${o.name} (${o.value})` : o.value}${o.description ? ` - ${o.description}` : ""}`));
  const offered = spec.default;
  for (let attempt = 1; attempt <= 3; attempt++) {
    let answer = await ctx.io.prompt(name, offered !== undefined ? { default: formatValue(offered) } : {});
    if (answer.trim() === "" && offered === undefined) {
      ctx.io.err(`  a value is required`);
      continue;
    }
    if (spec.type === "select" && /^\d+$/.test(answer.trim())) {
      const option = spec.options[Number(answer.trim()) - 1];
      if (option && !spec.options.some((o) => o.value === answer.trim())) answer = option.value;
    }
    const checked = coerceParamValue(spec, spec.type === "string" ? answer : answer.trim());
    if (checked.ok) return checked.value;
    ctx.io.err(`  ${checked.reason}`);
  }
  throw new CliError(`no valid value for parameter "${name}"`, [], 2);
}

export type ResolveMode =
  /** A new workspace: every parameter is asked for when it needs a value. */
  | "create"
  /** Moving to another version: only parameters the workspace does not have yet are asked for. */
  | "update"
  /** A start/restart with `--parameter`: nothing is asked for. */
  | "build";

export interface ResolveInput {
  /** The version's parameters, in declaration order. */
  specs: TemplateParameter[];
  given: Record<string, GivenValue>;
  /** Values of the workspace's latest build (update and build modes). */
  previous?: Record<string, unknown>;
  mode: ResolveMode;
  /** For messages: "template docker version v3". */
  source: string;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Checks given values against the version's specs (unknown names, types and ranges, immutable
 * changes: each exit 2 naming the parameter), then prompts for missing ones when interactive, or
 * exits 2 naming them when not. Returns the values to send: given and prompted ones only; the
 * server fills in defaults and remembered values.
 */
export async function resolveParameters(ctx: CliContext, input: ResolveInput): Promise<Record<string, GivenValue>> {
  const byName = new Map(input.specs.map((p) => [p.name, p.spec]));
  const known = input.specs.map((p) => p.name);
  for (const name of Object.keys(input.given)) {
    if (!byName.has(name)) {
      throw new CliError(`unknown parameter "${name}"`, [known.length ? `${input.source} has: ${known.join(", ")}` : `${input.source} has no parameters`], 2);
    }
  }
  const out: Record<string, GivenValue> = {};
  for (const { name, spec } of input.specs) {
    if (!Object.hasOwn(input.given, name)) continue;
    const checked = coerceParamValue(spec, input.given[name]);
    if (!checked.ok) throw new CliError(`invalid value for parameter "${name}": ${checked.reason}`, [`expected ${describeConstraints(spec)}`], 2);
    const previous = input.previous;
    if (input.mode !== "create" && previous && Object.hasOwn(previous, name) && !spec.mutable && !spec.ephemeral && !sameValue(previous[name], checked.value)) {
      throw new CliError(`parameter "${name}" cannot be changed after the workspace was created`, [`it is ${formatValue(previous[name])}; only mutable parameters can change`], 2);
    }
    out[name] = checked.value as GivenValue;
  }
  if (input.mode === "build") return out;
  const missing = input.specs.filter(({ name, spec }) => {
    if (Object.hasOwn(out, name) || !needsValue(spec)) return false;
    if (input.mode === "update") return !(input.previous && Object.hasOwn(input.previous, name));
    return true;
  });
  if (missing.length === 0) return out;
  if (!ctx.io.interactive) {
    const names = missing.map((p) => p.name);
    throw new CliError(`missing ${names.length === 1 ? "parameter" : "parameters"} ${names.map((n) => `"${n}"`).join(", ")}`, [
      ...missing.map((p) => `--parameter ${p.name}=VALUE  (${describeConstraints(p.spec)}${p.spec.description ? `: ${p.spec.description}` : ""})`),
      "not running in a terminal, so nothing can be prompted for",
    ], 2);
  }
  if (input.mode === "update") ctx.io.err(`${input.source} has new parameters:`);
  for (const { name, spec } of missing) out[name] = (await promptParameter(ctx, name, spec)) as GivenValue;
  return out;
}

/** Given values: the parameter file first, then `--parameter` flags (which win). */
export async function givenParameters(flags: string[] | undefined, file: string | undefined): Promise<Record<string, GivenValue>> {
  const fromFile = file ? await readParameterFile(file) : {};
  return { ...fromFile, ...parseParameterFlags(flags) };
}
