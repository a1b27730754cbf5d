import type { CliContext } from "../../src/context.js";

export interface FakeContext extends CliContext {
  stdout: string[];
  stderr: string[];
  /** Questions asked, in order. */
  asked: string[];
}

/** A CliContext that records output and answers prompts from a script (and fails when the script runs out). */
export function fakeContext(opts: { interactive?: boolean; answers?: string[] } = {}): FakeContext {
  const answers = [...(opts.answers ?? [])];
  const stdout: string[] = [];
  const stderr: string[] = [];
  const asked: string[] = [];
  return {
    argv: [],
    env: {},
    home: "/nonexistent",
    stdout,
    stderr,
    asked,
    io: {
      out: (t) => void stdout.push(t),
      err: (t) => void stderr.push(t),
      interactive: opts.interactive ?? false,
      prompt: async (question, o) => {
        asked.push(question);
        if (answers.length === 0) throw new Error(`unexpected prompt: ${question}`);
        const a = answers.shift()!;
        return a === "" && o?.default !== undefined ? o.default : a;
      },
    },
  };
}
