/** Bucket-level operations: create, delete, head, location, info, object listings, multi-delete. */
import { getParam, isValidBucketName } from './addressing.ts';
import { malformedXml, OssError } from './errors.ts';
import { clampInt, OWNER, quote, readSmallBody, sendEmpty, sendText, sendXml, type Ctx, type ServerContext } from './http-io.ts';
import { listPage } from './listing.ts';
import { isoDate, parseCreateBucketBody, parseDeleteBody } from './xml.ts';

export function listBuckets(sc: ServerContext, c: Ctx): void {
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


export async function putBucket(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  if (!isValidBucketName(bucket)) {
    throw new OssError(400, 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: bucket });
  }
  // Optional <CreateBucketConfiguration>; validate if present so malformed XML is reported.
  const body = await readSmallBody(c);
  if (body.length > 0) parseCreateBucketBody(body.toString('utf8'));
  await sc.store.createBucket(bucket);
  sendEmpty(c, 200, { Location: `/${bucket}` });
}

export async function deleteBucket(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  await sc.store.deleteBucket(bucket);
  sendEmpty(c, 204);
}

export function headBucket(_sc: ServerContext, c: Ctx): void {
  sendEmpty(c, 200);
}

export function getBucketLocation(sc: ServerContext, c: Ctx): void {
  sendText(c, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint>oss-${sc.region}</LocationConstraint>`);
}

export function getBucketInfo(sc: ServerContext, c: Ctx, bucket: string): void {
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

/** A key as OSS writes it under encoding-type=url: percent-encoded, "/" kept. */
const urlEncodeKey = (s: string) => encodeURIComponent(s).replace(/%2F/g, '/');

export const listObjectsV1 = (sc: ServerContext, c: Ctx, bucket: string) => listObjects(sc, c, bucket, false);
export const listObjectsV2 = (sc: ServerContext, c: Ctx, bucket: string) => listObjects(sc, c, bucket, true);

function listObjects(sc: ServerContext, c: Ctx, bucket: string, v2: boolean): void {
  const q = (n: string) => getParam(c.addr.query, n);
  const prefix = q('prefix') ?? '';
  const delimiter = q('delimiter') ?? '';
  const max = clampInt(q('max-keys'), 100, 0, 1000, 'max-keys');
  const urlEncode = q('encoding-type') === 'url';
  const enc = (s: string) => (urlEncode ? urlEncodeKey(s) : s);
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
    // ali-oss list() dereferences Owner without a null check.
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

export async function deleteMultiple(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const body = await readSmallBody(c);
  const { quiet, keys } = parseDeleteBody(body.toString('utf8'));
  if (keys.length > 1000) throw malformedXml();
  const deleted: string[] = [];
  for (const key of keys) {
    await sc.store.withLock(`${bucket}/${key}`, () => sc.store.deleteObject(bucket, key));
    deleted.push(key);
  }
  // With encoding-type=url OSS answers the keys URL-encoded and says so (the Go SDK decodes them).
  const urlEncode = getParam(c.addr.query, 'encoding-type') === 'url';
  sendXml(c, 200, 'DeleteResult', {
    EncodingType: urlEncode && !quiet ? 'url' : undefined,
    Deleted: quiet ? undefined : deleted.map((k) => ({ Key: urlEncode ? urlEncodeKey(k) : k })),
  });
}
