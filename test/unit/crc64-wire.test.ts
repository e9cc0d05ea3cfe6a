import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { z } from 'zod';
import { crc64FromWire, crc64ToWire, crc64Wire, crc64ToWireSchema } from '../../shared/crc64/wire.ts';
import { InvalidInputError } from '../../shared/errors.ts';

const MAX64 = (1n << 64n) - 1n;

describe('crc64 wire codec', () => {
  it('round-trips every 64-bit value through the unsigned decimal form', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX64 }), (v) => {
        // Prepare: arbitrary. Act
        const s = crc64ToWire(v);
        // Assess
        expect(s).toMatch(/^[0-9]+$/);
        expect(crc64FromWire(s)).toBe(v);
      }),
    );
  });

  it('writes the OSS header form of the check value', () => {
    // Prepare / Act / Assess
    expect(crc64ToWire(0x995dc9bbdf1939fan)).toBe('11051210869376104954');
    expect(crc64ToWire(MAX64)).toBe('18446744073709551615');
  });

  it.each(['', '-1', '+1', ' 1', '1 ', '0x10', '1e3', '1.0', '18446744073709551616', '123456789012345678901', '１２'])(
    'rejects %j with InvalidInputError naming the field',
    (s) => {
      // Prepare / Act
      const call = () => crc64FromWire(s, 'part.crc64');
      // Assess
      expect(call).toThrow(InvalidInputError);
      expect(call).toThrow(/^part\.crc64: /);
    },
  );

  it('rejects non-strings and out-of-range bigints', () => {
    // Prepare / Act / Assess
    expect(() => crc64FromWire(5 as unknown as string)).toThrow(InvalidInputError);
    expect(() => crc64ToWire(-1n)).toThrow(RangeError);
    expect(() => crc64ToWire(1n << 64n)).toThrow(RangeError);
    expect(() => crc64ToWire(5 as unknown as bigint)).toThrow(TypeError);
  });

  it('zod schema converts at the boundary and reports bad values as issues', () => {
    // Prepare
    const receipt = z.object({ crc64: crc64Wire });
    // Act
    const good = receipt.parse({ crc64: '11051210869376104954' });
    const bad = receipt.safeParse({ crc64: '-3' });
    const out = z.object({ crc64: crc64ToWireSchema }).parse({ crc64: 7n });
    // Assess
    expect(good.crc64).toBe(11051210869376104954n);
    expect(bad.success).toBe(false);
    expect(out).toEqual({ crc64: '7' });
  });
});
