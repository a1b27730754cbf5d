// The agent's own log: one human-readable line per event on stderr (`docker logs`, the init script's
// log file and `journalctl` all show it as is), e.g.
//   2025-01-02T03:04:05.678Z INFO  connected to the server url=https://outpost.example attempt=3
// Values with spaces, quotes or `=` are JSON-quoted so a line stays one line and splits on spaces.

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface AgentLogger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): AgentLogger;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function isLogLevel(value: string): value is LogLevel {
  return value in RANK;
}

export interface LoggerOptions {
  /** Lines below this level are dropped. Default info. */
  level?: LogLevel;
  /** Where each line (with its newline) goes. Default: process.stderr. */
  write?: (line: string) => void;
  /** Wall clock for the timestamp, ms since the epoch. Default Date.now. */
  now?: () => number;
}

export function createLogger(options: LoggerOptions = {}): AgentLogger {
  const min = RANK[options.level ?? "info"];
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const now = options.now ?? Date.now;
  const make = (base: LogFields): AgentLogger => {
    const emit = (level: LogLevel) => (message: string, fields?: LogFields) => {
      if (RANK[level] < min) return;
      write(formatLine(new Date(now()), level, message, { ...base, ...fields }));
    };
    return {
      debug: emit("debug"),
      info: emit("info"),
      warn: emit("warn"),
      error: emit("error"),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make({});
}

/** A logger that drops everything (tests, callers that pass none). */
export const silentLogger: AgentLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

export function formatLine(at: Date, level: LogLevel, message: string, fields: LogFields): string {
  let line = `${at.toISOString()} ${level.toUpperCase().padEnd(5)} ${oneLine(message)}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    line += ` ${key}=${formatValue(value)}`;
  }
  return `${line}\n`;
}

function oneLine(text: string): string {
  return text.replace(/\r?\n/g, "\\n");
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return formatValue(value.message);
  if (typeof value === "string") return /^[^\s"=\\]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
