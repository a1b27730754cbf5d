// Two muxes wired back to back in memory (the agent side dials: initiator), frames delivered on the
// next macrotask like a socket would.
import { Mux, type StreamHandler } from "@outpost/sdk/mux";

export function muxPair(agentHandler?: StreamHandler): { agent: Mux; server: Mux; close(): void } {
  let agent!: Mux;
  let server!: Mux;
  agent = new Mux({ isInitiator: true, send: (f) => void setImmediate(() => server.receive(f)), onStream: agentHandler });
  server = new Mux({ isInitiator: false, send: (f) => void setImmediate(() => agent.receive(f)) });
  return {
    agent,
    server,
    close() {
      agent.destroy("test over");
      server.destroy("test over");
    },
  };
}
