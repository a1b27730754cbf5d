// docker_image resources: built from the template folder's Dockerfile with the build output streamed
// to the build log, tagged per workspace, removed with their workspace (the docker driver's images).
import fs from "node:fs/promises";
import path from "node:path";
import type Docker from "dockerode";
import type { DockerImage } from "@outpost/template/resources";
import { abortError, throwIfAborted } from "./common.js";
import { ignoreStatus, inside } from "./docker-util.js";
import { WORKSPACE_LABEL, type DriverContext } from "./driver.js";

/** Image references are lowercase; resource names may not be. */
export function imageTag(workspaceId: string, name: string): string {
  return `outpost-${workspaceId}-${name}`.toLowerCase() + ":latest";
}

export async function buildImage(docker: Docker, ctx: DriverContext, r: DockerImage, labels: Record<string, string>): Promise<Record<string, unknown>> {
  const context = inside(ctx.templateDir, r.context, "build context");
  const dockerfile = inside(context, r.dockerfile, "Dockerfile (relative to the build context)");
  try {
    await fs.access(dockerfile);
  } catch {
    throw new Error(`docker_image.${r.name}: ${path.relative(ctx.templateDir, dockerfile) || r.dockerfile} not found in the template`);
  }
  const tag = imageTag(ctx.workspaceId, r.name);
  ctx.log("info", `docker: building image ${tag} from ${path.relative(ctx.templateDir, dockerfile)}`);
  throwIfAborted(ctx.signal);
  const stream = await docker.buildImage(
    { context, src: await fs.readdir(context) },
    {
      t: tag,
      dockerfile: path.relative(context, dockerfile).split(path.sep).join("/"),
      labels,
      ...(r.buildArgs ? { buildargs: r.buildArgs } : {}),
      rm: true,
      forcerm: true,
      abortSignal: ctx.signal,
    },
  );
  let failure: string | undefined;
  let builtId: string | undefined;
  await new Promise<void>((resolve, reject) => {
    let pending = "";
    const onAbort = () => {
      (stream as unknown as { destroy?: () => void }).destroy?.();
      reject(abortError(ctx.signal));
    };
    if (ctx.signal.aborted) return onAbort();
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    const handle = (line: string) => {
      if (!line.trim()) return;
      let msg: { stream?: string; status?: string; error?: string; errorDetail?: { message?: string }; aux?: { ID?: string } };
      try {
        msg = JSON.parse(line);
      } catch {
        ctx.log("info", line);
        return;
      }
      if (msg.stream) for (const l of msg.stream.split(/\r?\n/)) if (l.trim()) ctx.log("info", l.trimEnd());
      if (msg.status) ctx.log("info", msg.status);
      if (msg.aux?.ID) builtId = msg.aux.ID;
      if (msg.error || msg.errorDetail) {
        failure = msg.errorDetail?.message ?? msg.error;
        ctx.log("error", failure ?? "build failed");
      }
    };
    stream.on("data", (chunk: Buffer) => {
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      lines.forEach(handle);
    });
    const done = () => {
      ctx.signal.removeEventListener("abort", onAbort);
      handle(pending);
      pending = "";
      resolve();
    };
    stream.on("end", done);
    stream.on("error", (err: Error) => {
      ctx.signal.removeEventListener("abort", onAbort);
      reject(ctx.signal.aborted ? abortError(ctx.signal) : err);
    });
  });
  throwIfAborted(ctx.signal);
  if (failure) throw new Error(`docker_image.${r.name}: build failed: ${failure}`);
  const info = await docker.getImage(tag).inspect();
  if (builtId && builtId !== info.Id) ctx.log("warn", `docker: ${tag} points at ${info.Id}, not the built ${builtId}`);
  ctx.log("info", `docker: built image ${tag} (${info.Id.slice(0, 19)})`);
  return { id: info.Id, tag };
}

export async function deleteImage(docker: Docker, ctx: DriverContext, r: DockerImage, outputs: Record<string, unknown>): Promise<void> {
  const tag = imageTag(ctx.workspaceId, r.name);
  const info = await ignoreStatus(docker.getImage(tag).inspect(), 404);
  if (info && info.Config?.Labels?.[WORKSPACE_LABEL] === ctx.workspaceId) {
    await ignoreStatus(docker.getImage(tag).remove({ abortSignal: ctx.signal } as object), 404);
    ctx.log("info", `docker: removed image ${tag}`);
  } else {
    ctx.log("info", `docker: image ${tag} is already gone`);
  }
  // An older build of the same image that lost its tag: remove it too, if nothing else uses it.
  const oldId = outputs.id;
  if (typeof oldId === "string" && oldId !== info?.Id) {
    const old = await ignoreStatus(docker.getImage(oldId).inspect(), 404);
    if (old?.Config?.Labels?.[WORKSPACE_LABEL] === ctx.workspaceId) await ignoreStatus(docker.getImage(oldId).remove(), 404, 409);
  }
}
