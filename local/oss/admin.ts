/** The admin API (`/_ossferry/…`): health and run-time fault settings. Loopback-only. */
import type http from 'node:http';
import { parseFaultConfig } from './faults.ts';
import type { ServerContext } from './http-io.ts';

export const ADMIN_PREFIX = '/_ossferry/';

export async function handleAdmin(sc: ServerContext, req: http.IncomingMessage, res: http.ServerResponse, url: string): Promise<void> {
  // Loopback-only: the admin API changes server behaviour and carries no OSS signature.
  const remote = req.socket.remoteAddress ?? '';
  const reply = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) });
    res.end(text);
  };
  if (!(remote === '127.0.0.1' || remote === '::1' || remote === '::ffff:127.0.0.1')) {
    reply(403, { error: 'admin API is loopback-only' });
    return;
  }
  const path = url.split('?')[0];
  if (path === '/_ossferry/health') {
    // `hash`: the body hash kernel and how full its batches run (items per batch ~ lanes in use).
    const pool = sc.store.hashPool();
    reply(200, { ok: true, rss: process.memoryUsage().rss, hash: { kernel: pool.kernel, ...pool.stats } });
    return;
  }
  if (path === '/_ossferry/faults') {
    if (req.method === 'GET') {
      reply(200, sc.faults.get());
      return;
    }
    if (req.method === 'PUT' || req.method === 'POST') {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const ch of req) {
        size += (ch as Buffer).length;
        if (size > 64 * 1024) {
          reply(413, { error: 'fault config too large' });
          return;
        }
        chunks.push(ch as Buffer);
      }
      try {
        const cfg = parseFaultConfig(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
        sc.faults.set(cfg);
        reply(200, sc.faults.get());
      } catch (err) {
        reply(400, { error: err instanceof Error ? err.message : String(err) });
      }
      return;
    }
  }
  reply(404, { error: `unknown admin path ${path}` });
}
