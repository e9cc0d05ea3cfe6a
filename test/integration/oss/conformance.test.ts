/**
 * Conformance: the unmodified ali-oss 6.23 client against the local OSS, in every wire mode
 * (signature V1/V4 × IP endpoint/path style), through every operation ossferry relies on.
 * Expected values follow OSS's documented behaviour (OSS API reference) and what ali-oss sends and parses.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../../shared/crc64/index.ts';
import { crc64ToWire } from '../../../shared/crc64/wire.ts';
import { startOssServer, type LocalOss } from '../../../local/oss/index.ts';
import { bytes, client, errorOf, KEYS, md5Hex, MODES, type Client } from './helpers.ts';

let oss: LocalOss;

beforeAll(async () => {
  oss = await startOssServer({ buckets: MODES.map((_m, i) => `conf-${i}`) });
});
afterAll(async () => {
  await oss?.close();
});

describe.each(MODES.map((m, i) => ({ ...m, bucket: `conf-${i}` })))('$name', ({ opts, bucket }) => {
  let c: Client;
  beforeAll(() => {
    c = client(oss, bucket, opts);
  });

  it('put/get/head round-trips every awkward key with ETag, CRC-64 and meta', async () => {
    for (const [i, key] of KEYS.entries()) {
      // Prepare
      const data = bytes(1000 + i, i + 1);
      // Act
      const put = await c.put(key, data, { meta: { owner: 'ossferry', n: String(i) } });
      const got = await c.get(key);
      const head = await c.head(key);
      // Assess
      expect(put.res.status).toBe(200);
      expect(put.res.headers.etag).toBe(`"${md5Hex(data)}"`);
      expect(put.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(crc64(data)));
      expect(Buffer.compare(got.content, data)).toBe(0);
      expect(got.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(crc64(data)));
      expect(got.res.headers['x-oss-object-type']).toBe('Normal');
      expect(got.res.headers['accept-ranges']).toBe('bytes');
      expect(got.res.headers['last-modified']).toMatch(/GMT$/);
      expect(got.res.headers['x-oss-request-id']).toMatch(/^[0-9A-F]{24}$/);
      expect(head.meta).toEqual({ owner: 'ossferry', n: String(i) });
      expect(head.res.headers['content-length']).toBe(String(data.length));
    }
    const listed = await c.list({ 'max-keys': 1000 });
    expect(listed.objects.map((o: { name: string }) => o.name).sort()).toEqual([...KEYS].sort());
  });

  it('putStream without a length goes chunked and stores the exact bytes', async () => {
    // Prepare
    const data = bytes(300_000, 7);
    // Act
    const r = await c.putStream('stream/chunked.bin', Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]));
    const got = await c.get('stream/chunked.bin');
    // Assess
    expect(r.res.status).toBe(200);
    expect(Buffer.compare(got.content, data)).toBe(0);
    expect(got.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(crc64(data)));
  });

  it('ranged GET: 206 with whole-object CRC; invalid range → 200 whole body; standard mode clamps or 416', async () => {
    // Prepare
    const data = bytes(1000, 3);
    await c.put('range.bin', data);
    const whole = crc64ToWire(crc64(data));
    // Act
    const part = await c.get('range.bin', { headers: { Range: 'bytes=10-19' } });
    const suffix = await c.get('range.bin', { headers: { Range: 'bytes=-5' } });
    const open = await c.get('range.bin', { headers: { Range: 'bytes=990-' } });
    const outOfRange = await c.get('range.bin', { headers: { Range: 'bytes=0-1000' } });
    const badUnit = await c.get('range.bin', { headers: { Range: 'byte=0-1' } });
    const clamped = await c.get('range.bin', { headers: { Range: 'bytes=500-2000', 'x-oss-range-behavior': 'standard' } });
    const e416 = await errorOf(() => c.get('range.bin', { headers: { Range: 'bytes=1000-1001', 'x-oss-range-behavior': 'standard' } }));
    // Assess
    expect(part.res.status).toBe(206);
    expect(part.res.headers['content-range']).toBe('bytes 10-19/1000');
    expect(Buffer.compare(part.content, data.subarray(10, 20))).toBe(0);
    expect(part.res.headers['x-oss-hash-crc64ecma']).toBe(whole);
    expect(Buffer.compare(suffix.content, data.subarray(995))).toBe(0);
    expect(Buffer.compare(open.content, data.subarray(990))).toBe(0);
    expect(outOfRange.res.status).toBe(200);
    expect(outOfRange.content.length).toBe(1000);
    expect(badUnit.res.status).toBe(200);
    expect(clamped.res.status).toBe(206);
    expect(clamped.res.headers['content-range']).toBe('bytes 500-999/1000');
    expect(e416.status).toBe(416);
    expect(e416.code).toBe('InvalidRange');
  });

  it('conditional GET/HEAD: 412 and 304', async () => {
    // Prepare
    const data = bytes(100, 4);
    const put = await c.put('cond.bin', data);
    const etag = put.res.headers.etag as string;
    const future = new Date(Date.now() + 3600_000).toUTCString();
    const past = new Date(Date.now() - 3600_000).toUTCString();
    // Act
    const ifMatchOk = await c.get('cond.bin', { headers: { 'If-Match': etag } });
    const ifMatchBad = await errorOf(() => c.get('cond.bin', { headers: { 'If-Match': '"0000"' } }));
    const ifNoneMatch = await c.get('cond.bin', { headers: { 'If-None-Match': etag } });
    const ifModified = await c.get('cond.bin', { headers: { 'If-Modified-Since': future } });
    const ifUnmodified = await errorOf(() => c.get('cond.bin', { headers: { 'If-Unmodified-Since': past } }));
    const headIfMatchBad = await errorOf(() => c.head('cond.bin', { headers: { 'If-Match': '"0000"' } }));
    // Assess
    expect(ifMatchOk.res.status).toBe(200);
    expect(ifMatchBad.status).toBe(412);
    expect(ifMatchBad.code).toBe('PreconditionFailed');
    expect(ifNoneMatch.res.status).toBe(304);
    expect(ifModified.res.status).toBe(304);
    expect(ifUnmodified.status).toBe(412);
    expect(headIfMatchBad.status).toBe(412);
  });

  it('getObjectMeta, delete (204), then NoSuchKey on GET and HEAD', async () => {
    // Prepare
    const data = bytes(64, 5);
    await c.put('meta/gone.bin', data);
    // Act
    const meta = await c.getObjectMeta('meta/gone.bin');
    const del = await c.delete('meta/gone.bin');
    const delAgain = await c.delete('meta/gone.bin');
    const getErr = await errorOf(() => c.get('meta/gone.bin'));
    const headErr = await errorOf(() => c.head('meta/gone.bin'));
    // Assess
    expect(meta.status).toBe(200);
    expect(meta.res.headers['content-length']).toBe('64');
    expect(meta.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(crc64(data)));
    expect(del.res.status).toBe(204);
    expect(delAgain.res.status).toBe(204);
    expect(getErr.status).toBe(404);
    expect(getErr.code).toBe('NoSuchKey');
    expect(headErr.status).toBe(404);
    expect(headErr.code).toBe('NoSuchKey');
  });

  it('deleteMulti removes the listed keys, including awkward ones', async () => {
    // Prepare
    const keys = ['multi/a b.bin', 'multi/c+d.bin', 'multi/<&>.bin'];
    for (const k of keys) await c.put(k, Buffer.from(k));
    // Act
    const r = await c.deleteMulti(keys);
    const quiet = await c.deleteMulti(['multi/none'], { quiet: true });
    const left = await c.list({ prefix: 'multi/' });
    // Assess
    expect(r.deleted.map((d: { Key: string }) => d.Key).sort()).toEqual([...keys].sort());
    expect(quiet.res.status).toBe(200);
    expect(left.objects).toEqual([]);
  });

  it('copy with meta REPLACE, copy-source conditions, forbid-overwrite', async () => {
    // Prepare
    const data = bytes(5000, 6);
    const put = await c.put('copy/src a+b.bin', data, { meta: { a: '1' } });
    // Act
    const copied = await c.copy('copy/dst.bin', 'copy/src a+b.bin', { meta: { b: '2' } });
    const got = await c.get('copy/dst.bin');
    const head = await c.head('copy/dst.bin');
    const condFail = await errorOf(() => c.copy('copy/dst2.bin', 'copy/src a+b.bin', { headers: { 'If-Match': '"ABC"' } }));
    const condOk = await c.copy('copy/dst3.bin', 'copy/src a+b.bin', { headers: { 'If-Match': put.res.headers.etag } });
    const forbid = await errorOf(() => c.copy('copy/dst.bin', 'copy/src a+b.bin', { headers: { 'x-oss-forbid-overwrite': 'true' } }));
    const missing = await errorOf(() => c.copy('copy/x.bin', 'copy/none.bin'));
    // Assess
    expect(copied.res.status).toBe(200);
    expect(copied.data.etag).toBe(put.res.headers.etag);
    expect(Buffer.compare(got.content, data)).toBe(0);
    expect(got.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(crc64(data)));
    expect(head.meta).toEqual({ b: '2' });
    expect(condFail.status).toBe(412);
    expect(condOk.res.status).toBe(200);
    expect(forbid.status).toBe(409);
    expect(forbid.code).toBe('FileAlreadyExists');
    expect(missing.code).toBe('NoSuchKey');
  });

  it('append: position check, next position, whole-object CRC, ObjectNotAppendable', async () => {
    // Prepare
    const a = bytes(1000, 8);
    const b = bytes(2000, 9);
    await c.put('append/normal.bin', a);
    // Act
    const r1 = await c.append('append/log.bin', a);
    const r2 = await c.append('append/log.bin', b, { position: String(r1.nextAppendPosition) });
    const wrong = await errorOf(() => c.append('append/log.bin', b, { position: '5' }));
    // ali-oss drops response headers from errors, so read the 409's headers through its request().
    const wrongRaw = await c.request({
      method: 'POST',
      bucket,
      object: 'append/log.bin',
      subres: { append: '', position: '5' },
      content: b,
      successStatuses: [409],
    });
    const notAppendable = await errorOf(() => c.append('append/normal.bin', b, { position: '1000' }));
    const got = await c.get('append/log.bin');
    const head = await c.head('append/log.bin');
    // Assess
    expect(r1.nextAppendPosition).toBe('1000');
    expect(r1.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(crc64(a)));
    expect(r2.nextAppendPosition).toBe('3000');
    expect(r2.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(crc64(Buffer.concat([a, b]))));
    expect(wrong.status).toBe(409);
    expect(wrong.code).toBe('PositionNotEqualToLength');
    expect(wrongRaw.res.headers['x-oss-next-append-position']).toBe('3000');
    expect(notAppendable.code).toBe('ObjectNotAppendable');
    expect(Buffer.compare(got.content, Buffer.concat([a, b]))).toBe(0);
    expect(head.res.headers['x-oss-object-type']).toBe('Appendable');
    expect(head.res.headers['x-oss-next-append-position']).toBe('3000');
  });

  it('list v1 (Owner, delimiter, paging) and v2 (continuation token)', async () => {
    // Prepare
    for (const k of ['ls/a/1', 'ls/a/2', 'ls/b', 'ls/c', 'ls/d/x/y']) await c.put(k, Buffer.from(k));
    // Act
    const v1 = await c.list({ prefix: 'ls/', delimiter: '/' });
    const page1 = await c.list({ prefix: 'ls/', 'max-keys': 2 });
    const page2 = await c.list({ prefix: 'ls/', 'max-keys': 10, marker: page1.nextMarker });
    const v2a = await c.listV2({ prefix: 'ls/', 'max-keys': 3 });
    const v2b = await c.listV2({ prefix: 'ls/', 'max-keys': 3, 'continuation-token': v2a.nextContinuationToken });
    // Assess
    expect(v1.objects.map((o: { name: string }) => o.name)).toEqual(['ls/b', 'ls/c']);
    expect(v1.prefixes).toEqual(['ls/a/', 'ls/d/']);
    expect(v1.objects[0].owner.id).toBeTruthy();
    expect(page1.isTruncated).toBe(true);
    expect(page1.objects.map((o: { name: string }) => o.name)).toEqual(['ls/a/1', 'ls/a/2']);
    expect(page2.isTruncated).toBe(false);
    expect(page2.objects.map((o: { name: string }) => o.name)).toEqual(['ls/b', 'ls/c', 'ls/d/x/y']);
    expect(v2a.isTruncated).toBe(true);
    expect(v2a.keyCount).toBe(3);
    expect([...v2a.objects, ...v2b.objects].map((o: { name: string }) => o.name)).toEqual(['ls/a/1', 'ls/a/2', 'ls/b', 'ls/c', 'ls/d/x/y']);
  });

  it('multipart: out-of-order parts, listParts, listUploads, complete ETag formula and combined CRC', async () => {
    // Prepare
    const key = 'mp/big file+1.bin';
    const sizes = [102_400, 150_000, 7];
    const parts = sizes.map((n, i) => bytes(n, 20 + i));
    const whole = Buffer.concat(parts);
    await c.put(key, Buffer.from('old'));
    const init = await c.initMultipartUpload(key, { meta: { kind: 'mp' } });
    // Act
    const etags: string[] = [];
    for (const i of [2, 0, 1]) {
      const r = await c.uploadPart(key, init.uploadId, i + 1, parts[i], 0, parts[i]!.length);
      etags[i] = r.etag;
      expect(r.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(crc64(parts[i]!)));
    }
    const listedParts = await c.listParts(key, init.uploadId);
    const uploads = await c.listUploads({ prefix: 'mp/' });
    const stillOld = await c.get(key);
    const done = await c.completeMultipartUpload(key, init.uploadId, etags.map((etag, i) => ({ number: i + 1, etag })));
    const got = await c.get(key);
    const head = await c.head(key);
    const afterUploads = await c.listUploads({ prefix: 'mp/' });
    // Assess
    expect(listedParts.parts.map((p: { PartNumber: string }) => p.PartNumber)).toEqual(['1', '2', '3']);
    expect(listedParts.parts.map((p: { Size: string }) => Number(p.Size))).toEqual(sizes);
    expect(uploads.uploads.map((u: { uploadId: string }) => u.uploadId)).toContain(init.uploadId);
    expect(stillOld.content.toString()).toBe('old');
    const hexes = parts.map((p) => md5Hex(p));
    const expectedEtag = `"${createHash('md5').update(hexes.join('')).digest('hex').toUpperCase()}-3"`;
    expect(done.res.headers.etag).toBe(expectedEtag);
    expect(done.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(crc64(whole)));
    expect(Buffer.compare(got.content, whole)).toBe(0);
    expect(got.res.headers['x-oss-object-type']).toBe('Multipart');
    expect(got.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(crc64(whole)));
    expect(head.meta).toEqual({ kind: 'mp' });
    expect(afterUploads.uploads.map((u: { uploadId: string }) => u.uploadId)).not.toContain(init.uploadId);
  });

  it('multipartUpload (managed) and uploadPartCopy with a source range', async () => {
    // Prepare
    const data = bytes(450_000, 30);
    const mp = await c.multipartUpload('mpc/src.bin', data, { partSize: 102_400, parallel: 3 });
    const init = await c.initMultipartUpload('mpc/dst.bin');
    // Act
    const p1 = await c.uploadPartCopy('mpc/dst.bin', init.uploadId, 1, '0-199999', { sourceKey: 'mpc/src.bin', sourceBucketName: bucket });
    const p2 = await c.uploadPartCopy('mpc/dst.bin', init.uploadId, 2, '200000-449999', { sourceKey: 'mpc/src.bin', sourceBucketName: bucket });
    const done = await c.completeMultipartUpload('mpc/dst.bin', init.uploadId, [
      { number: 1, etag: p1.etag },
      { number: 2, etag: p2.etag },
    ]);
    const got = await c.get('mpc/dst.bin');
    // Assess
    expect(mp.res.status).toBe(200);
    expect(Buffer.compare((await c.get('mpc/src.bin')).content, data)).toBe(0);
    expect(p1.res.headers['content-range']).toBe('bytes 0-199999/450000');
    // As OSS documents it: no CRC-64 in the UploadPartCopy answer; ListParts states it (HashCrc64ecma).
    expect(p1.res.headers['x-oss-hash-crc64ecma']).toBeUndefined();
    expect(done.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(crc64(data)));
    expect(Buffer.compare(got.content, data)).toBe(0);
  });

  it('complete rejects InvalidPartOrder, InvalidPart, EntityTooSmall; accepts x-oss-complete-all; abort → 204 then NoSuchUpload', async () => {
    // Prepare
    const key = 'mperr/x.bin';
    const init = await c.initMultipartUpload(key);
    const small = await c.uploadPart(key, init.uploadId, 1, bytes(1000, 1), 0, 1000);
    const second = await c.uploadPart(key, init.uploadId, 2, bytes(1000, 2), 0, 1000);
    // Act
    const order = await errorOf(() =>
      c.request({
        method: 'POST',
        bucket,
        object: key,
        subres: { uploadId: init.uploadId },
        content: Buffer.from(
          `<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>${second.etag}</ETag></Part><Part><PartNumber>1</PartNumber><ETag>${small.etag}</ETag></Part></CompleteMultipartUpload>`,
        ),
        successStatuses: [200],
      }),
    );
    const badEtag = await errorOf(() => c.completeMultipartUpload(key, init.uploadId, [{ number: 1, etag: '"00000000000000000000000000000000"' }]));
    const tooSmall = await errorOf(() =>
      c.completeMultipartUpload(key, init.uploadId, [
        { number: 1, etag: small.etag },
        { number: 2, etag: second.etag },
      ]),
    );
    const init2 = await c.initMultipartUpload('mperr/all.bin');
    await c.uploadPart('mperr/all.bin', init2.uploadId, 1, bytes(500, 3), 0, 500);
    const all = await c.completeMultipartUpload('mperr/all.bin', init2.uploadId, [], { headers: { 'x-oss-complete-all': 'yes' } });
    const aborted = await c.abortMultipartUpload(key, init.uploadId);
    const gone = await errorOf(() => c.listParts(key, init.uploadId));
    // Assess
    expect(order.status).toBe(400);
    expect(order.code).toBe('InvalidPartOrder');
    expect(badEtag.code).toBe('InvalidPart');
    expect(tooSmall.code).toBe('EntityTooSmall');
    expect(all.res.status).toBe(200);
    expect((await c.get('mperr/all.bin')).content.length).toBe(500);
    expect(aborted.res.status).toBe(204);
    expect(gone.status).toBe(404);
    expect(gone.code).toBe('NoSuchUpload');
  });

  it('x-oss-forbid-overwrite on put and complete → 409 FileAlreadyExists; Content-MD5 mismatch → 400 InvalidDigest', async () => {
    // Prepare
    await c.put('fo/x.bin', Buffer.from('v1'));
    const init = await c.initMultipartUpload('fo/x.bin');
    const p = await c.uploadPart('fo/x.bin', init.uploadId, 1, bytes(10, 1), 0, 10);
    // Act
    const put = await errorOf(() => c.put('fo/x.bin', Buffer.from('v2'), { headers: { 'x-oss-forbid-overwrite': 'true' } }));
    const fresh = await c.put('fo/new.bin', Buffer.from('v1'), { headers: { 'x-oss-forbid-overwrite': 'true' } });
    const comp = await errorOf(() =>
      c.completeMultipartUpload('fo/x.bin', init.uploadId, [{ number: 1, etag: p.etag }], { headers: { 'x-oss-forbid-overwrite': 'true' } }),
    );
    const digest = await errorOf(() => c.put('fo/md5.bin', Buffer.from('abc'), { headers: { 'Content-MD5': createHash('md5').update('xyz').digest('base64') } }));
    // Assess
    expect(put.status).toBe(409);
    expect(put.code).toBe('FileAlreadyExists');
    expect(fresh.res.status).toBe(200);
    expect(comp.code).toBe('FileAlreadyExists');
    expect((await c.get('fo/x.bin')).content.toString()).toBe('v1');
    expect(digest.status).toBe(400);
    expect(digest.code).toBe('InvalidDigest');
    expect((await errorOf(() => c.head('fo/md5.bin'))).status).toBe(404);
  });
});

describe('buckets', () => {
  it('putBucket, listBuckets, BucketAlreadyExists, BucketNotEmpty, deleteBucket, NoSuchBucket', async () => {
    // Prepare
    const c = client(oss, 'conf-0');
    const p = client(oss, 'conf-0', { pathStyle: true, v4: true });
    // Act
    const created = await c.putBucket('fresh-bucket');
    const createdV4 = await p.putBucket('fresh-bucket-v4');
    const dup = await errorOf(() => c.putBucket('fresh-bucket'));
    const names = (await c.listBuckets()).buckets.map((b: { name: string }) => b.name);
    const namesPath = (await p.listBuckets()).buckets.map((b: { name: string }) => b.name);
    const fb = client(oss, 'fresh-bucket');
    await fb.put('k', Buffer.from('x'));
    const notEmpty = await errorOf(() => c.deleteBucket('fresh-bucket'));
    await fb.delete('k');
    const deleted = await c.deleteBucket('fresh-bucket');
    const missing = await errorOf(() => fb.get('k'));
    // Assess
    expect(created.res.status).toBe(200);
    expect(createdV4.res.status).toBe(200);
    expect(dup.status).toBe(409);
    expect(dup.code).toBe('BucketAlreadyExists');
    expect(names).toEqual(expect.arrayContaining(['conf-0', 'fresh-bucket', 'fresh-bucket-v4']));
    expect(namesPath).toEqual(names);
    expect(notEmpty.code).toBe('BucketNotEmpty');
    expect(deleted.res.status).toBe(204);
    expect(missing.status).toBe(404);
    expect(missing.code).toBe('NoSuchBucket');
  });
});
