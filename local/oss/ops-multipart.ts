/** Multipart operations: Initiate, UploadPart(Copy), Complete, Abort, ListParts, ListMultipartUploads. */
import { randomBytes } from 'node:crypto';
import { OSS } from '../../shared/limits.ts';
import { getParam } from './addressing.ts';
import { fileAlreadyExists, invalidArgument, noSuchUpload, OssError } from './errors.ts';
import {
  bodyLength,
  clampInt,
  contentTypeOf,
  forbidOverwrite,
  h,
  parseContentMd5,
  quote,
  readSmallBody,
  receiveBody,
  sendEmpty,
  sendXml,
  storedHeadersFrom,
  userMetaFrom,
  type Ctx,
  type ServerContext,
} from './http-io.ts';
import { listPage } from './listing.ts';
import { sourceObject } from './ops-object.ts';
import { contentRange, decideCopyRange } from './range.ts';
import { compareKeys, crc64ToWire, multipartEtag, Store, type ObjectMeta, type PartMeta } from './store.ts';
import { versionHeaders } from './versions.ts';
import { isoDate, parseCompleteBody } from './xml.ts';

export async function initiate(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const key = c.addr.key;
  const forbid = forbidOverwrite(c.req);
  if (forbid && sc.store.getObject(bucket, key)) throw fileAlreadyExists();
  // Upload IDs are 32 upper-hex. An existing object stays untouched until Complete.
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
    // OSS: 400 InvalidArgument, ArgumentName PartNumber.
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
      // UploadPartCopy cannot copy Appendable objects (error code UNCONFIRMED).
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
  await sc.testHook?.(c.op, 'answer');
  if (isCopy) {
    // OSS documents ETag + Content-Range and a CopyPartResult body, no x-oss-hash-crc64ecma: the part's CRC-64
    // is known from ListParts (HashCrc64ecma). Not sending one keeps clients honest about where it comes from.
    sendXml(c, 200, 'CopyPartResult', { LastModified: isoDate(now), ETag: quote(etag) }, { ETag: quote(etag), ...extra });
  } else {
    sendEmpty(c, 200, { ETag: quote(etag), 'x-oss-hash-crc64ecma': crc, 'Content-MD5': got.md5.toString('base64') });
  }
}

export const uploadPartOp = (sc: ServerContext, c: Ctx, bucket: string) => uploadPart(sc, c, bucket, false);
export const uploadPartCopy = (sc: ServerContext, c: Ctx, bucket: string) => uploadPart(sc, c, bucket, true);

export async function complete(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const { store } = sc;
  const key = c.addr.key;
  const { uploadId } = requireUpload(sc, c, bucket);
  const body = await readSmallBody(c);
  const completeAll = (h(c.req, 'x-oss-complete-all') ?? '').toLowerCase() === 'yes';
  // With `x-oss-complete-all: yes` OSS takes every uploaded part and the body must not list parts.
  // ali-oss's completeMultipartUpload(…, []) still sends an empty <CompleteMultipartUpload/>, so accept that.
  if (completeAll && body.length > 0 && /<Part>/.test(body.toString('utf8'))) {
    throw invalidArgument('x-oss-complete-all requires a body without parts.', 'x-oss-complete-all', 'yes');
  }
  const listed = completeAll ? undefined : parseCompleteBody(body.toString('utf8'));
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
          // Ascending PartNumber order → else 400 InvalidPartOrder.
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
      // Every non-last part ≥ 100 KB, checked here (not at UploadPart).
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
      const written = await store.commitObject(bucket, meta);
      await store.dropUpload(bucket, uploadId, new Set(chosen.map((p) => p.file)));
      return written;
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
    { ETag: quote(result.etag), 'x-oss-hash-crc64ecma': sc.faults.misreportsCrc64(c.op) ? String(BigInt(result.crc64) ^ 1n) : result.crc64, ...versionHeaders(result) },
  );
}

export async function abort(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const { uploadId } = requireUpload(sc, c, bucket);
  await sc.store.withLock(`upload:${uploadId}`, () => sc.store.dropUpload(bucket, uploadId));
  sendEmpty(c, 204);
}

export function listParts(sc: ServerContext, c: Ctx, bucket: string): void {
  const { uploadId, upload } = requireUpload(sc, c, bucket);
  const withCrc = !sc.faults.omitsCrc64(c.op);
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
      ...(withCrc ? { HashCrc64ecma: p.crc64 } : {}),
      Size: String(p.size),
    })),
  });
}

export function listUploads(sc: ServerContext, c: Ctx, bucket: string): void {
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

