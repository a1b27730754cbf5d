import { z } from "zod";

export const MAX_PAGE_LIMIT = 1000;

export const PaginationQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_LIMIT).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000_000).default(0),
});

export function pageSchema<T extends z.ZodTypeAny>(item: T) {
  return z.object({ items: z.array(item), count: z.number().int() });
}
