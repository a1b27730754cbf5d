// A workspace in a Docker container from the outpost/base image, with a home volume that survives
// stops and updates. Push it with `outpost templates push docker -d .` from this folder.
import { agent, defineTemplate, docker, param } from "@outpost/template";

/** Quotes a value for a POSIX shell script. */
const sh = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

export default defineTemplate({
  parameters: {
    cpus: param.number({
      displayName: "CPU cores",
      description: "CPU cores the container may use. Can be changed later (applies at the next start).",
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
    dotfiles_uri: param.string({
      displayName: "Dotfiles repository",
      description: "Git repository with your dotfiles, cloned (or updated) at each start and its install script run (`outpost dotfiles`). Leave empty for none.",
      default: "",
      regex: "^$|^(https?|ssh|git|file)://\\S+$|^[\\w.-]+@[\\w.-]+:\\S+$",
      regexError: "must be a git URL (https://, ssh://, git://, file:// or user@host:path)",
    }),
  },

  build({ workspace, owner, params }) {
    // Named after the workspace id, so it stays the same across renames, stops and updates.
    const home = docker.volume({ name: `outpost-${workspace.id}-home` });

    // `outpost` in a workspace is the agent's own command: clones (or pulls) and runs the install script.
    const dotfiles = params.dotfiles_uri ? [`outpost dotfiles ${sh(params.dotfiles_uri)}`] : [];

    const main = agent({
      dir: "/home/dev",
      env: {
        HOME: "/home/dev",
        GIT_AUTHOR_NAME: owner.name || owner.username,
        GIT_AUTHOR_EMAIL: owner.email,
        GIT_COMMITTER_NAME: owner.name || owner.username,
        GIT_COMMITTER_EMAIL: owner.email,
      },
      startupScript: ["set -e", ...dotfiles].join("\n"),
      metadata: [
        { key: "load", displayName: "Load average", script: "cut -d' ' -f1-3 /proc/loadavg", interval: 10 },
        { key: "home_disk", displayName: "Home disk", script: "df -h /home/dev | awk 'NR==2 {print $3 \" / \" $2}'", interval: 60 },
      ],
    });

    return [
      // Kept on stop, so /home/dev survives; removed on delete with everything else.
      workspace.transition !== "delete" && home,
      // Only a started workspace has a container: stop and delete remove it.
      workspace.transition === "start" &&
        docker.container({
          image: "outpost/base",
          agent: main,
          cpus: params.cpus,
          memoryMb: params.memory_mb,
          mounts: [{ source: home, target: "/home/dev" }],
          dailyCost: params.cpus,
        }),
    ];
  },
});
