/**
 * local/oss/hash-pool.ts: the batcher that hashes upload bodies from many concurrent uploads on the libuv pool.
 * Digests must equal node:crypto MD5 + the CRC-64 module whatever the arrival order, with the native kernels
 * and the node:crypto fallback; memory is capped; abandoned streams leave nothing behind.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { setImmediate as tick } from 'node:timers/promises';
import { crc64 } from '../../shared/crc64/index.ts';
import { backend, MD5_AUTO, MD5_AVX2, MD5_AVX512, MD5_SCALAR, type Md5Mode } from '../../shared/crc64/loader.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { HashPool, md5ModeFromEnv, type BodyDigest } from '../../local/oss/hash-pool.ts';

const addon = backend().addon!;
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest();

/** Streams each message in chunks of the given sizes, interleaved as `order` says, yielding to the loop between. */
async function streamAll(pool: HashPool, messages: Uint8Array[], chunk: number[], order: number[]): Promise<BodyDigest[]> {
  const hashes = messages.map(() => pool.hash());
  const pos = messages.map(() => 0);
  let k = 0;
  const step = (i: number) => {
    const n = Math.max(1, chunk[k++ % chunk.length]!);
    hashes[i]!.update(messages[i]!.subarray(pos[i]!, pos[i]! + n));
    pos[i] = Math.min(messages[i]!.length, pos[i]! + n);
  };
  for (const o of order) {
    const i = o % messages.length;
    if (pos[i]! < messages[i]!.length) step(i);
    if (o % 3 === 0) await tick();
  }
  for (let i = 0; i < messages.length; i++) while (pos[i]! < messages[i]!.length) step(i);
  return Promise.all(hashes.map((h) => h.digest()));
}

const pools: [string, () => HashPool][] = [
  ['native auto', () => new HashPool({ addon, mode: MD5_AUTO })],
  ['native scalar', () => new HashPool({ addon, mode: MD5_SCALAR })],
  ['node:crypto fallback', () => new HashPool({ addon: null })],
];

describe('HashPool digests', () => {
  it.each(pools)('%s: equal node:crypto MD5 and CRC-64 for random interleaved uploads', async (_name, make) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 5000 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        async (messages, chunk, order) => {
          // Prepare
          const pool = make();
          // Act
          const digests = await streamAll(pool, messages, chunk, order);
          // Assess
          digests.forEach((d, i) => {
            expect(d.md5.equals(md5(messages[i]!))).toBe(true);
            expect(d.crc64).toBe(crc64(messages[i]!));
            expect(d.size).toBe(messages[i]!.length);
          });
          expect(pool.queuedBytes).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('8 concurrent uploads share batches (several items per batch), and onHashed runs once per chunk', async () => {
    // Prepare
    const pool = new HashPool({ addon, flushDelayMs: 50 });
    const messages = Array.from({ length: 8 }, (_v, i) => Buffer.alloc(64 * 1024 * 16, i));
    const hashed: number[] = [];
    const hashes = messages.map(() => pool.hash());
    // Act
    for (let off = 0; off < messages[0]!.length; off += 65536) {
      hashes.forEach((h, i) => h.update(messages[i]!.subarray(off, off + 65536), () => hashed.push(i)));
      await tick();
    }
    const digests = await Promise.all(hashes.map((h) => h.digest()));
    // Assess
    digests.forEach((d, i) => expect(d.md5.equals(md5(messages[i]!))).toBe(true));
    expect(hashed).toHaveLength(8 * 16);
    expect(pool.stats.items).toBe(8 * 16);
    expect(pool.stats.items / pool.stats.batches).toBeGreaterThanOrEqual(8);
  });
});

describe('HashPool memory and failure paths', () => {
  it('belowCap() makes writers wait while more than maxQueuedBytes wait, and releases them once hashed', async () => {
    // Prepare
    const pool = new HashPool({ addon, maxQueuedBytes: 1024 * 1024 });
    const h = pool.hash();
    const data = Buffer.alloc(4 * 1024 * 1024, 7);
    // Act
    h.update(data);
    const wait = pool.belowCap();
    const queuedWhileWaiting = pool.queuedBytes;
    await wait;
    const digest = await h.digest();
    // Assess
    expect(wait).toBeInstanceOf(Promise);
    expect(queuedWhileWaiting).toBe(data.length);
    expect(pool.queuedBytes).toBe(0);
    expect(pool.belowCap()).toBeUndefined();
    expect(digest.md5.equals(md5(data))).toBe(true);
  });

  it('abandon() drops queued chunks (their onHashed never runs) and other uploads still finish', async () => {
    // Prepare: two open uploads and a long flush delay, so chunks queue up instead of starting a batch
    const pool = new HashPool({ addon, flushDelayMs: 10_000 });
    const dead = pool.hash();
    const live = pool.hash();
    let deadHashed = 0;
    dead.update(Buffer.alloc(1000, 1), () => deadHashed++);
    // Act
    dead.abandon();
    live.update(Buffer.from('abc'));
    const digest = await live.digest();
    // Assess
    expect(deadHashed).toBe(0);
    expect(digest.md5.toString('hex')).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(pool.queuedBytes).toBe(0);
    expect(() => dead.update(Buffer.alloc(1))).toThrow(/after digest\(\) or abandon\(\)/);
  });

  it('forcing the AVX2 kernel on a CPU without AVX2 is refused up front, naming the variable', () => {
    // Prepare: an addon that reports a CPU without AVX2
    const noAvx2 = { ...addon, md5Kernel: () => 'scalar' as const };
    // Act
    const make = () => new HashPool({ addon: noAvx2, mode: MD5_AVX2 });
    // Assess
    expect(make).toThrow(InvalidInputError);
    expect(make).toThrow(/OSSFERRY_MD5_KERNEL/);
  });

  it('forcing the AVX-512 kernel on an AVX2-only CPU is refused up front; AVX2 is still accepted there', () => {
    // Prepare: an addon that reports a CPU with AVX2 but no AVX-512VL
    const avx2Only = { ...addon, md5Kernel: () => 'avx2-x8' as const };
    // Act
    const make512 = () => new HashPool({ addon: avx2Only, mode: MD5_AVX512, backgroundThreads: false });
    const pool2 = new HashPool({ addon: avx2Only, mode: MD5_AVX2, backgroundThreads: false });
    // Assess
    expect(make512).toThrow(InvalidInputError);
    expect(make512).toThrow(/OSSFERRY_MD5_KERNEL.*avx512/);
    expect(pool2.kernel).toBe('avx2-x8');
  });

  it('OSSFERRY_MD5_KERNEL picks the kernel, auto by default', () => {
    // Prepare
    const envs = [{}, { OSSFERRY_MD5_KERNEL: 'scalar' }, { OSSFERRY_MD5_KERNEL: 'AVX2' }, { OSSFERRY_MD5_KERNEL: 'avx512' }, { OSSFERRY_MD5_KERNEL: 'auto' }];
    // Act
    const modes = envs.map((e) => md5ModeFromEnv(e));
    // Assess
    expect(modes).toEqual([0, 1, 2, 3, 0] satisfies Md5Mode[]);
  });
});
