/**
 * Delete-after-verify's OSS side (decision: shared/source-delete.ts). At job start, before any upload:
 * GetBucketVersioning and a HEAD of the source give the versioning state and the exact version id; a job
 * that may not delete is refused there, naming the field, the reason and the fix. After the archive is
 * verified, only that version is deleted (DeleteObject with versionId): a newer version stays.
 */
import type OSS from 'ali-oss';
import { InvalidInputError, errorToJson } from '../../shared/errors.ts';
import type { Job } from '../../shared/job.ts';
import type { Logger } from '../../shared/log.ts';
import { bucketVersioningOf, planSourceDelete } from '../../shared/source-delete.ts';
import type { SourceIdentity } from '../sources/types.ts';
import { header, ossRetry, type ResponseHeaders } from './oss-calls.ts';
import type { EngineDeps } from './types.ts';

const FIELD = 'deleteSourceAfterVerify';

/** The version id the job will delete once archived; throws InvalidInputError when it may not delete. */
export async function sourceVersionToDelete(job: Job, deps: EngineDeps, identity: SourceIdentity, signal?: AbortSignal): Promise<string> {
  if (job.source.kind !== 'oss') throw new InvalidInputError(FIELD, `only OSS sources can be deleted, not ${job.source.kind}`, `set ${FIELD} to false`);
  if (!deps.sourceClientFor) throw new InvalidInputError(FIELD, 'no OSS client for the source bucket is configured', `set ${FIELD} to false`);
  const { bucket, key } = job.source;
  const src = deps.sourceClientFor(bucket);
  // ali-oss has getBucketVersioning; its type declarations do not.
  const getVersioning = (src as unknown as { getBucketVersioning(b: string): Promise<{ versionStatus?: string }> }).getBucketVersioning.bind(src);
  const versioning = await ossRetry(() => getVersioning(bucket), signal);
  const head = await ossRetry(() => src.head(key), signal);
  const headers = (head.res as unknown as { headers: ResponseHeaders }).headers;
  const plan = planSourceDelete({
    bucket,
    versioning: bucketVersioningOf(versioning.versionStatus),
    versionId: header(headers, 'x-oss-version-id'),
    statEtag: identity.etag,
    headEtag: header(headers, 'etag'),
  });
  if (plan.kind === 'refuse') throw new InvalidInputError(FIELD, `refused for oss://${bucket}/${key}: ${plan.reason}; nothing was uploaded and the source is untouched`, plan.fix);
  return plan.versionId;
}

/** Deletes exactly the archived version; never fails the (verified) job. */
export async function deleteArchivedVersion(job: Job, deps: EngineDeps, versionId: string, log: Logger): Promise<{ sourceDeleted: boolean; sourceKeptReason?: string }> {
  if (job.source.kind !== 'oss' || !deps.sourceClientFor) return { sourceDeleted: false, sourceKeptReason: 'only OSS sources are deleted after verification' };
  const src: OSS = deps.sourceClientFor(job.source.bucket);
  try {
    await ossRetry(() => src.delete(job.source.kind === 'oss' ? job.source.key : '', { versionId } as OSS.RequestOptions));
    log.info('archived source version deleted', { source: job.source.url, versionId });
    return { sourceDeleted: true };
  } catch (err) {
    log.error('deleting the archived source version failed; the archive is complete', { versionId, error: errorToJson(err) });
    return { sourceDeleted: false, sourceKeptReason: `delete of version ${versionId} failed: ${(err as Error).message}` };
  }
}
