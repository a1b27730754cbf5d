import type { TarEntry } from "@outpost/sdk/tar";

const text = (s: string) => new TextEncoder().encode(s);
const longDir = "a-rather-long-folder-name-for-testing/".repeat(3); // 114 characters

/** Entries that exercise every path form the ustar writer handles: plain, prefix split, pax, UTF-8. */
export const TAR_ENTRIES: TarEntry[] = [
  { path: "template.ts", mode: 0o644, data: text("export default 1;\n") },
  { path: "scripts/setup.sh", mode: 0o755, data: text("#!/bin/sh\necho hi\n") },
  { path: "empty.txt", mode: 0o644, data: new Uint8Array(0) },
  { path: "exactly-one-block.bin", mode: 0o644, data: new Uint8Array(512).fill(7) },
  { path: `${longDir}file-in-prefix.txt`, mode: 0o644, data: text("prefix split\n") },
  { path: `${"x".repeat(120)}/${"y".repeat(150)}.txt`, mode: 0o644, data: text("pax path\n") },
  { path: "ünïcödé/名前.txt", mode: 0o644, data: text("utf-8\n") },
];
