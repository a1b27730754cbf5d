import { CliError } from "./context.js";

export type OutputFormat = "table" | "json";

export function parseFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === "table") return "table";
  if (value === "json") return "json";
  throw new CliError(`invalid value for -o/--output: ${JSON.stringify(value)}`, ["use table or json"], 2);
}

/** Column-aligned table for humans. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join("\n");
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** "3 minutes ago" style, for last-used columns. */
export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return "never";
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 0) return "in the future";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/**
 * The one way lists are printed: JSON for scripts (also when empty), else a table, or a hint on
 * stderr saying what to do when there is nothing to show.
 */
export function printList<T>(out: { out(t: string): void; err(t: string): void }, format: OutputFormat, items: readonly T[], view: { empty: string; headers: string[]; row(item: T): string[] }): void {
  if (format === "json") out.out(json(items));
  else if (items.length === 0) out.err(view.empty);
  else out.out(table(view.headers, items.map(view.row)));
}
