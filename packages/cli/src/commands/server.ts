import { agentLaunch } from "../agent-paths.js";
import type { CliContext } from "../context.js";

// The CLI module that imports the server package: `outpost server` runs it in this process, with
// the built-in provisioner daemons beside it. Those talk to the server through its HTTP API with an
// in-memory key, exactly like an external `outpost provisionerd`.
export async function run(ctx: CliContext): Promise<number> {
  const { runServerCommand } = await import("@outpost/server/main");
  return runServerCommand(ctx.argv, { out: ctx.io.out, err: ctx.io.err }, async (server) => {
    const { startBuiltinDaemons } = await import("@outpost/provisioner/builtin");
    const { config, builtinProvisionerKey, logger } = server.deps;
    return startBuiltinDaemons({
      url: server.url,
      key: builtinProvisionerKey,
      count: config.provisionerDaemons,
      dataDir: config.dataDir,
      dockerSocket: config.dockerSocket,
      logger: { info: (m) => logger.info(m), warn: (m) => logger.warn(m) },
      ...agentLaunch(ctx),
    });
  });
}
