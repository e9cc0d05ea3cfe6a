/**
 * A local HTTP(S)-style file server that behaves like a well-configured origin (nginx/S3-like): HEAD,
 * single `Range` requests (206 + Content-Range, 416 when unsatisfiable), strong ETags, `If-Match`
 * (→ 412 when the file changed), `If-Range` (→ 200 with the whole file when it changed), Last-Modified.
 * Used by tests, `ossferry start` and benchmarks. Files are either in memory (`setFile`) or on disk
 * (`root` directory, sent in 1 MiB reads through reused buffers). `setFile` replaces a file with a new ETag, so tests can
 * change the source mid-copy. Connection and request counters let SSRF tests prove no socket was opened.
 */
import { type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidInputError } from '../../shared/errors.ts';
import { Throttle } from '../throttle.ts';

export interface HttpSourceServerOptions {
  /** Serve files from this directory (path = URL path). In-memory files take precedence. */
  root?: string;
  /** Initial in-memory files: URL path (e.g. "/a.bin") → bytes. */
  files?: Record<string, Uint8Array>;
  /** Default 127.0.0.1. */
  host?: string;
  /** Serve HTTPS with this key and certificate (PEM), e.g. from a test CA. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Default 0 (ephemeral). */
  port?: number;
  /** Added wait before every response's head (a distant origin's time to first byte), in ms. */
  latencyMs?: number;
  /** Per-connection cap on response bodies, in bytes per second (a token bucket per socket). */
  bandwidthBytesPerSecond?: number;
  /** Time for the shaping (tests pass a virtual one; default the real clock and timers). */
  clock?: ShapingClock;
}

/** What latency and the cap wait with. */
export interface ShapingClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: ShapingClock = { now: Date.now, sleep: (ms) => sleep(ms) };

/** The shaping options alone (latency, cap), e.g. for a server in a process of its own. */
export type HttpSourceShaping = Pick<HttpSourceServerOptions, 'latencyMs' | 'bandwidthBytesPerSecond'>;

/** A fault applied to the next `count` GET requests (e.g. 503 to exercise retries). */
export interface HttpSourceFault {
  status?: number;
  /** Send the headers and this many body bytes, then destroy the socket (a mid-body drop). */
  dropAfterBytes?: number;
  count: number;
}

export interface HttpSourceRequest {
  method: string;
  path: string;
  range?: string;
  ifMatch?: string;
  ifRange?: string;
  status: number;
}

export interface HttpSourceServer {
  /** e.g. http://127.0.0.1:34567 */
  readonly origin: string;
  readonly port: number;
  /** Absolute URL of a path ("/a.bin" or "a.bin"). */
  url(path: string): string;
  /** Adds or replaces an in-memory file; the ETag changes whenever the content does. */
  setFile(path: string, data: Uint8Array): void;
  /** Rewrites one byte in place (same size, new ETag and Last-Modified): the hardest change to notice. */
  mutateFile(path: string, offset?: number): void;
  deleteFile(path: string): void;
  /** Current strong ETag of an in-memory file. */
  etagOf(path: string): string | undefined;
  setFaults(fault: HttpSourceFault | undefined): void;
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Requests seen so far, oldest first. */
  readonly requests: readonly HttpSourceRequest[];
  close(): Promise<void>;
}

interface MemFile {
  data: Uint8Array;
  etag: string;
  mtime: Date;
}

interface Entity {
  size: number;
  etag: string;
  mtime: Date;
  /** In-memory bytes, or the path of the file on disk. */
  body(start: number, end: number): Uint8Array | { file: string; start: number; end: number };
}

const READ_CHUNK = 1024 * 1024;
/** Write size under a bandwidth cap: small enough that the cap shapes the stream evenly. */
const CAPPED_CHUNK = 64 * 1024;

/**
 * Read buffers for files on disk, reused once the socket has taken their bytes (the write callback): a
 * well-configured origin sends files without allocating per read (nginx uses sendfile), and a fresh 1 MiB
 * buffer per read cost this server a third of its CPU in garbage collection (bench:copy profile).
 */
const freeBuffers: Buffer[] = [];
const takeBuffer = (): Buffer => freeBuffers.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK);
const MAX_FREE_BUFFERS = 64;

/** Resolves once `res` may take more bytes (or is gone). */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise<void>((ok) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      ok();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Streams bytes [start, end) of `file` to `res` through reused buffers, honouring backpressure; under a
 * `throttle` in 64 KiB writes, each sent once the connection's bucket allows it.
 */
async function sendFileRange(file: string, start: number, end: number, res: http.ServerResponse, throttle: Throttle | undefined, clock: ShapingClock): Promise<void> {
  const fh = await open(file, 'r');
  const step = throttle ? CAPPED_CHUNK : READ_CHUNK;
  try {
    for (let pos = start; pos < end && !res.destroyed; ) {
      const buf = takeBuffer();
      const { bytesRead } = await fh.read(buf, 0, Math.min(step, end - pos), pos);
      if (bytesRead === 0) throw new Error(`${file}: ended at ${pos} of ${end} bytes`);
      pos += bytesRead;
      const wait = throttle?.take(bytesRead) ?? 0;
      if (wait > 0) await clock.sleep(wait);
      const more = res.write(buf.subarray(0, bytesRead), (err) => {
        if (!err && freeBuffers.length < MAX_FREE_BUFFERS) freeBuffers.push(buf);
      });
      if (!more && !res.destroyed) await drained(res);
    }
    res.end();
  } finally {
    await fh.close();
  }
}

/** Sends an in-memory body; under a `throttle` in 64 KiB writes paced by the connection's bucket. */
async function sendBytes(body: Uint8Array, res: http.ServerResponse, throttle: Throttle | undefined, clock: ShapingClock): Promise<void> {
  if (!throttle) {
    // Write in 1 MiB slices so the socket sees large writes without copying the file.
    for (let at = 0; at < body.length; at += READ_CHUNK) res.write(body.subarray(at, at + READ_CHUNK));
    res.end();
    return;
  }
  for (let at = 0; at < body.length && !res.destroyed; at += CAPPED_CHUNK) {
    const slice = body.subarray(at, at + CAPPED_CHUNK);
    const wait = throttle.take(slice.length);
    if (wait > 0) await clock.sleep(wait);
    if (!res.write(slice) && !res.destroyed) await drained(res);
  }
  res.end();
}

/** Checks the shaping options: whole milliseconds up to a minute, a positive whole byte rate. */
export function checkShaping(o: HttpSourceShaping): void {
  if (o.latencyMs !== undefined && !(Number.isInteger(o.latencyMs) && o.latencyMs >= 0 && o.latencyMs <= 60_000)) {
    throw new InvalidInputError('latencyMs', `must be a whole number of ms in 0..60000, got ${o.latencyMs}`, 'use e.g. 30');
  }
  if (o.bandwidthBytesPerSecond !== undefined && !(Number.isInteger(o.bandwidthBytesPerSecond) && o.bandwidthBytesPerSecond > 0)) {
    throw new InvalidInputError('bandwidthBytesPerSecond', `must be a positive whole number, got ${o.bandwidthBytesPerSecond}`, 'use e.g. 4194304 for 4 MiB/s');
  }
}

function normalise(path: string): string {
  return path.startsWith('/') ? path : `/${path}`;
}

function diskEtag(st: Stats): string {
  return `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}-${st.ino.toString(16)}"`;
}

/** Parses a single `bytes=` range against `size`; undefined = ignore (malformed), null = unsatisfiable. */
export function parseRange(header: string, size: number): { start: number; end: number } | null | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return null;
    return { start: Math.max(0, size - n), end: size };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return null;
  return { start, end: last + 1 };
}

/** Starts the server on loopback. */
export async function startHttpSourceServer(options: HttpSourceServerOptions = {}): Promise<HttpSourceServer> {
  const mem = new Map<string, MemFile>();
  let version = 0;
  let fault: HttpSourceFault | undefined;
  let connections = 0;
  const requests: HttpSourceRequest[] = [];
  const sockets = new Set<Socket>();
  const root = options.root ? resolve(options.root) : undefined;
  checkShaping(options);
  const latencyMs = options.latencyMs ?? 0;
  const rate = options.bandwidthBytesPerSecond;
  const clock = options.clock ?? realClock;
  const throttles = new WeakMap<Socket, Throttle>();
  const throttleOf = (s: Socket): Throttle | undefined => {
    if (rate === undefined) return undefined;
    let t = throttles.get(s);
    if (!t) throttles.set(s, (t = new Throttle(rate, { now: clock.now })));
    return t;
  };

  const put = (path: string, data: Uint8Array) => {
    version++;
    mem.set(normalise(path), { data, etag: `"m${version.toString(16)}-${data.length.toString(16)}"`, mtime: new Date(Math.floor(Date.now() / 1000) * 1000 + version * 1000) });
  };
  for (const [p, d] of Object.entries(options.files ?? {})) put(p, d);

  async function lookupEntity(path: string): Promise<Entity | undefined> {
    const f = mem.get(path);
    if (f) {
      return { size: f.data.length, etag: f.etag, mtime: f.mtime, body: (s, e) => f.data.subarray(s, e) };
    }
    if (!root) return undefined;
    const full = resolve(root, '.' + decodeURIComponent(path));
    if (full !== root && !full.startsWith(root + sep)) return undefined;
    try {
      const st = await stat(full);
      if (!st.isFile()) return undefined;
      return {
        size: st.size,
        etag: diskEtag(st),
        mtime: st.mtime,
        body: (s, e) => ({ file: full, start: s, end: e }),
      };
    } catch {
      return undefined;
    }
  }

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const record: HttpSourceRequest = { method: req.method ?? '', path, status: 0 };
    if (typeof req.headers.range === 'string') record.range = req.headers.range;
    if (typeof req.headers['if-match'] === 'string') record.ifMatch = req.headers['if-match'];
    if (typeof req.headers['if-range'] === 'string') record.ifRange = req.headers['if-range'];
    requests.push(record);
    const finish = (status: number, headers: http.OutgoingHttpHeaders = {}, body?: string) => {
      record.status = status;
      res.writeHead(status, headers);
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return finish(405, { allow: 'GET, HEAD' });
    void lookupEntity(path).then(async (ent) => {
      // Every answer waits out the injected time to first byte, refusals included.
      if (latencyMs > 0) await clock.sleep(latencyMs);
      if (!ent) return finish(404, { 'content-type': 'text/plain' }, 'not found\n');
      let active: HttpSourceFault | undefined;
      if (req.method === 'GET' && fault && fault.count > 0) {
        fault.count--;
        active = fault;
        if (fault.status) return finish(fault.status, { 'retry-after': '0' }, 'injected fault\n');
      }
      const common: http.OutgoingHttpHeaders = {
        etag: ent.etag,
        'last-modified': ent.mtime.toUTCString(),
        'accept-ranges': 'bytes',
        'content-type': 'application/octet-stream',
      };
      // RFC 9110 §13.1.1: If-Match with a strong comparison; "*" matches any existing file.
      const ifMatch = req.headers['if-match'];
      if (typeof ifMatch === 'string') {
        const tags = ifMatch.split(',').map((t) => t.trim());
        if (!tags.includes('*') && !tags.includes(ent.etag)) return finish(412, { etag: ent.etag }, 'precondition failed\n');
      }
      let range: { start: number; end: number } | null | undefined;
      if (typeof req.headers.range === 'string') {
        range = parseRange(req.headers.range, ent.size);
        // RFC 9110 §13.1.5: If-Range that does not match → ignore Range, send the whole (new) file.
        const ifRange = req.headers['if-range'];
        if (typeof ifRange === 'string') {
          const matches = ifRange.startsWith('"') ? ifRange === ent.etag : ifRange === ent.mtime.toUTCString();
          if (!matches) range = undefined;
        }
      }
      if (range === null) return finish(416, { ...common, 'content-range': `bytes */${ent.size}` });
      const start = range ? range.start : 0;
      const end = range ? range.end : ent.size;
      const headers: http.OutgoingHttpHeaders = { ...common, 'content-length': end - start };
      if (range) headers['content-range'] = `bytes ${start}-${end - 1}/${ent.size}`;
      record.status = range ? 206 : 200;
      res.writeHead(record.status, headers);
      if (req.method === 'HEAD' || end === start) return res.end();
      const body = ent.body(start, end);
      if (active?.dropAfterBytes !== undefined) {
        const cut = Math.min(active.dropAfterBytes, end - start);
        res.write(body instanceof Uint8Array ? body.subarray(0, cut) : Buffer.alloc(cut), () => res.destroy());
        return;
      }
      const throttle = throttleOf(req.socket);
      const sent = body instanceof Uint8Array ? sendBytes(body, res, throttle, clock) : sendFileRange(body.file, body.start, body.end, res, throttle, clock);
      sent.catch((err: unknown) => res.destroy(err as Error));
    }, (err: unknown) => {
      res.destroy(err as Error);
    });
  };
  const server = options.tls
    ? https.createServer({ highWaterMark: READ_CHUNK, key: options.tls.key, cert: options.tls.cert }, handle)
    : http.createServer({ highWaterMark: READ_CHUNK }, handle);
  server.keepAliveTimeout = 30_000;
  server.requestTimeout = 0;
  server.on(options.tls ? 'secureConnection' : 'connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => ok());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const origin = `${options.tls ? 'https' : 'http'}://${host}:${addr.port}`;

  return {
    origin,
    port: addr.port,
    url: (p) => origin + normalise(p),
    setFile: put,
    mutateFile(path, offset = 0) {
      const f = mem.get(normalise(path));
      if (!f) throw new Error(`no in-memory file ${path}`);
      const data = Uint8Array.from(f.data);
      if (data.length > 0) data[Math.min(offset, data.length - 1)]! ^= 0xff;
      put(path, data);
    },
    deleteFile: (p) => void mem.delete(normalise(p)),
    etagOf: (p) => mem.get(normalise(p))?.etag,
    setFaults: (f) => {
      fault = f ? { ...f } : undefined;
    },
    get connections() {
      return connections;
    },
    requests,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}
