import { describe, expect, it } from "vitest";
import { agent, docker, processDriver, type Resource } from "@outpost/template";
import { addressOf } from "@outpost/template/resources";
import { applyPlan } from "../../src/apply.js";
import type { DriverContext } from "../../src/drivers/driver.js";
import { DriverUnavailableError } from "../../src/drivers/driver.js";
import { FakeDriver } from "../../src/drivers/fake.js";
import { plan, type ResourceState } from "../../src/plan.js";

const WS = "ws-unit";
const home = docker.volume({ name: `outpost-${WS}-home` });
const main = (env: Record<string, string> = {}) =>
  docker.container({ image: "outpost/base", agent: agent({ dir: "/home/dev" }), env, mounts: [{ source: home, target: "/home/dev" }] });
const addr = (r: Resource) => addressOf(r);

function context(overrides: Partial<DriverContext> = {}): DriverContext & { lines: string[] } {
  const lines: string[] = [];
  return {
    workspaceId: WS,
    transition: "start",
    templateDir: "/nonexistent",
    log: (level, line) => lines.push(`${level}: ${line}`),
    signal: new AbortController().signal,
    agentEnv: (a) => ({ OUTPOST_AGENT_TOKEN: `token-${a.name}` }),
    outputsOf: () => undefined,
    lines,
    ...overrides,
  };
}

async function build(driver: FakeDriver, previous: ResourceState[], desired: Resource[], ctx = context()) {
  return applyPlan({ actions: plan(previous, desired), drivers: [driver], ctx });
}

describe("applyPlan", () => {
  it("creates, keeps, replaces and deletes through the driver, recording outputs in plan order", async () => {
    const fake = new FakeDriver();
    const first = await build(fake, [], [main(), home]);
    expect(first.error).toBeUndefined();
    expect(first.state.map((s) => s.address)).toEqual([addr(home), addr(main())]);
    const containerId = first.state[1]!.outputs.id;
    expect(containerId).toBe(fake.find(WS, addr(main()))!.id);
    expect(fake.find(WS, addr(main()))!.env).toEqual({ OUTPOST_AGENT_TOKEN: "token-main" });

    const second = await build(fake, first.state, [home, main({ A: "1" })]);
    expect(second.error).toBeUndefined();
    expect(fake.opsFor(WS).slice(-2)).toEqual([`delete ${addr(main())}`, `create ${addr(main())}`]);
    expect(second.state[1]!.outputs.id).not.toBe(containerId);
    expect(second.state[1]!.resource).toEqual(main({ A: "1" }));
    expect(second.state[0]).toBe(first.state[0]); // kept as it was

    const stopped = await build(fake, second.state, [home]);
    expect(stopped.state.map((s) => s.address)).toEqual([addr(home)]);
    expect(fake.find(WS, addr(main()))).toBeUndefined();
    expect(fake.find(WS, addr(home))).toBeDefined();
  });

  it("updates in place when only in-place fields changed", async () => {
    const fake = new FakeDriver();
    const first = await build(fake, [], [home]);
    const labelled = docker.volume({ name: home.name, labels: { team: "a" } });
    const id = fake.find(WS, addr(home))!.id;
    const r = await build(fake, first.state, [labelled]);
    expect(r.error).toBeUndefined();
    expect(fake.opsFor(WS).at(-1)).toBe(`update ${addr(home)}`);
    expect(fake.find(WS, addr(home))!.id).toBe(id);
    expect(r.state[0]!.resource).toEqual(labelled);
  });

  it("checks each needed driver once before acting, and stops when one is unavailable", async () => {
    const vols = new FakeDriver({ name: "vols", types: ["docker_volume"] });
    const rest = new FakeDriver({ name: "rest" });
    const idle = new FakeDriver({ name: "idle", types: ["docker_image"] });
    const r = await applyPlan({ actions: plan([], [home, main(), docker.volume({ name: "cache" })]), drivers: [vols, rest, idle], ctx: context() });
    expect(r.error).toBeUndefined();
    expect(vols.ops.filter((o) => o.op === "check")).toHaveLength(1);
    expect(rest.ops.filter((o) => o.op === "check")).toHaveLength(1);
    expect(idle.ops).toEqual([]); // no work for it: not even checked
    expect(vols.opsFor(WS)).toEqual([`create ${addr(home)}`, "create docker_volume.cache"]);
    expect(rest.opsFor(WS)).toEqual([`create ${addr(main())}`]);

    const down = new FakeDriver();
    down.available = false;
    const previous = r.state;
    const failed = await applyPlan({ actions: plan(previous, [home]), drivers: [down], ctx: context() });
    expect(failed.error).toBeInstanceOf(DriverUnavailableError);
    // Nothing was touched (the state comes back in plan order: the container's delete leads).
    expect(failed.state).toHaveLength(previous.length);
    expect(failed.state).toEqual(expect.arrayContaining(previous));
    expect(down.ops.map((o) => o.op)).toEqual(["check"]);
  });

  it("a keep-only plan needs no driver check", async () => {
    const fake = new FakeDriver();
    const first = await build(fake, [], [home]);
    fake.available = false;
    const r = await build(fake, first.state, [home]);
    expect(r.error).toBeUndefined();
    expect(r.state).toEqual(first.state);
  });

  it("fails before doing anything when no driver supports a type", async () => {
    const vols = new FakeDriver({ types: ["docker_volume"] });
    const r = await applyPlan({ actions: plan([], [home, main()]), drivers: [vols], ctx: context() });
    expect(r.error?.message).toMatch(/no driver for resource type docker_container/);
    expect(r.state).toEqual([]);
    expect(vols.ops).toEqual([]);
  });

  it("on failure returns the state reached: created resources in, deleted ones out, untouched ones kept", async () => {
    const fake = new FakeDriver();
    const cache = docker.volume({ name: "cache" });
    const first = await build(fake, [], [home, cache, main()]);
    expect(first.state).toHaveLength(3);
    // Next build: drop the cache volume, add a second volume, replace the container, which fails to create.
    const extra = docker.volume({ name: "extra" });
    fake.failOn(addr(main()), { op: "create", error: new Error("no space left") });
    const ctx = context();
    const r = await build(fake, first.state, [home, extra, main({ B: "2" })], ctx);
    expect(r.error?.message).toBe("no space left");
    expect(r.state.map((s) => s.address).sort()).toEqual([addr(extra), addr(home)].sort());
    expect(fake.find(WS, "docker_volume.cache")).toBeUndefined();
    expect(fake.find(WS, addr(main()))).toBeUndefined(); // the old container was deleted before the create failed
    expect(ctx.lines.some((l) => l.startsWith("error:") && l.includes("no space left"))).toBe(true);

    // The next build, planned against that state, repairs the workspace.
    fake.clearFaults();
    const actions = plan(r.state, [home, extra, main({ B: "2" })]);
    expect(actions.map((a) => `${a.action} ${a.address}`)).toEqual([`keep ${addr(home)}`, `keep ${addr(extra)}`, `create ${addr(main())}`]);
    const repaired = await applyPlan({ actions, drivers: [fake], ctx: context() });
    expect(repaired.error).toBeUndefined();
    expect(repaired.state.map((s) => s.address)).toEqual([addr(home), addr(extra), addr(main())]);
    expect(fake.find(WS, addr(main()))?.resource).toEqual(main({ B: "2" }));
  });

  it("a failed delete keeps the resource in the state so the next build retries it", async () => {
    const fake = new FakeDriver();
    const first = await build(fake, [], [home, main()]);
    fake.failOn(addr(main()), { op: "delete", times: 1 });
    const r = await build(fake, first.state, [home]);
    expect(r.error?.message).toMatch(/delete docker_container.main failed/);
    expect(r.state.map((s) => s.address)).toEqual([addr(main()), addr(home)]);
    const retry = await build(fake, r.state, [home]);
    expect(retry.error).toBeUndefined();
    expect(retry.state.map((s) => s.address)).toEqual([addr(home)]);
    expect(fake.find(WS, addr(main()))).toBeUndefined();
  });

  it("cancel: a hanging operation stops promptly on abort, with the state reached so far", async () => {
    const fake = new FakeDriver();
    fake.hangOn(addr(main()), { op: "create" });
    const ac = new AbortController();
    const ctx = context({ signal: ac.signal });
    const started = Date.now();
    setTimeout(() => ac.abort(), 50);
    const r = await build(fake, [], [home, main()], ctx);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(r.error?.name).toBe("AbortError");
    expect(r.state.map((s) => s.address)).toEqual([addr(home)]);
  });

  it("cancel during an action: it stops and the next action does not start", async () => {
    const fake = new FakeDriver();
    const slowVolumes = new FakeDriver({ name: "slow", delayMs: 5000, types: ["docker_volume"] });
    const ac = new AbortController();
    const ctx = context({ signal: ac.signal, log: (_l, line) => line.startsWith("+ docker_volume") && queueMicrotask(() => ac.abort()) });
    const r = await applyPlan({ actions: plan([], [home, main()]), drivers: [slowVolumes, fake], ctx });
    expect(r.error?.name).toBe("AbortError");
    expect(r.state).toEqual([]);
    expect(slowVolumes.opsFor(WS)).toEqual([`create ${addr(home)}`]);
    expect(slowVolumes.objects.size).toBe(0);
    expect(fake.opsFor(WS)).toEqual([]);
  });

  it("an already aborted signal touches nothing", async () => {
    const fake = new FakeDriver();
    const ac = new AbortController();
    ac.abort();
    const r = await build(fake, [], [home], context({ signal: ac.signal }));
    expect(r.error?.name).toBe("AbortError");
    expect(r.state).toEqual([]);
    expect(fake.objects.size).toBe(0);
  });

  it("gives drivers the outputs of resources applied or kept in this build", async () => {
    const fake = new FakeDriver();
    const image = docker.image({ name: "img" });
    const fromImage = docker.container({ image, agent: agent() });
    const first = await build(fake, [], [fromImage, image]);
    expect(first.error).toBeUndefined();
    const imageId = first.state[0]!.outputs.id;
    expect(fake.find(WS, addr(fromImage))!.imageId).toBe(imageId);
    // Image kept, container replaced: the container still gets the kept image's id.
    const changed = docker.container({ image, agent: agent(), cpus: 2 });
    const second = await build(fake, first.state, [image, changed]);
    expect(second.error).toBeUndefined();
    expect(fake.find(WS, addr(changed))!.imageId).toBe(imageId);
  });

  it("a delete build calls deleteWorkspace once nothing is left, also after a stop emptied the state", async () => {
    const fake = new FakeDriver();
    const agentRes = processDriver.agent({ agent: agent() });
    const first = await build(fake, [], [agentRes]);
    const stopped = await build(fake, first.state, [], context({ transition: "stop" }));
    expect(stopped.state).toEqual([]);
    expect(fake.opsFor(WS)).not.toContain("deleteWorkspace");
    const deleted = await build(fake, stopped.state, [], context({ transition: "delete" }));
    expect(deleted.error).toBeUndefined();
    expect(fake.opsFor(WS).at(-1)).toBe("deleteWorkspace");

    // Not when a resource could not be deleted.
    const other = new FakeDriver();
    const s = await build(other, [], [home]);
    other.failOn(addr(home), { op: "delete" });
    const failed = await build(other, s.state, [], context({ transition: "delete" }));
    expect(failed.error).toBeDefined();
    expect(other.opsFor(WS)).not.toContain("deleteWorkspace");
  });
});
