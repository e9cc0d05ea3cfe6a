/**
 * Signature string building of the local OSS, checked against ali-oss's own signUtils (the client we must
 * verify) with generated keys, headers and sub-resources (OSS signature V1 and V4).
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseQuery, parseRequestTarget, bucketFromHost } from '../../local/oss/addressing.ts';
import {
  authenticate,
  parseAuthorization,
  v1Signature,
  v1StringToSign,
  v4CanonicalRequest,
  v4Signature,
  v4StringToSign,
} from '../../local/oss/auth.ts';
import { OssError } from '../../local/oss/errors.ts';

const require = createRequire(import.meta.url);
const signUtils = require('ali-oss/lib/common/signUtils.js') as {
  computeSignature(secret: string, s: string): string;
  buildCanonicalString(method: string, resource: string, request: { headers: Record<string, string>; parameters?: unknown }): string;
  authorizationV4(
    ak: string, sk: string, region: string, method: string,
    request: { headers: Record<string, string>; queries: Record<string, string | null> },
    bucket?: string, object?: string, additional?: string[],
  ): string;
};

const keyArb = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }).filter((k) => !k.startsWith('/'));
const metaArb = fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), fc.stringMatching(/^[ -~]{0,20}$/), { maxKeys: 3 });

/** Wire form of a key as ali-oss escapes it (getReqUrl). */
const escapeKey = (k: string) => encodeURIComponent(k).replace(/%2F/g, '/').replace(/\+/g, '%2B');

describe('addressing', () => {
  it('decodes any key exactly as ali-oss encodes it, in both styles', () => {
    fc.assert(
      fc.property(keyArb, (key) => {
        // Prepare
        const path = `/${escapeKey(key)}`;
        // Act
        const host = parseRequestTarget(path, 'my-bucket.oss-cn-hangzhou.aliyuncs.com', 'GET');
        const pathStyle = parseRequestTarget(`/my-bucket${path}`, 'localhost:9000', 'GET');
        // Assess
        expect(host).toMatchObject({ bucket: 'my-bucket', key, style: 'host' });
        expect(pathStyle).toMatchObject({ bucket: 'my-bucket', key, style: 'path' });
      }),
    );
  });

  it('keeps a literal + as +, and separates bare from k= query params', () => {
    // Act
    const q = parseQuery('uploads&prefix=a+b%2Bc&position=');
    // Assess
    expect(q).toEqual([
      { name: 'uploads', value: '', hasEquals: false },
      { name: 'prefix', value: 'a+b+c', hasEquals: true },
      { name: 'position', value: '', hasEquals: true },
    ]);
    expect(bucketFromHost('b-1.oss-cn-shanghai-internal.aliyuncs.com')).toBe('b-1');
    expect(bucketFromHost('localhost:8080')).toBeUndefined();
    expect(parseRequestTarget('/', 'undefined.oss-cn-hangzhou.aliyuncs.com', 'GET').bucket).toBeUndefined();
  });

  it('rejects undecodable paths with 400 InvalidURI', () => {
    // Act
    const err = (() => {
      try {
        parseRequestTarget('/b/%E0%A4%A', 'localhost', 'GET');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    // Assess
    expect(err).toBeInstanceOf(OssError);
    expect((err as OssError).code).toBe('InvalidURI');
  });
});

describe('V1 string to sign', () => {
  it('equals ali-oss buildCanonicalString for generated keys, x-oss headers and sub-resources', () => {
    fc.assert(
      fc.property(
        keyArb,
        metaArb,
        fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD'),
        fc.option(fc.constantFrom('application/octet-stream', 'text/plain'), { nil: undefined }),
        fc.subarray(['uploads', 'uploadId=ABC', 'partNumber=7', 'append', 'position=0', 'objectMeta', 'acl'] as const),
        (key, meta, method, contentType, sub) => {
          // Prepare
          const date = 'Sat, 21 Nov 2026 22:16:29 GMT';
          const headers: Record<string, string> = { 'x-oss-date': date };
          for (const [k, v] of Object.entries(meta)) headers[`x-oss-meta-${k}`] = v;
          if (contentType) headers['content-type'] = contentType;
          const subres: Record<string, string> = {};
          for (const s of sub) {
            const [k, v = ''] = s.split('=') as [string, string?];
            subres[k] = v;
          }
          const wireQuery = sub.map((s) => (s.includes('=') ? s : `${s}=`)).join('&');
          // Act
          const ours = v1StringToSign(
            { method, headers, bucket: 'bkt', key, query: parseQuery(wireQuery) },
            date,
          );
          const theirs = signUtils.buildCanonicalString(method, `/bkt/${key}`, { headers, parameters: subres });
          // Assess
          expect(ours).toBe(theirs);
        },
      ),
    );
  });

  it('ignores plain query parameters such as prefix and max-keys', () => {
    // Act
    const s = v1StringToSign({ method: 'GET', headers: {}, bucket: 'b', key: '', query: parseQuery('prefix=x&max-keys=5&continuation-token=t') }, 'D');
    // Assess
    expect(s.endsWith('/b/?continuation-token=t')).toBe(true);
  });
});

describe('V4', () => {
  it('verifies an ali-oss V4 Authorization for generated keys and queries', () => {
    fc.assert(
      fc.property(keyArb, metaArb, fc.subarray(['uploads', 'uploadId=U1', 'partNumber=3', 'max-parts=10'] as const), (key, meta, sub) => {
        // Prepare
        const now = new Date();
        const date = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
        const headers: Record<string, string> = { 'x-oss-date': date, 'x-oss-content-sha256': 'UNSIGNED-PAYLOAD' };
        for (const [k, v] of Object.entries(meta)) headers[`x-oss-meta-${k}`] = v;
        const queries: Record<string, string | null> = {};
        for (const s of sub) {
          const [k, v] = s.split('=') as [string, string?];
          queries[k] = v ?? null;
        }
        const authorization = signUtils.authorizationV4('AK', 'SK', 'cn-hangzhou', 'PUT', { headers, queries }, 'bkt', key);
        const wireQuery = sub.map((s) => (s.includes('=') ? s : `${s}=`)).join('&');
        // Act
        const result = authenticate(
          { method: 'PUT', headers: { ...headers, authorization }, bucket: 'bkt', key, query: parseQuery(wireQuery) },
          { credentials: (ak) => (ak === 'AK' ? { accessKeyId: 'AK', accessKeySecret: 'SK' } : undefined), region: 'cn-hangzhou', allowAnonymous: false, now: now.getTime() },
        );
        // Assess
        expect(result).toEqual({ accessKeyId: 'AK', version: 4 });
      }),
      { numRuns: 50 },
    );
  });

  it('builds the documented canonical request shape', () => {
    // Act
    const cr = v4CanonicalRequest(
      { method: 'GET', headers: { 'x-oss-date': '20261121T000000Z', 'content-type': 'a/b', host: 'h' }, bucket: 'b', key: "k e(y)'", query: parseQuery('uploads=&max-parts=2') },
      ['host'],
      { keepEquals: false, localeSort: true },
    );
    const sig = v4Signature('SK', '20261121', 'cn-hangzhou', 'oss', v4StringToSign('20261121T000000Z', '20261121/cn-hangzhou/oss/aliyun_v4_request', cr));
    // Assess
    expect(cr).toBe(
      ['GET', '/b/k%20e%28y%29%27', 'max-parts=2&uploads', 'content-type:a/b\nhost:h\nx-oss-date:20261121T000000Z\n', 'host', 'UNSIGNED-PAYLOAD'].join('\n'),
    );
    expect(sig).toMatch(/^[0-9a-f]{64}$/);
  });

  it('parses both Authorization forms and rejects garbage with 400 InvalidArgument', () => {
    // Act
    const v1 = parseAuthorization('OSS ak:c2ln');
    const v4 = parseAuthorization('OSS4-HMAC-SHA256 Credential=ak/20261121/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=host,Signature=abc');
    const bad = (() => {
      try {
        parseAuthorization('Bearer x');
      } catch (e) {
        return e as OssError;
      }
      return undefined;
    })();
    // Assess
    expect(v1).toEqual({ version: 1, accessKeyId: 'ak', signature: 'c2ln' });
    expect(v4).toMatchObject({ version: 4, accessKeyId: 'ak', region: 'cn-hangzhou', additionalHeaders: ['host'], signature: 'abc' });
    expect(bad?.status).toBe(400);
    expect(v1Signature('secret', 'x\né')).toBe(signUtils.computeSignature('secret', 'x\né'));
  });
});
