/**
 * Store.receive (local/oss/store.ts) with the batched body hash: what lands on disk, the MD5/CRC-64/size it
 * reports, the limits (EntityTooLarge, IncompleteBody) and failure cleanup (no temp file left behind), and
 * the early release of request chunks (only chunks that own their whole ArrayBuffer, only once written and hashed).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { crc64 } from '../../shared/crc64/index.ts';
import { Store } from '../../local/oss/store.ts';
import { OssError } from '../../local/oss/errors.ts';

let dir: string;
let store: Store;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-receive-'));
  store = new Store(dir, { fsync: false });
  await store.open();
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Fresh chunks, each the sole view of its own ArrayBuffer (like an HTTP request body's). */
function ownedChunks(sizes: number[]): Buffer[] {
  return sizes.map((n) => {
    const b = Buffer.from(new ArrayBuffer(n));
    randomBytes(n).copy(b);
    return b;
  });
}

describe('Store.receive', () => {
  it('writes the body and reports its MD5, CRC-64 and size, for 8 concurrent uploads', async () => {
    // Prepare
    const bodies = Array.from({ length: 8 }, (_v, i) => ownedChunks(Array.from({ length: 20 + i }, (_w, k) => 1 + ((k * 7919 + i * 104729) % 70000))));
    const expected = bodies.map((chunks) => Buffer.concat(chunks));
    // Act
    const got = await Promise.all(bodies.map((chunks, i) => store.receive(Readable.from(chunks), 1 << 30, expected[i]!.length)));
    // Assess
    for (let i = 0; i < 8; i++) {
      const want = expected[i]!;
      expect(got[i]!.size).toBe(want.length);
      expect(got[i]!.md5.equals(createHash('md5').update(want).digest())).toBe(true);
      expect(got[i]!.crc64).toBe(crc64(want));
      expect((await readFile(got[i]!.tmpPath)).equals(want)).toBe(true);
    }
  });

  it('with releaseChunks, frees chunks that own their ArrayBuffer and leaves shared views alone', async () => {
    // Prepare
    const owned = ownedChunks([1000, 65536, 3]);
    const backing = randomBytes(4096);
    const view = backing.subarray(100, 1100);
    const content = Buffer.concat([...owned, view]);
    // Act
    const got = await store.receive(Readable.from([...owned, view]), 1 << 20, content.length, { releaseChunks: true });
    // Assess
    expect((await readFile(got.tmpPath)).equals(content)).toBe(true);
    expect(got.md5.equals(createHash('md5').update(content).digest())).toBe(true);
    expect(owned.map((b) => b.buffer.byteLength)).toEqual([0, 0, 0]);
    expect(view.length).toBe(1000);
    expect(backing.buffer.byteLength).toBeGreaterThanOrEqual(4096);
  });

  it('without releaseChunks, the caller keeps its chunks', async () => {
    // Prepare
    const owned = ownedChunks([5000, 7000]);
    // Act
    await store.receive(Readable.from(owned), 1 << 20, 12000);
    // Assess
    expect(owned.map((b) => b.length)).toEqual([5000, 7000]);
  });

  it('more than maxSize bytes → 400 EntityTooLarge, no temp file left', async () => {
    // Prepare
    const chunks = ownedChunks([4000, 4000, 4000]);
    // Act
    const err = await store.receive(Readable.from(chunks), 10_000, undefined, { releaseChunks: true }).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(OssError);
    expect((err as OssError).code).toBe('EntityTooLarge');
    expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
  });

  it('fewer bytes than Content-Length → 400 IncompleteBody, no temp file left', async () => {
    // Prepare
    const chunks = ownedChunks([100, 200]);
    // Act
    const err = await store.receive(Readable.from(chunks), 1 << 20, 301).catch((e: unknown) => e);
    // Assess
    expect((err as OssError).code).toBe('IncompleteBody');
    expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
  });

  it('a body stream that fails half-way rejects with its error, no temp file left, and the pool is drained', async () => {
    // Prepare
    const boom = new Error('client went away');
    async function* failing(): AsyncGenerator<Buffer> {
      yield* ownedChunks([65536, 65536]);
      throw boom;
    }
    // Act
    const err = await store.receive(Readable.from(failing()), 1 << 20, 1 << 20, { releaseChunks: true }).catch((e: unknown) => e);
    const after = await store.receive(Readable.from([Buffer.from('abc')]), 10, 3);
    // Assess
    expect(err).toBe(boom);
    expect((await readdir(path.join(dir, 'tmp'))).filter((f) => f !== path.basename(after.tmpPath))).toEqual([]);
    expect(after.md5.toString('hex')).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(store.hashPool().queuedBytes).toBe(0);
  });
});
