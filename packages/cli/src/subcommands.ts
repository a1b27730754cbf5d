import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError, type CliContext } from "./context.js";

/** One `outpost GROUP SUB` command: its one-line summary and what it does (it prints its own --help). */
export interface Subcommand {
  summary: string;
  run(ctx: CliContext): Promise<number>;
}

export interface CommandGroup {
  /** e.g. "users" */
  name: string;
  /** One or two sentences shown above the subcommand list. */
  description: string;
  subcommands: Record<string, Subcommand>;
}

export function groupUsage(group: CommandGroup): string {
  const names = Object.keys(group.subcommands);
  const width = Math.max(...names.map((n) => n.length));
  return [
    `Usage: outpost ${group.name} <subcommand> [options]`,
    "",
    group.description,
    "",
    "Subcommands:",
    ...names.map((n) => `  ${n.padEnd(width)}  ${group.subcommands[n]!.summary}`),
    "",
    `Run \`outpost ${group.name} <subcommand> --help\` for a subcommand's options.`,
  ].join("\n");
}

/** Runs `outpost GROUP SUB ...`: help for the group, a clear exit 2 for a missing or unknown subcommand. */
export async function dispatch(ctx: CliContext, group: CommandGroup): Promise<number> {
  const [sub, ...rest] = ctx.argv;
  if (sub === "--help" || sub === "-h" || sub === "help") {
    ctx.io.out(groupUsage(group));
    return 0;
  }
  if (sub === undefined) {
    ctx.io.err(groupUsage(group));
    return 2;
  }
  const entry = Object.hasOwn(group.subcommands, sub) ? group.subcommands[sub] : undefined;
  if (!entry) {
    const known = Object.keys(group.subcommands).join(", ");
    throw new CliError(`unknown subcommand "${sub}" for "outpost ${group.name}"`, [`available: ${known}`, `run \`outpost ${group.name} --help\` for details`], 2);
  }
  return entry.run({ ...ctx, argv: rest });
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * parseArgs with the conventions every subcommand shares: -h/--help prints `help` (then `help` is
 * true in the result and the caller returns 0), and exactly the named positionals are accepted.
 */
export function parseSubArgs<O extends Options>(
  ctx: CliContext,
  spec: { usage: string; options: O; positionals?: string[]; optionalPositionals?: string[] },
) {
  const options = { ...spec.options, help: { type: "boolean", short: "h" } } as O & { help: { type: "boolean"; short: "h" } };
  const parsed = parseArgs({ args: ctx.argv, options, allowPositionals: true, strict: true });
  const values = parsed.values as Record<string, unknown>;
  if (values.help) {
    ctx.io.out(spec.usage);
    return { help: true as const, values: parsed.values, positionals: [] as string[] };
  }
  const required = spec.positionals ?? [];
  const optional = spec.optionalPositionals ?? [];
  const firstUsage = spec.usage.split("\n")[0]!.replace(/^Usage:\s*/, "");
  if (parsed.positionals.length < required.length) {
    throw new CliError(`missing ${required[parsed.positionals.length]}`, [`usage: ${firstUsage}`], 2);
  }
  if (parsed.positionals.length > required.length + optional.length) {
    throw new CliError(`unexpected argument "${parsed.positionals[required.length + optional.length]}"`, [`usage: ${firstUsage}`], 2);
  }
  return { help: false as const, values: parsed.values, positionals: parsed.positionals };
}

/** Asks for a value that was not given as a flag; without a terminal, exits 2 naming the flag. */
export async function askFor(ctx: CliContext, flag: string, value: string | undefined, question: string, opts: { secret?: boolean; default?: string } = {}): Promise<string> {
  if (value !== undefined) return value;
  if (!ctx.io.interactive) throw new CliError(`missing ${flag}`, ["not running in a terminal, so nothing can be prompted for"], 2);
  return ctx.io.prompt(question, opts);
}

type SafeParser = { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } };

/** Validates a value locally with the sdk's schema; a bad value is a usage error (exit 2) naming the flag. */
export function checkValue(what: string, schema: SafeParser, value: string): void {
  const r = schema.safeParse(value);
  if (!r.success) throw new CliError(`invalid ${what}: ${r.error?.issues[0]?.message ?? "not accepted"}`, [], 2);
}
