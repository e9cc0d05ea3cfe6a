import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { createGzipMemberStream, gzipMember, gzipMemberAsync, type GzipLevel } from '../../shared/gzip/index.ts';
import { generateLogLike } from '../../bench/lib/loglike.ts';

const LEVELS: GzipLevel[] = [0, 1, 2, 3];

/** Each 'data' event carries one member (async iteration would merge buffered chunks, so listen instead). */
async function collect(input: Buffer, opts: Parameters<typeof createGzipMemberStream>[0], chunk: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) chunks.push(input.subarray(i, i + chunk));
  const gz = createGzipMemberStream(opts);
  gz.on('data', (m: Buffer) => out.push(m));
  await pipeline(Readable.from(chunks), gz);
  return out;
}

describe('gzipMember / gzipMemberAsync', () => {
  const text = generateLogLike(300_000, 7);

  it.each(LEVELS)('level %i round-trips through zlib.gunzipSync and compresses log text', (level) => {
    // Prepare: text above. Act
    const gz = gzipMember(text, level);
    // Assess
    expect(gz[0]).toBe(0x1f);
    expect(gz[1]).toBe(0x8b);
    expect(zlib.gunzipSync(gz).equals(text)).toBe(true);
    expect(gz.length).toBeLessThan(text.length / 2.5);
  });

  it.each(LEVELS)('async level %i equals the sync output', async (level) => {
    // Prepare: text above. Act
    const [a, s] = [await gzipMemberAsync(text, level), gzipMember(text, level)];
    // Assess
    expect(a.equals(s)).toBe(true);
  });

  it('round-trips arbitrary bytes (incompressible and empty included)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.constantFrom<GzipLevel>(0, 1, 2, 3), (data, level) => {
        // Prepare: arbitraries. Act
        const gz = gzipMember(data, level);
        // Assess
        expect(new Uint8Array(zlib.gunzipSync(gz))).toEqual(data);
      }),
      { numRuns: 100 },
    );
  });

  it.each(LEVELS)('level %i stores incompressible data within its output bound (3 MiB random)', async (level) => {
    // Prepare
    const data = randomBytes(3 * 1024 * 1024 + 5);
    // Act
    const [sync, async] = [gzipMember(data, level), await gzipMemberAsync(data, level)];
    // Assess
    expect(zlib.gunzipSync(sync).equals(data)).toBe(true);
    expect(async.equals(sync)).toBe(true);
    expect(sync.length).toBeLessThan(data.length + (data.length >> 12) + 1024);
  });

  it('keeps the input alive while compressing asynchronously (many in flight, inputs dropped)', async () => {
    // Prepare
    const inputs = Array.from({ length: 16 }, (_, i) => generateLogLike(200_000, 100 + i));
    const expected = inputs.map((b) => Buffer.from(b));
    // Act
    const promises = inputs.map((b) => gzipMemberAsync(b, 1));
    inputs.length = 0;
    (globalThis as { gc?: () => void }).gc?.();
    const outs = await Promise.all(promises);
    // Assess
    outs.forEach((gz, i) => expect(zlib.gunzipSync(gz).equals(expected[i]!)).toBe(true));
  });

  it('concatenated members pass `gzip -t` and `zcat` byte for byte', () => {
    // Prepare
    const dir = mkdtempSync(path.join(tmpdir(), 'ossferry-gz-'));
    try {
      const parts = [generateLogLike(100_000, 1), randomBytes(50_000), Buffer.alloc(0), generateLogLike(70_001, 2)];
      const file = path.join(dir, 'multi.gz');
      writeFileSync(file, Buffer.concat(parts.map((p, i) => gzipMember(p, LEVELS[i % 4]!))));
      // Act
      execFileSync('gzip', ['-t', file]);
      const unz = execFileSync('zcat', [file], { maxBuffer: 64 << 20 });
      // Assess
      expect(unz.equals(Buffer.concat(parts))).toBe(true);
      expect(zlib.gunzipSync(Buffer.concat(parts.map((p) => gzipMember(p)))).equals(Buffer.concat(parts))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const bad: Array<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    ['string data', () => gzipMember('abc' as unknown as Uint8Array), TypeError, /data/],
    ['level 4', () => gzipMember(new Uint8Array(1), 4 as GzipLevel), RangeError, /level/],
    ['level -1', () => gzipMember(new Uint8Array(1), -1 as GzipLevel), RangeError, /level/],
    ['level 1.5', () => gzipMember(new Uint8Array(1), 1.5 as GzipLevel), RangeError, /level/],
    ['level "1"', () => gzipMember(new Uint8Array(1), '1' as unknown as GzipLevel), TypeError, /level/],
  ];
  it.each(bad)('%s → named TypeError/RangeError', (_n, call, type, field) => {
    // Prepare: table above. Act / Assess
    expect(call).toThrow(type);
    expect(call).toThrow(field);
  });

  it('async rejects (does not throw synchronously past the promise) on bad input', async () => {
    // Prepare / Act
    const p = gzipMemberAsync(new Uint8Array(1), 9 as GzipLevel);
    // Assess
    await expect(p).rejects.toThrow(RangeError);
    await expect(gzipMemberAsync(null as unknown as Uint8Array)).rejects.toThrow(/data/);
  });
});

describe('createGzipMemberStream', () => {
  it('emits complete members of exactly memberSize uncompressed bytes, in order, as one valid gzip stream', async () => {
    // Prepare
    const input = generateLogLike(1_000_000, 3);
    const memberSize = 131_072;
    // Act
    const out = await collect(input, { memberSize, level: 1, concurrency: 3 }, 50_000);
    // Assess
    const sizes = out.map((m) => zlib.gunzipSync(m).length);
    expect(sizes).toEqual([...Array(7).fill(memberSize), 1_000_000 - 7 * memberSize]);
    expect(zlib.gunzipSync(Buffer.concat(out)).equals(input)).toBe(true);
    expect(out.every((m) => m[0] === 0x1f && m[1] === 0x8b)).toBe(true);
  });

  it('reassembles any input for any chunking, member size and concurrency', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 60_000 }),
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 1, max: 25_000 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer(),
        async (len, chunk, memberSize, concurrency, seed) => {
          // Prepare
          const input = generateLogLike(len, seed);
          // Act
          const out = await collect(input, { memberSize, concurrency, level: 1 }, chunk);
          // Assess
          const expectedMembers = Math.max(1, Math.ceil(len / memberSize));
          expect(out).toHaveLength(expectedMembers);
          for (const [i, m] of out.entries()) {
            const n = zlib.gunzipSync(m).length;
            expect(n).toBe(i < expectedMembers - 1 ? memberSize : len - memberSize * (expectedMembers - 1));
          }
          expect(zlib.gunzipSync(Buffer.concat(out)).equals(input)).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('empty input yields one empty member, so the output is still valid gzip', async () => {
    // Prepare / Act
    const out = await collect(Buffer.alloc(0), {}, 1);
    // Assess
    expect(out).toHaveLength(1);
    expect(zlib.gunzipSync(out[0]!).length).toBe(0);
  });

  it('defaults to 8 MiB members', async () => {
    // Prepare
    const input = generateLogLike(9 * 1024 * 1024, 11);
    // Act
    const out = await collect(input, { level: 0 }, 1 << 20);
    // Assess
    expect(out.map((m) => zlib.gunzipSync(m).length)).toEqual([8 << 20, 1 << 20]);
  });

  const bad: Array<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    ['memberSize 0', () => createGzipMemberStream({ memberSize: 0 }), RangeError, /memberSize/],
    ['memberSize 1.5', () => createGzipMemberStream({ memberSize: 1.5 }), RangeError, /memberSize/],
    ['memberSize "8"', () => createGzipMemberStream({ memberSize: '8' as unknown as number }), TypeError, /memberSize/],
    ['memberSize 2 GiB', () => createGzipMemberStream({ memberSize: 2 ** 31 }), RangeError, /memberSize/],
    ['concurrency 0', () => createGzipMemberStream({ concurrency: 0 }), RangeError, /concurrency/],
    ['level 7', () => createGzipMemberStream({ level: 7 as GzipLevel }), RangeError, /level/],
    ['opts null', () => createGzipMemberStream(null as unknown as object), TypeError, /opts/],
  ];
  it.each(bad)('%s → named TypeError/RangeError', (_n, call, type, field) => {
    // Prepare: table above. Act / Assess
    expect(call).toThrow(type);
    expect(call).toThrow(field);
  });

  it('applies backpressure: at most `concurrency` members are held while the consumer is paused', async () => {
    // Prepare
    const memberSize = 10_000;
    const s = createGzipMemberStream({ memberSize, concurrency: 2, level: 0 });
    const input = generateLogLike(memberSize * 50, 5);
    let accepted = 0;
    // Act: write without a reader until write() asks us to wait, then let the pool finish
    while (accepted < input.length && s.write(input.subarray(accepted, accepted + memberSize))) accepted += memberSize;
    await new Promise((r) => setTimeout(r, 200));
    // Assess: the writable side stopped long before all 50 members were buffered
    expect(accepted).toBeLessThan(input.length);
    s.destroy();
  });
});

describe('generateLogLike (bench/lib/loglike.ts)', () => {
  it('is deterministic per seed, exact in length, and line-structured', () => {
    // Prepare / Act
    const a = generateLogLike(50_000, 9);
    const b = generateLogLike(50_000, 9);
    const c = generateLogLike(50_000, 10);
    // Assess
    expect(a.length).toBe(50_000);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
    const lines = a.toString('latin1').split('\n').slice(0, -1);
    expect(lines.length).toBeGreaterThan(100);
    expect(lines.some((l) => l.startsWith('{"ts":'))).toBe(true);
    expect(lines.some((l) => / HTTP\/1\.1" \d{3} /.test(l))).toBe(true);
  });

  it('rejects bad sizes naming the argument', () => {
    // Prepare / Act / Assess
    expect(() => generateLogLike(-1)).toThrow(/bytes/);
    expect(() => generateLogLike(1.5)).toThrow(RangeError);
    expect(() => generateLogLike(10, 0.5)).toThrow(/seed/);
  });
});
