// A provisioner daemon for CLI tests, speaking the real daemon API of a test server with its built-in
// provisioner key. Import jobs run the real template loader on the uploaded archive (type-check,
// bundle, child process); build jobs evaluate the template for the job's workspace and record the
// resources as state without creating anything (a fake driver). Tests choose when jobs are taken,
// so they can watch a job wait, fail or be canceled.
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import type { AcquiredJob, JobLogInput } from "@outpost/sdk/provisioner";
import { loadTemplate } from "../../../provisioner/src/template-loader.js";
import { daemonClient } from "../../../server/test/helpers/fleet.js";
import type { TestServer } from "../../../server/test/helpers/test-server.js";
import { extractArchive as extractTar } from "@outpost/provisioner/archive";

export interface BuildBehaviour {
  /** Fail the build with this error after logging. */
  fail?: string;
  /** Log lines to add before finishing. */
  extraLogs?: string[];
}

export class TestDaemon {
  private running = false;
  private loop: Promise<void> | undefined;
  /** Jobs handled so far, in order. */
  readonly handled: AcquiredJob[] = [];
  /** What the next build jobs do (consumed in order); default: succeed. */
  readonly behaviours: BuildBehaviour[] = [];
  /**
   * Report the agents of started resources with a new token each, as the real daemon does (default
   * false: no agents). The test then runs them itself with the tokens from `agentTokens`.
   */
  reportAgents = false;
  /** The latest token per `WORKSPACE.AGENT`. */
  readonly agentTokens = new Map<string, string>();

  private constructor(
    readonly client: FleetClient,
    readonly id: string,
  ) {}

  static async register(s: TestServer, name = "cli-test-daemon"): Promise<TestDaemon> {
    const client = daemonClient(s);
    const daemon = await client.registerDaemon({ name, tags: {} });
    return new TestDaemon(client, daemon.id);
  }

  /** Takes the next job (waiting up to `waitSeconds`), or undefined when none came. */
  async take(waitSeconds = 5): Promise<AcquiredJob | undefined> {
    return this.client.acquireJob(this.id, waitSeconds);
  }

  /** Takes and runs jobs in the background until stop(). */
  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const job = await this.take(1).catch(() => undefined);
        if (job) await this.run(job);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  async run(job: AcquiredJob): Promise<void> {
    this.handled.push(job);
    if (job.type === "template_version_import") await this.runImport(job);
    else await this.runBuild(job, this.behaviours.shift() ?? {});
  }

  private async log(job: AcquiredJob, stage: string, lines: string[], level: JobLogInput["level"] = "info"): Promise<void> {
    if (lines.length > 0) await this.client.appendJobLogs(job.id, lines.map((output) => ({ stage, level, output })));
  }

  private async withTemplate<T>(job: AcquiredJob, fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-cli-daemon-"));
    try {
      await extractTar(await this.client.jobArchive(job.id), dir);
      return await fn(dir);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  private async runImport(job: AcquiredJob): Promise<void> {
    await this.log(job, "init", ["extracting the template archive"]);
    const lines: string[] = [];
    try {
      const loaded = await this.withTemplate(job, async (dir) => {
        const imported = await loadTemplate({ dir, typecheck: true, onLog: (_level, line) => lines.push(line) }, { mode: "import" });
        // The resources a new workspace would get: build() with every parameter at its default.
        const defaults = Object.fromEntries(Object.entries(imported.parameters).map(([k, spec]) => [k, (spec as { default?: unknown }).default]));
        const start = await loadTemplate({ dir }, {
          mode: "build",
          context: {
            workspace: { id: "00000000-0000-4000-8000-000000000000", name: "import", transition: "start", accessUrl: "http://127.0.0.1" },
            owner: { id: "00000000-0000-4000-8000-000000000000", username: "import", email: "import@example.com", name: "" },
            params: defaults,
          },
        });
        return { parameters: imported.parameters, resources: start.resources };
      });
      await this.log(job, "load", lines);
      const parameters = Object.entries(loaded.parameters).map(([name, spec]) => ({ name, spec }));
      await this.log(job, "load", [`${parameters.length} parameters, ${loaded.resources.length} resources`]);
      await this.client.completeJob(job.id, { import: { parameters, resources: loaded.resources as Record<string, unknown>[] } });
    } catch (err) {
      await this.log(job, "load", lines);
      await this.client.failJob(job.id, { error: (err as Error).message });
    }
  }

  private async runBuild(job: AcquiredJob, behaviour: BuildBehaviour): Promise<void> {
    const b = job.build!;
    await this.log(job, "plan", [`${b.workspace.transition} ${b.workspace.name} for ${b.owner.username}`]);
    let resources: Record<string, unknown>[] = [];
    if (b.workspace.transition !== "delete") {
      const loaded = await this.withTemplate(job, (dir) =>
        loadTemplate({ dir }, { mode: "build", context: { workspace: b.workspace, owner: b.owner, params: b.parameters } }),
      );
      resources = loaded.resources as Record<string, unknown>[];
    }
    const state = resources.map((r) => ({ address: `${r.type}.${r.name}`, resource: r as { type: string; name: string }, outputs: { id: `fake-${r.name}` } }));
    const before = new Set(b.previous_state.map((s) => s.address));
    const after = new Set(state.map((s) => s.address));
    await this.log(job, "apply", [...state.filter((s) => !before.has(s.address)).map((s) => `+ ${s.address}`), ...[...before].filter((a) => !after.has(a)).map((a) => `- ${a}`)]);
    await this.log(job, "apply", behaviour.extraLogs ?? []);
    if (behaviour.fail) {
      await this.log(job, "apply", [behaviour.fail], "error");
      await this.client.failJob(job.id, { error: behaviour.fail, state: b.previous_state });
      return;
    }
    const agents = this.reportAgents
      ? state.flatMap((st) => {
          const agent = (st.resource as { agent?: { name: string } }).agent;
          if (!agent) return [];
          const token = randomBytes(32).toString("base64url");
          this.agentTokens.set(`${b.workspace.name}.${agent.name}`, token);
          return [{ name: agent.name, resource_address: st.address, spec: agent as Record<string, unknown>, token }];
        })
      : [];
    await this.client.completeJob(job.id, { build: { state, ...(agents.length > 0 ? { agents } : {}) } });
  }
}
