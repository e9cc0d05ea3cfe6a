import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { crc64, crc64Combine, crc64Info } from '../../shared/crc64/index.ts';
import { crc64CombineJs, crc64Js } from '../../shared/crc64/js.ts';

const enc = new TextEncoder();
const MAX64 = (1n << 64n) - 1n;

// Check vectors of CRC-64/XZ, the OSS x-oss-hash-crc64ecma ("123456789" is the catalogue check value).
const VECTORS: Array<[string, Uint8Array, bigint]> = [
  ['"123456789"', enc.encode('123456789'), 11051210869376104954n],
  ['empty', new Uint8Array(0), 0n],
  ['"a"', enc.encode('a'), 3675645893302102789n],
  ['"abc"', enc.encode('abc'), 3231342946509354535n],
  ['"hello world!"', enc.encode('hello world!'), 9548687815775124833n],
  ['quick brown fox', enc.encode('The quick brown fox jumps over the lazy dog'), 6583902852472283588n],
  ['32 x 0x00', new Uint8Array(32), 14509182247117337356n],
  ['32 x 0xFF', new Uint8Array(32).fill(0xff), 16815823765876284111n],
];

describe('crc64 backend', () => {
  it('runs on ISA-L in this build (the CI image must never silently fall back)', () => {
    // Prepare / Act
    const info = crc64Info();
    // Assess
    expect(info.implementation).toBe('isal');
    expect(info.probeMBps).toBeGreaterThan(0);
    expect(typeof info.cpu).toBe('object');
  });
});

describe('crc64 check vectors', () => {
  it.each(VECTORS)('native %s', (_name, data, want) => {
    // Prepare: vectors above. Act
    const got = crc64(data);
    // Assess
    expect(got).toBe(want);
  });

  it.each(VECTORS)('pure-JS %s', (_name, data, want) => {
    // Prepare: vectors above. Act
    const got = crc64Js(data);
    // Assess
    expect(got).toBe(want);
  });

  it('streams: crc64("56789", crc64("1234")) equals the one-shot check value', () => {
    // Prepare
    const a = enc.encode('1234');
    const b = enc.encode('56789');
    // Act
    const native = crc64(b, crc64(a));
    const js = crc64Js(b, crc64Js(a));
    // Assess
    expect(native).toBe(0x995dc9bbdf1939fan);
    expect(js).toBe(0x995dc9bbdf1939fan);
  });
});

describe('pure-JS fallback equals native', () => {
  it('on random data at unaligned offsets and lengths, with a random prev', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.nat({ max: 15 }),
        fc.bigInt({ min: 0n, max: MAX64 }),
        (bytes, off, prev) => {
          // Prepare: an unaligned view into a larger buffer
          const backing = new Uint8Array(bytes.length + 16);
          backing.set(bytes, off);
          const view = backing.subarray(off, off + bytes.length);
          // Act
          const native = crc64(view, prev);
          const js = crc64Js(view, prev);
          // Assess
          expect(js).toBe(native);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('on a 3 MiB random buffer sliced at every 4-byte phase', () => {
    // Prepare
    const buf = randomBytes(3 * 1024 * 1024 + 7);
    for (let phase = 0; phase < 4; phase++) {
      const view = buf.subarray(phase);
      // Act
      const native = crc64(view);
      const js = crc64Js(view);
      // Assess
      expect(js).toBe(native);
    }
  });
});

describe('crc64Combine', () => {
  it('crc64(a‖b) == crc64Combine(crc64(a), crc64(b), len(b)) over random splits, empty parts included', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.nat(), (data, cut) => {
        // Prepare
        const k = data.length === 0 ? 0 : cut % (data.length + 1);
        const a = data.subarray(0, k);
        const b = data.subarray(k);
        // Act
        const combined = crc64Combine(crc64(a), crc64(b), b.length);
        const combinedJs = crc64CombineJs(crc64(a), crc64(b), BigInt(b.length));
        // Assess
        expect(combined).toBe(crc64(data));
        expect(combinedJs).toBe(combined);
      }),
      { numRuns: 300 },
    );
  });

  it('folds many parts in order (as the coordinator combines part CRCs)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 700 }), { minLength: 1, maxLength: 12 }), (parts) => {
        // Prepare
        const whole = Buffer.concat(parts);
        // Act
        let acc = 0n;
        for (const p of parts) acc = crc64Combine(acc, crc64(p), p.length);
        // Assess
        expect(acc).toBe(crc64(whole));
      }),
    );
  });

  it('accepts number and bigint lengths alike; length 0 returns crcA', () => {
    // Prepare
    const a = crc64(enc.encode('1234'));
    const b = crc64(enc.encode('56789'));
    // Act / Assess
    expect(crc64Combine(a, b, 5)).toBe(crc64Combine(a, b, 5n));
    expect(crc64Combine(a, 0n, 0)).toBe(a);
  });

  it('native equals the JS twin for arbitrary CRCs and lengths up to 2^64-1', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: MAX64 }),
        fc.bigInt({ min: 0n, max: MAX64 }),
        fc.oneof(fc.bigInt({ min: 0n, max: MAX64 }), fc.bigInt({ min: 1n << 32n, max: 1n << 40n })),
        (x, y, n) => {
          // Prepare: arbitraries. Act
          const native = crc64Combine(x, y, n);
          const js = crc64CombineJs(x, y, n);
          // Assess
          expect(native).toBe(js);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is associative at > 4 GiB lengths: ((a,b),c) == (a,(b,c)) with |b|+|c| up to 2^63', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: MAX64 }),
        fc.bigInt({ min: 0n, max: MAX64 }),
        fc.bigInt({ min: 0n, max: MAX64 }),
        fc.bigInt({ min: 1n << 32n, max: 1n << 62n }),
        fc.bigInt({ min: 0n, max: 1n << 62n }),
        (a, b, c, nB, nC) => {
          // Prepare: arbitraries. Act
          const left = crc64Combine(crc64Combine(a, b, nB), c, nC);
          const right = crc64Combine(a, crc64Combine(b, c, nC), nB + nC);
          // Assess
          expect(left).toBe(right);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('matches streaming for a 5 GiB + 12,345-byte second part (no 32-bit overflow)', () => {
    // Prepare: A is random, Z is 5 GiB + 12,345 zero bytes, streamed natively in 64 MiB chunks
    const a = randomBytes(1000);
    const zeros = new Uint8Array(64 << 20);
    const zLen = 5 * 1024 ** 3 + 12_345;
    const crcA = crc64(a);
    let crcZ = 0n;
    let crcAZ = crcA;
    let left = zLen;
    while (left > 0) {
      const chunk = zeros.subarray(0, Math.min(left, zeros.length));
      crcZ = crc64(chunk, crcZ);
      crcAZ = crc64(chunk, crcAZ);
      left -= chunk.length;
    }
    // Act
    const combined = crc64Combine(crcA, crcZ, zLen);
    const combinedJs = crc64CombineJs(crcA, crcZ, BigInt(zLen));
    // Assess
    expect(combined).toBe(crcAZ);
    expect(combinedJs).toBe(crcAZ);
    expect(zLen).toBeGreaterThan(2 ** 32);
  });
});

describe('crc64 cross-checked against xz', () => {
  it('equals the CheckVal `xz --check=crc64` stores for a random file', () => {
    // Prepare
    const dir = mkdtempSync(path.join(tmpdir(), 'ossferry-crc-'));
    try {
      const file = path.join(dir, 'r.bin');
      const data = randomBytes(1024 * 1024 + 13);
      writeFileSync(file, data);
      execFileSync('xz', ['-0', '-T1', '--check=crc64', '-k', file]);
      // Act
      const robot = execFileSync('xz', ['--robot', '-lvv', `${file}.xz`], { encoding: 'utf8' });
      const block = robot.split('\n').find((l) => l.startsWith('block\t'));
      const fields = block?.split('\t') ?? [];
      const checkVal = fields[fields.indexOf('CRC64') + 1]; // block line: …, check name, CheckVal, …
      // Assess
      expect(checkVal).toMatch(/^[0-9a-f]{16}$/);
      expect(BigInt(`0x${checkVal}`)).toBe(crc64(data));
      expect(crc64Js(data)).toBe(crc64(data));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('crc64 bad input', () => {
  const bad: Array<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    ['string data', () => crc64('abc' as unknown as Uint8Array), TypeError, /data/],
    ['null data', () => crc64(null as unknown as Uint8Array), TypeError, /data/],
    ['number prev', () => crc64(new Uint8Array(1), 5 as unknown as bigint), TypeError, /prev/],
    ['negative prev', () => crc64(new Uint8Array(1), -1n), RangeError, /prev/],
    ['prev ≥ 2^64', () => crc64(new Uint8Array(1), 1n << 64n), RangeError, /prev/],
    ['number crcA', () => crc64Combine(1 as unknown as bigint, 0n, 1), TypeError, /crcA/],
    ['negative crcB', () => crc64Combine(0n, -5n, 1), RangeError, /crcB/],
    ['negative length', () => crc64Combine(0n, 0n, -1), RangeError, /lengthB/],
    ['fractional length', () => crc64Combine(0n, 0n, 1.5), RangeError, /lengthB/],
    ['NaN length', () => crc64Combine(0n, 0n, Number.NaN), RangeError, /lengthB/],
    ['unsafe number length', () => crc64Combine(0n, 0n, 2 ** 60), RangeError, /lengthB/],
    ['string length', () => crc64Combine(0n, 0n, '5' as unknown as number), TypeError, /lengthB/],
    ['bigint length ≥ 2^64', () => crc64Combine(0n, 0n, 1n << 64n), RangeError, /lengthB/],
  ];
  it.each(bad)('%s → named TypeError/RangeError', (_name, call, type, field) => {
    // Prepare: table above. Act / Assess
    expect(call).toThrow(type);
    expect(call).toThrow(field);
  });
});
