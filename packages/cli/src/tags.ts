import { TagsSchema, type Tags } from "@outpost/sdk/provisioner";
import { CliError } from "./context.js";

/** `--tag key=value` flags (repeatable) as provisioner tags, checked locally (exit 2). */
export function parseTags(flags: string[] | undefined): Tags {
  const tags: Tags = {};
  for (const flag of flags ?? []) {
    const eq = flag.indexOf("=");
    if (eq <= 0) throw new CliError(`invalid --tag ${JSON.stringify(flag)}`, ["use --tag KEY=VALUE"], 2);
    tags[flag.slice(0, eq)] = flag.slice(eq + 1);
  }
  const r = TagsSchema.safeParse(tags);
  if (!r.success) throw new CliError(`invalid --tag: ${r.error.issues[0]?.message ?? "not accepted"}`, [], 2);
  return r.data;
}

/** `a=1,b=2`, sorted by key (the server does not keep the order they were given in). */
export function formatTags(tags: Record<string, string>): string {
  const entries = Object.entries(tags).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(",") : "-";
}
