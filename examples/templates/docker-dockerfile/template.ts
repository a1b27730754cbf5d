// A workspace in a Docker container from an image built from this folder's Dockerfile, with a home
// volume that survives stops and updates.
import { agent, defineTemplate, docker, param } from "@outpost/template";

export default defineTemplate({
  parameters: {
    cpus: param.number({
      displayName: "CPU cores",
      description: "CPU cores the container may use.",
      default: 2,
      min: 1,
      max: 8,
      integer: true,
      mutable: true,
    }),
    memory_mb: param.number({
      displayName: "Memory (MiB)",
      description: "Memory limit of the container, in MiB.",
      default: 4096,
      min: 512,
      max: 32768,
      integer: true,
      mutable: true,
    }),
  },

  build({ workspace, params }) {
    const home = docker.volume({ name: `outpost-${workspace.id}-home` });
    // Built from ./Dockerfile with this folder as the build context; the driver prints the build's
    // output in the build logs and reuses the image while the Dockerfile and context are unchanged.
    const image = docker.image({ name: "workspace", dockerfile: "Dockerfile", context: "." });
    const main = agent({ dir: "/home/dev", env: { HOME: "/home/dev" } });

    return [
      // The volume and the image are kept across stops (no rebuild at every start); delete removes them.
      workspace.transition !== "delete" && home,
      workspace.transition !== "delete" && image,
      workspace.transition === "start" &&
        docker.container({
          image,
          agent: main,
          cpus: params.cpus,
          memoryMb: params.memory_mb,
          mounts: [{ source: home, target: "/home/dev" }],
          dailyCost: params.cpus,
        }),
    ];
  },
});
