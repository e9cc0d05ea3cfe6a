import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { checkReceipt, parseReceipt, receiptToJson, type Receipt } from '../../shared/receipt.ts';
import { OBJECT_META, type StoredObject } from '../../shared/verify.ts';

const target = 'oss://b/k.bin';

/** A copy receipt of `data` cut at `cuts`, and the object HEAD would show for it. */
function copyOf(data: Uint8Array, cuts: number[]): { receipt: Receipt; stored: StoredObject } {
  const bounds = [...new Set([0, ...cuts.map((c) => c % (data.length + 1)), data.length])].sort((a, b) => a - b);
  const parts = bounds.slice(1).map((end, i) => ({ partNumber: i + 1, size: end - bounds[i]!, crc64: crc64(data.subarray(bounds[i]!, end)) }));
  const whole = crc64(data);
  const receipt: Receipt = {
    kind: 'ossferry-receipt',
    version: 1,
    mode: 'copy',
    jobId: 'j1',
    source: { url: 'oss://s/k', size: data.length, crc64: whole },
    object: { url: target, size: data.length, etag: '"E-2"', crc64: whole },
    parts: parts.length > 0 ? parts : [{ partNumber: 1, size: 0, crc64: 0n }],
    completedAt: new Date(0).toISOString(),
  };
  return { receipt, stored: { size: data.length, crc64: whole, meta: { [OBJECT_META.JOB_ID]: 'j1' } } };
}

const dataAndCuts = fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 4096 }), fc.array(fc.nat(), { maxLength: 8 }));

describe('receipts', () => {
  it('property: a receipt survives its JSON form and every check passes for the object it describes', () => {
    fc.assert(
      fc.property(dataAndCuts, ([data, cuts]) => {
        // Prepare
        const { receipt, stored } = copyOf(data, cuts);
        // Act
        const parsed = parseReceipt(receiptToJson(receipt));
        // Assess
        expect(parsed).toEqual(receipt);
        const checks = checkReceipt({ kind: 'receipt', receipt: parsed as Receipt }, target, stored);
        expect(checks.length).toBeGreaterThan(0);
        expect(checks.every((c) => c.ok)).toBe(true);
      }),
    );
  });

  it('property: any altered part CRC-64 or size fails the recombination', () => {
    fc.assert(
      fc.property(dataAndCuts, fc.nat(), fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }), ([data, cuts], which, flip) => {
        // Prepare
        const { receipt, stored } = copyOf(data, cuts);
        const i = which % receipt.parts.length;
        const parts = receipt.parts.map((p, n) => (n === i ? { ...p, crc64: p.crc64 ^ flip } : p));
        // Act
        const checks = checkReceipt({ kind: 'receipt', receipt: { ...receipt, parts } }, target, stored);
        // Assess
        expect(checks.find((c) => c.what === 'receipt parts recombined CRC-64 vs receipt object CRC-64')?.ok).toBe(false);
      }),
    );
  });

  it('a receipt of another object or job is one failed check and nothing else is taken from it', () => {
    // Prepare
    const { receipt, stored } = copyOf(Buffer.from('hello'), [2]);
    // Act
    const otherObject = checkReceipt({ kind: 'receipt', receipt }, 'oss://b/other.bin', stored);
    const otherJob = checkReceipt({ kind: 'receipt', receipt }, target, { ...stored, meta: { [OBJECT_META.JOB_ID]: 'j2' } });
    // Assess
    for (const checks of [otherObject, otherJob]) {
      expect(checks).toHaveLength(1);
      expect(checks[0]).toMatchObject({ what: 'receipt', ok: false });
    }
  });

  it('text that is not a receipt is named, not parsed', () => {
    // Act
    const results = ['{', '{}', JSON.stringify({ kind: 'ossferry-receipt', version: 2 })].map(parseReceipt);
    // Assess
    expect(results[0]).toBe('not JSON');
    expect(results[1]).toMatch(/^not an ossferry receipt \(/);
    expect(results[2]).toMatch(/^not an ossferry receipt \(/);
  });
});
