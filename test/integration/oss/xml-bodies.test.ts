/**
 * Request bodies exactly as Go's encoding/xml writes them (the official Go SDK, ossutil), sent signed through
 * ali-oss's raw request: CompleteMultipartUpload with `&#34;`-quoted ETags and DeleteMultipleObjects with escaped
 * keys succeed; a body with a DTD is refused (400 MalformedXML) and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOssServer, type LocalOss } from '../../../local/oss/index.ts';
import { bytes, client, errorOf, md5Hex } from './helpers.ts';

let oss: LocalOss;
beforeAll(async () => {
  oss = await startOssServer({ buckets: ['xml-b'] });
});
afterAll(async () => {
  await oss?.close();
});

describe('XML bodies from Go clients', () => {
  it('CompleteMultipartUpload with &#34;-quoted part ETags completes the upload', async () => {
    // Prepare
    const c = client(oss, 'xml-b');
    const a = bytes(200_000, 21);
    const b = bytes(5000, 22);
    const init = await c.initMultipartUpload('go/mp.bin');
    await c.uploadPart('go/mp.bin', init.uploadId, 1, a, 0, a.length);
    await c.uploadPart('go/mp.bin', init.uploadId, 2, b, 0, b.length);
    const body =
      '<CompleteMultipartUpload>' +
      `<Part><PartNumber>1</PartNumber><ETag>&#34;${md5Hex(a)}&#34;</ETag></Part>` +
      `<Part><PartNumber>2</PartNumber><ETag>&#34;${md5Hex(b)}&#34;</ETag></Part>` +
      '</CompleteMultipartUpload>';
    // Act
    const res = await c.request({ method: 'POST', bucket: 'xml-b', object: 'go/mp.bin', subres: { uploadId: init.uploadId }, content: Buffer.from(body), successStatuses: [200] });
    const got = await c.get('go/mp.bin');
    // Assess
    expect(res.status).toBe(200);
    expect(Buffer.compare(got.content, Buffer.concat([a, b]))).toBe(0);
  });

  it('DeleteMultipleObjects with Go-escaped keys deletes exactly those keys', async () => {
    // Prepare
    const c = client(oss, 'xml-b');
    const keys = ['go/a"b', "go/c'd", 'go/e&f<g>h', 'go/tab\there'];
    for (const k of keys) await c.put(k, Buffer.from(k));
    await c.put('go/keep', Buffer.from('keep'));
    const esc = (k: string) => k.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;').replace(/\t/g, '&#x9;');
    const body = `<Delete>${keys.map((k) => `<Object><Key>${esc(k)}</Key></Object>`).join('')}<Quiet>true</Quiet></Delete>`;
    // Act
    await c.request({ method: 'POST', bucket: 'xml-b', subres: { delete: '' }, content: Buffer.from(body), successStatuses: [200] });
    const left = await c.list({ prefix: 'go/' });
    // Assess
    expect(left.objects.map((o: { name: string }) => o.name).filter((n: string) => n !== 'go/mp.bin')).toEqual(['go/keep']);
  });

  it('a body with a DTD (external entity) → 400 MalformedXML, nothing deleted', async () => {
    // Prepare
    const c = client(oss, 'xml-b');
    await c.put('go/victim', Buffer.from('v'));
    const body = '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/hostname">]><Delete><Object><Key>&x;</Key></Object><Object><Key>go/victim</Key></Object></Delete>';
    // Act
    const err = await errorOf(() => c.request({ method: 'POST', bucket: 'xml-b', subres: { delete: '' }, content: Buffer.from(body), successStatuses: [200] }));
    const still = await c.get('go/victim');
    // Assess
    expect(err.status).toBe(400);
    expect(err.code).toBe('MalformedXML');
    expect(still.content.toString()).toBe('v');
  });
});
