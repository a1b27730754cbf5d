import { Duplex } from "node:stream";
import type { MuxStream } from "@outpost/sdk/mux";

/** The Node Duplex adapter of packages/sdk/README.md ("Node Duplex adapter"), for the test agent's TCP dials. */
export function toDuplex(s: MuxStream): Duplex {
  let reading = false;
  const d = new Duplex({
    read() {
      if (reading) return;
      reading = true;
      const pump = (): void => {
        s.read().then(
          (chunk) => {
            if (chunk === null) return void d.push(null);
            if (d.push(chunk)) pump();
            else reading = false;
          },
          (err: Error) => d.destroy(err),
        );
      };
      pump();
    },
    write(chunk: Uint8Array, _encoding, callback) {
      s.write(chunk).then(() => callback(), callback);
    },
    final(callback) {
      s.end();
      callback();
    },
    destroy(err, callback) {
      s.reset(err?.message ?? "destroyed");
      callback(err);
    },
  });
  return d;
}
