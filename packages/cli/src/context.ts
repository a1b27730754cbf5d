/** What a command gets: its arguments, the environment, and where to write. Commands never touch process.* directly. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** True when stdin and stdout are a terminal: prompts and spinners are allowed. */
  interactive: boolean;
  prompt(question: string, opts?: { secret?: boolean; default?: string }): Promise<string>;
  /** Replaces the status line (a spinner) on stderr; "" clears it. Only there when stderr is a terminal. */
  status?(text: string): void;
}

export interface CliContext {
  argv: string[];
  env: Readonly<Record<string, string | undefined>>;
  home: string;
  io: CliIo;
  /** How to run this CLI again (for `config-ssh`'s ProxyCommand): the node binary and the bundle's entry. */
  self?: { node: string; script: string };
}

/** A failure to report to the user: message, optional detail lines, exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly detail: string[] = [],
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface Command {
  run(ctx: CliContext): Promise<number | void>;
}
