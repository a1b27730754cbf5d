import os from "node:os";
import path from "node:path";
import { FleetClient } from "@outpost/sdk/client-fleet";
import { OutpostError } from "@outpost/sdk/client-error";
import { RegisterDaemonRequestSchema, type RegisterDaemonRequest } from "@outpost/sdk/provisioner";
import { agentLaunch } from "../agent-paths.js";
import { CliError, type CliContext } from "../context.js";
import { checkValue, dispatch, parseSubArgs, type CommandGroup } from "../subcommands.js";
import { parseTags } from "../tags.js";

const START_HELP = `Usage: outpost provisionerd start --key KEY --url URL [options]

Runs a provisioner daemon in the foreground: it authenticates with a provisioner key (created by an
owner with \`outpost provisioner keys create\`), takes jobs from the server whose tags are all among
its own, runs the templates, and creates workspaces with the process and docker drivers on this
host. It talks to the server only through its API. Stops on Ctrl-C or SIGTERM, after the job it is
running winds down.

Options:
  --key KEY               the provisioner key (default: OUTPOST_PROVISIONER_KEY)
  --url URL               the deployment URL (default: OUTPOST_URL)
  --name NAME             how the daemon is listed (default: this host's name)
  --tag KEY=VALUE         a tag of this daemon, added to its key's tags; repeat for more
  --data-dir DIR          where process-driver workspaces live (default: OUTPOST_DATA_DIR or ~/.outpost)
  --docker-socket PATH    the Docker Engine socket (default: OUTPOST_DOCKER_SOCKET or /var/run/docker.sock)`;

/**
 * A client that turns a refused key into the end of the daemon: runDaemon retries every error (the
 * server may be restarting), but a key the server does not accept will not start working.
 */
class DaemonClient extends FleetClient {
  refused: OutpostError | undefined;
  constructor(
    opts: ConstructorParameters<typeof FleetClient>[0],
    private readonly stop: AbortController,
  ) {
    super(opts);
  }
  private watch<T>(p: Promise<T>): Promise<T> {
    return p.catch((err: unknown) => {
      if (err instanceof OutpostError && err.status === 401) {
        this.refused = err;
        this.stop.abort();
      }
      throw err;
    });
  }
  override registerDaemon(body: RegisterDaemonRequest) {
    return this.watch(super.registerDaemon(body));
  }
  override acquireJob(daemonId: string, waitSeconds = 0, signal?: AbortSignal) {
    return this.watch(super.acquireJob(daemonId, waitSeconds, signal));
  }
}

async function start(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, {
    usage: START_HELP,
    options: {
      key: { type: "string" },
      url: { type: "string" },
      name: { type: "string" },
      tag: { type: "string", multiple: true },
      "data-dir": { type: "string" },
      "docker-socket": { type: "string" },
    },
  });
  if (a.help) return 0;
  const v = a.values as { key?: string; url?: string; name?: string; tag?: string[]; "data-dir"?: string; "docker-socket"?: string };
  const key = v.key ?? ctx.env.OUTPOST_PROVISIONER_KEY;
  if (!key) throw new CliError("missing --key", ["pass a provisioner key (or set OUTPOST_PROVISIONER_KEY); an owner creates one with `outpost provisioner keys create NAME`"], 2);
  let url = v.url ?? ctx.env.OUTPOST_URL;
  if (!url) throw new CliError("missing --url", ["pass the deployment URL (or set OUTPOST_URL)"], 2);
  if (!/^https?:\/\//.test(url)) url = `http://${url}`;
  try {
    new URL(url);
  } catch {
    throw new CliError(`invalid --url: ${JSON.stringify(url)}`, [], 2);
  }
  const name = v.name ?? os.hostname().replace(/[^a-zA-Z0-9_.-]/g, "-").replace(/^[^a-zA-Z0-9]+/, "").slice(0, 64);
  checkValue("--name", RegisterDaemonRequestSchema.shape.name, name);
  const tags = parseTags(v.tag);
  const expandHome = (p: string) => (p === "~" || p.startsWith("~/") ? path.join(ctx.home, p.slice(1)) : p);
  const dataDir = path.resolve(expandHome(v["data-dir"] ?? ctx.env.OUTPOST_DATA_DIR ?? "~/.outpost"));
  const dockerSocket = v["docker-socket"] ?? ctx.env.OUTPOST_DOCKER_SOCKET ?? "/var/run/docker.sock";

  const [{ runDaemon }, { ProcessDriver }, { DockerDriver }] = await Promise.all([
    import("@outpost/provisioner/daemon"),
    import("@outpost/provisioner/drivers/process"),
    import("@outpost/provisioner/drivers/docker"),
  ]);
  const stop = new AbortController();
  const client = new DaemonClient({ url, provisionerKey: key }, stop);
  // The one place a command listens for signals: the daemon runs until it is told to stop.
  const onSignal = (signal: string) => {
    ctx.io.err(`${signal}: stopping after the current job winds down`);
    stop.abort();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  ctx.io.err(`provisioner daemon ${name} for ${url}${Object.keys(tags).length ? ` (tags ${Object.entries(tags).map(([k, t]) => `${k}=${t}`).join(",")})` : ""}; workspaces of the process driver in ${dataDir}`);
  const launch = agentLaunch(ctx);
  try {
    await runDaemon({
      client,
      name,
      tags,
      version: "0.1.0",
      drivers: [
        new ProcessDriver({ dataDir, ...(launch.agentCommand ? { agentCommand: launch.agentCommand } : {}) }),
        new DockerDriver({ socketPath: dockerSocket, ...(launch.agentBinaryPath ? { agentBinaryPath: launch.agentBinaryPath } : {}) }),
      ],
      signal: stop.signal,
      logger: { info: (m) => ctx.io.err(m), warn: (m) => ctx.io.err(`warning: ${m}`) },
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (client.refused) throw new CliError(`the server refused the provisioner key: ${client.refused.message}`, client.refused.detail ? [client.refused.detail] : []);
  ctx.io.err("provisioner daemon stopped");
  return 0;
}

export const PROVISIONERD: CommandGroup = {
  name: "provisionerd",
  description: "Run an external provisioner daemon: builds workspaces near the infrastructure, authenticated with a provisioner key.",
  subcommands: {
    start: { summary: "Run a provisioner daemon in the foreground", run: start },
  },
};

export async function run(ctx: CliContext): Promise<number> {
  return dispatch(ctx, PROVISIONERD);
}
