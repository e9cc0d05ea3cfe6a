/**
 * The route table: which operation a request is, from method, target (service / bucket / object), selecting
 * sub-resources and the copy-source header; and which sub-resources each operation understands (any other signed
 * sub-resource → 501 NotImplemented naming it). The first matching row wins, so more specific rows come first.
 * Adding an operation = one row here + one handler in ops-*.ts.
 */
import { getParam, hasParam, type Addressed } from './addressing.ts';
import { SIGNED_SUBRESOURCES } from './auth.ts';
import { notImplemented } from './errors.ts';
import type { Ctx, ServerContext } from './http-io.ts';
import * as b from './ops-bucket.ts';
import * as m from './ops-multipart.ts';
import * as o from './ops-object.ts';
import * as v from './versions.ts';

/** `bucket` is '' for service-level routes. */
export type Handler = (sc: ServerContext, c: Ctx, bucket: string) => void | Promise<void>;

export interface Route {
  operation: string;
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  target: 'service' | 'bucket' | 'object';
  /** The row matches when any of these is in the query (`name` present, or `name=value`); none = always. */
  subresources?: string[];
  /** Further sub-resources the operation understands. */
  accepts?: string[];
  /** true: only with `x-oss-copy-source`; false: only without; absent: either. */
  copySource?: boolean;
  /** PutBucket runs on a bucket that does not exist yet; every other bucket/object route needs it to exist. */
  createsBucket?: boolean;
  handler: Handler;
}

const RESPONSE_OVERRIDES = [
  'response-content-type', 'response-content-language', 'response-expires', 'response-cache-control',
  'response-content-disposition', 'response-content-encoding',
];

export const ROUTES: readonly Route[] = [
  { operation: 'ListBuckets', method: 'GET', target: 'service', handler: b.listBuckets },

  { operation: 'PutBucketVersioning', method: 'PUT', target: 'bucket', subresources: ['versioning'], handler: v.putBucketVersioning },
  { operation: 'PutBucket', method: 'PUT', target: 'bucket', createsBucket: true, handler: b.putBucket },
  { operation: 'DeleteBucket', method: 'DELETE', target: 'bucket', handler: b.deleteBucket },
  { operation: 'HeadBucket', method: 'HEAD', target: 'bucket', handler: b.headBucket },
  { operation: 'DeleteMultipleObjects', method: 'POST', target: 'bucket', subresources: ['delete'], handler: b.deleteMultiple },
  { operation: 'ListMultipartUploads', method: 'GET', target: 'bucket', subresources: ['uploads'], handler: m.listUploads },
  { operation: 'GetBucketLocation', method: 'GET', target: 'bucket', subresources: ['location'], handler: b.getBucketLocation },
  { operation: 'GetBucketInfo', method: 'GET', target: 'bucket', subresources: ['bucketInfo'], handler: b.getBucketInfo },
  { operation: 'GetBucketVersioning', method: 'GET', target: 'bucket', subresources: ['versioning'], handler: v.getBucketVersioning },
  { operation: 'ListObjectVersions', method: 'GET', target: 'bucket', subresources: ['versions'], accepts: ['versionId'], handler: v.listObjectVersions },
  { operation: 'ListObjectsV2', method: 'GET', target: 'bucket', subresources: ['list-type=2'], accepts: ['continuation-token'], handler: b.listObjectsV2 },
  { operation: 'ListObjects', method: 'GET', target: 'bucket', handler: b.listObjectsV1 },

  { operation: 'UploadPartCopy', method: 'PUT', target: 'object', subresources: ['partNumber', 'uploadId'], copySource: true, handler: m.uploadPartCopy },
  { operation: 'UploadPart', method: 'PUT', target: 'object', subresources: ['partNumber', 'uploadId'], handler: m.uploadPartOp },
  { operation: 'CopyObject', method: 'PUT', target: 'object', copySource: true, handler: o.copyObject },
  { operation: 'PutObject', method: 'PUT', target: 'object', handler: o.putObject },
  { operation: 'ListParts', method: 'GET', target: 'object', subresources: ['uploadId'], handler: m.listParts },
  { operation: 'GetObject', method: 'GET', target: 'object', accepts: [...RESPONSE_OVERRIDES, 'versionId'], handler: o.getObjectOp },
  { operation: 'GetObjectMeta', method: 'HEAD', target: 'object', subresources: ['objectMeta'], accepts: ['versionId'], handler: o.getObjectMeta },
  { operation: 'HeadObject', method: 'HEAD', target: 'object', accepts: ['versionId'], handler: o.headObject },
  { operation: 'AbortMultipartUpload', method: 'DELETE', target: 'object', subresources: ['uploadId'], handler: m.abort },
  { operation: 'DeleteObject', method: 'DELETE', target: 'object', accepts: ['versionId'], handler: o.deleteObject },
  { operation: 'InitiateMultipartUpload', method: 'POST', target: 'object', subresources: ['uploads'], handler: m.initiate },
  { operation: 'CompleteMultipartUpload', method: 'POST', target: 'object', subresources: ['uploadId'], handler: m.complete },
  { operation: 'AppendObject', method: 'POST', target: 'object', subresources: ['append'], accepts: ['position'], handler: o.appendObject },
];

const targetOf = (addr: Addressed): Route['target'] => (addr.bucket === undefined ? 'service' : addr.key === '' ? 'bucket' : 'object');

function selects(route: Route, addr: Addressed): boolean {
  if (!route.subresources) return true;
  return route.subresources.some((s) => {
    const eq = s.indexOf('=');
    return eq === -1 ? hasParam(addr.query, s) : getParam(addr.query, s.slice(0, eq)) === s.slice(eq + 1);
  });
}

/** The route for a request, or undefined (→ 501 NotImplemented). */
export function routeOf(method: string, addr: Addressed, copySource: boolean): Route | undefined {
  const target = targetOf(addr);
  return ROUTES.find(
    (r) => r.method === method && r.target === target && (r.copySource === undefined || r.copySource === copySource) && selects(r, addr),
  );
}

/** The OSS operation name for a request ('Unsupported' when no route matches). */
export function operationOf(method: string, addr: Addressed, copySource: boolean): string {
  return routeOf(method, addr, copySource)?.operation ?? 'Unsupported';
}

const ALWAYS_OK = new Set(['security-token']);

/** 501 NotImplemented for a signed sub-resource the route does not understand, or for no route at all. */
export function checkSubresources(route: Route | undefined, addr: Addressed, method: string): void {
  const handled = new Set([...(route?.subresources ?? []).map((s) => s.split('=')[0] as string), ...(route?.accepts ?? [])]);
  for (const p of addr.query) {
    if (SIGNED_SUBRESOURCES.has(p.name) && !handled.has(p.name) && !ALWAYS_OK.has(p.name)) {
      throw notImplemented(`${method} ?${p.name}`);
    }
  }
  if (!route) throw notImplemented(`${method} ${targetOf(addr)}`);
}
