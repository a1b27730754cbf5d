import { z } from "zod";
import {
  CreatePlanRequestSchema,
  CreateTemplateVersionRequestSchema,
  ListTemplateVersionsQuerySchema,
  MAX_TEMPLATE_ARCHIVE_BYTES,
  SetActiveVersionRequestSchema,
  TemplateParamSchema,
  TemplateVersionParamSchema,
  UpdateTemplateRequestSchema,
} from "@outpost/sdk/templates";
import { toTemplate } from "../../services/convert-fleet.js";
import * as templates from "../../services/templates.js";
import { route, type RouteDef } from "../route.js";

const HashParamSchema = z.strictObject({ hash: z.string().regex(/^[0-9a-f]{64}$/, "must be a sha256 hash") });

export const templateRoutes: RouteDef[] = [
  route({
    method: "POST",
    url: "/api/v2/files",
    authenticated: true,
    action: "create:file",
    summary: "Upload a template archive (application/x-tar); returns its sha256 hash",
    rawBody: "application/x-tar",
    bodyLimit: MAX_TEMPLATE_ARCHIVE_BYTES + 1,
    handler: async ({ deps, caller, request, status }) => {
      status(201);
      return templates.uploadFile(deps, caller.subject, request.body as Buffer);
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/files/:hash",
    authenticated: true,
    action: "read:file",
    summary: "Download an uploaded template archive",
    params: HashParamSchema,
    handler: async ({ deps, caller, params, reply }) => {
      const data = await templates.downloadFile(deps, caller.subject, params.hash);
      return reply.type("application/x-tar").send(data);
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/templates",
    authenticated: true,
    action: "read:template",
    summary: "List templates",
    handler: async ({ deps, caller }) => templates.listTemplates(deps, caller.subject),
  }),
  route({
    method: "GET",
    url: "/api/v2/templates/:template",
    authenticated: true,
    action: "read:template",
    summary: "Get a template by name or id",
    params: TemplateParamSchema,
    handler: async ({ deps, caller, params }) => toTemplate(await templates.resolveTemplate(deps, caller.subject, params.template)),
  }),
  route({
    method: "PATCH",
    url: "/api/v2/templates/:template",
    authenticated: true,
    action: "update:template",
    summary: "Update a template's display name, description or icon",
    params: TemplateParamSchema,
    body: UpdateTemplateRequestSchema,
    handler: async ({ deps, caller, params, body, audit }) => templates.updateTemplate(deps, caller.subject, await templates.resolveTemplate(deps, caller.subject, params.template), body, audit),
  }),
  route({
    method: "DELETE",
    url: "/api/v2/templates/:template",
    authenticated: true,
    action: "delete:template",
    summary: "Delete a template that no workspace uses",
    params: TemplateParamSchema,
    handler: async ({ deps, caller, params, audit }) => {
      await templates.deleteTemplate(deps, caller.subject, await templates.resolveTemplate(deps, caller.subject, params.template), audit);
      return undefined;
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/templates/:template/versions",
    authenticated: true,
    action: "read:template",
    summary: "List a template's versions, newest first",
    params: TemplateParamSchema,
    query: ListTemplateVersionsQuerySchema,
    handler: async ({ deps, caller, params, query }) =>
      templates.listVersions(deps, await templates.resolveTemplate(deps, caller.subject, params.template), query.include_archived === "true"),
  }),
  route({
    method: "POST",
    url: "/api/v2/templates/:template/versions",
    authenticated: true,
    action: "create:template",
    summary: "Push a version from an uploaded archive (creates the template on first push) and queue its import job",
    params: z.strictObject({ template: z.string().min(1).max(64) }),
    body: CreateTemplateVersionRequestSchema,
    handler: async ({ deps, caller, params, body, audit, status }) => {
      status(201);
      return templates.createVersion(deps, caller.subject, params.template, body, audit);
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/templates/:template/versions/:version",
    authenticated: true,
    action: "read:template",
    summary: "Get a template version by name or id",
    params: TemplateVersionParamSchema,
    handler: async ({ deps, caller, params }) => {
      const t = await templates.resolveTemplate(deps, caller.subject, params.template);
      return templates.versionView(deps, await templates.resolveVersion(deps, caller.subject, t, params.version));
    },
  }),
  route({
    method: "PUT",
    url: "/api/v2/templates/:template/active-version",
    authenticated: true,
    action: "update:template",
    summary: "Make a successfully imported version the active one",
    params: TemplateParamSchema,
    body: SetActiveVersionRequestSchema,
    handler: async ({ deps, caller, params, body, audit }) => {
      const t = await templates.resolveTemplate(deps, caller.subject, params.template);
      return templates.activateVersion(deps, caller.subject, t, await templates.resolveVersion(deps, caller.subject, t, body.version), audit);
    },
  }),
  route({
    method: "POST",
    url: "/api/v2/templates/:template/plans",
    authenticated: true,
    action: "update:template",
    summary: "Dry run: queue a plan of what pushing an uploaded archive would change in each workspace",
    params: TemplateParamSchema,
    body: CreatePlanRequestSchema,
    handler: async ({ deps, caller, params, body, status }) => {
      status(201);
      return templates.createPlan(deps, caller.subject, await templates.resolveTemplate(deps, caller.subject, params.template), body.file_hash);
    },
  }),
  route({
    method: "GET",
    url: "/api/v2/templates/:template/plans/:plan",
    authenticated: true,
    action: "update:template",
    summary: "A dry run's status and, once done, the changes per workspace",
    params: z.strictObject({ template: z.string().min(1).max(64), plan: z.string().uuid("must be a plan id") }),
    handler: async ({ deps, caller, params }) => templates.getPlan(deps, caller.subject, await templates.resolveTemplate(deps, caller.subject, params.template), params.plan),
  }),
  ...(["archive", "unarchive"] as const).map((op) =>
    route({
      method: "POST",
      url: `/api/v2/templates/:template/versions/:version/${op}`,
      authenticated: true,
      action: "update:template",
      summary: op === "archive" ? "Archive a version (hidden from lists; cannot be used for new workspaces)" : "Unarchive a version",
      params: TemplateVersionParamSchema,
      handler: async ({ deps, caller, params, audit }) => {
        const t = await templates.resolveTemplate(deps, caller.subject, params.template);
        return templates.archiveVersion(deps, caller.subject, t, await templates.resolveVersion(deps, caller.subject, t, params.version), op === "archive", audit);
      },
    }),
  ),
];
