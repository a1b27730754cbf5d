// A mux stream as a Node Duplex (the recipe proven in packages/sdk/test/unit/mux-duplex.test.ts), with
// byte counting for the agent's stats: every chunk read from the stream came from the server side
// (`rx`), every chunk written goes to it (`tx`).
import { Duplex } from "node:stream";
import type { MuxStream } from "@outpost/sdk/mux";

export interface ByteCounter {
  addBytes(rx: number, tx: number): void;
}

export function toDuplex(s: MuxStream, counter?: ByteCounter): Duplex {
  let reading = false;
  const d = new Duplex({
    read() {
      if (reading) return;
      reading = true;
      const pump = (): void => {
        s.read().then(
          (chunk) => {
            if (chunk === null) return void d.push(null);
            counter?.addBytes(chunk.length, 0);
            if (d.push(chunk)) pump();
            else reading = false;
          },
          (err: Error) => d.destroy(err),
        );
      };
      pump();
    },
    write(chunk: Uint8Array, _encoding, callback) {
      counter?.addBytes(0, chunk.length);
      s.write(chunk).then(() => callback(), callback);
    },
    final(callback) {
      s.end();
      callback();
    },
    destroy(err, callback) {
      s.reset(err?.message ?? "destroyed"); // a no-op once both sides ended cleanly
      callback(err);
    },
  });
  return d;
}
