import fs from "node:fs/promises";
import path from "node:path";
import { PassThrough } from "node:stream";
import Docker from "dockerode";
import { AGENT_INIT_SCRIPT, AGENT_MOUNT_PATH } from "@outpost/template/agent-init";
import { addressOf, type DockerContainer, type DockerVolume, type Resource } from "@outpost/template/resources";
import type { ResourceState } from "../plan.js";
import { abortError, checkWorkspaceId, errorMessage, specHash, throwIfAborted } from "./common.js";
import { buildImage, deleteImage, imageTag } from "./docker-image.js";
import { dockerMessage, ignoreStatus, statusOf, stripMux, type DockerError } from "./docker-util.js";
import { ImageUsers } from "./docker-users.js";
import { DriverUnavailableError, WORKSPACE_LABEL, type Driver, type DriverContext, type OrphanResource } from "./driver.js";

/** Label with the resource address (`docker_container.main`) on everything the driver creates. */
export const RESOURCE_LABEL = "outpost.resource";
/** Label with the digest of the spec a container was created from; create adopts only on a match. */
export const SPEC_LABEL = "outpost.spec_hash";

export interface DockerDriverOptions {
  /** The engine's unix socket. Default /var/run/docker.sock. */
  socketPath?: string;
  /** `tcp://HOST:PORT` (plain HTTP) instead of a socket; the caller maps DOCKER_HOST onto these two. */
  host?: string;
  /** Pull an image that is not on the host. Default false: images are built or imported locally. */
  pullMissingImages?: boolean;
  /** Seconds a container gets between SIGTERM and SIGKILL when it is removed. Default 10. */
  stopTimeoutSeconds?: number;
  /**
   * The agent binary on the Docker host, bind-mounted read-only at AGENT_MOUNT_PATH into containers
   * with an agent (the init script runs it from there instead of downloading it). Only when the
   * engine shares this host's filesystem (a local socket); unset: the init script downloads it.
   */
  agentBinaryPath?: string;
}

export function containerName(workspaceId: string, name: string): string {
  return `outpost-${workspaceId}-${name}`;
}


/** How long a started container must stay up for the build to count it as started. */
const START_CHECK_MS = 150;

/**
 * `docker_volume`, `docker_image` and `docker_container` through the Docker Engine API (dockerode).
 * Everything created carries the labels WORKSPACE_LABEL and RESOURCE_LABEL. Containers use the host
 * network (or none), run with an init process, and are named `outpost-<workspace>-<name>`. Images
 * are never pulled unless `pullMissingImages` is set.
 */
export class DockerDriver implements Driver {
  readonly name = "docker";
  readonly types = ["docker_image", "docker_volume", "docker_container"] as const satisfies readonly Resource["type"][];
  /** The dockerode client (tests use it to exec in containers and clean up). */
  readonly docker: Docker;
  private readonly where: string;
  private readonly pull: boolean;
  private readonly stopTimeout: number;
  private readonly users: ImageUsers;
  private readonly agentBinaryPath: string | undefined;

  constructor(opts: DockerDriverOptions = {}) {
    this.agentBinaryPath = opts.agentBinaryPath;
    if (opts.host) {
      const url = new URL(opts.host);
      if (url.protocol !== "tcp:" && url.protocol !== "http:") throw new Error(`unsupported Docker host ${opts.host}: use tcp://HOST:PORT or a socket path`);
      // host/port given explicitly, so docker-modem's own DOCKER_HOST lookup does not apply.
      this.docker = new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: "http" });
      this.where = opts.host;
    } else {
      const socketPath = opts.socketPath ?? "/var/run/docker.sock";
      this.docker = new Docker({ socketPath, host: undefined, port: undefined, protocol: "http" } as Docker.DockerOptions);
      this.where = socketPath;
    }
    this.pull = opts.pullMissingImages ?? false;
    this.users = new ImageUsers(this.docker);
    this.stopTimeout = opts.stopTimeoutSeconds ?? 10;
  }

  async check(): Promise<void> {
    try {
      await (this.docker.ping as (o: { abortSignal: AbortSignal }) => Promise<unknown>)({ abortSignal: AbortSignal.timeout(5000) });
    } catch (err) {
      const e = err as DockerError;
      const reason = e?.name === "TimeoutError" || e?.name === "AbortError" ? "no answer within 5 s" : dockerMessage(err);
      throw new DriverUnavailableError(`Docker engine is not reachable at ${this.where}: ${reason}. Start dockerd or set DOCKER_HOST`);
    }
  }

  async create(ctx: DriverContext, resource: Resource): Promise<Record<string, unknown>> {
    checkWorkspaceId(ctx.workspaceId);
    return this.wrap(async () => {
      switch (resource.type) {
        case "docker_volume":
          return this.createVolume(ctx, resource);
        case "docker_image":
          return buildImage(this.docker, ctx, resource, this.labels(ctx, resource));
        case "docker_container":
          return this.createContainer(ctx, resource);
        default:
          throw new Error(`the docker driver does not handle ${resource.type}`);
      }
    });
  }

  async update(ctx: DriverContext, resource: Resource, previous: ResourceState): Promise<Record<string, unknown>> {
    checkWorkspaceId(ctx.workspaceId);
    if (resource.type === "docker_volume") {
      return this.wrap(async () => {
        // The Engine API cannot relabel a volume, and recreating it would lose the data in it.
        ctx.log("warn", `docker: labels of volume ${resource.name} cannot change on an existing volume; they apply when it is next created`);
        return this.createVolume(ctx, resource);
      });
    }
    // Nothing else changes in place (the planner replaces them); recreate if asked anyway.
    await this.delete(ctx, previous);
    return this.create(ctx, resource);
  }

  async delete(ctx: DriverContext, previous: ResourceState): Promise<void> {
    checkWorkspaceId(ctx.workspaceId);
    const r = previous.resource;
    return this.wrap(async () => {
      switch (r.type) {
        case "docker_container":
          return this.deleteContainer(ctx, containerName(ctx.workspaceId, r.name));
        case "docker_volume":
          return this.deleteVolume(ctx, r.name);
        case "docker_image":
          return deleteImage(this.docker, ctx, r, previous.outputs);
        default:
          throw new Error(`the docker driver does not handle ${r.type}`);
      }
    });
  }

  async listByWorkspace(workspaceId: string): Promise<OrphanResource[]> {
    return this.wrap(async () => {
      const filters = { label: [`${WORKSPACE_LABEL}=${workspaceId}`] };
      const [containers, volumes, images] = await Promise.all([
        this.docker.listContainers({ all: true, filters }),
        this.docker.listVolumes({ filters }),
        this.docker.listImages({ filters }),
      ]);
      return [
        ...containers.map((c) => ({ kind: "container", id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, "") })),
        ...(volumes.Volumes ?? []).map((v) => ({ kind: "volume", id: v.Name, name: v.Name })),
        ...images.map((i) => ({ kind: "image", id: i.Id, name: i.RepoTags?.find((t) => t !== "<none>:<none>") ?? i.Id })),
      ];
    });
  }

  /** Runs a command in a running container: for tests and diagnostics. */
  async exec(container: string, cmd: string[], opts: { user?: string; workingDir?: string } = {}): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const exec = await this.docker.getContainer(container).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, ...(opts.user ? { User: opts.user } : {}), ...(opts.workingDir ? { WorkingDir: opts.workingDir } : {}) });
    const stream = await exec.start({ hijack: true, stdin: false });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const stdout = new PassThrough().on("data", (b: Buffer) => out.push(b));
    const stderr = new PassThrough().on("data", (b: Buffer) => err.push(b));
    this.docker.modem.demuxStream(stream, stdout, stderr);
    await new Promise<void>((resolve, reject) => {
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.on("error", reject);
    });
    const info = await exec.inspect();
    return { exitCode: info.ExitCode ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
  }

  // --- volumes ---

  private labels(ctx: DriverContext, resource: Resource, extra: Record<string, string> = {}): Record<string, string> {
    return { ...extra, [WORKSPACE_LABEL]: ctx.workspaceId, [RESOURCE_LABEL]: addressOf(resource) };
  }

  private async createVolume(ctx: DriverContext, r: DockerVolume): Promise<Record<string, unknown>> {
    const existing = await ignoreStatus(this.docker.getVolume(r.name).inspect({ abortSignal: ctx.signal }), 404);
    if (existing) {
      const owner = existing.Labels?.[WORKSPACE_LABEL];
      if (owner !== ctx.workspaceId) {
        throw new Error(`docker volume ${r.name} already exists and ${owner ? `belongs to workspace ${owner}` : "is not managed by Outpost"}; rename the volume in the template or remove it`);
      }
      ctx.log("info", `docker: using existing volume ${r.name}`);
      return { name: existing.Name, mountpoint: existing.Mountpoint };
    }
    const created = await this.docker.createVolume({ Name: r.name, Labels: this.labels(ctx, r, r.labels), abortSignal: ctx.signal } as Docker.VolumeCreateOptions);
    ctx.log("info", `docker: created volume ${r.name}`);
    return { name: created.name, mountpoint: (await this.docker.getVolume(r.name).inspect()).Mountpoint };
  }

  private async deleteVolume(ctx: DriverContext, name: string): Promise<void> {
    const vol = this.docker.getVolume(name);
    const info = await ignoreStatus(vol.inspect({ abortSignal: ctx.signal }), 404);
    if (!info) {
      ctx.log("info", `docker: volume ${name} is already gone`);
      return;
    }
    if (info.Labels?.[WORKSPACE_LABEL] !== ctx.workspaceId) throw new Error(`docker volume ${name} does not belong to workspace ${ctx.workspaceId}; not removing it`);
    try {
      await ignoreStatus(vol.remove({ abortSignal: ctx.signal }), 404);
    } catch (err) {
      if (statusOf(err) === 409) throw new Error(`docker volume ${name} is still in use: ${dockerMessage(err)}`);
      throw err;
    }
    ctx.log("info", `docker: removed volume ${name}`);
  }

  // --- containers ---

  private async resolveImage(ctx: DriverContext, r: DockerContainer): Promise<{ ref: string; info: Docker.ImageInspectInfo }> {
    let ref: string;
    if (typeof r.image === "string") ref = r.image;
    else {
      const built = ctx.outputsOf(`docker_image.${r.image.build}`)?.id;
      ref = typeof built === "string" ? built : imageTag(ctx.workspaceId, r.image.build);
    }
    let info = await ignoreStatus(this.docker.getImage(ref).inspect(), 404);
    if (!info && this.pull && typeof r.image === "string") {
      ctx.log("info", `docker: pulling ${ref}`);
      const stream = await this.docker.pull(ref, { abortSignal: ctx.signal } as object);
      await new Promise<void>((resolve, reject) => this.docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve())));
      info = await this.docker.getImage(ref).inspect();
    }
    if (!info) {
      throw new Error(
        typeof r.image === "string"
          ? `image ${ref} is not on the Docker host${this.pull ? "" : " (images are not pulled: build it, e.g. scripts/build-base-image.sh for outpost/base, or load it with docker load)"}`
          : `image for docker_image.${r.image.build} (${ref}) is missing; it is built by the same template`,
      );
    }
    return { ref, info };
  }

  private async createContainer(ctx: DriverContext, r: DockerContainer): Promise<Record<string, unknown>> {
    const name = containerName(ctx.workspaceId, r.name);
    const { ref, info: image } = await this.resolveImage(ctx, r);
    const agentEnv = r.agent ? ctx.agentEnv(r.agent) : {};
    const agentMount = r.agent ? await this.agentMount(ctx) : undefined;
    const hash = specHash({ resource: r, image: image.Id, agentEnv, agentMount: Boolean(agentMount) });
    throwIfAborted(ctx.signal);

    const existing = await ignoreStatus(this.docker.getContainer(name).inspect({ abortSignal: ctx.signal } as object), 404);
    if (existing) {
      const owner = existing.Config.Labels?.[WORKSPACE_LABEL];
      if (owner !== ctx.workspaceId) throw new Error(`a container named ${name} already exists and ${owner ? `belongs to workspace ${owner}` : "is not managed by Outpost"}`);
      if (existing.Config.Labels?.[SPEC_LABEL] === hash) {
        ctx.log("info", `docker: using existing container ${name}`);
        const c = this.docker.getContainer(existing.Id);
        if (!existing.State.Running) await this.startAndVerify(ctx, c, name);
        return { id: existing.Id, name, image: image.Id };
      }
      ctx.log("info", `docker: removing container ${name}, created from an older spec`);
      await this.deleteContainer(ctx, name);
    }

    const env = { ...r.agent?.env, ...r.env, ...agentEnv };
    // With an agent and no command of its own, the container's whole job is the agent (tini is PID 1).
    const command = r.command ?? (r.agent ? ["/bin/sh", "-c", AGENT_INIT_SCRIPT] : undefined);
    const user = r.agent?.dir ? await this.userForHome(ctx, image, r.agent.dir) : undefined;
    const opts: Docker.ContainerCreateOptions = {
      name,
      Image: ref,
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: this.labels(ctx, r, { [SPEC_LABEL]: hash }),
      ...(r.agent?.dir ? { WorkingDir: r.agent.dir } : {}),
      ...(user ? { User: user } : {}),
      // Our entrypoint is the whole command; a template's `command` keeps the image's ENTRYPOINT.
      ...(r.command ? { Cmd: r.command } : command ? { Entrypoint: command.slice(0, 1), Cmd: command.slice(1) } : {}),
      HostConfig: {
        NetworkMode: "host",
        Init: true,
        RestartPolicy: { Name: "unless-stopped" },
        ...(r.cpus ? { NanoCpus: Math.round(r.cpus * 1e9) } : {}),
        ...(r.memoryMb ? { Memory: r.memoryMb * 1024 * 1024 } : {}),
        Mounts: (r.mounts ?? []).map((m) => ({
          Type: m.volume ? ("volume" as const) : ("bind" as const),
          Source: (m.volume ?? m.hostPath)!,
          Target: m.target,
          ReadOnly: m.readOnly ?? false,
        })).concat(agentMount ? [{ Type: "bind" as const, Source: agentMount, Target: AGENT_MOUNT_PATH, ReadOnly: true }] : []),
      },
    };
    const c = await this.docker.createContainer(opts);
    ctx.log("info", `docker: created container ${name}${user ? ` (user ${user})` : ""}`);
    try {
      await this.startAndVerify(ctx, c, name);
    } catch (err) {
      // Not recorded in state, so do not leave it behind (it would hold its volumes).
      await ignoreStatus(c.remove({ force: true }), 404).catch(() => {});
      throw err;
    }
    return { id: c.id, name, image: image.Id };
  }

  /** The agent binary to mount, when configured and present (else the init script downloads it). */
  private async agentMount(ctx: DriverContext): Promise<string | undefined> {
    if (!this.agentBinaryPath) return undefined;
    const ok = await fs.access(this.agentBinaryPath, fs.constants.X_OK).then(() => true, () => false);
    if (!ok) ctx.log("warn", `docker: agent binary ${this.agentBinaryPath} is missing (build it with node scripts/build-agent.mjs); the workspace downloads it from the server`);
    return ok ? path.resolve(this.agentBinaryPath) : undefined;
  }

  private async startAndVerify(ctx: DriverContext, c: Docker.Container, name: string): Promise<void> {
    const restartsBefore = (await c.inspect()).RestartCount ?? 0;
    // A command that fails at once (missing binary, bad mount) fails this build, not a later one.
    // Listen for the first exit before starting, then give it a short window: an exit ends the wait
    // as it happens, and a healthy container costs only the window (later crashes are the agent's
    // connection timeout to report). With the restart policy such a container shows as running
    // between restarts: count them.
    const window = AbortSignal.any([ctx.signal, AbortSignal.timeout(START_CHECK_MS)]);
    const exited = c.wait({ condition: "next-exit", abortSignal: window } as object).catch(() => undefined);
    await ignoreStatus(c.start({ abortSignal: ctx.signal } as object), 304);
    await exited;
    if (ctx.signal.aborted) throw abortError(ctx.signal);
    const info = await c.inspect();
    const state = info.State;
    if (!state.Running || state.Restarting || (info.RestartCount ?? 0) > restartsBefore) {
      // Between restarts the engine reports exit code 0: end the loop and wait for a real exit.
      let code = state.ExitCode;
      if (state.Running || state.Restarting) {
        await c.update({ RestartPolicy: { Name: "no", MaximumRetryCount: 0 } }).catch(() => {});
        const waited = (await c.wait({ condition: "not-running", abortSignal: AbortSignal.timeout(5000) } as object).catch(() => undefined)) as { StatusCode?: number } | undefined;
        code = waited?.StatusCode ?? code;
      }
      const logs = (await c.logs({ stdout: true, stderr: true, tail: 20 }).catch(() => Buffer.from(""))) as Buffer;
      const text = stripMux(logs).trim();
      throw new Error(`container ${name} exited at once (code ${code}${state.Error ? `, ${state.Error}` : ""})${text ? `:\n${text}` : ""}`);
    }
    ctx.log("info", `docker: started container ${name}`);
  }

  private async deleteContainer(ctx: DriverContext, name: string): Promise<void> {
    const c = this.docker.getContainer(name);
    const info = await ignoreStatus(c.inspect(), 404);
    if (!info) {
      ctx.log("info", `docker: container ${name} is already gone`);
      return;
    }
    if (info.Config.Labels?.[WORKSPACE_LABEL] !== ctx.workspaceId) throw new Error(`container ${name} does not belong to workspace ${ctx.workspaceId}; not removing it`);
    if (info.State.Running) {
      try {
        await ignoreStatus(c.stop({ t: this.stopTimeout, abortSignal: ctx.signal } as object), 304, 404);
      } catch (err) {
        // Canceled while waiting for a graceful stop: kill it now, then report the cancel.
        if (ctx.signal.aborted) {
          await ignoreStatus(c.remove({ force: true }), 404).catch(() => {});
          throw abortError(ctx.signal);
        }
        throw err;
      }
    }
    await ignoreStatus(c.remove({ force: true, v: false }), 404);
    ctx.log("info", `docker: removed container ${name}`);
  }

  /** The user whose home is `dir` in the image (see docker-users.ts), looked up once per image. */
  private userForHome(ctx: DriverContext, image: Docker.ImageInspectInfo, dir: string): Promise<string | undefined> {
    return this.users.userForHome(ctx.workspaceId, image, dir);
  }

  /** Connection failures mid-operation are the engine being unavailable, like a failed check(). */
  private async wrap<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const code = (err as DockerError)?.code;
      if (code === "ENOENT" || code === "ECONNREFUSED" || code === "EACCES" || code === "ECONNRESET") {
        throw new DriverUnavailableError(`Docker engine is not reachable at ${this.where}: ${errorMessage(err)}. Start dockerd or set DOCKER_HOST`);
      }
      if (statusOf(err) !== undefined) {
        const e = new Error(`Docker: ${dockerMessage(err)}`) as DockerError;
        e.statusCode = statusOf(err);
        throw e;
      }
      throw err;
    }
  }
}
