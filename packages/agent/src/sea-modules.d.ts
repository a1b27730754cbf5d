// Types for the package internals the single-executable self-test (sea-self-test.ts) checks.

declare module "ssh2/lib/protocol/crypto.js" {
  /** True when ssh2's native crypto addon (sshcrypto.node) loaded; false means the slow JS fallback. */
  export const bindingAvailable: boolean;
}

declare module "bufferutil" {
  export function mask(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void;
  export function unmask(buffer: Buffer, mask: Buffer): void;
}
