import { TagsSchema, type Tags } from "@outpost/sdk/provisioner";
import { CliError } from "./context.js";

/** `--tag key=value` flags (repeatable) as provisioner tags, checked locally (exit 2). */
export function parseTags(flags: string[] | undefined, flag = "--tag"): Tags {
  const tags: Tags = {};
  for (const item of flags ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new CliError(`invalid ${flag} ${JSON.stringify(item)}`, [`use ${flag} KEY=VALUE`], 2);
    tags[item.slice(0, eq)] = item.slice(eq + 1);
  }
  const r = TagsSchema.safeParse(tags);
  if (!r.success) throw new CliError(`invalid ${flag}: ${r.error.issues[0]?.message ?? "not accepted"}`, [], 2);
  return r.data;
}

/** `a=1,b=2`, sorted by key (the server does not keep the order they were given in). */
export function formatTags(tags: Record<string, string>): string {
  const entries = Object.entries(tags).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(",") : "-";
}
