import pino, { type Logger } from "pino";

export type { Logger };

/** JSON logs to stderr so stdout stays free for the CLI's own output. */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: { paths: ["req.headers.authorization", "req.headers.cookie", "req.headers[\"outpost-session-token\"]", "password", "*.password"], censor: "[redacted]" },
    },
    pino.destination(2),
  );
}

export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
