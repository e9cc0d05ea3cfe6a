/**
 * Authentication and error responses of the local OSS (signatures V1/V4, ali-oss error parsing, OSS error codes), driven by the
 * unmodified ali-oss client where it can produce the request, and by raw node:http where it cannot.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOssServer, type LocalOss } from '../../../local/oss/index.ts';
import { bytes, client, errorOf, MODES } from './helpers.ts';

let oss: LocalOss;
let anon: LocalOss;
const STS = { accessKeyId: 'STS.local-test', accessKeySecret: 'sts-secret', securityToken: 'token-123' };

beforeAll(async () => {
  oss = await startOssServer({ buckets: ['auth-b'], sts: STS });
  anon = await startOssServer({ buckets: ['anon-b'], allowAnonymous: true });
});
afterAll(async () => {
  await oss?.close();
  await anon?.close();
});

/** A raw request (no signature unless the caller adds one). */
function raw(
  target: LocalOss,
  o: { method: string; path: string; headers?: Record<string, string>; body?: Buffer },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: target.port, method: o.method, path: o.path, headers: o.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

describe.each(MODES)('auth errors, $name', ({ opts }) => {
  it('wrong secret → 403 SignatureDoesNotMatch with StringToSign in the XML', async () => {
    // Prepare
    const c = client(oss, 'auth-b', opts, { accessKeySecret: 'not-the-secret' });
    // Act
    const err = await errorOf(() => c.put('x.bin', Buffer.from('x')));
    const raw403 = await c.request({ method: 'GET', bucket: 'auth-b', object: 'x.bin', successStatuses: [403] });
    // Assess
    expect(err.status).toBe(403);
    expect(err.code).toBe('SignatureDoesNotMatch');
    expect(err.ecCode).toBe('0002-00000040');
    const xml = String(raw403.data);
    expect(xml).toContain('<StringToSign>');
    expect(xml).toContain('<SignatureProvided>');
  });

  it('unknown access key → 403 InvalidAccessKeyId', async () => {
    // Prepare
    const c = client(oss, 'auth-b', opts, { accessKeyId: 'LTAInobody' });
    // Act
    const err = await errorOf(() => c.get('x.bin'));
    // Assess
    expect(err.status).toBe(403);
    expect(err.code).toBe('InvalidAccessKeyId');
  });

  it('clock skew beyond 15 minutes → 403 RequestTimeTooSkewed; within → accepted', async () => {
    // Prepare
    const skewed = client(oss, 'auth-b', opts, { amendTimeSkewed: -16 * 60 * 1000 });
    const slight = client(oss, 'auth-b', opts, { amendTimeSkewed: -14 * 60 * 1000 });
    // Act
    const err = await errorOf(() => skewed.put('skew.bin', Buffer.from('x')));
    const ok = await slight.put('skew.bin', Buffer.from('x'));
    // Assess
    expect(err.status).toBe(403);
    expect(err.code).toBe('RequestTimeTooSkewed');
    expect(ok.res.status).toBe(200);
  });

  it('STS: the right token is accepted, a wrong token is refused', async () => {
    // Prepare
    const good = client(oss, 'auth-b', { ...opts, sts: STS });
    const bad = client(oss, 'auth-b', { ...opts, sts: { ...STS, securityToken: 'wrong' } });
    // Act
    const ok = await good.put('sts.bin', Buffer.from('sts'));
    const err = await errorOf(() => bad.get('sts.bin'));
    // Assess
    expect(ok.res.status).toBe(200);
    expect(err.status).toBe(403);
    expect(err.code).toBe('InvalidAccessKeyId');
  });
});

describe('auth, other paths', () => {
  it('unsigned requests → 403 AccessDenied unless anonymous access is enabled', async () => {
    // Prepare
    await client(anon, 'anon-b').put('open.txt', Buffer.from('open'));
    // Act
    const denied = await raw(oss, { method: 'GET', path: '/auth-b/x.bin', headers: { host: `127.0.0.1:${oss.port}` } });
    const allowed = await raw(anon, { method: 'GET', path: '/anon-b/open.txt', headers: { host: `127.0.0.1:${anon.port}` } });
    // Assess
    expect(denied.status).toBe(403);
    expect(denied.body).toContain('<Code>AccessDenied</Code>');
    expect(denied.headers['x-oss-request-id']).toMatch(/^[0-9A-F]{24}$/);
    expect(denied.body).toContain(`<RequestId>${denied.headers['x-oss-request-id']}</RequestId>`);
    expect(allowed.status).toBe(200);
    expect(allowed.body).toBe('open');
  });

  it('signatureUrl works until it expires, and a tampered URL is refused', async () => {
    // Prepare
    const c = client(oss, 'auth-b', { pathStyle: true });
    await c.put('signed/a b+c.txt', Buffer.from('signed body'));
    const url = new URL(c.signatureUrl('signed/a b+c.txt', { expires: 60 }));
    const expired = new URL(c.signatureUrl('signed/a b+c.txt', { expires: -10 }));
    const tampered = new URL(url);
    tampered.searchParams.set('Expires', String(Number(url.searchParams.get('Expires')) + 1));
    const host = { host: url.host };
    // Act
    const ok = await raw(oss, { method: 'GET', path: url.pathname + url.search, headers: host });
    const old = await raw(oss, { method: 'GET', path: expired.pathname + expired.search, headers: host });
    const bad = await raw(oss, { method: 'GET', path: tampered.pathname + tampered.search, headers: host });
    // Assess
    expect(ok.status).toBe(200);
    expect(ok.body).toBe('signed body');
    expect(old.status).toBe(403);
    expect(old.body).toContain('<Code>AccessDenied</Code>');
    expect(bad.status).toBe(403);
    expect(bad.body).toContain('<Code>SignatureDoesNotMatch</Code>');
    expect(bad.body).toContain('<StringToSign>');
  });

  it('HEAD errors carry no body but an x-oss-err header ali-oss decodes', async () => {
    // Prepare
    const c = client(oss, 'auth-b', {}, { accessKeySecret: 'wrong' });
    // Act
    const err = await errorOf(() => c.head('x.bin'));
    // Assess
    expect(err.status).toBe(403);
    expect(err.code).toBe('SignatureDoesNotMatch');
  });
});

describe('bad input', () => {
  const c = () => client(oss, 'auth-b');

  it('malformed XML → 400 MalformedXML (Complete and DeleteMultiple)', async () => {
    // Prepare
    const init = await c().initMultipartUpload('bad/xml.bin');
    // Act
    const complete = await errorOf(() =>
      c().request({ method: 'POST', bucket: 'auth-b', object: 'bad/xml.bin', subres: { uploadId: init.uploadId }, content: Buffer.from('<CompleteMultipartUpload><Part>'), successStatuses: [200] }),
    );
    const wrongRoot = await errorOf(() =>
      c().request({ method: 'POST', bucket: 'auth-b', object: 'bad/xml.bin', subres: { uploadId: init.uploadId }, content: Buffer.from('<Other/>'), successStatuses: [200] }),
    );
    const del = await errorOf(() => c().request({ method: 'POST', bucket: 'auth-b', subres: { delete: '' }, content: Buffer.from('<Delete><Object>'), successStatuses: [200] }));
    // Assess
    expect(complete.status).toBe(400);
    expect(complete.code).toBe('MalformedXML');
    expect(wrongRoot.code).toBe('MalformedXML');
    expect(del.code).toBe('MalformedXML');
  });

  it('an unknown sub-resource → 501 NotImplemented naming it', async () => {
    // Act
    const err = await errorOf(() => c().request({ method: 'GET', bucket: 'auth-b', subres: { cors: '' }, successStatuses: [200] }));
    const objErr = await errorOf(() => c().request({ method: 'GET', bucket: 'auth-b', object: 'x', subres: { tagging: '' }, successStatuses: [200] }));
    // Assess
    expect(err.status).toBe(501);
    expect(err.code).toBe('NotImplemented');
    expect(err.message).toContain('cors');
    expect(objErr.message).toContain('tagging');
  });

  it('part number outside 1..10000 → 400 InvalidArgument', async () => {
    // Prepare
    const init = await c().initMultipartUpload('bad/part.bin');
    // Act
    const errs = [];
    for (const n of [0, 10001, -1]) {
      errs.push(
        await errorOf(() =>
          c().request({ method: 'PUT', bucket: 'auth-b', object: 'bad/part.bin', subres: { partNumber: String(n), uploadId: init.uploadId }, content: Buffer.from('x'), successStatuses: [200] }),
        ),
      );
    }
    const ok = await c().request({ method: 'PUT', bucket: 'auth-b', object: 'bad/part.bin', subres: { partNumber: '10000', uploadId: init.uploadId }, content: Buffer.from('x'), successStatuses: [200] });
    // Assess
    for (const e of errs) {
      expect(e.status).toBe(400);
      expect(e.code).toBe('InvalidArgument');
    }
    expect(ok.res.status).toBe(200);
  });

  it('an unknown upload id → 404 NoSuchUpload; a missing bucket → 404 NoSuchBucket', async () => {
    // Act
    const part = await errorOf(() => c().uploadPart('bad/none.bin', 'DEADBEEF', 1, bytes(10), 0, 10));
    const bucket = await errorOf(() => client(oss, 'no-such-bucket').get('x'));
    // Assess
    expect(part.code).toBe('NoSuchUpload');
    expect(bucket.code).toBe('NoSuchBucket');
  });

  it('an oversized XML body → 400 EntityTooLarge without buffering it; the server stays healthy', async () => {
    // Prepare
    const init = await c().initMultipartUpload('bad/big.bin');
    const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
    // Act
    const err = await errorOf(() =>
      c().request({ method: 'POST', bucket: 'auth-b', object: 'bad/big.bin', subres: { uploadId: init.uploadId }, content: big, successStatuses: [200] }),
    );
    const after = await c().put('bad/after.bin', Buffer.from('fine'));
    // Assess
    expect(err.status).toBe(400);
    expect(err.code).toBe('EntityTooLarge');
    expect(after.res.status).toBe(200);
  });

  it('a PUT without Content-Length or chunked encoding → 411 MissingContentLength', async () => {
    // Prepare: a V1 signature computed by ali-oss for an empty PUT, then the length header removed.
    const signer = c();
    const date = new Date().toUTCString();
    const sig = signer.authorization('PUT', '/auth-b/nolen.bin', undefined, { 'x-oss-date': date });
    // Act: a raw socket, because node:http always adds a length or chunked framing to a PUT.
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const sock = net.connect(oss.port, '127.0.0.1', () => {
        sock.write(`PUT /auth-b/nolen.bin HTTP/1.1\r\nHost: localhost\r\nx-oss-date: ${date}\r\nAuthorization: ${sig}\r\nConnection: close\r\n\r\n`);
      });
      let text = '';
      sock.on('data', (d) => (text += d.toString('utf8')));
      sock.on('end', () => resolve({ status: Number(text.split(' ')[1]), body: text }));
      sock.on('error', reject);
    });
    // Assess
    expect(res.status).toBe(411);
    expect(res.body).toContain('<Code>MissingContentLength</Code>');
  });
});
