/**
 * FC 2016-08-15 request signing, exactly as @alicloud/fc2@2.6.6 computes it
 * (FC API reference, request signatures; node_modules/@alicloud/fc2/lib/helper.js composeStringToSign).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** fc2 quirk: base64 of the 32-char *hex* MD5 string, not of the 16 raw bytes. */
export function fcContentMd5(body: Buffer): string {
  return Buffer.from(createHash('md5').update(body).digest('hex'), 'utf8').toString('base64');
}

function first(v: string | string[] | undefined): string {
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}

/**
 * METHOD\nContent-MD5\nContent-Type\nDate\n + sorted "x-fc-name:value\n" + "/2016-08-15/path" (no query string;
 * queries are signed only for /proxy/ paths, HTTP triggers, which this gateway does not serve).
 */
export function fcStringToSign(method: string, pathWithVersion: string, headers: IncomingHttpHeaders): string {
  const fcHeaders = Object.keys(headers)
    .map((k) => k.toLowerCase().trim())
    .filter((k) => k.startsWith('x-fc-'))
    .sort();
  let canonical = '';
  for (const k of fcHeaders) canonical += `${k}:${first(headers[k])}\n`;
  return (
    `${method.toUpperCase()}\n${first(headers['content-md5'])}\n${first(headers['content-type'])}\n` +
    `${first(headers['date'])}\n${canonical}${pathWithVersion}`
  );
}

export function fcSignature(accessKeySecret: string, stringToSign: string): string {
  return createHmac('sha256', accessKeySecret).update(stringToSign, 'utf8').digest('base64');
}

export type SignatureCheck =
  | { ok: true }
  | { ok: false; status: 400 | 403; code: string; message: string };

/** Verifies `Authorization: FC <akid>:<b64 hmac>` against the known key pair. */
export function verifyFcSignature(args: {
  method: string;
  pathWithVersion: string;
  headers: IncomingHttpHeaders;
  accessKeyId: string;
  accessKeySecret: string;
}): SignatureCheck {
  const auth = first(args.headers.authorization);
  if (auth === '') return { ok: false, status: 400, code: 'MissingRequiredHeader', message: 'missing Authorization header' };
  if (first(args.headers.date) === '') return { ok: false, status: 400, code: 'MissingRequiredHeader', message: 'missing Date header' };
  const m = /^FC ([^:]+):(.+)$/.exec(auth);
  if (m === null) return { ok: false, status: 403, code: 'InvalidArgument', message: 'malformed Authorization header' };
  if (m[1] !== args.accessKeyId) {
    return { ok: false, status: 403, code: 'InvalidAccessKeyID', message: `access key id ${m[1]} does not exist` };
  }
  const stringToSign = fcStringToSign(args.method, args.pathWithVersion, args.headers);
  const expected = Buffer.from(fcSignature(args.accessKeySecret, stringToSign));
  const given = Buffer.from(m[2] ?? '');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return {
      ok: false,
      status: 403,
      code: 'SignatureNotMatch',
      // Real FC echoes the string to sign so a client can debug it; it carries no secret.
      message: `the request signature we calculated does not match the signature you provided. String to sign: ${JSON.stringify(stringToSign)}`,
    };
  }
  return { ok: true };
}
