import Docker from "dockerode";

/**
 * Whether the system tests that need Docker can run here: an engine on the default socket and the
 * locally built `outpost/base` image (scripts/build-base-image.sh). CI provides both (.ci/run); when
 * CI is set, their absence is a failure rather than a skip.
 */
export async function dockerReady(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const docker = new Docker({ socketPath: "/var/run/docker.sock" });
  let reason: string | undefined;
  try {
    await docker.ping();
    await docker.getImage("outpost/base").inspect();
  } catch (err) {
    reason = (err as { statusCode?: number }).statusCode === 404 ? "image outpost/base is missing: run scripts/build-base-image.sh" : `no Docker engine at /var/run/docker.sock (${(err as Error).message})`;
  }
  if (!reason) return { ok: true };
  if (process.env.CI) throw new Error(`Docker system tests cannot run in CI: ${reason}`);
  return { ok: false, reason };
}
