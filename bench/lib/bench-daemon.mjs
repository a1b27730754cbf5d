// An external provisioner daemon inside the bench: the server issues agent tokens only through builds,
// so the bench registers daemons with a provisioner key whose tags route the bench template's jobs to
// them (the built-in daemons have no tags and never take a tagged job). They "build" nothing: a start
// build reports one agent with a fresh random token, which is what a driver does once it started an
// agent; the bench then plays that agent itself (bench/lib/sim-agent.mjs).
import { randomBytes } from "node:crypto";
import { sleep } from "./outpost.mjs";

export const BENCH_TAGS = { bench: "agent-scale" };
const AGENT_SPEC = { name: "main", os: "linux", arch: "amd64", dir: "/tmp" };
const ADDRESS = "process_agent.main";

function daemonApi(url, key) {
  return async (method, path, body) => {
    const res = await fetch(url + path, {
      method,
      headers: { "Outpost-Provisioner-Key": key, "content-type": "application/json" },
      body: JSON.stringify(body ?? {}),
      signal: AbortSignal.timeout(70_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
    return res.status === 204 || !text ? undefined : JSON.parse(text);
  };
}

/**
 * Creates a provisioner key with BENCH_TAGS (as the owner, through `api`) and runs `count` daemon loops
 * with it. `tokens` maps workspace name -> the agent token its latest start build reported.
 */
export async function startBenchDaemons(api, url, { count = 4, name = "bench" } = {}) {
  const { key } = await api.post("/api/v2/provisionerkeys", { name, tags: BENCH_TAGS });
  const call = daemonApi(url, key);
  const tokens = new Map();
  const completed = { import: 0, start: 0, stop: 0, delete: 0 };
  let stopping = false;
  let failure;

  async function handle(job) {
    if (job.type === "template_version_import") {
      await call("POST", `/api/v2/provisionerjobs/${job.id}/complete`, { import: { parameters: [], resources: [] } });
      completed.import++;
    } else if (job.type === "workspace_build" && job.build.workspace.transition === "start") {
      // 32 random bytes, base64url: 43 characters, like a real driver's agent token.
      const token = randomBytes(32).toString("base64url");
      const state = [{ address: ADDRESS, resource: { type: "process_agent", name: "main", agent: AGENT_SPEC }, outputs: {} }];
      await call("POST", `/api/v2/provisionerjobs/${job.id}/complete`, { build: { state, agents: [{ name: "main", resource_address: ADDRESS, spec: AGENT_SPEC, token }] } });
      tokens.set(job.build.workspace.name, token);
      completed.start++;
    } else if (job.type === "workspace_build") {
      await call("POST", `/api/v2/provisionerjobs/${job.id}/complete`, { build: { state: [], agents: [] } });
      completed[job.build.workspace.transition]++;
    } else {
      await call("POST", `/api/v2/provisionerjobs/${job.id}/fail`, { error: `the bench daemon does not run ${job.type} jobs` });
    }
  }

  const loops = [];
  for (let i = 0; i < count; i++) {
    const daemon = await call("POST", "/api/v2/provisionerdaemons", { name: `${name}-${i}`, version: "bench" });
    loops.push(
      (async () => {
        while (!stopping) {
          try {
            const job = await call("POST", `/api/v2/provisionerdaemons/${daemon.id}/acquire`, { wait_seconds: 2 });
            if (job) await handle(job);
          } catch (err) {
            if (stopping) break;
            failure = err;
            await sleep(500);
          }
        }
      })(),
    );
  }
  return {
    tokens,
    completed,
    lastError: () => failure,
    async stop() {
      stopping = true;
      await Promise.all(loops);
    },
  };
}
