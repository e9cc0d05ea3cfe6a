import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64, crc64Combine } from '../../shared/crc64/index.ts';
import { IntegrityError } from '../../shared/errors.ts';
import { startOssServer, type LocalOss } from '../../local/oss/index.ts';
import { OssPartSink } from '../../functions/oss/part-sink.ts';
import { DestinationExistsError } from '../../functions/oss/types.ts';

const KB100 = 100 * 1024;

describe('OssPartSink against local OSS', () => {
  let oss: LocalOss;
  let client: OSS;
  beforeAll(async () => {
    oss = await startOssServer({ buckets: ['dst'] });
    client = new OSS(oss.clientOptions('dst'));
  });
  afterAll(() => oss.close());

  it('uploads stream and buffer parts, compares CRCs, completes with the combined CRC', async () => {
    // Prepare
    const a = randomBytes(KB100 + 17);
    const b = randomBytes(5000);
    const sink = new OssPartSink({ client, bucket: 'dst', key: 'out/one.bin' });
    await sink.initiate();
    // Act
    const p1 = await sink.uploadPart(1, Readable.from([a.subarray(0, 1000), a.subarray(1000)]), a.length);
    const p2 = await sink.uploadPart(2, b, b.length);
    const listed = await sink.listParts();
    const done = await sink.complete([
      { partNumber: 1, etag: p1.etag },
      { partNumber: 2, etag: p2.etag },
    ]);
    // Assess
    expect(p1.crc64).toBe(crc64(a));
    expect(p2.crc64).toBe(crc64(b));
    expect(listed.map((p) => [p.partNumber, p.size])).toEqual([[1, a.length], [2, b.length]]);
    expect(done.crc64).toBe(crc64Combine(p1.crc64, p2.crc64, b.length));
    const got = await client.get('out/one.bin');
    expect(Buffer.compare(got.content as Buffer, Buffer.concat([a, b]))).toBe(0);
  });

  it('releases every chunk of a releasable body once it is written, and stores the exact bytes', async () => {
    // Prepare: a body that lends its chunks (as functions/sources/raw-http.ts does) and records releases.
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const chunks = [data.subarray(0, 1024 * 1024), data.subarray(1024 * 1024, 3 * 1024 * 1024), data.subarray(3 * 1024 * 1024)];
    const released: Uint8Array[] = [];
    const body = Object.assign(Readable.from(chunks), { releaseChunk: (c: Uint8Array) => released.push(c) });
    const sink = new OssPartSink({ client, bucket: 'dst', key: 'out/released.bin' });
    await sink.initiate();
    // Act
    const part = await sink.uploadPart(1, body, data.length);
    await sink.complete([{ partNumber: 1, etag: part.etag }]);
    // Assess
    expect(part.crc64).toBe(crc64(data));
    expect(released).toHaveLength(chunks.length);
    expect(chunks.every((c) => released.includes(c))).toBe(true);
    expect(Buffer.compare((await client.get('out/released.bin')).content as Buffer, data)).toBe(0);
  });

  it('a body shorter than the declared size fails the part (never a silent short part)', async () => {
    // Prepare
    const sink = new OssPartSink({ client, bucket: 'dst', key: 'out/short.bin' });
    await sink.initiate();
    // Act
    const act = sink.uploadPart(1, Readable.from([randomBytes(1000)]), 2000);
    // Assess
    await expect(act).rejects.toThrow();
    await sink.abort();
  });

  it('a failing source stream surfaces as the source error, not an upload error', async () => {
    // Prepare
    const sink = new OssPartSink({ client, bucket: 'dst', key: 'out/failing.bin' });
    await sink.initiate();
    const boom = new IntegrityError('source broke');
    const body = new Readable({
      read() {
        this.push(randomBytes(1000));
        this.destroy(boom);
      },
    });
    // Act
    const act = sink.uploadPart(1, body, 5000);
    // Assess
    await expect(act).rejects.toBe(boom);
    await sink.abort();
  });

  it('forbid-overwrite: an existing destination → DestinationExistsError, object untouched', async () => {
    // Prepare
    await client.put('out/exists.bin', Buffer.from('old'));
    const sink = new OssPartSink({ client, bucket: 'dst', key: 'out/exists.bin' });
    // Act
    const act = sink.initiate();
    // Assess
    await expect(act).rejects.toBeInstanceOf(DestinationExistsError);
    await expect(act).rejects.toThrow(/oss:\/\/dst\/out\/exists.bin already exists and overwrite is off/);
    expect((await client.get('out/exists.bin')).content.toString()).toBe('old');
  });

  it('overwrite: true replaces the destination', async () => {
    // Prepare
    await client.put('out/replace.bin', Buffer.from('old'));
    const sink = new OssPartSink({ client, bucket: 'dst', key: 'out/replace.bin' });
    await sink.initiate({ overwrite: true });
    const part = await sink.uploadPart(1, Buffer.from('new!'), 4);
    // Act
    await sink.complete([{ partNumber: 1, etag: part.etag }], { overwrite: true });
    // Assess
    expect((await client.get('out/replace.bin')).content.toString()).toBe('new!');
  });

  it('abort leaves ListMultipartUploads empty and is idempotent', async () => {
    // Prepare
    const sink = new OssPartSink({ client, bucket: 'dst', key: 'out/aborted.bin' });
    await sink.initiate();
    await sink.uploadPart(1, randomBytes(2000), 2000);
    // Act
    await sink.abort();
    await sink.abort();
    // Assess
    const uploads = await client.listUploads({ prefix: 'out/aborted.bin' } as never);
    expect(uploads.uploads ?? []).toHaveLength(0);
  });

  it('503 SlowDown on UploadPart is surfaced with its status (retryable by the caller)', async () => {
    // Prepare
    const sink = new OssPartSink({ client, bucket: 'dst', key: 'out/slow.bin' });
    await sink.initiate();
    oss.setFaults({ operations: { UploadPart: { slowDownRate: 1 } } });
    // Act
    const act = sink.uploadPart(1, randomBytes(1000), 1000);
    // Assess
    await expect(act).rejects.toMatchObject({ status: 503 });
    oss.setFaults({});
    await sink.abort();
  });
});
