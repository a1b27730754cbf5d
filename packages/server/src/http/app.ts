import { randomUUID } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import fastifyCookie from "@fastify/cookie";
import fastifyWebsocket from "@fastify/websocket";
import { validationsFromZod } from "@outpost/sdk/errors";
import type { z } from "zod";
import { ApiError, unauthenticated } from "../errors.js";
import { writeAudit, type AuditRecord } from "../services/audit.js";
import type { Deps } from "../services/deps.js";
import { resolveCaller } from "./auth.js";
import type { Caller, RouteDef } from "./route.js";

interface Prepared {
  caller: Caller | undefined;
  params: unknown;
  query: unknown;
}

declare module "fastify" {
  interface FastifyRequest {
    auditRecord?: AuditRecord;
    caller?: Caller;
    prepared?: Prepared;
    /** WebSocket requests: aborted when the connection ends (before or after the upgrade) or the server closes. */
    wsAborter?: AbortController;
    /** What the route's beforeUpgrade returned. */
    upgradeState?: unknown;
  }
}

/** PostgreSQL text cannot hold NUL (U+0000): find one before the database fails on it with a 500. */
function pathToNul(value: unknown, path: string[]): string[] | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      const found = pathToNul(v, [...path, k]);
      if (found) return found;
    }
  }
  return undefined;
}

function parseWith(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (!schema) return undefined;
  const r = schema.safeParse(value);
  if (r.success) {
    const nul = pathToNul(r.data, where === "body" ? [] : [where]);
    if (nul) throw new ApiError("INVALID_INPUT", `invalid request ${where}`, undefined, [{ field: nul.join(".") || "body", detail: "must not contain NUL characters" }]);
    return r.data;
  }
  throw new ApiError("INVALID_INPUT", `invalid request ${where}`, undefined, validationsFromZod(r.error, where === "body" ? "" : where));
}

/** Maps framework errors (bad JSON, body too large, bad content type) onto the API error shape. */
function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string };
  switch (e.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiError("PAYLOAD_TOO_LARGE", "request body is too large", e.message);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ApiError("INVALID_INPUT", "unsupported content type", "send the body as application/json");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new ApiError("INVALID_INPUT", "request body is empty", "send a JSON object", [{ field: "body", detail: "is required" }]);
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new ApiError("INVALID_INPUT", "content length does not match the body");
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode === 413 ? "PAYLOAD_TOO_LARGE" : e.statusCode === 404 ? "NOT_FOUND" : "INVALID_INPUT", "invalid request", e.message);
  }
  return undefined;
}

/** The HTTP application, as the rest of the server sees it (only http/ imports fastify). */
export type HttpApp = FastifyInstance;

/**
 * Closes the app without waiting on stragglers. Node's server.close() reaps the keep-alive connections
 * idle at that instant; one whose response was still finishing (a download that just ended) would hold
 * the close for the keep-alive timeout (72 s), so idle ones are reaped again until the close completes.
 * After a grace period (long polls have answered: `closing` aborted them) what is left is dropped: a
 * WebSocket peer that stopped reading never answers the close frame (ws would wait 30 s), nor does a
 * download stalled by a client that stopped reading ever end.
 */
export async function closeApp(app: HttpApp): Promise<void> {
  const reaper = setInterval(() => app.server.closeIdleConnections(), 100);
  const killer = setTimeout(() => {
    for (const client of app.websocketServer.clients) client.terminate();
    app.server.closeAllConnections();
  }, CLOSE_GRACE_MS);
  try {
    await app.close();
  } finally {
    clearInterval(reaper);
    clearTimeout(killer);
  }
}

const CLOSE_GRACE_MS = 2000;

export interface AppOptions {
  routes: RouteDef[];
}

export async function buildApp(deps: Deps, opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: deps.config.maxBodyBytes,
    genReqId: () => randomUUID(),
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    // Bad percent-encoding and over-long path parameters are refused before routing, so bypass the error handler.
    frameworkErrors: (err, _req, reply) => {
      const apiErr = err.code === "FST_ERR_MAX_PARAM_LENGTH" ? new ApiError("INVALID_INPUT", "a path parameter is too long") : new ApiError("INVALID_INPUT", "malformed URL", "the path is not valid percent-encoding");
      void (reply as FastifyReply).code(apiErr.status).send(apiErr.toResponse());
    },
  });
  await app.register(fastifyCookie);
  // permessage-deflate stays off (the ws default): it costs ~90% of relay throughput (DESIGN.md).
  await app.register(fastifyWebsocket, { options: { maxPayload: 1024 * 1024 } });

  // JSON only: fastify's built-in text/plain parser would hand handlers a string body.
  app.removeContentTypeParser(["application/json", "text/plain"]);
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === "") return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new ApiError("INVALID_INPUT", "malformed JSON body", (err as Error).message, [{ field: "body", detail: "is not valid JSON" }]), undefined);
    }
  });

  // Long polls end when the server shuts down, so closing does not wait out their timeouts.
  const closing = new AbortController();
  // WebSockets to abort at shutdown: one Set, not one listener each on `closing` (adding an
  // EventTarget listener scans the others: 2000 agents cost 0.7 s of CPU to connect).
  const liveSockets = new Set<AbortController>();
  closing.signal.addEventListener("abort", () => {
    for (const a of liveSockets) a.abort();
  });
  app.addHook("preClose", async () => closing.abort());

  // Template archives: raw bytes, limited per route (the JSON limit is far smaller).
  app.addContentTypeParser("application/x-tar", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  app.addHook("onRequest", async (req, reply) => {
    reply.header("x-request-id", req.id);
  });

  // Written before the response leaves, with its final status, so a client that reads the audit log next sees it.
  app.addHook("onSend", async (req, reply, payload) => {
    const record = req.auditRecord;
    if (record) {
      req.auditRecord = undefined;
      await writeAudit(deps, record, {
        userId: req.caller?.user.id ?? null,
        ip: req.ip ?? null,
        userAgent: req.headers["user-agent"] ?? null,
        requestId: req.id,
        statusCode: reply.statusCode,
      }).catch((err) => deps.logger.error({ err, record: { ...record, old: undefined, new: undefined } }, "writing audit log failed"));
    }
    return payload;
  });

  app.addHook("onResponse", async (req, reply) => {
    deps.logger.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, "request");
  });

  app.setErrorHandler(async (err, req, reply) => {
    const apiErr = toApiError(err);
    if (!apiErr) {
      deps.logger.error({ err, method: req.method, url: req.url, requestId: req.id }, "internal error");
      return reply.code(500).send({ code: "INTERNAL", message: "internal server error", detail: `request id ${req.id}` });
    }
    for (const [k, v] of Object.entries(apiErr.headers ?? {})) reply.header(k, v);
    return reply.code(apiErr.status).send(apiErr.toResponse());
  });

  app.setNotFoundHandler(async (req, reply) => {
    return reply.code(404).send({ code: "NOT_FOUND", message: `no route ${req.method} ${req.url.split("?")[0]}` });
  });

  for (const def of opts.routes) {
    /** Auth, params and query: what both the HTTP handler and the WebSocket handler start with. */
    const prepare = async (req: FastifyRequest): Promise<Prepared> => {
      const caller = await resolveCaller(deps, req).catch((err: unknown) => {
        // A public route serves anyone: a stale token (an old cookie at login) is no reason to refuse it.
        if (!def.authenticated && err instanceof ApiError) return undefined;
        throw err;
      });
      if (def.authenticated && !caller) throw unauthenticated();
      req.caller = caller;
      return { caller, params: parseWith(def.params, req.params, "params"), query: parseWith(def.query, req.query ?? {}, "query") };
    };
    const wsContext = (req: FastifyRequest, signal: AbortSignal) => ({
      deps,
      ...req.prepared!,
      body: undefined,
      caller: req.prepared!.caller as Caller,
      audit: { set: () => undefined },
      ip: req.ip,
      request: req,
      reply: undefined as never,
      status: () => undefined,
      signal,
    });
    app.route({
      method: def.method,
      url: def.url,
      ...(def.bodyLimit ? { bodyLimit: def.bodyLimit } : {}),
      // Before the handler and before any WebSocket upgrade: a refused upgrade is a plain HTTP error
      // response (a client sees 401/404/409 with the API error body, not an upgrade then a close).
      preValidation: async (req: FastifyRequest) => {
        req.prepared = await prepare(req);
        if (def.websocket && req.ws) {
          const aborter = new AbortController();
          req.wsAborter = aborter;
          // The TCP socket outlives the upgrade: its end (or the server closing) ends the WebSocket's work.
          req.raw.socket.once("close", () => aborter.abort());
          if (closing.signal.aborted) aborter.abort();
          else {
            liveSockets.add(aborter);
            aborter.signal.addEventListener("abort", () => liveSockets.delete(aborter), { once: true });
          }
          if (def.beforeUpgrade) req.upgradeState = await def.beforeUpgrade(wsContext(req, aborter.signal));
        }
      },
      ...(def.websocket
        ? {
            // Called synchronously after the upgrade, so the route attaches its listeners before any message is read.
            wsHandler: (socket, req) => {
              const fail = (err: unknown) => {
                // The same error shape as HTTP, then a close code of 4000 + the HTTP status.
                const apiErr = toApiError(err);
                if (!apiErr) deps.logger.error({ err, url: req.url }, "websocket handler failed");
                const e = apiErr ?? new ApiError("INTERNAL", "internal server error");
                if (socket.readyState === socket.OPEN) {
                  socket.send(JSON.stringify({ type: "error", error: e.toResponse() }));
                  socket.close(4000 + e.status, e.message.slice(0, 100));
                }
              };
              try {
                const result = def.websocket!(socket, wsContext(req, req.wsAborter!.signal), req.upgradeState);
                if (result) result.catch(fail);
              } catch (err) {
                fail(err);
              }
            },
          }
        : {}),
      handler: async (req: FastifyRequest, reply) => {
        const { caller, params, query } = req.prepared!;
        const body = def.rawBody ? req.body : parseWith(def.body, req.body, "body");
        if (def.rawBody && !Buffer.isBuffer(body)) throw new ApiError("INVALID_INPUT", "expected a tar archive", `send the body as ${def.rawBody}`);
        // Long polls stop waiting when the client goes away.
        const aborter = new AbortController();
        const onClosing = () => aborter.abort();
        if (closing.signal.aborted) aborter.abort();
        else closing.signal.addEventListener("abort", onClosing, { once: true });
        reply.raw.once("close", () => {
          aborter.abort();
          closing.signal.removeEventListener("abort", onClosing);
        });
        let status: number | undefined;
        const result = await def.handler({
          deps,
          params,
          query,
          body,
          caller: caller as Caller,
          audit: { set: (r) => (req.auditRecord = r) },
          ip: req.ip,
          request: req,
          reply,
          status: (code) => (status = code),
          signal: aborter.signal,
        });
        // A handler that answered itself (a file stream, a 304) returns the reply.
        if (reply.sent || result === reply) return reply;
        if (result === undefined) return reply.code(status ?? 204).send();
        return reply.code(status ?? 200).send(result);
      },
    });
  }
  return app;
}
