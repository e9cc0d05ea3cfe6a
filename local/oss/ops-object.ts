/** Object operations: Put, Get/Head, GetObjectMeta, Delete, Copy, Append (and the copy-source lookup UploadPartCopy shares). */
import { createHash } from 'node:crypto';
import { OSS } from '../../shared/limits.ts';
import { crc64Combine, crc64FromWire } from '../../shared/crc64/index.ts';
import { getParam } from './addressing.ts';
import { fileAlreadyExists, invalidArgument, noSuchKey, OssError, preconditionFailed } from './errors.ts';
import {
  baseHeaders,
  bodyLength,
  conditionsFrom,
  contentTypeOf,
  forbidOverwrite,
  h,
  lastModifiedHeader,
  objectHeaders,
  parseContentMd5,
  quote,
  receiveBody,
  sendBody,
  sendEmpty,
  sendXml,
  storedHeadersFrom,
  userMetaFrom,
  type Ctx,
  type ServerContext,
} from './http-io.ts';
import { contentRange, decideRange, evaluateConditions } from './range.ts';
import { crc64ToWire, type ObjectMeta } from './store.ts';
import { requestedVersion, versionHeaders } from './versions.ts';
import { isoDate } from './xml.ts';

export async function putObject(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const { store } = sc;
  const key = c.addr.key;
  const expected = bodyLength(c, OSS.MAX_PUT_SIZE);
  parseContentMd5(c);
  const forbid = forbidOverwrite(c.req);
  if (forbid && store.getObject(bucket, key)) throw fileAlreadyExists();
  const got = await receiveBody(store, c, OSS.MAX_PUT_SIZE, expected);
  const etag = got.md5.toString('hex').toUpperCase();
  const written = await store.withLock(`${bucket}/${key}`, async () => {
    if (forbid && store.getObject(bucket, key)) {
      await store.discard(got.tmpPath);
      throw fileAlreadyExists();
    }
    const file = await store.adopt(got.tmpPath);
    return store.commitObject(bucket, {
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
    ...versionHeaders(written),
  });
}

/**
 * The object a read names: the current version, or `versionId`'s (404 NoSuchVersion when there is none). A
 * delete marker answers 404 NoSuchKey when it is the latest version, 405 MethodNotAllowed when asked for by id,
 * both naming it in x-oss-delete-marker / x-oss-version-id.
 */
function requireObject(sc: ServerContext, bucket: string, key: string, versionId?: string): ObjectMeta {
  if (versionId !== undefined) {
    const v = sc.store.getVersion(bucket, key, versionId);
    if (!v) throw new OssError(404, 'NoSuchVersion', 'The specified version does not exist.', { Key: key, VersionId: versionId });
    if (v.deleteMarker) throw new OssError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', {}, versionHeaders(v));
    return v;
  }
  const m = sc.store.getObject(bucket, key);
  if (!m) {
    const marker = sc.store.latestDeleteMarker(bucket, key);
    const e = noSuchKey(key);
    throw marker ? new OssError(e.status, e.code, e.message, e.fields, versionHeaders(marker)) : e;
  }
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
  const m = requireObject(sc, bucket, c.addr.key, requestedVersion(c));
  applyConditions(c, m);
  const headers: Record<string, string> = { ...baseHeaders(c), ...objectHeaders(m), ...versionHeaders(m) };
  for (const p of c.addr.query) {
    if (p.name.startsWith('response-')) {
      headers[p.name.slice('response-'.length).replace(/(^|-)([a-z])/g, (_s, d: string, ch: string) => d + ch.toUpperCase())] = p.value;
    }
  }
  // Invalid/out-of-range → whole object unless `x-oss-range-behavior: standard`.
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

export const getObjectOp = (sc: ServerContext, c: Ctx, bucket: string) => getObject(sc, c, bucket, false);
export const headObject = (sc: ServerContext, c: Ctx, bucket: string) => getObject(sc, c, bucket, true);

export function getObjectMeta(sc: ServerContext, c: Ctx, bucket: string): void {
  const m = requireObject(sc, bucket, c.addr.key, requestedVersion(c));
  sendEmpty(c, 200, {
    ...versionHeaders(m),
    ETag: quote(m.etag),
    'Content-Length': String(m.size),
    'Last-Modified': lastModifiedHeader(m.lastModified),
    'x-oss-hash-crc64ecma': m.crc64,
    'x-oss-object-type': m.type,
  });
}

/**
 * DeleteObject. With `versionId`: exactly that version (a missing one is not an error). Without, on a versioned
 * bucket: a delete marker, named in the answer.
 */
export async function deleteObject(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const key = c.addr.key;
  const versionId = requestedVersion(c);
  if (versionId !== undefined) {
    const removed = await sc.store.withLock(`${bucket}/${key}`, () => sc.store.deleteVersion(bucket, key, versionId));
    sendEmpty(c, 204, removed ? versionHeaders(removed) : { 'x-oss-version-id': versionId });
    return;
  }
  const r = await sc.store.withLock(`${bucket}/${key}`, () => sc.store.deleteObject(bucket, key));
  sendEmpty(c, 204, versionHeaders(r.marker));
}

/** `x-oss-copy-source: /<bucket>/<url-encoded key>[?versionId=…]` (as ali-oss copy() sends it). */
function copySource(c: Ctx): { bucket: string; key: string; versionId?: string } {
  const raw = h(c.req, 'x-oss-copy-source') ?? '';
  const [path = '', query = ''] = raw.split('?');
  const versionId = new URLSearchParams(query).get('versionId') ?? undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw invalidArgument('x-oss-copy-source is invalid.', 'x-oss-copy-source', raw);
  }
  const m = /^\/?([^/]+)\/(.+)$/.exec(decoded);
  if (!m) throw invalidArgument('x-oss-copy-source is invalid.', 'x-oss-copy-source', raw);
  return { bucket: m[1] as string, key: m[2] as string, ...(versionId ? { versionId } : {}) };
}

export function sourceObject(sc: ServerContext, c: Ctx): ObjectMeta {
  const src = copySource(c);
  if (!sc.store.hasBucket(src.bucket)) {
    throw new OssError(404, 'NoSuchBucket', 'The specified bucket does not exist.', { BucketName: src.bucket });
  }
  const m = requireObject(sc, src.bucket, src.key, src.versionId);
  const outcome = evaluateConditions(conditionsFrom(c.req, 'x-oss-copy-source-'), m.etag, m.lastModified);
  if (outcome.kind === 'failed') throw preconditionFailed(`x-oss-copy-source-${outcome.condition.toLowerCase()}`);
  if (outcome.kind === 'not-modified') throw new OssError(304, 'NotModified', 'Not Modified');
  return m;
}

export async function copyObject(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const { store } = sc;
  const key = c.addr.key;
  const src = sourceObject(sc, c);
  if (src.size > OSS.MAX_COPY_OBJECT_SIZE) {
    // CopyObject is for objects ≤ 1 GB; the error code OSS uses is undocumented.
    throw invalidArgument('The source object is larger than 1 GB; use UploadPartCopy.', 'x-oss-copy-source', h(c.req, 'x-oss-copy-source') ?? '');
  }
  const forbid = forbidOverwrite(c.req);
  const replace = (h(c.req, 'x-oss-metadata-directive') ?? 'COPY').toUpperCase() === 'REPLACE';
  const now = Date.now();
  const written = await store.withLock(`${bucket}/${key}`, async () => {
    if (forbid && store.getObject(bucket, key)) throw fileAlreadyExists();
    const segments = await store.cloneSegments(src.segments);
    const { versionId: _sourceVersion, ...copied } = src;
    return store.commitObject(bucket, {
      ...copied,
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
    ...versionHeaders(written),
    ...(src.versionId !== undefined ? { 'x-oss-copy-source-version-id': src.versionId } : {}),
  });
}

export async function appendObject(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
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
      // 409 + x-oss-next-append-position (oss2 reads the header unconditionally).
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
    // The append response carries the CRC of the WHOLE object so far (combine).
    const crc = m ? crc64Combine(crc64FromWire(m.crc64), got.crc64, got.size) : got.crc64;
    const size = (m?.size ?? 0) + got.size;
    // The appendable ETag is not an MD5 (algorithm undocumented); any stable 32-hex value ending in zeros.
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
    return store.commitObject(bucket, meta);
  });
  sendEmpty(c, 200, {
    ETag: quote(result.etag),
    'x-oss-next-append-position': String(result.size),
    'x-oss-hash-crc64ecma': result.crc64,
    ...versionHeaders(result),
  });
}

