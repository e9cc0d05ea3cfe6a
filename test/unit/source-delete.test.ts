import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketVersioningOf, ENABLE_VERSIONING_FIX, planSourceDelete, type BucketVersioning } from '../../shared/source-delete.ts';

const versionings = fc.constantFrom<BucketVersioning>('Enabled', 'Suspended', 'Off');
const etags = fc.option(fc.constantFrom('"5B3C1A"', '5b3c1a', '"AAAA"', 'W/"5B3C1A"'), { nil: undefined });
const versionIds = fc.option(fc.constantFrom('CAEQARiBgID', 'null', '', 'CAEQNhiBgMDJgZCA0BYiIDc4'), { nil: undefined });
const norm = (e: string | undefined) => e?.replace(/^W\//, '').replace(/"/g, '').toUpperCase();

describe('planSourceDelete', () => {
  it('deletes exactly when versioning is Enabled, the version id is real and the ETag did not move; then by that version id (property)', () => {
    fc.assert(
      fc.property(versionings, versionIds, etags, etags, (versioning, versionId, statEtag, headEtag) => {
        // Act
        const plan = planSourceDelete({ bucket: 'src', versioning, versionId, statEtag, headEtag });
        // Assess
        const may = versioning === 'Enabled' && !!versionId && versionId !== 'null' && statEtag !== undefined && norm(statEtag) === norm(headEtag);
        expect(plan.kind).toBe(may ? 'delete-version' : 'refuse');
        if (plan.kind === 'delete-version') expect(plan.versionId).toBe(versionId);
        else expect(plan.fix.length).toBeGreaterThan(10);
      }),
    );
  });

  it('names the reason and the fix for a bucket without versioning or with it suspended', () => {
    // Act
    const off = planSourceDelete({ bucket: 'src', versioning: 'Off', versionId: undefined, statEtag: '"A"', headEtag: '"A"' });
    const suspended = planSourceDelete({ bucket: 'src', versioning: 'Suspended', versionId: 'null', statEtag: '"A"', headEtag: '"A"' });
    // Assess
    expect(off).toEqual({ kind: 'refuse', reason: expect.stringMatching(/^versioning is not enabled on source bucket src, and OSS has no conditional DELETE/), fix: ENABLE_VERSIONING_FIX });
    expect(suspended).toMatchObject({ kind: 'refuse', reason: expect.stringMatching(/versioning is suspended/), fix: ENABLE_VERSIONING_FIX });
    expect(ENABLE_VERSIONING_FIX).toMatch(/^enable versioning on the source bucket/);
  });

  it('reads GetBucketVersioning\'s Status: absent (never enabled) is Off', () => {
    // Act / Assess
    expect([bucketVersioningOf(undefined), bucketVersioningOf('Enabled'), bucketVersioningOf('Suspended'), bucketVersioningOf('')]).toEqual(['Off', 'Enabled', 'Suspended', 'Off']);
  });
});
