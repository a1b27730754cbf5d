import { ensureDocker, hasImage } from "../test/docker-setup.js";

/**
 * Whether the system tests that need Docker can run here: an engine (started by ensureDocker when
 * possible) and the locally built `outpost/base` image (scripts/build-base-image.sh). CI provides
 * both (.ci/run); when CI is set, their absence is a failure rather than a skip.
 */
export async function dockerReady(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const engine = await ensureDocker();
  const reason = !engine.ok ? engine.reason : (await hasImage("outpost/base:latest")) ? undefined : "image outpost/base is missing: run scripts/build-base-image.sh";
  if (!reason) return { ok: true };
  if (process.env.CI) throw new Error(`Docker system tests cannot run in CI: ${reason}`);
  return { ok: false, reason };
}
