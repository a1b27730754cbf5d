const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses durations like 30m, 24h, 7d, 1h30m, 90s into milliseconds; undefined when malformed or zero. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+[smhd])+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const m of trimmed.matchAll(/(\d+)([smhd])/g)) total += Number(m[1]) * UNITS[m[2]!]!;
  return total > 0 && Number.isSafeInteger(total) ? total : undefined;
}

/** A short human duration: 45s, 12m, 5h, 30d (largest unit, rounded down). */
export function shortDuration(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** "in 29d" for a future time, "expired 3h ago" for a past one. */
export function until(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso) - now;
  return ms > 0 ? `in ${shortDuration(ms)}` : `expired ${shortDuration(ms)} ago`;
}
