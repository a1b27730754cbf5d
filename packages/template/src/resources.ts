import { z } from "zod";
import { AgentSpecSchema, type AgentSpec } from "./agent.js";

/** Template-local resource names: stable across builds, they key the diff against the previous build. */
const localName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/, "must be letters, digits, '_', '.', '-' (max 128)");

const VolumeSchema = z.strictObject({
  type: z.literal("docker_volume"),
  name: localName,
  labels: z.record(z.string(), z.string().max(1024)).optional(),
});

const ImageSchema = z.strictObject({
  type: z.literal("docker_image"),
  name: localName,
  dockerfile: z.string().max(1024).default("Dockerfile"),
  context: z.string().max(1024).default("."),
  buildArgs: z.record(z.string(), z.string().max(4096)).optional(),
  /** Set by the provisioner (a hash of the build context), so a changed Dockerfile rebuilds the image. */
  contextHash: z.string().max(128).optional(),
});

const MountSchema = z.strictObject({
  volume: localName.optional(),
  hostPath: z.string().max(4096).optional(),
  target: z.string().min(1).max(4096).startsWith("/", "must be an absolute path"),
  readOnly: z.boolean().optional(),
}).refine((m) => Boolean(m.volume) !== Boolean(m.hostPath), { message: "must give exactly one of a volume or a host path" });

const ContainerSchema = z.strictObject({
  type: z.literal("docker_container"),
  name: localName,
  /** An image reference, or the local name of a docker_image resource (`{ build: name }`). */
  image: z.union([z.string().min(1).max(512), z.strictObject({ build: localName })]),
  agent: AgentSpecSchema.optional(),
  cpus: z.number().positive().max(1024).optional(),
  memoryMb: z.number().int().min(6).max(4_194_304).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"), z.string().max(65536)).optional(),
  command: z.array(z.string().max(65536)).max(256).optional(),
  mounts: z.array(MountSchema).max(64).optional(),
  dailyCost: z.number().int().min(0).max(1_000_000).optional(),
});

const ProcessAgentSchema = z.strictObject({
  type: z.literal("process_agent"),
  name: localName,
  agent: AgentSpecSchema,
  dailyCost: z.number().int().min(0).max(1_000_000).optional(),
});

export const ResourceSchema = z.discriminatedUnion("type", [VolumeSchema, ImageSchema, ContainerSchema, ProcessAgentSchema]);
export type Resource = z.output<typeof ResourceSchema>;
export type DockerVolume = z.output<typeof VolumeSchema>;
export type DockerImage = z.output<typeof ImageSchema>;
export type DockerContainer = z.output<typeof ContainerSchema>;
export type ProcessAgent = z.output<typeof ProcessAgentSchema>;

/** How a resource is known across builds: `type.name`, like a Terraform address. */
export function addressOf(r: { type: string; name: string }): string {
  return `${r.type}.${r.name}`;
}

export interface MountInput {
  source: DockerVolume | { hostPath: string };
  target: string;
  readOnly?: boolean;
}

export interface ContainerInput {
  name?: string;
  image: string | DockerImage;
  agent?: AgentSpec;
  cpus?: number;
  memoryMb?: number;
  env?: Record<string, string>;
  command?: string[];
  mounts?: MountInput[];
  dailyCost?: number;
}

export const docker = {
  volume: (o: { name: string; labels?: Record<string, string> }): DockerVolume => ({ type: "docker_volume", ...o }),
  image: (o: { name?: string; dockerfile?: string; context?: string; buildArgs?: Record<string, string> } = {}): DockerImage => ({
    type: "docker_image",
    name: o.name ?? "image",
    dockerfile: o.dockerfile ?? "Dockerfile",
    context: o.context ?? ".",
    ...(o.buildArgs ? { buildArgs: o.buildArgs } : {}),
  }),
  container: ({ name = "main", image, mounts, ...rest }: ContainerInput): DockerContainer => ({
    type: "docker_container",
    name,
    image: typeof image === "string" ? image : { build: image.name },
    ...(mounts
      ? {
          mounts: mounts.map((m) => ({
            ...("hostPath" in m.source ? { hostPath: m.source.hostPath } : { volume: m.source.name }),
            target: m.target,
            ...(m.readOnly ? { readOnly: true } : {}),
          })),
        }
      : {}),
    ...rest,
  }),
};

export const processDriver = {
  /** The workspace is a host directory and the agent a host process: needs no Docker. */
  agent: (o: { name?: string; agent: AgentSpec; dailyCost?: number }): ProcessAgent => ({ type: "process_agent", name: o.name ?? "main", agent: o.agent, ...(o.dailyCost !== undefined ? { dailyCost: o.dailyCost } : {}) }),
};
