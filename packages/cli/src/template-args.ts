// Arguments and lookups shared by the `outpost templates` subcommands.
import type { FleetClient } from "@outpost/sdk/client-fleet";
import { templateNameSchema, versionNameSchema, type Template, type TemplateVersion } from "@outpost/sdk/templates";
import { checkValue } from "./subcommands.js";
import { versionById } from "./workspace-helpers.js";

export function templateArg(value: string): string {
  checkValue("template name", templateNameSchema, value);
  return value;
}

export function versionArg(value: string): string {
  checkValue("version name", versionNameSchema, value);
  return value;
}

export async function activeVersion(client: FleetClient, t: Template): Promise<TemplateVersion | undefined> {
  return t.active_version_id ? versionById(client, t.name, t.active_version_id) : undefined;
}
