import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkPinned, isPinned, UnpinnedSourceError, validatorOf } from '../../shared/pinning.ts';

const identity = fc.record(
  {
    etag: fc.oneof(fc.constant('"abc"'), fc.constant('W/"abc"'), fc.string()),
    crc64: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    mtimeMs: fc.nat(),
  },
  { requiredKeys: [] },
);

describe('pinning', () => {
  it('property: pinned exactly when there is a CRC-64 or a strong ETag', () => {
    fc.assert(
      fc.property(identity, (id) => {
        expect(isPinned(id)).toBe(id.crc64 !== undefined || (id.etag !== undefined && id.etag.startsWith('"')));
      }),
    );
  });

  it('property: refuse throws exactly for unpinned identities; reread and trust never throw and say whether it was unpinned', () => {
    fc.assert(
      fc.property(identity, (id) => {
        const refused = (() => {
          try {
            checkPinned(id, 'refuse', 'http://h/f');
            return false;
          } catch (err) {
            expect(err).toBeInstanceOf(UnpinnedSourceError);
            return true;
          }
        })();
        expect(refused).toBe(!isPinned(id));
        expect(checkPinned(id, 'trust', 'http://h/f')).toEqual({ unpinned: !isPinned(id) });
        expect(checkPinned(id, 'reread', 'http://h/f')).toEqual({ unpinned: !isPinned(id) });
      }),
    );
  });

  it('names the validator a source has, strongest first', () => {
    // Assess
    expect(validatorOf({ crc64: 1n, etag: '"a"' })).toBe('crc64');
    expect(validatorOf({ etag: '"a"', mtimeMs: 1 })).toBe('etag');
    expect(validatorOf({ etag: 'W/"a"', mtimeMs: 1 })).toBe('mtime');
    expect(validatorOf({ etag: 'W/"a"' })).toBe('none');
  });

  it('the refusal names the field, the reason and both fixes', () => {
    // Act
    const act = () => checkPinned({ mtimeMs: 5 }, 'refuse', 'http://h/f');
    // Assess
    expect(act).toThrow(/^unpinned: http:\/\/h\/f has only Last-Modified \(one-second resolution\).*Fix: serve the file with a strong ETag.*--unpinned trust/);
  });
});
