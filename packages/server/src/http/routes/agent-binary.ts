// The agent executable, for workspace init scripts (curl) and for updating agents: public, like the
// agent's own API, and cacheable: the ETag is the file's sha256, so `If-None-Match` answers 304.
import { AGENT_BINARY_PATH } from "@outpost/sdk/agents";
import type { OpenedAgentBinary } from "../../services/agent-binary.js";
import type { Deps } from "../../services/deps.js";
import { ApiError } from "../../errors.js";
import { route, type RouteDef } from "../route.js";

const FILE_NAME = AGENT_BINARY_PATH.split("/").at(-1)!;

async function openBinary(deps: Deps): Promise<OpenedAgentBinary> {
  const file = await deps.agentBinary.open();
  // The path stays out of the message: it is the server's business (and the log has the option's value).
  if (!file) throw new ApiError("NOT_FOUND", "the agent binary is not available on this server", "build it with `node scripts/build-agent.mjs`, or point OUTPOST_AGENT_BINARY at one");
  return file;
}

/** Whether an If-None-Match header names this ETag (or is `*`). */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const tag = t.trim().replace(/^W\//, "");
    return tag === "*" || tag === etag;
  });
}

export const agentBinaryRoutes: RouteDef[] = [
  route({
    method: "GET",
    url: AGENT_BINARY_PATH,
    authenticated: false,
    action: "public",
    summary: "The workspace agent executable (linux amd64); ETag is its sha256, If-None-Match answers 304",
    handler: async ({ deps, request, reply }) => {
      const file = await openBinary(deps);
      const etag = `"${file.sha256}"`;
      reply.header("etag", etag).header("cache-control", "no-cache");
      if (matches(request.headers["if-none-match"], etag)) {
        await file.handle.close();
        return reply.code(304).send();
      }
      const body = file.handle.createReadStream({ start: 0 });
      return reply
        .code(200)
        .header("content-type", "application/octet-stream")
        .header("content-length", String(file.size))
        .header("content-disposition", `attachment; filename="${FILE_NAME}"`)
        .send(body);
    },
  }),
  route({
    method: "GET",
    url: `${AGENT_BINARY_PATH}.sha256`,
    authenticated: false,
    action: "public",
    summary: "The agent executable's sha256, in sha256sum format",
    handler: async ({ deps, reply }) => {
      const file = await openBinary(deps);
      await file.handle.close();
      return reply.code(200).header("content-type", "text/plain; charset=utf-8").header("cache-control", "no-cache").send(`${file.sha256}  ${FILE_NAME}\n`);
    },
  }),
];
