import WebSocket from "ws";

/** How a WebSocket request ended before any message: refused with an HTTP response, or upgraded. */
export type Dialed = { refused: { status: number; body: string; headers: Record<string, string | string[] | undefined> } } | { socket: WebSocket };

/** Opens a WebSocket; a refusal before the upgrade comes back as its status and body (not an error). */
export function dial(url: string, headers: Record<string, string> = {}): Promise<Dialed> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers, perMessageDeflate: false });
    socket.once("unexpected-response", (_req, res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ refused: { status: res.statusCode ?? 0, body, headers: res.headers } }));
    });
    socket.once("open", () => resolve({ socket }));
    socket.once("error", reject);
  });
}

/** The refusal of a request expected to be refused before the upgrade, with its parsed API error body. */
export async function refusal(url: string, headers: Record<string, string> = {}): Promise<{ status: number; error: { code: string; message: string; detail?: string; validations?: { field: string; detail: string }[] } }> {
  const d = await dial(url, headers);
  if ("socket" in d) {
    d.socket.terminate();
    throw new Error(`expected ${url} to be refused, but it upgraded`);
  }
  return { status: d.refused.status, error: JSON.parse(d.refused.body) };
}

export function closed(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) return resolve({ code: 1006, reason: "" });
    socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}
