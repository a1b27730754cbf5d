import type { Resource } from "@outpost/template/resources";
import { abortError, errorMessage } from "./drivers/common.js";
import type { Driver, DriverContext } from "./drivers/driver.js";
import type { PlanAction, ResourceState } from "./plan.js";

export interface ApplyInput {
  /** From plan(previous, desired): in the order to apply them. */
  actions: readonly PlanAction[];
  drivers: readonly Driver[];
  ctx: DriverContext;
}

export interface ApplyResult {
  /**
   * The state the workspace is in now: on success the desired resources; on failure or cancel what
   * was reached (created resources in, deleted ones out, untouched ones kept), so that the next build,
   * planned against it, repairs the workspace.
   */
  state: ResourceState[];
  error?: Error;
}

function typeOf(a: PlanAction): Resource["type"] {
  return a.action === "delete" ? a.previous.resource.type : a.resource.type;
}

/**
 * Applies a plan through the drivers, like `terraform apply`: each action goes to the driver that
 * supports its resource type (replace = delete, then create), every driver that has work is checked
 * once first, and the state is recorded after each step. Never throws: an error (a driver failing,
 * ctx.signal aborting) ends the run and comes back with the state reached so far.
 */
export async function applyPlan({ actions, drivers, ctx }: ApplyInput): Promise<ApplyResult> {
  // Address -> state, with each action's position so the result keeps plan order.
  const state = new Map<string, { order: number; entry: ResourceState }>();
  actions.forEach((a, i) => {
    if (a.action !== "create") state.set(a.address, { order: i, entry: a.previous });
  });
  const result = (error?: unknown): ApplyResult => ({
    state: [...state.values()].sort((a, b) => a.order - b.order).map((s) => s.entry),
    ...(error === undefined ? {} : { error: error instanceof Error ? error : new Error(String(error)) }),
  });

  // Outputs of what this build applied, and of what it keeps from the previous one (a container
  // built from a kept image still needs the image's id).
  const applyCtx: DriverContext = { ...ctx, outputsOf: (address) => state.get(address)?.entry.outputs ?? ctx.outputsOf(address) };

  const driverFor = new Map<Resource["type"], Driver>();
  for (const d of drivers) for (const t of d.types) if (!driverFor.has(t)) driverFor.set(t, d);
  const work = actions.filter((a) => a.action !== "keep");
  const missing = [...new Set(work.map(typeOf).filter((t) => !driverFor.has(t)))];
  if (missing.length > 0) {
    return result(new Error(`no driver for resource type${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (drivers: ${drivers.map((d) => d.name).join(", ") || "none"})`));
  }
  const finishing = ctx.transition === "delete";
  const needed = new Set(work.map((a) => driverFor.get(typeOf(a))!));
  try {
    for (const d of needed) {
      if (ctx.signal.aborted) throw abortError(ctx.signal);
      await d.check();
    }
  } catch (err) {
    return result(err);
  }

  for (const [i, a] of actions.entries()) {
    if (a.action === "keep") continue;
    if (ctx.signal.aborted) return result(abortError(ctx.signal));
    const driver = driverFor.get(typeOf(a))!;
    try {
      switch (a.action) {
        case "create":
          ctx.log("info", `+ ${a.address}: creating`);
          state.set(a.address, { order: i, entry: { address: a.address, resource: a.resource, outputs: await driver.create(applyCtx, a.resource) } });
          break;
        case "update":
          ctx.log("info", `~ ${a.address}: updating ${a.changed.join(", ")}`);
          state.set(a.address, { order: i, entry: { address: a.address, resource: a.resource, outputs: await driver.update(applyCtx, a.resource, a.previous) } });
          break;
        case "replace":
          ctx.log("info", `-/+ ${a.address}: replacing (${a.changed.join(", ")} changed)`);
          await driver.delete(applyCtx, a.previous);
          state.delete(a.address);
          if (ctx.signal.aborted) return result(abortError(ctx.signal));
          state.set(a.address, { order: i, entry: { address: a.address, resource: a.resource, outputs: await driver.create(applyCtx, a.resource) } });
          break;
        case "delete":
          ctx.log("info", `- ${a.address}: deleting`);
          await driver.delete(applyCtx, a.previous);
          state.delete(a.address);
          break;
      }
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (ctx.signal.aborted && error.name !== "AbortError") return result(abortError(ctx.signal));
      ctx.log("error", `${a.address}: ${a.action} failed: ${errorMessage(error)}`);
      return result(error);
    }
  }

  // A delete build that leaves nothing behind also removes what drivers keep outside resources
  // (the process driver's workspace directory), even when a stop already deleted every resource.
  if (finishing && state.size === 0) {
    for (const d of drivers) {
      if (!d.deleteWorkspace) continue;
      if (ctx.signal.aborted) return result(abortError(ctx.signal));
      try {
        await d.deleteWorkspace(applyCtx);
      } catch (err) {
        ctx.log("error", `${d.name}: removing the workspace failed: ${errorMessage(err)}`);
        return result(err);
      }
    }
  }
  return result();
}
