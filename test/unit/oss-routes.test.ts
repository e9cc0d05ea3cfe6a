/** The local OSS route table (local/oss/routes.ts): which operation a request is, and which sub-resources it may carry. */
import { describe, expect, it } from 'vitest';
import { parseRequestTarget } from '../../local/oss/addressing.ts';
import { OssError } from '../../local/oss/errors.ts';
import { checkSubresources, operationOf, routeOf, ROUTES } from '../../local/oss/routes.ts';

const HOST = 'b1.oss-cn-hangzhou.aliyuncs.com';
const addr = (url: string, method = 'GET', host: string | undefined = HOST) => parseRequestTarget(url, host, method);

describe('route table', () => {
  it('maps method, target, sub-resources and copy source to the OSS operation', () => {
    // Prepare
    const cases: [string, string, boolean, string | undefined, string][] = [
      ['GET', '/', false, '127.0.0.1', 'ListBuckets'],
      ['PUT', '/', false, HOST, 'PutBucket'],
      ['DELETE', '/', false, HOST, 'DeleteBucket'],
      ['HEAD', '/', false, HOST, 'HeadBucket'],
      ['POST', '/?delete', false, HOST, 'DeleteMultipleObjects'],
      ['GET', '/?uploads', false, HOST, 'ListMultipartUploads'],
      ['GET', '/?location', false, HOST, 'GetBucketLocation'],
      ['GET', '/?bucketInfo', false, HOST, 'GetBucketInfo'],
      ['GET', '/?versioning', false, HOST, 'GetBucketVersioning'],
      ['GET', '/?list-type=2&prefix=a', false, HOST, 'ListObjectsV2'],
      ['GET', '/?list-type=1', false, HOST, 'ListObjects'],
      ['PUT', '/k?partNumber=1&uploadId=U', true, HOST, 'UploadPartCopy'],
      ['PUT', '/k?partNumber=1&uploadId=U', false, HOST, 'UploadPart'],
      ['PUT', '/k', true, HOST, 'CopyObject'],
      ['PUT', '/k', false, HOST, 'PutObject'],
      ['GET', '/k?uploadId=U', false, HOST, 'ListParts'],
      ['GET', '/k', false, HOST, 'GetObject'],
      ['HEAD', '/k?objectMeta', false, HOST, 'GetObjectMeta'],
      ['HEAD', '/k', false, HOST, 'HeadObject'],
      ['DELETE', '/k?uploadId=U', false, HOST, 'AbortMultipartUpload'],
      ['DELETE', '/k', false, HOST, 'DeleteObject'],
      ['POST', '/k?uploads', false, HOST, 'InitiateMultipartUpload'],
      ['POST', '/k?uploadId=U', false, HOST, 'CompleteMultipartUpload'],
      ['POST', '/k?append&position=0', false, HOST, 'AppendObject'],
      ['POST', '/k', false, HOST, 'Unsupported'],
      ['PUT', '/', false, '127.0.0.1', 'Unsupported'],
    ];
    // Act
    const got = cases.map(([method, url, copy, host]) => operationOf(method, addr(url, method, host), copy));
    // Assess
    expect(got).toEqual(cases.map((c) => c[4]));
  });

  it('every operation has exactly one row and a handler', () => {
    // Act
    const names = ROUTES.map((r) => r.operation);
    // Assess
    expect(new Set(names).size).toBe(names.length);
    for (const r of ROUTES) expect(typeof r.handler).toBe('function');
  });

  it('a signed sub-resource the route does not understand → 501 NotImplemented naming it; its own are accepted', () => {
    // Prepare
    const tagging = addr('/k?tagging', 'PUT');
    const append = addr('/k?append&position=5', 'POST');
    // Act
    let refused: unknown;
    try {
      checkSubresources(routeOf('PUT', tagging, false), tagging, 'PUT');
    } catch (err) {
      refused = err;
    }
    // Assess
    expect(refused).toBeInstanceOf(OssError);
    expect((refused as OssError).status).toBe(501);
    expect((refused as OssError).fields.Method).toBe('PUT ?tagging');
    expect(() => checkSubresources(routeOf('POST', append, false), append, 'POST')).not.toThrow();
  });
});
