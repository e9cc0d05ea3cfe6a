/**
 * Crash consistency of the local OSS store: a server process is killed with SIGKILL at an injected point
 * (OSSFERRY_OSS_CRASH_AT, local/oss/crash-points.ts: the store kills itself there, no sleep involved) in the
 * middle of PutObject, AppendObject, UploadPart, CompleteMultipartUpload, AbortMultipartUpload, CreateBucket,
 * DeleteBucket and DeleteObject, then restarted on the same data dir. After the restart each object is fully
 * present (bytes match its CRC-64) or absent, a completed upload is never listed (and aborting it cannot touch
 * the object), nothing half-written is readable, no temp file or unreferenced data file is left.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crc64 } from '../../../shared/crc64/index.ts';
import { crc64ToWire } from '../../../shared/crc64/wire.ts';
import { CRASH_ENV, type CrashPoint } from '../../../local/oss/crash-points.ts';
import { startOssServer, type LocalOss } from '../../../local/oss/index.ts';
import { startOssServerProcess } from '../../../local/server-process.ts';
import { bytes, client, errorOf, md5Hex, type Client } from './helpers.ts';

const CREDS = { accessKeyId: 'LTAIcrashtest', accessKeySecret: 'crash-test-secret' };
const B = 'crash-b';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function dataDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'ossferry-oss-crash-'));
  cleanups.push(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** The server in this process (prepare and assess). */
async function inProcess(dir: string): Promise<LocalOss> {
  const s = await startOssServer({ dataDir: dir, ...CREDS });
  cleanups.push(() => s.close());
  return s;
}

/** The server in a child process that kills itself at `point`. */
async function crashing(dir: string, point: string): Promise<LocalOss> {
  const prev = process.env[CRASH_ENV];
  process.env[CRASH_ENV] = point;
  try {
    const s = await startOssServerProcess({ dataDir: dir, ...CREDS });
    cleanups.push(() => s.close());
    return s;
  } finally {
    if (prev === undefined) delete process.env[CRASH_ENV];
    else process.env[CRASH_ENV] = prev;
  }
}

/**
 * Runs `act` against a server that crashes at `point`, asserting the crash happened (the request died with a
 * network error rather than answering), then restarts in-process on the same data dir.
 */
async function crashAndRestart(dir: string, point: string, act: (c: Client) => Promise<unknown>): Promise<{ s: LocalOss; c: Client }> {
  const doomed = await crashing(dir, point);
  const err = await errorOf(() => act(client(doomed, B)));
  expect(err.status, `the server should have died at ${point}`).toBe(-1);
  const s = await inProcess(dir);
  return { s, c: client(s, B) };
}

/** Everything on disk agrees: no temp file, every data file referenced, every object's bytes match its CRC. */
async function assertConsistent(s: LocalOss): Promise<void> {
  const dir = s.dataDir;
  expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
  const referenced = new Set<string>();
  for (const b of await readdir(path.join(dir, 'buckets'))) {
    await readFile(path.join(dir, 'buckets', b, 'bucket.json'), 'utf8');
    const c = client(s, b);
    for (const f of await readdir(path.join(dir, 'buckets', b, 'objects'))) {
      const meta = JSON.parse(await readFile(path.join(dir, 'buckets', b, 'objects', f), 'utf8')) as { key: string; crc64: string; size: number; segments: { file: string }[] };
      for (const seg of meta.segments) referenced.add(seg.file);
      const got = await c.get(meta.key);
      expect(got.content.length).toBe(meta.size);
      expect(crc64ToWire(crc64(got.content))).toBe(meta.crc64);
    }
  }
  for (const id of await readdir(path.join(dir, 'uploads'))) {
    const files = await readdir(path.join(dir, 'uploads', id));
    expect(files).toContain('upload.json');
    for (const f of files.filter((n) => /^\d+\.json$/.test(n))) referenced.add((JSON.parse(await readFile(path.join(dir, 'uploads', id, f), 'utf8')) as { file: string }).file);
  }
  expect((await readdir(path.join(dir, 'data'))).sort()).toEqual([...referenced].sort());
}

async function withBucket(dir: string): Promise<Client> {
  const s = await inProcess(dir);
  const c = client(s, B);
  await c.putBucket(B);
  return c;
}

const OLD = bytes(150_000, 1);
const NEW = bytes(250_000, 2);

describe('PutObject', () => {
  it.each<[CrashPoint, 'old' | 'new' | 'absent']>([
    ['receive:written', 'absent'],
    ['adopt:renamed', 'absent'],
    ['meta:staged', 'absent'],
    ['object:meta-written', 'new'],
  ])('a new key, killed at %s → %s', async (point, outcome) => {
    // Prepare
    const dir = await dataDir();
    await withBucket(dir);
    // Act
    const { s, c } = await crashAndRestart(dir, point, (c) => c.put('k.bin', NEW));
    // Assess
    if (outcome === 'absent') expect((await errorOf(() => c.head('k.bin'))).status).toBe(404);
    else expect(Buffer.compare((await c.get('k.bin')).content, NEW)).toBe(0);
    await assertConsistent(s);
  });

  it.each<[CrashPoint, 'old' | 'new']>([
    ['receive:written', 'old'],
    ['adopt:renamed', 'old'],
    ['meta:staged', 'old'],
    ['object:meta-written', 'new'],
  ])('an overwrite, killed at %s → the %s version, whole', async (point, outcome) => {
    // Prepare
    const dir = await dataDir();
    await (await withBucket(dir)).put('k.bin', OLD);
    // Act
    const { s, c } = await crashAndRestart(dir, point, (c) => c.put('k.bin', NEW));
    // Assess
    expect(Buffer.compare((await c.get('k.bin')).content, outcome === 'old' ? OLD : NEW)).toBe(0);
    await assertConsistent(s);
  });
});

describe('AppendObject', () => {
  it.each<[CrashPoint, 'before' | 'after']>([
    ['adopt:renamed', 'before'],
    ['meta:staged', 'before'],
    ['object:meta-written', 'after'],
  ])('a second append, killed at %s → the object as it was %s it', async (point, outcome) => {
    // Prepare
    const dir = await dataDir();
    await (await withBucket(dir)).append('a.log', OLD);
    // Act
    const { s, c } = await crashAndRestart(dir, point, (c) => c.append('a.log', NEW, { position: OLD.length }));
    // Assess
    const want = outcome === 'before' ? OLD : Buffer.concat([OLD, NEW]);
    const head = await c.head('a.log');
    expect(Buffer.compare((await c.get('a.log')).content, want)).toBe(0);
    expect(head.res.headers['x-oss-next-append-position']).toBe(String(want.length));
    await assertConsistent(s);
  });
});

describe('multipart', () => {
  async function upload(dir: string): Promise<{ uploadId: string; parts: { number: number; etag: string }[] }> {
    const c = await withBucket(dir);
    const init = await c.initMultipartUpload('mp.bin');
    const p1 = await c.uploadPart('mp.bin', init.uploadId, 1, OLD, 0, OLD.length);
    const p2 = await c.uploadPart('mp.bin', init.uploadId, 2, NEW, 0, NEW.length);
    return { uploadId: init.uploadId, parts: [{ number: 1, etag: p1.etag }, { number: 2, etag: p2.etag }] };
  }

  it('UploadPart replacing a part, killed once its metadata is in place → the new part listed, the old one gone', async () => {
    // Prepare
    const dir = await dataDir();
    const { uploadId } = await upload(dir);
    // Act
    const { s, c } = await crashAndRestart(dir, 'part:meta-written', (c) => c.uploadPart('mp.bin', uploadId, 1, NEW, 0, NEW.length));
    const parts = [(await c.listParts('mp.bin', uploadId)).parts].flat() as { PartNumber: string; ETag: string }[];
    // Assess
    expect(parts.map((p) => [p.PartNumber, p.ETag])).toEqual([
      ['1', `"${md5Hex(NEW)}"`],
      ['2', `"${md5Hex(NEW)}"`],
    ]);
    await assertConsistent(s);
  });

  it.each<CrashPoint>(['object:meta-written', 'upload:detached'])(
    'Complete killed at %s → the object whole, the upload never listed; aborting it is NoSuchUpload and leaves the object',
    async (point) => {
      // Prepare
      const dir = await dataDir();
      const { uploadId, parts } = await upload(dir);
      // Act
      const { s, c } = await crashAndRestart(dir, point, (c) => c.completeMultipartUpload('mp.bin', uploadId, parts));
      const listed = await c.listUploads({});
      const abort = await errorOf(() => c.abortMultipartUpload('mp.bin', uploadId));
      // Assess
      expect(listed.uploads ?? []).toHaveLength(0);
      expect(abort.code).toBe('NoSuchUpload');
      expect(Buffer.compare((await c.get('mp.bin')).content, Buffer.concat([OLD, NEW]))).toBe(0);
      await assertConsistent(s);
    },
  );

  it('Complete killed with the object metadata staged, not renamed → no object, the upload still listed and completable', async () => {
    // Prepare
    const dir = await dataDir();
    const { uploadId, parts } = await upload(dir);
    // Act
    const { s, c } = await crashAndRestart(dir, 'meta:staged', (c) => c.completeMultipartUpload('mp.bin', uploadId, parts));
    const absent = await errorOf(() => c.head('mp.bin'));
    const listed = await c.listUploads({});
    await c.completeMultipartUpload('mp.bin', uploadId, parts);
    // Assess
    expect(absent.status).toBe(404);
    expect([listed.uploads].flat().map((u: { uploadId: string }) => u.uploadId)).toEqual([uploadId]);
    expect(Buffer.compare((await c.get('mp.bin')).content, Buffer.concat([OLD, NEW]))).toBe(0);
    await assertConsistent(s);
  });

  it('Abort killed after the upload was detached → the upload gone, its parts unlinked', async () => {
    // Prepare
    const dir = await dataDir();
    const { uploadId } = await upload(dir);
    // Act
    const { s, c } = await crashAndRestart(dir, 'upload:detached', (c) => c.abortMultipartUpload('mp.bin', uploadId));
    const listed = await c.listUploads({});
    // Assess
    expect(listed.uploads ?? []).toHaveLength(0);
    expect(await readdir(path.join(dir, 'data'))).toEqual([]);
    await assertConsistent(s);
  });
});

describe('buckets and DeleteObject', () => {
  it('CreateBucket killed with the bucket staged → no bucket; it can be created after the restart', async () => {
    // Prepare
    const dir = await dataDir();
    await inProcess(dir);
    // Act
    const { s, c } = await crashAndRestart(dir, 'bucket:staged', (c) => c.putBucket(B));
    const before = await errorOf(() => c.getBucketInfo(B));
    await c.putBucket(B);
    // Assess
    expect(before.code).toBe('NoSuchBucket');
    expect((await c.getBucketInfo(B)).bucket.Name).toBe(B);
    await assertConsistent(s);
  });

  it('DeleteBucket killed with the bucket detached → no bucket', async () => {
    // Prepare
    const dir = await dataDir();
    await withBucket(dir);
    // Act
    const { s, c } = await crashAndRestart(dir, 'bucket:detached', (c) => c.deleteBucket(B));
    const after = await errorOf(() => c.getBucketInfo(B));
    // Assess
    expect(after.code).toBe('NoSuchBucket');
    await assertConsistent(s);
  });

  it('DeleteObject killed after its metadata was removed → the object absent, its data unlinked', async () => {
    // Prepare
    const dir = await dataDir();
    const c0 = await withBucket(dir);
    await c0.put('gone.bin', OLD);
    await c0.put('kept.bin', NEW);
    // Act
    const { s, c } = await crashAndRestart(dir, 'object:meta-removed', (c) => c.delete('gone.bin'));
    // Assess
    expect((await errorOf(() => c.head('gone.bin'))).status).toBe(404);
    expect(Buffer.compare((await c.get('kept.bin')).content, NEW)).toBe(0);
    await assertConsistent(s);
  });

  it('a bucket directory without bucket.json (an older layout\'s crash) does not stop the start: empty → removed, with objects → kept', async () => {
    // Prepare
    const dir = await dataDir();
    const first = await inProcess(dir);
    await client(first, B).putBucket(B);
    await client(first, B).put('k.bin', OLD);
    await first.close();
    await rm(path.join(dir, 'buckets', B, 'bucket.json'));
    await mkdir(path.join(dir, 'buckets', 'half-made', 'objects'), { recursive: true });
    await writeFile(path.join(dir, 'tmp', 'leftover.part'), 'x');
    // Act
    const s = await inProcess(dir);
    const c = client(s, B);
    const buckets = (await c.listBuckets()).buckets.map((b: { name: string }) => b.name);
    // Assess
    expect(buckets).toEqual([B]);
    expect(Buffer.compare((await c.get('k.bin')).content, OLD)).toBe(0);
    await assertConsistent(s);
  });
});
