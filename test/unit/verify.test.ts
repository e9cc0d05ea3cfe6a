/**
 * shared/verify.ts: which facts an object must match for `ossferry verify` (copies against their own CRC-64
 * header and recorded source CRC, archives against the recorded uncompressed size and CRC-64).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ARCHIVE_META, OBJECT_META, checkLocalFile, checkStoredBytes, isArchive, type StoredObject } from '../../shared/verify.ts';

const crc = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const size = fc.nat({ max: 2 ** 40 });
const copyObject = fc.record({ size, crc64: crc }).map((o): StoredObject => ({ ...o, meta: {} }));
const archiveObject = fc.record({ size, crc64: crc, uSize: size, uCrc: crc }).map(
  (o): StoredObject => ({
    size: o.size,
    crc64: o.crc64,
    meta: { [ARCHIVE_META.FORMAT]: 'gzip-members', [ARCHIVE_META.UNCOMPRESSED_SIZE]: String(o.uSize), [ARCHIVE_META.UNCOMPRESSED_CRC64]: o.uCrc.toString(10) },
  }),
);
const uncompressed = (o: StoredObject) => ({ size: Number(o.meta[ARCHIVE_META.UNCOMPRESSED_SIZE]), crc64: BigInt(o.meta[ARCHIVE_META.UNCOMPRESSED_CRC64]!) });

describe('checkLocalFile', () => {
  it('a copy passes exactly when the file has the object size and CRC-64', () => {
    fc.assert(
      fc.property(copyObject, size, crc, fc.boolean(), (o, s, c, same) => {
        // Prepare
        const file = same ? { size: o.size, crc64: o.crc64! } : { size: s, crc64: c };
        // Act
        const checks = checkLocalFile(o, file);
        // Assess
        expect(checks.every((x) => x.ok)).toBe(file.size === o.size && file.crc64 === o.crc64);
        expect(checks.map((x) => x.what)).toEqual(['local file size vs Content-Length', 'local file CRC-64 vs x-oss-hash-crc64ecma']);
      }),
    );
  });

  it('an archive is compared with its recorded uncompressed size and CRC-64, not with the gzip bytes', () => {
    fc.assert(
      fc.property(archiveObject, crc, (o, other) => {
        // Prepare
        const content = uncompressed(o);
        // Act
        const good = checkLocalFile(o, content);
        const gzipBytes = checkLocalFile(o, { size: o.size, crc64: o.crc64! });
        const bad = checkLocalFile(o, { ...content, crc64: other });
        // Assess
        expect(isArchive(o)).toBe(true);
        expect(good.every((x) => x.ok)).toBe(true);
        expect(good.map((x) => x.what)).toEqual(['local file size vs x-oss-meta-uncompressed-size', 'local file CRC-64 vs x-oss-meta-uncompressed-crc64']);
        expect(gzipBytes.every((x) => x.ok)).toBe(o.size === content.size && o.crc64 === content.crc64);
        expect(bad.every((x) => x.ok)).toBe(other === content.crc64);
      }),
    );
  });

  it('a copy with a recorded source CRC-64 must match it too', () => {
    // Prepare
    const o: StoredObject = { size: 3, crc64: 7n, meta: { [OBJECT_META.SOURCE_CRC64]: '8' } };
    // Act
    const checks = checkLocalFile(o, { size: 3, crc64: 7n });
    // Assess
    expect(checks.map((x) => [x.what, x.ok])).toEqual([
      ['local file size vs Content-Length', true],
      ['local file CRC-64 vs x-oss-hash-crc64ecma', true],
      ['local file CRC-64 vs x-oss-meta-source-crc64', false],
    ]);
  });

  it('fails, never passes, when the facts to compare with were not recorded or are malformed', () => {
    // Prepare
    const noCrc: StoredObject = { size: 3, meta: {} };
    const badMeta: StoredObject = { size: 3, crc64: 1n, meta: { [ARCHIVE_META.UNCOMPRESSED_SIZE]: '3', [ARCHIVE_META.UNCOMPRESSED_CRC64]: '0x10' } };
    // Act
    const a = checkLocalFile(noCrc, { size: 3, crc64: 5n });
    const b = checkLocalFile(badMeta, { size: 3, crc64: 16n });
    // Assess
    expect(a[1]).toMatchObject({ ok: false, expected: '(not recorded)', actual: '5' });
    expect(b[1]).toMatchObject({ ok: false, expected: '0x10 (malformed)' });
  });
});

describe('checkStoredBytes', () => {
  it('a copy read back passes exactly when the bytes match HEAD size and CRC-64', () => {
    fc.assert(
      fc.property(copyObject, size, crc, (o, s, c) => {
        // Act
        const same = checkStoredBytes(o, { size: o.size, crc64: o.crc64! });
        const other = checkStoredBytes(o, { size: s, crc64: c });
        // Assess
        expect(same.every((x) => x.ok)).toBe(true);
        expect(other.every((x) => x.ok)).toBe(s === o.size && c === o.crc64);
      }),
    );
  });

  it('an archive needs its bytes to match OSS and its decoded content to match the recorded uncompressed facts', () => {
    fc.assert(
      fc.property(archiveObject, crc, (o, other) => {
        // Prepare
        const bytes = { size: o.size, crc64: o.crc64! };
        const content = uncompressed(o);
        // Act
        const good = checkStoredBytes(o, bytes, content);
        const wrongContent = checkStoredBytes(o, bytes, { ...content, crc64: other });
        const notDecoded = checkStoredBytes(o, bytes);
        const decodeFailed = checkStoredBytes(o, bytes, 'incorrect data check');
        // Assess
        expect(good.every((x) => x.ok)).toBe(true);
        expect(good).toHaveLength(4);
        expect(wrongContent.every((x) => x.ok)).toBe(other === content.crc64);
        expect(notDecoded.at(-1)).toMatchObject({ what: 'gzip decode', ok: false });
        expect(decodeFailed.filter((x) => !x.ok)).toEqual([{ what: 'gzip decode', expected: 'every member decodes', actual: 'incorrect data check', ok: false }]);
      }),
    );
  });
});
