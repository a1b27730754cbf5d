import { addressOf, type Resource } from "@outpost/template/resources";

/** What a previous build left: the resource as declared, and what the driver recorded about it. */
export interface ResourceState {
  address: string;
  resource: Resource;
  /** Driver outputs, e.g. a container id; opaque to the planner. */
  outputs: Record<string, unknown>;
}

export type PlanAction =
  | { action: "create"; address: string; resource: Resource }
  | { action: "replace"; address: string; resource: Resource; previous: ResourceState; changed: string[] }
  | { action: "update"; address: string; resource: Resource; previous: ResourceState; changed: string[] }
  | { action: "delete"; address: string; previous: ResourceState }
  | { action: "keep"; address: string; resource: Resource; previous: ResourceState };

// Creation order: what others refer to comes first. Deletion runs in the reverse order.
const ORDER: Record<Resource["type"], number> = { docker_image: 0, docker_volume: 1, docker_container: 2, process_agent: 2 };

/** Fields a driver can change in place; a change to any other field replaces the resource. */
const IN_PLACE: Partial<Record<Resource["type"], readonly string[]>> = { docker_volume: ["labels"] };

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

export function changedFields(before: Resource, after: Resource): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => canonical((before as Record<string, unknown>)[k]) !== canonical((after as Record<string, unknown>)[k])).sort();
}

/**
 * Diffs the desired resources against the previous build's state, like a Terraform plan: the
 * returned actions are in the order to apply them (deletes of dependants first, then creates).
 */
export function plan(previous: readonly ResourceState[], desired: readonly Resource[]): PlanAction[] {
  const prevByAddress = new Map(previous.map((s) => [s.address, s]));
  const desiredAddresses = new Set(desired.map(addressOf));
  const deletes: PlanAction[] = previous
    .filter((s) => !desiredAddresses.has(s.address))
    .sort((a, b) => ORDER[b.resource.type] - ORDER[a.resource.type])
    .map((s) => ({ action: "delete", address: s.address, previous: s }));
  const rest: PlanAction[] = [...desired]
    .sort((a, b) => ORDER[a.type] - ORDER[b.type])
    .map((resource): PlanAction => {
      const address = addressOf(resource);
      const prev = prevByAddress.get(address);
      if (!prev) return { action: "create", address, resource };
      const changed = changedFields(prev.resource, resource);
      if (changed.length === 0) return { action: "keep", address, resource, previous: prev };
      const inPlace = IN_PLACE[resource.type] ?? [];
      return changed.every((f) => inPlace.includes(f))
        ? { action: "update", address, resource, previous: prev, changed }
        : { action: "replace", address, resource, previous: prev, changed };
    });
  return [...deletes, ...propagateReplacements(rest)];
}

/** A container built from an image, or mounting a volume, that is replaced must be replaced too. */
function propagateReplacements(actions: PlanAction[]): PlanAction[] {
  const replaced = new Set(actions.filter((a) => a.action === "replace").map((a) => a.address));
  return actions.map((a) => {
    if ((a.action !== "keep" && a.action !== "update") || a.resource.type !== "docker_container") return a;
    const c = a.resource;
    const because = [
      ...(typeof c.image === "object" && replaced.has(`docker_image.${c.image.build}`) ? ["image"] : []),
      ...((c.mounts ?? []).some((m) => m.volume && replaced.has(`docker_volume.${m.volume}`)) ? ["mounts"] : []),
    ];
    if (because.length === 0) return a;
    const changed = [...new Set([...(a.action === "update" ? a.changed : []), ...because])].sort();
    return { action: "replace", address: a.address, resource: a.resource, previous: a.previous, changed };
  });
}

/** One line per action, for `templates plan` and build logs. */
export function describePlan(actions: readonly PlanAction[]): string[] {
  return actions
    .filter((a) => a.action !== "keep")
    .map((a) => {
      switch (a.action) {
        case "create":
          return `+ ${a.address}`;
        case "delete":
          return `- ${a.address}`;
        case "replace":
          return `-/+ ${a.address} (${a.changed.join(", ")})`;
        case "update":
          return `~ ${a.address} (${a.changed.join(", ")})`;
        default:
          return "";
      }
    });
}
