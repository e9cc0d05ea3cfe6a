/**
 * The admin API: health and run-time fault settings, on a port of its own so that no OSS request (any bucket,
 * any key) can reach it. Every request needs `Authorization: Bearer <token>` (generated at start, printed in the
 * ready line). Browser-shaped requests are refused before anything else: an `Origin` header (a cross-origin or
 * DNS-rebinding page) → 403, and a body without `Content-Type: application/json` → 415, since `text/plain`, form
 * and multipart bodies are what a page may send without a CORS preflight. Errors are JSON `{error}`; a refused
 * request has no effect.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseFaultConfig, type Faults } from './faults.ts';
import type { Store } from './store.ts';

export interface AdminServer {
  /** `http://127.0.0.1:PORT` (loopback only). */
  endpoint: string;
  token: string;
  close(): Promise<void>;
}

export interface AdminOptions {
  store: Store;
  faults: Faults;
  /** A loopback address (default 127.0.0.1). */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
}

/** Largest fault config accepted. */
const MAX_ADMIN_BODY = 64 * 1024;

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

class AdminRefusal extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

type AdminRoute = (req: http.IncomingMessage, o: AdminOptions) => Promise<unknown>;

const ROUTES: Record<string, AdminRoute> = {
  // `hash`: the body hash kernel and how full its batches run (items per batch ~ lanes in use).
  'GET /_ossferry/health': async (_req, o) => {
    const pool = o.store.hashPool();
    return { ok: true, rss: process.memoryUsage().rss, hash: { kernel: pool.kernel, ...pool.stats } };
  },
  'GET /_ossferry/faults': async (_req, o) => o.faults.get(),
  // What the injected faults did so far (lost responses, per operation): soak runs report it.
  'GET /_ossferry/stats': async (_req, o) => o.faults.stats(),
  'PUT /_ossferry/faults': setFaults,
  'POST /_ossferry/faults': setFaults,
};

async function setFaults(req: http.IncomingMessage, o: AdminOptions): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const ch of req) {
    size += (ch as Buffer).length;
    if (size > MAX_ADMIN_BODY) throw new AdminRefusal(413, `fault config larger than ${MAX_ADMIN_BODY} bytes`);
    chunks.push(ch as Buffer);
  }
  let cfg;
  try {
    cfg = parseFaultConfig(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
  } catch (err) {
    throw new AdminRefusal(400, err instanceof Error ? err.message : String(err));
  }
  o.faults.set(cfg);
  return o.faults.get();
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The checks every admin request passes, in order; throws AdminRefusal. */
function screen(req: http.IncomingMessage, tokenDigest: Buffer): void {
  if (!LOOPBACK.has(req.socket.remoteAddress ?? '')) throw new AdminRefusal(403, 'the admin API is loopback-only');
  if (req.headers.origin !== undefined) throw new AdminRefusal(403, 'requests with an Origin header are refused (browser pages may not use the admin API)');
  const auth = req.headers.authorization ?? '';
  const m = /^Bearer (\S+)$/.exec(auth);
  if (!m || !timingSafeEqual(digest(m[1] as string), tokenDigest)) {
    throw new AdminRefusal(401, 'missing or wrong admin token: send Authorization: Bearer <adminToken from the ready line>');
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const hasBody = req.method === 'PUT' || req.method === 'POST';
  if ((hasBody || type !== '') && type !== 'application/json') {
    throw new AdminRefusal(415, 'the admin API takes Content-Type: application/json only');
  }
}

export async function startAdminServer(o: AdminOptions): Promise<AdminServer> {
  const token = randomBytes(24).toString('base64url');
  const tokenDigest = digest(token);
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'no-store' });
      res.end(text);
    };
    void (async () => {
      try {
        screen(req, tokenDigest);
        const key = `${req.method} ${(req.url ?? '/').split('?')[0]}`;
        const route = ROUTES[key];
        if (!route) throw new AdminRefusal(404, `no admin route ${key}`);
        reply(200, await route(req, o));
      } catch (err) {
        if (err instanceof AdminRefusal) reply(err.status, { error: err.message });
        else reply(500, { error: err instanceof Error ? err.message : String(err) });
      }
    })();
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
