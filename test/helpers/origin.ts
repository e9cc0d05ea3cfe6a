/**
 * A hand-written ranged-GET HTTP origin on 127.0.0.1 whose validators the test chooses: a strong or weak ETag
 * or none, Last-Modified or none, a stated x-oss-hash-crc64ecma. It ignores conditional headers on purpose
 * (an origin that honours none of them is exactly what pinning must not rely on). `data` can be replaced.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OriginHeaders {
  etag?: string;
  lastModified?: string;
  crc64?: bigint;
  /** Any other response headers (Content-Type, Cache-Control, x-oss-meta-*, …). */
  extra?: Record<string, string>;
}

export interface Origin {
  url: string;
  data: Buffer;
  /** Ranged GETs answered so far. */
  gets: number;
  /** Called before each ranged GET is answered, with its 1-based count (a test changes `data` here). */
  beforeGet?: (n: number) => void;
  close(): Promise<void>;
}

export async function startOrigin(data: Buffer, headers: OriginHeaders): Promise<Origin> {
  const origin: Origin = { url: '', data, gets: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const common: http.OutgoingHttpHeaders = { 'accept-ranges': 'bytes', ...headers.extra };
    if (headers.etag !== undefined) common.etag = headers.etag;
    if (headers.lastModified !== undefined) common['last-modified'] = headers.lastModified;
    if (headers.crc64 !== undefined) common['x-oss-hash-crc64ecma'] = headers.crc64.toString(10);
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (req.method !== 'HEAD' && m) {
      origin.gets++;
      origin.beforeGet?.(origin.gets);
    }
    const body = origin.data;
    if (req.method === 'HEAD' || !m) {
      res.writeHead(200, { ...common, 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]) + 1, body.length);
    res.writeHead(206, { ...common, 'content-length': end - start, 'content-range': `bytes ${start}-${end - 1}/${body.length}` });
    res.end(body.subarray(start, end));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  origin.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/obj.bin`;
  origin.close = () =>
    new Promise((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    });
  return origin;
}
