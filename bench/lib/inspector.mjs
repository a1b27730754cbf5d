// The Node inspector of a process the bench started with `--inspect=127.0.0.1:0` (a free port, printed
// on its stderr): force a garbage collection before reading memory (a Node RSS read at a random moment
// is mostly the GC's timing), read process.memoryUsage(), and take CPU profiles of chosen phases.
import fs from "node:fs/promises";
import WebSocket from "ws";

/** The inspector URL from the process output ("Debugger listening on ws://127.0.0.1:PORT/UUID"). */
export function inspectorUrl(output) {
  return /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/.exec(output)?.[1];
}

export async function connectInspector(url) {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 });
  await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
  let id = 0;
  const pending = new Map();
  ws.on("message", (data) => {
    const m = JSON.parse(data.toString());
    const p = m.id !== undefined && pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error) p.reject(new Error(`${p.method}: ${m.error.message}`));
    else p.resolve(m.result);
  });
  // A call that never answers becomes an error naming it (rather than a bench that hangs).
  const call = (method, params = {}, timeoutMs = 120_000) =>
    new Promise((resolve, reject) => {
      const i = ++id;
      const timer = setTimeout(() => (pending.delete(i), reject(new Error(`inspector ${method}: no answer within ${timeoutMs} ms`))), timeoutMs);
      const settle = (fn) => (v) => (clearTimeout(timer), fn(v));
      pending.set(i, { resolve: settle(resolve), reject: settle(reject), method });
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  await call("Runtime.enable");
  return {
    call,
    /** Full GC, then the process's own memory figures (bytes). */
    async memoryAfterGc() {
      await call("HeapProfiler.collectGarbage");
      const r = await call("Runtime.evaluate", { expression: "JSON.stringify(process.memoryUsage())", returnByValue: true });
      return JSON.parse(r.result.value);
    },
    async startProfile() {
      await call("Profiler.enable");
      await call("Profiler.setSamplingInterval", { interval: 500 });
      await call("Profiler.start");
    },
    /** Stops the profile and writes it to `file` (open it in Chrome DevTools); returns its top self times. */
    async stopProfile(file) {
      const { profile } = await call("Profiler.stop");
      if (file) await fs.writeFile(file, JSON.stringify(profile));
      return topSelfTimes(profile, 12);
    },
    close: () => ws.close(),
  };
}

/** The functions with the most self time in a CPU profile: [{ fn, ms, pct }], "(idle)" left out. */
export function topSelfTimes(profile, n) {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const cf = byId.get(profile.samples[i]).callFrame;
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    if (cf.functionName === "(idle)") continue;
    const key = `${cf.functionName || "(anonymous)"} ${cf.url.split("/").slice(-2).join("/")}${cf.url ? `:${cf.lineNumber + 1}` : ""}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, us]) => ({ fn, ms: Math.round(us / 100) / 10, pct: Math.round((us / total) * 1000) / 10 }));
}
