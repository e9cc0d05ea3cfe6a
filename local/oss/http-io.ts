/**
 * HTTP I/O for the local OSS operations: reading headers and bodies, writing XML/empty/error responses and
 * object bodies. No operation logic lives here (that is ops-*.ts); no routing (routes.ts).
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { Readable } from 'node:stream';
import type { Logger } from '../../shared/log.ts';
import type { Addressed } from './addressing.ts';
import type { Credential } from './auth.ts';
import { invalidArgument, OssError } from './errors.ts';
import { throttled, type Faults, type Throttle } from './faults.ts';
import type { ConditionHeaders } from './range.ts';
import type { TimeoutSettings } from './timeouts.ts';
import { releaseChunk, type ObjectMeta, type ReceivedBody, type Store } from './store.ts';
import { escapeXml, toXml, type XmlObject } from './xml.ts';

/** Max in-memory XML request body (Complete with 10,000 parts is ~1 MB); larger → 400 EntityTooLarge. */
export const MAX_XML_BODY = 4 * 1024 * 1024;
export const OWNER = { ID: '1234567890123456', DisplayName: '1234567890123456' };

/** Headers stored with an object and returned on GET/HEAD. */
// Kept with the object and answered on GET/HEAD as OSS does (storage class and encryption included); tags are
// kept too and answered as their count (x-oss-tagging-count), as OSS's HEAD does.
const STORED_HEADERS = [
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'expires',
  'x-oss-storage-class',
  'x-oss-server-side-encryption',
  'x-oss-server-side-encryption-key-id',
  'x-oss-tagging',
];

/** What every operation may use: the store, fault and auth settings. */
export interface ServerContext {
  store: Store;
  faults: Faults;
  region: string;
  credentials: (accessKeyId: string) => Credential | undefined;
  allowAnonymous: boolean;
  logger: Logger;
  /** Base for <Location> in Complete responses. */
  endpoint: () => string;
  timeouts: TimeoutSettings;
  /**
   * Tests: runs at an exact point of an operation: `request` before its handler (after auth and faults), `answer`
   * once the part is stored and before the answer is sent (UploadPart, UploadPartCopy).
   */
  testHook?: (operation: string, at: 'request' | 'answer') => Promise<void>;
}

/** One request in flight. */
export interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  addr: Addressed;
  requestId: string;
  op: string;
  /** Request body, throttled when a bandwidth fault is set. */
  body: Readable;
  throttle: Throttle | undefined;
  /** When set, the response body is cut (connection destroyed) after this many bytes. */
  resetAfter: number | undefined;
}

export const h = (req: http.IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
};

export const quote = (etag: string) => `"${etag}"`;
export const lastModifiedHeader = (ms: number) => new Date(ms).toUTCString();

// ------------------------------------------------------------------------------------------- responses

export function baseHeaders(c: Ctx): Record<string, string> {
  return { 'x-oss-request-id': c.requestId, Server: 'AliyunOSS', Date: new Date().toUTCString() };
}

export function sendXml(c: Ctx, status: number, root: string, body: XmlObject, headers: Record<string, string> = {}): void {
  const text = Buffer.from(toXml(root, body), 'utf8');
  c.res.writeHead(status, { ...baseHeaders(c), 'Content-Type': 'application/xml', 'Content-Length': String(text.length), ...headers });
  c.res.end(text);
}

export function sendText(c: Ctx, status: number, xml: string): void {
  const text = Buffer.from(xml, 'utf8');
  c.res.writeHead(status, { ...baseHeaders(c), 'Content-Type': 'application/xml', 'Content-Length': String(text.length) });
  c.res.end(text);
}

export function sendEmpty(c: Ctx, status: number, headers: Record<string, string> = {}): void {
  c.res.writeHead(status, { ...baseHeaders(c), 'Content-Length': '0', ...headers });
  c.res.end();
}

function errorXml(err: OssError, requestId: string, hostId: string): string {
  const fields: string[] = [];
  for (const [k, v] of Object.entries(err.fields)) fields.push(`<${k}>${escapeXml(v)}</${k}>`);
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error>' +
    `<Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message>` +
    `<RequestId>${requestId}</RequestId><HostId>${escapeXml(hostId)}</HostId>${fields.join('')}</Error>`
  );
}

export function sendError(c: Ctx, err: OssError): void {
  if (c.res.headersSent) {
    c.res.destroy();
    return;
  }
  const hostId = h(c.req, 'host') ?? 'localhost';
  const xml = Buffer.from(errorXml(err, c.requestId, hostId), 'utf8');
  const headers: Record<string, string> = { ...baseHeaders(c), ...err.headers };
  if (c.req.method === 'HEAD' || err.status === 304) {
    // ali-oss decodes a base64 `x-oss-err` header when a HEAD error has no body.
    if (err.status !== 304) headers['x-oss-err'] = xml.toString('base64');
    headers['Content-Length'] = '0';
    c.res.writeHead(err.status, headers);
    c.res.end();
    return;
  }
  c.res.writeHead(err.status, { ...headers, 'Content-Type': 'application/xml', 'Content-Length': String(xml.length) });
  c.res.end(xml);
}

// ------------------------------------------------------------------------------------------- bodies


/** Reads a small (XML) body into memory, refusing beyond MAX_XML_BODY without buffering it. */
export async function readSmallBody(c: Ctx): Promise<Buffer> {
  const len = h(c.req, 'content-length');
  if (len !== undefined && Number(len) > MAX_XML_BODY) {
    throw new OssError(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.', { MaxSizeAllowed: String(MAX_XML_BODY) });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of c.body) {
    size += (chunk as Buffer).length;
    if (size > MAX_XML_BODY) {
      throw new OssError(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.', { MaxSizeAllowed: String(MAX_XML_BODY) });
    }
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks);
  checkMd5(c, createHash('md5').update(body).digest());
  return body;
}

export function parseContentMd5(c: Ctx): Buffer | undefined {
  const v = h(c.req, 'content-md5');
  if (v === undefined) return undefined;
  const b = Buffer.from(v, 'base64');
  if (b.length !== 16 || b.toString('base64') !== v.trim()) {
    throw new OssError(400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.', { 'Content-MD5': v });
  }
  return b;
}

export function checkMd5(c: Ctx, actual: Buffer): void {
  const want = parseContentMd5(c);
  if (want && !want.equals(actual)) {
    throw new OssError(400, 'InvalidDigest', 'The Content-MD5 you specified did not match what we received.', {
      'Content-MD5': want.toString('base64'),
      CalculatedDigest: actual.toString('base64'),
    });
  }
}

/**
 * Receives an object body into a temp file and checks its Content-MD5 (400 InvalidDigest, temp file removed).
 * The request's chunks are ours alone, so Store.receive frees each as soon as it is on disk and hashed.
 */
export async function receiveBody(store: Store, c: Ctx, max: number, expected: number | undefined): Promise<ReceivedBody> {
  const got = await store.receive(c.body, max, expected, { releaseChunks: true });
  try {
    checkMd5(c, got.md5);
  } catch (err) {
    await store.discard(got.tmpPath);
    throw err;
  }
  return got;
}

/** Content-Length rules for object bodies: required unless chunked (411), and capped (5 GB per PUT or part). */
export function bodyLength(c: Ctx, max: number): number | undefined {
  const len = h(c.req, 'content-length');
  const chunked = /chunked/i.test(h(c.req, 'transfer-encoding') ?? '');
  if (len === undefined) {
    if (!chunked) throw new OssError(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
    return undefined;
  }
  const n = Number(len);
  if (!Number.isSafeInteger(n) || n < 0) throw invalidArgument('Content-Length is invalid.', 'Content-Length', len);
  if (n > max) {
    throw new OssError(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.', { MaxSizeAllowed: String(max) });
  }
  return n;
}

export function userMetaFrom(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith('x-oss-meta-') && v !== undefined) out[k.slice('x-oss-meta-'.length)] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

export function storedHeadersFrom(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const v = h(req, name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

export const contentTypeOf = (req: http.IncomingMessage) => h(req, 'content-type') ?? 'application/octet-stream';
export const forbidOverwrite = (req: http.IncomingMessage) => (h(req, 'x-oss-forbid-overwrite') ?? '').toLowerCase() === 'true';

export function objectHeaders(m: ObjectMeta): Record<string, string> {
  const out: Record<string, string> = {
    'Content-Type': m.contentType,
    ETag: quote(m.etag),
    'Last-Modified': lastModifiedHeader(m.lastModified),
    'Accept-Ranges': 'bytes',
    'x-oss-object-type': m.type,
    'x-oss-storage-class': 'Standard',
    'x-oss-hash-crc64ecma': m.crc64,
  };
  for (const [k, v] of Object.entries(m.headers)) {
    if (k === 'x-oss-tagging') out['x-oss-tagging-count'] = String([...new URLSearchParams(v).keys()].length);
    else out[k] = v;
  }
  for (const [k, v] of Object.entries(m.userMeta)) out[`x-oss-meta-${k}`] = v;
  if (m.type === 'Appendable') out['x-oss-next-append-position'] = String(m.size);
  return out;
}

export function conditionsFrom(req: http.IncomingMessage, prefix = ''): ConditionHeaders {
  const get = (n: string) => h(req, prefix + n);
  const out: ConditionHeaders = {};
  const im = get('if-match');
  const inm = get('if-none-match');
  const ims = get('if-modified-since');
  const ius = get('if-unmodified-since');
  if (im !== undefined) out.ifMatch = im;
  if (inm !== undefined) out.ifNoneMatch = inm;
  if (ims !== undefined) out.ifModifiedSince = ims;
  if (ius !== undefined) out.ifUnmodifiedSince = ius;
  return out;
}

export function clampInt(v: string | undefined, def: number, min: number, max: number, name: string): number {
  if (v === undefined || v === '') return def;
  if (!/^\d+$/.test(v)) throw invalidArgument(`${name} must be an integer.`, name, v);
  const n = Number(v);
  if (n < min || n > max) throw invalidArgument(`${name} must be between ${min} and ${max}.`, name, v);
  return n;
}


/** Pipes a body to the response, honouring bandwidth and reset faults. */
export async function sendBody(c: Ctx, body: Readable, length: number): Promise<void> {
  let src: Readable = body;
  if (c.throttle) src = src.pipe(throttled(c.throttle));
  if (c.resetAfter !== undefined) {
    const cut = Math.floor(length / 2);
    const socket = c.res.socket;
    let sent = 0;
    for await (const chunk of src) {
      const b = chunk as Buffer;
      if (sent + b.length >= cut) {
        c.res.write(b.subarray(0, cut - sent));
        body.destroy();
        socket?.destroy();
        return;
      }
      sent += b.length;
      if (!c.res.write(b)) await new Promise((r) => c.res.once('drain', r));
    }
    return;
  }
  // pipeline(src, res), except that each chunk is freed as soon as the socket has taken it (releaseChunk):
  // GET bodies are read from disk into fresh buffers, and over multi-GB downloads those, left to the GC, are
  // what sets the server's RSS (local/oss/README.md "Memory").
  const res = c.res;
  try {
    for await (const chunk of src) {
      const b = chunk as Buffer;
      if (res.destroyed) break;
      if (!res.write(b, () => releaseChunk(b))) {
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off('drain', go);
            res.off('close', go);
            resolve();
          };
          res.on('drain', go);
          res.on('close', go);
        });
      }
    }
    if (res.destroyed) body.destroy();
    else res.end();
  } catch {
    body.destroy();
    res.destroy();
  }
}

