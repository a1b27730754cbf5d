import { randomUUID } from "node:crypto";
import { addressOf, type Resource } from "@outpost/template/resources";
import type { ResourceState } from "../plan.js";
import { abortError, specHash, throwIfAborted } from "./common.js";
import { DriverUnavailableError, type Driver, type DriverContext, type OrphanResource } from "./driver.js";

export type FakeOperation = "check" | "create" | "update" | "delete" | "deleteWorkspace";

export interface FakeOpRecord {
  op: FakeOperation;
  workspaceId?: string;
  address?: string;
  /** create: an existing object was adopted. delete: whether there was anything to delete. */
  adopted?: boolean;
  existed?: boolean;
}

/** What the fake "infrastructure" holds: one object per workspace and resource address. */
export interface FakeObject {
  id: string;
  workspaceId: string;
  address: string;
  kind: string;
  resource: Resource;
  hash: string;
  /** For containers and process agents: the environment the agent got (ctx.agentEnv merged in). */
  env?: Record<string, string>;
  /** For containers built from a docker_image resource: the image id taken from ctx.outputsOf. */
  imageId?: string;
}

interface Fault {
  op?: FakeOperation;
  kind: "fail" | "hang";
  error?: Error;
  /** How many more times to fire; undefined = until cleared. */
  remaining?: number;
}

const ALL_TYPES = ["docker_image", "docker_volume", "docker_container", "process_agent"] as const satisfies readonly Resource["type"][];
const KIND: Record<Resource["type"], string> = { docker_image: "image", docker_volume: "volume", docker_container: "container", process_agent: "process" };

export interface FakeDriverOptions {
  name?: string;
  types?: readonly Resource["type"][];
  /** Delay every create/update/delete this long (aborted by ctx.signal), to test concurrency and cancel. */
  delayMs?: number;
}

/**
 * An in-memory driver for tests of the provisioner and the server: keeps objects in a map, records
 * every operation, and can be told to fail an address or hang on it until ctx.signal aborts.
 * Behaves like the real drivers: create adopts an existing object with the same spec, delete of a
 * missing object succeeds, check() throws DriverUnavailableError when `available` is false.
 */
export class FakeDriver implements Driver {
  readonly name: string;
  readonly types: readonly Resource["type"][];
  readonly ops: FakeOpRecord[] = [];
  readonly objects = new Map<string, FakeObject>();
  /** Set false to make check() throw DriverUnavailableError. */
  available = true;
  private readonly faults = new Map<string, Fault[]>();
  private readonly delayMs: number;

  constructor(opts: FakeDriverOptions = {}) {
    this.name = opts.name ?? "fake";
    this.types = opts.types ?? ALL_TYPES;
    this.delayMs = opts.delayMs ?? 0;
  }

  /** Make operations on `address` (every operation, or only `op`) throw, `times` times or until cleared. */
  failOn(address: string, opts: { op?: FakeOperation; error?: Error; times?: number } = {}): void {
    this.addFault(address, { kind: "fail", op: opts.op, error: opts.error, remaining: opts.times });
  }

  /** Make operations on `address` wait until ctx.signal aborts, then throw the abort error. */
  hangOn(address: string, opts: { op?: FakeOperation; times?: number } = {}): void {
    this.addFault(address, { kind: "hang", op: opts.op, remaining: opts.times });
  }

  clearFaults(): void {
    this.faults.clear();
  }

  find(workspaceId: string, address: string): FakeObject | undefined {
    return this.objects.get(key(workspaceId, address));
  }

  /** Operations recorded for one workspace, as "op address" strings (check and deleteWorkspace without one). */
  opsFor(workspaceId: string): string[] {
    return this.ops.filter((o) => o.workspaceId === workspaceId).map((o) => (o.address ? `${o.op} ${o.address}` : o.op));
  }

  async check(): Promise<void> {
    this.ops.push({ op: "check" });
    if (!this.available) throw new DriverUnavailableError(`fake driver "${this.name}" is unavailable (test switch)`);
  }

  async create(ctx: DriverContext, resource: Resource): Promise<Record<string, unknown>> {
    const address = addressOf(resource);
    const rec: FakeOpRecord = { op: "create", workspaceId: ctx.workspaceId, address };
    this.ops.push(rec);
    await this.before(ctx, "create", address);
    const env = this.envOf(ctx, resource);
    const imageId = this.imageOf(ctx, resource);
    const hash = specHash({ resource, env, imageId });
    const existing = this.find(ctx.workspaceId, address);
    if (existing && existing.hash === hash) {
      rec.adopted = true;
      ctx.log("info", `fake: adopted existing ${existing.kind} ${address} (${existing.id})`);
      return outputsOf(existing);
    }
    const obj: FakeObject = { id: randomUUID(), workspaceId: ctx.workspaceId, address, kind: KIND[resource.type], resource, hash, ...(env ? { env } : {}), ...(imageId ? { imageId } : {}) };
    this.objects.set(key(ctx.workspaceId, address), obj);
    ctx.log("info", `fake: created ${obj.kind} ${address} (${obj.id})`);
    return outputsOf(obj);
  }

  async update(ctx: DriverContext, resource: Resource, previous: ResourceState): Promise<Record<string, unknown>> {
    const address = addressOf(resource);
    this.ops.push({ op: "update", workspaceId: ctx.workspaceId, address });
    await this.before(ctx, "update", address);
    const existing = this.find(ctx.workspaceId, previous.address);
    const env = this.envOf(ctx, resource);
    const imageId = this.imageOf(ctx, resource);
    const obj: FakeObject = {
      id: existing?.id ?? randomUUID(),
      workspaceId: ctx.workspaceId,
      address,
      kind: KIND[resource.type],
      resource,
      hash: specHash({ resource, env, imageId }),
      ...(env ? { env } : {}),
      ...(imageId ? { imageId } : {}),
    };
    this.objects.set(key(ctx.workspaceId, address), obj);
    ctx.log("info", `fake: updated ${obj.kind} ${address} (${obj.id})`);
    return outputsOf(obj);
  }

  async delete(ctx: DriverContext, previous: ResourceState): Promise<void> {
    const rec: FakeOpRecord = { op: "delete", workspaceId: ctx.workspaceId, address: previous.address };
    this.ops.push(rec);
    await this.before(ctx, "delete", previous.address);
    rec.existed = this.objects.delete(key(ctx.workspaceId, previous.address));
    ctx.log("info", `fake: deleted ${previous.address}${rec.existed ? "" : " (already gone)"}`);
  }

  async deleteWorkspace(ctx: DriverContext): Promise<void> {
    this.ops.push({ op: "deleteWorkspace", workspaceId: ctx.workspaceId });
    await this.before(ctx, "deleteWorkspace", "");
  }

  async listByWorkspace(workspaceId: string): Promise<OrphanResource[]> {
    return [...this.objects.values()].filter((o) => o.workspaceId === workspaceId).map((o) => ({ kind: o.kind, id: o.id, name: o.address }));
  }

  private addFault(address: string, fault: Fault): void {
    this.faults.set(address, [...(this.faults.get(address) ?? []), fault]);
  }

  private async before(ctx: DriverContext, op: FakeOperation, address: string): Promise<void> {
    throwIfAborted(ctx.signal);
    const fault = this.faults.get(address)?.find((f) => (f.op === undefined || f.op === op) && (f.remaining === undefined || f.remaining > 0));
    if (fault?.remaining !== undefined) fault.remaining -= 1;
    if (fault?.kind === "fail") throw fault.error ?? new Error(`fake: ${op} ${address} failed (injected)`);
    if (fault?.kind === "hang" || this.delayMs > 0) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          clearTimeout(timer);
          reject(abortError(ctx.signal));
        };
        const timer = fault?.kind === "hang" ? undefined : setTimeout(() => (ctx.signal.removeEventListener("abort", onAbort), resolve()), this.delayMs);
        if (ctx.signal.aborted) return onAbort();
        ctx.signal.addEventListener("abort", onAbort, { once: true });
      });
    }
  }

  private envOf(ctx: DriverContext, resource: Resource): Record<string, string> | undefined {
    if (resource.type === "process_agent") return { ...resource.agent.env, ...ctx.agentEnv(resource.agent) };
    if (resource.type === "docker_container") return { ...resource.env, ...resource.agent?.env, ...(resource.agent ? ctx.agentEnv(resource.agent) : {}) };
    return undefined;
  }

  private imageOf(ctx: DriverContext, resource: Resource): string | undefined {
    if (resource.type !== "docker_container" || typeof resource.image === "string") return undefined;
    const built = ctx.outputsOf(`docker_image.${resource.image.build}`)?.id;
    if (typeof built !== "string") throw new Error(`fake: ${addressOf(resource)} needs docker_image.${resource.image.build}, which this build has not applied`);
    return built;
  }
}

function key(workspaceId: string, address: string): string {
  return `${workspaceId}\u0000${address}`;
}

function outputsOf(o: FakeObject): Record<string, unknown> {
  return { id: o.id, kind: o.kind, ...(o.imageId ? { imageId: o.imageId } : {}) };
}
