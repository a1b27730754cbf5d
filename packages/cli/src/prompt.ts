import readline from "node:readline";
import type { Readable, Writable } from "node:stream";

/** Asks one question on a terminal; secret answers are not echoed. */
export function promptLine(input: Readable, output: Writable, question: string, opts: { secret?: boolean; default?: string } = {}): Promise<string> {
  const text = `${question}${opts.default ? ` (${opts.default})` : ""}: `;
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input, output, terminal: true });
    let asked = false;
    // readline echoes through _writeToOutput; after the question is shown, swallow the typed characters.
    const rlWrite = rl as unknown as { _writeToOutput: (s: string) => void };
    const original = rlWrite._writeToOutput.bind(rl);
    rlWrite._writeToOutput = (s: string) => {
      if (!opts.secret || !asked) original(s);
    };
    rl.on("SIGINT", () => {
      rl.close();
      output.write("\n");
      reject(new Error("interrupted"));
    });
    rl.question(text, (answer) => {
      if (opts.secret) output.write("\n");
      rl.close();
      resolve(answer.trim() === "" && opts.default !== undefined ? opts.default : answer);
    });
    asked = true;
  });
}
