/**
 * Request addressing: which bucket, which key, which query parameters. Pure functions.
 *
 * With an IP endpoint ali-oss sends path `/<key>` and `Host: <bucket>.oss-<region>.aliyuncs.com`
 * (no port); with `sldEnable` it sends path style `/<bucket>/<key>` with the endpoint's Host. Keys are escaped
 * with encodeURIComponent (then `%2F`→`/`, `+`→`%2B`), so we decode with decodeURIComponent semantics:
 * `%2B`→`+` and a literal `+` stays `+` (never a space).
 */
import { OSS } from '../../shared/limits.ts';
import { OssError } from './errors.ts';

/** One query parameter in wire order; `hasEquals` tells `k=` from bare `k` (matters for the V4 canonical query). */
export interface QueryParam {
  name: string;
  value: string;
  hasEquals: boolean;
}

export interface Addressed {
  /** undefined for service-level requests (ListBuckets). */
  bucket: string | undefined;
  /** '' for bucket-level requests. */
  key: string;
  query: QueryParam[];
  /** Raw request path, without the query. */
  rawPath: string;
  /** How the bucket was found: from Host (virtual-hosted) or from the first path segment. */
  style: 'host' | 'path' | 'none';
}

const invalidUri = () => new OssError(400, 'InvalidURI', 'Could not parse the specified URI.');

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw invalidUri();
  }
}

/** Parses `a=1&b&c=` keeping order and the bare/`=` distinction; `+` is NOT a space (see module doc). */
export function parseQuery(search: string): QueryParam[] {
  const out: QueryParam[] = [];
  if (search === '') return out;
  for (const part of search.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq === -1) out.push({ name: decode(part), value: '', hasEquals: false });
    else out.push({ name: decode(part.slice(0, eq)), value: decode(part.slice(eq + 1)), hasEquals: true });
  }
  return out;
}

/** Bucket from a virtual-hosted Host header, or undefined when the Host does not name one. */
export function bucketFromHost(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  // `<bucket>.oss-<region>[-internal].aliyuncs.com`, derived by ali-oss from `region`.
  const m = /^(.+)\.oss-[a-z0-9-]+\.aliyuncs\.com$/.exec(name) ?? /^(.+)\.localhost$/.exec(name);
  return m?.[1];
}

export function parseRequestTarget(url: string, host: string | undefined, method: string): Addressed {
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const query = parseQuery(q === -1 ? '' : url.slice(q + 1));
  if (!rawPath.startsWith('/')) throw invalidUri();
  let hostBucket = bucketFromHost(host);
  // ali-oss quirk: with an IP endpoint, listBuckets() sends `Host: undefined.oss-<region>.aliyuncs.com`
  // (createRequest interpolates params.bucket, which is undefined there). Treat it as "no bucket".
  if (hostBucket === 'undefined' && rawPath === '/' && method === 'GET') hostBucket = undefined;
  if (hostBucket !== undefined) {
    return { bucket: hostBucket, key: decode(rawPath.slice(1)), query, rawPath, style: 'host' };
  }
  const rest = rawPath.slice(1);
  if (rest === '') return { bucket: undefined, key: '', query, rawPath, style: 'none' };
  const slash = rest.indexOf('/');
  const bucket = decode(slash === -1 ? rest : rest.slice(0, slash));
  const key = slash === -1 ? '' : decode(rest.slice(slash + 1));
  return { bucket, key, query, rawPath, style: 'path' };
}

export function getParam(query: QueryParam[], name: string): string | undefined {
  for (const p of query) if (p.name === name) return p.value;
  return undefined;
}

export function hasParam(query: QueryParam[], name: string): boolean {
  return query.some((p) => p.name === name);
}

/** Bucket naming rule ali-oss enforces on create (OSS: 3–63 chars of a-z, 0-9, "-"). */
export function isValidBucketName(name: string): boolean {
  return /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(name);
}

/** Longest object key OSS accepts, in UTF-8 bytes. */
export const MAX_KEY_BYTES = OSS.MAX_KEY_BYTES;

/** OSS refuses longer keys with 400 InvalidObjectName (error page 0016-00000003) before touching anything. */
export function checkObjectKey(key: string): void {
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new OssError(400, 'InvalidObjectName', `The length of the object name is more than ${MAX_KEY_BYTES} bytes.`, { ObjectName: key });
  }
}
