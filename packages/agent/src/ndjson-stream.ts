// Newline-delimited JSON values read from a mux stream (stream 0, terminal input). Invalid JSON or an
// over-long line throws out of the iterator; the caller decides what that ends.
import { MAX_RPC_LINE, NdjsonDecoder } from "@outpost/sdk/agent-rpc";
import type { MuxStream } from "@outpost/sdk/mux";

export async function* readNdjson(stream: MuxStream, maxLine = MAX_RPC_LINE, onBytes?: (n: number) => void): AsyncGenerator<unknown> {
  const decoder = new NdjsonDecoder(maxLine);
  for (;;) {
    const chunk = await stream.read();
    if (chunk === null) return;
    onBytes?.(chunk.length);
    let values: unknown[];
    try {
      values = decoder.push(chunk);
    } catch (err) {
      throw new Error(`bad NDJSON: ${(err as Error).message}`);
    }
    yield* values;
  }
}
