import fs from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { readSession } from "../config-store.js";
import { CliError, type CliContext } from "../context.js";
import { renderBlock, splitConfig, withBlock } from "../ssh-config.js";
import { confirm } from "../workspace-helpers.js";

const HELP = `Usage: outpost config-ssh [options]

Adds a block to ~/.ssh/config so every workspace is reachable as \`outpost.WORKSPACE\` (or
\`outpost.WORKSPACE.AGENT\`, \`outpost.OWNER--WORKSPACE[.AGENT]\`) with OpenSSH, scp, sftp, rsync, VS Code
Remote-SSH and JetBrains Gateway: they all go through \`ProxyCommand outpost ssh --stdio\`. Running it
again rewrites only that block.

Options:
  -y, --yes                   do not ask before changing the file
  --dry-run                   print what would change, change nothing
  --remove                    remove the block
  --control-master            reuse one connection per workspace (ControlMaster auto, 10 min)
  --ssh-option "KEY VALUE"    an extra option for every workspace host; repeat for more
  --ssh-config-file PATH      the file to change (default ~/.ssh/config)`;

function diffLines(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  const removed = a.filter((l) => !b.includes(l)).map((l) => `- ${l}`);
  const added = b.filter((l) => !a.includes(l)).map((l) => `+ ${l}`);
  return [...removed, ...added];
}

export async function run(ctx: CliContext): Promise<number> {
  const { values } = parseArgs({
    args: ctx.argv,
    options: {
      yes: { type: "boolean", short: "y" },
      "dry-run": { type: "boolean" },
      remove: { type: "boolean" },
      "control-master": { type: "boolean" },
      "ssh-option": { type: "string", multiple: true },
      "ssh-config-file": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    ctx.io.out(HELP);
    return 0;
  }
  for (const opt of values["ssh-option"] ?? []) {
    if (!/^[A-Za-z][A-Za-z0-9]*[ =]\S/.test(opt) || /[\r\n]/.test(opt)) throw new CliError(`invalid --ssh-option ${JSON.stringify(opt)}`, ['use "KEY VALUE", e.g. --ssh-option "ForwardAgent yes"'], 2);
  }
  // Through a symlinked config (dotfiles managers), change the file it points to, keep the link.
  const given = path.resolve(values["ssh-config-file"] ?? path.join(ctx.home, ".ssh", "config"));
  const file = await fs.realpath(given).catch(() => given);
  const current = await fs.readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? "" : Promise.reject(err)));
  try {
    splitConfig(current);
  } catch (err) {
    throw new CliError(`cannot update ${file}: ${(err as Error).message}`, ["fix or remove the markers by hand, then run this again"]);
  }
  let next: string;
  if (values.remove) {
    next = withBlock(current, undefined);
  } else {
    const session = await readSession(ctx);
    const url = ctx.env.OUTPOST_URL || session?.url;
    if (!url) throw new CliError("you are not logged in", ["run `outpost login URL` first: the ProxyCommand uses that login"]);
    if (!ctx.self) throw new CliError("cannot tell where this CLI is installed");
    next = withBlock(current, renderBlock({ node: ctx.self.node, script: ctx.self.script, controlMaster: Boolean(values["control-master"]), extraOptions: values["ssh-option"] ?? [], url }));
  }
  if (next === current) {
    ctx.io.out(`${file} is up to date.`);
    return 0;
  }
  const changes = diffLines(current, next);
  if (values["dry-run"]) {
    ctx.io.out(`Would change ${file}:`);
    for (const l of changes) ctx.io.out(l);
    return 0;
  }
  if (!values.yes) {
    if (!ctx.io.interactive) throw new CliError(`not changing ${file} without confirmation`, ["pass -y, or --dry-run to see the change"], 2);
    for (const l of changes) ctx.io.err(l);
    if (!(await confirm(ctx, `Update ${file}?`, { what: "update the SSH config" }))) return 1;
  }
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.outpost-${process.pid}`;
  const mode = await fs.stat(file).then((st) => st.mode & 0o777, () => 0o600);
  await fs.writeFile(tmp, next, { mode });
  await fs.rename(tmp, file);
  ctx.io.out(values.remove ? `Removed the Outpost block from ${file}.` : `Updated ${file}: connect with \`ssh outpost.WORKSPACE\`.`);
  return 0;
}
