/**
 * Idle and body timeouts (OSS answers both with 400 RequestTimeout and closes the connection):
 * - idle: no byte of the request body for `idleMs` → RequestTimeout; a client that stops reading a response
 *   for `idleMs` is disconnected (the response is already under way, so there is nothing left to answer).
 * - body: the whole request body must arrive within `bodyMs` of the request start, so a body trickling one
 *   byte at a time cannot hold a connection (and a temp file) open indefinitely.
 * A server still working on a complete request (fsync, Complete) is never timed out: that is not the client's
 * doing. One interval timer per request compares the socket's byte counters, so the body path does no extra
 * work per chunk.
 */
import { OssError } from './errors.ts';
import { sendError, type Ctx } from './http-io.ts';

export interface TimeoutSettings {
  idleMs: number;
  bodyMs: number;
}

/** Defaults: 60 s idle (the official Go SDK's read/write timeout is the same), 1 h for a whole body. */
export const DEFAULT_TIMEOUTS: TimeoutSettings = { idleMs: 60_000, bodyMs: 3_600_000 };

/** How long a timed-out connection stays open (reading nothing) so the client can read the 400. */
const LINGER_MS = 1000;

export const requestTimeout = () =>
  new OssError(400, 'RequestTimeout', 'Your socket connection to the server was not read from or written to within the timeout period.', {}, { Connection: 'close' });

/** Answers 400 RequestTimeout and closes the connection once the answer is out; the body stream then fails. */
function timeOut(c: Ctx): void {
  if (c.res.headersSent) {
    c.res.destroy();
    return;
  }
  const err = requestTimeout();
  const socket = c.req.socket;
  c.res.once('finish', () => {
    // Stop taking body bytes and send FIN after the answer; close only after a moment, because closing a socket
    // with unread input sends RST, which can destroy the answer before the client has read it. A finished
    // response takes its request off Node's abort list, so the body stream is failed here (the receiving
    // handler then removes its temp file).
    socket.pause();
    socket.end();
    setTimeout(() => {
      c.req.destroy(err);
      socket.destroy();
    }, LINGER_MS).unref();
  });
  sendError(c, err);
}

export function armTimeouts(c: Ctx, t: TimeoutSettings): void {
  const limits = [t.idleMs, t.bodyMs].filter((ms) => ms > 0);
  if (limits.length === 0) return;
  const { req, res } = c;
  const socket = req.socket;
  const started = Date.now();
  let seen = socket.bytesRead + socket.bytesWritten;
  let progressed = started;
  const timer = setInterval(() => {
    const now = Date.now();
    const bytes = socket.bytesRead + socket.bytesWritten;
    if (bytes !== seen || (req.complete && !res.headersSent)) {
      seen = bytes;
      progressed = now;
    }
    const idle = t.idleMs > 0 && now - progressed >= t.idleMs;
    const bodyLate = t.bodyMs > 0 && !req.complete && now - started >= t.bodyMs;
    if (!idle && !bodyLate) return;
    clearInterval(timer);
    timeOut(c);
  }, Math.max(5, Math.min(...limits) / 4));
  timer.unref();
  res.once('close', () => clearInterval(timer));
}
