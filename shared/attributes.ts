/**
 * Object attributes: what a copy carries over from its source (Content-Type, Content-Encoding, Cache-Control,
 * Content-Disposition, Expires, x-oss-meta-*) and what the job sets on the destination (storage class,
 * server-side encryption, tags, ACL). Pure: sources hand in response headers, the engine takes the headers
 * for InitiateMultipartUpload (OSS takes an object's headers and metadata only there, never at Complete).
 */
import { lookup as mimeLookup } from 'mime-types';

/** The standard headers a copy keeps, lower-case. */
export const CARRIED_HEADERS = ['content-type', 'content-encoding', 'cache-control', 'content-disposition', 'expires'] as const;
export type CarriedHeader = (typeof CARRIED_HEADERS)[number];

/** What a source says about its object besides its bytes. */
export interface ObjectAttributes {
  headers: Partial<Record<CarriedHeader, string>>;
  /** User metadata without the x-oss-meta- prefix, lower-case names. */
  meta: Record<string, string>;
}

const META_PREFIX = 'x-oss-meta-';
/** Values OSS stores as headers must be printable ASCII; anything else is dropped rather than mangled. */
const PRINTABLE = /^[\x20-\x7e]*$/;

type Headers = Record<string, string | string[] | undefined>;
const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** Picks the carried headers and x-oss-meta-* from a response's headers (lower-case names, as Node gives them). */
export function attributesFromHeaders(h: Headers): ObjectAttributes {
  const out: ObjectAttributes = { headers: {}, meta: {} };
  for (const name of CARRIED_HEADERS) {
    const v = first(h[name]);
    if (v !== undefined && v !== '' && PRINTABLE.test(v)) out.headers[name] = v;
  }
  for (const [name, value] of Object.entries(h)) {
    const v = first(value);
    if (name.startsWith(META_PREFIX) && name.length > META_PREFIX.length && v !== undefined && PRINTABLE.test(v)) {
      out.meta[name.slice(META_PREFIX.length)] = v;
    }
  }
  return out;
}

/** Content-Type by the key's extension, or undefined when the extension is unknown. */
export function contentTypeFor(key: string): string | undefined {
  const t = mimeLookup(key.split('/').pop() ?? key);
  return t === false ? undefined : t;
}

// The job's object options live in ./object-options.ts (zod only, so the Pulumi program can check stack defaults with them).
export { OBJECT_ACLS, objectOptionsProblem, objectOptionsSchema, SSE_ALGORITHMS, STORAGE_CLASSES, type ObjectOptions, type ObjectOptionsInput } from './object-options.ts';
import type { ObjectOptions } from './object-options.ts';

/** Whether the job writes an archive (gzip) or a copy: decides the destination's Content-Type. */
export type WriteMode = 'copy' | 'archive';

export const ARCHIVE_CONTENT_TYPE = 'application/gzip';
/** Metadata name under which an archive keeps its source's Content-Type. */
export const SOURCE_CONTENT_TYPE_META = 'source-content-type';

/**
 * The headers of InitiateMultipartUpload for the destination (without x-oss-meta-*, see `destinationMeta`).
 * A copy keeps the source's headers (or guesses Content-Type from the key); an archive is application/gzip and
 * carries no Content-Encoding (a gzip file, not a gzip-encoded representation of something else).
 */
export function destinationHeaders(args: { mode: WriteMode; key: string; source?: ObjectAttributes; options: ObjectOptions }): Record<string, string> {
  const { mode, key, options } = args;
  const src = options.preserve ? args.source : undefined;
  const h: Record<string, string> = {};
  if (mode === 'copy') {
    for (const name of CARRIED_HEADERS) {
      const v = src?.headers[name];
      if (v !== undefined) h[name] = v;
    }
    if (h['content-type'] === undefined) {
      const guess = contentTypeFor(key);
      if (guess !== undefined) h['content-type'] = guess;
    }
  } else {
    h['content-type'] = ARCHIVE_CONTENT_TYPE;
    for (const name of ['cache-control', 'content-disposition', 'expires'] as const) {
      const v = src?.headers[name];
      if (v !== undefined) h[name] = v;
    }
  }
  if (options.storageClass) h['x-oss-storage-class'] = options.storageClass;
  if (options.serverSideEncryption) {
    h['x-oss-server-side-encryption'] = options.serverSideEncryption;
    if (options.kmsKeyId) h['x-oss-server-side-encryption-key-id'] = options.kmsKeyId;
  }
  if (options.tags && Object.keys(options.tags).length > 0) {
    h['x-oss-tagging'] = new URLSearchParams(Object.entries(options.tags)).toString();
  }
  if (options.acl) h['x-oss-object-acl'] = options.acl;
  return h;
}

/** The source's user metadata to keep (archives also keep the source's Content-Type under SOURCE_CONTENT_TYPE_META). */
export function destinationMeta(args: { mode: WriteMode; source?: ObjectAttributes; options: ObjectOptions }): Record<string, string> {
  const src = args.options.preserve ? args.source : undefined;
  const meta: Record<string, string> = { ...(src?.meta ?? {}) };
  const type = src?.headers['content-type'];
  if (args.mode === 'archive' && type !== undefined) meta[SOURCE_CONTENT_TYPE_META] = type;
  return meta;
}

/** The last path segment of a source URL or key, decoded; undefined when there is none (a URL ending in "/"). */
export function sourceBaseName(url: string): string | undefined {
  let path: string;
  if (url.startsWith('oss://')) path = url.slice('oss://'.length).split('/').slice(1).join('/');
  else {
    try {
      path = decodeURIComponent(new URL(url).pathname);
    } catch {
      return undefined;
    }
  }
  const base = path.split('/').pop();
  return base ? base : undefined;
}
