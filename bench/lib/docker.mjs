// Docker helpers for the benches: the `docker` CLI (async, so event streams keep flowing), the Engine
// API over its unix socket (no CLI start-up in the figure), and a `docker events` recorder that lets a
// bench see when the engine did what during a timed phase.
import { spawn } from "node:child_process";
import http from "node:http";

export const DOCKER_SOCKET = process.env.DOCKER_HOST?.startsWith("unix://") ? process.env.DOCKER_HOST.slice(7) : "/var/run/docker.sock";

/** Runs `docker ARGS...`; resolves with trimmed stdout, rejects with stderr on a non-zero exit. */
export function docker(args, { allowFail = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.once("error", reject);
    child.once("close", (code) => {
      if (code === 0 || allowFail) resolve(out.trim());
      else reject(new Error(`docker ${args.join(" ")} exited ${code}: ${err.trim()}`));
    });
  });
}

/** One Engine API call over the unix socket; JSON in and out. */
export function engine(method, path, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { socketPath: DOCKER_SOCKET, method, path, headers: payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {} },
      (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => {
          const data = text ? (() => { try { return JSON.parse(text); } catch { return text; } })() : undefined;
          if (res.statusCode >= 400) reject(new Error(`docker API ${method} ${path}: ${res.statusCode} ${data?.message ?? text}`));
          else resolve(data);
        });
      },
    );
    req.once("error", reject);
    req.end(payload);
  });
}

/**
 * Records `docker events` (containers and volumes) from `sinceEpochMs` on. `--since` makes the engine
 * replay what happened before the stream was attached, so no event is lost to start-up. Each event is
 * `{ t (epoch ms), type, action, id, name, attributes }`.
 */
export function recordEvents(sinceEpochMs) {
  const events = [];
  const child = spawn("docker", ["events", "--since", (sinceEpochMs / 1000).toFixed(3), "--format", "{{json .}}", "--filter", "type=container", "--filter", "type=volume"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let buf = "";
  child.stdout.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (!line) continue;
      try {
        const e = JSON.parse(line);
        events.push({
          t: Number(BigInt(e.timeNano) / 1000n) / 1000,
          type: e.Type,
          action: e.Action,
          id: e.Actor?.ID ?? e.id,
          name: e.Actor?.Attributes?.name ?? e.Actor?.ID,
          attributes: e.Actor?.Attributes ?? {},
        });
      } catch {
        // not an event line
      }
    }
  });
  return {
    events,
    /** Events in [from, to] (epoch ms) for which `match(event)` holds, oldest first. */
    between(from, to, match) {
      return events.filter((e) => e.t >= from && e.t <= to && match(e)).sort((a, b) => a.t - b.t);
    },
    stop() {
      child.kill("SIGTERM");
    },
  };
}
