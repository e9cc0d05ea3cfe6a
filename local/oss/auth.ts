/**
 * Request authentication: OSS signature V1 (`OSS ak:sig`, HMAC-SHA1), V1 query-string signed URLs,
 * and V4 (`OSS4-HMAC-SHA256`). String building is pure and unit-tested; `authenticate` applies it to a
 * request and throws the OssError real OSS would answer.
 * OSS API reference: signature V1 (Authorization: OSS), V4 (OSS4-HMAC-SHA256), and their error codes.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { OssError } from './errors.ts';
import type { QueryParam } from './addressing.ts';

/**
 * V1 sub-resource whitelist: only these query parameters enter the CanonicalizedResource.
 * Which sub-resources are signed in V1 follows the Go SDK's `signKeyList`, github.com/aliyun/aliyun-oss-go-sdk oss/conn.go).
 */
export const SIGNED_SUBRESOURCES: ReadonlySet<string> = new Set([
  'acl', 'uploads', 'location', 'cors', 'logging', 'website', 'referer', 'lifecycle', 'delete', 'append',
  'tagging', 'objectMeta', 'uploadId', 'partNumber', 'security-token', 'position', 'img', 'style', 'styleName',
  'replication', 'replicationProgress', 'replicationLocation', 'cname', 'bucketInfo', 'comp', 'qos', 'live',
  'status', 'vod', 'startTime', 'endTime', 'symlink', 'x-oss-process', 'response-content-type',
  'x-oss-traffic-limit', 'response-content-language', 'response-expires', 'response-cache-control',
  'response-content-disposition', 'response-content-encoding', 'udf', 'udfName', 'udfImage', 'udfId',
  'udfImageDesc', 'udfApplication', 'udfApplicationLog', 'restore', 'callback', 'callback-var', 'qosInfo',
  'policy', 'stat', 'encryption', 'versions', 'versioning', 'versionId', 'requestPayment',
  'x-oss-request-payer', 'sequential', 'inventory', 'inventoryId', 'continuation-token', 'asyncFetch', 'worm',
  'wormId', 'wormExtend', 'withHashContext', 'x-oss-enable-md5', 'x-oss-enable-sha1', 'x-oss-enable-sha256',
  'x-oss-hash-ctx', 'x-oss-md5-ctx', 'transferAcceleration', 'regionList', 'cloudboxes', 'x-oss-ac-source-ip',
  'x-oss-ac-subnet-mask', 'x-oss-ac-vpc-id', 'x-oss-ac-forward-allow', 'metaQuery', 'resourceGroup', 'rtc',
  'x-oss-async-process', 'responseHeader',
]);

/** Max clock skew: over 15 minutes → 403 RequestTimeTooSkewed. */
export const MAX_SKEW_MS = 15 * 60 * 1000;

export type Headers = Record<string, string | string[] | undefined>;

export interface SignTarget {
  method: string;
  headers: Headers;
  bucket: string | undefined;
  key: string;
  query: QueryParam[];
}

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** `/bucket/key`, `/bucket/` for bucket requests, `/` for service requests (ali-oss `_getResource`). */
export function canonicalPath(bucket: string | undefined, key: string): string {
  return bucket === undefined ? '/' : `/${bucket}/${key}`;
}

function canonicalOssHeadersV1(headers: Headers): string[] {
  const out: string[] = [];
  for (const name of Object.keys(headers).filter((n) => n.startsWith('x-oss-')).sort()) {
    out.push(`${name}:${(header(headers, name) ?? '').trim()}`);
  }
  return out;
}

/**
 * V1 StringToSign: VERB, Content-MD5, Content-Type, Date (x-oss-date wins over Date, or the
 * `Expires` value for signed URLs), sorted x-oss-* headers, then the resource with whitelisted
 * sub-resources sorted, raw values, `k=v` when non-empty else `k`.
 */
export function v1StringToSign(t: SignTarget, dateOrExpires: string): string {
  const sub = t.query
    .filter((p) => SIGNED_SUBRESOURCES.has(p.name))
    .map((p) => (p.value !== '' ? `${p.name}=${p.value}` : p.name))
    .sort((a, b) => {
      const ka = a.split('=')[0] as string;
      const kb = b.split('=')[0] as string;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
  const resource = canonicalPath(t.bucket, t.key) + (sub.length > 0 ? `?${sub.join('&')}` : '');
  return [
    t.method.toUpperCase(),
    header(t.headers, 'content-md5') ?? '',
    header(t.headers, 'content-type') ?? '',
    dateOrExpires,
    ...canonicalOssHeadersV1(t.headers),
    resource,
  ].join('\n');
}

export function v1Signature(secret: string, stringToSign: string): string {
  return createHmac('sha1', secret).update(Buffer.from(stringToSign, 'utf8')).digest('base64');
}

/** RFC 3986 strict encoding, as ali-oss `encodeString` (encodeURIComponent plus !'()*). */
export function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export interface V4QueryStyle {
  /** true: an empty value given as `k=` is signed `k=`; false: every empty value is signed as bare `k`. */
  keepEquals: boolean;
  /** ali-oss sorts with localeCompare, other SDKs by code unit. */
  localeSort: boolean;
}

export function v4CanonicalQuery(query: QueryParam[], style: V4QueryStyle): string {
  const sorted = [...query].sort((a, b) =>
    style.localeSort ? a.name.localeCompare(b.name) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  return sorted
    .map((p) =>
      p.value === '' && !(style.keepEquals && p.hasEquals)
        ? encodeRfc3986(p.name)
        : `${encodeRfc3986(p.name)}=${encodeRfc3986(p.value)}`,
    )
    .join('&');
}

/** V4 CanonicalRequest. `additional` are the lower-case AdditionalHeaders, already sorted. */
export function v4CanonicalRequest(t: SignTarget, additional: string[], style: V4QueryStyle): string {
  const names = new Set(additional);
  for (const n of Object.keys(t.headers)) {
    if (n === 'content-type' || n === 'content-md5' || n.startsWith('x-oss-')) names.add(n);
  }
  const canonicalHeaders = [...names]
    .sort()
    .map((n) => `${n}:${(header(t.headers, n) ?? '').trim()}\n`)
    .join('');
  return [
    t.method.toUpperCase(),
    encodeRfc3986(canonicalPath(t.bucket, t.key)).replace(/%2F/g, '/'),
    v4CanonicalQuery(t.query, style),
    canonicalHeaders,
    additional.join(';'),
    header(t.headers, 'x-oss-content-sha256') ?? 'UNSIGNED-PAYLOAD',
  ].join('\n');
}

export function v4StringToSign(date: string, scope: string, canonicalRequest: string): string {
  return ['OSS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
}

export function v4Signature(secret: string, day: string, region: string, product: string, stringToSign: string): string {
  const kDate = createHmac('sha256', `aliyun_v4${secret}`).update(day).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kProduct = createHmac('sha256', kRegion).update(product).digest();
  const kSigning = createHmac('sha256', kProduct).update('aliyun_v4_request').digest();
  return createHmac('sha256', kSigning).update(stringToSign).digest('hex');
}

export type ParsedAuthorization =
  | { version: 1; accessKeyId: string; signature: string }
  | {
      version: 4;
      accessKeyId: string;
      day: string;
      region: string;
      product: string;
      additionalHeaders: string[];
      signature: string;
    };

/** Parses the Authorization header; malformed → 400 InvalidArgument. */
export function parseAuthorization(value: string): ParsedAuthorization {
  const bad = () =>
    new OssError(400, 'InvalidArgument', 'Authorization header is invalid.', {
      ArgumentName: 'Authorization',
      ArgumentValue: value.replace(/(Signature=|:)[^,]*$/, '$1***'),
    });
  if (value.startsWith('OSS ')) {
    const rest = value.slice(4);
    const colon = rest.lastIndexOf(':');
    if (colon <= 0) throw bad();
    return { version: 1, accessKeyId: rest.slice(0, colon).trim(), signature: rest.slice(colon + 1).trim() };
  }
  if (value.startsWith('OSS4-HMAC-SHA256 ')) {
    const fields = new Map<string, string>();
    for (const part of value.slice('OSS4-HMAC-SHA256 '.length).split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const cred = fields.get('Credential')?.split('/');
    const signature = fields.get('Signature');
    if (!cred || cred.length !== 5 || cred[4] !== 'aliyun_v4_request' || !signature) throw bad();
    const [accessKeyId, day, region, product] = cred as [string, string, string, string, string];
    const add = fields.get('AdditionalHeaders');
    return {
      version: 4,
      accessKeyId,
      day,
      region,
      product,
      additionalHeaders: add ? add.split(';').map((h) => h.trim().toLowerCase()).sort() : [],
      signature,
    };
  }
  throw bad();
}

export interface Credential {
  accessKeyId: string;
  accessKeySecret: string;
  /** STS credentials must present this token (x-oss-security-token header or security-token query). */
  securityToken?: string;
  /** STS expiry; after it requests fail with 403 SecurityTokenExpired. */
  expiration?: Date;
}

export interface AuthContext {
  credentials: (accessKeyId: string) => Credential | undefined;
  region: string;
  allowAnonymous: boolean;
  now: number;
}

export interface AuthResult {
  accessKeyId: string | undefined;
  version: 0 | 1 | 4;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function signatureMismatch(ak: string, provided: string, stringToSign: string, canonicalRequest?: string): OssError {
  const fields: Record<string, string> = {
    OSSAccessKeyId: ak,
    SignatureProvided: provided,
    StringToSign: stringToSign,
    StringToSignBytes: Buffer.from(stringToSign, 'utf8').toString('hex').replace(/(..)(?!$)/g, '$1 ').toUpperCase(),
  };
  if (canonicalRequest !== undefined) fields.CanonicalRequest = canonicalRequest;
  fields.EC = '0002-00000040';
  return new OssError(
    403,
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    fields,
  );
}

function lookup(ctx: AuthContext, accessKeyId: string, token: string | undefined): Credential {
  const cred = ctx.credentials(accessKeyId);
  if (!cred) {
    throw new OssError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', {
      OSSAccessKeyId: accessKeyId,
    });
  }
  if (cred.securityToken !== undefined) {
    if (token === undefined || !safeEqual(token, cred.securityToken)) {
      throw new OssError(403, 'InvalidAccessKeyId', 'The security token you provided is invalid.', {
        OSSAccessKeyId: accessKeyId,
      });
    }
    if (cred.expiration && cred.expiration.getTime() <= ctx.now) {
      throw new OssError(403, 'SecurityTokenExpired', 'The security token you provided has expired.');
    }
  }
  return cred;
}

function checkSkew(dateMs: number, ctx: AuthContext, raw: string): void {
  if (Number.isNaN(dateMs)) throw new OssError(403, 'AccessDenied', 'OSS authentication requires a valid Date.');
  if (Math.abs(ctx.now - dateMs) > MAX_SKEW_MS) {
    throw new OssError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
      RequestTime: raw,
      ServerTime: new Date(ctx.now).toISOString(),
      MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS),
    });
  }
}

/** `20261121T221640Z` → epoch ms. */
export function parseV4Date(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return Number.NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/** Verifies the request's signature, or throws the OssError OSS would answer. */
export function authenticate(t: SignTarget, ctx: AuthContext): AuthResult {
  const authz = header(t.headers, 'authorization');
  const q = (n: string) => t.query.find((p) => p.name === n)?.value;
  if (authz === undefined || authz === '') {
    const ak = q('OSSAccessKeyId');
    const sig = q('Signature');
    const expires = q('Expires');
    if (ak !== undefined && sig !== undefined && expires !== undefined) {
      // V1 signed URL (ali-oss signatureUrl): Expires takes the Date slot; security-token is a sub-resource.
      const cred = lookup(ctx, ak, q('security-token'));
      const stringToSign = v1StringToSign(t, expires);
      if (!safeEqual(v1Signature(cred.accessKeySecret, stringToSign), sig)) throw signatureMismatch(ak, sig, stringToSign);
      if (Number(expires) * 1000 < ctx.now) throw new OssError(403, 'AccessDenied', 'Request has expired.', { Expires: expires });
      return { accessKeyId: ak, version: 1 };
    }
    if (ctx.allowAnonymous) return { accessKeyId: undefined, version: 0 };
    throw new OssError(403, 'AccessDenied', 'AccessDenied: You have no right to access this object because of bucket acl.');
  }
  const parsed = parseAuthorization(authz);
  const token = header(t.headers, 'x-oss-security-token');
  if (parsed.version === 1) {
    const date = header(t.headers, 'x-oss-date') ?? header(t.headers, 'date');
    if (date === undefined) throw new OssError(403, 'AccessDenied', 'OSS authentication requires a valid Date.');
    const cred = lookup(ctx, parsed.accessKeyId, token);
    const stringToSign = v1StringToSign(t, date);
    if (!safeEqual(v1Signature(cred.accessKeySecret, stringToSign), parsed.signature)) {
      throw signatureMismatch(parsed.accessKeyId, parsed.signature, stringToSign);
    }
    checkSkew(Date.parse(date), ctx, date);
    return { accessKeyId: parsed.accessKeyId, version: 1 };
  }
  const date = header(t.headers, 'x-oss-date');
  if (date === undefined || !date.startsWith(parsed.day)) {
    throw new OssError(403, 'AccessDenied', 'OSS authentication requires a valid x-oss-date matching the credential scope.');
  }
  const sha = header(t.headers, 'x-oss-content-sha256');
  if (sha !== undefined && sha !== 'UNSIGNED-PAYLOAD') {
    // OSS V4 accepts only UNSIGNED-PAYLOAD.
    throw new OssError(400, 'InvalidArgument', 'x-oss-content-sha256 must be UNSIGNED-PAYLOAD.', {
      ArgumentName: 'x-oss-content-sha256',
      ArgumentValue: sha,
    });
  }
  if (parsed.region !== ctx.region) {
    throw new OssError(400, 'InvalidArgument', `Invalid signing region in Authorization header; expected ${ctx.region}.`, {
      ArgumentName: 'Authorization',
      ArgumentValue: parsed.region,
    });
  }
  const cred = lookup(ctx, parsed.accessKeyId, token);
  const scope = `${parsed.day}/${parsed.region}/${parsed.product}/aliyun_v4_request`;
  let first: { canonical: string; sts: string } | undefined;
  // The wire cannot tell ali-oss's `null` (bare key) from '' (`k=`) sub-resource values, and ali-oss sorts with
  // localeCompare: accept any of these deterministic canonical forms (each still a full HMAC check).
  for (const style of [
    { keepEquals: false, localeSort: true },
    { keepEquals: true, localeSort: true },
    { keepEquals: false, localeSort: false },
    { keepEquals: true, localeSort: false },
  ]) {
    const canonical = v4CanonicalRequest(t, parsed.additionalHeaders, style);
    const sts = v4StringToSign(date, scope, canonical);
    first ??= { canonical, sts };
    if (safeEqual(v4Signature(cred.accessKeySecret, parsed.day, parsed.region, parsed.product, sts), parsed.signature)) {
      checkSkew(parseV4Date(date), ctx, date);
      return { accessKeyId: parsed.accessKeyId, version: 4 };
    }
  }
  throw signatureMismatch(parsed.accessKeyId, parsed.signature, first!.sts, first!.canonical);
}
