import { describe, expect, it } from "vitest";
import { agent, docker } from "@outpost/template";
import { describePlan, plan, type ResourceState } from "../../src/plan.js";

const home = docker.volume({ name: "ws1-home" });
const container = (cpus: number) => docker.container({ image: "outpost/base", cpus, agent: agent(), mounts: [{ source: home, target: "/home/dev" }] });
const state = (r: ReturnType<typeof docker.volume> | ReturnType<typeof docker.container>): ResourceState => ({ address: `${r.type}.${r.name}`, resource: r, outputs: { id: "x" } });

describe("plan", () => {
  it("creates everything on the first build, dependencies first", () => {
    const actions = plan([], [container(2), home]);
    expect(actions.map((a) => `${a.action} ${a.address}`)).toEqual(["create docker_volume.ws1-home", "create docker_container.main"]);
  });

  it("on stop deletes the container and keeps the home volume", () => {
    const actions = plan([state(home), state(container(2))], [home]);
    expect(actions.map((a) => `${a.action} ${a.address}`)).toEqual(["delete docker_container.main", "keep docker_volume.ws1-home"]);
    expect(describePlan(actions)).toEqual(["- docker_container.main"]);
  });

  it("on delete removes the container before the volume", () => {
    const actions = plan([state(home), state(container(2))], []);
    expect(actions.map((a) => `${a.action} ${a.address}`)).toEqual(["delete docker_container.main", "delete docker_volume.ws1-home"]);
  });

  it("replaces a changed container naming the fields, updates volume labels in place", () => {
    const labelled = docker.volume({ name: "ws1-home", labels: { team: "a" } });
    const actions = plan([state(home), state(container(2))], [labelled, container(4)]);
    expect(actions.map((a) => a.action)).toEqual(["update", "replace"]);
    expect(describePlan(actions)).toEqual(["~ docker_volume.ws1-home (labels)", "-/+ docker_container.main (cpus)"]);
  });

  it("keeps what did not change, whatever the key order", () => {
    const reverseKeys = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(reverseKeys) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)])) : v;
    const reordered = reverseKeys(container(2)) as ReturnType<typeof container>;
    expect(Object.keys(reordered)[0]).not.toBe(Object.keys(container(2))[0]);
    expect(plan([state(container(2))], [reordered]).map((a) => a.action)).toEqual(["keep"]);
  });
});

describe("plan dependencies", () => {
  it("replaces a container whose image is rebuilt (a changed build context)", () => {
    const image = (contextHash: string) => ({ ...docker.image({ name: "img" }), contextHash });
    const ctr = docker.container({ image: docker.image({ name: "img" }), agent: agent() });
    const prev: ResourceState[] = [
      { address: "docker_image.img", resource: image("a"), outputs: {} },
      { address: "docker_container.main", resource: ctr, outputs: {} },
    ];
    const actions = plan(prev, [image("b"), ctr]);
    expect(describePlan(actions)).toEqual(["-/+ docker_image.img (contextHash)", "-/+ docker_container.main (image)"]);
    expect(describePlan(plan(prev, [image("a"), ctr]))).toEqual([]);
  });
});
