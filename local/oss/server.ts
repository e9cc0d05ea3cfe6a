/**
 * The local OSS HTTP server: per request, address → route (routes.ts) → authenticate → sub-resource check →
 * injected faults → the operation's handler (ops-*.ts). HTTP I/O helpers live in http-io.ts.
 * Streaming throughout: request bodies go to disk through `Store.receive`, responses are piped from disk.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { checkObjectKey, parseRequestTarget } from './addressing.ts';
import { authenticate } from './auth.ts';
import { noSuchBucket, OssError } from './errors.ts';
import { throttled, Throttle } from './faults.ts';
import { h, sendError, type Ctx, type ServerContext } from './http-io.ts';
import { checkSubresources, routeOf } from './routes.ts';
import { armTimeouts } from './timeouts.ts';
import { randomHex } from './store.ts';

export type { ServerContext } from './http-io.ts';
// The list paging unit tests import it from here.
export { listPage } from './listing.ts';

export function createOssHttpServer(sc: ServerContext): http.Server {
  const throttles = new WeakMap<Socket, Throttle>();
  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 60_000, highWaterMark: sc.store.bufferSize }, (req, res) => {
    void handle(sc, req, res, throttles);
  });
  // ali-oss (agentkeepalive) reuses idle sockets for 15 s, so the server must keep them longer;
  // and no Node request timeout, which would kill a slow multi-GB part (idle and body timeouts: timeouts.ts).
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0;
  server.timeout = 0;
  return server;
}

/**
 * The request runs to its end (the handler commits whatever it commits); where it would answer, the connection
 * is destroyed instead. Every answer starts with writeHead (http-io.ts and the GET path), so that is the cut.
 */
function loseResponse(c: Ctx, count: () => void): void {
  const res = c.res;
  res.writeHead = ((..._args: unknown[]) => {
    count();
    res.socket?.destroy();
    res.destroy();
    return res;
  }) as typeof res.writeHead;
}

async function handle(sc: ServerContext, req: http.IncomingMessage, res: http.ServerResponse, throttles: WeakMap<Socket, Throttle>): Promise<void> {
  const requestId = randomHex(12);
  const url = req.url ?? '/';
  const c: Ctx = {
    req,
    res,
    addr: { bucket: undefined, key: '', query: [], rawPath: '/', style: 'none' },
    requestId,
    op: 'Unknown',
    body: req,
    throttle: undefined,
    resetAfter: undefined,
  };
  const started = Date.now();
  try {
    c.addr = parseRequestTarget(url, h(req, 'host'), req.method ?? 'GET');
    const method = req.method ?? 'GET';
    const route = routeOf(method, c.addr, h(req, 'x-oss-copy-source') !== undefined);
    c.op = route?.operation ?? 'Unsupported';
    if (route?.target === 'object') checkObjectKey(c.addr.key);
    const bw = sc.faults.bandwidth;
    if (bw !== undefined) {
      let t = throttles.get(req.socket);
      if (!t) throttles.set(req.socket, (t = new Throttle(bw)));
      c.throttle = t;
      c.body = req.pipe(throttled(t));
    }
    authenticate(
      { method, headers: req.headers, bucket: c.addr.bucket, key: c.addr.key, query: c.addr.query },
      { credentials: sc.credentials, region: sc.region, allowAnonymous: sc.allowAnonymous, now: Date.now() },
    );
    checkSubresources(route, c.addr, method);
    const fault = sc.faults.decide(c.op);
    if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.kind === 'error') {
      throw fault.status === 503
        ? new OssError(503, 'SlowDown', 'Please reduce your request rate. (injected fault)')
        : new OssError(500, 'InternalError', 'We encountered an internal error. Please try again. (injected fault)');
    }
    if (fault.kind === 'reset') {
      const len = Number(h(req, 'content-length') ?? '0');
      if (len > 0) {
        // Reset mid-upload: take half of the body, then drop the connection.
        const socket = req.socket;
        let seen = 0;
        for await (const chunk of c.body) {
          seen += (chunk as Buffer).length;
          if (seen >= len / 2) break;
        }
        socket.destroy();
        return;
      }
      c.resetAfter = 0; // decided per response below: half of the response body
    }
    if (fault.kind === 'loseResponse') loseResponse(c, () => sc.faults.recordLostResponse(c.op));
    // checkSubresources threw when there is no route.
    const bucket = c.addr.bucket ?? '';
    if (route!.target !== 'service' && !route!.createsBucket && !sc.store.hasBucket(bucket)) throw noSuchBucket(bucket);
    // Armed after injected latency: time the server itself spends is never the client's idleness.
    armTimeouts(c, sc.timeouts);
    await sc.testHook?.(c.op, 'request');
    await route!.handler(sc, c, bucket);
  } catch (err) {
    const e =
      err instanceof OssError
        ? err
        : new OssError(500, 'InternalError', 'We encountered an internal error. Please try again.');
    if (!(err instanceof OssError)) sc.logger.error('local oss internal error', { op: c.op, requestId, err });
    if (res.destroyed || !req.socket || req.socket.destroyed) return;
    sendError(c, e);
  } finally {
    sc.logger.debug('request', { op: c.op, method: req.method, status: res.statusCode, requestId, ms: Date.now() - started });
  }
}
