// A workspace that is a directory on the provisioner's host, with the agent as a host process: no
// Docker needed. Good for trying Outpost out and for single-user machines; workspaces are not
// isolated from each other or from the host.
import { agent, defineTemplate, param, processDriver } from "@outpost/template";

const sh = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

export default defineTemplate({
  parameters: {
    repo: param.string({
      displayName: "Git repository",
      description: "Cloned into the workspace directory on first start. Leave empty for none.",
      default: "",
    }),
  },

  build({ workspace, params }) {
    // The process driver runs the agent in the workspace's own directory (under the server's data
    // directory, kept across stops and removed on delete) unless `dir` says otherwise.
    const main = agent({
      startupScript: params.repo ? `[ -d repo ] || git clone ${sh(params.repo)} repo` : "",
      metadata: [{ key: "load", displayName: "Load average", script: "cut -d' ' -f1-3 /proc/loadavg", interval: 10 }],
    });
    return [workspace.transition === "start" && processDriver.agent({ agent: main })];
  },
});
