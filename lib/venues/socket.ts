/** Small WebSocket helpers shared by the venue clients. */
import WebSocket from "ws";

/** Close politely (1000) and wait for it; terminate if the peer does not answer within `graceMs`. */
export function closeSocket(ws: WebSocket | null, graceMs = 1000): Promise<void> {
  if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      ws.terminate();
      resolve();
    }, graceMs);
    ws.once("close", () => {
      clearTimeout(force);
      resolve();
    });
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1000, "client closing");
  });
}
