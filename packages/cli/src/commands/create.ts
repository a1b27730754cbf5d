import { templateNameSchema } from "@outpost/sdk/templates";
import { authedClient } from "../client.js";
import { CliError, type CliContext } from "../context.js";
import { formatValue, givenParameters, resolveParameters } from "../parameters.js";
import { checkValue, parseSubArgs } from "../subcommands.js";
import { confirm, followBuild, parseWorkspaceRef, versionById, workspaceLabel } from "../workspace-helpers.js";

const HELP = `Usage: outpost create NAME -t TEMPLATE [options]

Creates a workspace from the template's active version and starts it, printing the build's logs
until it is done. NAME is yours, or OWNER/NAME to create one for another user (admins).

Parameter values are checked against the template before anything is sent. Missing parameters
(required, or without a default) are prompted for in a terminal; otherwise they must be given.

Options:
  -t, --template TEMPLATE        the template to use
  --parameter NAME=VALUE         a parameter value; repeat for more (lists: a,b,c or ["a","b"])
  --rich-parameter-file FILE     parameter values from a file: a JSON object, or YAML "name: value" lines
                                 (--parameter flags win over the file)
  -y, --yes                      do not ask for confirmation
  --no-follow                    return once the build is queued instead of following its logs`;

export async function run(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, {
    usage: HELP,
    options: {
      template: { type: "string", short: "t" },
      parameter: { type: "string", multiple: true },
      "rich-parameter-file": { type: "string" },
      yes: { type: "boolean", short: "y" },
      "no-follow": { type: "boolean" },
    },
    positionals: ["NAME"],
  });
  if (a.help) return 0;
  const v = a.values as { template?: string; parameter?: string[]; "rich-parameter-file"?: string; yes?: boolean; "no-follow"?: boolean };
  const ref = parseWorkspaceRef(a.positionals[0]!);
  const given = await givenParameters(v.parameter, v["rich-parameter-file"]);
  const client = await authedClient(ctx);
  let templateName = v.template;
  if (templateName === undefined) {
    if (!ctx.io.interactive) throw new CliError("missing -t/--template", ["run `outpost templates list` for the templates you can use"], 2);
    const templates = await client.listTemplates();
    if (templates.length === 0) throw new CliError("there are no templates yet", ["an admin pushes one with `outpost templates push NAME`"]);
    ctx.io.err("Templates:");
    templates.forEach((t, i) => ctx.io.err(`  ${i + 1}) ${t.name}${t.description ? ` - ${t.description}` : ""}`));
    const answer = (await ctx.io.prompt("Template")).trim();
    templateName = /^\d+$/.test(answer) ? templates[Number(answer) - 1]?.name ?? answer : answer;
  }
  checkValue("--template", templateNameSchema, templateName);
  const template = await client.template(templateName);
  if (!template.active_version_id) throw new CliError(`template ${template.name} has no active version`, [`push one with \`outpost templates push ${template.name}\``]);
  const version = await versionById(client, template.name, template.active_version_id);
  const values = await resolveParameters(ctx, { specs: version.parameters, given, mode: "create", source: `template ${template.name} version ${version.name}` });
  const owner = ref.owner === "me" ? "" : `${ref.owner}/`;
  if (ctx.io.interactive && !v.yes) {
    const summary = Object.entries(values).map(([k, val]) => `${k}=${formatValue(val)}`).join(", ");
    const ok = await confirm(ctx, `Create workspace ${owner}${ref.name} from template ${template.name} (version ${version.name})${summary ? ` with ${summary}` : ""}?`, { defaultYes: true, what: "create" });
    if (!ok) {
      ctx.io.err("Not created.");
      return 1;
    }
  }
  const ws = await client.createWorkspace(ref.owner, { name: ref.name, template: template.name, template_version_id: version.id, parameters: values });
  ctx.io.err(`Created workspace ${workspaceLabel(ws)} from template ${template.name} (version ${version.name}).`);
  await followBuild(ctx, client, ws, ws.latest_build, !v["no-follow"]);
  return 0;
}
