/**
 * Local OSS durability (restart, half-received bodies) and fault injection (errors, resets, latency,
 * bandwidth cap, admin endpoint), with the unmodified ali-oss client.
 */
import http from 'node:http';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { crc64 } from '../../../shared/crc64/index.ts';
import { crc64ToWire } from '../../../shared/crc64/wire.ts';
import { startOssServer, type LocalOss } from '../../../local/oss/index.ts';
import { bytes, client, errorOf } from './helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'ossferry-oss-test-'));
  cleanups.push(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function start(o: Parameters<typeof startOssServer>[0] = {}): Promise<LocalOss> {
  const s = await startOssServer({ buckets: ['dur-b'], ...o });
  cleanups.push(() => s.close());
  return s;
}

function adminRequest(s: LocalOss, method: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${s.admin.token}` };
    const req = http.request({ host: '127.0.0.1', port: Number(new URL(s.admin.endpoint).port), method, path: '/_ossferry/faults', headers }, (res) => {
      let t = '';
      res.on('data', (d) => (t += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(t) }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('durability', () => {
  it('objects, metadata and in-progress uploads survive a restart on the same data dir', async () => {
    // Prepare
    const dir = await tempDir();
    const creds = { accessKeyId: 'LTAIrestart', accessKeySecret: 'restart-secret' };
    const first = await startOssServer({ dataDir: dir, buckets: ['dur-b'], ...creds });
    const c1 = client(first, 'dur-b');
    const data = bytes(200_000, 11);
    await c1.put('keep/a b.bin', data, { meta: { x: 'y' } });
    const init = await c1.initMultipartUpload('keep/mp.bin');
    const part = await c1.uploadPart('keep/mp.bin', init.uploadId, 1, data, 0, data.length);
    await first.close();
    // Act
    const second = await start({ dataDir: dir, ...creds });
    const c2 = client(second, 'dur-b');
    const got = await c2.get('keep/a b.bin');
    const head = await c2.head('keep/a b.bin');
    const parts = await c2.listParts('keep/mp.bin', init.uploadId);
    const done = await c2.completeMultipartUpload('keep/mp.bin', init.uploadId, [{ number: 1, etag: part.etag }]);
    // Assess
    expect(second.dataDir).toBe(dir);
    expect(Buffer.compare(got.content, data)).toBe(0);
    expect(head.meta).toEqual({ x: 'y' });
    expect([parts.parts].flat()).toHaveLength(1); // xml2js gives one <Part> as an object
    expect(done.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(crc64(data)));
  });

  it('a half-received body never becomes an object and leaves no temp file', async () => {
    // Prepare
    const s = await start();
    const c = client(s, 'dur-b');
    await c.put('half.bin', Buffer.from('previous'));
    const body = new Readable({ read() {} });
    body.push(bytes(64 * 1024, 3));
    setTimeout(() => body.destroy(new Error('client gave up')), 50);
    // Act
    const err = await errorOf(() => c.putStream('half.bin', body, { contentLength: 1024 * 1024 }));
    await new Promise((r) => setTimeout(r, 100));
    const still = await c.get('half.bin');
    const tmp = await readdir(path.join(s.dataDir, 'tmp'));
    // Assess
    expect(err).toBeDefined();
    expect(still.content.toString()).toBe('previous');
    expect(tmp).toEqual([]);
  });

  it('a deleted object keeps streaming to a reader that already started', async () => {
    // Prepare
    const s = await start();
    const c = client(s, 'dur-b');
    const data = bytes(3 * 1024 * 1024, 5);
    await c.put('reading.bin', data);
    // Act
    const stream = (await c.getStream('reading.bin')).stream as Readable;
    const chunks: Buffer[] = [];
    const first = await new Promise<Buffer>((r) => stream.once('data', r));
    chunks.push(first);
    stream.pause();
    await c.delete('reading.bin');
    stream.resume();
    for await (const ch of stream) chunks.push(ch as Buffer);
    // Assess
    expect(Buffer.compare(Buffer.concat(chunks), data)).toBe(0);
    expect((await errorOf(() => c.head('reading.bin'))).status).toBe(404);
  });
});

describe('faults', () => {
  it('errorRate 1 → 500 InternalError, slowDownRate 1 → 503 SlowDown, only for the named operation', async () => {
    // Prepare
    const s = await start({ faults: { operations: { PutObject: { errorRate: 1 }, GetObject: { slowDownRate: 1 } } } });
    const c = client(s, 'dur-b');
    // Act
    const put = await errorOf(() => c.put('f.bin', Buffer.from('x')));
    const get = await errorOf(() => c.get('f.bin'));
    const list = await c.list();
    // Assess
    expect(put.status).toBe(500);
    expect(put.code).toBe('InternalError');
    expect(get.status).toBe(503);
    expect(get.code).toBe('SlowDown');
    expect(list.res.status).toBe(200);
  });

  it('resets cut uploads and downloads mid-body (ali-oss sees a network error, status -1)', async () => {
    // Prepare
    const s = await start();
    const c = client(s, 'dur-b');
    const data = bytes(512 * 1024, 9);
    await c.put('r.bin', data);
    s.setFaults({ operations: { GetObject: { resetRate: 1 }, UploadPart: { resetRate: 1 } } });
    const init = await c.initMultipartUpload('r2.bin');
    // Act
    const get = await errorOf(() => c.get('r.bin'));
    const part = await errorOf(() => c.uploadPart('r2.bin', init.uploadId, 1, data, 0, data.length));
    s.setFaults({});
    const after = await c.get('r.bin');
    const parts = await c.listParts('r2.bin', init.uploadId);
    // Assess
    expect(get.status).toBe(-1);
    expect(part.status).toBe(-1);
    expect(Buffer.compare(after.content, data)).toBe(0);
    expect(parts.parts ?? []).toHaveLength(0);
  });

  it('the admin endpoint sets and reads faults at run time; bad config → 400', async () => {
    // Prepare
    const s = await start();
    const c = client(s, 'dur-b');
    // Act
    const set = await adminRequest(s, 'PUT', { seed: 7, all: { errorRate: 1 } });
    const failed = await errorOf(() => c.list());
    const read = await adminRequest(s, 'GET');
    const bad = await adminRequest(s, 'PUT', { all: { errorRate: 2 } });
    const cleared = await adminRequest(s, 'PUT', {});
    const ok = await c.list();
    // Assess
    expect(set.status).toBe(200);
    expect(failed.status).toBe(500);
    expect(read.json).toEqual({ seed: 7, all: { errorRate: 1 } });
    expect(bad.status).toBe(400);
    expect(cleared.status).toBe(200);
    expect(ok.res.status).toBe(200);
  });

  it('a seeded error rate gives the same outcome sequence on two servers', async () => {
    // Prepare
    const run = async () => {
      const s = await start({ faults: { seed: 42, operations: { HeadObject: { errorRate: 0.5 } } } });
      const c = client(s, 'dur-b');
      await c.put('seq.bin', Buffer.from('x'));
      const outcomes: number[] = [];
      for (let i = 0; i < 24; i++) outcomes.push(await c.head('seq.bin').then(() => 200, (e: { status: number }) => e.status));
      return outcomes;
    };
    // Act
    const a = await run();
    const b = await run();
    // Assess
    expect(a).toEqual(b);
    expect(a).toContain(500);
    expect(a).toContain(200);
  });

  it('latency and a bandwidth cap keep data intact', async () => {
    // Prepare
    const s = await start({ faults: { all: { latencyMs: 20 }, bandwidthBytesPerSecond: 4 * 1024 * 1024 } });
    const c = client(s, 'dur-b');
    const data = bytes(600 * 1024, 12);
    // Act
    const put = await c.put('bw.bin', data);
    const got = await c.get('bw.bin', { headers: { Range: 'bytes=100-300099' } });
    // Assess
    expect(put.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(crc64(data)));
    expect(Buffer.compare(got.content, data.subarray(100, 300100))).toBe(0);
  });
});
