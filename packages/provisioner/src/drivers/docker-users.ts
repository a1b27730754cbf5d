import type Docker from "dockerode";
import { readTar } from "@outpost/sdk/tar";
import { ignoreStatus } from "./docker-util.js";
import { WORKSPACE_LABEL } from "./driver.js";

/**
 * Who runs a workspace container: the user whose home directory is the agent's `dir` in the image's
 * /etc/passwd (so a template with `dir: "/home/dev"` runs as dev), unless the image names a USER
 * itself. /etc/passwd is read once per image, from a container that is created and never started.
 */
export class ImageUsers {
  private readonly byImage = new Map<string, Promise<string[][]>>();

  constructor(private readonly docker: Docker) {}

  async userForHome(workspaceId: string, image: Docker.ImageInspectInfo, dir: string): Promise<string | undefined> {
    if (image.Config?.User) return undefined;
    let users = this.byImage.get(image.Id);
    if (!users) {
      users = this.readPasswd(workspaceId, image.Id).catch(() => []);
      this.byImage.set(image.Id, users);
    }
    const want = dir.replace(/\/+$/, "");
    return (await users).find((u) => u[5]?.replace(/\/+$/, "") === want && u[0] !== "root")?.[0];
  }

  private async readPasswd(workspaceId: string, imageId: string): Promise<string[][]> {
    const probe = await this.docker.createContainer({ Image: imageId, Entrypoint: ["/bin/true"], Cmd: [], Labels: { [WORKSPACE_LABEL]: workspaceId }, HostConfig: { NetworkMode: "none" } });
    try {
      const archive = await probe.getArchive({ path: "/etc/passwd" });
      const chunks: Buffer[] = [];
      for await (const chunk of archive as AsyncIterable<Buffer>) chunks.push(chunk);
      const passwd = readTar(new Uint8Array(Buffer.concat(chunks)))[0];
      return new TextDecoder()
        .decode(passwd?.data ?? new Uint8Array())
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))
        .map((l) => l.split(":"));
    } finally {
      await ignoreStatus(probe.remove({ force: true }), 404).catch(() => {});
    }
  }
}
