import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { defaultNativePath } from '../../shared/crc64/index.ts';
import type { NativeAddon } from '../../shared/crc64/loader.ts';

// The addon validates its own arguments (callers other than the TS wrapper can reach it): bad input must
// throw TypeError/RangeError naming the argument, never crash the process.
const addon = createRequire(import.meta.url)(defaultNativePath()) as NativeAddon;
type AnyFn = (...args: unknown[]) => unknown;
const raw = addon as unknown as Record<keyof NativeAddon, AnyFn>;

describe('native addon argument validation (in C)', () => {
  const cases: Array<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    ['crc64()', () => raw.crc64(), TypeError, /data/],
    ['crc64(string)', () => raw.crc64('x'), TypeError, /data/],
    ['crc64(Uint16Array)', () => raw.crc64(new Uint16Array(2)), TypeError, /data/],
    ['crc64(buf, number)', () => raw.crc64(new Uint8Array(1), 3), TypeError, /prev/],
    ['crc64(buf, -1n)', () => raw.crc64(new Uint8Array(1), -1n), RangeError, /prev/],
    ['crc64(buf, 2^64)', () => raw.crc64(new Uint8Array(1), 1n << 64n), RangeError, /prev/],
    ['crc64Combine(1 arg)', () => raw.crc64Combine(0n), TypeError, /crc64Combine/],
    ['crc64Combine(number crcA)', () => raw.crc64Combine(1, 0n, 1), TypeError, /crcA/],
    ['crc64Combine(len -1)', () => raw.crc64Combine(0n, 0n, -1), RangeError, /lengthB/],
    ['crc64Combine(len 1.5)', () => raw.crc64Combine(0n, 0n, 1.5), RangeError, /lengthB/],
    ['crc64Combine(len NaN)', () => raw.crc64Combine(0n, 0n, Number.NaN), RangeError, /lengthB/],
    ['crc64Combine(len -1n)', () => raw.crc64Combine(0n, 0n, -1n), RangeError, /lengthB/],
    ['crc64Combine(len "1")', () => raw.crc64Combine(0n, 0n, '1'), TypeError, /lengthB/],
    ['gzip(1 arg)', () => raw.gzip(new Uint8Array(1)), TypeError, /gzip/],
    ['gzip({}, 1)', () => raw.gzip({}, 1), TypeError, /data/],
    ['gzip(buf, 4)', () => raw.gzip(new Uint8Array(1), 4), RangeError, /level/],
    ['gzip(buf, -1)', () => raw.gzip(new Uint8Array(1), -1), RangeError, /level/],
    ['gzip(buf, "1")', () => raw.gzip(new Uint8Array(1), '1'), TypeError, /level/],
    ['gzipAsync(buf, 0.5)', () => raw.gzipAsync(new Uint8Array(1), 0.5), RangeError, /level/],
    ['gzipAsync(null, 1)', () => raw.gzipAsync(null, 1), TypeError, /data/],
    ['memScan()', () => raw.memScan(), TypeError, /data/],
    ['memScan(number)', () => raw.memScan(5), TypeError, /data/],
  ];
  it.each(cases)('%s throws a named error', (_name, call, type, field) => {
    // Prepare: table above. Act / Assess
    expect(call).toThrow(type);
    expect(call).toThrow(field);
  });

  it('accepts a bigint length up to 2^64-1 and a number length up to 2^53-1', () => {
    // Prepare
    const a = 0x995dc9bbdf1939fan;
    // Act
    const big = addon.crc64Combine(a, 0n, (1n << 64n) - 1n);
    const num = addon.crc64Combine(a, 0n, Number.MAX_SAFE_INTEGER);
    // Assess
    expect(typeof big).toBe('bigint');
    expect(num).toBe(addon.crc64Combine(a, 0n, BigInt(Number.MAX_SAFE_INTEGER)));
  });

  it('memScan XORs the 64-bit words (bench read reference)', () => {
    // Prepare
    const buf = Buffer.alloc(1000 * 8 + 3);
    buf.writeBigUInt64LE(0x0102030405060708n, 8 * 7);
    buf.writeBigUInt64LE(0x1000000000000000n, 8 * 500);
    buf[8000] = 0x55;
    // Act
    const x = addon.memScan(buf);
    // Assess
    expect(x).toBe(0x0102030405060708n ^ 0x1000000000000000n ^ 0x55n);
  });

  it('reports the CPU features ISA-L dispatches on', () => {
    // Prepare / Act
    const cpu = addon.cpuInfo();
    // Assess
    if (process.arch === 'x64') expect(Object.keys(cpu)).toEqual(expect.arrayContaining(['pclmulqdq', 'avx2', 'avx512f', 'vpclmulqdq']));
    for (const v of Object.values(cpu)) expect(typeof v).toBe('boolean');
  });
});

describe('VPCLMULQDQ/AVX2 kernel equals ISA-L', () => {
  it('around the fast-path thresholds, at unaligned offsets, with random prev', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 2100 }), fc.integer({ min: 2100, max: 40_000 })),
        fc.nat({ max: 31 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (len, off, prev) => {
          // Prepare
          const buf = randomBytes(len + off).subarray(off);
          // Act
          const fast = addon.crc64(buf, prev);
          const isal = addon.crc64Isal(buf, prev);
          // Assess
          expect(fast).toBe(isal);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('on 64 MiB of random data, whole and streamed in odd-sized chunks', () => {
    // Prepare
    const buf = randomBytes(64 << 20);
    // Act
    const whole = addon.crc64(buf);
    let streamed = 0n;
    for (let o = 0; o < buf.length; o += 1_000_003) streamed = addon.crc64(buf.subarray(o, o + 1_000_003), streamed);
    // Assess
    expect(whole).toBe(addon.crc64Isal(buf));
    expect(streamed).toBe(whole);
  });

  it('names the kernel it selected for this CPU', () => {
    // Prepare
    const cpu = addon.cpuInfo();
    // Act
    const kernel = addon.crc64Kernel();
    // Assess
    const expected = cpu.vpclmulqdq && cpu.avx2 && cpu.pclmulqdq && !cpu.avx512f ? 'vpclmul-avx2' : 'isal';
    expect(kernel).toBe(expected);
  });
});

describe('native addon in worker_threads', () => {
  it('loads in several workers at once and computes the same CRC as the main thread', async () => {
    // Prepare
    const { Worker } = await import('node:worker_threads');
    const code = `const a = require(${JSON.stringify(defaultNativePath())});
      require('node:worker_threads').parentPort.postMessage(a.crc64(Buffer.alloc(70000, 7)).toString());`;
    // Act
    const results = await Promise.all(
      Array.from({ length: 3 }, () => new Promise<string>((resolve, reject) => {
        const w = new Worker(code, { eval: true });
        w.once('message', (m: string) => { resolve(m); void w.terminate(); });
        w.once('error', reject);
      })),
    );
    // Assess
    const main = addon.crc64(Buffer.alloc(70000, 7)).toString();
    expect(results).toEqual([main, main, main]);
    expect(addon.crc64Isal(Buffer.alloc(70000, 7)).toString()).toBe(main);
  });
});
