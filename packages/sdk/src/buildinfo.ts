import { z } from "zod";

export const BuildInfoSchema = z.object({
  version: z.string(),
  commit: z.string(),
  api_version: z.literal("v2"),
});
export type BuildInfo = z.infer<typeof BuildInfoSchema>;

export const HealthSchema = z.object({ status: z.literal("ok") });
