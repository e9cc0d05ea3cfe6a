/**
 * The local OSS HTTP server: routing, headers, and the operations themselves, over `Store`.
 * Streaming throughout: request bodies go to disk through `Store.receive`, responses are piped from disk.
 * Section references are to ../shared/reference/oss-protocol.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { OSS } from '../../shared/limits.ts';
import type { Logger } from '../../shared/log.ts';
import { getParam, hasParam, isValidBucketName, parseRequestTarget, type Addressed } from './addressing.ts';
import { authenticate, SIGNED_SUBRESOURCES, type Credential } from './auth.ts';
import {
  fileAlreadyExists,
  invalidArgument,
  malformedXml,
  noSuchKey,
  noSuchUpload,
  notImplemented,
  OssError,
  preconditionFailed,
} from './errors.ts';
import { Faults, throttled, Throttle, parseFaultConfig } from './faults.ts';
import { contentRange, decideCopyRange, decideRange, evaluateConditions, type ConditionHeaders } from './range.ts';
import { compareKeys, crc64ToWire, multipartEtag, randomHex, releaseChunk, Store, type ObjectMeta, type PartMeta, type ReceivedBody } from './store.ts';
import { escapeXml, isoDate, parseCompleteBody, parseXmlBody, parseDeleteBody, toXml, type XmlObject } from './xml.ts';
import { crc64Combine, crc64FromWire } from '../../shared/crc64/index.ts';

/** Max in-memory XML request body (Complete with 10,000 parts is ~1 MB); larger → 400 EntityTooLarge. */
export const MAX_XML_BODY = 4 * 1024 * 1024;
export const ADMIN_PREFIX = '/_ossferry/';
const OWNER = { ID: '1234567890123456', DisplayName: '1234567890123456' };

/** Headers stored with an object and returned on GET/HEAD. */
const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'];

export interface ServerContext {
  store: Store;
  faults: Faults;
  region: string;
  credentials: (accessKeyId: string) => Credential | undefined;
  allowAnonymous: boolean;
  logger: Logger;
  /** Base for <Location> in Complete responses. */
  endpoint: () => string;
}

interface Ctx {
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

const h = (req: http.IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
};

const quote = (etag: string) => `"${etag}"`;
const lastModifiedHeader = (ms: number) => new Date(ms).toUTCString();

// ------------------------------------------------------------------------------------------- routing

/** Decides the OSS operation name from method, key presence, sub-resources and headers. */
export function operationOf(method: string, addr: Addressed, copySource: boolean): string {
  const q = (n: string) => hasParam(addr.query, n);
  if (addr.bucket === undefined) return method === 'GET' ? 'ListBuckets' : 'Unsupported';
  if (addr.key === '') {
    switch (method) {
      case 'PUT':
        return 'PutBucket';
      case 'DELETE':
        return 'DeleteBucket';
      case 'POST':
        return q('delete') ? 'DeleteMultipleObjects' : 'Unsupported';
      case 'GET':
        if (q('uploads')) return 'ListMultipartUploads';
        if (q('location')) return 'GetBucketLocation';
        if (q('bucketInfo')) return 'GetBucketInfo';
        return getParam(addr.query, 'list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
      case 'HEAD':
        return 'HeadBucket';
      default:
        return 'Unsupported';
    }
  }
  switch (method) {
    case 'PUT':
      if (q('partNumber') || q('uploadId')) return copySource ? 'UploadPartCopy' : 'UploadPart';
      return copySource ? 'CopyObject' : 'PutObject';
    case 'GET':
      return q('uploadId') ? 'ListParts' : 'GetObject';
    case 'HEAD':
      return q('objectMeta') ? 'GetObjectMeta' : 'HeadObject';
    case 'DELETE':
      return q('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'POST':
      if (q('uploads')) return 'InitiateMultipartUpload';
      if (q('uploadId')) return 'CompleteMultipartUpload';
      if (q('append')) return 'AppendObject';
      return 'Unsupported';
    default:
      return 'Unsupported';
  }
}

/** Sub-resources each operation understands; any other signed sub-resource → 501 NotImplemented naming it. */
const HANDLED_SUBRESOURCES: Record<string, string[]> = {
  ListMultipartUploads: ['uploads'],
  GetBucketLocation: ['location'],
  GetBucketInfo: ['bucketInfo'],
  ListObjectsV2: ['continuation-token'],
  DeleteMultipleObjects: ['delete'],
  UploadPart: ['partNumber', 'uploadId'],
  UploadPartCopy: ['partNumber', 'uploadId'],
  ListParts: ['uploadId'],
  GetObjectMeta: ['objectMeta'],
  AbortMultipartUpload: ['uploadId'],
  InitiateMultipartUpload: ['uploads'],
  CompleteMultipartUpload: ['uploadId'],
  AppendObject: ['append', 'position'],
  GetObject: [
    'response-content-type', 'response-content-language', 'response-expires', 'response-cache-control',
    'response-content-disposition', 'response-content-encoding',
  ],
};
const ALWAYS_OK = new Set(['security-token']);

function checkSubresources(op: string, addr: Addressed, method: string): void {
  const handled = new Set(HANDLED_SUBRESOURCES[op] ?? []);
  for (const p of addr.query) {
    if (SIGNED_SUBRESOURCES.has(p.name) && !handled.has(p.name) && !ALWAYS_OK.has(p.name)) {
      throw notImplemented(`${method} ?${p.name}`);
    }
  }
  if (op === 'Unsupported') throw notImplemented(`${method} ${addr.bucket === undefined ? 'service' : addr.key === '' ? 'bucket' : 'object'}`);
}

// ------------------------------------------------------------------------------------------- responses

function baseHeaders(c: Ctx): Record<string, string> {
  return { 'x-oss-request-id': c.requestId, Server: 'AliyunOSS', Date: new Date().toUTCString() };
}

function sendXml(c: Ctx, status: number, root: string, body: XmlObject, headers: Record<string, string> = {}): void {
  const text = Buffer.from(toXml(root, body), 'utf8');
  c.res.writeHead(status, { ...baseHeaders(c), 'Content-Type': 'application/xml', 'Content-Length': String(text.length), ...headers });
  c.res.end(text);
}

function sendText(c: Ctx, status: number, xml: string): void {
  const text = Buffer.from(xml, 'utf8');
  c.res.writeHead(status, { ...baseHeaders(c), 'Content-Type': 'application/xml', 'Content-Length': String(text.length) });
  c.res.end(text);
}

function sendEmpty(c: Ctx, status: number, headers: Record<string, string> = {}): void {
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

function sendError(c: Ctx, err: OssError): void {
  if (c.res.headersSent) {
    c.res.destroy();
    return;
  }
  const hostId = h(c.req, 'host') ?? 'localhost';
  const xml = Buffer.from(errorXml(err, c.requestId, hostId), 'utf8');
  const headers: Record<string, string> = { ...baseHeaders(c), ...err.headers };
  if (c.req.method === 'HEAD' || err.status === 304) {
    // oss-protocol.md §2.7: ali-oss decodes a base64 `x-oss-err` header when a HEAD error has no body.
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
async function readSmallBody(c: Ctx): Promise<Buffer> {
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

function parseContentMd5(c: Ctx): Buffer | undefined {
  const v = h(c.req, 'content-md5');
  if (v === undefined) return undefined;
  const b = Buffer.from(v, 'base64');
  if (b.length !== 16 || b.toString('base64') !== v.trim()) {
    throw new OssError(400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.', { 'Content-MD5': v });
  }
  return b;
}

function checkMd5(c: Ctx, actual: Buffer): void {
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
async function receiveBody(store: Store, c: Ctx, max: number, expected: number | undefined): Promise<ReceivedBody> {
  const got = await store.receive(c.body, max, expected, { releaseChunks: true });
  try {
    checkMd5(c, got.md5);
  } catch (err) {
    await store.discard(got.tmpPath);
    throw err;
  }
  return got;
}

/** Content-Length rules for object bodies: required unless chunked (411), and capped (§3.1). */
function bodyLength(c: Ctx, max: number): number | undefined {
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

function userMetaFrom(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith('x-oss-meta-') && v !== undefined) out[k.slice('x-oss-meta-'.length)] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

function storedHeadersFrom(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const v = h(req, name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

const contentTypeOf = (req: http.IncomingMessage) => h(req, 'content-type') ?? 'application/octet-stream';
const forbidOverwrite = (req: http.IncomingMessage) => (h(req, 'x-oss-forbid-overwrite') ?? '').toLowerCase() === 'true';

function objectHeaders(m: ObjectMeta): Record<string, string> {
  const out: Record<string, string> = {
    'Content-Type': m.contentType,
    ETag: quote(m.etag),
    'Last-Modified': lastModifiedHeader(m.lastModified),
    'Accept-Ranges': 'bytes',
    'x-oss-object-type': m.type,
    'x-oss-storage-class': 'Standard',
    'x-oss-hash-crc64ecma': m.crc64,
  };
  for (const [k, v] of Object.entries(m.headers)) out[k] = v;
  for (const [k, v] of Object.entries(m.userMeta)) out[`x-oss-meta-${k}`] = v;
  if (m.type === 'Appendable') out['x-oss-next-append-position'] = String(m.size);
  return out;
}

function conditionsFrom(req: http.IncomingMessage, prefix = ''): ConditionHeaders {
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

// ------------------------------------------------------------------------------------------- server

export function createOssHttpServer(sc: ServerContext): http.Server {
  const throttles = new WeakMap<Socket, Throttle>();
  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 60_000, highWaterMark: sc.store.bufferSize }, (req, res) => {
    void handle(sc, req, res, throttles);
  });
  // oss-protocol.md §2.10: ali-oss reuses idle sockets for 15 s, so the server must keep them longer;
  // and no request timeout, which would kill a slow multi-GB part.
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0;
  server.timeout = 0;
  return server;
}

async function handle(sc: ServerContext, req: http.IncomingMessage, res: http.ServerResponse, throttles: WeakMap<Socket, Throttle>): Promise<void> {
  const requestId = randomHex(12);
  const url = req.url ?? '/';
  if (url.startsWith(ADMIN_PREFIX)) {
    await handleAdmin(sc, req, res, url);
    return;
  }
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
    c.op = operationOf(method, c.addr, h(req, 'x-oss-copy-source') !== undefined);
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
    checkSubresources(c.op, c.addr, method);
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
    await dispatch(sc, c);
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

async function handleAdmin(sc: ServerContext, req: http.IncomingMessage, res: http.ServerResponse, url: string): Promise<void> {
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

// ------------------------------------------------------------------------------------------- operations

async function dispatch(sc: ServerContext, c: Ctx): Promise<void> {
  const { store } = sc;
  const bucket = c.addr.bucket;
  if (c.op === 'ListBuckets') return listBuckets(sc, c);
  if (bucket === undefined) throw notImplemented(c.op);
  if (c.op === 'PutBucket') {
    if (!isValidBucketName(bucket)) {
      throw new OssError(400, 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: bucket });
    }
    // Optional <CreateBucketConfiguration>; validate if present so malformed XML is reported.
    const body = await readSmallBody(c);
    if (body.length > 0) {
      await parseXmlBody(body.toString('utf8'), 'CreateBucketConfiguration');
    }
    await store.createBucket(bucket);
    return sendEmpty(c, 200, { Location: `/${bucket}` });
  }
  if (!store.hasBucket(bucket)) {
    throw new OssError(404, 'NoSuchBucket', 'The specified bucket does not exist.', { BucketName: bucket });
  }
  switch (c.op) {
    case 'DeleteBucket':
      await store.deleteBucket(bucket);
      return sendEmpty(c, 204);
    case 'HeadBucket':
      return sendEmpty(c, 200);
    case 'GetBucketLocation':
      return sendText(c, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint>oss-${sc.region}</LocationConstraint>`);
    case 'GetBucketInfo':
      return getBucketInfo(sc, c, bucket);
    case 'ListObjects':
    case 'ListObjectsV2':
      return listObjects(sc, c, bucket, c.op === 'ListObjectsV2');
    case 'DeleteMultipleObjects':
      return deleteMultiple(sc, c, bucket);
    case 'ListMultipartUploads':
      return listUploads(sc, c, bucket);
    case 'PutObject':
      return putObject(sc, c, bucket);
    case 'GetObject':
    case 'HeadObject':
      return getObject(sc, c, bucket, c.op === 'HeadObject');
    case 'GetObjectMeta':
      return getObjectMeta(sc, c, bucket);
    case 'DeleteObject':
      await store.withLock(`${bucket}/${c.addr.key}`, () => store.deleteObject(bucket, c.addr.key));
      return sendEmpty(c, 204);
    case 'CopyObject':
      return copyObject(sc, c, bucket);
    case 'AppendObject':
      return appendObject(sc, c, bucket);
    case 'InitiateMultipartUpload':
      return initiate(sc, c, bucket);
    case 'UploadPart':
    case 'UploadPartCopy':
      return uploadPart(sc, c, bucket, c.op === 'UploadPartCopy');
    case 'CompleteMultipartUpload':
      return complete(sc, c, bucket);
    case 'AbortMultipartUpload':
      return abort(sc, c, bucket);
    case 'ListParts':
      return listParts(sc, c, bucket);
    default:
      throw notImplemented(c.op);
  }
}

function listBuckets(sc: ServerContext, c: Ctx): void {
  const prefix = getParam(c.addr.query, 'prefix') ?? '';
  const marker = getParam(c.addr.query, 'marker') ?? '';
  const max = clampInt(getParam(c.addr.query, 'max-keys'), 100, 1, 1000, 'max-keys');
  const all = sc.store.listBuckets().filter((b) => b.name.startsWith(prefix) && b.name > marker);
  const page = all.slice(0, max);
  const truncated = all.length > max;
  sendXml(c, 200, 'ListAllMyBucketsResult', {
    Prefix: prefix || undefined,
    Marker: marker || undefined,
    MaxKeys: getParam(c.addr.query, 'max-keys') !== undefined ? String(max) : undefined,
    IsTruncated: truncated ? 'true' : undefined,
    NextMarker: truncated ? page[page.length - 1]?.name : undefined,
    Owner: OWNER,
    Buckets: {
      Bucket: page.map((b) => ({
        CreationDate: isoDate(b.created),
        ExtranetEndpoint: `oss-${sc.region}.aliyuncs.com`,
        IntranetEndpoint: `oss-${sc.region}-internal.aliyuncs.com`,
        Location: `oss-${sc.region}`,
        Name: b.name,
        Region: sc.region,
        StorageClass: 'Standard',
      })),
    },
  });
}

function getBucketInfo(sc: ServerContext, c: Ctx, bucket: string): void {
  sendXml(c, 200, 'BucketInfo', {
    Bucket: {
      CreationDate: isoDate(sc.store.bucketCreated(bucket) ?? 0),
      ExtranetEndpoint: `oss-${sc.region}.aliyuncs.com`,
      IntranetEndpoint: `oss-${sc.region}-internal.aliyuncs.com`,
      Location: `oss-${sc.region}`,
      Name: bucket,
      StorageClass: 'Standard',
      Owner: OWNER,
      AccessControlList: { Grant: 'private' },
    },
  });
}

function clampInt(v: string | undefined, def: number, min: number, max: number, name: string): number {
  if (v === undefined || v === '') return def;
  if (!/^\d+$/.test(v)) throw invalidArgument(`${name} must be an integer.`, name, v);
  const n = Number(v);
  if (n < min || n > max) throw invalidArgument(`${name} must be between ${min} and ${max}.`, name, v);
  return n;
}

/** One page of a key listing with prefix/delimiter grouping; common prefixes count toward max (OSS/S3 rule). */
export function listPage<T>(
  sorted: T[],
  keyOf: (t: T) => string,
  o: { prefix: string; after: string; delimiter: string; max: number },
): { items: T[]; prefixes: string[]; truncated: boolean; last: string } {
  const items: T[] = [];
  const prefixes: string[] = [];
  let last = '';
  let truncated = false;
  for (const t of sorted) {
    const key = keyOf(t);
    if (!key.startsWith(o.prefix)) continue;
    if (o.after !== '' && compareKeys(key, o.after) <= 0) continue;
    let entry: { prefix: string } | undefined;
    if (o.delimiter !== '') {
      const i = key.indexOf(o.delimiter, o.prefix.length);
      if (i !== -1) entry = { prefix: key.slice(0, i + o.delimiter.length) };
    }
    if (entry && entry.prefix === prefixes[prefixes.length - 1]) continue;
    // A page that ended on a common prefix resumes after every key under it.
    if (entry && o.after !== '' && compareKeys(entry.prefix, o.after) <= 0) continue;
    if (items.length + prefixes.length >= o.max) {
      truncated = true;
      break;
    }
    if (entry) {
      prefixes.push(entry.prefix);
      last = entry.prefix;
    } else {
      items.push(t);
      last = key;
    }
  }
  return { items, prefixes, truncated, last };
}

function listObjects(sc: ServerContext, c: Ctx, bucket: string, v2: boolean): void {
  const q = (n: string) => getParam(c.addr.query, n);
  const prefix = q('prefix') ?? '';
  const delimiter = q('delimiter') ?? '';
  const max = clampInt(q('max-keys'), 100, 0, 1000, 'max-keys');
  const urlEncode = q('encoding-type') === 'url';
  const enc = (s: string) => (urlEncode ? encodeURIComponent(s).replace(/%2F/g, '/') : s);
  let after: string;
  const token = q('continuation-token');
  if (v2) {
    if (token !== undefined && token !== '') {
      after = Buffer.from(token, 'base64url').toString('utf8');
    } else after = q('start-after') ?? '';
  } else after = q('marker') ?? '';
  const page = listPage(sc.store.listObjects(bucket), (m) => m.key, { prefix, after, delimiter, max });
  const withOwner = !v2 || q('fetch-owner') === 'true';
  const contents = page.items.map((m) => ({
    Key: enc(m.key),
    LastModified: isoDate(m.lastModified),
    ETag: quote(m.etag),
    Type: m.type,
    Size: String(m.size),
    StorageClass: 'Standard',
    // oss-protocol.md §2.3: ali-oss list() dereferences Owner without a null check.
    Owner: withOwner ? OWNER : undefined,
  }));
  const common = page.prefixes.map((p) => ({ Prefix: enc(p) }));
  if (!v2) {
    sendXml(c, 200, 'ListBucketResult', {
      Name: bucket,
      Prefix: enc(prefix),
      Marker: enc(after),
      MaxKeys: String(max),
      Delimiter: enc(delimiter),
      EncodingType: urlEncode ? 'url' : undefined,
      IsTruncated: page.truncated ? 'true' : 'false',
      NextMarker: page.truncated ? enc(page.last) : undefined,
      Contents: contents,
      CommonPrefixes: common,
    });
    return;
  }
  sendXml(c, 200, 'ListBucketResult', {
    Name: bucket,
    Prefix: enc(prefix),
    StartAfter: q('start-after') !== undefined ? enc(q('start-after') ?? '') : undefined,
    ContinuationToken: token || undefined,
    MaxKeys: String(max),
    Delimiter: enc(delimiter),
    EncodingType: urlEncode ? 'url' : undefined,
    IsTruncated: page.truncated ? 'true' : 'false',
    NextContinuationToken: page.truncated ? Buffer.from(page.last, 'utf8').toString('base64url') : undefined,
    KeyCount: String(page.items.length + page.prefixes.length),
    Contents: contents,
    CommonPrefixes: common,
  });
}

async function deleteMultiple(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const body = await readSmallBody(c);
  const { quiet, keys } = await parseDeleteBody(body.toString('utf8'));
  if (keys.length > 1000) throw malformedXml();
  const deleted: string[] = [];
  for (const key of keys) {
    await sc.store.withLock(`${bucket}/${key}`, () => sc.store.deleteObject(bucket, key));
    deleted.push(key);
  }
  sendXml(c, 200, 'DeleteResult', { Deleted: quiet ? undefined : deleted.map((k) => ({ Key: k })) });
}

async function putObject(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const { store } = sc;
  const key = c.addr.key;
  const expected = bodyLength(c, OSS.MAX_PUT_SIZE);
  parseContentMd5(c);
  const forbid = forbidOverwrite(c.req);
  if (forbid && store.getObject(bucket, key)) throw fileAlreadyExists();
  const got = await receiveBody(store, c, OSS.MAX_PUT_SIZE, expected);
  const etag = got.md5.toString('hex').toUpperCase();
  await store.withLock(`${bucket}/${key}`, async () => {
    if (forbid && store.getObject(bucket, key)) {
      await store.discard(got.tmpPath);
      throw fileAlreadyExists();
    }
    const file = await store.adopt(got.tmpPath);
    await store.commitObject(bucket, {
      key,
      size: got.size,
      etag,
      crc64: crc64ToWire(got.crc64),
      type: 'Normal',
      lastModified: Date.now(),
      contentType: contentTypeOf(c.req),
      userMeta: userMetaFrom(c.req),
      headers: storedHeadersFrom(c.req),
      segments: [{ file, size: got.size }],
    });
  });
  sendEmpty(c, 200, {
    ETag: quote(etag),
    'x-oss-hash-crc64ecma': crc64ToWire(got.crc64),
    'Content-MD5': got.md5.toString('base64'),
  });
}

function requireObject(sc: ServerContext, bucket: string, key: string): ObjectMeta {
  const m = sc.store.getObject(bucket, key);
  if (!m) throw noSuchKey(key);
  return m;
}

function applyConditions(c: Ctx, m: ObjectMeta): void {
  const outcome = evaluateConditions(conditionsFrom(c.req), m.etag, m.lastModified);
  if (outcome.kind === 'failed') throw preconditionFailed(outcome.condition);
  if (outcome.kind === 'not-modified') {
    throw new OssError(304, 'NotModified', 'Not Modified', {}, { ETag: quote(m.etag), 'Last-Modified': lastModifiedHeader(m.lastModified) });
  }
}

async function getObject(sc: ServerContext, c: Ctx, bucket: string, head: boolean): Promise<void> {
  const m = requireObject(sc, bucket, c.addr.key);
  applyConditions(c, m);
  const headers: Record<string, string> = { ...baseHeaders(c), ...objectHeaders(m) };
  for (const p of c.addr.query) {
    if (p.name.startsWith('response-')) {
      headers[p.name.slice('response-'.length).replace(/(^|-)([a-z])/g, (_s, d: string, ch: string) => d + ch.toUpperCase())] = p.value;
    }
  }
  // oss-protocol.md §3.5: invalid/out-of-range → whole object unless `x-oss-range-behavior: standard`.
  const standard = (h(c.req, 'x-oss-range-behavior') ?? '').toLowerCase() === 'standard';
  const decision = head ? ({ kind: 'full' } as const) : decideRange(h(c.req, 'range'), m.size, standard);
  if (decision.kind === 'unsatisfiable') {
    throw new OssError(416, 'InvalidRange', 'The requested range cannot be satisfied', { RangeRequested: h(c.req, 'range') ?? '', ActualObjectSize: String(m.size) }, { 'Content-Range': `bytes */${m.size}` });
  }
  const [start, end, status] = decision.kind === 'partial' ? [decision.start, decision.end, 206] : [0, m.size, 200];
  headers['Content-Length'] = String(end - start);
  if (decision.kind === 'partial') headers['Content-Range'] = contentRange(start, end, m.size);
  c.res.writeHead(status, headers);
  if (head || end === start) {
    c.res.end();
    return;
  }
  await sendBody(c, sc.store.readRange(m, start, end), end - start);
}

/** Pipes a body to the response, honouring bandwidth and reset faults. */
async function sendBody(c: Ctx, body: Readable, length: number): Promise<void> {
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

function getObjectMeta(sc: ServerContext, c: Ctx, bucket: string): void {
  const m = requireObject(sc, bucket, c.addr.key);
  sendEmpty(c, 200, {
    ETag: quote(m.etag),
    'Content-Length': String(m.size),
    'Last-Modified': lastModifiedHeader(m.lastModified),
    'x-oss-hash-crc64ecma': m.crc64,
    'x-oss-object-type': m.type,
  });
}

/** `x-oss-copy-source: /<bucket>/<url-encoded key>[?versionId=…]` (§2.3 copy, §3.4). */
function copySource(c: Ctx): { bucket: string; key: string } {
  const raw = h(c.req, 'x-oss-copy-source') ?? '';
  const path = raw.split('?')[0] ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw invalidArgument('x-oss-copy-source is invalid.', 'x-oss-copy-source', raw);
  }
  const m = /^\/?([^/]+)\/(.+)$/.exec(decoded);
  if (!m) throw invalidArgument('x-oss-copy-source is invalid.', 'x-oss-copy-source', raw);
  return { bucket: m[1] as string, key: m[2] as string };
}

function sourceObject(sc: ServerContext, c: Ctx): ObjectMeta {
  const src = copySource(c);
  if (!sc.store.hasBucket(src.bucket)) {
    throw new OssError(404, 'NoSuchBucket', 'The specified bucket does not exist.', { BucketName: src.bucket });
  }
  const m = requireObject(sc, src.bucket, src.key);
  const outcome = evaluateConditions(conditionsFrom(c.req, 'x-oss-copy-source-'), m.etag, m.lastModified);
  if (outcome.kind === 'failed') throw preconditionFailed(`x-oss-copy-source-${outcome.condition.toLowerCase()}`);
  if (outcome.kind === 'not-modified') throw new OssError(304, 'NotModified', 'Not Modified');
  return m;
}

async function copyObject(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const { store } = sc;
  const key = c.addr.key;
  const src = sourceObject(sc, c);
  if (src.size > OSS.MAX_COPY_OBJECT_SIZE) {
    // oss-protocol.md §3.1: CopyObject is for objects ≤ 1 GB; the error code is UNCONFIRMED.
    throw invalidArgument('The source object is larger than 1 GB; use UploadPartCopy.', 'x-oss-copy-source', h(c.req, 'x-oss-copy-source') ?? '');
  }
  const forbid = forbidOverwrite(c.req);
  const replace = (h(c.req, 'x-oss-metadata-directive') ?? 'COPY').toUpperCase() === 'REPLACE';
  const now = Date.now();
  await store.withLock(`${bucket}/${key}`, async () => {
    if (forbid && store.getObject(bucket, key)) throw fileAlreadyExists();
    const segments = await store.cloneSegments(src.segments);
    await store.commitObject(bucket, {
      ...src,
      key,
      type: src.type === 'Appendable' ? 'Normal' : src.type,
      lastModified: now,
      contentType: replace ? contentTypeOf(c.req) : src.contentType,
      userMeta: replace ? userMetaFrom(c.req) : src.userMeta,
      headers: replace ? storedHeadersFrom(c.req) : src.headers,
      segments,
    });
  });
  sendXml(c, 200, 'CopyObjectResult', { ETag: quote(src.etag), LastModified: isoDate(now) }, {
    ETag: quote(src.etag),
    'x-oss-hash-crc64ecma': src.crc64,
  });
}

async function appendObject(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const { store } = sc;
  const key = c.addr.key;
  const posRaw = getParam(c.addr.query, 'position') ?? '';
  if (!/^\d+$/.test(posRaw)) throw invalidArgument('position must be a non-negative integer.', 'position', posRaw);
  const position = Number(posRaw);
  const check = (m: ObjectMeta | undefined) => {
    if (m && m.type !== 'Appendable') {
      throw new OssError(409, 'ObjectNotAppendable', 'The object is not appendable.');
    }
    const size = m?.size ?? 0;
    if (position !== size) {
      // oss-protocol.md §3.3: 409 + x-oss-next-append-position (oss2 reads the header unconditionally).
      throw new OssError(409, 'PositionNotEqualToLength', 'Position is not equal to file length.', {}, {
        'x-oss-next-append-position': String(size),
      });
    }
  };
  check(store.getObject(bucket, key));
  const expected = bodyLength(c, OSS.MAX_PUT_SIZE);
  parseContentMd5(c);
  const got = await receiveBody(store, c, OSS.MAX_PUT_SIZE, expected);
  const result = await store.withLock(`${bucket}/${key}`, async () => {
    const m = store.getObject(bucket, key);
    try {
      check(m);
    } catch (err) {
      await store.discard(got.tmpPath);
      throw err;
    }
    const file = await store.adopt(got.tmpPath);
    // oss-protocol.md §3.3: the append response carries the CRC of the WHOLE object so far (combine).
    const crc = m ? crc64Combine(crc64FromWire(m.crc64), got.crc64, got.size) : got.crc64;
    const size = (m?.size ?? 0) + got.size;
    // §3.3: the appendable ETag is not an MD5 (UNCONFIRMED algorithm); any stable 32-hex value ending in zeros.
    const etag = createHash('md5').update(`${m?.etag ?? ''}${got.md5.toString('hex')}`).digest('hex').toUpperCase().slice(0, 24) + '00000000';
    const meta: ObjectMeta = m
      ? { ...m, size, etag, crc64: crc64ToWire(crc), lastModified: Date.now(), segments: [...m.segments, { file, size: got.size }] }
      : {
          key,
          size,
          etag,
          crc64: crc64ToWire(crc),
          type: 'Appendable',
          lastModified: Date.now(),
          contentType: contentTypeOf(c.req),
          userMeta: userMetaFrom(c.req),
          headers: storedHeadersFrom(c.req),
          segments: [{ file, size: got.size }],
        };
    await store.commitObject(bucket, meta);
    return meta;
  });
  sendEmpty(c, 200, {
    ETag: quote(result.etag),
    'x-oss-next-append-position': String(result.size),
    'x-oss-hash-crc64ecma': result.crc64,
  });
}

async function initiate(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const key = c.addr.key;
  const forbid = forbidOverwrite(c.req);
  if (forbid && sc.store.getObject(bucket, key)) throw fileAlreadyExists();
  // §3.7: upload IDs are 32 upper-hex. §3.2: an existing object stays untouched until Complete.
  const uploadId = randomBytes(16).toString('hex').toUpperCase();
  await sc.store.createUpload({
    uploadId,
    bucket,
    key,
    initiated: Date.now(),
    contentType: contentTypeOf(c.req),
    userMeta: userMetaFrom(c.req),
    headers: storedHeadersFrom(c.req),
    forbidOverwrite: forbid,
  });
  sendXml(c, 200, 'InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: uploadId });
}

function partNumberOf(c: Ctx): number {
  const raw = getParam(c.addr.query, 'partNumber') ?? '';
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= OSS.MIN_PART_NUMBER && n <= OSS.MAX_PART_NUMBER)) {
    // oss-protocol.md §3.1: 400 InvalidArgument, ArgumentName PartNumber.
    throw invalidArgument('Part number must be an integer between 1 and 10000, inclusive.', 'PartNumber', raw);
  }
  return n;
}

function requireUpload(sc: ServerContext, c: Ctx, bucket: string) {
  const uploadId = getParam(c.addr.query, 'uploadId') ?? '';
  const u = sc.store.getUpload(bucket, c.addr.key, uploadId);
  if (!u) throw noSuchUpload(uploadId);
  return { uploadId, upload: u };
}

async function uploadPart(sc: ServerContext, c: Ctx, bucket: string, isCopy: boolean): Promise<void> {
  const { store } = sc;
  const partNumber = partNumberOf(c);
  const { uploadId } = requireUpload(sc, c, bucket);
  let got;
  let extra: Record<string, string> = {};
  if (isCopy) {
    const src = sourceObject(sc, c);
    if (src.type === 'Appendable') {
      // §3.1: UploadPartCopy cannot copy Appendable objects (error code UNCONFIRMED).
      throw new OssError(400, 'InvalidArgument', 'UploadPartCopy does not support Appendable source objects.');
    }
    const rangeHeader = h(c.req, 'x-oss-copy-source-range');
    const r = decideCopyRange(rangeHeader, src.size);
    if (r === 'invalid') throw invalidArgument('x-oss-copy-source-range is invalid.', 'x-oss-copy-source-range', rangeHeader ?? '');
    if (r.end - r.start > OSS.MAX_PART_SIZE) throw invalidArgument('The part is larger than 5 GB.', 'x-oss-copy-source-range', rangeHeader ?? '');
    got = await store.receive(store.readRange(src, r.start, r.end), OSS.MAX_PART_SIZE, r.end - r.start);
    if (rangeHeader !== undefined) extra['Content-Range'] = contentRange(r.start, r.end, src.size);
  } else {
    const expected = bodyLength(c, OSS.MAX_PART_SIZE);
    parseContentMd5(c);
    got = await receiveBody(store, c, OSS.MAX_PART_SIZE, expected);
  }
  const etag = got.md5.toString('hex').toUpperCase();
  const now = Date.now();
  const size = got.size;
  const crc = crc64ToWire(got.crc64);
  const tmpPath = got.tmpPath;
  await store.withLock(`upload:${uploadId}`, async () => {
    if (!store.getUpload(bucket, c.addr.key, uploadId)) {
      await store.discard(tmpPath);
      throw noSuchUpload(uploadId);
    }
    const file = await store.adopt(tmpPath);
    const part: PartMeta = { partNumber, etag, size, crc64: crc, lastModified: now, file };
    await store.commitPart(bucket, uploadId, part);
  });
  const headers = { ETag: quote(etag), 'x-oss-hash-crc64ecma': crc, ...extra };
  if (isCopy) {
    sendXml(c, 200, 'CopyPartResult', { LastModified: isoDate(now), ETag: quote(etag) }, headers);
  } else {
    sendEmpty(c, 200, { ...headers, 'Content-MD5': got.md5.toString('base64') });
  }
}

async function complete(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const { store } = sc;
  const key = c.addr.key;
  const { uploadId } = requireUpload(sc, c, bucket);
  const body = await readSmallBody(c);
  const completeAll = (h(c.req, 'x-oss-complete-all') ?? '').toLowerCase() === 'yes';
  // §3.2: with `x-oss-complete-all: yes` OSS takes every uploaded part and the body must not list parts.
  // ali-oss's completeMultipartUpload(…, []) still sends an empty <CompleteMultipartUpload/>, so accept that.
  if (completeAll && body.length > 0 && /<Part>/.test(body.toString('utf8'))) {
    throw invalidArgument('x-oss-complete-all requires a body without parts.', 'x-oss-complete-all', 'yes');
  }
  const listed = completeAll ? undefined : await parseCompleteBody(body.toString('utf8'));
  const result = await store.withLock(`upload:${uploadId}`, () =>
    store.withLock(`${bucket}/${key}`, async () => {
      const u = store.getUpload(bucket, key, uploadId);
      if (!u) throw noSuchUpload(uploadId);
      let chosen: PartMeta[];
      if (listed === undefined) {
        chosen = [...u.parts.values()].sort((a, b) => a.partNumber - b.partNumber);
        if (chosen.length === 0) throw new OssError(400, 'InvalidPart', 'The upload has no parts to complete.');
      } else {
        chosen = [];
        let prev = 0;
        for (const p of listed) {
          // §3.2: ascending PartNumber order → else 400 InvalidPartOrder.
          if (p.partNumber <= prev) {
            throw new OssError(400, 'InvalidPartOrder', 'The list of parts was not in ascending order. Parts list must be specified in order by part number.');
          }
          prev = p.partNumber;
          const part = u.parts.get(p.partNumber);
          if (!part || part.etag !== p.etag.toUpperCase()) {
            throw new OssError(400, 'InvalidPart', "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.", {
              PartNumber: String(p.partNumber),
              ETag: p.etag,
            });
          }
          chosen.push(part);
        }
      }
      // §3.1/§3.2: every non-last part ≥ 100 KB, checked here (not at UploadPart).
      for (const p of chosen.slice(0, -1)) {
        if (p.size < OSS.MIN_PART_SIZE) {
          throw new OssError(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size.', {
            MinSizeAllowed: String(OSS.MIN_PART_SIZE),
            ProposedSize: String(p.size),
            PartNumber: String(p.partNumber),
          });
        }
      }
      if ((forbidOverwrite(c.req) || u.meta.forbidOverwrite) && store.getObject(bucket, key)) throw fileAlreadyExists();
      const meta: ObjectMeta = {
        key,
        size: chosen.reduce((s, p) => s + p.size, 0),
        etag: multipartEtag(chosen.map((p) => p.etag)),
        crc64: crc64ToWire(Store.combineCrcs(chosen)),
        type: 'Multipart',
        lastModified: Date.now(),
        contentType: u.meta.contentType,
        userMeta: u.meta.userMeta,
        headers: u.meta.headers,
        segments: chosen.map((p) => ({ file: p.file, size: p.size })),
      };
      await store.commitObject(bucket, meta);
      await store.dropUpload(bucket, uploadId, new Set(chosen.map((p) => p.file)));
      return meta;
    }),
  );
  sendXml(
    c,
    200,
    'CompleteMultipartUploadResult',
    {
      Location: `${sc.endpoint()}/${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`,
      Bucket: bucket,
      Key: key,
      ETag: quote(result.etag),
    },
    { ETag: quote(result.etag), 'x-oss-hash-crc64ecma': result.crc64 },
  );
}

async function abort(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const { uploadId } = requireUpload(sc, c, bucket);
  await sc.store.withLock(`upload:${uploadId}`, () => sc.store.dropUpload(bucket, uploadId));
  sendEmpty(c, 204);
}

function listParts(sc: ServerContext, c: Ctx, bucket: string): void {
  const { uploadId, upload } = requireUpload(sc, c, bucket);
  const max = clampInt(getParam(c.addr.query, 'max-parts'), 1000, 1, 1000, 'max-parts');
  const marker = clampInt(getParam(c.addr.query, 'part-number-marker'), 0, 0, OSS.MAX_PART_NUMBER, 'part-number-marker');
  const all = [...upload.parts.values()].filter((p) => p.partNumber > marker).sort((a, b) => a.partNumber - b.partNumber);
  const page = all.slice(0, max);
  const truncated = all.length > max;
  sendXml(c, 200, 'ListPartsResult', {
    Bucket: bucket,
    Key: c.addr.key,
    UploadId: uploadId,
    StorageClass: 'Standard',
    PartNumberMarker: String(marker),
    NextPartNumberMarker: String(page.length > 0 ? page[page.length - 1]!.partNumber : marker),
    MaxParts: String(max),
    IsTruncated: truncated ? 'true' : 'false',
    Part: page.map((p) => ({
      PartNumber: String(p.partNumber),
      LastModified: isoDate(p.lastModified),
      ETag: quote(p.etag),
      HashCrc64ecma: p.crc64,
      Size: String(p.size),
    })),
  });
}

function listUploads(sc: ServerContext, c: Ctx, bucket: string): void {
  const q = (n: string) => getParam(c.addr.query, n);
  const prefix = q('prefix') ?? '';
  const delimiter = q('delimiter') ?? '';
  const keyMarker = q('key-marker') ?? '';
  const idMarker = q('upload-id-marker') ?? '';
  const max = clampInt(q('max-uploads'), 1000, 1, 1000, 'max-uploads');
  const uploads = sc.store
    .listUploads(bucket)
    .filter((u) => keyMarker === '' || compareKeys(u.key, keyMarker) > 0 || (u.key === keyMarker && idMarker !== '' && u.uploadId > idMarker));
  // The key grouping reuses listPage with "after" disabled (markers already applied above).
  const page = listPage(uploads, (u) => u.key, { prefix, after: '', delimiter, max });
  const lastUpload = page.items[page.items.length - 1];
  sendXml(c, 200, 'ListMultipartUploadsResult', {
    Bucket: bucket,
    KeyMarker: keyMarker,
    UploadIdMarker: idMarker,
    NextKeyMarker: page.truncated ? (lastUpload?.key ?? page.last) : '',
    NextUploadIdMarker: page.truncated ? (lastUpload?.uploadId ?? '') : '',
    Delimiter: delimiter,
    Prefix: prefix,
    MaxUploads: String(max),
    IsTruncated: page.truncated ? 'true' : 'false',
    Upload: page.items.map((u) => ({ Key: u.key, UploadId: u.uploadId, StorageClass: 'Standard', Initiated: isoDate(u.initiated) })),
    CommonPrefixes: page.prefixes.map((p) => ({ Prefix: p })),
  });
}

