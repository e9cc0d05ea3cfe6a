/**
 * Idle and body timeouts (OSS answers both with 400 RequestTimeout and closes the connection):
 * - idle: no byte of the request body for `idleMs` → RequestTimeout; a client that stops reading a response
 *   for `idleMs` is disconnected (the response is already under way, so there is nothing left to answer). Uses
 *   the socket's own inactivity timer, which Node refreshes on every read and write anyway: no per-chunk work.
 * - body: the whole request body must arrive within `bodyMs` of the request start, so a body trickling one
 *   byte at a time cannot hold a connection (and a temp file) open indefinitely.
 * A server still working on a complete request (fsync, Complete) is never timed out: that is not the client's
 * doing.
 */
import { OssError } from './errors.ts';
import { h, sendError, type Ctx } from './http-io.ts';

export interface TimeoutSettings {
  idleMs: number;
  bodyMs: number;
}

/** Defaults: 60 s idle (the official Go SDK's read/write timeout is the same), 1 h for a whole body. */
export const DEFAULT_TIMEOUTS: TimeoutSettings = { idleMs: 60_000, bodyMs: 3_600_000 };

export const requestTimeout = () =>
  new OssError(400, 'RequestTimeout', 'Your socket connection to the server was not read from or written to within the timeout period.', {}, { Connection: 'close' });

/** Answers 400 RequestTimeout and closes the connection once the answer is out; the body stream then fails. */
function timeOut(c: Ctx): void {
  if (c.res.headersSent) {
    c.res.destroy();
    return;
  }
  const err = requestTimeout();
  // A finished response takes its request off Node's abort list, so the body stream is failed here (the
  // receiving handler then removes its temp file), and the socket closed.
  c.res.once('finish', () => {
    c.req.destroy(err);
    c.req.socket.destroy();
  });
  sendError(c, err);
}

export function armTimeouts(c: Ctx, t: TimeoutSettings): void {
  const { req, res } = c;
  if (t.idleMs > 0) {
    req.socket.setTimeout(t.idleMs);
    // A `timeout` listener on the response keeps Node from destroying the socket itself; we decide here.
    res.on('timeout', () => {
      if (!req.complete) timeOut(c);
      else if (res.headersSent) res.destroy();
    });
  }
  const hasBody = (h(req, 'content-length') ?? '0') !== '0' || h(req, 'transfer-encoding') !== undefined;
  if (t.bodyMs > 0 && hasBody && !req.complete) {
    const timer = setTimeout(() => {
      if (!req.complete) timeOut(c);
    }, t.bodyMs);
    timer.unref();
    const clear = () => clearTimeout(timer);
    req.once('end', clear);
    res.once('close', clear);
  }
}
