/**
 * Whether delete-after-verify may delete an OSS source, pure (the OSS calls are functions/engine/source-delete.ts).
 * OSS has no conditional DELETE: a plain DELETE after an ETag check deletes whatever version was written in
 * between, unarchived. So the only delete ossferry sends names the exact version it archived (DeleteObject
 * with versionId), which needs versioning Enabled on the source bucket: with it off or suspended a new write
 * replaces the archived bytes in place (or takes the "null" version id), and no delete can tell them apart.
 */

/** GetBucketVersioning's Status: absent on a bucket that never had versioning. */
export type BucketVersioning = 'Enabled' | 'Suspended' | 'Off';

export function bucketVersioningOf(status: string | undefined): BucketVersioning {
  return status === 'Enabled' || status === 'Suspended' ? status : 'Off';
}

export const ENABLE_VERSIONING_FIX = 'enable versioning on the source bucket (OSS console, or: ossutil bucket-versioning --method put oss://<bucket> enabled), or set deleteSourceAfterVerify to false';

export interface SourceDeleteFacts {
  bucket: string;
  versioning: BucketVersioning;
  /** `x-oss-version-id` of the source's HEAD at job start. */
  versionId: string | undefined;
  /** The ETag the job's source stat pinned, and the one that HEAD saw. */
  statEtag: string | undefined;
  headEtag: string | undefined;
}

export type SourceDeletePlan = { kind: 'delete-version'; versionId: string } | { kind: 'refuse'; reason: string; fix: string };

const unquote = (e: string | undefined) => e?.replace(/^W\//, '').replace(/"/g, '').toUpperCase();

export function planSourceDelete(f: SourceDeleteFacts): SourceDeletePlan {
  if (f.versioning !== 'Enabled') {
    const state = f.versioning === 'Off' ? 'not enabled' : 'suspended';
    return { kind: 'refuse', reason: `versioning is ${state} on source bucket ${f.bucket}, and OSS has no conditional DELETE: an object version written between the check and the DELETE would be deleted without being archived`, fix: ENABLE_VERSIONING_FIX };
  }
  if (!f.versionId || f.versionId === 'null') {
    return { kind: 'refuse', reason: `the source in bucket ${f.bucket} has no version id (it was written before versioning was enabled), so its exact version cannot be named in a DELETE`, fix: 'copy the object onto itself once to give it a version id, or set deleteSourceAfterVerify to false' };
  }
  if (f.statEtag === undefined || unquote(f.statEtag) !== unquote(f.headEtag)) {
    return { kind: 'refuse', reason: `the source changed while the job started (ETag ${f.statEtag ?? 'missing'} then ${f.headEtag ?? 'missing'})`, fix: 'deliver the event again once the source is stable' };
  }
  return { kind: 'delete-version', versionId: f.versionId };
}
