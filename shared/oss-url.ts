/** `oss://bucket/key` locations: parsing (a problem description instead of a throw) and printing. */
import { OSS } from './limits.ts';

/** An OSS object location. */
export interface OssLocation {
  bucket: string;
  key: string;
}

// OSS bucket naming: 3–63 chars of a-z, 0-9 and "-"; "_" is accepted by ali-oss when using a bucket.
const BUCKET_RE = /^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$/;

/** Parses `oss://bucket/key`; returns a problem description instead of throwing. */
export function parseOssUrl(url: string): OssLocation | string {
  if (!url.startsWith('oss://')) return 'must start with oss://';
  const rest = url.slice('oss://'.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return 'has no object key after the bucket';
  const bucket = rest.slice(0, slash);
  const key = rest.slice(slash + 1);
  if (!BUCKET_RE.test(bucket)) return `bucket ${JSON.stringify(bucket)} is not an OSS bucket name (3-63 lowercase letters, digits, "-")`;
  if (key.length === 0) return 'has an empty object key';
  if (key.startsWith('/')) return 'object key starts with "/" (OSS keys have no leading slash)';
  if (Buffer.byteLength(key) > OSS.MAX_KEY_BYTES) return `object key is longer than ${OSS.MAX_KEY_BYTES} bytes`;
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'object key contains control characters';
  return { bucket, key };
}

/** `oss://bucket/key` text for a location. */
export function ossUrl(loc: OssLocation): string {
  return `oss://${loc.bucket}/${loc.key}`;
}
