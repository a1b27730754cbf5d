// Entry point of the workspace agent (bundled into the single executable by scripts/build-agent.mjs).
// For now: `--version` and `--self-test`; the agent daemon itself comes next.
import pkg from "@outpost/agent/package.json" with { type: "json" };

export const AGENT_VERSION: string = pkg.version;

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === "--version" || command === "version") {
    process.stdout.write(`outpost-agent ${AGENT_VERSION}\n`);
    return 0;
  }
  if (command === "--self-test") {
    const { selfTest } = await import("./sea-self-test.js");
    await selfTest();
    return 0;
  }
  process.stderr.write(`usage: outpost-agent --version | --self-test\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`outpost-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
